"""What a connector is (:class:`Channel`) and the optional abilities ``bot`` checks for.

Each optional ability is a small runtime-checkable protocol: a connector has it or not, and
``bot`` asks with ``isinstance`` (never by the channel's name).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from channels.base.messages import Inbound, OutboundMessage, SendResult
from channels.base.requests import WebhookRequest, WebhookRoute


@dataclass(frozen=True, slots=True)
class CitizenAbilities:
    """What a citizen can send on a channel, so the dialogue asks only what can be answered.

    Attributes:
        share_location: The app can share a point on a map (Telegram, WhatsApp, the web page);
            otherwise the location is asked as an address in words.
        send_photos: The citizen can attach a photo; otherwise the photo question is skipped.
    """

    share_location: bool = True
    send_photos: bool = True


@runtime_checkable
class Channel(Protocol):
    """What every connector provides."""

    name: str

    def verify(self, request: WebhookRequest) -> None:
        """Raise :class:`WebhookRejected` unless the request is authentic."""

    def parse_inbound(self, request: WebhookRequest) -> list[Inbound]:
        """Turn an authentic request into messages, status updates or unparseable records.

        Never raises for malformed content: returns :class:`Unparseable` instead.
        """

    def send(self, message: OutboundMessage) -> SendResult:
        """Send one message. Raises :class:`SendError`."""


# -- optional abilities: a connector has them or not; ``bot`` checks with isinstance ----------

@runtime_checkable
class DescribesCitizenAbilities(Protocol):
    """A connector on which citizens cannot send everything (no map point, no photos)."""

    @property
    def citizen_abilities(self) -> CitizenAbilities:
        """What citizens can send here (connectors without this protocol allow everything)."""


@runtime_checkable
class DeclaresWebhooks(Protocol):
    """A connector its provider calls over HTTP."""

    def webhook_routes(self) -> tuple[WebhookRoute, ...]:
        """The paths the provider calls, each with its acknowledgement."""


@runtime_checkable
class FetchesMedia(Protocol):
    """A connector whose attachments must be downloaded through the provider."""

    def fetch_media(self, ref: str) -> tuple[str, bytes]:
        """Download ``Media.url``; return (content type, bytes). Raises :class:`SendError`."""


@runtime_checkable
class DeliversOnStore(Protocol):
    """A connector whose citizens read their replies from the store (the web chat): sending is
    only recording, so the outbox records the reply in the transaction that claims it, with no
    network call and no separate transaction per reply."""

    def record_delivery(self, message: OutboundMessage) -> SendResult:
        """What storing ``message`` amounts to (no I/O, never raises: it runs inside the
        transaction that stores or claims the reply). A reply of the dialogue is recorded as it
        is queued, before it has an id: its ``idempotency_key`` is then empty."""


@runtime_checkable
class NoDeliveryReports(Protocol):
    """A connector whose provider never reports on what was sent (Telegram's Bot API has no
    delivery callbacks): the outbox does not look for reports that came before it recorded
    a send (a statement per reply)."""

    #: Always False; present only on such connectors.
    reports_delivery: bool


@runtime_checkable
class AnswersButtons(Protocol):
    """A connector whose button presses must be acknowledged (``InboundMessage.callback_id``)."""

    def answer_callback(self, callback_id: str, text: str | None = None) -> bool:
        """Acknowledge a press; False when it is too old to matter. Raises :class:`SendError`."""


@runtime_checkable
class Closeable(Protocol):
    """A connector holding connections or threads to release at shutdown."""

    def close(self) -> None:
        """Release them; a later call starts them again lazily."""


@runtime_checkable
class Polls(Channel, Protocol):
    """A connector that can fetch updates itself (no public URL needed)."""

    def poll_updates(self, offset: int | None = None, timeout: int = 30,
                     limit: int = 100) -> tuple[list[WebhookRequest], int | None]:
        """Long-poll once: (raw updates for ``parse_inbound``, the next offset)."""


@dataclass(frozen=True, slots=True)
class WebhookInfo:
    """What the provider says about the webhook registered with it.

    Attributes:
        url: The registered URL ("" when none: polling).
        pending_update_count: Updates the provider holds for us (watch it grow).
        last_error_date: When the provider last failed to deliver.
        last_error_message: Why.
        max_connections: Concurrent deliveries the provider makes.
        allowed_updates: Update kinds it delivers.
        ip_address: The address it resolved our host to.
    """

    url: str
    pending_update_count: int
    last_error_date: datetime | None = None
    last_error_message: str | None = None
    max_connections: int | None = None
    allowed_updates: tuple[str, ...] = ()
    ip_address: str | None = None


@runtime_checkable
class ManagesWebhook(Protocol):
    """A connector whose webhook is registered through the provider's API (``warga channels``)."""

    def set_webhook(self, url: str, secret: str | None = None, *,
                    drop_pending_updates: bool = False, max_connections: int = 40) -> None:
        """Register ``url``. Raises ValueError for bad input, :class:`SendError` if refused."""

    def delete_webhook(self, *, drop_pending_updates: bool = False) -> None:
        """Remove the webhook."""

    def get_webhook_info(self) -> WebhookInfo:
        """The webhook state the provider reports."""

    def get_me(self) -> tuple[int, str]:
        """Check the credentials: the bot's (id, username)."""

    def close(self) -> None:
        """Release connections."""
