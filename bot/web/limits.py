"""Rate limits of the public chat API, per sender id and per client address (issue 9).

flask-limiter does the counting (moving window, so a burst at a window's edge does not get twice
the limit); its storage is Redis with the redis queue backend, so every process shares the
counts, and memory with the thread backend (one process). A 429 carries Retry-After. When the
storage is unreachable requests are let through: a rate limit must not take the chat down.
"""

from __future__ import annotations

from flask import Blueprint, Flask, request
from flask_limiter import Limiter
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.settings import Settings
from bot.web.webchat import SENDER_HEADER


def client_address() -> str:
    """The client's address (behind ``security.trusted_proxies`` proxies: the forwarded one)."""
    return request.remote_addr or "unknown"


def _sender_key() -> str:
    body = request.get_json(silent=True) if request.method == "POST" else None
    sender = body.get("sender") if isinstance(body, dict) else request.headers.get(SENDER_HEADER)
    if isinstance(sender, str) and sender:
        return f"sender:{sender[:64]}"
    return f"nosender:{client_address()}"


def _not_the_api() -> bool:
    return not request.path.startswith("/api/")


def install_rate_limits(app: Flask, settings: Settings, chat: Blueprint) -> Limiter:
    """Limit every request to ``chat``'s API routes per sender and per client address.

    Call before ``chat`` is registered on ``app``.
    """
    if settings.security.trusted_proxies:
        # Only then is X-Forwarded-For believed: otherwise any client could name any address.
        n = settings.security.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    storage = settings.queue.redis_url if settings.queue.backend == "redis" else "memory://"
    limiter = Limiter(key_func=client_address, app=app, storage_uri=storage, strategy="moving-window",
                      headers_enabled=True, swallow_errors=True, key_prefix="warga-limits")
    # Fixed strings, parsed once: a process's settings do not change while it runs (a callable
    # here was parsed again for every request).
    security = settings.security
    limiter.limit(f"{security.chat_per_sender_per_minute}/minute", key_func=_sender_key,
                  exempt_when=_not_the_api, per_method=False)(chat)
    limiter.limit(f"{security.chat_per_address_per_minute}/minute", key_func=client_address,
                  exempt_when=_not_the_api)(chat)
    return limiter
