"""Saving the dialogue state keeps the console's handover column in step; old records load."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.casework.conversation_state import handover_of, load_state, save_state
from bot.dialogue.state import DialogueState, Handover
from bot.store.models import Conversation

AT = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def test_the_column_follows_the_state():
    conv = Conversation(state={}, handover=False, updated_at=AT)
    save_state(conv, load_state(conv).hand_over("angry", AT))
    assert conv.handover and handover_of(conv) == Handover("angry", AT, noticed_at=AT)
    save_state(conv, load_state(conv).taken_by("rina", AT))
    assert conv.handover and handover_of(conv) == Handover("angry", AT, "rina", AT, noticed_at=AT)
    save_state(conv, load_state(conv).release())
    assert not conv.handover and handover_of(conv) is None and conv.state == {}


def test_a_first_release_record_handed_over_by_the_column_alone_stays_handed_over():
    conv = Conversation(state={"language": "id"}, handover=True, updated_at=AT)
    assert load_state(conv) == DialogueState(language="id", handover=Handover("staff", since=AT, noticed_at=AT))


def test_a_first_release_record_taken_by_staff():
    conv = Conversation(state={"handover": "staff:rina", "fallbacks": 0}, handover=True, updated_at=AT)
    assert handover_of(conv) == Handover("staff", staff="rina")
    save_state(conv, load_state(conv).release())
    assert conv.state == {} and not conv.handover
