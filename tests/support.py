"""Helpers shared by the test modules: waiting for a state, free ports, a real `warga run`.

Tests wait for states, never for time: :func:`wait_for` polls until what the test needs is
true and fails with what it was waiting for. Its timeout is a generous upper bound for a
loaded 2-core CI machine, not a performance claim; a passing test returns as soon as the
state is reached.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Literal, TypeVar

PROJECT = Path(__file__).resolve().parent.parent
#: The `warga` console script of the interpreter running the tests.
WARGA = str(Path(sys.executable).parent / "warga")

#: Default upper bound for :func:`wait_for`: long enough for a loaded CI machine.
WAIT_TIMEOUT = 30.0

T = TypeVar("T")


def wait_for(predicate: Callable[[], T | None | Literal[False]], timeout: float = WAIT_TIMEOUT,
             what: str = "the condition", *, interval: float = 0.02) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Args:
        predicate: Reads the state (a database query, a fake's recorded calls ...).
        timeout: Seconds before the test fails.
        what: What is awaited, for the failure message ("the reply to be sent").
        interval: Seconds before the second poll; the pause then grows to at most a tenth of a
            second, so a long wait does not take the CPU from the processes it waits for.

    Raises:
        AssertionError: ``timeout`` passed; the message names ``what`` and the last value.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last value: {value!r})")
        time.sleep(interval)
        interval = min(interval * 1.5, max(interval, 0.1))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port with nothing listening on it right now (a server to start, or "connection refused")."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session (``start_new_session=True``): SIGTERM to its
    whole group (gunicorn's arbiter and its workers), SIGKILL if it is still there after 30 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


class WargaProcess:
    """One real `warga run` process on a free port, started and waited for (``/healthz``).

    Args:
        env: The whole environment of the process (settings as ``WARGA_*`` variables).
        log: File that collects the process's output (shown when it fails to start); None
            discards it.
        start_timeout: Seconds for the server to answer ``/healthz``.
    """

    def __init__(self, env: dict[str, str], log: Path | None = None, *,
                 start_timeout: float = 4 * WAIT_TIMEOUT) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        out: IO[bytes] | int = log.open("ab") if log is not None else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen([WARGA, "run", "--port", str(self.port)], cwd=PROJECT, env=env,
                                         stdout=out, stderr=subprocess.STDOUT)
        finally:
            if not isinstance(out, int):
                out.close()
        try:
            wait_for(self._healthy, start_timeout, f"`warga run` on port {self.port} to answer /healthz",
                     interval=0.05)
        except AssertionError as exc:
            self.kill()
            tail = log.read_text(errors="replace")[-3000:] if log is not None else "(output discarded)"
            raise AssertionError(f"{exc}\n{tail}") from None

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log is not None else ""
            raise AssertionError(f"`warga run` exited at start-up with {self.proc.returncode}\n{tail}")
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a crash."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


class CuttableProxy:
    """A TCP proxy to a real server (PostgreSQL) whose line the test can cut and restore.

    Cut: every open connection is closed and new ones are closed as soon as they arrive, as a
    database that went away looks to its clients.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        import threading

        self.upstream = upstream
        self.down = False
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.down = True
        with self._lock:
            for s in self._open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._open.clear()

    def restore(self) -> None:
        self.down = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()
