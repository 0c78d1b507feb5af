"""Load and save a conversation's dialogue state: the one place ``Conversation.state`` is written.

The state (bot/dialogue/state.py) is the one source of truth for handover. ``Conversation.handover``
stays as a plain column only so the console's queue is a WHERE on a boolean instead of a JSON
query that differs between SQLite and PostgreSQL; :func:`save_state` is the only writer and
derives it from the state, so the two cannot disagree.
"""

from __future__ import annotations

from typing import Any

from bot.dialogue.state import DialogueState, Handover
from bot.store.conversation_rows import ConversationView
from bot.store.models import Conversation


def load_state(conversation: ConversationView) -> DialogueState:
    """The conversation's dialogue state, from whatever shape is stored."""
    state = DialogueState.from_json(conversation.state)
    if conversation.handover and state.handover is None:
        # Records of the first release kept handover in the column alone.
        state = state.hand_over("staff", conversation.updated_at)
    return state


def save_state(conversation: Conversation, state: DialogueState, queue: str | None = None) -> None:
    """Store ``state`` and keep the queue columns in step with it.

    ``queue`` is the agency whose queue a handover that starts now waits in (None: the intake
    queue; bot/casework/queues.py decides it); a handover keeps its queue until it ends.
    """
    for column, value in state_columns(conversation, state, queue).items():
        setattr(conversation, column, value)


def state_columns(conversation: ConversationView, state: DialogueState, queue: str | None = None) -> dict[str, Any]:
    """The columns :func:`save_state` writes, for a caller that writes them with one prebuilt
    statement (the processing of a message): the state, the handover flag and its queue."""
    started = state.handover is not None and not conversation.handover
    # A handover keeps the queue it started in; none has none.
    agency = None if state.handover is None else queue if started else conversation.handover_agency
    # A new dict every time: the ORM sees the change (the JSON column is not change-tracked).
    return {"state": state.to_json(), "handover": state.handover is not None, "handover_agency": agency}


def handover_of(conversation: ConversationView) -> Handover | None:
    """Who has the conversation and why; None while the bot handles it."""
    return load_state(conversation).handover
