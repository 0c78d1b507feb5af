"""A talking bot in minutes (issue 14): the gateway answers while Rasa's environment is still
being installed, and switches to Rasa without a restart once it is ready.

The supervisor is driven by what the install leaves behind (``.venv-rasa/.installed`` and
``var/rasa-install.status``): a Rasa virtualenv path that does not exist yet and later appears (a
symlink to the real ``.venv-rasa``) is what a fresh `make run` goes through. The last test starts
a real Rasa server on an already trained small model, so the supervisor skips the training.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.runtime.rasa import RasaSupervisor, start_supervisor
from bot.runtime.rasa_env import (
    FAILED,
    INSTALLING,
    READY,
    STARTING,
    TRAINING,
    Environment,
    InstallProbe,
    RasaPhase,
    phase_file,
    read_phase,
    write_phase,
)
from bot.store.models import Message
from nlu.config import NluConfig
from tests.conftest import make_settings, migrate, trained_models_dir
from tests.nlu.conftest import DATA_DIR, RASA_VENV
from tests.nlu.conftest import small_rasa_model as shared_small_rasa_model
from tests.support import free_port, wait_for

SENDER = "9f1c0e4b2a7d4f8e9a1b2c3d4e5f6a7b"
STATUS_TEXT = "cek status laporan WRG-2026-000123"


# -- what the install leaves behind -------------------------------------------------------------

def finished_pid() -> int:
    """The pid of a process that has exited (an install killed half-way)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def test_the_probe_reads_what_the_install_leaves_behind(tmp_path: Path) -> None:
    venv, var = tmp_path / "venv-rasa", tmp_path / "var"
    var.mkdir()
    probe = InstallProbe(venv, var)
    status = var / "rasa-install.status"

    missing = probe()
    assert not missing.ready and missing.failed is None and "make rasa-venv" in missing.detail

    status.write_text(f"installing {os.getpid()}\n")
    running = probe()
    assert not running.ready and running.failed is None and str(var / "rasa-install.log") in running.detail

    status.write_text(f"installing {finished_pid()}\n")
    interrupted = probe()
    assert not interrupted.ready and "stopped before it finished" in (interrupted.failed or "")

    status.write_text("failed 1\n")
    failed = probe()
    assert not failed.ready and "failed (exit 1" in (failed.failed or "") and "make rasa-venv" in (failed.failed or "")

    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "rasa").write_text("")
    assert not probe().ready, "a failed install's half-made virtualenv is not ready"
    status.unlink()
    assert probe().ready, "a virtualenv made another way, with nobody installing into it"
    (venv / "bin" / "rasa").unlink()
    (venv / ".installed").write_text("")
    status.write_text("failed 1\n")     # an older failure; the marker of a later install wins
    assert probe() == Environment(True)


# -- the supervisor's phases --------------------------------------------------------------------

class ScriptedEnvironment:
    """Answers each look at the environment from a script; the last answer repeats."""

    def __init__(self, *answers: Environment) -> None:
        self.answers = list(answers)
        self.looks = 0

    def __call__(self) -> Environment:
        self.looks += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def config_without_rasa(tmp_path: Path) -> NluConfig:
    return NluConfig(engine="rasa", data_dir=DATA_DIR, models_dir=tmp_path / "models", var_dir=tmp_path / "rasa",
                     rasa_venv=tmp_path / "no-venv", rasa_token="t", rasa_port=free_port())


@pytest.mark.parametrize("has_model", [True, False], ids=["model", "no-model"])
def test_the_supervisor_reports_each_phase_and_waits_out_a_failed_install(tmp_path: Path, has_model: bool) -> None:
    config = config_without_rasa(tmp_path)
    if has_model:
        (config.rasa_models_dir).mkdir(parents=True)
        (config.rasa_models_dir / "rasa-20260101-000000-abc.tar.gz").write_bytes(b"")
    environment = ScriptedEnvironment(
        Environment(False, detail="log: var/rasa-install.log"),
        Environment(False, failed="installing the Rasa environment failed (exit 1)"),
        Environment(True),
    )
    phases: list[RasaPhase] = []
    supervisor = RasaSupervisor(config, environment=environment, on_phase=phases.append, poll_seconds=0.01)
    supervisor.start()
    try:
        wait_for(lambda: len(phases) == 4, what="four phases")
        # The environment is never ready here (no-venv), so the last step fails, with the reason.
        assert [p.name for p in phases] == [INSTALLING, FAILED, STARTING if has_model else TRAINING, FAILED]
        assert phases[0].detail == "log: var/rasa-install.log"
        assert str(phases[1]) == "failed: installing the Rasa environment failed (exit 1)"
        assert "Rasa is not installed" in phases[3].detail and supervisor.error == phases[3].detail
        assert not supervisor.ready.is_set()
        # Every process can read it (gunicorn workers answer /readyz, the master supervises).
        assert read_phase(phase_file(config.var_dir)) == phases[3]
    finally:
        supervisor.stop()
    assert read_phase(phase_file(config.var_dir)) is None


@pytest.mark.parametrize("active", [True, False], ids=["active-version", "none-active"])
def test_the_server_starts_with_the_active_versions_model_else_the_newest(tmp_path: Path, active: bool) -> None:
    # A stand-in for Rasa's executable that only notes what it was asked to serve.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    asked = tmp_path / "asked.txt"
    (venv / "bin" / "rasa").write_text(f'#!/bin/sh\necho "$@" > {asked}.tmp && mv {asked}.tmp {asked}\nexec sleep 60\n')
    (venv / "bin" / "rasa").chmod(0o755)
    config = dataclasses.replace(config_without_rasa(tmp_path), rasa_venv=venv)
    version = tmp_path / "models" / "registry" / "20261101-000000-rasa.tar.gz"
    version.parent.mkdir(parents=True)
    version.write_bytes(b"the active version")
    if not active:
        config.rasa_models_dir.mkdir(parents=True)
        (config.rasa_models_dir / "rasa-20260101-000000-abc.tar.gz").write_bytes(b"the newest")
    phases: list[RasaPhase] = []
    supervisor = RasaSupervisor(config, environment=ScriptedEnvironment(Environment(True)),
                                on_phase=phases.append, poll_seconds=0.01,
                                first_model=lambda: version if active else None)
    supervisor.start()
    try:
        wait_for(asked.exists, what="the server to be started")
        served = version.resolve() if active else config.rasa_models_dir.resolve()
        assert f" -m {served} " in asked.read_text()
        assert phases[0].name == STARTING          # with a model to start with, nothing is trained
    finally:
        supervisor.stop()


def test_stopping_while_waiting_for_the_environment_ends_the_wait(tmp_path: Path) -> None:
    environment = ScriptedEnvironment(Environment(False, detail="installing"))
    supervisor = RasaSupervisor(config_without_rasa(tmp_path), environment=environment, poll_seconds=0.01)
    supervisor.start()
    wait_for(lambda: environment.looks > 2, what="the supervisor to look at the environment")
    supervisor.stop()
    supervisor._thread.join(timeout=30)
    assert not supervisor._thread.is_alive()
    assert supervisor.phase == RasaPhase(INSTALLING, "installing") and supervisor.server is None


# -- the gateway while Rasa installs, and the switch -------------------------------------------

def models_with(tmp_path: Path, rasa_model: Path | None) -> Path:
    """A models directory with the session's sklearn model and, if given, a Rasa model."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "sklearn").symlink_to(trained_models_dir() / "sklearn", target_is_directory=True)
    if rasa_model is not None:
        (models / "rasa").mkdir()
        shutil.copy(rasa_model, models / "rasa" / rasa_model.name)
    return models


@pytest.fixture
def make_gateway(sqlite_url: str, tmp_path: Path) -> Iterator[Any]:
    """Builds the app with nlu.engine rasa (the sklearn engine answers whatever Rasa cannot) and
    Warga's own Rasa server to supervise, whose virtualenv (tmp_path/venv-rasa) does not exist yet;
    ``rasa_model`` is put in its models directory."""
    from bot.web.app import create_app

    apps: list[Any] = []

    def make(rasa_model: Path | None = None) -> Any:
        settings = make_settings(sqlite_url, tmp_path, env={"WARGA_NLU_RASA_TOKEN": secrets.token_hex(12)},
                                 overrides={
            "nlu.engine": "rasa", "nlu.rasa_autostart": True, "nlu.rasa_port": free_port(),
            "nlu.models_dir": str(models_with(tmp_path, rasa_model)), "nlu.var_dir": str(tmp_path / "rasa"),
            "nlu.rasa_venv": str(tmp_path / "venv-rasa"),
            # Long enough that only the supervisor's switch lets Rasa answer the next message.
            "nlu.rasa_retry_after": 600,
        })
        migrate(settings.database_url)
        app = create_app(settings)
        app.testing = True
        apps.append(app)
        return app

    try:
        yield make
    finally:
        for app in apps:
            app.extensions["warga"].close()


def start(app: Any, tmp_path: Path) -> tuple[RasaSupervisor, list[str]]:
    """What `warga run` does (bot/cli/main.py), with the install's var dir under tmp_path."""
    lines: list[str] = []
    rt = app.extensions["warga"]
    supervisor = start_supervisor(rt.settings, say=lines.append, nlu=rt.nlu, poll_seconds=0.05,
                                  environment=InstallProbe(tmp_path / "venv-rasa", tmp_path))
    return supervisor, lines


def chat(app: Any, text: str) -> str:
    """Send a web chat message; the engine that understood it (as stored with the message)."""
    r = app.test_client().post("/api/v1/chat/messages", json={"sender": SENDER, "text": text})
    assert r.status_code == 200 and r.get_json()["replies"], r.get_json()
    with app.extensions["warga"].sessions() as s:
        message = s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id.desc())).first()
        assert message is not None and message.nlu is not None
        return str(message.nlu["engine"])


def readiness(app: Any) -> tuple[int, dict[str, Any]]:
    r = app.test_client().get("/readyz")
    return r.status_code, r.get_json()


def test_the_gateway_answers_with_sklearn_while_rasa_installs(make_gateway: Any, tmp_path: Path) -> None:
    gateway = make_gateway()
    (tmp_path / "rasa-install.status").write_text(f"installing {os.getpid()}\n")
    supervisor, lines = start(gateway, tmp_path)
    try:
        wait_for(lambda: lines, what="the first phase to be said")     # said after it is set
        assert supervisor.phase == RasaPhase(INSTALLING, f"log: {tmp_path / 'rasa-install.log'}")
        assert lines == [f"Rasa: answering with the in-process engine while Rasa installs "
                         f"(log: {tmp_path / 'rasa-install.log'})"]

        assert chat(gateway, STATUS_TEXT) == "sklearn"

        code, body = readiness(gateway)
        assert code == 200 and body["status"] == "ok", body  # installing Rasa is not "unready"
        assert body["nlu"] == {"answering": "sklearn", "rasa_phase": INSTALLING,
                               "rasa_detail": f"log: {tmp_path / 'rasa-install.log'}"}
        assert body["checks"]["rasa"].startswith("installing environment (log: ")
        assert "the sklearn engine is answering" in body["checks"]["rasa"]

        (tmp_path / "rasa-install.status").write_text("failed 1\n")
        wait_for(lambda: lines[-1].startswith("Rasa failed"), what="the failure to be said")
        assert supervisor.phase is not None and supervisor.phase.name == FAILED
        code, body = readiness(gateway)
        assert code == 200 and body["nlu"]["rasa_phase"] == FAILED and "make rasa-venv" in body["nlu"]["rasa_detail"]
        assert lines[-1].startswith("Rasa failed: installing the Rasa environment failed (exit 1")
        assert chat(gateway, "halo") == "sklearn"
    finally:
        supervisor.stop()


def test_doctor_says_the_running_gateway_is_getting_rasa_ready(tmp_path: Path) -> None:
    from bot.runtime.doctor import rasa_fix

    settings = make_settings(f"sqlite:///{tmp_path / 'w.db'}", tmp_path, overrides={
        "nlu.engine": "rasa", "nlu.rasa_autostart": True, "nlu.var_dir": str(tmp_path / "rasa")})
    reason = "rasa server unreachable"
    assert "check its log" in rasa_fix(settings, reason)
    write_phase(phase_file(settings.nlu.var_dir), RasaPhase(INSTALLING, "log: var/rasa-install.log"))
    assert rasa_fix(settings, reason) == ("the running gateway's Rasa is installing environment "
                                          "(log: var/rasa-install.log); the sklearn engine answers until it is ready")
    write_phase(phase_file(settings.nlu.var_dir), RasaPhase(FAILED, "installing failed (exit 1)"))
    assert rasa_fix(settings, reason) == "the running gateway could not get Rasa ready: installing failed (exit 1)"


@pytest.fixture(scope="module")
def small_rasa_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small trained Rasa model (the supervisor then has nothing to train)."""
    own = tmp_path_factory.mktemp("rasa-model")
    return Path(shutil.copy2(shared_small_rasa_model(), own))


@pytest.mark.rasa
def test_rasa_takes_over_without_a_restart_when_its_environment_appears(
    small_rasa_model: Path, make_gateway: Any, tmp_path: Path
) -> None:
    gateway = make_gateway(small_rasa_model)
    supervisor, lines = start(gateway, tmp_path)
    try:
        wait_for(lambda: supervisor.phase is not None, what="the first phase")
        assert supervisor.phase is not None and supervisor.phase.name == INSTALLING
        assert chat(gateway, STATUS_TEXT) == "sklearn"
        assert readiness(gateway)[1]["nlu"]["answering"] == "sklearn"

        # The install finishes: the virtualenv appears where the settings say.
        (tmp_path / "venv-rasa").symlink_to(RASA_VENV, target_is_directory=True)
        wait_for(lambda: supervisor.ready.is_set() or supervisor.error, timeout=300, what="Rasa to be ready",
                 interval=0.2)
        assert supervisor.error is None, supervisor.error
        assert [line.split(":")[0] for line in lines] == ["Rasa", "Rasa", "Rasa ready"]
        assert lines[-1] == "Rasa ready: answering with Rasa"

        code, body = readiness(gateway)
        assert code == 200 and body["nlu"] == {"answering": "rasa", "rasa_phase": READY, "rasa_detail": ""}
        assert body["checks"]["rasa"] == "ok"
        assert chat(gateway, STATUS_TEXT) == "rasa"
    finally:
        supervisor.stop()
    assert supervisor.server is not None and not supervisor.server.running()
