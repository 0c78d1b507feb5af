"""Handover queues: which queue a conversation waiting for a person is in, and who serves it.

A handover waits in an agency's queue when the bot knows the topic: the category of the
complaint being filed, else of the citizen's latest complaint, routed to its agency through
``complaints.categories``. Otherwise it waits in the general intake queue, served by staff
marked ``serves_intake`` and by supervisors and admins. The queue is decided once, when the
handover starts (``Conversation.handover_agency``), so a queue is a WHERE on an indexed column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from bot.casework.accounts import sees_every_agency
from bot.casework.conversation_state import handover_of, save_state
from bot.dialogue.state import DialogueState
from bot.settings.values import ComplaintSettings
from bot.store.conversation_rows import ConversationView
from bot.store.models import Complaint, Conversation, Message, StaffUser

#: Why a conversation waits, in the words staff read (Handover.reason -> Indonesian, English).
REASONS: dict[str, tuple[str, str]] = {
    "requested": ("warga minta petugas", "citizen asked for a person"),
    "not_understood": ("bot tidak paham 2x", "bot did not understand twice"),
    "angry": ("warga marah", "citizen is angry"),
    "staff": ("diambil petugas", "taken by staff"),
}
LAST_MESSAGE_CHARS = 120


def reason_in_words(reason: str | None, language: str = "id") -> str:
    words = REASONS.get(reason or "")
    if words is None:
        return reason or ""
    return words[1] if language == "en" else words[0]


def queue_for(session: Session, complaints: ComplaintSettings, conversation: ConversationView,
              state: DialogueState) -> str | None:
    """The agency whose queue a handover of ``conversation`` waits in; None: intake."""
    category = state.filing.draft.category if state.filing is not None else None
    if category is None:
        category = session.scalar(select(Complaint.category)
                                  .where(Complaint.contact_id == conversation.contact_id)
                                  .order_by(Complaint.id.desc()).limit(1))
    known = complaints.category(category) if category else None
    return known.agency if known is not None else None


def save_routed(session: Session, complaints: ComplaintSettings, conversation: Conversation,
                state: DialogueState) -> None:
    """:func:`save_state`, choosing the queue when this state starts a handover."""
    save_state(conversation, state, routed_queue(session, complaints, conversation, state))


def routed_queue(session: Session, complaints: ComplaintSettings, conversation: ConversationView,
                 state: DialogueState) -> str | None:
    """The queue for :func:`save_state` (or ``state_columns``): chosen only when this state
    starts a handover."""
    starting = state.handover is not None and not conversation.handover
    return queue_for(session, complaints, conversation, state) if starting else None


def served_queues(user: StaffUser) -> Any:
    """A WHERE clause: the handed-over conversations in a queue ``user`` serves."""
    if sees_every_agency(user):
        return Conversation.handover.is_(True)
    mine = Conversation.handover_agency == user.agency if user.agency else false()
    intake = Conversation.handover_agency.is_(None) if user.serves_intake else false()
    return and_(Conversation.handover.is_(True), or_(mine, intake))


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One conversation waiting for (or taken by) a person, as the queue page shows it."""

    conversation_id: int
    channel: str
    urn: str
    queue: str | None            # agency; None: intake
    reason: str
    since: datetime | None
    taken_by: str | None
    last_text: str
    last_at: datetime | None


def queue_rows(session: Session, user: StaffUser) -> list[QueueRow]:
    """Every handover in the queues ``user`` serves, longest waiting first."""
    convs = session.scalars(select(Conversation).where(served_queues(user))
                            .order_by(Conversation.updated_at).limit(500)).all()
    if not convs:
        return []
    ids = [c.id for c in convs]
    # The latest citizen message of each: one grouped query over the (conversation_id, id) index.
    latest = (select(func.max(Message.id)).where(Message.conversation_id.in_(ids), Message.direction == "in")
              .group_by(Message.conversation_id))
    last = {m.conversation_id: m for m in session.scalars(select(Message).where(Message.id.in_(latest)))}
    rows = []
    for conv in convs:
        h = handover_of(conv)
        msg = last.get(conv.id)
        rows.append(QueueRow(conv.id, conv.channel, conv.address.urn, conv.handover_agency,
                             h.reason if h else "", h.since if h else conv.updated_at,
                             h.staff if h else None, (msg.text if msg else "")[:LAST_MESSAGE_CHARS],
                             msg.created_at if msg else None))
    rows.sort(key=lambda r: (r.since is None, r.since))
    return rows
