"""Twilio outbound through the REST API (not TwiML), so the outbox can retry and status
callbacks track delivery.

SMS stays within ``max_sms_segments`` per message (GSM-7/UCS-2 aware) and carries media and
locations as links; WhatsApp sends free-form only inside the 24-hour window, a configured
template outside it, or nothing (``held: needs template``); buttons become numbered lines.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import requests
from twilio.base.exceptions import TwilioException

from channels.base import (
    DeliveryStatus,
    OutboundMessage,
    SendError,
    SendFailure,
    SendResult,
)
from channels.sms_segments import split_sms
from channels.text_split import fits_length, split_text
from channels.twilio.client import RestClient
from channels.twilio.config import WHATSAPP_PREFIX, TwilioConfig
from channels.twilio.errors import send_error

MAX_BODY = 1600          # Twilio rejects a longer Body (error 21617)
MAX_WA_CAPTION = 1024    # WhatsApp media captions


def plan(config: TwilioConfig, message: OutboundMessage, channel: str, now: datetime
         ) -> list[dict[str, Any]] | SendResult:
    """The ``messages.create`` calls a send makes, in order (deterministic), or the ``held``
    result when nothing may be sent.

    Args:
        config: Senders, templates, limits.
        message: The reply.
        channel: "sms" or "whatsapp".
        now: Aware UTC time, for WhatsApp's window.
    """
    to = _to_address(message.recipient, channel)
    c = config
    if channel == "sms":
        if not c.sms_from:
            raise SendError("TWILIO_SMS_FROM is not configured", kind=SendFailure.permanent, code="config")
        text = _compose(config, message, links=True)
        bodies = split_sms(text, c.max_sms_segments, smart_encoding=c.sms_smart_encoding)
        return [{"to": to, "from_": c.sms_from, "body": b} for b in bodies]
    if not c.whatsapp_from:
        raise SendError("TWILIO_WHATSAPP_FROM is not configured", kind=SendFailure.permanent, code="config")
    sender = c.whatsapp_sender
    if not window_open(config, message.last_inbound_at, now):
        content_sid = c.template_for(message.template)
        if content_sid is None:
            why = (f"no template configured for {message.template!r}" if message.template
                   else "not a notification with a template")
            return SendResult((), DeliveryStatus.held,
                              f"needs template: outside the WhatsApp 24-hour window ({why})")
        # ContentVariables must be a JSON *string*: a dict is silently sent as its first
        # key (notes §6).
        variables = json.dumps(dict(message.template_vars), ensure_ascii=False)
        return [{"to": to, "from_": sender, "content_sid": content_sid, "content_variables": variables}]
    calls: list[dict[str, Any]] = [
        {"to": to, "from_": sender, "body": chunk}
        for chunk in split_text(_compose(config, message, links=False), fits_length(MAX_BODY))]
    media = list(message.media_urls)
    if media and calls and len(calls[-1]["body"]) <= MAX_WA_CAPTION:
        calls[-1]["media_url"] = [media.pop(0)]     # the last text part becomes the caption
    calls += [{"to": to, "from_": sender, "media_url": [url]} for url in media]
    if message.location is not None:
        loc = message.location
        label = loc.address or ("Location" if message.language == "en" else "Lokasi")
        # A WhatsApp location message: https://www.twilio.com/docs/whatsapp/api#location-messages-with-whatsapp
        calls.append({"to": to, "from_": sender, "body": label,
                      "persistent_action": [f"geo:{loc.lat},{loc.lon}|{label}"]})
    return calls


def window_open(config: TwilioConfig, last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether WhatsApp's customer-service window is open, counted from the citizen's last
    *inbound* message (our replies never extend it; pitfalls §6)."""
    if last_inbound_at is None:
        return False
    return now - last_inbound_at < config.whatsapp_window - config.whatsapp_window_margin


def send(rest: RestClient, config: TwilioConfig, message: OutboundMessage, channel: str,
         now: datetime) -> SendResult:
    """Send with ``StatusCallback`` set.

    Returns:
        ``queued`` with the Message SIDs, or ``held`` ("needs template") for WhatsApp
        outside the window without a configured template (nothing is sent then).

    Raises:
        SendError: With ``parts_sent`` set if some parts went out before the failure.
    """
    calls = plan(config, message, channel, now)
    if isinstance(calls, SendResult):
        return calls
    if not calls:
        raise SendError("nothing to send: no text, media or location", kind=SendFailure.permanent,
                        code="empty")
    if "content_sid" in calls[0]:
        note: str | None = f"sent as template {message.template}"
    else:
        note = f"sent as {len(calls)} messages" if len(calls) > 1 else None
    client = rest.client()
    callback = config.status_callback
    sids: list[str] = []
    status = DeliveryStatus.queued
    for index, fields in enumerate(calls):
        if index < message.resume_from:
            continue
        if callback:
            fields = {**fields, "status_callback": callback}
        try:
            created = client.messages.create(**fields)
        except (TwilioException, requests.RequestException) as exc:
            raise send_error(exc, parts_sent=index, sent_ids=tuple(sids)) from exc
        sids.append(created.sid or "")
        status = DeliveryStatus.parse(created.status or "") or DeliveryStatus.queued
    return SendResult(tuple(sids), status, note)


def _compose(config: TwilioConfig, message: OutboundMessage, *, links: bool) -> str:
    text = message.text.strip()
    formats = dict(config.choice_formats)
    fmt = formats.get(message.language or "id") or formats.get("id") or "{n}. {title}"
    lines = [fmt.format(n=i, title=b.title) for i, b in enumerate(message.buttons, start=1)
             if b.kind == "reply"]
    if links:   # SMS in Indonesia carries no MMS: media and locations travel as links
        lines += list(message.media_urls)
        if message.location is not None:
            lines.append(f"https://maps.google.com/?q={message.location.lat},{message.location.lon}")
    return "\n\n".join(p for p in (text, "\n".join(lines)) if p)


def _to_address(recipient: str, channel: str) -> str:
    if channel == "whatsapp" and recipient.startswith(WHATSAPP_PREFIX):
        return recipient
    if channel == "sms" and recipient.startswith("tel:"):
        return recipient[len("tel:"):]
    raise SendError(f"recipient {recipient!r} is not a {channel} address", kind=SendFailure.permanent,
                    code="bad_recipient")
