"""What staff do with complaints and conversations (the console and the CLI call this)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.casework.complaints import CLOSED, ComplaintError, ComplaintService
from bot.casework.conversation_state import load_state, save_state
from bot.casework.notifications import notify_status_change
from bot.dialogue.texts import render
from bot.pipeline.outbox import queue_reply
from bot.settings import Settings
from bot.store.models import Complaint, ComplaintEvent, Conversation, Message, StaffUser, utcnow


class StaffError(Exception):
    """A staff action was refused; the message says why."""


@dataclass(frozen=True, slots=True)
class Woken:
    """Conversations with new outbound messages (to hand to the queue)."""

    conversation_ids: tuple[int, ...]


class StaffService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.s = session
        self.settings = settings
        self.complaints = ComplaintService(session, settings.complaints, settings.ticket_prefix, settings.timezone)

    def staff(self, username: str) -> StaffUser:
        user = self.s.scalar(select(StaffUser).where(StaffUser.username == username,
                                                     StaffUser.active.is_(True)))
        if user is None:
            raise StaffError(f"no active staff user {username!r}")
        return user

    def complaint(self, ticket: str, user: StaffUser) -> Complaint:
        c = self.complaints.by_ticket(ticket)
        if c is None:
            raise StaffError(f"no complaint {ticket}")
        if user.role != "admin" and c.agency != user.agency:
            raise StaffError(f"{ticket} belongs to {c.agency}, not to {user.agency}")
        return c

    def set_status(self, ticket: str, to_status: str, username: str, note: str | None = None) -> Woken:
        user = self.staff(username)
        c = self.complaint(ticket, user)
        if to_status == "ditolak" and not (note and note.strip()):
            raise StaffError("a rejection needs a reason (--note)")
        try:
            event = self.complaints.change_status(c, to_status, actor=f"staff:{user.username}",
                                                  note=note, staff_user_id=user.id)
        except ComplaintError as exc:
            raise StaffError(str(exc)) from None
        self.s.flush()
        conv = notify_status_change(self.s, self.settings, c, event)
        return Woken((conv,) if conv else ())

    def note(self, ticket: str, text: str, username: str) -> None:
        user = self.staff(username)
        c = self.complaint(ticket, user)
        self.s.add(ComplaintEvent(complaint_id=c.id, kind="note", note=text, actor=f"staff:{user.username}",
                                  staff_user_id=user.id, created_at=utcnow()))

    def reply_to_complaint(self, ticket: str, text: str, username: str) -> Woken:
        user = self.staff(username)
        c = self.complaint(ticket, user)
        if not text.strip():
            raise StaffError("the reply is empty")
        conv = self.s.get(Conversation, c.conversation_id) if c.conversation_id else None
        if conv is None:
            raise StaffError(f"{ticket} has no conversation to reply in")
        self.s.add(ComplaintEvent(complaint_id=c.id, kind="reply", note=text, actor=f"staff:{user.username}",
                                  staff_user_id=user.id, created_at=utcnow()))
        lang = c.language or self.settings.default_language
        queue_reply(self.s, self.settings.outbox, conv, render("staff_reply", lang, text=text.strip()),
                    template="staff_reply", template_vars={"1": c.ticket}, kind="notification")
        return Woken((conv.id,))

    # -- conversations -----------------------------------------------------------------
    def handover_queue(self) -> list[Conversation]:
        """Conversations with a person (waiting or taken), longest untouched first."""
        return list(self.s.scalars(select(Conversation).where(Conversation.handover.is_(True))
                                   .order_by(Conversation.updated_at)))

    def take_over(self, conversation_id: int, username: str) -> None:
        self.staff(username)
        conv = self._conversation(conversation_id)
        save_state(conv, load_state(conv).taken_by(username, utcnow()))

    def reply(self, conversation_id: int, text: str, username: str) -> Woken:
        self.staff(username)
        conv = self._conversation(conversation_id)
        if not text.strip():
            raise StaffError("the reply is empty")
        lang = conv.language or self.settings.default_language
        queue_reply(self.s, self.settings.outbox, conv, render("staff_reply", lang, text=text.strip()))
        return Woken((conv.id,))

    def release(self, conversation_id: int, username: str) -> Woken:
        """Hand the conversation back to the bot and tell the citizen."""
        self.staff(username)
        conv = self._conversation(conversation_id)
        state = load_state(conv)
        if state.handover is None:
            raise StaffError(f"conversation {conversation_id} is not with staff")
        save_state(conv, state.release())
        lang = conv.language or self.settings.default_language
        queue_reply(self.s, self.settings.outbox, conv, render("handover_ended", lang))
        return Woken((conv.id,))

    def transcript(self, conversation_id: int) -> list[Message]:
        self._conversation(conversation_id)
        return list(self.s.scalars(select(Message).where(Message.conversation_id == conversation_id)
                                   .order_by(Message.id)))

    def _conversation(self, conversation_id: int) -> Conversation:
        # Locked like a worker locks it: a take-over or release must not race the worker that
        # is saving the same conversation's state.
        conv = self.s.get(Conversation, conversation_id, with_for_update=True)
        if conv is None:
            raise StaffError(f"no conversation {conversation_id}")
        return conv

    def overdue(self) -> list[Complaint]:
        now = utcnow()
        return list(self.s.scalars(select(Complaint).where(
            Complaint.due_at.is_not(None), Complaint.due_at < now,
            Complaint.status.not_in(CLOSED)).order_by(Complaint.due_at)))
