"""Provider webhooks: verify → parse → store (commit) → answer 2xx fast → wake the workers.

``POST /webhooks/telegram``, ``POST /webhooks/twilio`` (SMS and WhatsApp, told apart by the
``whatsapp:`` prefix of ``From``) and ``POST /webhooks/twilio/status`` (delivery reports).
A channel that is off answers 404; a bad signature 403 with nothing stored; an authentic
request we cannot understand is stored raw and answered 2xx, because a non-2xx makes Telegram
retry it for ever and hold every later update behind it (notes/channel-pitfalls.md §1).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, Response, abort, current_app, jsonify, request

from channels.base import Channel, WebhookRejected, WebhookRequest
from channels.twilio import EMPTY_TWIML

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _called_url() -> str:
    """The URL the provider called, as far as we can tell.

    Behind a proxy Flask sees ``http://internal-host/...`` while Twilio signed the public
    ``https://`` URL. With WARGA_PUBLIC_URL set the connector takes scheme and host from it
    (only the path and query from here); without it, X-Forwarded-Proto/-Host say what the
    proxy was called with, as issue 3 promises. Trusting them is safe here: they only pick
    the URL a signature is checked against, and only Twilio can sign with our auth token.
    """
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
    if proto not in ("http", "https"):
        proto = ""
    if not (proto or host):
        return request.url
    parts = urlsplit(request.url)
    return urlunsplit((proto or parts.scheme, host or parts.netloc, parts.path, parts.query, ""))


def _request() -> WebhookRequest:
    return WebhookRequest(url=_called_url(), headers={k.lower(): v for k, v in request.headers.items()},
                          body=request.get_data(cache=True))


def _handle(channel: Channel) -> int:
    """Receive one provider request; return how many new rows it stored."""
    try:
        return current_app.extensions["warga"].receiver.receive(channel, _request()).stored
    except WebhookRejected as exc:
        log.warning("webhook rejected", extra={"channel": channel.name, "reason": str(exc)})
        abort(403)


def _channel(name: str) -> Channel:
    channel = current_app.extensions["warga"].channels.get(name)
    if channel is None:
        abort(404)
    return channel


@bp.post("/telegram")
def telegram() -> Any:
    _handle(_channel("telegram"))
    return jsonify(ok=True)


@bp.post("/twilio")
def twilio() -> Any:
    channels = current_app.extensions["warga"].channels
    request.get_data(cache=True)   # keep the raw body: the signature covers it, form parsing eats it
    channel = channels.get("whatsapp") if request.form.get("From", "").startswith("whatsapp:") \
        else channels.get("sms")
    # One Twilio account serves both: a WhatsApp message with WhatsApp off (or SMS with SMS
    # off) is still verified and stored by the other connector, which knows both formats.
    channel = channel or channels.get("sms") or channels.get("whatsapp")
    if channel is None:
        abort(404)
    _handle(channel)
    return Response(EMPTY_TWIML, mimetype="text/xml")


@bp.post("/twilio/status")
def twilio_status() -> Any:
    channels = current_app.extensions["warga"].channels
    channel = channels.get("sms") or channels.get("whatsapp")
    if channel is None:
        abort(404)
    _handle(channel)
    return Response(EMPTY_TWIML, mimetype="text/xml")
