"""Telegram failures map to SendFailure kinds."""

from __future__ import annotations

from typing import Any

import pytest

from channels.base import OutboundMessage, SendError, SendFailure
from channels.telegram import TelegramChannel, TelegramConfig
from tests.channels.telegram.support import config, out, sentences
from tests.fakes.fake_telegram import FakeTelegram

# -- errors --------------------------------------------------------------------------------

ERRORS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("429", dict(status=429, description="Too Many Requests: retry after 7", retry_after=7),
     dict(retryable=True, retry_after=7.0, code="429", kind=SendFailure.throttled)),
    ("403-blocked", dict(status=403, description="Forbidden: bot was blocked by the user"),
     dict(retryable=False, kind=SendFailure.contact_unreachable, code="403")),
    ("403-deactivated", dict(status=403, description="Forbidden: user is deactivated"),
     dict(retryable=False, kind=SendFailure.contact_unreachable)),
    # Not every 403 means the citizen left (courier PR 688).
    ("403-cannot-initiate", dict(status=403, description="Forbidden: bot can't initiate conversation with a user"),
     dict(retryable=False, kind=SendFailure.permanent)),
    ("400", dict(status=400, description="Bad Request: chat not found"),
     dict(retryable=False, kind=SendFailure.permanent, code="400")),
    ("400-migrated", dict(status=400, description="Bad Request: group chat was upgraded to a supergroup chat",
                          migrate_to_chat_id=-1001234567890),
     dict(retryable=False, code="chat_migrated")),
    ("500", dict(status=500, description="Internal Server Error"),
     dict(retryable=True, outcome_unknown=False, kind=SendFailure.retry_later)),
]


@pytest.mark.parametrize("label, fail, expected", ERRORS, ids=[e[0] for e in ERRORS])
def test_send_errors_are_mapped(channel: TelegramChannel, fake_telegram: FakeTelegram, label: str,
                                fail: dict[str, Any], expected: dict[str, Any]) -> None:
    fake_telegram.fail("sendMessage", **fail)
    with pytest.raises(SendError) as err:
        channel.send(out("Halo"))
    for attr, value in expected.items():
        assert getattr(err.value, attr) == value, attr


@pytest.mark.filterwarnings("error")
def test_429_maps_even_with_warnings_as_errors(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    # Without PTB_TIMEDELTA, PTB 22 builds RetryAfter with a deprecation warning, which
    # "filterwarnings = error" turns into the exception instead of RetryAfter (notes §3).
    fake_telegram.fail("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(SendError) as err:
        channel.send(out("Halo"))
    assert err.value.retryable and err.value.retry_after == 3.0


def test_html_502_is_retryable_and_not_sent(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_html("sendMessage", 502)
    with pytest.raises(SendError) as err:
        channel.send(out("Halo"))
    assert err.value.retryable and not err.value.outcome_unknown and err.value.code == "network"


def test_read_timeout_is_retryable_with_unknown_outcome(fake_telegram: FakeTelegram) -> None:
    fake_telegram.delay("sendMessage", 1.5)
    with TelegramChannel(config(fake_telegram, read_timeout=0.3)) as channel, pytest.raises(SendError) as err:
        channel.send(out("Halo"))
    assert err.value.retryable and err.value.outcome_unknown and err.value.code == "timeout"


def test_connection_refused_is_retryable_and_known_unsent() -> None:
    with TelegramChannel(config(None)) as channel, pytest.raises(SendError) as err:
        channel.send(out("Halo"))
    assert err.value.retryable and not err.value.outcome_unknown


def test_a_wrong_token_is_not_retryable(fake_telegram: FakeTelegram) -> None:
    cfg = TelegramConfig(token="999:WRONG", api_base_url=fake_telegram.url)
    with TelegramChannel(cfg) as channel, pytest.raises(SendError) as err:
        channel.send(out("Halo"))
    assert not err.value.retryable and err.value.code == "401"


def test_a_failed_part_reports_progress_and_a_retry_resumes_after_it(
        channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    message = out(sentences(150))
    parts = [dict(p.args)["text"] for p in channel.plan(message)]
    assert len(parts) == 3
    fake_telegram.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, after=1)
    with pytest.raises(SendError) as err:
        channel.send(message)
    assert err.value.parts_sent == 1 and err.value.sent_ids == ("3527065:1001",)
    retry = OutboundMessage(**{**{f: getattr(message, f) for f in message.__slots__},
                               "resume_from": err.value.parts_sent})
    result = channel.send(retry)
    attempts = [c.params["text"] for c in fake_telegram.calls("sendMessage")]
    # Part 1 went out once; part 2 was refused with 429 (not delivered) and then sent once.
    assert attempts == [parts[0], parts[1], parts[1], parts[2]]
    assert len(result.provider_message_ids) == 2
