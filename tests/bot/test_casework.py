"""Working a complaint (issue 12, item 2): StaffService corrections, disposisi, assignment and
filing from a conversation; each scoped to what the person may see and recorded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.casework.complaints import ComplaintService, NewComplaint
from bot.casework.staff import StaffService
from bot.casework.staff_types import ComplaintEdit, Filed, NotVisible, StaffDraft, StaffError
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import (
    Complaint,
    ComplaintEvent,
    Contact,
    ContactAddress,
    Conversation,
    ConversationEvent,
    Message,
    StaffUser,
)
from tests.bot.world import empty_database
from tests.conftest import make_settings

ROAD = "Dinas Bina Marga"
WATER = "Dinas Sumber Daya Air"
TRASH = "Dinas Lingkungan Hidup"


@dataclass
class Desk:
    """A database with staff of two agencies and one citizen who filed a road complaint by SMS."""

    sessions: sessionmaker[Session]
    settings: Any
    ticket: str
    conv_id: int
    message_ids: list[int]

    def run(self, action: Any) -> Any:
        with self.sessions() as s, s.begin():
            return action(StaffService(s, self.settings))

    def complaint(self) -> Complaint:
        with self.sessions() as s:
            return s.scalars(select(Complaint).where(Complaint.ticket == self.ticket)).one()

    def events(self, kind: str | None = None) -> list[tuple[Any, ...]]:
        with self.sessions() as s:
            rows = s.scalars(select(ComplaintEvent).join(Complaint).where(Complaint.ticket == self.ticket)
                             .order_by(ComplaintEvent.id)).all()
            return [(e.kind, e.field, e.old_value, e.new_value, e.note, e.actor) for e in rows
                    if kind is None or e.kind == kind]

    def outbox(self) -> list[tuple[str, str]]:
        with self.sessions() as s:
            return [(m.channel, m.text) for m in s.scalars(select(Message).where(
                Message.direction == "out").order_by(Message.id))]


@pytest.fixture
def desk(shared_db: str, tmp_path: Path) -> Iterator[Desk]:
    # One migrated database per module and kind (migrating PostgreSQL per test costs seconds).
    empty_database(shared_db)
    settings = make_settings(shared_db, tmp_path)
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        for username, role, agency in (("admin", "admin", None), ("sari", "supervisor", None),
                                       ("dina", "staff", ROAD), ("budi", "staff", ROAD),
                                       ("lukas", "staff", TRASH), ("wati", "staff", WATER)):
            s.add(StaffUser(username=username, name=username.title(), role=role, agency=agency,
                            password_hash="x"))
        contact = Contact(name="Ani", phone="+6281234567123")
        address = ContactAddress(contact=contact, urn="tel:+6281234567123", channel="sms")
        conv = Conversation(contact=contact, address=address, channel="sms", language="id")
        s.add(conv)
        s.flush()
        texts = ["jalan berlubang di depan sekolah", "Jl. Salemba Raya 5", "ya"]
        msgs = [Message(conversation_id=conv.id, direction="in", channel="sms", text=t,
                        urn=address.urn, status="received") for t in texts]
        s.add_all(msgs)
        s.flush()
        c = ComplaintService(s, settings.complaints, settings.ticket_prefix).file(NewComplaint(
            contact_id=contact.id, conversation_id=conv.id, source_message_id=msgs[-1].id, channel="sms",
            category="road_damage", description="jalan berlubang di depan sekolah",
            location_text="Jl. Salemba Raya 5"))
        ticket, conv_id, ids = c.ticket, conv.id, [m.id for m in msgs]
    try:
        yield Desk(sessions, settings, ticket, conv_id, ids)
    finally:
        engine.dispose()


def edit(**changes: Any) -> ComplaintEdit:
    wanted: dict[str, Any] = dict(category="road_damage", description="jalan berlubang di depan sekolah",
                                  location_text="Jl. Salemba Raya 5", latitude=None, longitude=None)
    wanted.update(changes)
    return ComplaintEdit(**wanted)


# -- corrections -----------------------------------------------------------------------------
def test_a_correction_is_recorded_field_by_field_and_the_citizen_is_not_told(desk: Desk) -> None:
    woken = desk.run(lambda svc: svc.edit(desk.ticket, "dina", edit(
        category="drainage", location_text="Jl. Salemba Raya 7", latitude=-6.19, longitude=106.85)))
    c = desk.complaint()
    # The category changed; the agency stays unless staff chose to follow it.
    assert (c.category, c.agency, c.location_text, c.latitude, c.longitude) == (
        "drainage", ROAD, "Jl. Salemba Raya 7", -6.19, 106.85)
    assert desk.events("edit") == [
        ("edit", "category", "road_damage", "drainage", None, "staff:dina"),
        ("edit", "location", "Jl. Salemba Raya 5", "Jl. Salemba Raya 7 (-6.19, 106.85)", None, "staff:dina")]
    assert woken.conversation_ids == () and desk.outbox() == []


def test_following_the_category_reroutes_and_telling_the_citizen_queues_a_message_on_their_channel(
        desk: Desk) -> None:
    woken = desk.run(lambda svc: svc.edit(desk.ticket, "dina", edit(
        category="drainage", follow_category=True, notify=True)))
    assert desk.complaint().agency == WATER
    assert desk.events("reroute") == [("reroute", "agency", ROAD, WATER, "Mengikuti kategori baru.", "staff:dina")]
    assert desk.events("edit")[0][4] == "Warga diberi tahu."
    assert woken.conversation_ids == (desk.conv_id,)
    assert desk.outbox() == [("sms", f"Petugas memperbarui data laporan {desk.ticket}: "
                                     f"kategori: Saluran air; instansi: {WATER}.")]


@pytest.mark.parametrize("wrong, says", [
    (dict(description="  "), "Keterangan tidak boleh kosong"),
    (dict(latitude=-6.2), "Isi lintang dan bujur keduanya"),
    (dict(latitude=95.0, longitude=106.8), "Koordinat di luar batas"),
    (dict(latitude=float("nan"), longitude=106.8), "Koordinat di luar batas"),
    (dict(category="unicorns"), "Kategori tidak dikenal"),
    ({}, "Tidak ada yang berubah"),
])
def test_a_wrong_correction_says_why_and_changes_nothing(desk: Desk, wrong: dict[str, Any], says: str) -> None:
    with pytest.raises(StaffError, match=says):
        desk.run(lambda svc: svc.edit(desk.ticket, "dina", edit(**wrong)))
    assert desk.events() == [("created", None, None, None, None, "citizen")]
    assert desk.complaint().description == "jalan berlubang di depan sekolah"


def test_staff_of_another_agency_cannot_see_or_touch_the_complaint(desk: Desk) -> None:
    for action in (lambda svc: svc.edit(desk.ticket, "lukas", edit(description="x")),
                   lambda svc: svc.reroute(desk.ticket, "lukas", TRASH, "punya kami"),
                   lambda svc: svc.assign(desk.ticket, "lukas", "lukas"),
                   lambda svc: svc.note(desk.ticket, "x", "lukas")):
        with pytest.raises(NotVisible):
            desk.run(action)
    assert len(desk.events()) == 1


# -- disposisi -------------------------------------------------------------------------------
def test_disposisi_needs_a_reason_and_a_configured_agency(desk: Desk) -> None:
    with pytest.raises(StaffError, match="perlu alasan"):
        desk.run(lambda svc: svc.reroute(desk.ticket, "dina", WATER, " "))
    with pytest.raises(StaffError, match="Instansi tidak dikenal"):
        desk.run(lambda svc: svc.reroute(desk.ticket, "dina", "Dinas Sihir", "salah kirim"))
    with pytest.raises(StaffError, match="sudah di"):
        desk.run(lambda svc: svc.reroute(desk.ticket, "dina", ROAD, "salah kirim"))
    assert desk.complaint().agency == ROAD


def test_disposisi_moves_the_complaint_out_of_the_old_agencys_sight(desk: Desk) -> None:
    desk.run(lambda svc: svc.assign(desk.ticket, "dina", "budi"))
    desk.run(lambda svc: svc.reroute(desk.ticket, "dina", WATER, "Saluran tersumbat, bukan jalan"))
    c = desk.complaint()
    assert (c.agency, c.assigned_to_id) == (WATER, None)
    assert desk.events("reroute") == [
        ("reroute", "agency", ROAD, WATER, "Saluran tersumbat, bukan jalan", "staff:dina")]
    # The old agency's assignee is released, on the record.
    assert desk.events("assign")[-1][1:4] == ("assignee", "budi", None)
    with pytest.raises(NotVisible):
        desk.run(lambda svc: svc.complaint(desk.ticket, svc.staff("dina")))
    assert desk.run(lambda svc: svc.complaint(desk.ticket, svc.staff("wati")).ticket) == desk.ticket
    # A supervisor sends it on from anywhere.
    desk.run(lambda svc: svc.reroute(desk.ticket, "sari", TRASH, "Sampah menyumbat saluran"))
    assert desk.complaint().agency == TRASH


# -- assignment -------------------------------------------------------------------------------
def test_assign_to_a_colleague_to_oneself_and_unassign(desk: Desk) -> None:
    with pytest.raises(StaffError, match="bukan petugas aktif"):
        desk.run(lambda svc: svc.assign(desk.ticket, "dina", "lukas"))   # another agency
    desk.run(lambda svc: svc.assign(desk.ticket, "dina", "budi"))
    desk.run(lambda svc: svc.assign(desk.ticket, "sari", "sari"))       # a supervisor takes it
    desk.run(lambda svc: svc.assign(desk.ticket, "dina", None))
    assert desk.complaint().assigned_to_id is None
    assert [e[2:4] for e in desk.events("assign")] == [(None, "budi"), ("budi", "sari"), ("sari", None)]
    with pytest.raises(StaffError, match="tidak berubah"):
        desk.run(lambda svc: svc.assign(desk.ticket, "dina", None))
    assignable = desk.run(lambda svc: [
        u.username for u in svc.assignable(svc.complaint(desk.ticket, svc.staff("dina")))])
    assert assignable == ["budi", "dina"]


# -- a complaint from a conversation -----------------------------------------------------------
def test_staff_file_a_complaint_from_a_conversation_and_the_citizen_gets_the_ticket(desk: Desk) -> None:
    with desk.sessions() as s, s.begin():
        later = [Message(conversation_id=desk.conv_id, direction="in", channel="sms", text=t, status="received",
                         media=[{"url": "u1", "content_type": "image/jpeg", "caption": "foto"}] if i else [])
                 for i, t in enumerate(["sampah menumpuk di pasar", "sudah seminggu"])]
        s.add_all(later)
        s.flush()
        picked = tuple(m.id for m in later)
    filed = desk.run(lambda svc: svc.file_from_conversation(desk.conv_id, "dina", StaffDraft(
        category="garbage", description="Sampah menumpuk di pasar seminggu", location_text="Pasar Senen",
        message_ids=picked)))
    assert isinstance(filed, Filed) and filed.conversation_ids == (desk.conv_id,)
    with desk.sessions() as s:
        c = s.scalars(select(Complaint).where(Complaint.ticket == filed.ticket)).one()
        assert (c.category, c.agency, c.source_message_id, c.channel) == ("garbage", TRASH, picked[-1], "sms")
        assert c.media == [{"url": "u1", "content_type": "image/jpeg", "caption": "foto"}]
        assert [(e.kind, e.actor) for e in c.events] == [("created", "staff:dina")]
        assert s.scalars(select(ConversationEvent.kind)).all() == ["file"]
    assert desk.outbox()[-1] == (
        "sms", f"Petugas telah mencatat laporan Anda dengan nomor tiket {filed.ticket}. "
               f"Kategori: Sampah, diteruskan ke {TRASH}. Simpan nomor tiket ini untuk cek status.")


def test_filing_from_a_conversation_is_scoped_and_checks_the_messages(desk: Desk) -> None:
    draft = StaffDraft(category="garbage", description="sampah")
    with pytest.raises(NotVisible):   # the conversation belongs to a Bina Marga complaint
        desk.run(lambda svc: svc.file_from_conversation(desk.conv_id, "lukas", draft))
    with pytest.raises(StaffError, match="bukan pesan warga"):
        desk.run(lambda svc: svc.file_from_conversation(desk.conv_id, "dina", StaffDraft(
            category="garbage", description="sampah", message_ids=(999_999,))))
    with pytest.raises(StaffError, match="Kategori tidak dikenal"):
        desk.run(lambda svc: svc.file_from_conversation(desk.conv_id, "dina", StaffDraft(
            category="dragons", description="naga")))
    # A message that already filed a ticket is not taken as the new one's source (that would
    # return the old ticket): the new complaint stands on its own.
    filed = desk.run(lambda svc: svc.file_from_conversation(desk.conv_id, "dina", StaffDraft(
        category="garbage", description="sampah juga", message_ids=(desk.message_ids[-1],))))
    with desk.sessions() as s:
        assert s.scalar(select(Complaint.source_message_id).where(Complaint.ticket == filed.ticket)) is None
        assert s.scalar(select(Complaint.id).where(Complaint.ticket == filed.ticket)) is not None


def test_a_browsers_crlf_line_breaks_are_not_a_change(desk: Desk) -> None:
    desk.run(lambda svc: svc.edit(desk.ticket, "dina", edit(description="lubang besar\r\ndi depan sekolah")))
    assert desk.complaint().description == "lubang besar\ndi depan sekolah"
    with pytest.raises(StaffError, match="Tidak ada yang berubah"):
        desk.run(lambda svc: svc.edit(desk.ticket, "dina", edit(description="lubang besar\r\ndi depan sekolah")))
