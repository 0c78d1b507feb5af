"""Telegram set-up calls: register, remove and inspect the webhook, check the token, and
long-poll getUpdates for machines without a public URL."""

from __future__ import annotations

import json
import os
import threading

import httpx
from telegram.error import TelegramError

from channels.base import SendError, SendFailure, WebhookInfo, WebhookRequest
from channels.telegram.client import BotClient
from channels.telegram.config import POLLING_URL, SECRET_RE, TelegramConfig
from channels.telegram.errors import api_result, send_error


def set_webhook(client: BotClient, url: str, secret: str | None = None, *,
                drop_pending_updates: bool = False, max_connections: int = 40) -> None:
    """Register ``url`` (https) as the webhook, with ``secret`` (default: the configured one).

    Raises:
        ValueError: For a non-https URL or a secret Telegram would not accept.
        SendError: If Telegram refuses.
    """
    secret = client.config.webhook_secret if secret is None else secret
    if not url.startswith("https://"):
        raise ValueError("Telegram only delivers webhooks to https:// URLs")
    if not SECRET_RE.fullmatch(secret):
        raise ValueError("webhook secret must be 1-256 of A-Z a-z 0-9 _ -")
    allowed = list(client.config.allowed_updates)
    try:
        client.call(lambda bot: bot.set_webhook(
            url=url, secret_token=secret, allowed_updates=allowed,
            drop_pending_updates=drop_pending_updates, max_connections=max_connections))
    except (TelegramError, TimeoutError) as exc:
        raise send_error(exc) from exc


def delete_webhook(client: BotClient, *, drop_pending_updates: bool = False) -> None:
    """Remove the webhook (needed before polling: getUpdates answers 409 while one is set)."""
    try:
        client.call(lambda bot: bot.delete_webhook(drop_pending_updates=drop_pending_updates))
    except (TelegramError, TimeoutError) as exc:
        raise send_error(exc) from exc


def get_webhook_info(client: BotClient) -> WebhookInfo:
    """Return the webhook state Telegram reports (watch ``pending_update_count`` and the last
    error: notes/channel-pitfalls.md §3)."""
    try:
        info = client.call(lambda bot: bot.get_webhook_info())
    except (TelegramError, TimeoutError) as exc:
        raise send_error(exc) from exc
    return WebhookInfo(
        url=info.url, pending_update_count=info.pending_update_count,
        last_error_date=info.last_error_date, last_error_message=info.last_error_message,
        max_connections=info.max_connections, allowed_updates=tuple(info.allowed_updates or ()),
        ip_address=info.ip_address)


def get_me(client: BotClient) -> tuple[int, str]:
    """Check the token: return the bot's (id, username)."""
    try:
        me = client.call(lambda bot: bot.get_me())
    except (TelegramError, TimeoutError) as exc:
        raise send_error(exc) from exc
    return me.id, me.username


class UpdatePoller:
    """Long-polls getUpdates over plain HTTP (one fork-aware ``httpx.Client``).

    Args:
        config: Token, API origin, timeouts and the update kinds to ask for.
    """

    def __init__(self, config: TelegramConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._pid: int | None = None

    def poll(self, offset: int | None = None, timeout: int = 30,
             limit: int = 100) -> tuple[list[WebhookRequest], int | None]:
        """Long-poll getUpdates once.

        The updates come back raw, one :class:`WebhookRequest` each (url ``telegram:getUpdates``,
        no headers), to be stored through ``parse_inbound`` exactly like webhook deliveries;
        skip ``verify`` for them (they came over our own authenticated request). Store them,
        then poll again with the returned offset: that confirms them to Telegram. A malformed
        update still advances the offset, so it can never block the ones after it.

        Returns:
            (requests, next offset: the highest update_id + 1, or ``offset`` if none came).

        Raises:
            SendError: 409 (permanent) while a webhook is set; 429 throttled; 5xx/network
                retry later.
        """
        params = {"timeout": str(timeout), "limit": str(limit),
                  "allowed_updates": json.dumps(list(self.config.allowed_updates))}
        if offset is not None:
            params["offset"] = str(offset)
        c = self.config
        http_timeout = httpx.Timeout(connect=c.connect_timeout, read=c.read_timeout + timeout,
                                     write=c.write_timeout, pool=c.pool_timeout)
        try:
            response = self._http().post(f"{c.bot_base_url}{c.token}/getUpdates", data=params,
                                         timeout=http_timeout)
        except httpx.HTTPError as exc:
            raise SendError(f"getUpdates failed: {type(exc).__name__}: {exc}", kind=SendFailure.retry_later,
                            code="network") from exc
        updates = api_result(response)
        if not isinstance(updates, list):
            raise SendError("getUpdates: result is not a list", kind=SendFailure.retry_later,
                            code="bad_response")
        requests: list[WebhookRequest] = []
        next_offset = offset
        for item in updates:
            uid = item.get("update_id") if isinstance(item, dict) else None
            if isinstance(uid, int) and not isinstance(uid, bool):
                next_offset = max(next_offset or 0, uid + 1)
            body = json.dumps(item, ensure_ascii=False).encode("utf-8")
            requests.append(WebhookRequest(url=POLLING_URL, headers={}, body=body))
        return requests, next_offset

    def close(self) -> None:
        """Close the HTTP client (in the process that opened it)."""
        with self._lock:
            if self._client is not None and self._pid == os.getpid():
                self._client.close()
            self._client = None

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client = httpx.Client()
                self._pid = os.getpid()
            return self._client
