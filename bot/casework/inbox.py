"""Finding the work: the inbox's filter, read from a query string, and the scoped queries it runs.

The console's inbox, its CSV export and the benchmark (bench/inbox.py) all go through here, so
what a filter means is decided once. Every query starts from `Viewer`: staff see their agency's
complaints only, whatever the query string says.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Select,
    and_,
    any_,
    case,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    union,
)
from sqlalchemy.orm import Session

from bot.casework import days
from bot.casework.complaints import CLOSED
from bot.casework.filter_refusal import FilterRefused
from bot.store import text_search
from bot.store.models import Complaint, Contact, ContactAddress

PAGE_SIZE = 50
Ts = TypeVarTuple("Ts")
#: The newest first is the default: what arrived last is what nobody has looked at yet.
SORTS: tuple[str, ...] = ("newest", "oldest", "due", "late")
ASSIGNED: tuple[str, ...] = ("me", "none")
#: A ticket typed whole is looked up by its unique index, not by scanning every description.
WHOLE_TICKET = re.compile(r"[A-Za-z]{2,6}-\d{4}-\d{6}")
MAX_PAGE = 1_000_000
MAX_QUERY = 200


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: their id (for "assigned to me") and the one agency they may see (None: all)."""

    user_id: int
    agency: str | None


@dataclass(frozen=True, slots=True)
class Choices:
    """The values a filter may take, from the settings (statuses, categories, agencies, channels)."""

    statuses: tuple[str, ...]
    categories: tuple[str, ...]
    agencies: tuple[str, ...]
    channels: tuple[str, ...]

    @property
    def open_statuses(self) -> tuple[str, ...]:
        return tuple(s for s in self.statuses if s not in CLOSED)


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """What a person asked the inbox for; every field empty/False means "everything I may see"."""

    status: str = ""
    category: str = ""
    agency: str = ""
    channel: str = ""
    created_from: date | None = None     # a day in the city's zone, inclusive
    created_to: date | None = None       # inclusive
    overdue: bool = False
    assigned: str = ""                   # "" | "me" | "none"
    q: str = ""
    sort: str = "newest"
    page: int = 1

    def query_args(self, **changes: Any) -> dict[str, str]:
        """The query string of this filter (only what is set), for page links and the export."""
        args: dict[str, str] = {
            "status": self.status, "category": self.category, "agency": self.agency,
            "channel": self.channel,
            "from": self.created_from.isoformat() if self.created_from else "",
            "to": self.created_to.isoformat() if self.created_to else "",
            "overdue": "1" if self.overdue else "", "assigned": self.assigned, "q": self.q,
            "sort": "" if self.sort == "newest" else self.sort,
            "page": "" if self.page == 1 else str(self.page)}
        args.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in args.items() if v and not (k == "page" and v == "1")}

    def described(self) -> dict[str, str]:
        """The filter without the page, as recorded with an export."""
        return {k: v for k, v in self.query_args().items() if k != "page"}


def _one_of(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = (args.get(name) or "").strip()
    if value and value not in allowed:
        raise FilterRefused(name, "unknown_value", value=repr(value[:60]))
    return value


def parse_filter(args: Mapping[str, str], choices: Choices) -> InboxFilter:
    """Read the inbox's query string; raises FilterRefused for anything it cannot use."""
    page_raw = (args.get("page") or "1").strip()
    # ASCII digits only ("²".isdigit() is True) and bounded, so int() and OFFSET stay sane.
    if not re.fullmatch(r"[0-9]{1,7}", page_raw) or not 1 <= int(page_raw) <= MAX_PAGE:
        raise FilterRefused("page", "page_number")
    overdue_raw = (args.get("overdue") or "").strip()
    if overdue_raw not in ("", "0", "1"):
        raise FilterRefused("overdue", "one_or_nothing")
    q = (args.get("q") or "").strip()
    if len(q) > MAX_QUERY:
        raise FilterRefused("q", "too_long", limit=MAX_QUERY)
    created_from, created_to = days.day_range(args)
    return InboxFilter(
        status=_one_of(args, "status", choices.statuses),
        category=_one_of(args, "category", choices.categories),
        agency=_one_of(args, "agency", choices.agencies),
        channel=_one_of(args, "channel", choices.channels),
        created_from=created_from, created_to=created_to, overdue=overdue_raw == "1",
        assigned=_one_of(args, "assigned", ASSIGNED), q=q,
        sort=_one_of(args, "sort", SORTS) or "newest", page=int(page_raw))


def visible(stmt: Select[*Ts], viewer: Viewer) -> Select[*Ts]:
    """Only the complaints this person may see."""
    return stmt if viewer.agency is None else stmt.where(Complaint.agency == viewer.agency)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _words(q: str, dialect: str) -> Any:
    """The ids of complaints whose ticket, description or location contains ``q`` (any case):
    on SQLite through the FTS5 trigram index (bot/store/text_search.py) for terms of 3 characters
    or more; shorter terms (too short for a trigram), or another database, with LIKE."""
    if dialect == "sqlite" and len(q) >= text_search.MIN_TERM:
        # A quoted FTS5 string is one phrase: the trigram index finds it as a substring, exactly
        # what LIKE '%q%' finds (operators and wildcards inside are plain characters).
        fts = table(text_search.FTS_TABLE, column("rowid"))
        phrase = '"' + q.replace('"', '""') + '"'
        return select(fts.c.rowid).where(literal_column(text_search.FTS_TABLE).match(phrase))
    like = _like(q)
    return select(Complaint.id).where(or_(Complaint.ticket.ilike(like, escape="\\"),
                                          Complaint.description.ilike(like, escape="\\"),
                                          Complaint.location_text.ilike(like, escape="\\")))


def _search(q: str, dialect: str) -> Any:
    if WHOLE_TICKET.fullmatch(q):
        return Complaint.ticket == q.upper()
    like = _like(q)
    digits = re.sub(r"[^0-9]", "", q)
    contacts = [select(Contact.id).where(or_(Contact.name.ilike(like, escape="\\"),
                                             Contact.phone.ilike(like, escape="\\"))),
                select(ContactAddress.contact_id).where(ContactAddress.urn.ilike(like, escape="\\"))]
    if len(digits) >= 8:     # a phone number, not a ticket's digits
        # "0812-3456 7890" finds +6281234567890: people type numbers with spaces, dashes and a
        # leading 0 where the stored number has the country code.
        tail = _like(digits[1:] if digits.startswith("0") else digits)
        contacts.append(select(Contact.id).where(Contact.phone.like(tail, escape="\\")))
    contact_ids = union(*contacts).subquery()
    if dialect == "postgresql":
        # The trigram indexes (bot/store/text_search.py) serve ILIKE as it is (a term under 3
        # characters reads every row). A flat OR of conditions each served by an index:
        # PostgreSQL ORs their bitmaps, counts from one heap scan and walks the id index for a
        # page. The matching contacts are found first (an InitPlan) and compared as an array,
        # which the contact_id index serves (the cast: ANY over a bare sub-select would compare
        # with each row, not with the array).
        ids = select(func.array_agg(contact_ids.c[0])).correlate(None).scalar_subquery()
        return or_(Complaint.ticket.ilike(like, escape="\\"), Complaint.description.ilike(like, escape="\\"),
                   Complaint.location_text.ilike(like, escape="\\"),
                   Complaint.contact_id == any_(cast(ids, ARRAY(BigInteger))))
    # SQLite: one set of ids, not an OR of conditions: it then reads the FTS index once and walks
    # the set in id order for a page (an OR makes it sort every match; bench/inbox.py).
    # correlate(None): the export joins contacts too; these subqueries must stay independent.
    found = union(_words(q, dialect), select(Complaint.id).where(Complaint.contact_id.in_(select(contact_ids.c[0]))))
    return Complaint.id.in_(select(found.subquery().c[0]).correlate(None))


def filtered(f: InboxFilter, viewer: Viewer, choices: Choices, now: datetime, zone: str,
             dialect: str = "") -> Select[Complaint]:
    """SELECT the complaints the filter asks for, among those the viewer may see (unsorted).

    ``dialect``: the database's name (``sqlite`` / ``postgresql``), for its word-search index;
    another one searches with plain LIKE.
    """
    stmt = visible(select(Complaint), viewer)
    if f.status:
        stmt = stmt.where(Complaint.status == f.status)
    if f.category:
        stmt = stmt.where(Complaint.category == f.category)
    if f.agency:
        stmt = stmt.where(Complaint.agency == f.agency)
    if f.channel:
        stmt = stmt.where(Complaint.channel == f.channel)
    start, end = days.day_span(f.created_from, f.created_to, zone)
    if start:
        stmt = stmt.where(Complaint.created_at >= start)
    if end:
        stmt = stmt.where(Complaint.created_at < end)
    if f.overdue:
        stmt = stmt.where(overdue_clause(choices, now))
    if f.assigned == "me":
        stmt = stmt.where(Complaint.assigned_to_id == viewer.user_id)
    elif f.assigned == "none":
        stmt = stmt.where(Complaint.assigned_to_id.is_(None))
    if f.q:
        stmt = stmt.where(_search(f.q, dialect))
    return stmt


def overdue_clause(choices: Choices, now: datetime) -> Any:
    # "status IN (open ones)" rather than "NOT IN (closed)": both databases range-scan the
    # (status, due_at) index once per open status.
    return and_(Complaint.status.in_(choices.open_statuses), Complaint.due_at < now)


def ordered(stmt: Select[Complaint], sort: str, now: datetime, *, all_due: bool = False) -> Select[Complaint]:
    """Sort: newest / oldest by filing order (the id), due soonest, most overdue.

    ``all_due``: every row has a due time (the overdue filter); ordering by due_at alone then
    lets both databases walk the due_at index and stop after a page.
    """
    if sort == "oldest":
        return stmt.order_by(Complaint.id.asc())
    if sort == "due":
        # What is still on time and due next first; the late ones after them, then closed ones.
        late = case((Complaint.due_at < now, 1), else_=0)
        return stmt.order_by(Complaint.due_at.is_(None), late, Complaint.due_at.asc(), Complaint.id)
    if sort == "late":
        if all_due:
            return stmt.order_by(Complaint.due_at.asc(), Complaint.id)
        return stmt.order_by(Complaint.due_at.is_(None), Complaint.due_at.asc(), Complaint.id)
    return stmt.order_by(Complaint.id.desc())


@dataclass(frozen=True, slots=True)
class Counts:
    """Complaints per status, and how many are overdue, among those the viewer may see."""

    by_status: Mapping[str, int]
    overdue: int

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def counts(session: Session, viewer: Viewer, choices: Choices, now: datetime) -> Counts:
    """Count now (every complaint the viewer may see is read from an index: O(rows))."""
    by_status: dict[str, int] = dict(session.execute(visible(select(Complaint.status, func.count()), viewer)
                                                     .group_by(Complaint.status)).all())
    overdue = session.scalar(visible(select(func.count()).select_from(Complaint), viewer)
                             .where(overdue_clause(choices, now))) or 0
    return Counts(by_status, overdue)


def last_change(session: Session) -> tuple[Any, ...]:
    """What changes whenever a complaint is filed or changed: the newest id and the newest
    updated_at (every ORM update sets it). Two index look-ups, whatever the table's size."""
    # Two scalar subqueries: SQLite reads a max() from its index only when it is alone in a query.
    newest_id = select(func.max(Complaint.id)).scalar_subquery()
    newest_change = select(func.max(Complaint.updated_at)).scalar_subquery()
    return tuple(session.execute(select(newest_id, newest_change)).one())


class CountsCache:
    """The per-status counts of each scope (all agencies, or one), kept until a complaint changes.

    Measured with 200,000 complaints (bench/inbox.py): counting them per status reads every
    index entry, 40-90 ms on SQLite, most of an inbox request; nearly all are closed and never
    change. A cached count is used while `last_change` is the same and it is younger than
    `max_age` (overdue counts grow as time passes; and another server's clock may lag behind,
    so a change it stamps earlier than the newest is seen within `max_age` at most).
    """

    def __init__(self, max_age: timedelta = timedelta(seconds=60)) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._kept: dict[str | None, tuple[tuple[Any, ...], datetime, Counts]] = {}

    def get(self, session: Session, viewer: Viewer, choices: Choices, now: datetime) -> Counts:
        token = last_change(session)
        with self._lock:
            kept = self._kept.get(viewer.agency)
        if kept is not None and kept[0] == token and timedelta(0) <= now - kept[1] < self.max_age:
            return kept[2]
        fresh = counts(session, viewer, choices, now)
        with self._lock:
            self._kept[viewer.agency] = (token, now, fresh)
        return fresh


@dataclass(frozen=True, slots=True)
class Page:
    rows: tuple[Complaint, ...]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max((self.total + PAGE_SIZE - 1) // PAGE_SIZE, 1)


def _only_status_filter(f: InboxFilter) -> bool:
    return not (f.category or f.agency or f.channel or f.created_from or f.created_to or f.overdue
                or f.assigned or f.q)


def page_of(session: Session, f: InboxFilter, viewer: Viewer, choices: Choices, now: datetime,
            zone: str, known: Counts | None = None) -> Page:
    """One page of the filtered inbox and how many match in all."""
    stmt = filtered(f, viewer, choices, now, zone, session.get_bind().dialect.name)
    if known is not None and _only_status_filter(f):
        # The per-status counts already answer "how many": no second count of the same rows.
        total = known.by_status.get(f.status, 0) if f.status else known.total
    elif known is not None and f == InboxFilter(overdue=True, sort=f.sort, page=f.page):
        total = known.overdue
    else:
        total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    page = ordered(stmt, f.sort, now, all_due=f.overdue).offset((f.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    rows = session.scalars(page).all()
    return Page(tuple(rows), total, f.page)


#: The lateness words per language: (late, day, hour, minute) with {n} for the amount.
LATE_WORDS: dict[str, tuple[str, str, str, str]] = {
    "id": ("terlambat", "{n} hari", "{n} jam", "{n} menit"),
    "en": ("late by", "{n}d", "{n}h", "{n}m"),
}


def late_by(due: datetime | None, now: datetime, lang: str = "id") -> str:
    """How late a complaint is, in words staff read at a glance: "terlambat 2 hari 3 jam"
    ("late by 2d 3h" in English)."""
    if due is None or due >= now:
        return ""
    late, day, hour, minute = LATE_WORDS.get(lang, LATE_WORDS["id"])
    minutes = int((now - due).total_seconds() // 60)
    whole_days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if whole_days:
        parts = [day.format(n=whole_days)] + ([hour.format(n=hours)] if hours else [])
    elif hours:
        parts = [hour.format(n=hours)] + ([minute.format(n=mins)] if mins else [])
    else:
        parts = [minute.format(n=max(mins, 1))]
    return " ".join([late, *parts])
