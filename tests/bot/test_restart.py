"""Crash safety with real processes: a reply stored but never sent is delivered after restart,
exactly once; the Redis queue backend runs jobs in `warga worker`."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import migrate, trained_models_dir
from tests.support import PROJECT, WARGA, WargaProcess, wait_for

pytestmark = pytest.mark.slow

SENDER = "restart0test0sender0000000000001"
REDIS_URL = "redis://127.0.0.1:6379/15"


def env_for(db: Path, backend: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARGA_")}
    env.update({
        "WARGA_DATABASE_URL": f"sqlite:///{db}", "WARGA_QUEUE_BACKEND": backend,
        "WARGA_QUEUE_REDIS_URL": REDIS_URL, "WARGA_QUEUE_SWEEP_SECONDS": "0.2",
        "WARGA_QUEUE_STALL_SECONDS": "0.2", "WARGA_SERVER_CHAT_REPLY_WAIT_SECONDS": "0.3",
        "WARGA_NLU_ENGINE": "sklearn", "WARGA_NLU_RASA_AUTOSTART": "false",
        "WARGA_NLU_MODELS_DIR": str(trained_models_dir()), "WARGA_CHANNELS_ENABLED": "web",
        "WARGA_SECURITY_CHAT_PER_SENDER_PER_MINUTE": "100000",
        "WARGA_SECURITY_CHAT_PER_ADDRESS_PER_MINUTE": "100000",
    })
    return env


def http(method: str, url: str, body: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class Server(WargaProcess):
    def __init__(self, db: Path, backend: str) -> None:
        super().__init__(env_for(db, backend), db.parent / "warga.log")

    def replies(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = http("GET", f"{self.url}/api/v1/chat/messages?after=0",
                                               headers={"X-Warga-Sender": SENDER})[1][
            "messages"]
        return messages


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    r.flushdb()
    path = tmp_path / "warga.db"
    migrate(f"sqlite:///{path}")
    yield path
    r.flushdb()
    r.close()


def test_message_stored_but_not_answered_is_answered_once_after_restart(db: Path) -> None:
    # The first server only queues work on Redis and no worker runs: the message is stored
    # and acknowledged, then the process dies before any reply exists.
    first = Server(db, "redis")
    status, body = http("POST", first.url + "/api/v1/chat/messages",
                        {"sender": SENDER, "text": "menu", "id": "restart-msg-1"})
    assert status == 202 and body["pending"] is True
    first.kill()

    second = Server(db, "thread")
    try:
        replies = wait_for(second.replies, what="the stored message to be answered after the restart")
        assert len(replies) == 1 and "Pilih yang Anda perlukan" in replies[0]["text"]
        first_reply = replies[0]["text"]
        # The client retries its POST after the crash: nothing new is stored or sent.
        status, body = http("POST", second.url + "/api/v1/chat/messages",
                            {"sender": SENDER, "text": "menu", "id": "restart-msg-1"})
        assert status == 200 and body["duplicate"] is True and len(body["replies"]) == 1
    finally:
        second.kill()
    third = Server(db, "thread")
    try:
        # A new message of the same conversation: messages are handled in order, so once it is
        # answered, anything a third start could have redone for the first one would have been.
        status, _ = http("POST", third.url + "/api/v1/chat/messages",
                         {"sender": SENDER, "text": "menu", "id": "restart-msg-2"})
        assert status in (200, 202)
        def two_replies() -> list[dict[str, Any]] | None:
            replies = third.replies()
            return replies if len(replies) >= 2 else None

        replies = wait_for(two_replies, what="the answer to the message sent after the third start")
        assert len(replies) == 2 and replies[0]["text"] == first_reply
    finally:
        third.kill()


def test_redis_backend_runs_jobs_in_warga_worker(db: Path) -> None:
    web = Server(db, "redis")
    try:
        status, _ = http("POST", web.url + "/api/v1/chat/messages",
                         {"sender": SENDER, "text": "menu", "id": "redis-msg-01"})
        assert status == 202
        assert web.replies() == []
        done = subprocess.run([WARGA, "worker", "--burst"], cwd=PROJECT, env=env_for(db, "redis"),
                              capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        replies = web.replies()
        assert len(replies) == 1 and "Pilih yang Anda perlukan" in replies[0]["text"]
    finally:
        web.kill()
