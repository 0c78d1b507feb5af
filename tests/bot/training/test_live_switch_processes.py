"""Must hold (issue 13): with two gunicorn workers and a Redis worker running, activating a
version reaches all of them without a restart, and rolling back does too.

Real processes on PostgreSQL and Redis (db 8): `warga serve --workers 2` and `warga worker`.
The version is trained and activated with the CLI (`warga nlu train --from-db`, `warga nlu
activate`). Each gunicorn worker says on /readyz which version it serves (with its pid); the
Redis worker's version is the one stored with each message it answers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.store.engine import make_session_factory
from bot.store.models import Message
from bot.training.jobs import request_training
from bot.training.registry import RUNNING, Registry
from bot.training.store import Actor
from tests.bot.fault_harness import pg_url  # noqa: F401  (fixture)
from tests.bot.training.data import write_small_data
from tests.conftest import make_settings, trained_models_dir
from tests.support import PROJECT, WARGA, free_port, wait_for

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/8"
SERVING = re.compile(r"^(\S+) \(pid (\d+)\)$")


def warga(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([WARGA, *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"warga {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


def readyz(url: str) -> tuple[str, int] | None:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=5) as r:
            body = json.load(r)
    except (OSError, urllib.error.HTTPError, ValueError):
        return None
    found = SERVING.match(body.get("checks", {}).get("nlu_model", ""))
    return (found.group(1), int(found.group(2))) if found else None


def every_web_worker_serves(url: str, version: str, workers: int = 2) -> bool:
    """Ask /readyz until each of the gunicorn workers has answered once with ``version``."""
    seen: dict[int, str] = {}
    for _ in range(60):                    # requests spread over the workers; 60 reach both
        got = readyz(url)
        if got is not None:
            seen[got[1]] = got[0]
        if len(seen) >= workers:
            break
    return len(seen) >= workers and all(v == version for v in seen.values())


def chat(url: str, text_: str) -> None:
    body = json.dumps({"sender": uuid.uuid4().hex, "id": uuid.uuid4().hex[:16], "text": text_}).encode()
    request = urllib.request.Request(url + "/api/v1/chat/messages", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status in (200, 202)


def test_activation_and_rollback_reach_every_process(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    redis = pytest.importorskip("redis")
    redis.Redis.from_url(REDIS_URL).flushdb()
    models = tmp_path / "models"
    shutil.copytree(trained_models_dir() / "sklearn", models / "sklearn")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WARGA_", "TELEGRAM_", "TWILIO_"))}
    env.update({
        "WARGA_DATABASE_URL": pg_url, "WARGA_CHANNELS_ENABLED": "web",
        "WARGA_NLU_ENGINE": "sklearn", "WARGA_NLU_RASA_AUTOSTART": "false",
        "WARGA_NLU_MODELS_DIR": str(models), "WARGA_NLU_DATA_DIR": str(write_small_data(tmp_path / "data")),
        "WARGA_NLU_LIVE_CHECK_SECONDS": "2",
        "WARGA_STORAGE_MEDIA_DIR": str(tmp_path / "media"),
        "WARGA_QUEUE_BACKEND": "redis", "WARGA_QUEUE_REDIS_URL": REDIS_URL,
        "WARGA_QUEUE_SWEEP_SECONDS": "0.3", "WARGA_QUEUE_STALL_SECONDS": "1",
        "WARGA_SECURITY_CHAT_PER_SENDER_PER_MINUTE": "100000",
        "WARGA_SECURITY_CHAT_PER_ADDRESS_PER_MINUTE": "100000",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    })
    (tmp_path / "metrics").mkdir()
    assert "training data" in warga(env, "db", "upgrade")           # seeded from the small data set
    trained = warga(env, "nlu", "train", "--from-db")
    version = re.search(r"^(\S+): trained", trained, re.M)
    assert version is not None, trained
    version_id = version.group(1)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "processes.log"
    procs: list[subprocess.Popen[bytes]] = []
    engine = create_engine(pg_url)

    def worker_answers_with(expected: str) -> bool:
        """A message answered by the Redis worker, stored with the version that understood it."""
        marker = f"ada banjir di jalan {uuid.uuid4().hex[:6]}"
        chat(url, marker)

        def stored() -> str | None:
            with Session(engine) as s:
                nlu = s.scalar(select(Message.nlu).where(Message.direction == "in", Message.text == marker))
            return (nlu or {}).get("model_version") if nlu else None
        return wait_for(stored, 30, "the worker to answer") == expected

    try:
        with log.open("ab") as out:
            for args in (["serve", "--port", str(port), "--workers", "2"], ["worker"]):
                procs.append(subprocess.Popen([WARGA, *args], cwd=PROJECT, env=env, stdout=out,
                                              stderr=subprocess.STDOUT, start_new_session=True))
        wait_for(lambda: every_web_worker_serves(url, "initial"), 60, "both web workers serving the first model")
        chat(url, "halo")                                            # the worker is up and answering

        warga(env, "nlu", "activate", version_id)
        wait_for(lambda: every_web_worker_serves(url, version_id), 60, f"both web workers serving {version_id}")
        wait_for(lambda: worker_answers_with(version_id), 60, f"the Redis worker answering with {version_id}")

        warga(env, "nlu", "rollback")
        wait_for(lambda: every_web_worker_serves(url, "initial"), 60, "both web workers back on the first model")
        wait_for(lambda: not worker_answers_with(version_id), 60, "the Redis worker back on the first model")

        # "Latih" with the redis backend: an RQ job that `warga worker` runs.
        settings = make_settings(pg_url, tmp_path, overrides={
            "queue.backend": "redis", "queue.redis_url": REDIS_URL, "nlu.models_dir": str(models),
            "nlu.data_dir": env["WARGA_NLU_DATA_DIR"]})
        sessions = make_session_factory(engine)
        queued = request_training(sessions, settings, Actor("staff:admin"))

        def finished() -> str | None:
            with sessions() as s:
                row = Registry(s).get(queued)
                return row.status if row is not None and row.status not in RUNNING else None
        assert wait_for(finished, 300, f"the worker to train {queued}") == "trained"
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{log.read_text(errors='replace')[-4000:]}") from None
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        engine.dispose()
