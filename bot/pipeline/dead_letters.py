"""A message whose processing raises: its attempts counted and, after the last one, the message
dead-lettered, so a bug in one message never stops the conversation behind it."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from bot.casework.conversation_state import load_state
from bot.dialogue.texts import render
from bot.pipeline.replies import queue_reply
from bot.pipeline.wakeup import Wakeups
from bot.settings import Settings
from bot.store.models import Conversation, Message, utcnow

# The records keep the processor's logger: operators filter on it for a failing message.
log = logging.getLogger("bot.pipeline.process")


class DeadLetters:
    """Records the failed attempts of the messages of :class:`~bot.pipeline.process.ConversationProcessor`.

    ``max_attempts``: attempts before a message whose processing raises is dead-lettered: a
    retry rescues a passing fault (a deadlock, a dropped connection), a bug fails every time.
    """

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], wakeups: Wakeups,
                 max_attempts: int) -> None:
        self.settings = settings
        self.sessions = sessions
        self.wakeups = wakeups
        self.max_attempts = max_attempts

    def record_failure(self, conv_id: int, msg_id: int, exc: Exception) -> bool:
        """Count a failed attempt on the message; after the last one, dead-letter it.

        A dead-lettered message is marked ``failed`` with the error (staff see it in the
        transcript and on the conversations page) and processed, so the messages after it and
        the conversation's outbox go on. Returns False when even this could not be stored.
        """
        reason = f"{type(exc).__name__}: {exc}"[:2000]
        log.exception("processing a message failed",
                      extra={"conversation_id": conv_id, "message_id": msg_id})
        try:
            with self.sessions() as session, session.begin():
                msg = session.get(Message, msg_id)
                if msg is None or msg.processed_at is not None:
                    return True
                msg.attempts += 1
                msg.error_reason = reason
                if msg.attempts >= self.max_attempts:
                    msg.status = "failed"
                    msg.processed_at = utcnow()
                    self._apologise(session, conv_id, msg.id)
                    log.error("message dead-lettered after %d attempts", msg.attempts,
                              extra={"conversation_id": conv_id, "message_id": msg_id})
                    dead = True
                else:
                    dead = False
            if dead:
                self.wakeups.processed((msg_id,))
            return True
        except Exception:  # the database itself is failing: leave it to the sweeper
            log.exception("recording a processing failure failed", extra={"message_id": msg_id})
            return False

    def _apologise(self, session: Session, conv_id: int, msg_id: int) -> None:
        """Tell the citizen their message could not be processed (unless a person already
        handles the conversation). In a savepoint: whatever goes wrong here, the message is
        still marked failed, or the sweeper would re-drive it for ever."""
        try:
            with session.begin_nested():
                conv = session.get(Conversation, conv_id)
                if conv is None:
                    return
                handover = load_state(conv).handover
                if handover is not None and handover.staff is not None:
                    return
                lang = conv.language or self.settings.default_language
                queue_reply(session, self.settings.outbox, conv, render("processing_failed", lang),
                            reply_to_id=msg_id)
        except Exception:  # the edge of a courtesy: the dead-letter itself must stand
            log.exception("apology not queued", extra={"message_id": msg_id})
