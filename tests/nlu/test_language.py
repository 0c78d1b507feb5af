"""Indonesian or English."""

from __future__ import annotations

import pytest

from nlu.language import detect_language, guess_language


@pytest.mark.parametrize(
    "text, expected",
    [
        ("jalan depan rumah saya bolong, bahaya", "id"),
        ("gw mau lapor lampu jalan mati bgt", "id"),
        ("min sampah udah 3 hari ga diangkut", "id"),
        ("there is a huge pothole on my street", "en"),
        ("how do I renew my ID card?", "en"),
        ("thanks a lot", "en"),
        ("terima kasih banyak", "id"),
        # mixed: the majority decides
        ("lampu jalan mati, please fix asap", "id"),
        ("the drain near my house is mampet, please help", "en"),
        ("min, jalan depan kantor banyak pothole, please tambal dong", "id"),
        ("my KTP is lost, how to make a new one", "en"),
        ("cek status WRG-2026-000123", "id"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["", "😀😀😀", "12345", "WRG-2026-000123", "ok"])
def test_no_evidence_gives_the_default(text: str) -> None:
    assert detect_language(text) == "id"
    assert detect_language(text, default="en") == "en"


def test_scores_are_reported() -> None:
    guess = guess_language("the road is broken")
    assert guess.language == "en" and guess.en_score > guess.id_score
