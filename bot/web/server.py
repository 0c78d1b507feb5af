"""The production HTTP server of `warga serve`: gunicorn's processes, waitress's connections.

gunicorn's threaded worker hands each connection to a thread that reads the request itself, so
a few hundred clients that send headers and never finish the body (slowloris) hold every
thread and nobody else is answered. waitress reads requests in one event loop and hands a
request to a thread only once its body has arrived in full (buffered, on disk past 512 KiB);
a connection idle for :data:`CHANNEL_TIMEOUT` seconds is closed. So this worker runs waitress
on the sockets gunicorn opened, and gunicorn keeps what it is good at: several processes,
restarting a dead one, graceful stops on SIGTERM.

Production still belongs behind a reverse proxy (nginx, Caddy) that terminates TLS and buffers
requests too; see the README's "Security" section.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server

from bot.settings import Settings
from bot.web.fair_accept import ConnectionTable, FairAccept

log = logging.getLogger(__name__)

#: Seconds a connection may stay silent (mid-request included) before it is closed.
CHANNEL_TIMEOUT = 30
#: Open connections one worker process keeps at most (waitress stops accepting beyond it).
CONNECTION_LIMIT = 1000
#: How often (seconds) the event loop wakes to tell gunicorn's arbiter this worker is alive.
HEARTBEAT = 1.0
#: The event loop's poll timeout (seconds) while the process holds back new connections.
HOLDING_BACK_POLL = 0.01

#: Request threads per process when ``server.threads`` is not set, by NLU engine: the sklearn
#: engine parses on the CPU, where more threads of one process only take turns (2 answered 8-13%
#: more web chat messages a second than 8 on the benchmark machine); a Rasa parse is a wait on
#: the Rasa server, which other threads fill.
DEFAULT_THREADS = {"sklearn": 2, "rasa": 8}


def request_threads(settings: Settings) -> int:
    """The request threads of each `warga serve` process."""
    return settings.server.threads or DEFAULT_THREADS.get(settings.nlu.engine, max(DEFAULT_THREADS.values()))


#: Made at import, in gunicorn's arbiter, before it forks the workers that share it.
CONNECTIONS = ConnectionTable()

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class WaitressWorker(Worker):
    """A gunicorn worker that serves its listening sockets with waitress.

    gunicorn settings it reads: ``threads`` (request threads of this process),
    ``worker_connections`` (open connections at most, default :data:`CONNECTION_LIMIT`) and
    ``limit_request_line``; ``max_body_bytes`` is set by `warga serve` on the class.
    """

    #: Bodies larger than this are refused by waitress (413) before the app buffers them.
    max_body_bytes = 2 * 1024 * 1024

    def run(self) -> None:
        server = create_server(
            access_logged(self.wsgi), sockets=[getattr(s, "sock", s) for s in self.sockets],
            threads=max(self.cfg.threads, 1),
            connection_limit=self.cfg.worker_connections or CONNECTION_LIMIT,
            channel_timeout=CHANNEL_TIMEOUT, cleanup_interval=max(CHANNEL_TIMEOUT // 3, 1),
            max_request_body_size=self.max_body_bytes,
            max_request_header_size=max(self.cfg.limit_request_line, 8190) * 4,
            asyncore_use_poll=True,      # select() cannot watch more than 1024 sockets
            ident="warga", clear_untrusted_proxy_headers=False, expose_tracebacks=False)
        # One socket gives a TcpWSGIServer (its map is ``_map``), several a MultiSocketServer.
        sockets_map = getattr(server, "map", None) or server._map
        # New connections go to the process holding the fewest (bot/web/fair_accept.py).
        listeners = [d for d in sockets_map.values() if isinstance(d, BaseWSGIServer)]
        fair = FairAccept(CONNECTIONS, lambda: sum(len(one.active_channels) for one in listeners))
        for listener in listeners:
            listener.readable = _and(listener.readable, fair.may_accept)
        parent = os.getppid()
        # The app is built (gunicorn loads it before run): from here this process takes connections.
        log.info("worker serving", extra={"pid": self.pid})
        try:
            while self.alive:
                self.notify()
                if os.getppid() != parent:
                    log.info("gunicorn arbiter gone: worker %s stops", self.pid)
                    break
                # Serve for about HEARTBEAT seconds, then report to the arbiter again. While
                # holding back new connections, poll briefly: the moment the others catch up
                # this process must take them, not a quarter of a second later.
                until = time.monotonic() + HEARTBEAT
                while time.monotonic() < until and self.alive:
                    wasyncore.loop(timeout=HOLDING_BACK_POLL if fair.holding_back else HEARTBEAT / 4,
                                   map=sockets_map, use_poll=True, count=1)
        finally:
            fair.close()
            server.task_dispatcher.shutdown()
            wasyncore.close_all(sockets_map)


def _and(first: Callable[[], bool], then: Callable[[], bool]) -> Callable[[], bool]:
    # waitress's own answer first (its connection limit, its idle-connection clean-up).
    return lambda: first() and then()


def access_logged(app: WsgiApp) -> WsgiApp:
    """One log line per request: method, path (never the query string: it may carry an
    id that grants access), status and milliseconds."""
    access = logging.getLogger("warga.access")

    def wrapped(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        status: list[str] = []

        def recording(code: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(code)
            return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

        try:
            return app(environ, recording)
        finally:
            access.info("request", extra={
                "method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO"),
                "status": int(status[-1].split()[0]) if status else None,
                "ms": round((time.monotonic() - started) * 1000, 1)})

    return wrapped
