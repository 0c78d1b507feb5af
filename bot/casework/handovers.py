"""Return handovers nobody took to the bot (the sweeper's side of the handover timeout).

When the citizen writes again the dialogue applies the same rule itself
(``DialogueState.unanswered``); this covers the citizen who waits in silence.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.casework.conversation_state import load_state, save_state
from bot.dialogue.texts import render
from bot.pipeline.replies import queue_reply
from bot.settings import Settings
from bot.store.models import Conversation, utcnow


def return_unanswered(session: Session, settings: Settings, now: datetime | None = None,
                      limit: int = 200) -> list[int]:
    """Release every handover that waited ``dialogue.handover_timeout_minutes`` without a staff
    member taking it, telling the citizen; return the conversations to wake (the caller commits)."""
    now = now or utcnow()
    timeout = timedelta(minutes=settings.dialogue.handover_timeout_minutes)
    # Untouched for the whole timeout: a conversation the citizen writes in is handled by the
    # dialogue, which applies the same rule.
    candidates = session.scalars(select(Conversation).where(
        Conversation.handover.is_(True), Conversation.updated_at <= now - timeout)
        .order_by(Conversation.updated_at).limit(limit).with_for_update(skip_locked=True)).all()
    woken = []
    for conv in candidates:
        state = load_state(conv)
        if not state.unanswered(now, timeout):
            continue
        save_state(conv, state.release())
        lang = conv.language or settings.default_language
        queue_reply(session, settings.outbox, conv, render("handover_timed_out", lang), now=now)
        woken.append(conv.id)
    return woken


def sweep_unanswered(sessions: sessionmaker[Session], settings: Settings) -> list[int]:
    """:func:`return_unanswered` in its own transaction (what the sweeper calls)."""
    with sessions() as session, session.begin():
        return return_unanswered(session, settings)
