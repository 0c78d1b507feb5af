"""SMS segment counting (GSM-7 vs UCS-2) and splitting."""

from __future__ import annotations

import pytest

from channels.sms_segments import SegmentInfo, count_segments, gsm_normalize, is_gsm7, split_sms


@pytest.mark.parametrize("text, encoding, segments, units", [
    ("", "GSM-7", 0, 0),
    ("a" * 160, "GSM-7", 1, 160),
    ("a" * 161, "GSM-7", 2, 161),                 # 153 per part once concatenated
    ("a" * 306, "GSM-7", 2, 306),
    ("a" * 307, "GSM-7", 3, 307),
    ("a" * 459, "GSM-7", 3, 459),
    ("a" * 460, "GSM-7", 4, 460),
    ("€" * 80, "GSM-7", 1, 160),                  # extension characters take two septets
    ("€" * 81, "GSM-7", 2, 162),
    ("a" * 152 + "€" + "a" * 10, "GSM-7", 2, 164),  # the escape pair moves whole into part 2
    ("Jl. Sudirman No. 5 @ RT 03/RW 05 — ", "UCS-2", 1, 35),   # the em dash forces UCS-2
    ("a" * 70, "GSM-7", 1, 70),
    ("😊" + "a" * 68, "UCS-2", 1, 70),             # an emoji is two UTF-16 units
    ("😊" + "a" * 69, "UCS-2", 2, 71),
    ("a" * 66 + "😊" + "a" * 10, "UCS-2", 2, 78),  # the surrogate pair is not split across parts
    ("ü" * 160, "GSM-7", 1, 160),                 # ü is in the GSM basic alphabet
    ("ç" * 10, "UCS-2", 1, 10),                   # ç is not (only Ç is)
])
def test_count_segments(text: str, encoding: str, segments: int, units: int) -> None:
    info = count_segments(text)
    assert (info.encoding, info.segments, info.units) == (encoding, segments, units)


def test_count_segments_names_what_forced_ucs2() -> None:
    assert count_segments("Halo 😊 “teman”").non_gsm == ("😊", "“", "”")
    assert count_segments("Halo teman").non_gsm == ()
    assert isinstance(count_segments("x"), SegmentInfo)


def test_exactly_on_the_multipart_boundary_ucs2() -> None:
    assert count_segments("é" * 0 + "ł" * 134).segments == 2      # 134 = 2 x 67
    assert count_segments("ł" * 135).segments == 3


def test_gsm_normalize_only_when_it_helps() -> None:
    assert gsm_normalize("“Proses” – petugas…") == '"Proses" - petugas...'
    assert gsm_normalize("tab\there\u00a0nbsp") == "tab here nbsp"
    # An emoji keeps the text UCS-2 anyway: nothing is changed (ZWJ sequences survive).
    assert gsm_normalize("“Proses” 👨‍👩‍👧") == "“Proses” 👨‍👩‍👧"
    assert gsm_normalize("biasa saja") == "biasa saja"
    assert is_gsm7(gsm_normalize("‘kutip’ ‒ “dua”"))


def test_split_sms_keeps_a_short_reply_whole() -> None:
    assert split_sms("Laporan diterima.") == ["Laporan diterima."]
    assert split_sms("") == []
    assert split_sms("a" * 459) == ["a" * 459]


def test_split_sms_respects_the_segment_budget_per_part() -> None:
    text = " ".join(f"Kalimat ke-{i} tentang penanganan laporan." for i in range(40))
    parts = split_sms(text, max_segments=3)
    assert len(parts) > 1
    assert all(count_segments(p).segments <= 3 for p in parts)
    assert " ".join(parts) == text
    assert all(p.endswith(".") for p in parts)      # cut on sentence ends


def test_split_sms_judges_each_part_on_its_own_encoding() -> None:
    text = "Terima kasih atas laporan Anda. " * 14 + "Semoga harimu menyenangkan 😊"
    parts = split_sms(text)
    assert [count_segments(p).encoding for p in parts] == ["GSM-7", "UCS-2"]


def test_split_sms_one_segment_budget() -> None:
    text = "Halo! " * 60
    parts = split_sms(text, max_segments=1)
    assert all(count_segments(p).segments == 1 for p in parts)
    with pytest.raises(ValueError):
        split_sms(text, max_segments=0)


def test_split_sms_applies_smart_encoding_per_part() -> None:
    [body] = split_sms("Status “Proses”")
    assert body == 'Status "Proses"'
    [raw] = split_sms("Status “Proses”", smart_encoding=False)
    assert raw == "Status “Proses”"
