"""bench/load.py measures the server, not its own start-up or polling: the load starts only once
every worker process of `warga serve` takes connections, and a webhook citizen writes again only
once every reply to its message is recorded sent. Nothing is timed here: speed is the
benchmark's business (docs/BENCHMARKS.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import migrate, trained_models_dir
from tests.pg_databases import create_pg_database, release_pg_database
from tests.support import PROJECT, WARGA, free_port, stop_process_group

# The bench scripts import each other as siblings (bench/ is not a package).
sys.path.insert(0, str(PROJECT / "bench"))

from load_citizens import Deliveries, Post, ReplyCheck  # noqa: E402
from load_targets import serving_pids, wait_ready  # noqa: E402
from process_memory import children  # noqa: E402

# Only the columns the reply check reads.
MESSAGES = ("CREATE TABLE messages (id INTEGER PRIMARY KEY, direction VARCHAR(3), channel VARCHAR(20), "
            "external_id VARCHAR(200), status VARCHAR(20), reply_to_id INTEGER, processed_at VARCHAR(40))")


def test_a_webhook_citizen_writes_again_only_once_every_reply_is_recorded_sent(db_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.begin() as c:
        c.execute(text(MESSAGES))
        c.execute(text("INSERT INTO messages VALUES (1, 'in', 'telegram', '5:7:1', 'received', NULL, NULL)"))
    deliveries = Deliveries()
    steps: list[str] = []

    def server() -> None:
        # Two replies; the first reaches the provider before it is recorded sent, the second is
        # recorded last. The pauses give a check that returned too early the time to be seen.
        def do(step: str, sql: str | None = None) -> None:
            time.sleep(0.2)
            if sql is not None:
                with engine.begin() as c:
                    c.execute(text(sql))
            else:
                deliveries.record("tg:7", time.time())
            steps.append(step)

        do("replies stored", "INSERT INTO messages VALUES (2, 'out', 'telegram', NULL, 'sending', 1, NULL), "
                             "(3, 'out', 'telegram', NULL, 'pending', 1, NULL)")
        do("processed", "UPDATE messages SET processed_at = 'now' WHERE id = 1")
        do("first delivered")
        do("first recorded", "UPDATE messages SET status = 'sent' WHERE id = 2")
        do("second delivered")
        do("second recorded", "UPDATE messages SET status = 'sent' WHERE id = 3")

    check = ReplyCheck(db_url, deliveries)
    thread = threading.Thread(target=server)
    thread.start()
    try:
        assert deliveries.wait_beyond("tg:7", 0, 30) is not None
        check.wait_all_sent("telegram", "5:7:1", "tg:7", 0, 30)
        assert steps[-1] == "second recorded"
        assert check.messages == 1 and check.asks >= 1
    finally:
        thread.join()
        check.close()
        engine.dispose()


def test_a_reply_recorded_failed_ends_the_wait_too(sqlite_url: str) -> None:
    import sqlite3

    with sqlite3.connect(sqlite_url.split(":///", 1)[1]) as c:
        c.execute(MESSAGES)
        c.execute("INSERT INTO messages VALUES (1, 'in', 'sms', 'SM1', 'received', NULL, 'now')")
        c.execute("INSERT INTO messages VALUES (2, 'out', 'sms', NULL, 'sent', 1, NULL)")
        c.execute("INSERT INTO messages VALUES (3, 'out', 'sms', NULL, 'failed', 1, NULL)")
    deliveries = Deliveries()
    deliveries.record("sms:+62", time.time())     # the first reply; the failed one reaches no provider
    check = ReplyCheck(sqlite_url, deliveries)
    try:
        check.wait_all_sent("sms", "SM1", "sms:+62", 0, 30)
        assert check.asks >= 1
    finally:
        check.close()


class _Proc:
    def __init__(self, pid: int) -> None:
        self.pid = pid


def test_a_citizen_whose_idle_connection_was_closed_by_the_server_sends_on_a_new_one() -> None:
    """The server may close a keep-alive connection between two messages (waitress does after
    its channel timeout): the next message goes out on a new connection instead of being
    counted unanswered."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    bodies: list[bytes] = []

    def serve_each_connection_once() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data or not data.endswith(b"}"):
                    data += conn.recv(4096)
                bodies.append(data.split(b"\r\n\r\n", 1)[1])
                # Answered as keep-alive, then closed without a word: the client learns it only
                # when it sends again.
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")

    server = threading.Thread(target=serve_each_connection_once, daemon=True)
    server.start()
    post = Post(f"http://127.0.0.1:{port}", timeout=10)
    try:
        assert post("/api/v1/chat/messages", b'{"text": "halo"}', "application/json") == (200, b"{}")
        assert post("/api/v1/chat/messages", b'{"text": "lagi"}', "application/json") == (200, b"{}")
    finally:
        post.close()
        listener.close()
    server.join(10)
    assert bodies == [b'{"text": "halo"}', b'{"text": "lagi"}']


def test_serving_counts_the_live_worker_processes_that_said_so(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    me, gone = os.getpid(), 2 ** 22 + 1           # past pid_max's default: no such process
    lines = [
        "[2026-11-29 13:02:38 +0000] [1] [INFO] Booting worker with pid: 1",
        json.dumps({"logger": "bot.web.server", "msg": "worker serving", "pid": me}),
        json.dumps({"logger": "bot.web.server", "msg": "worker serving", "pid": gone}),
        json.dumps({"logger": "warga.access", "msg": "worker serving", "pid": me + 1}),
        '{"logger": "bot.web.server", "msg": "worker serving", "pid": ',          # cut short
    ]
    log.write_text("\n".join(lines) + "\n")
    assert serving_pids(log, [_Proc(me)]) == {me}        # type: ignore[list-item]


@pytest.fixture
def pg_serve(tmp_path: Path, pg_reason: str | None) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    if pg_reason:
        pytest.skip(pg_reason)
    name, url = create_pg_database()
    migrate(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WARGA_", "TELEGRAM_", "TWILIO_"))}
    env.update({
        "WARGA_DATABASE_URL": url, "WARGA_CHANNELS_ENABLED": "web", "WARGA_NLU_ENGINE": "sklearn",
        "WARGA_NLU_RASA_AUTOSTART": "false", "WARGA_NLU_MODELS_DIR": str(trained_models_dir()),
        "WARGA_STORAGE_MEDIA_DIR": str(tmp_path / "media"),
    })
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([WARGA, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                                cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}", proc, log
    finally:
        stop_process_group(proc)
        release_pg_database(name)


def test_the_load_waits_until_every_worker_process_serves(pg_serve: tuple[str, Any, Path]) -> None:
    url, proc, log = pg_serve
    wait_ready(url + "/healthz", [proc], 120, log, serving=2)
    # Each of gunicorn's two workers said it takes connections (bot/web/server.py).
    assert serving_pids(log, [proc]) == set(children(proc.pid))
    assert len(children(proc.pid)) == 2
