"""Conversations: the handover queues, delivery problems, a conversation with its live
transcript, taking over and replying."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import abort, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from bot.casework import local_time
from bot.casework.canned_replies import canned_replies
from bot.casework.complaint_page import button_titles
from bot.casework.conversation_state import handover_of
from bot.casework.queues import queue_rows, reason_in_words
from bot.casework.staff import NotVisible, StaffService
from bot.casework.staff_conversations import visible_conversations
from bot.casework.transcripts import is_not_understood
from bot.store.models import Complaint, Conversation, Message
from bot.web.console.blueprint import bp
from bot.web.console.casework import file_form
from bot.web.console.common import (
    act,
    console_now,
    current_runtime,
    login_required,
    names_of_staff,
    scoped,
)
from bot.web.console.labels import console_language, label

#: Most messages one poll of the live transcript returns (the page asks again for the rest).
LIVE_BATCH = 100


@bp.get("/conversations")
@login_required
def conversations() -> Any:
    visible = visible_conversations(g.user)
    with current_runtime().sessions() as s:
        rows = queue_rows(s, g.user)
        # Replies that could not be sent, and citizen messages whose processing failed for good:
        # only those of conversations this staff member may open.
        problems = s.scalars(select(Message).join(Conversation, Message.conversation_id == Conversation.id)
                             .where(Message.status.in_(("failed", "held")), visible)
                             .order_by(Message.id.desc()).limit(100)).all()
        # Unparseable requests belong to no conversation: admins only.
        unparseable = s.scalars(select(Message).where(Message.kind == "unparseable")
                                .order_by(Message.id.desc()).limit(50)).all() if g.user.role == "admin" else []
    queues: dict[str | None, list[Any]] = {}
    for row in rows:
        queues.setdefault(row.queue, []).append(row)
    # Agencies' queues by name, the intake queue last.
    ordered = sorted(queues.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    return render_template("console/conversations.html", queues=ordered, now=console_now(),
                           reason=lambda r: reason_in_words(r, console_language()),
                           problems=problems, unparseable=unparseable)


@bp.app_context_processor
def _transcript_helpers() -> dict[str, Any]:
    # Every transcript (conversation and complaint pages) marks what the bot did not understand.
    return {"not_understood": lambda nlu: is_not_understood(nlu, current_runtime().settings.nlu.threshold)}


@bp.app_template_filter("waited")
def _waited(since: Any, now: Any) -> str:
    """How long since ``since``, e.g. "2 j 05 m" (English "2 h 05 m") / "7 m"."""
    if since is None:
        return "-"
    minutes = max(int((now - since).total_seconds() // 60), 0)
    hours, minutes = divmod(minutes, 60)
    hour = "h" if console_language() == "en" else "j"
    return f"{hours} {hour} {minutes:02d} m" if hours else f"{minutes} m"


@bp.get("/conversations/<int:conv_id>")
@login_required
def conversation(conv_id: int) -> Any:
    rt = current_runtime()
    with rt.sessions() as s:
        svc = StaffService(s, rt.settings)
        try:
            svc.visible(conv_id, g.user)
        except NotVisible:
            abort(404)
        conv = s.get(Conversation, conv_id, options=[joinedload(Conversation.address)])
        transcript = s.scalars(select(Message).where(Message.conversation_id == conv_id).order_by(Message.id)).all()
        complaints = s.scalars(scoped(select(Complaint).where(Complaint.contact_id == conv.contact_id))
                               .order_by(Complaint.id.desc())).all()
        events = svc.events(conv_id)
        staff_names = names_of_staff(s, {m.staff_user_id for m in transcript if m.staff_user_id})
        handover = handover_of(conv)
    language = conv.language or rt.settings.default_language
    return render_template("console/conversation.html", conv=conv, transcript=transcript, complaints=complaints,
                           events=events, staff_names=staff_names, titles=button_titles(transcript),
                           file_form=file_form(transcript), handover=handover,
                           reason=reason_in_words(handover.reason, console_language()) if handover else "",
                           canned=canned_replies(rt.settings.knowledge_dir, language),
                           last_id=transcript[-1].id if transcript else 0)


@bp.get("/conversations/<int:conv_id>/messages")
@login_required
def conversation_messages(conv_id: int) -> Any:
    """The conversation's messages after ``after`` (a message id), for the page's live
    transcript: one indexed query (conversation_id, id) after the scope check."""
    after_raw = request.args.get("after", "0") or "0"
    if not re.fullmatch(r"[0-9]{1,18}", after_raw):
        abort(400, "after must be a message id.")
    rt = current_runtime()
    with rt.sessions() as s:
        try:
            conv = StaffService(s, rt.settings).visible(conv_id, g.user)
        except NotVisible:
            abort(404)
        rows = s.scalars(select(Message).where(Message.conversation_id == conv_id, Message.id > int(after_raw))
                         .order_by(Message.id).limit(LIVE_BATCH)).all()
        staff_names = names_of_staff(s, {m.staff_user_id for m in rows if m.staff_user_id})
        handover = handover_of(conv)
    zone, threshold = rt.settings.timezone, rt.settings.nlu.threshold
    return jsonify(
        messages=[{
            "id": m.id, "direction": m.direction, "channel": m.channel, "kind": m.kind, "text": m.text,
            "status": m.status if m.direction == "out" else None,
            "at": local_time.local(m.created_at, zone, local_time.WITH_SECONDS),
            "staff": staff_names.get(m.staff_user_id) if m.staff_user_id else None,
            "intent": (m.nlu or {}).get("intent") if m.direction == "in" else None,
            "confidence": (m.nlu or {}).get("confidence") if m.direction == "in" else None,
            "not_understood": m.direction == "in" and is_not_understood(m.nlu, threshold),
        } for m in rows],
        handover=None if handover is None else {"reason": handover.reason, "taken_by": handover.staff})


@bp.post("/conversations/<int:conv_id>/<action>")
@login_required
def conversation_action(conv_id: int, action: str) -> Any:
    text = request.form.get("text", "")
    actions: dict[str, tuple[Callable[[StaffService], Any], str]] = {
        "take": (lambda svc: svc.take_over(conv_id, g.user.username), label("flash.taken")),
        "reply": (lambda svc: svc.reply(conv_id, text, g.user.username), label("flash.replied")),
        "release": (lambda svc: svc.release(conv_id, g.user.username), label("flash.released")),
    }
    if action not in actions:
        abort(404)
    act(*actions[action])
    return redirect(url_for("console.conversation", conv_id=conv_id))
