"""The Telegram connector object: one per process, composing the modules of this package."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from channels.base import (
    Inbound,
    OutboundMessage,
    SendResult,
    WebhookInfo,
    WebhookRequest,
    WebhookRoute,
)
from channels.telegram import admin, inbound, media, outbound
from channels.telegram.client import BotClient
from channels.telegram.config import NAME, WEBHOOK_PATH, TelegramConfig


class TelegramChannel:
    """The Telegram connector (see the package docstring).

    Besides :class:`~channels.base.Channel` it has the optional abilities
    ``DeclaresWebhooks``, ``FetchesMedia``, ``AnswersButtons``, ``Closeable``, ``Polls`` and
    ``ManagesWebhook`` of channels.base, and ``NoDeliveryReports``: the Bot API never reports
    on a message it accepted.

    Args:
        config: Token, secret and timeouts.
        clock: Returns "now" as an aware UTC datetime (for updates without a date).
    """

    name = NAME
    reports_delivery = False

    def __init__(self, config: TelegramConfig, *, clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self._client = BotClient(config)
        self._poller = admin.UpdatePoller(config)

    def close(self) -> None:
        """Close connection pools and stop the loop thread; the channel restarts lazily."""
        self._client.close()
        self._poller.close()

    def __enter__(self) -> TelegramChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def webhook_routes(self) -> tuple[WebhookRoute, ...]:
        """``POST /webhooks/telegram``, answered ``{"ok": true}``."""
        return (WebhookRoute(WEBHOOK_PATH, "inbound", '{"ok":true}\n', "application/json"),)

    def verify(self, request: WebhookRequest) -> None:
        """See :func:`channels.telegram.inbound.verify_secret`."""
        inbound.verify_secret(self.config, request)

    def parse_inbound(self, request: WebhookRequest) -> list[Inbound]:
        """Turn one webhook (or polled) update into exactly one item. Never raises."""
        return inbound.parse_update(request, self._clock())

    def send(self, message: OutboundMessage) -> SendResult:
        """See :func:`channels.telegram.outbound.send`."""
        return outbound.send(self._client, message)

    def plan(self, message: OutboundMessage) -> list[outbound.Part]:
        """See :func:`channels.telegram.outbound.plan`."""
        return outbound.plan(message)

    def answer_callback(self, callback_id: str, text: str | None = None) -> bool:
        """See :func:`channels.telegram.outbound.answer_callback`."""
        return outbound.answer_callback(self._client, callback_id, text)

    def fetch_media(self, ref: str) -> tuple[str, bytes]:
        """See :func:`channels.telegram.media.fetch_media`."""
        return media.fetch_media(self._client, self.config, ref)

    def set_webhook(self, url: str, secret: str | None = None, *, drop_pending_updates: bool = False,
                    max_connections: int = 40) -> None:
        """See :func:`channels.telegram.admin.set_webhook`."""
        admin.set_webhook(self._client, url, secret, drop_pending_updates=drop_pending_updates,
                          max_connections=max_connections)

    def delete_webhook(self, *, drop_pending_updates: bool = False) -> None:
        """See :func:`channels.telegram.admin.delete_webhook`."""
        admin.delete_webhook(self._client, drop_pending_updates=drop_pending_updates)

    def get_webhook_info(self) -> WebhookInfo:
        """See :func:`channels.telegram.admin.get_webhook_info`."""
        return admin.get_webhook_info(self._client)

    def get_me(self) -> tuple[int, str]:
        """See :func:`channels.telegram.admin.get_me`."""
        return admin.get_me(self._client)

    def poll_updates(self, offset: int | None = None, timeout: int = 30,
                     limit: int = 100) -> tuple[list[WebhookRequest], int | None]:
        """See :meth:`channels.telegram.admin.UpdatePoller.poll`."""
        return self._poller.poll(offset, timeout, limit)
