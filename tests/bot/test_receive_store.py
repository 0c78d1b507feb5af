"""Storing what a citizen sends (bot/pipeline/receive.py, inbound_sql.py), on SQLite and
PostgreSQL: a known citizen's message joins their conversation and moves their address's
last-message time forward only, a name learnt later fills the contact's empty one, a provider's
retry changes nothing and is reported as the duplicate it is (also when it races the first
delivery), and on PostgreSQL a known citizen's message is one statement that commits itself."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.casework.contacts import ContactRepository
from bot.pipeline import receive
from bot.pipeline.receive import Stored, store_and_commit, store_inbound
from bot.store.conversation_rows import lock_conversation
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Contact, ContactAddress, Conversation, Message
from channels.base import ContactEvent, InboundMessage, Location, Media
from tests.conftest import migrate
from tests.pg_databases import create_pg_database, release_pg_database

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
URN = "telegram:4242"


@pytest.fixture
def sessions(db_url: str) -> Any:
    migrate(db_url)
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def pg_sessions(pg_reason: str | None) -> Iterator[sessionmaker[Session]]:
    if pg_reason:
        pytest.fail(pg_reason)   # these tests are about PostgreSQL: never pass without it
    name, url = create_pg_database()
    migrate(url)
    engine = make_engine(url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()
        release_pg_database(name)


def message(external_id: str, at: datetime, name: str | None = None, **extra: Any) -> InboundMessage:
    extra.setdefault("text", "halo")
    return InboundMessage(channel="telegram", external_id=external_id, sender=URN, sender_name=name,
                          received_at=at, **extra)


def address(sessions: Any) -> ContactAddress:
    with sessions() as s:
        found = s.scalars(select(ContactAddress).where(ContactAddress.urn == URN)).one()
        s.expunge(found)
        return found


def contact_name(sessions: Any) -> str | None:
    with sessions() as s:
        return s.scalars(select(Contact.name).join(ContactAddress).where(ContactAddress.urn == URN)).one()


def stored_count(sessions: Any, external_id: str | None = None) -> int:
    with sessions() as s:
        q = select(func.count()).select_from(Message).where(Message.direction == "in")
        if external_id is not None:
            q = q.where(Message.external_id == external_id)
        return s.scalar(q) or 0


def test_a_known_citizen_joins_their_conversation_and_the_last_message_time_only_moves_forward(sessions):
    first = store_and_commit(sessions, [message("1", T0)]).messages[0]
    later = store_and_commit(sessions, [message("2", T0 + timedelta(minutes=5), name="Siti")]).messages[0]
    # Delivered late (an older update after a newer one): stored, but the time stays.
    late = store_and_commit(sessions, [message("3", T0 + timedelta(minutes=1))]).messages[0]

    assert first.conversation_id == later.conversation_id == late.conversation_id
    assert not (first.duplicate or later.duplicate or late.duplicate)
    with sessions() as s:
        address = s.scalars(select(ContactAddress).where(ContactAddress.urn == URN)).one()
        assert address.last_inbound_at == T0 + timedelta(minutes=5)
        assert s.get(Contact, address.contact_id).name == "Siti"     # learnt on the second message
        assert s.scalar(select(func.count()).select_from(Conversation)) == 1
        texts = s.scalars(select(Message.external_id).where(Message.direction == "in").order_by(Message.id)).all()
        assert texts == ["1", "2", "3"]


def test_a_providers_retry_stores_nothing_and_changes_nothing(sessions):
    first = store_and_commit(sessions, [message("1", T0)]).messages[0]
    # Later and with a name: a retry's times and names are not the citizen's news.
    retry = store_and_commit(sessions, [message("1", T0 + timedelta(hours=1), name="Siti", callback_id="cb-1")])

    assert (retry.stored, retry.conversations, retry.callbacks) == (0, (), ())
    assert retry.messages == (Stored(first.message_id, first.conversation_id, True, False),)
    assert address(sessions).last_inbound_at == T0
    assert contact_name(sessions) is None
    assert stored_count(sessions) == 1


def test_everything_a_known_citizen_sends_is_stored_in_their_conversation(sessions):
    first = store_and_commit(sessions, [message("1", T0)]).messages[0]
    full = message("2", T0 + timedelta(minutes=1), name="Budi", text="lubang\x00 besar",
                   media=(Media("tg-file:AgAD", "image/jpeg", "lubang"),),
                   location=Location(-6.2, 106.8, "Jl. Melati"), reply_to_button="lapor",
                   phone="+6281234567890", raw='{"update_id": 2}', callback_id="cb-2")
    received = store_and_commit(sessions, [full])
    # An edit is kept for the transcript, never answered, and is no news of the citizen.
    edited = store_and_commit(sessions, [message("3", T0 + timedelta(hours=1), kind="edited")])

    assert (received.stored, received.conversations, received.callbacks) == (1, (first.conversation_id,), ("cb-2",))
    assert received.messages[0].needs_processing and not received.messages[0].duplicate
    assert edited.stored == 1 and edited.conversations == () and not edited.messages[0].needs_processing
    with sessions() as s:
        m = s.get(Message, received.messages[0].message_id)
        assert (m.conversation_id, m.direction, m.channel, m.kind, m.external_id, m.urn, m.text) == (
            first.conversation_id, "in", "telegram", "message", "2", URN, "lubang besar")
        assert m.media == [{"url": "tg-file:AgAD", "content_type": "image/jpeg", "caption": "lubang"}]
        assert (m.latitude, m.longitude, m.address_text) == (-6.2, 106.8, "Jl. Melati")
        assert (m.button_payload, m.shared_phone, m.raw) == ("lapor", "+6281234567890", '{"update_id": 2}')
        assert (m.status, m.processed_at, m.received_at) == ("received", None, T0 + timedelta(minutes=1))
        assert (m.buttons, m.attempts, m.parts_sent, m.provider_answered) == ([], 0, 0, False)
        assert m.created_at is not None and m.contact_event is None
        e = s.get(Message, edited.messages[0].message_id)
        assert (e.conversation_id, e.status, e.kind) == (first.conversation_id, "recorded", "edited")
        assert e.processed_at is not None
    assert address(sessions).last_inbound_at == T0 + timedelta(minutes=1)
    assert contact_name(sessions) == "Budi"


def test_an_address_without_a_conversation_gets_one_with_its_first_message(sessions):
    with sessions() as s, s.begin():
        ContactRepository(s).get_or_create_address(URN, "telegram", "Siti")
    stored = store_and_commit(sessions, [message("1", T0)]).messages[0]

    assert not stored.duplicate and stored.needs_processing and stored.conversation_id is not None
    with sessions() as s:
        conversation = s.get(Conversation, stored.conversation_id)
        assert conversation.address.urn == URN and conversation.contact.name == "Siti"
        assert s.scalar(select(func.count()).select_from(Contact)) == 1
    assert address(sessions).last_inbound_at == T0


def test_the_items_of_one_request_are_stored_together_and_a_repeat_among_them_once(sessions):
    first = store_and_commit(sessions, [message("1", T0)]).messages[0]
    later = T0 + timedelta(minutes=2)
    received = store_and_commit(sessions, [message("2", T0 + timedelta(minutes=1)), message("3", later),
                                           message("2", T0 + timedelta(minutes=1))])

    assert received.stored == 2 and received.conversations == (first.conversation_id,)
    assert [m.duplicate for m in received.messages] == [False, False, True]
    assert received.messages[2].message_id == received.messages[0].message_id
    assert address(sessions).last_inbound_at == later
    assert stored_count(sessions) == 3


def test_a_known_citizens_stop_marks_the_address_as_it_is_stored(sessions):
    store_and_commit(sessions, [message("1", T0)])
    stop = store_and_commit(sessions, [message("2", T0 + timedelta(minutes=1), text="STOP",
                                               event=ContactEvent.opt_out)]).messages[0]

    assert not stop.duplicate and stop.needs_processing
    assert address(sessions).opted_out_at is not None
    with sessions() as s:
        assert s.get(Message, stop.message_id).contact_event == "opt_out"


def test_a_retry_racing_a_new_citizens_first_delivery_is_stored_once_and_reported_duplicate(sessions, monkeypatch):
    first = store_and_commit(sessions, [message("7", T0)]).messages[0]
    # The retry ran while the first delivery was not yet committed: the one statement for a
    # known citizen saw no conversation and the duplicate check saw no message. The insert
    # itself must then find the row and report it, not fail.
    real = receive._existing
    calls: list[str] = []

    def not_yet(session: Any, channel: str, external_id: str) -> Any:
        calls.append(external_id)
        return None if len(calls) == 1 else real(session, channel, external_id)

    monkeypatch.setattr(receive, "store_known", lambda conn, values: None)
    monkeypatch.setattr(receive, "_existing", not_yet)
    retry = store_and_commit(sessions, [message("7", T0)])

    assert retry.stored == 0 and retry.conversations == ()
    assert (retry.messages[0].message_id, retry.messages[0].conversation_id, retry.messages[0].duplicate) == (
        first.message_id, first.conversation_id, True)
    assert stored_count(sessions, "7") == 1


def test_on_postgresql_a_retry_racing_the_first_delivery_waits_for_it_and_changes_nothing(pg_sessions):
    store_and_commit(pg_sessions, [message("1", T0)])
    results: list[Any] = []
    with pg_sessions() as first_delivery, first_delivery.begin():
        first = store_inbound(first_delivery, message("2", T0 + timedelta(minutes=1)))
        retry = threading.Thread(target=lambda: results.append(
            store_and_commit(pg_sessions, [message("2", T0 + timedelta(minutes=5), name="Siti")])))
        retry.start()
        # The retry's INSERT waits on the unique index for the first delivery to end.
        with pg_sessions() as watcher:
            for _ in range(3000):
                waiting = watcher.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"))
                if waiting:
                    break
                # pg_stat_activity is read once per transaction: a new one sees the retry's
                # session even if it connected after the first look.
                watcher.rollback()
                threading.Event().wait(0.01)
            assert waiting, "the retry never waited for the first delivery"
    retry.join(timeout=30)

    [received] = results
    assert received.stored == 0 and received.conversations == ()
    assert received.messages == (Stored(first.message_id, first.conversation_id, True, False),)
    assert address(pg_sessions).last_inbound_at == T0 + timedelta(minutes=1)
    assert contact_name(pg_sessions) is None
    assert stored_count(pg_sessions, "2") == 1


def test_on_postgresql_a_known_citizens_message_is_one_statement_that_commits_itself(pg_sessions):
    store_and_commit(pg_sessions, [message("1", T0)])
    engine = pg_sessions.kw["bind"]
    sent: list[str] = []

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        sent.append(sql.split()[0])

    def edge(conn: Any, *args: Any) -> None:
        # SQLAlchemy reports these in autocommit mode too, where the driver sends nothing.
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            sent.append("BEGIN/COMMIT/ROLLBACK")

    listeners = [("before_cursor_execute", statement), ("begin", edge), ("commit", edge), ("rollback", edge)]
    for name, fn in listeners:
        event.listen(engine, name, fn)
    try:
        new = store_and_commit(pg_sessions, [message("2", T0 + timedelta(minutes=1))])
        new_sent, sent[:] = list(sent), []
        again = store_and_commit(pg_sessions, [message("2", T0 + timedelta(minutes=1))])
    finally:
        for name, fn in listeners:
            event.remove(engine, name, fn)

    assert new.stored == 1 and again.messages[0].duplicate
    assert new_sent == ["WITH"] and sent == ["WITH"]
    # Committed: another connection sees it.
    assert stored_count(pg_sessions, "2") == 1
    assert address(pg_sessions).last_inbound_at == T0 + timedelta(minutes=1)


def test_on_postgresql_a_message_is_stored_while_its_conversation_is_being_processed(pg_sessions):
    """The worker's lock on the conversation (conversation_rows.lock_conversation) serialises the workers, not the
    webhooks: the new message's reference to its conversation must not wait for the processing
    of the one before it (NLU, dialogue, replies) to commit."""
    from sqlalchemy import create_engine

    first = store_and_commit(pg_sessions, [message("1", T0)])
    conv_id = first.messages[0].conversation_id
    assert conv_id is not None
    # A lock wait ends in an error instead of a hang, should the storing wait after all.
    engine = create_engine(pg_sessions.kw["bind"].url, connect_args={"options": "-c lock_timeout=10000"})
    try:
        with pg_sessions() as worker, worker.begin():
            assert lock_conversation(worker.connection(), conv_id) is not None
            new = store_and_commit(make_session_factory(engine), [message("2", T0 + timedelta(minutes=1))])
            assert new.stored == 1 and new.conversations == (conv_id,)
    finally:
        engine.dispose()
