"""What staff do with complaints and conversations (the console and the CLI call this)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from bot.casework import duplicates
from bot.casework.accounts import sees_every_agency
from bot.casework.complaints import CLOSED, ComplaintError, ComplaintService, NewComplaint
from bot.casework.conversation_state import load_state, save_state
from bot.casework.notifications import notify_followers, notify_status_change
from bot.casework.queues import save_routed, served_queues
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


@dataclass(frozen=True, slots=True)
class Woken:
    """Conversations with new outbound messages (to hand to the queue)."""

    conversation_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Filed(Woken):
    """A complaint staff filed from a conversation (its ticket), and the conversation to wake."""

    ticket: str


@dataclass(frozen=True, slots=True)
class ComplaintEdit:
    """What a complaint should say after a correction (the whole form, not a difference)."""

    category: str
    description: str
    location_text: str | None
    latitude: float | None
    longitude: float | None
    #: Send it to the new category's agency too (otherwise the agency stays).
    follow_category: bool = False
    #: "beri tahu warga": tell the citizen (internal corrections are silent by default).
    notify: bool = False


@dataclass(frozen=True, slots=True)
class StaffDraft:
    """A complaint staff file from a conversation."""

    category: str
    description: str
    location_text: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    #: The citizen's messages it comes from (the latest is its source; their photos go with it).
    message_ids: tuple[int, ...] = ()


MAX_DESCRIPTION = 8000
MAX_LOCATION = 500
MAX_REASON = 1000
#: The history note of a correction the citizen was told of.
NOTIFIED = "Warga diberi tahu."


def one_newline(text: str) -> str:
    """Browsers send a textarea's line breaks as CRLF; stored text uses LF, so an unchanged
    description compares equal and is not recorded as a change."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_point(latitude: float | None, longitude: float | None) -> tuple[float, float] | None:
    """A map point, both coordinates or neither, within the globe's bounds."""
    if latitude is None and longitude is None:
        return None
    if latitude is None or longitude is None:
        raise StaffError("Isi lintang dan bujur keduanya, atau kosongkan keduanya.")
    if not (math.isfinite(latitude) and math.isfinite(longitude)
            and -90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise StaffError("Koordinat di luar batas (lintang -90..90, bujur -180..180).")
    return latitude, longitude


def place_text(text: str | None, latitude: float | None, longitude: float | None) -> str | None:
    """A location as history shows it: "Jl. Salemba 5 (-6.19, 106.85)"."""
    parts = [text] if text else []
    if latitude is not None and longitude is not None:
        parts.append(f"({latitude:g}, {longitude:g})")
    return " ".join(parts) or None


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
        # Another agency's ticket looks exactly like one that does not exist (the console
        # answers 404 for both, so ticket numbers cannot be probed).
        if c is None or not (sees_every_agency(user) or c.agency == user.agency):
            raise NotVisible(f"no complaint {ticket}")
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

    # -- working a complaint (issue 12, item 2) --------------------------------------------
    def edit(self, ticket: str, username: str, wanted: ComplaintEdit) -> Woken:
        """Correct category, description and location; one history row per changed field.

        The agency stays unless ``wanted.follow_category`` (then the new category's agency takes
        it, recorded as a re-route); the citizen hears of it only when ``wanted.notify``.
        """
        user = self.staff(username)
        c = self.complaint(ticket, user)
        description = one_newline(wanted.description).strip()
        if not description:
            raise StaffError("Keterangan tidak boleh kosong.")
        if len(description) > MAX_DESCRIPTION:
            raise StaffError(f"Keterangan terlalu panjang (paling banyak {MAX_DESCRIPTION} karakter).")
        try:
            cat = self.complaints.category(wanted.category)
        except ComplaintError:
            raise StaffError(f"Kategori tidak dikenal: {wanted.category}") from None
        location_text = (wanted.location_text or "").strip() or None
        if location_text and len(location_text) > MAX_LOCATION:
            raise StaffError(f"Lokasi terlalu panjang (paling banyak {MAX_LOCATION} karakter).")
        point = check_point(wanted.latitude, wanted.longitude)
        changes: list[tuple[str, str | None, str | None]] = []
        if cat.name != c.category:
            changes.append(("category", c.category, cat.name))
        if description != c.description:
            changes.append(("description", c.description, description))
        old_place = place_text(c.location_text, c.latitude, c.longitude)
        new_place = place_text(location_text, *(point or (None, None)))
        if new_place != old_place:
            changes.append(("location", old_place, new_place))
        move_to = cat.agency if wanted.follow_category and cat.agency != c.agency else None
        if not changes and move_to is None:
            raise StaffError("Tidak ada yang berubah.")
        now = utcnow()
        note = NOTIFIED if wanted.notify else None
        for name, old, new in changes:
            self.s.add(ComplaintEvent(complaint_id=c.id, kind="edit", field=name, old_value=old,
                                      new_value=new, note=note, actor=f"staff:{user.username}",
                                      staff_user_id=user.id, created_at=now))
        c.category, c.description, c.location_text = cat.name, description, location_text
        c.latitude, c.longitude = point if point else (None, None)
        c.updated_at = now
        if move_to is not None:
            self._move(c, user, move_to, "Mengikuti kategori baru.", now)
        if not wanted.notify:
            return Woken(())
        told = [(name, new) for name, _, new in changes]
        if move_to is not None:
            told.append(("agency", move_to))
        return self._tell(c, "complaint_corrected", changes=told)

    def reroute(self, ticket: str, username: str, agency: str, reason: str) -> None:
        """Disposisi: send the complaint to another agency, with the reason on record.

        Staff of the owning agency, supervisors and admins may; afterwards the complaint is out
        of the old agency's sight (their list and their 404s)."""
        user = self.staff(username)
        c = self.complaint(ticket, user)
        reason = reason.strip()
        if not reason:
            raise StaffError("Disposisi perlu alasan.")
        if len(reason) > MAX_REASON:
            raise StaffError(f"Alasan terlalu panjang (paling banyak {MAX_REASON} karakter).")
        if agency not in self.complaints.agencies():
            raise StaffError(f"Instansi tidak dikenal: {agency}")
        if agency == c.agency:
            raise StaffError(f"{c.ticket} sudah di {agency}.")
        self._move(c, user, agency, reason, utcnow())

    def assign(self, ticket: str, username: str, assignee: str | None) -> None:
        """Assign the complaint to a staff member of its agency (or to oneself); None unassigns."""
        user = self.staff(username)
        c = self.complaint(ticket, user)
        person: StaffUser | None = None
        if assignee:
            person = self.s.scalar(select(StaffUser).where(StaffUser.username == assignee,
                                                           StaffUser.active.is_(True)))
            if person is None or not (person.id == user.id or person.agency == c.agency):
                raise StaffError(f"{assignee} bukan petugas aktif {c.agency}.")
        if (person.id if person else None) == c.assigned_to_id:
            raise StaffError("Penugasan tidak berubah.")
        self._assign(c, user, person, None, utcnow())

    def assignable(self, c: Complaint) -> list[StaffUser]:
        """Who the complaint may be assigned to: the active staff of its agency."""
        return list(self.s.scalars(select(StaffUser).where(
            StaffUser.agency == c.agency, StaffUser.active.is_(True)).order_by(StaffUser.username)))

    def file_from_conversation(self, conversation_id: int, username: str, draft: StaffDraft) -> Filed:
        """File what the bot did not: a complaint from a conversation, told to the citizen.

        The citizen's selected messages give the source (the latest of them) and their photos."""
        user = self.staff(username)
        conv = self._conversation(conversation_id, user)
        description = one_newline(draft.description).strip()
        if not description:
            raise StaffError("Keterangan tidak boleh kosong.")
        if len(description) > MAX_DESCRIPTION:
            raise StaffError(f"Keterangan terlalu panjang (paling banyak {MAX_DESCRIPTION} karakter).")
        location_text = (draft.location_text or "").strip() or None
        if location_text and len(location_text) > MAX_LOCATION:
            raise StaffError(f"Lokasi terlalu panjang (paling banyak {MAX_LOCATION} karakter).")
        point = check_point(draft.latitude, draft.longitude)
        if self.settings.complaints.category(draft.category) is None:
            raise StaffError(f"Kategori tidak dikenal: {draft.category}")
        chosen = list(self.s.scalars(select(Message).where(
            Message.conversation_id == conv.id, Message.direction == "in",
            Message.id.in_(draft.message_ids)).order_by(Message.id))) if draft.message_ids else []
        if len(chosen) != len(set(draft.message_ids)):
            raise StaffError("Pesan yang dipilih bukan pesan warga di percakapan ini.")
        source = chosen[-1].id if chosen else None
        if source is not None and self.s.scalar(select(Complaint.id).where(Complaint.source_message_id == source)):
            source = None   # that message already filed a ticket; this one stands on its own
        media = tuple({"url": item.get("url"), "content_type": item.get("content_type"),
                       "caption": item.get("caption")} for m in chosen for item in (m.media or []))
        c = self.complaints.file(NewComplaint(
            contact_id=conv.contact_id, conversation_id=conv.id, source_message_id=source,
            channel=conv.channel, category=draft.category, description=description,
            language=conv.language or self.settings.default_language, location_text=location_text,
            latitude=point[0] if point else None, longitude=point[1] if point else None, media=media),
            actor=f"staff:{user.username}", staff_user_id=user.id)
        self.s.flush()
        self._record(conv, user, "file", None, c.created_at)
        lang = c.language or self.settings.default_language
        msg = queue_reply(self.s, self.settings.outbox, conv,
                          render("complaint_filed_by_staff", lang, ticket=c.ticket,
                                 category=name_of("category_names", c.category, lang), agency=c.agency),
                          template="staff_reply", template_vars={"1": c.ticket}, kind="notification")
        msg.staff_user_id = user.id
        return Filed((conv.id,), c.ticket)

    def _move(self, c: Complaint, user: StaffUser, agency: str, reason: str, now: datetime) -> None:
        self.s.add(ComplaintEvent(complaint_id=c.id, kind="reroute", field="agency", old_value=c.agency,
                                  new_value=agency, note=reason, actor=f"staff:{user.username}",
                                  staff_user_id=user.id, created_at=now))
        c.agency = agency
        c.updated_at = now
        if c.assigned_to_id is not None:
            # The old agency's assignee cannot open it any more: it waits for the new agency.
            person = self.s.get(StaffUser, c.assigned_to_id)
            if person is not None and person.agency is not None and person.agency != agency:
                self._assign(c, user, None, "Dilepas karena disposisi ke instansi lain.", now)

    def _assign(self, c: Complaint, user: StaffUser, person: StaffUser | None, note: str | None,
                now: datetime) -> None:
        old = self.s.get(StaffUser, c.assigned_to_id) if c.assigned_to_id is not None else None
        self.s.add(ComplaintEvent(complaint_id=c.id, kind="assign", field="assignee",
                                  old_value=old.username if old else None,
                                  new_value=person.username if person else None, note=note,
                                  actor=f"staff:{user.username}", staff_user_id=user.id, created_at=now))
        c.assigned_to_id = person.id if person else None
        c.updated_at = now

    def _tell(self, c: Complaint, key: str, changes: list[tuple[str, str | None]]) -> Woken:
        """Queue a message about the complaint on the citizen's conversation (their channel)."""
        conv = self.s.get(Conversation, c.conversation_id) if c.conversation_id else None
        if conv is None:
            raise StaffError(f"{c.ticket} tidak punya percakapan untuk memberi tahu warga.")
        lang = c.language or self.settings.default_language
        said = "; ".join(
            f"{name_of('field_names', name, lang)}: "
            f"{name_of('category_names', value or '', lang) if name == 'category' else value or '-'}"
            for name, value in changes)
        queue_reply(self.s, self.settings.outbox, conv, render(key, lang, ticket=c.ticket, changes=said),
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
