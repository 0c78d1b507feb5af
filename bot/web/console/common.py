"""What every console page shares: the signed-in user, the CSRF check, agency scoping.

Routes live in the sibling modules by the work they serve (auth, complaints, conversations);
they all register on the one `bp` blueprint, so URL names stay `console.<view>`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from sqlalchemy import select

from bot.casework import local_time
from bot.casework.accounts import Accounts, sees_every_agency
from bot.casework.staff import NotVisible, StaffError, StaffService, Woken
from bot.dialogue.texts import name_of
from bot.store.models import Complaint, StaffUser, utcnow
from bot.web.console.blueprint import bp
from bot.web.console.labels import console_language

F = TypeVar("F", bound=Callable[..., Any])
PAGE = 50
#: Requests a page makes on its own (the live transcript's polling): they do not count as use,
#: so an unattended console still signs out after security.session_idle_minutes.
BACKGROUND_ENDPOINTS = frozenset({"console.conversation_messages"})


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison of a form token (as bytes: hmac refuses non-ASCII str, and a
    client may send anything)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))

def current_runtime() -> Any:
    return current_app.extensions["warga"]


def console_now() -> datetime:
    # Tests set app.extensions["warga.clock"] to decide when time passes (idle expiry, throttles).
    clock: Callable[[], datetime] = current_app.extensions.get("warga.clock", utcnow)
    return clock()


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = session.get("sid")
        if not isinstance(token, str):
            return redirect(url_for("console.login", next=request.path))
        rt = current_runtime()
        with rt.sessions() as s, s.begin():
            # A revoked (signed out) or idle session ends here, whatever the cookie says.
            user_id = Accounts(s, rt.settings.security).resume(
                token, console_now(), touch=request.endpoint not in BACKGROUND_ENDPOINTS)
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


@bp.app_template_filter("local")
def _local_filter(at: datetime | None, fmt: str = local_time.DATE_TIME) -> str:
    """`{{ c.created_at|local }}`: a stored UTC time in the city's zone, e.g. "29-11-2026 10:22 WIB"."""
    return local_time.local(at, current_runtime().settings.timezone, fmt)


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    lang = console_language()
    return {"status_name": lambda s: name_of("status_names", s or "", lang),
            "category_name": lambda c: name_of("category_names", c or "", lang),
            "csrf": session.get("csrf", "")}


def scoped(stmt: Any) -> Any:
    if not sees_every_agency(g.user):
        stmt = stmt.where(Complaint.agency == g.user.agency)
    return stmt


def complaint_or_404(s: Any, ticket: str) -> Complaint:
    c = s.scalar(scoped(select(Complaint).where(Complaint.ticket == ticket.upper())))
    if c is None:
        abort(404)
    return c


def names_of_staff(s: Any, ids: set[int | None]) -> dict[int, str]:
    """Usernames of the staff who wrote transcript messages (shown beside each)."""
    if not ids:
        return {}
    return {uid: name for uid, name in s.execute(select(StaffUser.id, StaffUser.username)
                                                 .where(StaffUser.id.in_(ids))).all()}


def act(action: Callable[[StaffService], Any], ok: str) -> None:
    rt = current_runtime()
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
