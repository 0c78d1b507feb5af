"""Types every channel connector shares.

A connector turns a provider's HTTP request into plain frozen dataclasses and sends
:class:`OutboundMessage` back through the provider's API. Connectors never import ``bot``,
Flask or SQLAlchemy: ``bot`` composes them, so each one is testable alone with a table of
real-shaped payloads.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """The parts of an HTTP request a connector may look at.

    Attributes:
        url: The URL the provider called, as the provider saw it (public scheme and host),
            including the query string. Signature checks are computed over this.
        headers: Request headers (case-insensitive lookups are the caller's job: keys are
            stored lower-cased).
        body: The raw body bytes.
        form: Parsed ``application/x-www-form-urlencoded`` pairs in arrival order (repeats
            allowed, blank values kept: Twilio signs them), empty for JSON bodies. When it is
            empty, a form-encoded ``body`` is parsed by the connector itself.
    """

    url: str
    headers: Mapping[str, str]
    body: bytes
    form: tuple[tuple[str, str], ...] = ()

    def header(self, name: str, default: str = "") -> str:
        """Return a header's value, matching the name case-insensitively."""
        value = self.headers.get(name.lower())
        if value is not None:
            return value
        wanted = name.lower()
        for key, val in self.headers.items():
            if key.lower() == wanted:
                return val
        return default


@dataclass(frozen=True, slots=True)
class Media:
    """An attachment as the provider describes it; the bytes are fetched later by a worker."""

    url: str                      # provider URL or a provider file id ("tg-file:<file_id>")
    content_type: str | None = None
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float
    address: str | None = None    # a venue title / Twilio "Address", if the provider gave one


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message a citizen sent, as the connector understood it.

    Attributes:
        channel: "telegram" | "sms" | "whatsapp" | "web".
        external_id: The provider's id of this update, the de-duplication key.
        sender: A URN: "telegram:3527065", "tel:+6281234567890", "whatsapp:+62812...",
            "web:<opaque client id>". Never assume it is a phone number.
        text: What the citizen said. For a pressed button it is the button's payload.
        received_at: Aware UTC time the provider stamped.
        sender_name: Display name, when the provider gives one.
        media: Attachments.
        location: A shared location.
        reply_to_button: The payload of a pressed button or quick reply.
        phone: A phone number the citizen shared (Telegram contact) to link channels. Only
            set when the citizen shared their *own* contact.
        kind: "message" for things the dialogue should process; other kinds ("edited",
            "group", "member", "ignored") are stored for the transcript but not processed.
        raw: The provider's payload for this message, kept for staff and debugging.
        event: A contact-level event the connector recognised, to act on before (or instead
            of) the dialogue: "blocked" / "unblocked" (Telegram ``my_chat_member``: the
            citizen blocked the bot, i.e. unreachable, or unblocked it), "opt_out" (SMS or
            WhatsApp keyword STOP / BERHENTI, or Twilio's ``OptOutType=STOP``), "opt_in"
            (START / MULAI), "help" (HELP / BANTUAN). None for ordinary messages.
        callback_id: A provider token the worker must acknowledge (Telegram: the
            ``callback_query`` id, answered with ``TelegramChannel.answer_callback``).
    """

    channel: str
    external_id: str
    sender: str
    text: str
    received_at: datetime
    sender_name: str | None = None
    media: tuple[Media, ...] = ()
    location: Location | None = None
    reply_to_button: str | None = None
    phone: str | None = None
    kind: str = "message"
    raw: str | None = None
    event: str | None = None
    callback_id: str | None = None


class DeliveryStatus(enum.IntEnum):
    """Outbound delivery states, ranked so statuses only move forward.

    ``failed`` outranks everything: once a message failed, a late "sent" or "delivered"
    callback cannot resurrect it (see notes/channel-pitfalls.md §5). A deliberate retry
    creates a new attempt instead.
    """

    pending = 0
    queued = 1
    sent = 2
    delivered = 3
    read = 4
    held = 5         # not sendable now (e.g. WhatsApp outside 24 h, no template): staff must act
    failed = 6

    @classmethod
    def parse(cls, value: str) -> "DeliveryStatus | None":
        mapping = {"accepted": cls.queued, "scheduled": cls.queued, "sending": cls.queued,
                   "undelivered": cls.failed, "canceled": cls.failed}
        if value in mapping:
            return mapping[value]
        try:
            return cls[value]
        except KeyError:
            return None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A provider's report about a message we sent.

    Attributes:
        unreachable: The error means the citizen cannot be reached any more on this channel
            (Twilio 21610: they texted STOP). Mark the contact address opted out.
        window_closed: The error means WhatsApp's 24-hour window was closed (Twilio 63016):
            the message needs an approved template, retrying free-form will fail again.
    """

    channel: str
    provider_message_id: str
    status: DeliveryStatus
    at: datetime
    error_code: str | None = None
    error_reason: str | None = None
    raw: str | None = None
    unreachable: bool = False
    window_closed: bool = False


@dataclass(frozen=True, slots=True)
class Unparseable:
    """An authenticated request we could not understand: stored raw, answered 2xx."""

    channel: str
    external_id: str
    reason: str
    raw: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the citizen.

    Attributes:
        title: What the citizen sees.
        payload: What comes back when it is pressed (Telegram ``callback_data``: keep it
            within 64 bytes; longer payloads are sent as a digest, see channels/telegram.py).
        kind: "reply" (an ordinary choice), "request_contact" or "request_location"
            (Telegram asks the app to share the phone number / location; channels without
            such buttons just show the title).
    """

    title: str
    payload: str
    kind: str = "reply"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A reply or notification to send.

    Attributes:
        channel: Channel name.
        recipient: The URN of the citizen (same form as ``InboundMessage.sender``).
        text: The text; connectors split or shorten it to fit their limits.
        buttons: Choices. Channels without buttons render them as numbered lines.
        media_urls: Public URLs of images to attach.
        location: A location to send.
        template: A notification kind ("status_changed", ...) for channels that need an
            approved template outside a session window; ``template_vars`` fill it.
        last_inbound_at: When this citizen last wrote on this channel (WhatsApp's
            24-hour window is counted from it).
        idempotency_key: Stable id of this outbound message in our store.
        language: The citizen's language ("id", "en") for the few words a connector adds
            itself, e.g. "Balas 1 untuk ..." / "Reply 1 for ..." when buttons become lines.
        resume_from: How many parts of this message were already sent by earlier attempts
            (``SendError.parts_sent``). A connector that splits a long message into several
            provider messages skips that many, so a retry never repeats a part.
    """

    channel: str
    recipient: str
    text: str
    buttons: tuple[Button, ...] = ()
    media_urls: tuple[str, ...] = ()
    location: Location | None = None
    template: str | None = None
    template_vars: tuple[tuple[str, str], ...] = ()
    last_inbound_at: datetime | None = None
    idempotency_key: str = ""
    language: str | None = None
    resume_from: int = 0


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_ids: tuple[str, ...]
    status: DeliveryStatus = DeliveryStatus.sent
    note: str | None = None       # e.g. "sent as template", "held: needs template"


class WebhookRejected(Exception):
    """The request is not authentic (bad or missing signature/secret): answer 403."""


class SendError(Exception):
    """A call to a provider failed (sending, and also the other provider calls a connector
    makes: fetching media, answering a button, registering a webhook, polling).

    Attributes:
        retryable: Whether trying again later may succeed (5xx, 429, timeouts).
        retry_after: Seconds the provider asked us to wait, if it said.
        code: The provider's error code.
        unreachable: The citizen cannot be reached any more (blocked the bot, opted out).
        outcome_unknown: The request may have reached the provider (a timeout after sending).
        window_closed: WhatsApp's 24-hour window is closed: only a template can go out.
        parts_sent: For a message sent as several provider messages: how many parts in
            total (counting ``OutboundMessage.resume_from``) went out before this failure.
            Pass it back as ``resume_from`` on the retry.
        sent_ids: Provider ids of the parts this attempt did send before failing.
    """

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None,
                 code: str | None = None, unreachable: bool = False,
                 outcome_unknown: bool = False, window_closed: bool = False,
                 parts_sent: int = 0, sent_ids: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code
        self.unreachable = unreachable
        self.outcome_unknown = outcome_unknown
        self.window_closed = window_closed
        self.parts_sent = parts_sent
        self.sent_ids = sent_ids

    def __repr__(self) -> str:
        return (f"SendError({self.reason!r}, retryable={self.retryable}, code={self.code!r}, "
                f"retry_after={self.retry_after}, unreachable={self.unreachable}, "
                f"outcome_unknown={self.outcome_unknown}, window_closed={self.window_closed}, "
                f"parts_sent={self.parts_sent})")


Inbound = InboundMessage | StatusUpdate | Unparseable


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
