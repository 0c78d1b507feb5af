"""What staff do with complaints and conversations (the console and the CLI call this).

:class:`StaffService` holds the work on complaints (status, notes, replies, corrections,
disposisi, assignment, filing from a conversation, duplicates); the work in conversations is
its base, :class:`bot.casework.staff_conversations.ConversationWork`; the actions' inputs,
results and refusals are :mod:`bot.casework.staff_types`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.casework import duplicates
from bot.casework.accounts import sees_every_agency
from bot.casework.complaints import CLOSED, ComplaintError, ComplaintService, NewComplaint
from bot.casework.notifications import notify_followers, notify_status_change
from bot.casework.staff_conversations import ConversationWork, staff_reply_text
from bot.casework.staff_types import (
    MAX_DESCRIPTION,
    MAX_LOCATION,
    MAX_REASON,
    NOTIFIED,
    ComplaintEdit,
    Filed,
    NotVisible,
    StaffDraft,
    StaffError,
    Woken,
    check_point,
    one_newline,
    place_text,
)
from bot.dialogue.texts import name_of, render
from bot.pipeline.replies import queue_reply
from bot.settings import Settings
from bot.store.models import (
    Complaint,
    ComplaintEvent,
    Conversation,
    Message,
    StaffUser,
    utcnow,
)


class StaffService(ConversationWork):
    """What staff do with complaints, and (from :class:`ConversationWork`) in conversations."""

    def __init__(self, session: Session, settings: Settings) -> None:
        super().__init__(session, settings)
        self.complaints = ComplaintService(session, settings.complaints, settings.ticket_prefix, settings.timezone)

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
