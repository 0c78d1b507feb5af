"""Provider webhooks: verify → parse → store (commit) → answer 2xx fast → wake the workers.

Every enabled connector that declares webhook routes (``channels.base.DeclaresWebhooks``)
is served under ``POST /webhooks/...`` at the path it declares, and answered with the
acknowledgement body it declares; the request carries the kind of the route it came to
(``WebhookRequest.route``), so a connector never guesses a delivery report from the fields.
Nothing here knows a provider. A path no enabled channel
declares answers 404; a bad signature 403 with nothing stored; an authentic request we
cannot understand is stored raw and answered 2xx, because a non-2xx makes Telegram retry it
for ever and hold every later update behind it (notes/channel-pitfalls.md §1).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, Response, abort, current_app, request

from channels.base import Channel, DeclaresWebhooks, WebhookRejected, WebhookRequest, WebhookRoute

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
    called = urlunsplit((proto or parts.scheme, host or parts.netloc, parts.path, parts.query, ""))
    try:
        urlsplit(called)
    except ValueError:   # a forwarded host no URL can hold: no signature can match it anyway
        return request.url
    return called


def _request(route: WebhookRoute) -> WebhookRequest:
    return WebhookRequest(url=_called_url(), headers={k.lower(): v for k, v in request.headers.items()},
                          body=request.get_data(cache=True), route=route.kind)


def _handle(channel: Channel, route: WebhookRoute) -> int:
    """Receive one provider request; return how many new rows it stored."""
    try:
        return current_app.extensions["warga"].receiver.receive(channel, _request(route)).stored
    except WebhookRejected as exc:
        log.warning("webhook rejected", extra={"channel": channel.name, "reason": str(exc)})
        abort(403)


def _route(path: str) -> tuple[Channel, WebhookRoute]:
    """The first enabled channel declaring ``path``, and its route. Channels sharing a path
    (Twilio's SMS and WhatsApp) each handle every request on it, so any one will do."""
    for channel in current_app.extensions["warga"].channels.values():
        routes = channel.webhook_routes() if isinstance(channel, DeclaresWebhooks) else ()
        for route in routes:
            if route.path == path:
                return channel, route
    abort(404)


@bp.post("/<path:subpath>")
def webhook(subpath: str) -> Any:
    channel, route = _route(f"{bp.url_prefix}/{subpath}")
    request.get_data(cache=True)   # keep the raw body: the signature covers it, form parsing eats it
    _handle(channel, route)
    return Response(route.ack_body, content_type=route.ack_content_type)
