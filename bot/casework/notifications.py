"""Tell citizens about their complaints: status changes, and the rating question on Selesai."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.casework.conversation_state import load_state, save_state
from bot.casework.duplicates import follower_conversations
from bot.dialogue.texts import name_of, render
from bot.pipeline.replies import queue_reply
from bot.settings import Settings
from bot.store.models import Complaint, ComplaintEvent, Conversation
from channels.base import Button

RESOLVED = "selesai"


def notify_status_change(session: Session, settings: Settings, complaint: Complaint,
                         event: ComplaintEvent) -> int | None:
    """Queue the notification for a status change; return the conversation to wake, if any."""
    if complaint.conversation_id is None:
        return None
    conv = session.get(Conversation, complaint.conversation_id, with_for_update=True)
    if conv is None:
        return None
    lang = complaint.language or settings.default_language
    values = dict(ticket=complaint.ticket, category=name_of("category_names", complaint.category, lang),
                  status=name_of("status_names", event.to_status or "", lang))
    if event.to_status == RESOLVED:
        text = render("status_resolved_rate", lang, ticket=complaint.ticket,
                      days=f"{settings.complaints.reopen_days:g}")
        # The ticket rides in the payload: a button pressed after the citizen moved on still
        # rates the right complaint (issue 11).
        buttons = [Button(str(n), f"rate:{complaint.ticket}:{n}") for n in range(1, 6)]
        save_state(conv, load_state(conv).await_rating(complaint.ticket))
    else:
        text = (render("status_changed_note", lang, note=event.note, **values) if event.note
                else render("status_changed", lang, **values))
        buttons = []
    queue_reply(session, settings.outbox, conv, text, buttons=buttons, template="status_changed",
                kind="notification", template_vars={"1": complaint.ticket, "2": values["status"]})
    return conv.id


def notify_followers(session: Session, settings: Settings, complaint: Complaint,
                     event: ComplaintEvent) -> list[int]:
    """Tell the complaint's followers of a status change, each on the conversation they joined
    from and in its language; return the conversations to wake.

    Followers are told the news but are not asked to rate: the rating belongs to the owner.
    Opt-outs and unreachable contacts are kept at sending time (the outbox holds those back).
    """
    woken = []
    for conv in follower_conversations(session, complaint):
        lang = conv.language or settings.default_language
        values = dict(ticket=complaint.ticket, category=name_of("category_names", complaint.category, lang),
                      status=name_of("status_names", event.to_status or "", lang))
        text = (render("status_changed_note", lang, note=event.note, **values) if event.note
                else render("status_changed", lang, **values))
        queue_reply(session, settings.outbox, conv, text, template="status_changed", kind="notification",
                    template_vars={"1": complaint.ticket, "2": values["status"]})
        woken.append(conv.id)
    return woken
