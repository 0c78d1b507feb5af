"""What staff do in a citizen's conversation: the handover queue, take over, reply, release.

Every action is scoped (:func:`visible_conversations`: a staff member sees the conversations of
their agency's complaints and of the queues they serve) and recorded as a
``ConversationEvent``. :class:`ConversationWork` is the base of
:class:`bot.casework.staff.StaffService`, which adds the work on complaints.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from bot.casework.accounts import sees_every_agency
from bot.casework.complaints import CLOSED
from bot.casework.conversation_state import load_state, save_state
from bot.casework.queues import save_routed, served_queues
from bot.casework.staff_types import NotVisible, StaffError, Woken
from bot.dialogue.texts import render
from bot.pipeline.replies import queue_reply
from bot.settings import Settings
from bot.store.models import (
    Complaint,
    ComplaintFollower,
    Conversation,
    ConversationEvent,
    Message,
    StaffUser,
    utcnow,
)


def staff_reply_text(lang: str, text: str, ticket: str | None) -> str:
    """A staff member's words as the citizen gets them, on every channel: labelled with the
    ticket they concern ("[WRG-2026-000123] Petugas: ..."), when there is one."""
    if ticket:
        return render("staff_reply_ticket", lang, ticket=ticket, text=text.strip())
    return render("staff_reply", lang, text=text.strip())


def visible_conversations(user: StaffUser) -> Any:
    """A WHERE clause: the conversations ``user`` may open, take, reply to and release.

    Admins and supervisors: all. Staff: those linked to a complaint of their agency (as its
    citizen or a follower), and the handovers in the queues they serve (their agency's, and
    intake if they are marked for it: bot/casework/queues.py).
    """
    if sees_every_agency(user):
        return Conversation.id.is_not(None)
    linked = exists().where(Complaint.conversation_id == Conversation.id, Complaint.agency == user.agency)
    # A citizen who joined a complaint as its follower told their part in their own conversation.
    following = exists().where(ComplaintFollower.conversation_id == Conversation.id,
                               ComplaintFollower.complaint_id == Complaint.id, Complaint.agency == user.agency)
    return or_(served_queues(user), linked, following)


class ConversationWork:
    """Staff in conversations with citizens, each action as one named staff member."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.s = session
        self.settings = settings

    def staff(self, username: str) -> StaffUser:
        user = self.s.scalar(select(StaffUser).where(StaffUser.username == username,
                                                     StaffUser.active.is_(True)))
        if user is None:
            raise StaffError(f"no active staff user {username!r}")
        return user

    def handover_queue(self) -> list[Conversation]:
        """Conversations with a person (waiting or taken), longest untouched first."""
        return list(self.s.scalars(select(Conversation).where(Conversation.handover.is_(True))
                                   .order_by(Conversation.updated_at)))

    def take_over(self, conversation_id: int, username: str) -> None:
        user = self.staff(username)
        conv = self._conversation(conversation_id, user)
        now = utcnow()
        save_routed(self.s, self.settings.complaints, conv, load_state(conv).taken_by(username, now))
        self._record(conv, user, "take", None, now)

    def reply(self, conversation_id: int, text: str, username: str) -> Woken:
        user = self.staff(username)
        conv = self._conversation(conversation_id, user)
        if not text.strip():
            raise StaffError("the reply is empty")
        state = load_state(conv)
        now = utcnow()
        if state.handover is not None and state.handover.staff is None:
            # Answering a waiting citizen is taking the conversation: the bot stops telling
            # them they are still waiting.
            save_routed(self.s, self.settings.complaints, conv, state.taken_by(username, now))
            self._record(conv, user, "take", None, now)
        lang = conv.language or self.settings.default_language
        # Like a reply on a complaint: a template (the citizen's latest ticket) lets it reach
        # WhatsApp after the 24-hour window; without a ticket it goes as a plain message.
        ticket = self.s.scalar(select(Complaint.ticket).where(Complaint.contact_id == conv.contact_id)
                               .order_by(Complaint.id.desc()).limit(1))
        # The reply names the ticket it is about when that is clear: the citizen's one open one.
        open_tickets = self.s.scalars(select(Complaint.ticket).where(
            Complaint.contact_id == conv.contact_id, Complaint.status.not_in(CLOSED)).limit(2)).all()
        about = open_tickets[0] if len(open_tickets) == 1 else None
        msg = queue_reply(self.s, self.settings.outbox, conv, staff_reply_text(lang, text, about),
                          template="staff_reply" if ticket else None,
                          template_vars={"1": ticket} if ticket else None,
                          kind="notification" if ticket else "message")
        msg.staff_user_id = user.id
        self.s.flush()
        self._record(conv, user, "reply", msg.id, msg.created_at)
        return Woken((conv.id,))

    def release(self, conversation_id: int, username: str) -> Woken:
        """Hand the conversation back to the bot and tell the citizen."""
        user = self.staff(username)
        conv = self._conversation(conversation_id, user)
        state = load_state(conv)
        if state.handover is None:
            raise StaffError(f"conversation {conversation_id} is not with staff")
        save_state(conv, state.release())
        lang = conv.language or self.settings.default_language
        msg = queue_reply(self.s, self.settings.outbox, conv, render("handover_ended", lang))
        msg.staff_user_id = user.id
        self.s.flush()
        self._record(conv, user, "release", msg.id, msg.created_at)
        return Woken((conv.id,))

    def transcript(self, conversation_id: int, username: str) -> list[Message]:
        self._conversation(conversation_id, self.staff(username), lock=False)
        return list(self.s.scalars(select(Message).where(Message.conversation_id == conversation_id)
                                   .order_by(Message.id)))

    def events(self, conversation_id: int) -> list[ConversationEvent]:
        """Who took, replied in and released the conversation, oldest first."""
        return list(self.s.scalars(select(ConversationEvent)
                                   .where(ConversationEvent.conversation_id == conversation_id)
                                   .order_by(ConversationEvent.id)))

    def visible(self, conversation_id: int, user: StaffUser) -> Conversation:
        """The conversation, if ``user`` may see it (else :class:`NotVisible`)."""
        return self._conversation(conversation_id, user, lock=False)

    def _record(self, conv: Conversation, user: StaffUser, kind: str, message_id: int | None,
                at: Any) -> None:
        self.s.add(ConversationEvent(conversation_id=conv.id, kind=kind, staff_user_id=user.id,
                                     actor=f"staff:{user.username}", message_id=message_id, created_at=at))

    def _conversation(self, conversation_id: int, user: StaffUser, *, lock: bool = True) -> Conversation:
        # Locked like a worker locks it: a take-over or release must not race the worker that
        # is saving the same conversation's state. Scope first, so a refused id is never locked.
        allowed = self.s.scalar(select(Conversation.id).where(
            Conversation.id == conversation_id, visible_conversations(user)))
        if allowed is None:
            raise NotVisible(f"no conversation {conversation_id}")
        conv = self.s.get(Conversation, conversation_id, with_for_update=lock or None)
        if conv is None:
            raise NotVisible(f"no conversation {conversation_id}")
        return conv
