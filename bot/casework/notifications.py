"""Tell citizens about their complaints: status changes, and the rating question on Selesai."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from bot.casework.conversation_state import load_state, save_state
from bot.dialogue.texts import name_of, render
from bot.store.models import Complaint, ComplaintEvent, Conversation, Message, utcnow
from bot.settings import Settings

RESOLVED = "selesai"


def queue_outbound(session: Session, settings: Settings, conversation: Conversation, text: str, *,
                   buttons: list[dict[str, str]] | None = None, template: str | None = None,
                   template_vars: dict[str, str] | None = None) -> Message:
    """Put a message in the outbox of ``conversation`` (sent by the workers)."""
    now = utcnow()
    msg = Message(conversation_id=conversation.id, direction="out", channel=conversation.channel,
                  kind="notification" if template else "message", urn=conversation.address.urn,
                  text=text, buttons=buttons or [], template=template, template_vars=template_vars,
                  status="pending", next_attempt_at=now, created_at=now,
                  deadline_at=now + timedelta(minutes=settings.outbox.give_up_after_minutes))
    session.add(msg)
    return msg


def notify_status_change(session: Session, settings: Settings, complaint: Complaint,
                         event: ComplaintEvent) -> int | None:
    """Queue the notification for a status change; return the conversation to wake, if any."""
    if complaint.conversation_id is None:
        return None
    conv = session.get(Conversation, complaint.conversation_id)
    if conv is None:
        return None
    lang = complaint.language or settings.default_language
    values = dict(ticket=complaint.ticket, category=name_of("category_names", complaint.category, lang),
                  status=name_of("status_names", event.to_status or "", lang))
    if event.to_status == RESOLVED:
        text = render("status_resolved_rate", lang, ticket=complaint.ticket,
                      days=f"{settings.complaints.reopen_days:g}")
        buttons = [{"title": str(n), "payload": f"rate:{n}"} for n in range(1, 6)]
        save_state(conv, load_state(conv).await_rating(complaint.ticket))
    else:
        text = (render("status_changed_note", lang, note=event.note, **values) if event.note
                else render("status_changed", lang, **values))
        buttons = []
    queue_outbound(session, settings, conv, text, buttons=buttons, template="status_changed",
                   template_vars={"1": complaint.ticket, "2": values["status"]})
    return conv.id
