"""Types every channel connector shares.

A connector turns a provider's HTTP request into plain frozen dataclasses and sends
:class:`OutboundMessage` back through the provider's API. Connectors never import ``bot``,
Flask or SQLAlchemy: ``bot`` composes them, so each one is testable alone with a table of
real-shaped payloads.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable


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
        route: The kind of the connector's :class:`WebhookRoute` the request came to
            ("inbound" or "status"), so a connector with several routes knows what it was
            sent without guessing from the fields; None when it did not come to a route
            (polling, tests calling the connector directly).
        files: Files uploaded with a ``multipart/form-data`` request (the web chat's photo),
            already checked and saved on this machine by the web layer; ``form`` then holds
            the other fields.
    """

    url: str
    headers: Mapping[str, str]
    body: bytes
    form: tuple[tuple[str, str], ...] = ()
    route: Literal["inbound", "status"] | None = None
    files: tuple[UploadedFile, ...] = ()

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
class UploadedFile:
    """A file that came with a request, saved by the web layer under a name it generated.

    Attributes:
        field: The form field it came in.
        filename: The name the citizen's device gave it: text to show, never a path.
        content_type: The type its first bytes show (not the one the client declared).
        path: Where it is saved.
        size: Its length in bytes.
    """

    field: str
    filename: str
    content_type: str
    path: str
    size: int


@dataclass(frozen=True, slots=True)
class Media:
    """An attachment as the provider describes it; the bytes are fetched later by a worker,
    unless the connector already holds them on this machine (``local_path``)."""

    url: str                      # provider URL or a provider file id ("tg-file:<file_id>")
    content_type: str | None = None
    caption: str | None = None
    file_name: str | None = None  # the name the citizen's device gave it (shown as text only)
    local_path: str | None = None  # already saved here (the web chat's upload): nothing to fetch
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float
    address: str | None = None    # a venue title / Twilio "Address", if the provider gave one


class ContactEvent(enum.StrEnum):
    """A contact-level fact a connector recognised in what the citizen sent.

    ``bot`` acts on the stored fact without knowing which provider reported it: it marks the
    address opted out / in / unreachable when the message is stored and answers the keyword
    (unless the provider already did, see ``InboundMessage.provider_answered``).
    """

    opt_out = "opt_out"        # the citizen asked to receive nothing more (SMS STOP / BERHENTI)
    opt_in = "opt_in"          # ...and to receive messages again (START / MULAI)
    help = "help"              # the citizen asked what this number is (HELP / BANTUAN)
    blocked = "blocked"        # the citizen blocked the bot: unreachable on this channel
    unblocked = "unblocked"    # ...and unblocked it again


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
        event: A contact-level fact the connector recognised (:class:`ContactEvent`), to
            act on before (or instead of) the dialogue. None for ordinary messages.
        provider_answered: The provider has already answered this keyword itself (Twilio's
            Advanced Opt-Out answers STOP/START/HELP on SMS); a second answer would cost the
            citizen another SMS, and after STOP it is refused (21610).
        callback_id: A provider token the worker must acknowledge (Telegram: the
            ``callback_query`` id), with :meth:`AnswersButtons.answer_callback`.
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
    event: ContactEvent | None = None
    provider_answered: bool = False
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
    def parse(cls, value: str) -> DeliveryStatus | None:
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
        failure: For a failed message, what the failure means (:class:`SendFailure`), e.g.
            ``contact_stopped`` (the citizen opted out: mark the address) or
            ``needs_template`` (a template is needed: retrying free-form fails again). None
            when the message did not fail or the provider gave no recognised reason.
    """

    channel: str
    provider_message_id: str
    status: DeliveryStatus
    at: datetime
    error_code: str | None = None
    error_reason: str | None = None
    raw: str | None = None
    failure: SendFailure | None = None


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


class InvalidRequest(ValueError):
    """The request is the client's mistake, not a provider's message: answer 400, store nothing.

    Only connectors whose clients can correct themselves raise it (the web chat API); a
    provider's authentic request is never refused for its content (see :class:`Unparseable`).
    """


class SendFailure(enum.StrEnum):
    """The closed set of things a failed provider call can mean, and so what to do next."""

    retry_later = "retry_later"                    # 5xx, timeouts, network: try again later
    throttled = "throttled"                        # rate limited: wait (``retry_after``), then retry
    contact_stopped = "contact_stopped"            # the citizen opted out (Twilio 21610)
    contact_unreachable = "contact_unreachable"    # blocked the bot or deactivated (Telegram 403)
    needs_template = "needs_template"              # WhatsApp's 24-hour window is closed (63016)
    permanent = "permanent"                        # anything else: retrying fails again

    @property
    def retryable(self) -> bool:
        """Whether trying the same call again later may succeed."""
        return self in (SendFailure.retry_later, SendFailure.throttled)


class SendError(Exception):
    """A call to a provider failed (sending, and also the other provider calls a connector
    makes: fetching media, answering a button, registering a webhook, polling).

    Attributes:
        reason: What went wrong, for staff and logs.
        kind: What the failure means (:class:`SendFailure`).
        retry_after: Seconds the provider asked us to wait, if it said.
        code: The provider's error code.
        outcome_unknown: The request may have reached the provider (a timeout after sending).
        parts_sent: For a message sent as several provider messages: how many parts in
            total (counting ``OutboundMessage.resume_from``) went out before this failure.
            Pass it back as ``resume_from`` on the retry.
        sent_ids: Provider ids of the parts this attempt did send before failing.
    """

    def __init__(self, reason: str, *, kind: SendFailure, retry_after: float | None = None,
                 code: str | None = None, outcome_unknown: bool = False,
                 parts_sent: int = 0, sent_ids: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.retry_after = retry_after
        self.code = code
        self.outcome_unknown = outcome_unknown
        self.parts_sent = parts_sent
        self.sent_ids = sent_ids

    @property
    def retryable(self) -> bool:
        """Whether trying again later may succeed (``kind`` is retry_later or throttled)."""
        return self.kind.retryable

    def __repr__(self) -> str:
        return (f"SendError({self.reason!r}, kind={self.kind.value}, code={self.code!r}, "
                f"retry_after={self.retry_after}, outcome_unknown={self.outcome_unknown}, "
                f"parts_sent={self.parts_sent})")


@dataclass(frozen=True, slots=True)
class WebhookRoute:
    """A URL path a connector asks its provider to call, and how to acknowledge it.

    ``bot`` serves every declared route generically (verify, parse, store, then answer
    ``ack_body``), so it needs no provider names. Several connectors may declare the same
    path (Twilio's SMS and WhatsApp share one webhook); each of them must then handle every
    request on it, since any one of them may be given it.

    Attributes:
        path: The absolute URL path, e.g. "/webhooks/telegram".
        kind: "inbound" (citizens' messages) or "status" (delivery reports).
        ack_body: The body of the 2xx answer (Twilio: empty TwiML, i.e. "no reply now").
        ack_content_type: Its content type.
    """

    path: str
    kind: Literal["inbound", "status"]
    ack_body: str
    ack_content_type: str


Inbound = InboundMessage | StatusUpdate | Unparseable


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
        outbox's transaction)."""


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
