"""The database-backed operations the dialogue may use, scoped to one citizen."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.casework import duplicates
from bot.casework.complaints import CLOSED, ComplaintService, FiledComplaint, NewComplaint
from bot.casework.notifications import notify_followers
from bot.dialogue.types import ComplaintDraft, ComplaintView, Duplicate
from bot.settings import Settings
from bot.store.conversation_rows import ConversationView
from bot.store.models import Complaint, ComplaintEvent, utcnow


def view_of(c: Complaint | duplicates.FoundComplaint | FiledComplaint,
            service: ComplaintService | None = None) -> ComplaintView:
    """What the citizen is told of a complaint; the resolution deadline only with ``service``
    (it needs the complaint's filing time)."""
    due = service.resolution_due(c) if service is not None and not isinstance(c, duplicates.FoundComplaint) else None
    return ComplaintView(ticket=c.ticket, category=c.category, agency=c.agency, status=c.status,
                         updated_at=c.updated_at, due_at=c.due_at, resolve_due_at=due)


class DbDialoguePorts:
    """Dialogue ports for the conversation ``conversation`` while handling ``message_id``."""

    def __init__(self, session: Session, settings: Settings, conversation: ConversationView,
                 message_id: int | None) -> None:
        self.s = session
        self.settings = settings
        self.conversation = conversation
        self.message_id = message_id
        self.complaints = ComplaintService(session, settings.complaints, settings.ticket_prefix, settings.timezone)

    def file_complaint(self, draft: ComplaintDraft) -> ComplaintView:
        c = self.complaints.file_for_citizen(NewComplaint(
            contact_id=self.conversation.contact_id, conversation_id=self.conversation.id,
            source_message_id=self.message_id, channel=self.conversation.channel,
            category=draft.category, description=draft.description[:8000], language=draft.language,
            location_text=draft.location_text, latitude=draft.latitude, longitude=draft.longitude,
            media=tuple({"url": m.url, "content_type": m.content_type, "caption": m.caption}
                        for m in draft.media)))
        return view_of(c, self.complaints)

    def own_complaint(self, ticket: str) -> ComplaintView | None:
        c = self.complaints.by_ticket(ticket)
        # Someone else's ticket looks exactly like one that does not exist.
        if c is None or c.contact_id != self.conversation.contact_id:
            return None
        return view_of(c)

    def recent_complaints(self, limit: int) -> list[ComplaintView]:
        rows = self.s.scalars(select(Complaint).where(
            Complaint.contact_id == self.conversation.contact_id)
            .order_by(Complaint.id.desc()).limit(limit))
        return [view_of(c) for c in rows]

    def category_for_intent(self, intent: str | None) -> str | None:
        cat = self.settings.complaints.category_for_intent(intent)
        return cat.name if cat else None

    def categories(self) -> list[str]:
        return [c.name for c in self.settings.complaints.categories]

    def _own(self, ticket: str) -> Complaint | None:
        c = self.complaints.by_ticket(ticket)
        return c if c is not None and c.contact_id == self.conversation.contact_id else None

    def rate(self, ticket: str, rating: int) -> bool:
        c = self._own(ticket)
        if c is None or c.rating is not None:
            return False    # stored once; a reopen clears it for the next resolution
        self.complaints.rate(c, rating)
        return True

    def sla_of(self, category: str) -> tuple[float, float]:
        cat = self.settings.complaints.category(category)
        if cat is None:
            return 0.0, 0.0
        return cat.coordination_hours, cat.resolution_days

    def reopen(self, ticket: str) -> ComplaintView | None:
        c = self._own(ticket)
        if c is None:
            return None
        event = self.complaints.reopen(c)
        if event is not None:
            c.rating = None     # the next resolution is rated afresh
            # Followers hear of it too; the sweeper sends what this job did not wake.
            notify_followers(self.s, self.settings, c, event)
        return None if event is None else view_of(c, self.complaints)

    def reopen_days(self) -> float:
        return self.settings.complaints.reopen_days

    # -- duplicates ----------------------------------------------------------------------------
    def find_duplicate(self, draft: ComplaintDraft) -> Duplicate | None:
        found = duplicates.find_duplicate(
            self.s, self.settings.complaints, draft.category,
            duplicates.Place(draft.location_text, draft.latitude, draft.longitude),
            self.conversation.contact_id)
        if found is None:
            return None
        c, own = found
        where = c.location_text or (f"{c.latitude:.5f}, {c.longitude:.5f}" if c.latitude is not None else "-")
        return Duplicate(view_of(c), where, own)

    def follow(self, ticket: str, draft: ComplaintDraft) -> ComplaintView | None:
        c = self.complaints.by_ticket(ticket)
        if c is None or c.status in CLOSED:
            return None
        note = draft.description.strip()
        if draft.location_text and duplicates.normal_place(draft.location_text) != \
                duplicates.normal_place(c.location_text):
            note += f"\nLokasi: {draft.location_text}"
        self.s.add(ComplaintEvent(complaint_id=c.id, kind="note", note=note[:8000] or "-",
                                  actor="citizen", created_at=utcnow()))
        if draft.media:
            # A new list: the JSON column is not change-tracked.
            c.media = list(c.media or []) + [
                {"url": m.url, "content_type": m.content_type, "caption": m.caption} for m in draft.media]
        duplicates.add_follower(self.s, c, self.conversation.contact_id, self.conversation.id)
        return view_of(c)
