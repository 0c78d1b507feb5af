"""Twilio failures as :class:`~channels.base.SendError` with a :class:`~channels.base.SendFailure`
kind, for sends and for status callbacks alike.

Error codes: https://www.twilio.com/docs/api/errors
"""

from __future__ import annotations

from typing import Any

import requests
import urllib3.exceptions
from twilio.base.exceptions import TwilioException, TwilioRestException

from channels.base import SendError, SendFailure

try:  # RFC 9457 error bodies raise this, and it is NOT a TwilioRestException (notes §6)
    from twilio.base.exceptions import TwilioServiceException
except ImportError:  # pragma: no cover - twilio < 9.12
    TwilioServiceException = TwilioRestException

WINDOW_CLOSED = "63016"        # free-form outside WhatsApp's 24 h customer-service window
OPTED_OUT = "21610"            # the recipient texted STOP
THROTTLED_CODES = frozenset({"20429", "63018"})   # too many requests, WhatsApp rate limit
RETRY_LATER_CODES = frozenset({"20500", "20503"})  # Twilio's own 5xx
ERROR_REASONS = {
    "63016": "outside the WhatsApp 24-hour window: only an approved template can be sent",
    "21610": "the recipient has opted out (replied STOP)",
    "63018": "WhatsApp rate limit exceeded for this sender",
    "30003": "unreachable destination handset",
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
    "30007": "message filtered by the carrier",
    "30008": "unknown error from the carrier",
    "63024": "invalid message recipient",
}


def failure_for(code: str | None, http_status: int = 0) -> SendFailure:
    """What a Twilio error code (and the HTTP status it came with, if any) means."""
    if code == WINDOW_CLOSED:
        return SendFailure.needs_template
    if code == OPTED_OUT:
        return SendFailure.contact_stopped
    if code in THROTTLED_CODES or http_status == 429:
        return SendFailure.throttled
    if code in RETRY_LATER_CODES or http_status >= 500:
        return SendFailure.retry_later
    return SendFailure.permanent


def send_error(exc: BaseException, *, parts_sent: int = 0, sent_ids: tuple[str, ...] = ()) -> SendError:
    """Map a twilio or requests error to a :class:`SendError`.

    Raises:
        TypeError: ``exc`` is not an error a Twilio call raises.
    """
    kw: dict[str, Any] = {"parts_sent": parts_sent, "sent_ids": sent_ids}
    if isinstance(exc, requests.ConnectTimeout):
        return SendError(f"Twilio connect timeout: {exc}", kind=SendFailure.retry_later, code="timeout", **kw)
    if isinstance(exc, requests.Timeout):
        # The request was sent; Twilio may have queued the message (it has no idempotency
        # key for Messages), so a retry may duplicate it.
        return SendError(f"Twilio timed out: {exc}", kind=SendFailure.retry_later, code="timeout",
                         outcome_unknown=True, **kw)
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        unsent = isinstance(reason, (urllib3.exceptions.NewConnectionError,
                                     urllib3.exceptions.ConnectTimeoutError))
        return SendError(f"Twilio connection error: {exc}", kind=SendFailure.retry_later, code="network",
                         outcome_unknown=not unsent, **kw)
    if isinstance(exc, requests.RequestException):
        return SendError(f"Twilio request error: {exc}", kind=SendFailure.retry_later, code="network",
                         outcome_unknown=True, **kw)
    if isinstance(exc, (TwilioRestException, TwilioServiceException)):
        # The two classes carry their details under different attribute names.
        status = int(getattr(exc, "status", 0) or 0)
        code = str(getattr(exc, "code", "") or status)
        reason = (getattr(exc, "msg", None) or getattr(exc, "detail", None)
                  or getattr(exc, "title", None) or ERROR_REASONS.get(code) or f"HTTP {status}")
        kind = failure_for(code, status)
        if kind is SendFailure.needs_template:
            reason = f"{reason} (WhatsApp window closed: send a template)"
        return SendError(reason, kind=kind, code=code, **kw)
    if isinstance(exc, TwilioException):
        return SendError(f"Twilio error: {exc}", kind=SendFailure.permanent, code="twilio_error", **kw)
    raise TypeError(f"send_error: not a Twilio error: {exc!r}")
