"""Complaints: the inbox, a complaint's page, and what staff do to a complaint."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from sqlalchemy import func, or_, select

from bot.casework.accounts import sees_every_agency
from bot.casework.complaints import CLOSED
from bot.casework.queues import served_queues
from bot.dialogue.texts import name_of
from bot.store.models import Complaint, Conversation, Message, utcnow
from bot.web.console.blueprint import bp
from bot.web.console.common import (
    PAGE,
    act,
    complaint_or_404,
    current_runtime,
    login_required,
    names_of_staff,
    scoped,
)


@bp.get("/")
@login_required
def index() -> Any:
    rt = current_runtime()
    status = request.args.get("status", "")
    overdue = request.args.get("overdue") == "1"
    q = request.args.get("q", "").strip()
    page_raw = request.args.get("page", "1") or "1"
    if not re.fullmatch(r"[0-9]{1,9}", page_raw):   # ASCII ("²".isdigit() is True) and bounded
        abort(400, "page must be a page number.")
    page = max(int(page_raw), 1)
    stmt = scoped(select(Complaint))
    if status:
        stmt = stmt.where(Complaint.status == status)
    if overdue:
        stmt = stmt.where(Complaint.due_at < utcnow(), Complaint.status.not_in(CLOSED))
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Complaint.ticket.ilike(like), Complaint.description.ilike(like),
                              Complaint.location_text.ilike(like)))
    with rt.sessions() as s:
        total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = s.scalars(stmt.order_by(Complaint.id.desc()).offset((page - 1) * PAGE).limit(PAGE)).all()
        counts = dict(s.execute(scoped(select(Complaint.status, func.count()).group_by(Complaint.status))).all())
        waiting = s.scalar(select(func.count()).select_from(Conversation).where(served_queues(g.user))) or 0
    now = utcnow()
    return render_template("console/index.html", rows=rows, total=total, page=page, pages=(total + PAGE - 1) // PAGE,
                           status=status, overdue=overdue, q=q, counts=counts, waiting=waiting, now=now,
                           statuses=list(rt.settings.complaints.transitions), closed=CLOSED)


@bp.get("/complaints/<ticket>")
@login_required
def complaint(ticket: str) -> Any:
    rt = current_runtime()
    with rt.sessions() as s:
        c = complaint_or_404(s, ticket)
        events = list(c.events)
        transcript = s.scalars(select(Message).where(Message.conversation_id == c.conversation_id)
                               .order_by(Message.id)).all() if c.conversation_id else []
        media = [(m.id, i, item) for m in transcript for i, item in enumerate(m.media or [])]
        staff_names = names_of_staff(s, {m.staff_user_id for m in transcript if m.staff_user_id})
    return render_template("console/complaint.html", c=c, events=events, transcript=transcript,
                           media=media, staff_names=staff_names,
                           nexts=rt.settings.complaints.transitions.get(c.status, ()),
                           now=utcnow(), closed=CLOSED)


@bp.post("/complaints/<ticket>/status")
@login_required
def set_status(ticket: str) -> Any:
    to = request.form.get("status", "")
    note = request.form.get("note", "").strip() or None
    act(
        lambda svc: svc.set_status(ticket, to, g.user.username, note),
        f"Status diubah ke {name_of('status_names', to, 'id')}; warga diberi tahu.",
    )
    return redirect(url_for("console.complaint", ticket=ticket))


@bp.post("/complaints/<ticket>/reply")
@login_required
def reply_complaint(ticket: str) -> Any:
    text = request.form.get("text", "")
    act(lambda svc: svc.reply_to_complaint(ticket, text, g.user.username), "Balasan dikirim.")
    return redirect(url_for("console.complaint", ticket=ticket))


@bp.post("/complaints/<ticket>/note")
@login_required
def note(ticket: str) -> Any:
    text = request.form.get("text", "").strip()
    if not text:
        flash("Catatan kosong.", "error")
    else:
        act(lambda svc: svc.note(ticket, text, g.user.username), "Catatan disimpan.")
    return redirect(url_for("console.complaint", ticket=ticket))


@bp.get("/media/<int:message_id>/<int:index>")
@login_required
def media(message_id: int, index: int) -> Any:
    rt = current_runtime()
    with rt.sessions() as s:
        msg = s.get(Message, message_id)
        if msg is None or msg.direction != "in" or index >= len(msg.media or []):
            abort(404)
        if not sees_every_agency(g.user):
            allowed = s.scalar(select(func.count()).select_from(Complaint).where(
                Complaint.conversation_id == msg.conversation_id, Complaint.agency == g.user.agency))
            if not allowed:
                abort(404)
        item = msg.media[index]
    stored = item.get("stored")
    if not stored or not Path(stored).is_file():
        abort(404, "The file has not been downloaded from the provider yet.")
    # Served as an attachment: a citizen's file is never rendered inside our origin.
    return send_file(stored, mimetype=item.get("content_type") or "application/octet-stream",
                     as_attachment=True, download_name=Path(stored).name)
