"""Splitting long replies on natural boundaries."""

from __future__ import annotations

import pytest

from channels.text_split import fits_length, split_text, utf16_len


def test_short_text_is_one_part() -> None:
    assert split_text("  Halo, apa kabar?  ", fits_length(100)) == ["Halo, apa kabar?"]
    assert split_text("", fits_length(10)) == []
    assert split_text("   \n ", fits_length(10)) == []


def test_prefers_paragraphs_then_sentences() -> None:
    text = "Paragraf satu kalimat satu. Kalimat dua.\n\nParagraf dua yang cukup panjang juga."
    assert split_text(text, fits_length(60)) == ["Paragraf satu kalimat satu. Kalimat dua.",
                                                 "Paragraf dua yang cukup panjang juga."]
    text = "Kalimat pertama cukup panjang. Kalimat kedua juga cukup panjang. Ketiga."
    assert split_text(text, fits_length(50)) == ["Kalimat pertama cukup panjang.",
                                                 "Kalimat kedua juga cukup panjang. Ketiga."]


def test_abbreviations_are_not_sentence_ends() -> None:
    text = "Laporan di Jl. Sudirman No. 5 Kel. Menteng sudah diterima petugas kami hari ini."
    parts = split_text(text, fits_length(45))
    assert all(not p.endswith(("Jl.", "No.", "Kel.")) for p in parts)
    assert " ".join(parts) == text


def test_falls_back_to_spaces_then_a_hard_cut() -> None:
    assert split_text("satu dua tiga empat lima", fits_length(10)) == ["satu dua", "tiga empat", "lima"]
    assert split_text("x" * 25, fits_length(10)) == ["x" * 10, "x" * 10, "x" * 5]


def test_every_part_fits_and_nothing_is_lost() -> None:
    text = " ".join(f"Kalimat {i}! Apakah ini benar? Ya… tentu." for i in range(200))
    parts = split_text(text, fits_length(300))
    assert all(len(p) <= 300 for p in parts)
    assert " ".join(parts) == text


def test_utf16_measure() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("😊") == 2
    parts = split_text("😊" * 10, fits_length(4, utf16_len))
    assert parts == ["😊😊"] * 5


def test_deterministic() -> None:
    text = "Satu. Dua. Tiga. " * 50
    assert split_text(text, fits_length(70)) == split_text(text, fits_length(70))


def test_nothing_fits() -> None:
    with pytest.raises(ValueError):
        split_text("abc", fits_length(0))
