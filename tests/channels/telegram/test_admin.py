"""Telegram set-up calls and polling."""

from __future__ import annotations

import json

import pytest

from channels.base import InboundMessage, SendError, Unparseable
from channels.telegram import POLLING_URL, TelegramChannel
from tests.channels.telegram.support import HOOK, PAYLOADS, SECRET, at, config
from tests.fakes.fake_telegram import FakeTelegram


def test_set_webhook_sends_url_secret_and_allowed_updates(channel: TelegramChannel,
                                                          fake_telegram: FakeTelegram) -> None:
    channel.set_webhook(HOOK)
    [call] = fake_telegram.calls("setWebhook")
    assert call.params["url"] == HOOK
    assert call.params["secret_token"] == SECRET
    assert call.json_param("allowed_updates") == ["message", "edited_message", "channel_post",
                                                  "callback_query", "my_chat_member"]
    assert call.params["max_connections"] == "40"
    info = channel.get_webhook_info()
    assert info.url == HOOK and info.pending_update_count == 0
    channel.delete_webhook(drop_pending_updates=True)
    assert fake_telegram.calls("deleteWebhook")[0].params == {"drop_pending_updates": "true"}
    assert channel.get_webhook_info().url == ""


def test_set_webhook_refuses_bad_input_before_calling(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    with pytest.raises(ValueError):
        channel.set_webhook("http://warga.example.go.id/webhooks/telegram")
    with pytest.raises(ValueError):
        channel.set_webhook(HOOK, secret="has spaces")
    assert fake_telegram.calls() == []


def test_webhook_info_reports_the_last_error(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    fake_telegram.webhook_info_extra = {"url": HOOK, "pending_update_count": 3500,
                                        "last_error_date": 1732781000,
                                        "last_error_message": "Wrong response from the webhook: 500"}
    info = channel.get_webhook_info()
    assert info.pending_update_count == 3500
    assert info.last_error_date == at(1732781000)
    assert info.last_error_message == "Wrong response from the webhook: 500"


def test_get_me_checks_the_token(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    assert channel.get_me() == (123456, "warga_test_bot")


# -- polling -------------------------------------------------------------------------------

def test_polling_returns_raw_updates_for_the_same_parse_path(channel: TelegramChannel,
                                                             fake_telegram: FakeTelegram) -> None:
    good = json.loads((PAYLOADS / "text.json").read_text())
    bad = json.loads((PAYLOADS / "message_without_chat.json").read_text())   # no chat to answer
    fake_telegram.push_update(good)
    fake_telegram.push_update(bad)
    requests, offset = channel.poll_updates(None, timeout=0)
    assert offset == 731245026
    assert [r.url for r in requests] == [POLLING_URL, POLLING_URL]
    items = [channel.parse_inbound(r)[0] for r in requests]
    assert isinstance(items[0], InboundMessage) and items[0].external_id == "731245001:3527065:41"
    assert isinstance(items[1], Unparseable)        # stored raw; it does not block the next poll
    call = fake_telegram.calls("getUpdates")[0]
    assert call.params["timeout"] == "0" and "offset" not in call.params
    assert call.json_param("allowed_updates")[0] == "message"

    requests, next_offset = channel.poll_updates(offset, timeout=0)
    assert requests == [] and next_offset == offset
    assert fake_telegram.calls("getUpdates")[1].params["offset"] == str(offset)


def test_polling_while_a_webhook_is_set_is_a_409(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    channel.set_webhook(HOOK)
    with pytest.raises(SendError) as err:
        channel.poll_updates(None, timeout=0)
    assert err.value.code == "409" and not err.value.retryable


def test_polling_maps_429_and_network_errors(fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail("getUpdates", 429, "Too Many Requests: retry after 5", retry_after=5)
    with TelegramChannel(config(fake_telegram)) as channel, pytest.raises(SendError) as err:
        channel.poll_updates(None, timeout=0)
    assert err.value.retryable and err.value.retry_after == 5.0
    with TelegramChannel(config(None)) as channel, pytest.raises(SendError) as err:
        channel.poll_updates(None, timeout=0)
    assert err.value.retryable
