"""The staff console: complaints, transcripts, handover queue, delivery problems.

Staff sign in with the accounts `warga users create` makes. Staff see their agency's
complaints; supervisors and admins see every agency's (only admins see the unparseable
requests). Every form carries a CSRF token; every citizen-supplied
string is escaped by Jinja's autoescaping.
"""

from __future__ import annotations

import hmac
import math
import re
import secrets
import threading
from collections.abc import Callable
from datetime import datetime
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

from bot.casework.accounts import Accounts, sees_every_agency
from bot.casework.complaints import CLOSED
from bot.casework.conversation_state import handover_of
from bot.casework.staff import NotVisible, StaffError, StaffService, Woken, visible_conversations
from bot.dialogue.texts import name_of
from bot.store.models import Complaint, Conversation, Message, StaffUser, utcnow
from bot.web.limits import client_address

bp = Blueprint("console", __name__, url_prefix="/console")
F = TypeVar("F", bound=Callable[..., Any])
PAGE = 50
#: How long a sign-in waits for a free password-check slot before answering 503.
LOGIN_SLOT_WAIT_SECONDS = 5.0



def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison of a form token (as bytes: hmac refuses non-ASCII str, and a
    client may send anything)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))

def _rt() -> Any:
    return current_app.extensions["warga"]


def _now() -> datetime:
    # Tests set app.extensions["warga.clock"] to decide when time passes (idle expiry, throttles).
    clock: Callable[[], datetime] = current_app.extensions.get("warga.clock", utcnow)
    return clock()


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = session.get("sid")
        if not isinstance(token, str):
            return redirect(url_for("console.login", next=request.path))
        rt = _rt()
        with rt.sessions() as s, s.begin():
            # A revoked (signed out) or idle session ends here, whatever the cookie says.
            user_id = Accounts(s, rt.settings.security).resume(token, _now())
            user = s.get(StaffUser, user_id) if user_id is not None else None
            if user is not None:
                s.expunge(user)
        if user is None or not user.active:
            session.clear()
            return redirect(url_for("console.login", next=request.path))
        g.user = user
        posted = request.form.get("csrf", "") if request.method == "POST" else None
        if posted is not None and not same_token(posted, session.get("csrf", "")):
            abort(400, "The form expired; reload the page and try again.")
        return view(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"status_name": lambda s: name_of("status_names", s or "", "id"),
            "category_name": lambda c: name_of("category_names", c or "", "id"),
            "csrf": session.get("csrf", "")}


WRONG = "Nama pengguna atau kata sandi salah."
LOCKED = ("Akun atau alamat ini dikunci setelah terlalu banyak percobaan gagal. "
          "Minta admin membukanya (warga users unlock).")
SLOW = "Terlalu banyak percobaan gagal. Coba lagi dalam {seconds} detik."
BUSY = "Server sedang sibuk memeriksa kata sandi. Coba lagi sebentar lagi."


def _login_slots() -> threading.BoundedSemaphore:
    # At most security.login_concurrent_checks password hashes at once in this process.
    slots = current_app.extensions.get("warga.login_slots")
    if slots is None:
        slots = current_app.extensions.setdefault(
            "warga.login_slots", threading.BoundedSemaphore(_rt().settings.security.login_concurrent_checks))
    return slots


def _login_page(error: str | None, status: int, retry_after: float = 0) -> Any:
    if "login_csrf" not in session:
        session["login_csrf"] = secrets.token_urlsafe(24)
    resp = current_app.make_response((render_template(
        "console/login.html", error=error, login_csrf=session["login_csrf"]), status))
    if retry_after > 0:
        resp.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return resp


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return _login_page(None, 200)
    expected = session.get("login_csrf")
    if not isinstance(expected, str) or not same_token(request.form.get("csrf", ""), expected):
        abort(400, "The form expired; reload the page and try again.")
    rt = _rt()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    address = client_address()
    now = _now()
    with rt.sessions() as s:
        refused = Accounts(s, rt.settings.security).refusal(username, address, now)
    if refused is not None and refused.locked:
        return _login_page(LOCKED, 403)
    if refused is not None:
        return _login_page(SLOW.format(seconds=max(1, math.ceil(refused.retry_after))), 429, refused.retry_after)
    slots = _login_slots()
    if not slots.acquire(timeout=LOGIN_SLOT_WAIT_SECONDS):
        return _login_page(BUSY, 503, LOGIN_SLOT_WAIT_SECONDS)
    try:
        with rt.sessions() as s:
            user_id = Accounts(s, rt.settings.security).check_password(username, password)
    finally:
        slots.release()
    with rt.sessions() as s, s.begin():
        accounts = Accounts(s, rt.settings.security)
        if user_id is None:
            locked = accounts.record_failure(username, address, now)
        else:
            accounts.forget_failures(username)
            token = accounts.open_session(user_id, now)
    if user_id is None:
        return _login_page(LOCKED if locked else WRONG, 403 if locked else 401)
    session.clear()
    session["sid"] = token
    session["csrf"] = secrets.token_urlsafe(24)
    target = request.args.get("next", "")
    # Only local paths: never bounce a fresh login to another site.
    return redirect(target if target.startswith("/console") else url_for("console.index"))


@bp.post("/logout")
@login_required
def logout() -> Any:
    rt = _rt()
    with rt.sessions() as s, s.begin():
        Accounts(s, rt.settings.security).revoke(session["sid"], _now())
    session.clear()
    return redirect(url_for("console.login"))


def _scope(stmt: Any) -> Any:
    if not sees_every_agency(g.user):
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
        staff_names = _staff_names(s, {m.staff_user_id for m in transcript if m.staff_user_id})
    return render_template("console/complaint.html", c=c, events=events, transcript=transcript,
                           media=media, staff_names=staff_names,
                           nexts=rt.settings.complaints.transitions.get(c.status, ()),
                           now=utcnow(), closed=CLOSED)


def _staff_names(s: Any, ids: set[int | None]) -> dict[int, str]:
    """Usernames of the staff who wrote transcript messages (shown beside each)."""
    if not ids:
        return {}
    return {uid: name for uid, name in s.execute(select(StaffUser.id, StaffUser.username)
                                                 .where(StaffUser.id.in_(ids))).all()}


def _act(action: Callable[[StaffService], Any], ok: str) -> None:
    rt = _rt()
    try:
        with rt.sessions() as s, s.begin():
            woken = action(StaffService(s, rt.settings))
    except NotVisible:
        abort(404)
    except StaffError as exc:
        flash(str(exc), "error")
        return
    # Actions that queued a message for the citizen say which conversations to wake.
    for conv_id in woken.conversation_ids if isinstance(woken, Woken) else ():
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


@bp.get("/conversations")
@login_required
def conversations() -> Any:
    visible = visible_conversations(g.user)
    with _rt().sessions() as s:
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
    rt = _rt()
    with rt.sessions() as s:
        svc = StaffService(s, rt.settings)
        try:
            svc.visible(conv_id, g.user)
        except NotVisible:
            abort(404)
        conv = s.get(Conversation, conv_id, options=[joinedload(Conversation.address)])
        transcript = s.scalars(select(Message).where(Message.conversation_id == conv_id).order_by(Message.id)).all()
        complaints = s.scalars(_scope(select(Complaint).where(Complaint.contact_id == conv.contact_id))
                               .order_by(Complaint.id.desc())).all()
        events = svc.events(conv_id)
        staff_names = _staff_names(s, {m.staff_user_id for m in transcript if m.staff_user_id})
    return render_template("console/conversation.html", conv=conv, transcript=transcript, complaints=complaints,
                           events=events, staff_names=staff_names)


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
