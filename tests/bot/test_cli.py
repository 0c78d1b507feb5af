"""The ``warga`` command line, as an operator uses it."""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from bot.cli import cli
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Complaint, Conversation, Message, StaffUser

PROJECT = Path(__file__).resolve().parents[2]
WARGA = PROJECT / ".venv" / "bin" / "warga"
TICKET_RE = re.compile(r"[A-Z]+-\d{4}-\d{6}")
PASSWORD = "kata-sandi-rahasia"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No WARGA_*/provider variable of the machine running the tests leaks into a command,
    and the logging a command sets up (``warga chat``) does not outlive it."""
    for name in list(os.environ):
        if name.startswith(("WARGA_", "TELEGRAM_", "TWILIO_")):
            monkeypatch.delenv(name)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A copy of config.yml whose database and models live in the test's directory."""
    data = yaml.safe_load((PROJECT / "config.yml").read_text(encoding="utf-8"))
    data["database"]["url"] = "sqlite:///var/warga.db"        # relative: next to this file
    data["nlu"]["engine"] = "sklearn"
    data["nlu"]["data_dir"] = str(PROJECT / "nlu" / "data")
    data["nlu"]["models_dir"] = str(tmp_path / "models")
    data["channels"]["enabled"] = ["web"]
    path = tmp_path / "etc" / "config.yml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def db_path(config: Path) -> Path:
    return config.parent / "var" / "warga.db"


def warga(config: Path | None, *args: str, env: dict[str, str] | None = None,
          input: str | None = None) -> Result:
    prefix = ["--config", str(config)] if config else []
    return CliRunner().invoke(cli, [*prefix, *args], env=env, input=input)


def one_error_line(result: Result) -> str:
    """The command failed the way an operator should see it: status 1, one line, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("warga: "), lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def sessions_for(db_path: Path):
    engine = make_engine(f"sqlite:///{db_path}")
    return engine, make_session_factory(engine)


def staff_users(db_path: Path) -> list[StaffUser]:
    engine, sessions = sessions_for(db_path)
    try:
        with sessions() as s:
            return list(s.scalars(select(StaffUser).order_by(StaffUser.id)))
    finally:
        engine.dispose()


@pytest.fixture
def migrated(config: Path, db_path: Path) -> Path:
    result = warga(config, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "up to date" in result.stdout
    assert db_path.exists()
    return config


# -- help ----------------------------------------------------------------------------------
def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        yield prefix + (name,)
        if isinstance(command, click.Group):
            yield from _command_paths(command, prefix + (name,))


COMMAND_PATHS = [()] + list(_command_paths(cli))


def test_the_documented_commands_exist():
    assert {"run", "serve", "worker", "db", "users", "chat", "demo"} <= set(cli.commands)
    assert {("db", "upgrade"), ("users", "create"), ("demo", "load")} <= set(COMMAND_PATHS)


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(("warga",) + p))
def test_help_works_on_every_command(path):
    for flag in ("--help", "-h"):
        result = warga(None, *path, flag)
        assert result.exit_code == 0, (flag, result.output, result.exception)
        assert result.stdout.startswith("Usage: "), result.stdout
        assert " ".join(path) in result.stdout.splitlines()[0]
        command: click.Command = cli
        for name in path:
            assert isinstance(command, click.Group), path
            command = command.commands[name]
        assert command.get_short_help_str().strip(), f"{' '.join(path)} has no help text"


# -- configuration errors ------------------------------------------------------------------
def test_bad_config_in_a_real_process_is_one_line_and_exit_1(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WARGA_", "TELEGRAM_", "TWILIO_"))}
    env["WARGA_NLU_THRESHOLD"] = "abc"
    env["WARGA_DATABASE_URL"] = f"sqlite:///{tmp_path / 'warga.db'}"
    proc = subprocess.run([str(WARGA), "run", "--port", "1"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("warga: config: nlu.threshold"), lines[0]
    assert "abc" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "warga.db").exists()


def test_bad_config_file_given_with_config_option(config):
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["server"]["port"] = 70000
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    line = one_error_line(warga(config, "db", "upgrade"))
    assert line.startswith("warga: config: server.port:"), line


def test_the_nlu_commands_read_the_config_given_with_config_option(config):
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["nlu"]["threshold"] = 2
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    line = one_error_line(warga(config, "nlu", "validate"))
    assert line.startswith("warga: config: nlu.threshold:"), line


def test_missing_config_file_is_one_line(tmp_path):
    line = one_error_line(warga(tmp_path / "nope.yml", "db", "upgrade"))
    assert "nope.yml" in line


UNREACHABLE = "postgresql://nobody@127.0.0.1:1/x"


@pytest.mark.parametrize("args", [
    ("db", "upgrade"),
    ("users", "create", "alice", "--role", "admin"),
    ("demo", "load"),
], ids=" ".join)
def test_unreachable_database_is_one_line_and_exit_1(args):
    result = warga(None, *args, env={"WARGA_DATABASE_URL": UNREACHABLE,
                                     "WARGA_NEW_PASSWORD": PASSWORD})
    line = one_error_line(result)
    assert line.startswith("warga: database unreachable: "), line


def test_a_database_not_yet_migrated_says_to_run_db_upgrade(config, db_url):
    """The database is there and answers: calling it "unreachable" (SQLite) or printing a
    traceback (PostgreSQL) sends the operator the wrong way instead of to the one command
    that fixes it."""
    result = warga(config, "users", "create", "alice", "--role", "admin",
                   env={"WARGA_NEW_PASSWORD": PASSWORD, "WARGA_DATABASE_URL": db_url})
    line = one_error_line(result)
    assert "warga db upgrade" in line, line
    assert "unreachable" not in line, line


# -- db upgrade and users ------------------------------------------------------------------
def test_db_upgrade_twice_and_via_environment(tmp_path):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    for _ in range(2):
        result = warga(None, "db", "upgrade", env={"WARGA_DATABASE_URL": url})
        assert result.exit_code == 0, result.output
        assert "up to date" in result.stdout
    assert (tmp_path / "env.db").exists()


def test_create_admin_stores_a_hashed_password(migrated, db_path):
    result = warga(migrated, "users", "create", "alice", "--role", "admin", "--name", "Alice",
                   env={"WARGA_NEW_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    assert "alice" in result.stdout
    (user,) = staff_users(db_path)
    assert (user.username, user.name, user.role, user.agency, user.active) == (
        "alice", "Alice", "admin", None, True)
    assert PASSWORD not in user.password_hash
    assert check_password_hash(user.password_hash, PASSWORD)
    assert not check_password_hash(user.password_hash, PASSWORD + "x")


def test_create_staff_with_a_configured_agency(migrated, db_path):
    result = warga(migrated, "users", "create", "budi", "--role", "staff",
                   "--agency", "Dinas Bina Marga", env={"WARGA_NEW_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    (user,) = staff_users(db_path)
    assert (user.username, user.role, user.agency) == ("budi", "staff", "Dinas Bina Marga")


def test_password_option_is_used_too(migrated, db_path):
    result = warga(migrated, "users", "create", "citra", "--role", "admin", "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert check_password_hash(staff_users(db_path)[0].password_hash, PASSWORD)


@pytest.mark.parametrize("args, password, says", [
    (("--role", "staff"), PASSWORD, "--agency"),
    (("--role", "staff", "--agency", "Dinas Rahasia"), PASSWORD, "Dinas Rahasia"),
    (("--role", "admin"), "pendek", "8 characters"),
], ids=["staff without agency", "unknown agency", "short password"])
def test_refused_accounts_are_not_created(migrated, db_path, args, password, says):
    result = warga(migrated, "users", "create", "dewi", *args, env={"WARGA_NEW_PASSWORD": password})
    line = one_error_line(result)
    assert says in line, line
    assert staff_users(db_path) == []


def test_duplicate_username_is_refused_and_keeps_the_first(migrated, db_path):
    assert warga(migrated, "users", "create", "alice", "--role", "admin",
                 env={"WARGA_NEW_PASSWORD": PASSWORD}).exit_code == 0
    result = warga(migrated, "users", "create", "alice", "--role", "staff",
                   "--agency", "Satpol PP", env={"WARGA_NEW_PASSWORD": "another-password"})
    line = one_error_line(result)
    assert "alice" in line and "exists" in line
    (user,) = staff_users(db_path)
    assert user.role == "admin"
    assert check_password_hash(user.password_hash, PASSWORD)


def test_unknown_role_is_a_usage_error(migrated, db_path):
    result = warga(migrated, "users", "create", "eko", "--role", "root",
                   env={"WARGA_NEW_PASSWORD": PASSWORD})
    assert result.exit_code == 2
    assert "root" in result.stderr
    assert staff_users(db_path) == []


# -- demo ----------------------------------------------------------------------------------
def test_demo_load_never_prints_a_password_that_does_not_work(migrated, db_path):
    made = warga(migrated, "users", "create", "admin", "--role", "admin",
                 env={"WARGA_NEW_PASSWORD": "the-admins-own-1"})
    assert made.exit_code == 0, made.output
    loaded = warga(migrated, "demo", "load", env={"WARGA_DEMO_PASSWORD": "demo-password-1"})
    assert loaded.exit_code == 0, loaded.output
    assert "demo-password-1" not in loaded.stdout and "already existed" in loaded.stdout
    engine, sessions = sessions_for(db_path)
    try:
        with sessions() as s:
            admin = s.scalars(select(StaffUser).where(StaffUser.username == "admin")).one()
            assert check_password_hash(admin.password_hash, "the-admins-own-1")
    finally:
        engine.dispose()


def test_demo_load_if_empty_loads_once(migrated, db_path):
    env = {"WARGA_DEMO_PASSWORD": "demo-password-1"}
    first = warga(migrated, "demo", "load", "--if-empty", env=env)
    assert first.exit_code == 0, first.output
    assert "admin / demo-password-1" in first.stdout
    engine, sessions = sessions_for(db_path)
    try:
        with sessions() as s:
            loaded = s.scalar(select(func.count()).select_from(Complaint))
            admin = s.scalars(select(StaffUser).where(StaffUser.username == "admin")).one()
            assert loaded > 0
            assert str(loaded) in first.stdout
            assert check_password_hash(admin.password_hash, "demo-password-1")
            assert all(TICKET_RE.fullmatch(t) for t in s.scalars(select(Complaint.ticket)))
        second = warga(migrated, "demo", "load", "--if-empty", env=env)
        assert second.exit_code == 0, second.output
        assert "not loaded" in second.stdout
        with sessions() as s:
            assert s.scalar(select(func.count()).select_from(Complaint)) == loaded
            assert s.scalar(select(func.count()).select_from(StaffUser)) == 1
    finally:
        engine.dispose()


# -- chat ----------------------------------------------------------------------------------
# The foundation filed a ticket from "menu / lapor / <text>"; the full complaint dialogue now
# also asks for the location and a photo (skippable) and confirms before filing.
CHAT_LINES = ["menu", "lapor", "sampah menumpuk di jalan", "Jl. Melati No. 5, Menteng",
              "lewati", "ya"]


def test_chat_files_a_complaint_and_stores_the_conversation(migrated, db_path):
    result = warga(migrated, "chat", "--as", "tester", input="\n".join(CHAT_LINES) + "\n")
    assert result.exit_code == 0, (result.output, result.exception)
    out = result.stdout
    assert "Pilih yang Anda perlukan" in out                        # the menu
    tickets = TICKET_RE.findall(out)
    assert len(tickets) == 1, out
    ticket = tickets[0]
    engine, sessions = sessions_for(db_path)
    try:
        with sessions() as s:
            conv = s.scalars(select(Conversation)).one()
            assert conv.address.urn == "terminal:tester"
            msgs = s.scalars(select(Message).where(Message.conversation_id == conv.id)
                             .order_by(Message.id)).all()
            inbound = [m for m in msgs if m.direction == "in"]
            outbound = [m for m in msgs if m.direction == "out"]
            assert [m.text for m in inbound] == CHAT_LINES
            assert all(m.processed_at is not None for m in inbound)
            assert len(outbound) >= len(inbound)
            assert all(m.status in ("sent", "delivered") for m in outbound), \
                [m.status for m in outbound]
            assert ticket in outbound[-1].text
            assert "Pilih yang Anda perlukan" in outbound[0].text
            complaint = s.scalars(select(Complaint)).one()
            assert complaint.ticket == ticket
            assert complaint.conversation_id == conv.id
            assert "sampah menumpuk di jalan" in complaint.description
            assert complaint.location_text == "Jl. Melati No. 5, Menteng"
    finally:
        engine.dispose()


def test_run_and_serve_never_start_an_external_rasa_server(tmp_path):
    from bot.cli.main import _start_rasa
    from tests.conftest import make_settings

    settings = make_settings(f"sqlite:///{tmp_path / 'w.db'}", tmp_path, overrides={
        "nlu.engine": "rasa", "nlu.rasa_autostart": True, "nlu.rasa_url": "https://nlu.kota.test"})
    assert settings.nlu.external and _start_rasa(settings) is None
