"""Days in the console's filters: ``from``/``to`` written YYYY-MM-DD in the city's calendar.

The inbox and the transcripts read the same two query arguments the same way
(:func:`day_range`) and turn them into the instants a stored time is compared with
(:func:`day_span`: from the first day's midnight in the city's zone up to, not including,
the midnight after the last day). A value they cannot use is a
:class:`~bot.casework.filter_refusal.FilterRefused`, worded by the page in the console's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.casework.filter_refusal import FilterRefused

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(value: str, name: str) -> date:
    """A day written YYYY-MM-DD, between the years 1900 and 2999 (beyond them, converting the
    day's midnight to UTC would overflow: a 400, not a 500)."""
    if not _DAY.fullmatch(value):
        raise FilterRefused(name, "day_format", value=repr(value[:30]))
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise FilterRefused(name, "not_a_day", value=repr(value)) from None
    if not 1900 <= day.year <= 2999:
        raise FilterRefused(name, "day_too_far", value=repr(value))
    return day


def day_range(args: Mapping[str, str], first: str = "from", last: str = "to") -> tuple[date | None, date | None]:
    """The first and last day of a filter (either may be left out), the first not after the last."""
    days = []
    for name in (first, last):
        value = (args.get(name) or "").strip()
        days.append(parse_day(value, name) if value else None)
    start, end = days
    if start and end and start > end:
        raise FilterRefused(first, "days_reversed")
    return start, end


def day_start(day: date, zone: str) -> datetime:
    """The instant the city's calendar day begins (aware, in UTC)."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def day_span(first: date | None, last: date | None, zone: str) -> tuple[datetime | None, datetime | None]:
    """The instants ``[start, end)`` covering the days ``first`` to ``last`` in the city's zone
    (None where the filter left that end open)."""
    return (day_start(first, zone) if first else None,
            day_start(last + timedelta(days=1), zone) if last else None)
