"""Conversations: the handover queue, delivery problems, a transcript, taking over and replying."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from bot.casework.complaint_page import button_titles
from bot.casework.conversation_state import handover_of
from bot.casework.staff import NotVisible, StaffService, visible_conversations
from bot.store.models import Complaint, Conversation, Message
from bot.web.console.blueprint import bp
from bot.web.console.casework import file_form
from bot.web.console.common import act, current_runtime, login_required, names_of_staff, scoped


@bp.get("/conversations")
@login_required
def conversations() -> Any:
    visible = visible_conversations(g.user)
    with current_runtime().sessions() as s:
        # The template shows each conversation's address: load it here, inside the session.
        waiting = s.scalars(select(Conversation).where(Conversation.handover.is_(True))
                            .options(joinedload(Conversation.address))
                            .order_by(Conversation.updated_at)).all()
        # Replies that could not be sent, and citizen messages whose processing failed for good:
        # only those of conversations this staff member may open.
        problems = s.scalars(select(Message).join(Conversation, Message.conversation_id == Conversation.id)
                             .where(Message.status.in_(("failed", "held")), visible)
                             .order_by(Message.id.desc()).limit(100)).all()
        # Unparseable requests belong to no conversation: admins only.
        unparseable = s.scalars(select(Message).where(Message.kind == "unparseable")
                                .order_by(Message.id.desc()).limit(50)).all() if g.user.role == "admin" else []
        handovers = {conv.id: handover_of(conv) for conv in waiting}
    return render_template("console/conversations.html", waiting=waiting, handovers=handovers,
                           problems=problems, unparseable=unparseable)


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
    return render_template("console/conversation.html", conv=conv, transcript=transcript, complaints=complaints,
                           events=events, staff_names=staff_names, titles=button_titles(transcript),
                           file_form=file_form(transcript))


@bp.post("/conversations/<int:conv_id>/<action>")
@login_required
def conversation_action(conv_id: int, action: str) -> Any:
    text = request.form.get("text", "")
    actions: dict[str, tuple[Callable[[StaffService], Any], str]] = {
        "take": (lambda svc: svc.take_over(conv_id, g.user.username), "Percakapan Anda tangani; bot diam."),
        "reply": (lambda svc: svc.reply(conv_id, text, g.user.username), "Balasan dikirim."),
        "release": (lambda svc: svc.release(conv_id, g.user.username), "Percakapan dikembalikan ke bot."),
    }
    if action not in actions:
        abort(404)
    act(*actions[action])
    return redirect(url_for("console.conversation", conv_id=conv_id))
