"""Complaints: a complaint's page and what staff do to a complaint (the inbox is in inbox.py)."""

from __future__ import annotations

import re
from typing import Any

from flask import flash, g, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from bot.casework.complaints import CLOSED
from bot.casework.duplicates import followers
from bot.dialogue.texts import name_of
from bot.store.models import Complaint, utcnow
from bot.web.console.blueprint import bp
from bot.web.console.casework import complaint_page, stored_media
from bot.web.console.common import (
    act,
    complaint_or_404,
    current_runtime,
    login_required,
)
from bot.web.console.labels import console_language, label


@bp.get("/complaints/<ticket>")
@login_required
def complaint(ticket: str) -> Any:
    rt = current_runtime()
    with rt.sessions() as s:
        c = complaint_or_404(s, ticket)
        shown = complaint_page(s, c)
        dup_facts = duplicate_facts(s, c)
    return render_template("console/complaint.html", c=c, **shown, **dup_facts,
                           nexts=rt.settings.complaints.transitions.get(c.status, ()),
                           now=utcnow(), closed=CLOSED)


@bp.post("/complaints/<ticket>/status")
@login_required
def set_status(ticket: str) -> Any:
    to = request.form.get("status", "")
    note = request.form.get("note", "").strip() or None
    act(
        lambda svc: svc.set_status(ticket, to, g.user.username, note),
        label("flash.status", status=name_of("status_names", to, console_language())),
    )
    return redirect(url_for("console.complaint", ticket=ticket))


@bp.post("/complaints/<ticket>/reply")
@login_required
def reply_complaint(ticket: str) -> Any:
    text = request.form.get("text", "")
    act(lambda svc: svc.reply_to_complaint(ticket, text, g.user.username), label("flash.replied"))
    return redirect(url_for("console.complaint", ticket=ticket))


@bp.post("/complaints/<ticket>/note")
@login_required
def note(ticket: str) -> Any:
    text = request.form.get("text", "").strip()
    if not text:
        flash(label("flash.empty_note"), "error")
    else:
        act(lambda svc: svc.note(ticket, text, g.user.username), label("flash.noted"))
    return redirect(url_for("console.complaint", ticket=ticket))


@bp.get("/media/<int:message_id>/<int:index>")
@login_required
def media(message_id: int, index: int) -> Any:
    stored, item = stored_media(message_id, index)
    # Served as an attachment: a citizen's file is never rendered inside our origin (photos
    # are shown through media_view, which checks they really are images).
    return send_file(stored, mimetype=item.get("content_type") or "application/octet-stream",
                     as_attachment=True, download_name=stored.name)


# -- duplicates: "duplikat dari", the duplicates of a complaint, its followers ---------------------

TICKET_FORM = re.compile(r"[A-Za-z]{2,6}-\d{4}-\d{6}")


def duplicate_facts(s: Any, c: Complaint) -> dict[str, Any]:
    """What the complaint page shows about duplicates: the original this one was closed as a
    duplicate of, the complaints closed as duplicates of it, and the citizens following it."""
    original = s.get(Complaint, c.duplicate_of_id) if c.duplicate_of_id else None
    dups = s.scalars(select(Complaint).where(Complaint.duplicate_of_id == c.id).order_by(Complaint.id)).all()
    return {"original": original, "duplicates": dups, "followers": followers(s, c)}


@bp.post("/complaints/<ticket>/duplicate")
@login_required
def mark_duplicate(ticket: str) -> Any:
    original = request.form.get("original", "").strip().upper()
    if not TICKET_FORM.fullmatch(original):
        flash(label("flash.need_ticket"), "error")
    else:
        act(lambda svc: svc.mark_duplicate(ticket, original, g.user.username),
            label("flash.duplicate", original=original))
    return redirect(url_for("console.complaint", ticket=ticket))
