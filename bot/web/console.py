"""The staff console: complaints, transcripts, handover queue, delivery problems.

Staff sign in with the accounts `warga users create` makes. Staff see their agency's
complaints; admins see everything. Every form carries a CSRF token; every citizen-supplied
string is escaped by Jinja's autoescaping.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash

from bot.casework.complaints import CLOSED
from bot.casework.conversation_state import handover_of
from bot.casework.staff import StaffError, StaffService
from bot.dialogue.texts import name_of
from bot.store.models import Complaint, Conversation, Message, StaffUser, utcnow

bp = Blueprint("console", __name__, url_prefix="/console")
F = TypeVar("F", bound=Callable[..., Any])
PAGE = 50


def _rt() -> Any:
    return current_app.extensions["warga"]


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user_id = session.get("staff_id")
        if user_id is None:
            return redirect(url_for("console.login", next=request.path))
        with _rt().sessions() as s:
            user = s.get(StaffUser, user_id)
            if user is None or not user.active:
                session.clear()
                return redirect(url_for("console.login"))
            s.expunge(user)
        g.user = user
        if request.method == "POST":
            token = request.form.get("csrf", "")
            if not hmac.compare_digest(token, session.get("csrf", "")):
                abort(400, "The form expired; reload the page and try again.")
        return view(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"status_name": lambda s: name_of("status_names", s or "", "id"),
            "category_name": lambda c: name_of("category_names", c or "", "id"),
            "csrf": session.get("csrf", "")}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        with _rt().sessions() as s:
            user = s.scalar(select(StaffUser).where(StaffUser.username == username))
            ok = user is not None and user.active and check_password_hash(user.password_hash, password)
            user_id = user.id if ok and user else None
        if user_id is not None:
            session.clear()
            session["staff_id"] = user_id
            session["csrf"] = secrets.token_urlsafe(24)
            target = request.args.get("next", "")
            # Only local paths: never bounce a fresh login to another site.
            return redirect(target if target.startswith("/console") else url_for("console.index"))
        error = "Nama pengguna atau kata sandi salah."
    return render_template("console/login.html", error=error), 401 if error else 200


@bp.post("/logout")
@login_required
def logout() -> Any:
    session.clear()
    return redirect(url_for("console.login"))


def _scope(stmt: Any) -> Any:
    if g.user.role != "admin":
        stmt = stmt.where(Complaint.agency == g.user.agency)
    return stmt


@bp.get("/")
@login_required
def index() -> Any:
    rt = _rt()
    status = request.args.get("status", "")
    overdue = request.args.get("overdue") == "1"
    q = request.args.get("q", "").strip()
    page_raw = request.args.get("page", "1") or "1"
    if not re.fullmatch(r"[0-9]{1,9}", page_raw):   # ASCII ("²".isdigit() is True) and bounded
        abort(400, "page must be a page number.")
    page = max(int(page_raw), 1)
    stmt = _scope(select(Complaint))
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
        counts = dict(s.execute(_scope(select(Complaint.status, func.count()).group_by(Complaint.status))).all())
        waiting = s.scalar(select(func.count()).select_from(Conversation).where(Conversation.handover.is_(True))) or 0
    now = utcnow()
    return render_template("console/index.html", rows=rows, total=total, page=page, pages=(total + PAGE - 1) // PAGE,
                           status=status, overdue=overdue, q=q, counts=counts, waiting=waiting, now=now,
                           statuses=list(rt.settings.complaints.transitions), closed=CLOSED)


def _complaint_or_404(s: Any, ticket: str) -> Complaint:
    c = s.scalar(_scope(select(Complaint).where(Complaint.ticket == ticket.upper())))
    if c is None:
        abort(404)
    return c


@bp.get("/complaints/<ticket>")
@login_required
def complaint(ticket: str) -> Any:
    rt = _rt()
    with rt.sessions() as s:
        c = _complaint_or_404(s, ticket)
        events = list(c.events)
        transcript = s.scalars(select(Message).where(Message.conversation_id == c.conversation_id)
                               .order_by(Message.id)).all() if c.conversation_id else []
        media = [(m.id, i, item) for m in transcript for i, item in enumerate(m.media or [])]
    return render_template("console/complaint.html", c=c, events=events, transcript=transcript,
                           media=media, nexts=rt.settings.complaints.transitions.get(c.status, ()),
                           now=utcnow(), closed=CLOSED)


def _act(action: Callable[[StaffService], Any], ok: str) -> None:
    rt = _rt()
    try:
        with rt.sessions() as s, s.begin():
            woken = action(StaffService(s, rt.settings))
    except StaffError as exc:
        flash(str(exc), "error")
        return
    for conv_id in getattr(woken, "conversation_ids", ()):
        rt.queue.enqueue(conv_id)
    flash(ok, "ok")


@bp.post("/complaints/<ticket>/status")
@login_required
def set_status(ticket: str) -> Any:
    to = request.form.get("status", "")
    note = request.form.get("note", "").strip() or None
    _act(
        lambda svc: svc.set_status(ticket, to, g.user.username, note),
        f"Status diubah ke {name_of('status_names', to, 'id')}; warga diberi tahu.",
    )
    return redirect(url_for("console.complaint", ticket=ticket))


@bp.post("/complaints/<ticket>/reply")
@login_required
def reply_complaint(ticket: str) -> Any:
    text = request.form.get("text", "")
    _act(lambda svc: svc.reply_to_complaint(ticket, text, g.user.username), "Balasan dikirim.")
    return redirect(url_for("console.complaint", ticket=ticket))


@bp.post("/complaints/<ticket>/note")
@login_required
def note(ticket: str) -> Any:
    text = request.form.get("text", "").strip()
    if not text:
        flash("Catatan kosong.", "error")
    else:
        _act(lambda svc: svc.note(ticket, text, g.user.username), "Catatan disimpan.")
    return redirect(url_for("console.complaint", ticket=ticket))


@bp.get("/media/<int:message_id>/<int:index>")
@login_required
def media(message_id: int, index: int) -> Any:
    rt = _rt()
    with rt.sessions() as s:
        msg = s.get(Message, message_id)
        if msg is None or msg.direction != "in" or index >= len(msg.media or []):
            abort(404)
        if g.user.role != "admin":
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


@bp.get("/conversations")
@login_required
def conversations() -> Any:
    with _rt().sessions() as s:
        # The template shows each conversation's address: load it here, inside the session.
        waiting = s.scalars(select(Conversation).where(Conversation.handover.is_(True))
                            .options(joinedload(Conversation.address))
                            .order_by(Conversation.updated_at)).all()
        # Replies that could not be sent, and citizen messages whose processing failed for good.
        problems = s.scalars(select(Message).where(Message.status.in_(("failed", "held")))
            .order_by(Message.id.desc()).limit(100)).all()
        unparseable = s.scalars(select(Message).where(Message.kind == "unparseable")
                                .order_by(Message.id.desc()).limit(50)).all()
        handovers = {conv.id: handover_of(conv) for conv in waiting}
    return render_template("console/conversations.html", waiting=waiting, handovers=handovers,
                           problems=problems, unparseable=unparseable)


@bp.get("/conversations/<int:conv_id>")
@login_required
def conversation(conv_id: int) -> Any:
    with _rt().sessions() as s:
        conv = s.get(Conversation, conv_id, options=[joinedload(Conversation.address)])
        if conv is None:
            abort(404)
        transcript = s.scalars(select(Message).where(Message.conversation_id == conv_id).order_by(Message.id)).all()
        complaints = s.scalars(_scope(select(Complaint).where(Complaint.contact_id == conv.contact_id))
                               .order_by(Complaint.id.desc())).all()
    if g.user.role != "admin" and not complaints and not conv.handover:
        abort(404)
    return render_template("console/conversation.html", conv=conv, transcript=transcript, complaints=complaints)


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
    _act(*actions[action])
    return redirect(url_for("console.conversation", conv_id=conv_id))
