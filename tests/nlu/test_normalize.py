"""Chat-text normalisation."""

from __future__ import annotations

import pytest

from nlu.normalize import Normalizer

NORM = Normalizer.from_synonyms([("jalan", ["jl.", "jln"]), ("Tanjung Priok", ["tj. priok", "tj priok"])])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("gw udah lapor", "saya sudah lapor"),
        ("ga ada yg dtg", "tidak ada yang dtg"),
        ("nggak bisa, blm dibenerin", "tidak bisa belum dibenerin"),
        ("parah bgttt", "parah banget"),
        ("halooo miiin", "halo min"),
        ("anak2 jatuh", "anak anak jatuh"),
        ("Jl. Melati kel. Cempaka kec. Tebet", "jalan melati kelurahan cempaka kecamatan tebet"),
        ("banjir di tj. priok", "banjir di tanjung priok"),
        ("ＷＲＧ fullwidth", "wrg fullwidth"),
        ("makasih ya", "terima kasih ya"),
        ("", ""),
        ("😀🙏", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert NORM.normalize(text) == expected


def test_features_add_indonesian_words_for_english_ones() -> None:
    assert NORM.features("pothole on my street") == "pothole on my street lubang saya jalan"
    # Language detection relies on tokens(), which never gets the expansions.
    assert NORM.tokens("pothole") == ["pothole"]


@pytest.mark.parametrize(
    "text, stem",
    [("jalannya berlubang", "lubang"), ("rumah kami kebanjiran", "banjir"), ("mohon dipangkas", "pangkas")],
)
def test_features_add_indonesian_stems(text: str, stem: str) -> None:
    """A word form no example has still shares its stem with the examples (issue 14)."""
    features = NORM.features(text).split()
    assert stem in features and stem not in NORM.tokens(text)


def test_short_words_are_not_stemmed() -> None:
    assert NORM.features("got mampet") == "got mampet"


@pytest.mark.parametrize(
    "text, junk",
    [
        ("jalan depan rumah saya bolong 😭😭😭", False),
        ("Café di jl. Melati tutup", False),
        ("🙏🙏🙏", False),
        ("ÃÂ¿Ã©Â¢Ã¿Ã¾Ã½Ã¼ Ã»Ã¹ÃºÃ¸Ã·Ã¶", True),
        ("\x00\x01\x02", False),  # nothing at all: the engines answer that separately
    ],
)
def test_junk_text(text: str, junk: bool) -> None:
    from nlu.normalize import looks_like_junk

    assert looks_like_junk(text) is junk
