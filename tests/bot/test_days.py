"""The days of the console's filters: the inbox and the transcripts read ``from``/``to`` alike."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.casework import inbox, transcripts
from bot.casework.days import day_span

CHANNELS = ("telegram", "web")
CHOICES = inbox.Choices(statuses=(), categories=(), agencies=(), channels=CHANNELS)


def _inbox(args: dict[str, str]) -> tuple[date | None, date | None]:
    f = inbox.parse_filter(args, CHOICES)
    return f.created_from, f.created_to


def _transcripts(args: dict[str, str]) -> tuple[date | None, date | None]:
    f = transcripts.parse_filter(args, CHANNELS)
    return f.date_from, f.date_to


@pytest.mark.parametrize("read", [_inbox, _transcripts], ids=["inbox", "transcripts"])
def test_both_pages_read_the_same_days(read):
    assert read({}) == (None, None)
    assert read({"from": " 2026-11-01 ", "to": ""}) == (date(2026, 11, 1), None)
    assert read({"from": "2026-11-01", "to": "2026-11-01"}) == (date(2026, 11, 1), date(2026, 11, 1))


@pytest.mark.parametrize("args, message", [
    ({"from": "20261101"}, "from: a date is written YYYY-MM-DD"),
    ({"to": "31/12/2026"}, "to: a date is written YYYY-MM-DD"),
    ({"from": "2026-13-01"}, "from: '2026-13-01' is not a date"),
    ({"from": "0001-01-01"}, "too far from today"),
    ({"from": "2026-11-02", "to": "2026-11-01"}, "from: the first day comes after the last day"),
])
def test_both_pages_refuse_the_same_days_with_the_same_words(args, message):
    with pytest.raises(inbox.FilterError, match=message):
        _inbox(args)
    with pytest.raises(transcripts.BadFilter, match=message):
        _transcripts(args)


def test_a_span_is_the_citys_calendar_days():
    start, end = day_span(date(2026, 11, 1), date(2026, 11, 2), "Asia/Jakarta")
    assert (start, end) == (datetime(2026, 10, 31, 17, tzinfo=UTC), datetime(2026, 11, 2, 17, tzinfo=UTC))
    assert day_span(None, None, "Asia/Jakarta") == (None, None)
