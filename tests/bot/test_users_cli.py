"""``warga users``: accounts managed from the terminal, as an operator uses it."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import select
from werkzeug.security import check_password_hash

from bot.casework.accounts import Accounts
from bot.cli import cli
from bot.settings import load_settings
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import StaffUser, utcnow

PROJECT = Path(__file__).resolve().parents[2]
PASSWORD = "kata-sandi-rahasia"
NEW_PASSWORD = "sandi-baru-yang-panjang"
ROADS = "Dinas Bina Marga"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("WARGA_", "TELEGRAM_", "TWILIO_")):
            monkeypatch.delenv(name)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    data = yaml.safe_load((PROJECT / "config.yml").read_text(encoding="utf-8"))
    data["database"]["url"] = "sqlite:///var/warga.db"        # relative: next to this file
    data["nlu"]["engine"] = "sklearn"
    data["channels"]["enabled"] = ["web"]
    path = tmp_path / "etc" / "config.yml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = warga(path, "db", "upgrade")
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def db(config: Path) -> Iterator[Any]:
    engine = make_engine(f"sqlite:///{config.parent / 'var' / 'warga.db'}")
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def warga(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], env=env)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def refused(result: Result) -> str:
    """Status 1 and one `warga: ...` line on stderr, no traceback."""
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    (line,) = result.stderr.splitlines()
    assert line.startswith("warga: ")
    return line


def create(config: Path, name: str, *args: str) -> None:
    ok(warga(config, "users", "create", name, *args, env={"WARGA_NEW_PASSWORD": PASSWORD}))


def audit(config: Path) -> list[dict[str, Any]]:
    path = config.parent / "var" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def user(db: Any, name: str) -> StaffUser:
    with db() as s:
        return s.scalars(select(StaffUser).where(StaffUser.username == name)).one()


def open_session(config: Path, db: Any, name: str) -> str:
    """Sign ``name`` in the way the console does; the session's token."""
    security = load_settings(config).security
    with db() as s, s.begin():
        accounts = Accounts(s, security)
        user_id = accounts.check_password(name, PASSWORD)
        assert user_id is not None
        return accounts.open_session(user_id, utcnow())


def session_alive(config: Path, db: Any, token: str) -> bool:
    with db() as s, s.begin():
        return Accounts(s, load_settings(config).security).resume(token, utcnow()) is not None


def signs_in(config: Path, db: Any, name: str, password: str = PASSWORD) -> bool:
    with db() as s:
        return Accounts(s, load_settings(config).security).check_password(name, password) is not None


def test_a_supervisor_needs_no_agency_and_list_shows_every_account(config):
    create(config, "sari", "--role", "supervisor", "--name", "Sari Supervisor")
    create(config, "dina", "--role", "staff", "--agency", ROADS)
    create(config, "admin", "--role", "admin")
    lines = ok(warga(config, "users", "list")).splitlines()
    assert lines[0].split() == ["USERNAME", "NAME", "ROLE", "AGENCY", "ACTIVE", "LOCKED"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"admin", "dina", "sari"}
    assert "Sari Supervisor" in rows["sari"] and " supervisor " in rows["sari"]
    assert ROADS in rows["dina"] and " staff " in rows["dina"]
    assert all(row.split()[-2:] == ["yes", "-"] for row in rows.values())
    me = getpass.getuser()
    assert [(e["action"], e["user"], e["by"], e.get("role")) for e in audit(config)] == [
        ("create", "sari", me, "supervisor"), ("create", "dina", me, "staff"), ("create", "admin", me, "admin")]


def test_list_marks_a_locked_account(config, db):
    create(config, "dina", "--role", "staff", "--agency", ROADS)
    security = load_settings(config).security
    with db() as s, s.begin():
        accounts = Accounts(s, security)
        at = utcnow()
        for i in range(security.login_lock_after_failures):
            accounts.record_failure("dina", "10.0.0.9", at + timedelta(seconds=i))
    (row,) = ok(warga(config, "users", "list")).splitlines()[1:]
    assert row.split()[-2:] == ["yes", "locked"]
    ok(warga(config, "users", "unlock", "dina"))
    (row,) = ok(warga(config, "users", "list")).splitlines()[1:]
    assert row.split()[-1] == "-"


def test_set_password_from_the_environment_ends_open_sessions(config, db):
    create(config, "admin", "--role", "admin")
    token = open_session(config, db, "admin")
    out = ok(warga(config, "users", "set-password", "admin", env={"WARGA_NEW_PASSWORD": NEW_PASSWORD}))
    assert "password of admin changed" in out and "1 open session(s) ended" in out
    assert check_password_hash(user(db, "admin").password_hash, NEW_PASSWORD)
    assert not signs_in(config, db, "admin") and signs_in(config, db, "admin", NEW_PASSWORD)
    assert not session_alive(config, db, token)
    assert audit(config)[-1]["action"] == "set-password"
    assert NEW_PASSWORD not in (config.parent / "var" / "audit.jsonl").read_text(encoding="utf-8")


def test_set_password_asks_twice_and_refuses_a_mismatch(config, db, monkeypatch):
    create(config, "admin", "--role", "admin")
    answers = iter([NEW_PASSWORD, "something-else-entirely"])
    monkeypatch.setattr("bot.cli.users.getpass.getpass", lambda prompt="": next(answers))
    assert "differ" in refused(warga(config, "users", "set-password", "admin"))
    assert signs_in(config, db, "admin")
    answers = iter([NEW_PASSWORD, NEW_PASSWORD])
    ok(warga(config, "users", "set-password", "admin"))
    assert signs_in(config, db, "admin", NEW_PASSWORD)


def test_the_demo_admins_password_can_be_reset(config, db):
    out = ok(warga(config, "demo", "load", env={"WARGA_DEMO_PASSWORD": "demo-password-1"}))
    assert "admin / demo-password-1" in out and "warga users set-password admin" in out
    ok(warga(config, "users", "set-password", "admin", env={"WARGA_NEW_PASSWORD": NEW_PASSWORD}))
    assert signs_in(config, db, "admin", NEW_PASSWORD)


@pytest.mark.parametrize("args, says", [
    (("set-password", "nobody"), "no user 'nobody'"),
    (("disable", "nobody"), "no user 'nobody'"),
    (("enable", "nobody"), "no user 'nobody'"),
    (("set-role", "nobody", "--role", "supervisor"), "no user 'nobody'"),
])
def test_unknown_accounts_are_one_error_line(config, args, says):
    env = {"WARGA_NEW_PASSWORD": NEW_PASSWORD}
    assert says in refused(warga(config, "users", *args, env=env))


def test_a_short_new_password_is_refused(config, db):
    create(config, "admin", "--role", "admin")
    result = warga(config, "users", "set-password", "admin", env={"WARGA_NEW_PASSWORD": "short"})
    assert "at least 8 characters" in refused(result)
    assert signs_in(config, db, "admin")


def test_disable_stops_sign_in_and_revokes_sessions_and_enable_restores_it(config, db):
    create(config, "dina", "--role", "staff", "--agency", ROADS)
    token = open_session(config, db, "dina")
    assert "1 open session(s) ended" in ok(warga(config, "users", "disable", "dina"))
    assert not session_alive(config, db, token)
    assert not signs_in(config, db, "dina")
    row = ok(warga(config, "users", "list")).splitlines()[1]
    assert row.split()[-2:] == ["no", "-"]
    ok(warga(config, "users", "enable", "dina"))
    assert signs_in(config, db, "dina")
    assert not session_alive(config, db, token)        # an ended session stays ended
    assert [e["action"] for e in audit(config)] == ["create", "disable", "enable"]


def test_set_role_changes_scope_and_checks_the_agency(config, db):
    create(config, "dina", "--role", "staff", "--agency", ROADS)
    token = open_session(config, db, "dina")
    out = ok(warga(config, "users", "set-role", "dina", "--role", "supervisor"))
    assert "dina is now supervisor" in out
    got = user(db, "dina")
    assert (got.role, got.agency) == ("supervisor", None)
    assert not session_alive(config, db, token)
    assert "--agency is required" in refused(warga(config, "users", "set-role", "dina", "--role", "staff"))
    assert "unknown agency" in refused(warga(config, "users", "set-role", "dina", "--role", "staff",
                                             "--agency", "Dinas Rahasia"))
    got = user(db, "dina")
    assert (got.role, got.agency) == ("supervisor", None)
    ok(warga(config, "users", "set-role", "dina", "--role", "staff", "--agency", ROADS))
    got = user(db, "dina")
    assert (got.role, got.agency) == ("staff", ROADS)
    assert audit(config)[-1] == {**audit(config)[-1], "action": "set-role", "role": "staff", "agency": ROADS}


def test_an_unknown_role_is_a_usage_error(config, db):
    create(config, "dina", "--role", "staff", "--agency", ROADS)
    assert warga(config, "users", "set-role", "dina", "--role", "root").exit_code == 2
    assert user(db, "dina").role == "staff"


def test_intake_staff_and_the_last_admin_is_kept(config, db):
    create(config, "lena", "--role", "staff", "--agency", ROADS, "--intake")
    assert user(db, "lena").serves_intake is True
    assert audit(config)[-1]["serves_intake"] is True
    create(config, "admin", "--role", "admin")
    assert "last active admin" in refused(warga(config, "users", "disable", "admin"))
    assert "last active admin" in refused(warga(config, "users", "set-role", "admin", "--role", "supervisor"))
    assert user(db, "admin").active and user(db, "admin").role == "admin"
