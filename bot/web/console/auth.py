"""Signing in and out: throttled, locked after repeated failures, bounded password checks."""

from __future__ import annotations

import math
import secrets
import threading
from typing import Any

from flask import abort, current_app, redirect, render_template, request, session, url_for

from bot.casework.accounts import Accounts
from bot.web.console.blueprint import bp
from bot.web.console.common import console_now, current_runtime, login_required, same_token
from bot.web.console.labels import label
from bot.web.limits import client_address

#: How long a sign-in waits for a free password-check slot before answering 503.
LOGIN_SLOT_WAIT_SECONDS = 5.0


# Keys into labels/: the refusal reads in the language chosen on the sign-in page.
WRONG = "login.wrong"
LOCKED = "login.locked"
SLOW = "login.slow"
BUSY = "login.busy"


def _login_slots() -> threading.BoundedSemaphore:
    # At most security.login_concurrent_checks password hashes at once in this process.
    slots = current_app.extensions.get("warga.login_slots")
    if slots is None:
        checks = current_runtime().settings.security.login_concurrent_checks
        slots = current_app.extensions.setdefault("warga.login_slots", threading.BoundedSemaphore(checks))
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
    rt = current_runtime()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    address = client_address()
    now = console_now()
    with rt.sessions() as s:
        refused = Accounts(s, rt.settings.security).refusal(username, address, now)
    if refused is not None and refused.locked:
        return _login_page(label(LOCKED), 403)
    if refused is not None:
        return _login_page(label(SLOW, seconds=max(1, math.ceil(refused.retry_after))), 429,
                           refused.retry_after)
    slots = _login_slots()
    if not slots.acquire(timeout=LOGIN_SLOT_WAIT_SECONDS):
        return _login_page(label(BUSY), 503, LOGIN_SLOT_WAIT_SECONDS)
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
        return _login_page(label(LOCKED if locked else WRONG), 403 if locked else 401)
    lang = session.get("lang")
    session.clear()
    session["sid"] = token
    if lang:
        session["lang"] = lang      # the console's language chosen on the sign-in page
    session["csrf"] = secrets.token_urlsafe(24)
    target = request.args.get("next", "")
    # Only local paths: never bounce a fresh login to another site.
    return redirect(target if target.startswith("/console") else url_for("console.index"))


@bp.post("/logout")
@login_required
def logout() -> Any:
    rt = current_runtime()
    with rt.sessions() as s, s.begin():
        Accounts(s, rt.settings.security).revoke(session["sid"], console_now())
    session.clear()
    return redirect(url_for("console.login"))
