"""``warga users``: console accounts from the terminal.

Every change is written as one JSON line to ``<var_dir>/audit.jsonl`` (and to the ``warga.audit``
logger) with the OS user who ran the command: the schema has no table for account changes, and
the person at the terminal is the only "who" a command line knows.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from bot.casework.accounts import ROLES, AccountError, Accounts, UserDirectory
from bot.casework.audit import append_audit
from bot.cli.support import settings_of
from bot.settings import Settings
from bot.store.models import utcnow

T = TypeVar("T")


def _fail(message: str) -> None:
    click.echo(f"warga: {message}", err=True)
    sys.exit(1)


def _new_password(password: str | None) -> str:
    """The given password, else $WARGA_NEW_PASSWORD, else asked for twice."""
    password = password or os.environ.get("WARGA_NEW_PASSWORD")
    if not password:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat: "):
            _fail("passwords differ")
    return password


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):     # no name for this uid (some containers)
        return f"uid:{os.getuid()}"


def record(settings: Settings, action: str, username: str, **details: Any) -> None:
    """Append who changed which account how (one JSON object per line)."""
    failed = append_audit(settings.var_dir, by=_os_user(), via="cli", action=action, username=username,
                          **details)
    if failed is not None:
        # The change is already committed: say that it went unrecorded rather than fail.
        click.echo(f"warga: warning: could not append to the audit file: {failed}", err=True)


def _change(ctx: click.Context, change: Callable[[UserDirectory], T]) -> tuple[Settings, T]:
    """Run ``change`` in one transaction; a refusal is one line and exit status 1."""
    from bot.store.engine import make_engine, make_session_factory

    settings = settings_of(ctx)
    agencies = frozenset(c.agency for c in settings.complaints.categories)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as s, s.begin():
            result = change(UserDirectory(s, agencies))
    except AccountError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    return settings, result


def _sessions_ended(n: int) -> str:
    return f"; {n} open session(s) ended" if n else ""


@click.group("users")
def users_group() -> None:
    """Staff, supervisor and admin accounts for the console."""


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="admin (everything), supervisor (every agency) or staff (one agency).")
@click.option("--agency", default=None, help="The agency a staff member works for (required for staff).")
@click.option("--name", default="", help="Display name.")
@click.option("--intake/--no-intake", default=False,
              help="Staff also serve the general intake queue of handovers (default: no).")
@click.option("--password", default=None,
              help="Password (default: $WARGA_NEW_PASSWORD, else asked for).")
@click.pass_context
def users_create(ctx: click.Context, username: str, role: str, agency: str | None, name: str,
                 intake: bool, password: str | None) -> None:
    """Create a console account."""
    settings = settings_of(ctx)
    agencies = {c.agency for c in settings.complaints.categories}
    # Refuse a bad role/agency before asking for a password.
    if role == "staff" and not agency:
        _fail("--agency is required for staff (e.g. --agency 'Dinas Bina Marga')")
    if agency and agency not in agencies:
        _fail(f"unknown agency {agency!r}; configured agencies: {', '.join(sorted(agencies))}")
    secret = _new_password(password)
    settings, _ = _change(ctx, lambda d: d.create(username, role, agency, name, secret, serves_intake=intake))
    record(settings, "create", username, role=role, agency=agency, **({"serves_intake": True} if intake else {}))
    click.echo(f"created {role} {username}" + (f" ({agency})" if agency else ""))


@users_group.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """Every account: username, name, role, agency, active, locked."""
    _, rows = _change(ctx, lambda d: d.list())
    if not rows:
        click.echo("no accounts (create one with `warga users create`)")
        return
    table = [("USERNAME", "NAME", "ROLE", "AGENCY", "ACTIVE", "LOCKED")] + [
        (r.username, r.name, r.role, r.agency or "-", "yes" if r.active else "no",
         "locked" if r.locked else "-") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@users_group.command("set-password")
@click.argument("username")
@click.pass_context
def users_set_password(ctx: click.Context, username: str) -> None:
    """Set a new password (asked twice, or $WARGA_NEW_PASSWORD); the account's sessions end."""
    _, _exists = _change(ctx, lambda d: d.get(username).id)
    secret = _new_password(None)
    settings, ended = _change(ctx, lambda d: d.set_password(username, secret, utcnow()))
    record(settings, "set-password", username)
    click.echo(f"password of {username} changed{_sessions_ended(ended)}")


@users_group.command("disable")
@click.argument("username")
@click.pass_context
def users_disable(ctx: click.Context, username: str) -> None:
    """Stop an account from signing in and end its open sessions."""
    settings, ended = _change(ctx, lambda d: d.disable(username, utcnow()))
    record(settings, "disable", username)
    click.echo(f"disabled {username}{_sessions_ended(ended)}")


@users_group.command("enable")
@click.argument("username")
@click.pass_context
def users_enable(ctx: click.Context, username: str) -> None:
    """Let a disabled account sign in again."""
    settings, _ = _change(ctx, lambda d: d.enable(username))
    record(settings, "enable", username)
    click.echo(f"enabled {username}")


@users_group.command("set-role")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="admin (everything), supervisor (every agency) or staff (one agency).")
@click.option("--agency", default=None, help="The agency (required for staff).")
@click.pass_context
def users_set_role(ctx: click.Context, username: str, role: str, agency: str | None) -> None:
    """Change an account's role and agency; its open sessions end so the new scope applies."""
    settings, ended = _change(ctx, lambda d: d.set_role(username, role, agency, utcnow()))
    record(settings, "set-role", username, role=role, agency=agency)
    click.echo(f"{username} is now {role}" + (f" ({agency})" if agency else "") + _sessions_ended(ended))


@users_group.command("unlock")
@click.argument("username", required=False)
@click.option("--address", default=None, help="Also (or only) unlock this client address (IP).")
@click.pass_context
def users_unlock(ctx: click.Context, username: str | None, address: str | None) -> None:
    """Unlock an account (and/or an address) locked after failed sign-ins; forget its failures."""
    if not username and not address:
        _fail("name an account (USERNAME) and/or --address")
    settings = settings_of(ctx)
    from bot.store.engine import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as s, s.begin():
            cleared = Accounts(s, settings.security).unlock(username, address)
    finally:
        engine.dispose()
    what = " and ".join(x for x in (username and f"account {username}", address and f"address {address}") if x)
    if cleared:
        record(settings, "unlock", username or "", address=address)
    click.echo(f"unlocked {what}" if cleared else f"{what}: no failed sign-ins recorded")
