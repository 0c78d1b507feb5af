"""Console accounts, for admins only (anyone else gets 404): the same rules as ``warga users``
(bot/casework/accounts.py UserDirectory) and the same audit file, marked ``via: console`` with
the admin who made the change."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, flash, g, redirect, render_template, request, url_for

from bot.casework.accounts import ROLES, AccountError, UserDirectory
from bot.casework.audit import append_audit
from bot.web.console.blueprint import bp
from bot.web.console.common import console_now, current_runtime, login_required
from bot.web.console.labels import label

T = TypeVar("T")
#: Length of a generated password (token_urlsafe(12) gives 16 characters).
GENERATED_BYTES = 12


def _admin_only() -> None:
    if g.user.role != "admin":
        abort(404)


def _agencies() -> list[str]:
    return sorted({c.agency for c in current_runtime().settings.complaints.categories})


def _change(change: Callable[[UserDirectory], T]) -> tuple[bool, T | None]:
    """Run ``change`` in one transaction; a refusal is flashed and changes nothing."""
    rt = current_runtime()
    try:
        with rt.sessions() as s, s.begin():
            return True, change(UserDirectory(s, frozenset(_agencies())))
    except AccountError as exc:
        flash(str(exc), "error")
        return False, None


def _record(action: str, username: str, **details: Any) -> None:
    failed = append_audit(current_runtime().settings.var_dir, by=g.user.username, via="console",
                          action=action, username=username, **details)
    if failed is not None:
        flash(label("users.flash.unaudited", failed=failed), "error")


def _page(status: int = 200, **extra: Any) -> Any:
    rt = current_runtime()
    with rt.sessions() as s:
        users = UserDirectory(s, frozenset()).list()
    return render_template("console/users.html", users=users, roles=ROLES, agencies=_agencies(),
                           **extra), status


@bp.get("/users")
@login_required
def users() -> Any:
    _admin_only()
    return _page()


@bp.post("/users")
@login_required
def create_user() -> Any:
    _admin_only()
    f = request.form
    username, role = f.get("username", "").strip(), f.get("role", "")
    agency = f.get("agency", "").strip() or None
    intake = f.get("serves_intake") == "1"
    done, _ = _change(lambda d: d.create(username, role, agency, f.get("name", "").strip(),
                                         f.get("password", ""), serves_intake=intake))
    if done:
        _record("create", username, role=role, agency=agency, **({"serves_intake": True} if intake else {}))
        flash(label("users.flash.created", user=username), "ok")
    return redirect(url_for("console.users"))


@bp.post("/users/<username>/<action>")
@login_required
def user_action(username: str, action: str) -> Any:
    _admin_only()
    f = request.form
    now = console_now()
    if action == "password":
        given = f.get("password", "")
        # No password given: generate one and show it once, on this response only (never in
        # the flash cookie, never in the audit file).
        password = given or secrets.token_urlsafe(GENERATED_BYTES)
        done, _ = _change(lambda d: d.set_password(username, password, now))
        if not done:
            return redirect(url_for("console.users"))
        _record("set-password", username)
        if given:
            flash(label("users.flash.password", user=username), "ok")
            return redirect(url_for("console.users"))
        return _page(generated=(username, password))
    changes: dict[str, tuple[Callable[[UserDirectory], Any], dict[str, Any], str]] = {
        "disable": (lambda d: d.disable(username, now), {}, label("users.flash.disabled", user=username)),
        "enable": (lambda d: d.enable(username), {}, label("users.flash.enabled", user=username)),
    }
    if action == "role":
        role, agency = f.get("role", ""), f.get("agency", "").strip() or None
        changes["role"] = (lambda d: d.set_role(username, role, agency, now), {"role": role, "agency": agency},
                           label("users.flash.role", user=username))
    if action == "intake":
        serves = f.get("serves_intake") == "1"
        changes["intake"] = (lambda d: d.set_intake(username, serves), {"serves_intake": serves},
                             label("users.flash.intake", user=username))
    if action not in changes:
        abort(404)
    change, details, ok = changes[action]
    done, _ = _change(change)
    if done:
        _record({"role": "set-role", "intake": "set-intake"}.get(action, action), username, **details)
        flash(ok, "ok")
    return redirect(url_for("console.users"))
