"""What the complaint page shows, without a database: history in plain words, the complaint's
part of the conversation, button titles, masked contacts, which files are real images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.casework.complaint_page import button_titles, describe, image_type, mask, part_of
from bot.store.models import ComplaintEvent, Message


def event(kind: str, actor: str = "staff:dina", **fields: Any) -> ComplaintEvent:
    return ComplaintEvent(kind=kind, actor=actor, **fields)


@pytest.mark.parametrize("e, said", [
    (event("created", "citizen"), "warga mengirim laporan"),
    (event("created"), "dina membuat laporan dari percakapan"),
    (event("status", from_status="menunggu", to_status="disposisi"),
     "dina mengubah status dari Menunggu menjadi Disposisi"),
    (event("edit", field="category", old_value="road_damage", new_value="drainage"),
     "dina mengubah kategori dari Jalan rusak menjadi Saluran air"),
    (event("edit", field="location", old_value=None, new_value="Jl. Salemba 5"),
     "dina mengubah lokasi dari (kosong) menjadi Jl. Salemba 5"),
    (event("reroute", field="agency", old_value="Dinas Bina Marga", new_value="Satpol PP"),
     "dina mendisposisikan laporan dari Dinas Bina Marga ke Satpol PP"),
    (event("assign", field="assignee", old_value=None, new_value="budi"), "dina menugaskan laporan ke budi"),
    (event("assign", field="assignee", old_value=None, new_value="dina"), "dina mengambil laporan ini"),
    (event("assign", field="assignee", old_value="budi", new_value=None), "dina melepas penugasan budi"),
    (event("note"), "dina menambah catatan internal"),
    (event("reply"), "dina membalas warga"),
    (event("rating", "citizen", note="4"), "warga memberi penilaian 4/5"),
])
def test_history_reads_as_plain_indonesian(e: ComplaintEvent, said: str) -> None:
    assert describe(e) == said


def msg(id: int, direction: str = "in", text: str = "", intent: str | None = None, **extra: Any) -> Message:
    return Message(id=id, direction=direction, text=text, nlu={"intent": intent} if intent else None, **extra)


CONVERSATION = [
    msg(1, text="halo"),
    msg(2, "out", "Halo! Ada yang bisa dibantu?"),
    msg(3, text="jalan berlubang", intent="report_road_damage"),
    msg(4, "out", "Kirim laporan ini?", buttons=[{"title": "Kirim", "payload": "yes"}]),
    msg(5, text="yes", button_payload="yes"),                         # files complaint A
    msg(6, "out", "Terima kasih, tiket WRG-2026-000001"),
    msg(7, text="terima kasih"),
    msg(8, text="lapor", button_payload="lapor"),                     # complaint B begins
    msg(9, text="sampah menumpuk", intent="report_garbage"),
    msg(10, "out", "Kirim laporan ini?", buttons=[{"title": "Kirim", "payload": "yes"}]),
    msg(11, text="yes", button_payload="yes"),                        # files complaint B
    msg(12, "out", "Terima kasih, tiket WRG-2026-000002"),
]


def ids(messages: list[Message]) -> list[int]:
    return [m.id for m in messages]


def test_a_complaints_part_runs_from_its_filing_to_the_next_filing() -> None:
    assert ids(part_of(CONVERSATION, 5, [5, 11])) == [3, 4, 5, 6, 7]
    assert ids(part_of(CONVERSATION, 11, [5, 11])) == [8, 9, 10, 11, 12]
    assert part_of(CONVERSATION, None, [5, 11]) == []       # filed by staff without a source


def test_button_presses_show_the_title_the_citizen_saw() -> None:
    assert button_titles(CONVERSATION) == {5: "Kirim", 8: "lapor", 11: "Kirim"}


@pytest.mark.parametrize("address, shown", [
    ("tel:+6281234567123", "+62 812-****-123"),
    ("whatsapp:+6281234567123", "+62 812-****-123"),
    ("+6281234567123", "+62 812-****-123"),
    ("telegram:3527065", "telegram:35****65"),
    ("web:0123456789abcdef", "web:01****ef"),
    ("web:abc", "web:***"),
])
def test_contacts_are_masked_for_staff(address: str, shown: str) -> None:
    assert mask(address) == shown


@pytest.mark.parametrize("head, kind", [
    (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\nrest", "image/png"),
    (b"GIF89a", "image/gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"/>', None),
    (b"<html><script>alert(1)</script>", None),
    (b"%PDF-1.7", None),
])
def test_only_real_images_count_as_images(tmp_path: Path, head: bytes, kind: str | None) -> None:
    f = tmp_path / "file.jpg"
    f.write_bytes(head)
    assert image_type(f) == kind
    assert image_type(tmp_path / "missing.jpg") is None
