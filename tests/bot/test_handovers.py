"""A handover nobody takes returns to the bot on its own, with a message, even when the citizen
writes nothing more (the sweeper's side of dialogue.handover_timeout_minutes)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.casework.conversation_state import load_state, save_state
from bot.casework.handovers import return_unanswered
from bot.pipeline.queue import InlineQueue
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Contact, ContactAddress, Conversation, Message, utcnow
from tests.conftest import make_settings, migrate


def conversation(s: Any, n: int, *, taken: bool = False) -> int:
    contact = Contact(name=f"Warga {n}")
    s.add(contact)
    s.flush()
    address = ContactAddress(urn=f"web:handover{n:020d}", channel="web", contact_id=contact.id)
    s.add(address)
    s.flush()
    conv = Conversation(contact_id=contact.id, address_id=address.id, channel="web", state={})
    s.add(conv)
    s.flush()
    state = load_state(conv).hand_over("requested", utcnow())
    save_state(conv, state.taken_by("rina", utcnow()) if taken else state)
    return conv.id


def test_an_unanswered_handover_returns_to_the_bot_and_the_citizen_is_told(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    migrate(url)
    settings = make_settings(url, tmp_path)
    sessions = make_session_factory(make_engine(url))
    with sessions() as s, s.begin():
        waiting, taken = conversation(s, 1), conversation(s, 2, taken=True)
    timeout = timedelta(minutes=settings.dialogue.handover_timeout_minutes)

    with sessions() as s, s.begin():   # not yet: nothing changes
        assert return_unanswered(s, settings, now=utcnow() + timeout / 2) == []
    with sessions() as s, s.begin():
        assert return_unanswered(s, settings, now=utcnow() + timeout + timedelta(minutes=1)) == [waiting]

    with sessions() as s:
        back = s.get(Conversation, waiting)
        still = s.get(Conversation, taken)
        assert back is not None and still is not None
        assert load_state(back).handover is None and back.handover is False
        assert load_state(still).handover is not None and still.handover is True   # a person has it
        [told] = s.scalars(select(Message).where(Message.conversation_id == waiting)).all()
        assert told.direction == "out" and told.status == "pending"
        assert told.text.startswith("Maaf, belum ada petugas yang bisa membalas.")


def test_the_sweeper_wakes_the_conversations_it_returned(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    migrate(url)
    sessions = make_session_factory(make_engine(url))
    with sessions() as s, s.begin():
        conv_id = conversation(s, 3)
    woken: list[int] = []
    q = InlineQueue(woken.append, sessions, stall_seconds=3600)
    q.tidy = lambda: [conv_id]
    assert q.sweep() == 1 and woken == [conv_id]
