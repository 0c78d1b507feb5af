"""The messages a connector reads and sends: citizens' messages, delivery reports, replies.

Plain frozen dataclasses: :class:`InboundMessage`, :class:`StatusUpdate` and
:class:`Unparseable` come out of a connector (:data:`Inbound`), :class:`OutboundMessage` goes in
and :class:`SendResult` comes back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from channels.base.errors import SendFailure


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


Inbound = InboundMessage | StatusUpdate | Unparseable
