"""`warga serve` keeps answering while 200 slow clients hold connections open (issue 9).

A real `warga serve` (gunicorn processes, waitress connections) on a free port; 200 sockets
send a request's headers and the first byte of a long body, then nothing. /healthz and the
chat API must still answer other clients. The test waits for the answers to arrive (with a
generous timeout for a loaded CI machine); it never measures how long they took.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import migrate, trained_models_dir
from tests.support import PROJECT, WARGA, free_port, stop_process_group, wait_for

SLOW_CLIENTS = 200
ANSWER_TIMEOUT = 30.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WARGA_", "TELEGRAM_", "TWILIO_"))}
    env.update({
        "WARGA_DATABASE_URL": f"sqlite:///{tmp_path / 'warga.db'}",
        "WARGA_CHANNELS_ENABLED": "web", "WARGA_NLU_ENGINE": "sklearn", "WARGA_NLU_RASA_AUTOSTART": "false",
        "WARGA_NLU_MODELS_DIR": str(trained_models_dir()), "WARGA_STORAGE_MEDIA_DIR": str(tmp_path / "media"),
        "WARGA_SERVER_CHAT_REPLY_WAIT_SECONDS": "20",
    })
    migrate(env["WARGA_DATABASE_URL"])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([WARGA, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                            cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def healthy() -> bool:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):
                    return True
            except OSError:
                return False

        wait_for(healthy, 60, "`warga serve` to answer /healthz", interval=0.1)
        yield url
    finally:
        stop_process_group(proc)
        log.close()


def slow_client(port: int, path: str) -> socket.socket:
    """Headers of a request with a 100 kB body, then one byte of it, then silence."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT)
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  "Content-Length: 100000\r\n\r\n{").encode())
    return sock


def test_slow_clients_do_not_stop_others_being_answered(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    paths = ["/api/v1/chat/messages", "/webhooks/telegram", "/console/login", "/healthz"]
    held = [slow_client(port, paths[i % len(paths)]) for i in range(SLOW_CLIENTS)]
    try:
        with urllib.request.urlopen(server + "/healthz", timeout=ANSWER_TIMEOUT) as resp:
            assert resp.status == 200 and json.load(resp)["status"] == "ok"
        body = json.dumps({"sender": "slowloris-test-sender-01", "text": "halo"}).encode()
        request = urllib.request.Request(server + "/api/v1/chat/messages", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=ANSWER_TIMEOUT) as resp:
            answer = json.load(resp)
            assert resp.status in (200, 202) and answer["message_id"] > 0
        get = urllib.request.Request(f"{server}/api/v1/chat/messages?after=0",
                                     headers={"X-Warga-Sender": "slowloris-test-sender-01"})
        with urllib.request.urlopen(get, timeout=ANSWER_TIMEOUT) as resp:
            assert resp.status == 200 and "messages" in json.load(resp)
        # The slow clients are still connected: nobody was answered by dropping them.
        assert sum(1 for s in held if _open(s)) == SLOW_CLIENTS
    finally:
        for sock in held:
            sock.close()


def _open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""     # b"": the server closed it
    except BlockingIOError:
        return True                                       # nothing to read: still open
    except OSError:
        return False
    finally:
        sock.setblocking(True)
