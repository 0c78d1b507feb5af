"""Storing what arrives: once per provider id, with its contact, address and conversation.

Every test runs against a fresh SQLite file and a fresh PostgreSQL database (``db_url``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.pipeline.receive import store_inbound, store_unparseable
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Contact, ContactAddress, Conversation, Message
from channels.base import InboundMessage, Location, Media, Unparseable
from tests.conftest import migrate

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
URN = "telegram:3527065"


@pytest.fixture
def sessions(db_url: str):
    migrate(db_url)
    engine = make_engine(db_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def msg(external_id: str = "1001", *, sender: str = URN, channel: str = "telegram",
        text: str = "jalan berlubang", at: datetime = T0, kind: str = "message",
        **extra: Any) -> InboundMessage:
    return InboundMessage(channel=channel, external_id=external_id, sender=sender, text=text,
                          received_at=at, kind=kind, **extra)


def store(sessions: Any, m: InboundMessage) -> Any:
    with sessions() as s, s.begin():
        return store_inbound(s, m)


def counts(sessions: Any) -> dict[str, int]:
    with sessions() as s:
        return {model.__name__: s.scalar(select(func.count()).select_from(model))
                for model in (Message, Contact, ContactAddress, Conversation)}


def test_a_message_is_stored_with_everything_the_channel_gave(sessions):
    stored = store(sessions, msg(
        sender_name="Budi Santoso", raw='{"update_id": 1001}', reply_to_button="lapor",
        media=(Media("tg-file:AgAD", "image/jpeg", "lubang"),),
        location=Location(-6.2, 106.8, "Jl. Melati")))
    assert stored.duplicate is False and stored.needs_processing is True
    with sessions() as s:
        m = s.get(Message, stored.message_id)
        assert (m.direction, m.channel, m.external_id, m.urn, m.text, m.kind) == (
            "in", "telegram", "1001", URN, "jalan berlubang", "message")
        assert m.processed_at is None
        assert m.received_at == T0
        assert m.raw == '{"update_id": 1001}'
        assert m.button_payload == "lapor"
        assert m.media == [{"url": "tg-file:AgAD", "content_type": "image/jpeg", "caption": "lubang"}]
        assert (m.latitude, m.longitude, m.address_text) == (-6.2, 106.8, "Jl. Melati")
        assert m.conversation_id == stored.conversation_id
        conv = s.get(Conversation, m.conversation_id)
        assert conv.channel == "telegram" and conv.address.urn == URN
        assert conv.contact.name == "Budi Santoso"
        assert conv.address.last_inbound_at == T0


def test_the_same_external_id_again_is_a_duplicate_and_stores_nothing(sessions):
    first = store(sessions, msg())
    before = counts(sessions)
    again = store(sessions, msg(text="a provider retry, maybe with other text"))
    assert again.duplicate is True and again.needs_processing is False
    assert (again.message_id, again.conversation_id) == (first.message_id, first.conversation_id)
    assert counts(sessions) == before == {"Message": 1, "Contact": 1, "ContactAddress": 1,
                                          "Conversation": 1}
    with sessions() as s:
        assert s.get(Message, first.message_id).text == "jalan berlubang"


def test_duplicate_within_one_transaction_and_per_channel(sessions):
    with sessions() as s, s.begin():
        a = store_inbound(s, msg())
        b = store_inbound(s, msg())
    assert (a.duplicate, b.duplicate) == (False, True)
    assert b.message_id == a.message_id
    assert counts(sessions)["Message"] == 1
    # The key is channel + external id: the same id on another channel is another message.
    other = store(sessions, msg("1001", channel="sms", sender="tel:+6281234567890"))
    assert not other.duplicate and other.message_id != a.message_id
    assert counts(sessions)["Message"] == 2


def test_non_message_kinds_are_kept_but_not_processed(sessions):
    kinds = ["edited", "group", "member", "ignored"]
    for n, kind in enumerate(kinds):
        stored = store(sessions, msg(f"k-{n}", kind=kind, at=T0))
        assert stored.duplicate is False and stored.needs_processing is False, kind
        with sessions() as s:
            m = s.get(Message, stored.message_id)
            assert m.kind == kind
            assert m.processed_at is not None, kind       # the dialogue must never pick it up
            assert m.conversation_id == stored.conversation_id is not None  # in the transcript
        assert store(sessions, msg(f"k-{n}", kind=kind)).duplicate is True, kind
    with sessions() as s:
        unprocessed = s.scalar(select(func.count()).select_from(Message).where(
            Message.direction == "in", Message.processed_at.is_(None)))
        assert unprocessed == 0
    assert counts(sessions)["Message"] == len(kinds)


def test_contact_address_and_conversation_are_created_once_per_urn(sessions):
    a1 = store(sessions, msg("1", sender="telegram:111"))
    a2 = store(sessions, msg("2", sender="telegram:111"))
    b1 = store(sessions, msg("3", sender="telegram:222"))
    assert a1.conversation_id == a2.conversation_id != b1.conversation_id
    assert counts(sessions) == {"Message": 3, "Contact": 2, "ContactAddress": 2, "Conversation": 2}
    with sessions() as s:
        urns = sorted(s.scalars(select(ContactAddress.urn)))
        assert urns == ["telegram:111", "telegram:222"]


def test_last_inbound_at_keeps_the_latest_time(sessions):
    store(sessions, msg("1", at=T0))
    store(sessions, msg("2", at=T0 + timedelta(hours=2)))
    # A message the provider delivers late (older timestamp) must not move the clock back:
    # WhatsApp's 24-hour window is counted from the latest one.
    store(sessions, msg("3", at=T0 + timedelta(hours=1)))
    with sessions() as s:
        addr = s.scalars(select(ContactAddress).where(ContactAddress.urn == URN)).one()
        assert addr.last_inbound_at == T0 + timedelta(hours=2)
    store(sessions, msg("4", at=T0 + timedelta(hours=5)))
    with sessions() as s:
        addr = s.scalars(select(ContactAddress).where(ContactAddress.urn == URN)).one()
        assert addr.last_inbound_at == T0 + timedelta(hours=5)


def test_an_edit_does_not_count_as_the_citizen_writing(sessions):
    store(sessions, msg("1", at=T0))
    store(sessions, msg("2", at=T0 + timedelta(hours=3), kind="edited"))
    with sessions() as s:
        addr = s.scalars(select(ContactAddress).where(ContactAddress.urn == URN)).one()
        assert addr.last_inbound_at == T0


def test_unparseable_update_is_stored_raw_with_the_reason_once(sessions):
    item = Unparseable(channel="telegram", external_id="update-77", reason="no message in update",
                       raw='{"update_id": 77, "poll": {}}', received_at=T0)
    first = store_unparseable_tx(sessions, item)
    assert first.duplicate is False and first.needs_processing is False
    again = store_unparseable_tx(sessions, item)
    assert again.duplicate is True and again.message_id == first.message_id
    with sessions() as s:
        rows = s.scalars(select(Message)).all()
        assert len(rows) == 1
        m = rows[0]
        assert (m.kind, m.channel, m.external_id, m.direction) == (
            "unparseable", "telegram", "update-77", "in")
        assert m.raw == '{"update_id": 77, "poll": {}}'
        assert m.error_reason == "no message in update"
        assert m.processed_at is not None
    assert counts(sessions)["Contact"] == 0


def store_unparseable_tx(sessions: Any, item: Unparseable) -> Any:
    with sessions() as s, s.begin():
        return store_unparseable(s, item)
