"""Storing what a citizen sends (bot/pipeline/receive.py), on SQLite and PostgreSQL: a known
citizen's message joins their conversation and moves their address's last-message time forward
only, a name learnt later fills the contact's empty one, and a provider's retry that races the
first delivery is stored once and reported as the duplicate it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.pipeline import receive
from bot.pipeline.receive import store_and_commit
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Contact, ContactAddress, Conversation, Message
from channels.base import InboundMessage
from tests.conftest import migrate

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
URN = "telegram:4242"


@pytest.fixture
def sessions(db_url: str) -> Any:
    migrate(db_url)
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def message(external_id: str, at: datetime, name: str | None = None) -> InboundMessage:
    return InboundMessage(channel="telegram", external_id=external_id, sender=URN, text="halo",
                          sender_name=name, received_at=at)


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


def test_a_retry_racing_the_first_delivery_is_stored_once_and_reported_duplicate(sessions, monkeypatch):
    first = store_and_commit(sessions, [message("7", T0)]).messages[0]
    # The retry's duplicate check ran before the first delivery committed (it saw nothing):
    # the insert itself must then find the row and report it, not fail.
    real = receive._existing
    calls: list[str] = []

    def not_yet(session: Any, channel: str, external_id: str) -> Any:
        calls.append(external_id)
        return None if len(calls) == 1 else real(session, channel, external_id)

    monkeypatch.setattr(receive, "_existing", not_yet)
    retry = store_and_commit(sessions, [message("7", T0)])

    assert retry.stored == 0 and retry.conversations == ()
    assert (retry.messages[0].message_id, retry.messages[0].conversation_id, retry.messages[0].duplicate) == (
        first.message_id, first.conversation_id, True)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.external_id == "7")) == 1
