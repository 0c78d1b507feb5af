"""What staff do with complaints and conversations (the console and the CLI call this)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from bot.casework import duplicates
from bot.casework.accounts import sees_every_agency
from bot.casework.complaints import CLOSED, ComplaintError, ComplaintService
from bot.casework.conversation_state import load_state, save_state
from bot.casework.notifications import notify_followers, notify_status_change
from bot.dialogue.texts import name_of, render
from bot.pipeline.outbox import queue_reply
from bot.settings import Settings
from bot.store.models import (
    Complaint,
    ComplaintEvent,
    ComplaintFollower,
    Conversation,
    ConversationEvent,
    Message,
    StaffUser,
    utcnow,
)


class StaffError(Exception):
    """A staff action was refused; the message says why."""


class NotVisible(StaffError):
    """The conversation does not exist or is outside the staff member's scope (the console
    answers 404 for both, so ids cannot be probed)."""


def staff_reply_text(lang: str, text: str, ticket: str | None) -> str:
    """A staff member's words as the citizen gets them, on every channel: labelled with the
    ticket they concern ("[WRG-2026-000123] Petugas: ..."), when there is one."""
    if ticket:
        return render("staff_reply_ticket", lang, ticket=ticket, text=text.strip())
    return render("staff_reply", lang, text=text.strip())


def visible_conversations(user: StaffUser) -> Any:
    """A WHERE clause: the conversations ``user`` may open, take, reply to and release.

    Admins and supervisors: all. Staff: those linked to a complaint of their agency (as its citizen or
    a follower), and those waiting in the handover queue (every staff member serves the one queue there is today).
    """
    if sees_every_agency(user):
        return Conversation.id.is_not(None)
    linked = exists().where(Complaint.conversation_id == Conversation.id, Complaint.agency == user.agency)
    # A citizen who joined a complaint as its follower told their part in their own conversation.
    following = exists().where(ComplaintFollower.conversation_id == Conversation.id,
                               ComplaintFollower.complaint_id == Complaint.id, Complaint.agency == user.agency)
    return or_(Conversation.handover.is_(True), linked, following)


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
        if not sees_every_agency(user) and c.agency != user.agency:
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
        followers = notify_followers(self.s, self.settings, c, event)
        return Woken(((conv,) if conv else ()) + tuple(followers))

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
        queue_reply(self.s, self.settings.outbox, conv, staff_reply_text(lang, text, c.ticket),
                    template="staff_reply", template_vars={"1": c.ticket}, kind="notification")
        return Woken((conv.id,))

    # -- conversations -----------------------------------------------------------------
    def handover_queue(self) -> list[Conversation]:
        """Conversations with a person (waiting or taken), longest untouched first."""
        return list(self.s.scalars(select(Conversation).where(Conversation.handover.is_(True))
                                   .order_by(Conversation.updated_at)))

    def take_over(self, conversation_id: int, username: str) -> None:
        user = self.staff(username)
        conv = self._conversation(conversation_id, user)
        now = utcnow()
        save_state(conv, load_state(conv).taken_by(username, now))
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
            save_state(conv, state.taken_by(username, now))
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

    def overdue(self) -> list[Complaint]:
        now = utcnow()
        return list(self.s.scalars(select(Complaint).where(
            Complaint.due_at.is_not(None), Complaint.due_at < now,
            Complaint.status.not_in(CLOSED)).order_by(Complaint.due_at)))

    # -- duplicates ----------------------------------------------------------------------
    def mark_duplicate(self, ticket: str, original_ticket: str, username: str) -> Woken:
        """Close ``ticket`` as a duplicate of ``original_ticket`` (or of the complaint that one is
        a duplicate of): its citizen and followers follow the original and are told its number.

        Both must be visible to the staff member (else :class:`NotVisible`). Recorded on both:
        the duplicate's closing status change (note "duplikat dari WRG-...") and a "duplicate"
        event on the original.
        """
        user = self.staff(username)
        dup = self._visible_complaint(ticket, user)
        original = self._visible_complaint(original_ticket, user)
        root = duplicates.root_of(self.s, original)
        if not sees_every_agency(user) and root.agency != user.agency:
            raise NotVisible(f"no complaint {original_ticket}")
        if root.id == dup.id:
            raise StaffError(f"{dup.ticket} cannot be a duplicate of itself")
        if dup.duplicate_of_id is not None:
            first = self.s.get(Complaint, dup.duplicate_of_id)
            raise StaffError(f"{dup.ticket} is already a duplicate of {first.ticket if first else '?'}")
        if dup.status in CLOSED:
            raise StaffError(f"{dup.ticket} is already closed ({dup.status})")
        closing = self._duplicate_status()
        now = utcnow()
        actor = f"staff:{user.username}"
        self.s.add(ComplaintEvent(complaint_id=dup.id, kind="status", from_status=dup.status,
                                  to_status=closing, note=f"duplikat dari {root.ticket}", actor=actor,
                                  staff_user_id=user.id, created_at=now))
        self.s.add(ComplaintEvent(complaint_id=root.id, kind="duplicate",
                                  note=f"{dup.ticket} duplikat dari laporan ini", actor=actor,
                                  staff_user_id=user.id, created_at=now))
        # Marking a duplicate is its own action: it closes from any open status, whatever the
        # workflow's transitions allow staff to choose by hand.
        dup.status, dup.due_at, dup.updated_at, dup.duplicate_of_id = closing, None, now, root.id
        joining = [(dup.contact_id, dup.conversation_id)] + [
            (f.contact_id, f.conversation_id) for f in duplicates.followers(self.s, dup)]
        woken: list[int] = []
        for contact_id, conv_id in joining:
            duplicates.add_follower(self.s, root, contact_id, conv_id)
            conv = self.s.get(Conversation, conv_id, with_for_update=True) if conv_id else None
            if conv is None or conv.id in woken:
                continue
            lang = conv.language or dup.language or self.settings.default_language
            status = name_of("status_names", root.status, lang)
            queue_reply(self.s, self.settings.outbox, conv,
                        render("duplicate_marked", lang, ticket=dup.ticket, original=root.ticket, status=status),
                        template="status_changed", kind="notification",
                        template_vars={"1": dup.ticket, "2": f"{name_of('status_names', closing, lang)} "
                                                             f"({root.ticket})"})
            woken.append(conv.id)
        self.s.flush()
        return Woken(tuple(woken))

    def _visible_complaint(self, ticket: str, user: StaffUser) -> Complaint:
        c = self.complaints.by_ticket(ticket.strip())
        if c is None or (not sees_every_agency(user) and c.agency != user.agency):
            raise NotVisible(f"no complaint {ticket}")
        return c

    def _duplicate_status(self) -> str:
        """The status a duplicate is closed with: "ditolak", or the workflow's first final status."""
        transitions = self.settings.complaints.transitions
        if "ditolak" in transitions:
            return "ditolak"
        final = [status for status, nexts in transitions.items() if not nexts]
        if not final:
            raise StaffError("the workflow has no final status to close a duplicate with")
        return final[0]
