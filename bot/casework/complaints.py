"""Complaints: ticket numbers, filing, routing to an agency and the status workflow."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Table, bindparam, create_engine, event, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.settings import Category, ComplaintSettings
from bot.store.driver_sql import DriverStatement
from bot.store.engine import IDLE_PING_SECONDS, ping_idle_connections
from bot.store.models import Complaint, ComplaintEvent, TicketCounter, utcnow
from bot.store.places import normal_place

#: Connections a process keeps at most for taking ticket numbers (README "Sizing").
NUMBERING_CONNECTIONS = 4

#: Statuses with no clock running.
CLOSED = ("selesai", "ditolak")


class ComplaintError(Exception):
    """A complaint operation was refused (unknown ticket, transition not allowed)."""


@dataclass(frozen=True, slots=True)
class NewComplaint:
    contact_id: int
    conversation_id: int | None
    source_message_id: int | None
    channel: str
    category: str
    description: str
    language: str = "id"
    location_text: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    media: tuple[dict[str, str | None], ...] = field(default_factory=tuple)


def next_ticket(session: Session, prefix: str, now: datetime | None = None,
                timezone: str = "UTC") -> str:
    """Allocate the next ticket number, e.g. ``WRG-2026-000123``: unique, increasing, and
    restarting at 1 each year of the city's calendar.

    One upsert increments the (prefix, year) counter row, creating it for a new year. The row
    lock it takes is held until its transaction ends, so on PostgreSQL the number is taken in
    a transaction of its own, the upsert alone: inside the filing's transaction, every complaint filed in
    the city waited for the whole turn of the one before it (NLU, dialogue, replies, the
    durable commit; 93 ms a filing under bench/load.py). The price is a skipped number when
    the filing rolls back. Its commit does not wait for the disk: the filing's own durable
    commit flushes the write-ahead log up to and past it, so a surviving complaint never
    reuses its number after a crash. SQLite has one writer at a time anyway, and a second
    connection would wait for the filing's own write lock, so there it stays in the
    transaction. A session joined to a connection's transaction (the web chat's arrival) takes
    its number on the numbering pool of that connection's engine, like any other.

    The number's connection comes from a small pool of its own: taken from the process's
    pool, a burst of filings (one per worker thread) could hold every pooled connection while
    each waited for a second one.
    """
    # The year on the ticket is the city's year (1 January 03:00 WIB is already the new year).
    year = (now or utcnow()).astimezone(ZoneInfo(timezone)).year
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    params = {"b_prefix": prefix, "b_year": year}
    if isinstance(engine, Engine) and engine.dialect.name == "postgresql":
        with _numbering_engine(engine).connect() as conn:
            value = conn.execute(_NEXT_PG, params).scalar_one()
    else:
        value = session.execute(_NEXT_PG if bind.dialect.name == "postgresql" else _NEXT_SQLITE,
                                params).scalar_one()
    return f"{prefix}-{year}-{value:06d}"


#: Each engine's own small pool for ticket numbers (disposed with it).
_NUMBERING: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_NUMBERING_LOCK = threading.Lock()


def _numbering_engine(bind: Engine) -> Engine:
    """A pool of at most :data:`NUMBERING_CONNECTIONS` connections to ``bind``'s database for
    ticket numbers only: its transactions wait for nothing else, so they always end."""
    with _NUMBERING_LOCK:
        numbering = _NUMBERING.get(bind)
        if numbering is None:
            # One statement is the whole transaction (autocommit: no BEGIN and COMMIT round
            # trips), and its commit does not wait for the disk (see next_ticket).
            numbering = create_engine(bind.url, pool_size=1, max_overflow=NUMBERING_CONNECTIONS - 1,
                                      isolation_level="AUTOCOMMIT",
                                      connect_args={"options": "-c synchronous_commit=off"})
            ping_idle_connections(numbering, IDLE_PING_SECONDS)
            _NUMBERING[bind] = numbering
            event.listen(bind, "engine_disposed", lambda _engine: numbering.dispose())
        return numbering


def _next_value(insert: Callable[..., Any]) -> Any:
    counters = cast(Table, TicketCounter.__table__)
    stmt = insert(counters).values(prefix=bindparam("b_prefix"), year=bindparam("b_year"), last_value=1)
    return (stmt.on_conflict_do_update(index_elements=[counters.c.prefix, counters.c.year],
                                       set_={"last_value": counters.c.last_value + 1})
            .returning(counters.c.last_value))


# Built once: the counter's upsert in each dialect's words.
_NEXT_PG = _next_value(pg_insert)
_NEXT_SQLITE = _next_value(sqlite_insert)


@dataclass(frozen=True, slots=True)
class FiledComplaint:
    """A complaint as the citizen's dialogue filed it (or found it filed): what they are told."""

    id: int
    ticket: str
    category: str
    agency: str
    status: str
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime


_complaints = cast(Table, Complaint.__table__)
_events = cast(Table, ComplaintEvent.__table__)
_FILED = tuple(_complaints.c[f.name] for f in fields(FiledComplaint))
# The complaint already filed from a message (a turn run again after its commit failed).
_FILED_FROM = DriverStatement(select(*_FILED).where(_complaints.c.source_message_id == bindparam("b_message")))
#: The columns a filing gives (every one with a Python-side default among them).
_FILING_COLUMNS = ("ticket", "contact_id", "conversation_id", "source_message_id", "channel", "category",
                   "agency", "description", "location_text", "location_key", "latitude", "longitude", "media",
                   "language", "status", "due_at", "created_at", "updated_at")


def _filing_statement() -> DriverStatement:
    """PostgreSQL: the complaint and its "created" event inserted by one statement, the
    complaint's :class:`FiledComplaint` columns returned. Through the ORM a filing cost two
    flushes (the complaint, for its id; then its event): about 2 ms of CPU, the costliest turn
    of a conversation under load."""
    new = (insert(_complaints).values({c: bindparam(f"b_{c}", type_=_complaints.c[c].type) for c in _FILING_COLUMNS})
           .returning(*_FILED).cte("new"))
    created = insert(_events).from_select(
        ["complaint_id", "kind", "to_status", "actor", "staff_user_id", "created_at"],
        select(new.c.id, literal("created"), new.c.status, bindparam("b_actor"),
               bindparam("b_staff_user_id", type_=_events.c.staff_user_id.type), new.c.created_at)).cte("created")
    return DriverStatement(select(*(new.c[f.name] for f in fields(FiledComplaint))).add_cte(created))


_FILE = _filing_statement()


class ComplaintService:
    def __init__(self, session: Session, settings: ComplaintSettings, ticket_prefix: str,
                 timezone: str = "UTC") -> None:
        self.s = session
        self.settings = settings
        self.prefix = ticket_prefix
        self.timezone = timezone

    def agencies(self) -> list[str]:
        """Every agency a complaint may be routed to: those of the configured categories."""
        return sorted({c.agency for c in self.settings.categories})

    def category(self, name: str) -> Category:
        cat = self.settings.category(name)
        if cat is None:
            raise ComplaintError(f"unknown category {name!r}")
        return cat

    def file(self, new: NewComplaint, actor: str = "citizen",
             staff_user_id: int | None = None) -> Complaint:
        """File a complaint, or return the one already filed from the same message."""
        if new.source_message_id is not None:
            existing = _FILED_FROM.first(self.s.connection(), {"b_message": new.source_message_id})
            if existing is not None and (complaint := self.s.get(Complaint, existing[0])) is not None:
                return complaint
        values = self._filing(new)
        complaint = Complaint(**values)
        self.s.add(complaint)
        self.s.flush()
        self.s.add(ComplaintEvent(complaint_id=complaint.id, kind="created", to_status=complaint.status,
                                  actor=actor, staff_user_id=staff_user_id, created_at=values["created_at"]))
        return complaint

    def file_for_citizen(self, new: NewComplaint) -> FiledComplaint:
        """:meth:`file` as the citizen's dialogue files: on PostgreSQL one statement, past the
        ORM (the complaint is not in the session; whatever reads it next loads it)."""
        conn = self.s.connection()
        if conn.dialect.name != "postgresql":
            c = self.file(new)
            return FiledComplaint(*(getattr(c, f.name) for f in fields(FiledComplaint)))
        if new.source_message_id is not None:
            existing = _FILED_FROM.first(conn, {"b_message": new.source_message_id})
            if existing is not None:
                return FiledComplaint(*existing)
        values = self._filing(new)
        row = _FILE.first(conn, {**{f"b_{c}": values[c] for c in _FILING_COLUMNS},
                                 "b_actor": "citizen", "b_staff_user_id": None})
        assert row is not None      # an INSERT … RETURNING returns its row, or raises
        return FiledComplaint(*row)

    def _filing(self, new: NewComplaint) -> dict[str, Any]:
        """A new complaint's columns (:data:`_FILING_COLUMNS`), its ticket number taken."""
        cat = self.category(new.category)
        now = utcnow()
        return {
            "ticket": next_ticket(self.s, self.prefix, now, self.timezone), "contact_id": new.contact_id,
            "conversation_id": new.conversation_id, "source_message_id": new.source_message_id,
            "channel": new.channel, "category": cat.name, "agency": cat.agency,
            "description": new.description, "location_text": new.location_text,
            "location_key": normal_place(new.location_text) or None,
            "latitude": new.latitude, "longitude": new.longitude, "media": list(new.media),
            "language": new.language, "status": self.settings.initial_status,
            "due_at": now + timedelta(hours=cat.coordination_hours), "created_at": now, "updated_at": now}

    def resolution_due(self, complaint: Complaint | FiledComplaint) -> datetime:
        cat = self.category(complaint.category)
        return complaint.created_at + timedelta(days=cat.resolution_days)

    def rate(self, complaint: Complaint, rating: int) -> ComplaintEvent:
        if not 1 <= rating <= 5:
            raise ComplaintError("a rating is a whole number from 1 to 5")
        complaint.rating = rating
        event = ComplaintEvent(complaint_id=complaint.id, kind="rating", note=str(rating),
                               actor="citizen", created_at=utcnow())
        self.s.add(event)
        return event

    def closed_at(self, complaint: Complaint) -> datetime | None:
        """When the complaint last became Selesai (None if it is not Selesai)."""
        if complaint.status != "selesai":
            return None
        return self.s.scalar(select(ComplaintEvent.created_at).where(
            ComplaintEvent.complaint_id == complaint.id, ComplaintEvent.kind == "status",
            ComplaintEvent.to_status == "selesai").order_by(ComplaintEvent.id.desc()).limit(1))

    def reopen(self, complaint: Complaint) -> ComplaintEvent | None:
        """The citizen says it is not fixed: back to the first status after Selesai.

        Returns None when the reopen period (complaints.reopen_days) has passed.
        """
        closed = self.closed_at(complaint)
        if closed is None or utcnow() - closed > timedelta(days=self.settings.reopen_days):
            return None
        nexts = self.settings.transitions.get(complaint.status, ())
        if not nexts:
            return None
        return self.change_status(complaint, nexts[0], actor="citizen",
                                  note="Dibuka kembali oleh warga: masalah belum beres.")

    def overdue(self, complaint: Complaint, now: datetime | None = None) -> bool:
        return complaint.due_at is not None and complaint.due_at < (now or utcnow())

    def by_ticket(self, ticket: str) -> Complaint | None:
        return self.s.scalars(select(Complaint).where(Complaint.ticket == ticket.upper())).first()

    def change_status(self, complaint: Complaint, to_status: str, actor: str,
                      note: str | None = None, staff_user_id: int | None = None) -> ComplaintEvent:
        allowed = self.settings.transitions.get(complaint.status, ())
        if to_status not in allowed:
            raise ComplaintError(f"{complaint.ticket}: cannot go from {complaint.status} to {to_status}")
        now = utcnow()
        event = ComplaintEvent(complaint_id=complaint.id, kind="status", from_status=complaint.status,
                               to_status=to_status, note=note, actor=actor,
                               staff_user_id=staff_user_id, created_at=now)
        complaint.status = to_status
        complaint.updated_at = now
        if to_status in CLOSED or not self.settings.transitions.get(to_status):
            complaint.due_at = None
        else:
            # Once coordinated, the clock that matters is the resolution deadline; a reopened
            # complaint gets a fresh one.
            due = self.resolution_due(complaint)
            if due < now:
                due = now + timedelta(days=self.category(complaint.category).resolution_days)
            complaint.due_at = due
        self.s.add(event)
        return event
