"""On PostgreSQL a turn locks its conversation and reads its next message in one statement
(bot/pipeline/turn_sql.py, LOCK_AND_NEXT), in a snapshot taken before the lock. When another
worker answered that message while this one waited for the lock, the turn must not answer it
again: its end finds the message already marked, it is rolled back, and the conversation is
looked at again with the message read after the lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bot.pipeline import process
from bot.pipeline.receive import store_and_commit
from bot.store.conversation_rows import lock_conversation
from bot.store.models import Message
from channels.base import InboundMessage
from tests.conftest import make_settings, migrate
from tests.pg_databases import create_pg_database, release_pg_database, wait_until_blocked_on_a_lock


@pytest.fixture
def rt(pg_reason: str | None, tmp_path: Path) -> Iterator[Any]:
    if pg_reason:
        pytest.fail(pg_reason)   # about PostgreSQL's snapshots and row locks: never pass without it
    from bot.web.app import create_app

    name, url = create_pg_database()
    migrate(url)
    # No sweeper during the test: only the turn under test touches the conversation.
    settings = make_settings(url, tmp_path, overrides={"queue.sweep_seconds": 3600, "queue.stall_seconds": 3600})
    app = create_app(settings)
    try:
        yield app.extensions["warga"]
    finally:
        app.extensions["warga"].close()
        release_pg_database(name)


def test_a_message_answered_while_the_turn_waited_for_the_lock_is_not_answered_again(rt, monkeypatch):
    sent = store_and_commit(rt.sessions, [InboundMessage(channel="web", external_id="m1", sender="web:siti",
                                                         text="halo", received_at=datetime.now(UTC))])
    conv_id = sent.messages[0].conversation_id
    msg_id = sent.messages[0].message_id
    assert conv_id is not None
    answered: list[int] = []
    handle = process.ConversationProcessor._handle

    def recording(self: Any, session: Any, conv: Any, msg: Any, *rest: Any) -> Any:
        answered.append(msg.id)
        return handle(self, session, conv, msg, *rest)

    monkeypatch.setattr(process.ConversationProcessor, "_handle", recording)
    results: list[process.Processed] = []
    with rt.sessions() as holder, holder.begin():
        assert lock_conversation(holder.connection(), conv_id) is not None
        pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
        turn = threading.Thread(target=lambda: results.append(rt.processor.process(conv_id)))
        turn.start()
        wait_until_blocked_on_a_lock(rt.engine, pid)
        # Another worker's turn answers the message and commits while the turn waits.
        holder.execute(text("UPDATE messages SET status = 'processed', processed_at = now() WHERE id = :id"),
                       {"id": msg_id})
        holder.execute(text(
            "INSERT INTO messages (conversation_id, direction, channel, kind, text, buttons, media, status, "
            "attempts, parts_sent, provider_answered, reply_to_id, created_at) VALUES (:c, 'out', 'web', "
            "'message', 'jawaban pertama', '[]', '[]', 'delivered', 1, 0, false, :id, now())"),
            {"c": conv_id, "id": msg_id})
    turn.join(timeout=60)
    assert not turn.is_alive()

    assert answered == [msg_id]          # the stale read happened: the dialogue ran on the message
    assert results == [process.Processed(0)]
    with rt.sessions() as s:
        replies = s.scalars(select(Message.text).where(Message.reply_to_id == msg_id)).all()
        inbound = s.get_one(Message, msg_id)
        count = s.scalar(select(func.count()).select_from(Message).where(Message.direction == "out"))
    assert replies == ["jawaban pertama"] and count == 1     # answered once, by the other turn
    assert inbound.attempts == 0 and inbound.error_reason is None and inbound.status == "processed"


def test_a_message_committed_after_a_later_one_was_answered_is_still_answered(rt):
    """The next message is looked for after the conversation's last answered one. A message
    whose INSERT began first but committed after a later message was answered lies before it:
    a run that finds nothing after the last answered message reads from the start."""
    sent = store_and_commit(rt.sessions, [InboundMessage(channel="web", external_id="early", sender="web:rina",
                                                         text="halo", received_at=datetime.now(UTC))])
    conv_id, early = sent.messages[0].conversation_id, sent.messages[0].message_id
    with rt.sessions() as s, s.begin():     # the later message, answered already
        s.execute(text(
            "INSERT INTO messages (conversation_id, direction, channel, kind, external_id, text, buttons, media, "
            "status, attempts, parts_sent, provider_answered, received_at, processed_at, created_at) VALUES "
            "(:c, 'in', 'web', 'message', 'later', 'terima kasih', '[]', '[]', 'processed', 0, 0, false, now(), "
            "now(), now())"), {"c": conv_id})
    assert rt.processor.process(conv_id).handled == 1
    with rt.sessions() as s:
        assert s.get_one(Message, early).status == "processed"
        assert s.scalar(select(func.count()).select_from(Message).where(Message.reply_to_id == early)) >= 1
