"""Times as people in the city read them: in `city.timezone`, with the zone's own abbreviation.

Everything is stored in UTC; staff and citizens are told WIB (or WITA, WIT). The console's
templates and the CLI format through here so the two never disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

DATE_TIME = "%d-%m-%Y %H:%M"
SHORT = "%d-%m %H:%M"
WITH_SECONDS = "%d-%m %H:%M:%S"


def local(at: datetime | None, zone: str, fmt: str = DATE_TIME, *, with_zone: bool = True) -> str:
    """`at` in the city's zone, e.g. "29-11-2026 10:22 WIB"; "-" for no time."""
    if at is None:
        return "-"
    if at.tzinfo is None:    # naive values from older rows are UTC
        at = at.replace(tzinfo=UTC)
    shown = at.astimezone(ZoneInfo(zone))
    text = shown.strftime(fmt)
    return f"{text} {shown.tzname()}" if with_zone else text
