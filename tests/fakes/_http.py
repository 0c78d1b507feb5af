"""A tiny keep-alive HTTP/1.1 server on 127.0.0.1 that records requests; base of the fakes.

Why not Werkzeug's dev server: it closes every connection, which hides client bugs that
only show when a pooled connection is reused (notes/provider-libraries.md §2, pattern C).
This one keeps connections open, sends Content-Length, and disables Nagle (without that,
each keep-alive request took 44 ms instead of 0.3 ms: Nagle plus delayed ACK).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]          # names lower-cased
    body: bytes
    at: float
    peer: tuple[str, int] = ("", 0)   # the client's (address, port): one per TCP connection
    # The status the fake answered, once it has (a list so the frozen record can carry it):
    # fault tests count only what a provider really accepted as delivered.
    answered: list[int] = field(default_factory=list, compare=False)

    def form(self) -> list[tuple[str, str]]:
        """The urlencoded body as pairs (repeats and blank values kept)."""
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)

    def form_dict(self) -> dict[str, str]:
        return dict(self.form())

    def json(self) -> Any:
        return json.loads(self.body)

    def basic_auth(self) -> tuple[str, str] | None:
        """The (user, password) of a Basic Authorization header, if any."""
        value = self.headers.get("authorization", "")
        if not value.lower().startswith("basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode("utf-8").partition(":")
        return user, password


@dataclass
class Reply:
    """What the fake answers."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    gate: threading.Event | None = None    # answer only once the test opens it

    @classmethod
    def json(cls, obj: Any, status: int = 200, delay: float = 0.0) -> Reply:
        return cls(status, json.dumps(obj).encode("utf-8"), "application/json", {}, delay)


@dataclass
class _Fault:
    reply: Reply | None          # None: only answer late
    times: int | None            # None: for ever
    where: dict[str, str]        # request fields that must match
    delay: float = 0.0
    after: int = 0               # let this many matching requests through first


class FaultRules:
    """The fakes' programmable failures: consumed in order, each ``times`` times (None: for
    ever), only for requests whose fields match ``where``, after ``after`` matching requests
    went through. A rule without a reply only delays the normal answer (timeouts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Fault] = []

    def add(self, reply: Reply | None, *, times: int | None = 1, where: dict[str, str | None] | None = None,
            delay: float = 0.0, after: int = 0) -> None:
        """Program a fault; ``where`` entries that are None match anything."""
        fields = {k: v for k, v in (where or {}).items() if v is not None}
        with self._lock:
            self._rules.append(_Fault(reply, times, fields, delay, after))

    def take(self, fields: dict[str, str]) -> tuple[Reply | None, float]:
        """The programmed reply for a request with ``fields`` (None: answer normally), and the
        delay for a normal answer; consumes the rules that applied."""
        delay = 0.0
        with self._lock:
            for rule in list(self._rules):
                if any(fields.get(k) != v for k, v in rule.where.items()):
                    continue
                if rule.after > 0:
                    rule.after -= 1
                    continue
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                if rule.reply is None:
                    delay = rule.delay
                    continue
                return rule.reply, 0.0
        return None, delay


class FakeServer:
    """Base class: subclasses implement :meth:`handle`.

    Use as ``with Fake() as fake:`` or ``fake = Fake().start()`` ... ``fake.stop()``.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- recording ---------------------------------------------------------------------

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def handle(self, request: Recorded) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError


class _Server(ThreadingHTTPServer):
    # The default listen backlog of 5 drops SYNs when many client threads connect at once;
    # the client then sees a 1 s retransmit and a connect timeout that is the fake's fault.
    request_queue_size = 128
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 60                      # idle keep-alive connections are closed after this

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        request = Recorded(self.command, path, query,
                           {k.lower(): v for k, v in self.headers.items()}, body, time.time(),
                           (str(self.client_address[0]), int(self.client_address[1])))
        fake: FakeServer = self.server.fake  # type: ignore[attr-defined]
        fake._record(request)
        reply = fake.handle(request)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.gate is not None:
            reply.gate.wait(60)
        request.answered.append(reply.status)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass                       # the client gave up (a timeout test)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        return

