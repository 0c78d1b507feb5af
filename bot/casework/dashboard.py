"""The dashboard's figures: what came in, what is open, how fast and how well it was handled.

Everything is scoped by `bot.casework.inbox.Viewer` (staff: their agency's complaints, and the
messages of conversations that filed one) and by a period of whole days in the city's zone.
Aggregates the databases disagree on (days in a time zone, medians, JSON fields) are computed
here in Python over the period's rows, so SQLite and PostgreSQL give the same answer.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.casework.complaints import CLOSED
from bot.casework.inbox import Viewer, visible
from bot.store.models import Complaint, ComplaintEvent, Message

#: Intents that mean the bot did not understand, whatever their confidence.
FALLBACK_INTENTS = frozenset({"nlu_fallback", "out_of_scope", "not_understood"})
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Period:
    """Whole days in the city's zone, both ends included."""

    first: date
    last: date
    zone: str

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError("the first day comes after the last day")
        if (self.last - self.first).days >= MAX_DAYS:
            raise ValueError(f"a period is at most {MAX_DAYS} days")

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=ZoneInfo(self.zone))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=ZoneInfo(self.zone))

    @property
    def days(self) -> tuple[date, ...]:
        return tuple(self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1))

    def day_of(self, at: datetime) -> date:
        return at.astimezone(ZoneInfo(self.zone)).date()


@dataclass(frozen=True, slots=True)
class AgencySla:
    agency: str
    resolved: int
    within_sla: int
    median_hours: float | None

    @property
    def share(self) -> float | None:
        return self.within_sla / self.resolved if self.resolved else None


@dataclass(frozen=True, slots=True)
class Figures:
    period: Period
    filed: int
    per_day: Mapping[str, tuple[int, ...]]              # category -> count per day of the period
    open_by_agency: Mapping[str, Mapping[str, int]]     # agency -> status -> open complaints (now)
    sla: tuple[AgencySla, ...]
    median_hours: float | None                          # filed -> Selesai, over the period
    channels: Mapping[str, int]
    ratings: tuple[int, int, int, int, int]             # how many 1, 2, 3, 4, 5 stars
    messages: int
    not_understood: int

    @property
    def average_rating(self) -> float | None:
        n = sum(self.ratings)
        return sum((i + 1) * k for i, k in enumerate(self.ratings)) / n if n else None

    @property
    def not_understood_share(self) -> float | None:
        return self.not_understood / self.messages if self.messages else None


def understood(nlu: Mapping[str, object] | None, threshold: float) -> bool:
    if not nlu:
        return False
    intent = nlu.get("intent")
    confidence = nlu.get("confidence")
    if not isinstance(intent, str) or intent in FALLBACK_INTENTS:
        return False
    return isinstance(confidence, int | float) and confidence >= threshold


def figures(session: Session, viewer: Viewer, period: Period, resolution_days: Mapping[str, float],
            threshold: float) -> Figures:
    """The dashboard for `viewer` over `period`; `resolution_days` is each category's SLA."""
    start, end = period.start, period.end
    in_period = (Complaint.created_at >= start, Complaint.created_at < end)
    index = {day: i for i, day in enumerate(period.days)}
    per_day: dict[str, list[int]] = defaultdict(lambda: [0] * len(index))
    channels: Counter[str] = Counter()
    ratings = [0] * 5
    filed = 0
    for created, category, channel, rating in session.execute(visible(select(
            Complaint.created_at, Complaint.category, Complaint.channel, Complaint.rating), viewer)
            .where(*in_period)):
        filed += 1
        day = index.get(period.day_of(created))
        if day is not None:
            per_day[category][day] += 1
        channels[channel] += 1
        if rating is not None and 1 <= rating <= 5:
            ratings[rating - 1] += 1

    open_by_agency: dict[str, dict[str, int]] = defaultdict(dict)
    for agency, status, n in session.execute(visible(select(
            Complaint.agency, Complaint.status, func.count()), viewer)
            .where(Complaint.status.not_in(CLOSED)).group_by(Complaint.agency, Complaint.status)):
        open_by_agency[agency][status] = n

    # Resolved in the period: the last time each complaint became Selesai, if that was in it.
    closed_at = (select(ComplaintEvent.complaint_id, func.max(ComplaintEvent.created_at).label("at"))
                 .where(ComplaintEvent.kind == "status", ComplaintEvent.to_status == "selesai")
                 .group_by(ComplaintEvent.complaint_id).subquery())
    hours: dict[str, list[float]] = defaultdict(list)
    within: Counter[str] = Counter()
    for agency, category, created, at in session.execute(visible(select(
            Complaint.agency, Complaint.category, Complaint.created_at, closed_at.c.at)
            .join(closed_at, closed_at.c.complaint_id == Complaint.id), viewer)
            .where(Complaint.status == "selesai", closed_at.c.at >= start, closed_at.c.at < end)):
        took = (at - created).total_seconds() / 3600
        hours[agency].append(took)
        if took <= resolution_days.get(category, 7.0) * 24:
            within[agency] += 1
    sla = tuple(AgencySla(agency, len(h), within[agency], statistics.median(h))
                for agency, h in sorted(hours.items()))
    every = [x for h in hours.values() for x in h]

    messages = select(Message.nlu).where(Message.direction == "in", Message.kind == "message",
                                         Message.created_at >= start, Message.created_at < end)
    if viewer.agency is not None:
        messages = messages.where(Message.conversation_id.in_(
            select(Complaint.conversation_id).where(Complaint.agency == viewer.agency)))
    total = missed = 0
    for (nlu,) in session.execute(messages):
        total += 1
        missed += not understood(nlu, threshold)

    return Figures(
        period=period, filed=filed, per_day={k: tuple(v) for k, v in sorted(per_day.items())},
        open_by_agency={k: dict(v) for k, v in sorted(open_by_agency.items())}, sla=sla,
        median_hours=statistics.median(every) if every else None,
        channels=dict(channels.most_common()),
        ratings=(ratings[0], ratings[1], ratings[2], ratings[3], ratings[4]),
        messages=total, not_understood=missed)
