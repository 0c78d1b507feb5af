"""Complaints: ticket numbers, idempotent filing, the status workflow and its deadlines.

Every test runs against a fresh SQLite file and a fresh PostgreSQL database (``db_url``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.casework.complaints import ComplaintError, ComplaintService, NewComplaint, next_ticket
from bot.casework.contacts import ContactRepository
from bot.pipeline.receive import store_inbound
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Complaint, ComplaintEvent
from channels.base import InboundMessage
from tests.conftest import make_settings, migrate

TICKET_RE = re.compile(r"WRG-(\d{4})-(\d{6})")


def serial(ticket: str) -> int:
    """The running number of a ticket ("WRG-2026-000002" -> 2); fails on any other shape."""
    parts = TICKET_RE.fullmatch(ticket)
    assert parts, ticket
    return int(parts.group(2))


@pytest.fixture
def sessions(settings: Any):
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _citizen(s: Any, urn: str = "web:0123456789abcdef0123") -> tuple[int, int]:
    repo = ContactRepository(s)
    address = repo.get_or_create_address(urn, "web", "Siti")
    conversation = repo.conversation_for(address)
    s.flush()
    return address.contact_id, conversation.id


def _new(contact_id: int, conversation_id: int | None = None, category: str = "road_damage",
         source_message_id: int | None = None, description: str = "Jalan berlubang") -> NewComplaint:
    return NewComplaint(contact_id=contact_id, conversation_id=conversation_id,
                        source_message_id=source_message_id, channel="web", category=category,
                        description=description)


def _service(s: Any, settings: Any) -> ComplaintService:
    return ComplaintService(s, settings.complaints, settings.ticket_prefix)


# -- ticket numbers --------------------------------------------------------------------------
def test_ticket_numbers_are_prefix_year_and_sequential(sessions, settings):
    with sessions() as s, s.begin():
        contact_id, conv_id = _citizen(s)
        svc = _service(s, settings)
        filed = [svc.file(_new(contact_id, conv_id)) for _ in range(3)]
    tickets = [c.ticket for c in filed]
    year = filed[0].created_at.year
    assert tickets == [f"WRG-{year}-000001", f"WRG-{year}-000002", f"WRG-{year}-000003"]
    # Numbering continues across transactions.
    with sessions() as s, s.begin():
        fourth = _service(s, settings).file(_new(contact_id, conv_id))
    assert fourth.ticket == f"WRG-{year}-000004"
    with sessions() as s:
        assert sorted(s.scalars(select(Complaint.ticket))) == tickets + [fourth.ticket]


def test_ticket_prefix_comes_from_config(db_url, tmp_path):
    settings = make_settings(db_url, tmp_path, overrides={"tickets.prefix": "JKT"})
    migrate(db_url)
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as s, s.begin():
            contact_id, conv_id = _citizen(s)
            c = _service(s, settings).file(_new(contact_id, conv_id))
        assert re.fullmatch(r"JKT-\d{4}-000001", c.ticket), c.ticket
    finally:
        engine.dispose()


def test_a_new_year_restarts_at_one(sessions):
    utc = UTC
    with sessions() as s, s.begin():
        assert next_ticket(s, "WRG", datetime(2026, 12, 31, 23, 59, tzinfo=utc)) == "WRG-2026-000001"
        assert next_ticket(s, "WRG", datetime(2026, 12, 31, 23, 59, tzinfo=utc)) == "WRG-2026-000002"
        assert next_ticket(s, "WRG", datetime(2027, 1, 1, 0, 1, tzinfo=utc)) == "WRG-2027-000001"
        assert next_ticket(s, "WRG", datetime(2027, 6, 1, tzinfo=utc)) == "WRG-2027-000002"
        # Each prefix has its own counter.
        assert next_ticket(s, "JKT", datetime(2027, 6, 1, tzinfo=utc)) == "JKT-2027-000001"
    with sessions() as s, s.begin():
        assert next_ticket(s, "WRG", datetime(2026, 12, 31, tzinfo=utc)) == "WRG-2026-000003"


def test_concurrent_filing_gives_distinct_consecutive_numbers(sessions, settings):
    """8 workers, each filing 10 complaints in its own transactions, never share a number.

    On PostgreSQL the counter row's lock serialises them; on SQLite the write lock does (the
    thread queue runs several workers against SQLite too, so both must hold).
    """
    with sessions() as s, s.begin():
        contact_id, conv_id = _citizen(s)
    threads_n, per_thread = 8, 10
    barrier = threading.Barrier(threads_n)
    tickets: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(per_thread):
                with sessions() as s, s.begin():
                    c = _service(s, settings).file(_new(contact_id, conv_id))
                    ticket = c.ticket
                with lock:
                    tickets.append(ticket)
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60)
    assert not errors, errors
    assert len(tickets) == threads_n * per_thread
    numbers = sorted(serial(t) for t in tickets)
    assert numbers == list(range(1, threads_n * per_thread + 1))
    with sessions() as s:
        assert s.scalar(select(func.count(func.distinct(Complaint.ticket)))) == threads_n * per_thread


def test_a_filing_in_progress_does_not_hold_up_the_next_ones_ticket(sessions, settings):
    """On PostgreSQL the number is taken in a transaction of its own: a filing whose turn is
    still running does not make every other filing in the city wait for it, and a filing
    rolled back leaves its number unused (skipped, never given twice). On SQLite the number
    stays in the filing's transaction (one writer at a time there anyway)."""
    with sessions() as s, s.begin():
        contact_id, conv_id = _citizen(s)
    if not settings.database_url.startswith("postgresql"):
        # One writer at a time: the number is the filing's, and a rollback gives it back.
        with sessions() as s, s.begin():
            assert serial(_service(s, settings).file(_new(contact_id, conv_id)).ticket) == 1
            s.rollback()
        with sessions() as s, s.begin():
            assert serial(_service(s, settings).file(_new(contact_id, conv_id)).ticket) == 1
        return
    first = sessions()
    first.begin()
    held = _service(first, settings).file(_new(contact_id, conv_id)).ticket
    done: list[str] = []

    def other() -> None:
        with sessions() as s, s.begin():
            done.append(_service(s, settings).file(_new(contact_id, conv_id)).ticket)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(timeout=30)          # with the number in the first transaction: waits for ever
    try:
        assert not thread.is_alive(), "the second filing waited for the first one's transaction"
        assert [serial(held), serial(done[0])] == [1, 2]
    finally:
        first.rollback()
        first.close()
        thread.join()
    with sessions() as s, s.begin():
        assert serial(_service(s, settings).file(_new(contact_id, conv_id)).ticket) == 3
    with sessions() as s:
        assert sorted(serial(t) for t in s.scalars(select(Complaint.ticket))) == [2, 3]


def test_a_filing_gets_its_number_when_every_pooled_connection_is_taken(sessions, settings):
    """The number's own connection does not come from the process's pool: a burst of filings,
    each holding a pooled connection, must not wait for a second one (with the pool's size in
    filings at once, every one of them would)."""
    from sqlalchemy import create_engine

    from bot.store.engine import make_session_factory

    with sessions() as s, s.begin():
        contact_id, conv_id = _citizen(s)
    tight = create_engine(settings.database_url, pool_size=1, max_overflow=0, pool_timeout=2)
    try:
        with make_session_factory(tight)() as s, s.begin():
            s.execute(select(1))                 # the filing holds the pool's only connection
            ticket = _service(s, settings).file(_new(contact_id, conv_id)).ticket
        assert serial(ticket) == 1
    finally:
        tight.dispose()


# -- idempotent filing ---------------------------------------------------------------------
def _inbound(s: Any, external_id: str = "m-1") -> int:
    stored = store_inbound(s, InboundMessage(
        channel="web", external_id=external_id, sender="web:0123456789abcdef0123",
        text="Jalan berlubang di depan sekolah", received_at=datetime.now(UTC)))
    return stored.message_id


def test_filing_twice_from_the_same_message_returns_the_same_complaint(sessions, settings):
    with sessions() as s, s.begin():
        contact_id, conv_id = _citizen(s)
        msg_id = _inbound(s)
        first = _service(s, settings).file(_new(contact_id, conv_id, source_message_id=msg_id))
        again_same_tx = _service(s, settings).file(_new(contact_id, conv_id, source_message_id=msg_id))
        first_id, first_ticket = first.id, first.ticket
    assert again_same_tx.id == first_id
    # A job run a second time (a new transaction) finds the same complaint too.
    with sessions() as s, s.begin():
        again = _service(s, settings).file(_new(contact_id, conv_id, source_message_id=msg_id,
                                                description="something else"))
        assert (again.id, again.ticket, again.description) == (
            first_id, first_ticket, "Jalan berlubang")
        other = _service(s, settings).file(
            _new(contact_id, conv_id, source_message_id=_inbound(s, "m-2")))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 2
        assert s.scalar(select(func.count()).select_from(ComplaintEvent).where(
            ComplaintEvent.complaint_id == first_id)) == 1
    # The repeat did not use up a ticket number.
    assert serial(other.ticket) == 2


def test_filing_routes_to_the_category_agency_and_records_creation(sessions, settings):
    with sessions() as s, s.begin():
        contact_id, conv_id = _citizen(s)
        c = _service(s, settings).file(_new(contact_id, conv_id, category="garbage"),
                                        actor="citizen")
        cid = c.id
    with sessions() as s:
        c = s.get(Complaint, cid)
        assert (c.category, c.agency, c.status) == ("garbage", "Dinas Lingkungan Hidup", "menunggu")
        assert [(e.kind, e.from_status, e.to_status, e.actor) for e in c.events] == [
            ("created", None, "menunggu", "citizen")]
    # An unknown category is refused and files nothing.
    with sessions() as s, s.begin(), pytest.raises(ComplaintError, match="volcano"):
        _service(s, settings).file(_new(contact_id, conv_id, category="volcano"))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 1


def test_a_citizens_filing_stores_what_a_staff_filing_stores(sessions, settings):
    """The dialogue's filing (one statement on PostgreSQL) and the ORM's give the same rows."""
    where: dict[str, Any] = dict(location_text="Jl. Pramuka Raya no 10", latitude=-6.2, longitude=106.8, language="en",
                 media=({"url": "web/a.jpg", "content_type": "image/jpeg", "caption": None},))
    with sessions() as s, s.begin():
        contact_id, conv_id = _citizen(s)
        by_citizen = _service(s, settings).file_for_citizen(replace(
            _new(contact_id, conv_id, source_message_id=_inbound(s)), **where))
        by_staff = _service(s, settings).file(replace(_new(contact_id, conv_id), **where))
        staff_id = by_staff.id
    assert (by_citizen.category, by_citizen.agency, by_citizen.status) == ("road_damage", "Dinas Bina Marga",
                                                                        "menunggu")
    assert serial(by_citizen.ticket) == 1
    varying = ("id", "ticket", "source_message_id", "created_at", "updated_at", "due_at")
    columns = [c.key for c in Complaint.__table__.columns if c.key not in varying]
    with sessions() as s:
        citizen_row, staff_row = s.get(Complaint, by_citizen.id), s.get(Complaint, staff_id)
        assert {c: getattr(citizen_row, c) for c in columns} == {c: getattr(staff_row, c) for c in columns}
        assert citizen_row.location_key == "jl pramuka raya no 10"
        assert (citizen_row.ticket, citizen_row.due_at, citizen_row.created_at) == (
            by_citizen.ticket, by_citizen.due_at, by_citizen.created_at)
        assert [(e.kind, e.to_status, e.actor, e.created_at) for e in citizen_row.events] == [
            ("created", "menunggu", "citizen", by_citizen.created_at)]
    # Filed again from the same message (a turn run again): the same complaint, no new number.
    with sessions() as s, s.begin():
        again = _service(s, settings).file_for_citizen(
            _new(contact_id, conv_id, source_message_id=citizen_row.source_message_id))
    assert again == by_citizen
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 2
        assert s.scalar(select(func.count()).select_from(ComplaintEvent)) == 2


# -- status workflow -----------------------------------------------------------------------
def _file_one(sessions: Any, settings: Any, category: str = "road_damage") -> int:
    with sessions() as s, s.begin():
        contact_id, conv_id = _citizen(s)
        return _service(s, settings).file(_new(contact_id, conv_id, category=category)).id


def test_allowed_transition_records_an_event(sessions, settings):
    cid = _file_one(sessions, settings)
    with sessions() as s, s.begin():
        c = s.get(Complaint, cid)
        _service(s, settings).change_status(c, "koordinasi", actor="staff:budi",
                                            note="Sudah dicek ke lokasi")
    with sessions() as s:
        c = s.get(Complaint, cid)
        assert c.status == "koordinasi"
        assert [(e.kind, e.from_status, e.to_status, e.actor, e.note) for e in c.events] == [
            ("created", None, "menunggu", "citizen", None),
            ("status", "menunggu", "koordinasi", "staff:budi", "Sudah dicek ke lokasi"),
        ]
        assert c.events[1].created_at.tzinfo is not None


DISALLOWED = [
    ([], "selesai"),                       # waiting -> done skips the whole workflow
    ([], "proses"),
    (["ditolak"], "proses"),               # rejected is final
    (["koordinasi"], "menunggu"),          # no way back to waiting
]


def test_disallowed_transition_is_refused_and_changes_nothing(sessions, settings):
    for path, refused in DISALLOWED:
        cid = _file_one(sessions, settings)
        with sessions() as s, s.begin():
            c = s.get(Complaint, cid)
            for status in path:
                _service(s, settings).change_status(c, status, actor="staff:budi")
        with sessions() as s:
            before = s.get(Complaint, cid)
            snapshot = (before.status, before.due_at, before.updated_at, len(before.events))
        with sessions() as s, s.begin():
            c = s.get(Complaint, cid)
            with pytest.raises(ComplaintError, match=refused):
                _service(s, settings).change_status(c, refused, actor="staff:budi")
            assert c.status == snapshot[0]
        with sessions() as s:
            after = s.get(Complaint, cid)
            assert (after.status, after.due_at, after.updated_at, len(after.events)) == snapshot, \
                (path, refused)


def test_transitions_follow_the_configured_workflow(db_url, tmp_path):
    settings = make_settings(db_url, tmp_path, overrides={"complaints.transitions": {
        "menunggu": ["selesai"], "selesai": []}})
    migrate(db_url)
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    try:
        cid = _file_one(sessions, settings)
        with sessions() as s, s.begin():
            c = s.get(Complaint, cid)
            assert c is not None
            with pytest.raises(ComplaintError):
                _service(s, settings).change_status(c, "koordinasi", actor="staff:budi")
            _service(s, settings).change_status(c, "selesai", actor="staff:budi")
        with sessions() as s:
            assert s.get_one(Complaint, cid).status == "selesai"
    finally:
        engine.dispose()


# -- deadlines -----------------------------------------------------------------------------
def test_due_at_is_the_category_coordination_deadline(sessions, settings):
    flood = _file_one(sessions, settings, "flood")          # coordination_hours: 2
    road = _file_one(sessions, settings, "road_damage")     # default: 6
    with sessions() as s:
        f, r = s.get(Complaint, flood), s.get(Complaint, road)
        assert f.due_at == f.created_at + timedelta(hours=2)
        assert r.due_at == r.created_at + timedelta(hours=6)
        assert f.due_at.tzinfo is not None


def test_due_at_becomes_the_resolution_deadline_after_coordination(sessions, settings):
    cid = _file_one(sessions, settings, "flood")            # resolution_days: 3
    with sessions() as s, s.begin():
        c = s.get(Complaint, cid)
        _service(s, settings).change_status(c, "koordinasi", actor="staff:budi")
    with sessions() as s, s.begin():
        c = s.get(Complaint, cid)
        assert c.due_at == c.created_at + timedelta(days=3)
        _service(s, settings).change_status(c, "disposisi", actor="staff:budi")
        _service(s, settings).change_status(c, "proses", actor="staff:budi")
    with sessions() as s:
        c = s.get(Complaint, cid)
        assert c.due_at == c.created_at + timedelta(days=3)


def test_closed_complaints_have_no_deadline(sessions, settings):
    """Ditolak is final; Selesai can be reopened (selesai -> proses), but while a complaint is
    resolved or rejected nothing is due."""
    rejected = _file_one(sessions, settings, "flood")
    resolved = _file_one(sessions, settings, "flood")
    with sessions() as s, s.begin():
        svc = _service(s, settings)
        svc.change_status(s.get(Complaint, rejected), "ditolak", actor="staff:budi",
                          note="Bukan wewenang")
        c = s.get(Complaint, resolved)
        for status in ["koordinasi", "disposisi", "proses", "menunggu_validasi", "selesai"]:
            svc.change_status(c, status, actor="staff:budi")
    with sessions() as s:
        assert s.get(Complaint, rejected).due_at is None
        c = s.get(Complaint, resolved)
        assert c.status == "selesai"
        assert c.due_at is None, f"a resolved complaint is still due at {c.due_at}"
