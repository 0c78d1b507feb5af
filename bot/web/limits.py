"""Rate limits of the public chat API, per sender id and per client address (issue 9).

The ``limits`` library does the counting with its sliding window counter: the previous minute's
count, weighted by how much of it still overlaps the last 60 s, plus this minute's, so a burst at
a window's edge does not get twice the limit. It keeps two counters per key, where a moving
window keeps one timestamp per allowed request: with an address's limit in the hundreds (many
phones behind one carrier's address), the moving window copied a list that long on every hit.
Its storage is Redis with the redis queue backend, so every process shares the counts, and
memory with the thread backend (each process counts its own). Each API route has its own
budget per key (polling for replies never starves sending). A 429 carries Retry-After. When the
storage is unreachable requests are let through: a rate limit must not take the chat down.

A ``before_request`` hook for the chat's blueprint hits the two limits itself: Flask-Limiter
(``limits``' Flask extension) cost about 8% of a chat message's CPU under load for the same two
hits, in the machinery of a general extension (exemption scopes, limit lookups per request,
headers on every response) that these two fixed limits do not need.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import cast

from flask import Blueprint, Flask, Response, jsonify, request
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.settings import Settings
from bot.web.webchat import SENDER_HEADER

log = logging.getLogger(__name__)

#: Prefix of the counters' keys in Redis.
KEY_PREFIX = "warga-limits"


def client_address() -> str:
    """The client's address (behind ``security.trusted_proxies`` proxies: the forwarded one)."""
    return request.remote_addr or "unknown"


def _sender_key() -> str:
    body = request.get_json(silent=True) if request.method == "POST" else None
    sender = body.get("sender") if isinstance(body, dict) else request.headers.get(SENDER_HEADER)
    if isinstance(sender, str) and sender:
        return f"sender:{sender[:64]}"
    return f"nosender:{client_address()}"


class QuietMemoryStorage(MemoryStorage):
    """limits' memory storage without its expiry thread.

    After a hit, MemoryStorage starts a ``threading.Timer`` that drops expired counters 10 ms
    later, unless the previous one still runs: under load a new thread every 10 ms in each
    process, about 2% of a chat message's CPU. A counter is dropped anyway when it is read after
    it expired (``MemoryStorage.get``); the sweep only bounds the memory of senders who never
    come back. Here it runs in the hitting thread, at most once every :attr:`SWEEP_SECONDS`.
    The hook overridden is the library's private one: should a release rename it, its timer
    simply comes back.
    """

    SWEEP_SECONDS = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._next_sweep = clock() + self.SWEEP_SECONDS

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - the name MemoryStorage calls
        now = self._clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.SWEEP_SECONDS
        sweep = getattr(self, "_MemoryStorage__expire_events", None)
        if sweep is not None:
            sweep()


def limits_storage(settings: Settings) -> Storage:
    """Redis with the redis queue backend (every process counts against the same limits),
    else this process's memory."""
    if settings.queue.backend == "redis":
        redis = storage_from_string(settings.queue.redis_url, wrap_exceptions=True, key_prefix=KEY_PREFIX)
        return cast(Storage, redis)       # a redis:// URI gives the synchronous storage
    return QuietMemoryStorage()


class ChatRateLimiter:
    """Counts chat API requests and refuses those over a limit (see the module's docstring)."""

    def __init__(self, settings: Settings, blueprint: str) -> None:
        self.blueprint = blueprint
        security = settings.security
        self.per_sender = RateLimitItemPerMinute(security.chat_per_sender_per_minute)
        self.per_address = RateLimitItemPerMinute(security.chat_per_address_per_minute)
        self.window = SlidingWindowCounterRateLimiter(limits_storage(settings))

    def refusal(self) -> Response | None:
        """None when the request is within both limits (each counted), else the 429 to answer.

        The per-sender limit is counted first; a request it refuses is not counted against the
        address.
        """
        if request.blueprint != self.blueprint or not request.path.startswith("/api/"):
            return None           # not the chat API (the chat page and its assets included)
        endpoint = request.endpoint or request.path
        for item, key in ((self.per_sender, _sender_key()), (self.per_address, client_address())):
            try:
                if self.window.hit(item, endpoint, key):
                    continue
                reset_at = self.window.get_window_stats(item, endpoint, key).reset_time
            except StorageError as exc:
                log.warning("rate limit storage unreachable: request let through",
                            extra={"reason": type(exc.storage_error).__name__})
                return None
            return _too_many(item, reset_at)
        return None


def _too_many(item: RateLimitItem, reset_at: float) -> Response:
    wait = max(1, math.ceil(reset_at - time.time()))
    resp = jsonify(error="too_many_requests",
                   message=f"at most {item.amount} requests a minute; send again in {wait} s")
    resp.status_code = 429
    resp.headers["Retry-After"] = str(wait)
    return resp


def install_rate_limits(app: Flask, settings: Settings, chat: Blueprint) -> ChatRateLimiter:
    """Limit every request to ``chat``'s API routes per sender and per client address.

    Call before ``chat`` is registered on ``app``.
    """
    if settings.security.trusted_proxies:
        # Only then is X-Forwarded-For believed: otherwise any client could name any address.
        n = settings.security.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    limiter = ChatRateLimiter(settings, chat.name)
    # On the app, not the blueprint: the blueprint is one object for every app built.
    app.before_request(limiter.refusal)
    return limiter
