"""Twilio inbound: a message webhook becomes an :class:`~channels.base.InboundMessage`, a status
callback a :class:`~channels.base.StatusUpdate`, malformed input an
:class:`~channels.base.Unparseable`; never an exception.

SMS and WhatsApp arrive on the same webhook and differ only by the ``whatsapp:`` prefix of
``From``. Opt-out / opt-in / help keywords are reported as neutral
:class:`~channels.base.ContactEvent` facts, with ``provider_answered`` set where Twilio's
Advanced Opt-Out has already answered the keyword on SMS.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from channels.base import (
    ContactEvent,
    DeliveryStatus,
    Inbound,
    InboundMessage,
    Location,
    Media,
    StatusUpdate,
    Unparseable,
    WebhookRejected,
    WebhookRequest,
)
from channels.twilio.config import STATUS_PATH, WHATSAPP_PREFIX, TwilioConfig
from channels.twilio.errors import ERROR_REASONS, failure_for
from channels.twilio.signature import form_pairs

# Message resources are "SM..." (and "MM..." for MMS): two letters and 32 hex digits.
MESSAGE_SID_RE = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")
_OPT_OUT_TYPES = {"STOP": ContactEvent.opt_out, "START": ContactEvent.opt_in, "HELP": ContactEvent.help}


def parse(config: TwilioConfig, name: str, request: WebhookRequest, now: datetime) -> list[Inbound]:
    """Parse a message webhook or a status callback. Never raises.

    Args:
        config: Keywords and the like.
        name: The receiving connector's name, for what cannot be told apart (Unparseable).
        request: The webhook request.
        now: Aware UTC time (Twilio's webhooks carry none).
    """
    pairs = form_pairs(request)
    raw = request.body.decode("utf-8", errors="replace") or urlencode(pairs)
    if not pairs:
        return [Unparseable(name, _raw_key(raw), "empty body", raw, now)]
    form: dict[str, str] = {}
    for k, v in pairs:
        form.setdefault(k, v)
    try:
        if route_of(request) == "status":
            return [_read_status(name, form, raw, now)]
        return [_read_message(config, name, form, raw, now)]
    except Exception as exc:  # noqa: BLE001 - the parse edge: anything unexpected becomes Unparseable
        sid = form.get("MessageSid") or form.get("SmsSid")
        return [Unparseable(name, sid or _raw_key(raw), f"{type(exc).__name__}: {exc}", raw, now)]


def route_of(request: WebhookRequest) -> str:
    """Whether the request came to the status callback or the message webhook.

    Decided by the endpoint, never by the fields: a media-only message has no ``Body`` but an
    ``SmsStatus`` ("received"), and a guess from the fields took it for a delivery report.
    """
    if request.route is not None:
        return request.route
    path = urlsplit(request.url).path.rstrip("/")
    return "status" if path.endswith(STATUS_PATH) else "inbound"


def check_identity(config: TwilioConfig, request: WebhookRequest) -> None:
    """Refuse a signed request that is not about a message of our account.

    Raises:
        WebhookRejected: ``AccountSid`` is not ours, or ``MessageSid`` does not look like a
            Twilio message SID ("SM"/"MM" and 32 hex digits): nothing is stored for it.
    """
    form: dict[str, str] = {}
    for k, v in form_pairs(request) or _json_pairs(request):
        form.setdefault(k, v)
    if form.get("AccountSid", "") != config.account_sid:
        raise WebhookRejected("twilio: AccountSid is not this account's")
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or ""
    if not MESSAGE_SID_RE.fullmatch(sid):
        raise WebhookRejected("twilio: MessageSid is missing or not a message SID")


def _json_pairs(request: WebhookRequest) -> tuple[tuple[str, str], ...]:
    # A JSON body (signed with ?bodySHA256=): its top-level text fields.
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):
        return ()
    if not isinstance(data, dict):
        return ()
    return tuple((k, v) for k, v in data.items() if isinstance(v, str))


def _read_message(config: TwilioConfig, name: str, form: dict[str, str], raw: str,
                  now: datetime) -> Inbound:
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid")
    address = form.get("From", "").strip()
    if not sid:
        return Unparseable(name, _raw_key(raw), "message webhook without MessageSid", raw, now)
    if not address:
        return Unparseable(name, sid, "message webhook without From", raw, now)
    if address.startswith(WHATSAPP_PREFIX):
        channel, sender = "whatsapp", address
    elif ":" not in address:
        channel, sender = "sms", "tel:" + address
    else:
        return Unparseable(name, sid, f"unsupported sender address {address!r}", raw, now)
    body = form.get("Body", "")
    payload = form.get("ButtonPayload") or form.get("ListId") or None
    text = payload if payload else body        # a pressed button "says" its payload
    event = _event(config, form, text)
    word = _keyword(text)
    return InboundMessage(
        channel=channel, external_id=sid, sender=sender, text=text,
        received_at=now,                     # Twilio's webhook carries no timestamp
        sender_name=form.get("ProfileName") or None, media=_media(form),
        location=_location(form), reply_to_button=payload, raw=raw, event=event,
        # Advanced Opt-Out answers its own (English) keywords on SMS only.
        provider_answered=event is not None and channel == "sms" and word in config.provider_keywords)


def _keyword(text: str) -> str:
    return text.strip().upper().strip(".!")


def _event(config: TwilioConfig, form: dict[str, str], text: str) -> ContactEvent | None:
    # Twilio's Advanced Opt-Out tells us outright; otherwise match our own keywords
    # (Indonesian ones are not among Twilio's defaults).
    opt = form.get("OptOutType", "").upper()
    if opt in _OPT_OUT_TYPES:
        return _OPT_OUT_TYPES[opt]
    word = _keyword(text)
    if word in config.opt_out_keywords:
        return ContactEvent.opt_out
    if word in config.opt_in_keywords:
        return ContactEvent.opt_in
    if word in config.help_keywords:
        return ContactEvent.help
    return None


def _read_status(name: str, form: dict[str, str], raw: str, now: datetime) -> Inbound:
    sid = form.get("MessageSid") or form.get("SmsSid")
    value = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not sid:
        return Unparseable(name, _raw_key(raw), "status callback without MessageSid", raw, now)
    status = DeliveryStatus.delivered if value == "partially_delivered" else DeliveryStatus.parse(value)
    if status is None or status in (DeliveryStatus.pending, DeliveryStatus.held):
        return Unparseable(name, f"status:{sid}:{value}", f"unknown message status {value!r}", raw, now)
    code = form.get("ErrorCode", "").strip() or None
    reason = form.get("ErrorMessage", "").strip() or ERROR_REASONS.get(code or "")
    whatsapp = (form.get("ChannelPrefix") == "whatsapp"
                or any(form.get(k, "").startswith(WHATSAPP_PREFIX) for k in ("From", "To")))
    return StatusUpdate(channel="whatsapp" if whatsapp else "sms", provider_message_id=sid,
                        status=status, at=now, error_code=code, error_reason=reason, raw=raw,
                        failure=failure_for(code) if code else None)


def _raw_key(raw: str) -> str:
    return "raw:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def _media(form: dict[str, str]) -> tuple[Media, ...]:
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError:
        count = 0
    count = max(count, sum(1 for k in form if re.fullmatch(r"MediaUrl\d+", k)))
    return tuple(Media(form[f"MediaUrl{i}"], form.get(f"MediaContentType{i}") or None)
                 for i in range(min(count, 10)) if form.get(f"MediaUrl{i}"))


def _location(form: dict[str, str]) -> Location | None:
    try:
        lat, lon = float(form["Latitude"]), float(form["Longitude"])
    except (KeyError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    address = ", ".join(p for p in (form.get("Label", "").strip(), form.get("Address", "").strip()) if p)
    return Location(lat, lon, address or None)


def parse_choice_number(text: str) -> int | None:
    """Read a numbered choice ("1", " 2. ", "3)"); anything else gives None.

    Buttons on SMS/WhatsApp are rendered as "Balas 1 untuk ..."; the dialogue maps the number
    back to the payload of the buttons it last sent.
    """
    m = re.fullmatch(r"\s*(\d{1,2})\s*[.)]?\s*", text)
    return int(m.group(1)) if m else None

