"""bot.pipeline.polling.TelegramPoller against the fake Bot API: the machine without a public URL.

Each polled batch goes through the same store path as the webhook (stored, committed, then
confirmed by the next poll's offset); a malformed update is stored as unparseable and never
blocks the ones behind it; a batch delivered again after a crash stores and sends nothing
new; a webhook still set (409) is logged with the command that fixes it, and polling goes on.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bot.pipeline.polling import TelegramPoller
from bot.store.models import Message
from channels.base import SendError
from tests.bot.world import SITI_CHAT, SQLITE_ONLY, TELEGRAM, World
from tests.providers import PUBLIC_URL
from tests.support import wait_for


def payload(name: str, update_id: int) -> dict[str, Any]:
    data = json.loads((TELEGRAM / name).read_text())
    data["update_id"] = update_id
    return data


@pytest.fixture
def poller(world: World) -> Iterator[TelegramPoller]:
    # timeout=0: getUpdates answers at once when nothing is queued (no long poll in tests).
    yield TelegramPoller(world.rt, world.rt.channels["telegram"], timeout=0)


def test_poll_once_stores_replies_and_confirms_with_the_offset(world: World, poller: TelegramPoller) -> None:
    tg = world.fakes.telegram
    tg.push_update(payload("text.json", 100))
    tg.push_update(payload("callback_query.json", 101))

    assert poller.poll_once() == 2
    first = tg.calls("getUpdates")[0].params
    assert "offset" not in first and first["timeout"] == "0"
    assert json.loads(first["allowed_updates"]) == ["message", "edited_message", "channel_post",
                                                    "callback_query", "my_chat_member"]
    text, button = world.messages(Message.direction == "in")
    assert text.external_id == "100:3527065:41" and text.text.startswith("Jalan di depan rumah")
    assert button.button_payload == "category:jalan_rusak"
    # The button press is acknowledged, and both messages are answered by the workers.
    assert wait_for(lambda: [c.params["callback_query_id"] for c in tg.calls("answerCallbackQuery")],
                    what="the button press to be acknowledged") == ["4382bfdwdsb323b2d9"]
    world.wait_sent(text.id)
    world.wait_sent(button.id)
    assert {c.params["chat_id"] for c in tg.calls("sendMessage")} == {str(SITI_CHAT)}

    # The next poll confirms both (offset = last update_id + 1): Telegram drops them.
    assert poller.poll_once() == 0
    assert tg.calls("getUpdates")[1].params["offset"] == "102"
    assert world.rt.channels["telegram"].get_webhook_info().pending_update_count == 0


def test_a_malformed_update_does_not_block_the_ones_after_it(world: World, poller: TelegramPoller) -> None:
    tg = world.fakes.telegram
    tg.push_update(payload("message_without_chat.json", 200))    # nothing to answer: unparseable
    tg.push_update(payload("text.json", 201))

    assert poller.poll_once() == 2
    bad, good = world.messages(Message.direction == "in")
    assert (bad.kind, bad.external_id) == ("unparseable", "200:unparseable")
    assert "message without chat" in (bad.error_reason or "")
    assert json.loads(bad.raw or "") == payload("message_without_chat.json", 200)
    assert good.kind == "message"
    world.wait_sent(good.id)

    assert poller.poll_once() == 0                           # both confirmed, neither comes back
    assert tg.calls("getUpdates")[-1].params["offset"] == "202"
    assert len(world.messages(Message.direction == "in")) == 2


def test_a_batch_delivered_again_after_a_crash_stores_and_sends_nothing_new(world: World,
                                                                            poller: TelegramPoller) -> None:
    tg = world.fakes.telegram
    tg.push_update(payload("text.json", 300))
    assert poller.poll_once() == 1
    [row] = world.messages(Message.direction == "in")
    world.wait_sent(row.id)
    sends = len(tg.calls("sendMessage"))

    # The process died before its next poll confirmed the batch: a new poller (no offset)
    # gets the same update again.
    restarted = TelegramPoller(world.rt, world.rt.channels["telegram"], timeout=0)
    assert restarted.poll_once() == 0
    assert "offset" not in tg.calls("getUpdates")[-1].params
    world.settle(row.urn or "")
    assert len(world.messages(Message.direction == "in")) == 1
    assert len(tg.calls("sendMessage")) == sends


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@SQLITE_ONLY
def test_409_while_a_webhook_is_set_logs_the_fix_and_polling_recovers(world: World) -> None:
    channel = world.rt.channels["telegram"]
    channel.set_webhook(PUBLIC_URL + "/webhooks/telegram")
    poller = TelegramPoller(world.rt, channel, timeout=1)     # a real (short) long poll
    with pytest.raises(SendError) as refused:
        poller.poll_once()
    assert refused.value.code == "409" and not refused.value.retryable

    records = Records()
    logger = logging.getLogger("bot.pipeline.polling")
    logger.addHandler(records)
    try:
        poller.start()
        record = wait_for(lambda: records.records, what="the polling error to be logged")[0]
        assert record.getMessage() == ("telegram polling failed (a webhook is set: run "
                                       "`warga channels delete-webhook telegram`)")
        assert "Conflict" in record.reason                     # type: ignore[attr-defined]
        assert [t for t in threading.enumerate() if t.name == "warga-telegram-poll"]   # still running

        # The admin deletes the webhook: the same poller picks updates up again.
        channel.delete_webhook()
        world.fakes.telegram.push_update(copy.deepcopy(payload("text.json", 400)))
        row = wait_for(lambda: world.messages(Message.direction == "in"),
                       what="the poller to store the update after the webhook was deleted")[0]
        assert row.external_id == "400:3527065:41"
    finally:
        poller.stop()
        logger.removeHandler(records)


@SQLITE_ONLY
def test_a_storage_failure_neither_loses_the_batch_nor_stops_polling(world: World) -> None:
    channel = world.rt.channels["telegram"]
    world.fakes.telegram.push_update(payload("text.json", 500))
    engine = world.rt.engine
    with engine.begin() as conn:              # the database loses its messages table for a while
        conn.exec_driver_sql("ALTER TABLE messages RENAME TO messages_away")
    records = Records()
    logger = logging.getLogger("bot.pipeline.polling")
    logger.addHandler(records)
    poller = TelegramPoller(world.rt, channel, timeout=1)
    try:
        poller.start()
        record = wait_for(lambda: records.records, what="the storage failure to be logged")[0]
        assert record.getMessage() == "telegram polling: storing the batch failed"
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE messages_away RENAME TO messages")
        # The same poller goes on, and the batch was not confirmed: Telegram sends it again.
        row = wait_for(lambda: world.messages(Message.direction == "in"),
                       what="the update to be stored once the database is back")[0]
        assert row.external_id == "500:3527065:41"
        world.wait_sent(row.id)
    finally:
        poller.stop()
        logger.removeHandler(records)
        with engine.begin() as conn:
            if conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'messages_away'").first():
                conn.exec_driver_sql("ALTER TABLE messages_away RENAME TO messages")
