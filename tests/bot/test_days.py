"""The days of the console's filters: the inbox and the transcripts read ``from``/``to`` alike."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.casework import inbox, transcripts
from bot.casework.days import day_span
from bot.casework.filter_refusal import FilterRefused

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


@pytest.mark.parametrize("args, param, reason", [
    ({"from": "20261101"}, "from", "day_format"),
    ({"to": "31/12/2026"}, "to", "day_format"),
    ({"from": "2026-13-01"}, "from", "not_a_day"),
    ({"from": "0001-01-01"}, "from", "day_too_far"),
    ({"from": "2026-11-02", "to": "2026-11-01"}, "from", "days_reversed"),
])
def test_both_pages_refuse_the_same_days_for_the_same_reason(args, param, reason):
    for read in (_inbox, _transcripts):
        with pytest.raises(FilterRefused) as refused:
            read(args)
        assert (refused.value.param, refused.value.reason) == (param, reason), read


def test_a_span_is_the_citys_calendar_days():
    start, end = day_span(date(2026, 11, 1), date(2026, 11, 2), "Asia/Jakarta")
    assert (start, end) == (datetime(2026, 10, 31, 17, tzinfo=UTC), datetime(2026, 11, 2, 17, tzinfo=UTC))
    assert day_span(None, None, "Asia/Jakarta") == (None, None)
