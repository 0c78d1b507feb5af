"""A local fake of Twilio's REST API (Messages and Media), plus a fake media CDN, for tests.

Usage::

    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as fake:
        config = TwilioConfig(ACCOUNT_SID, AUTH_TOKEN, sms_from="+15005550006",
                              public_url="https://warga.example.go.id",
                              api_base_url=fake.url, media_api_origin=fake.url)
        TwilioChannel(config, "sms").send(OutboundMessage("sms", "tel:+6281234567890", "Halo"))
        assert fake.messages[0].fields["Body"] == "Halo"

API:

- ``start()`` / ``stop()`` or a ``with`` block; ``url`` goes in ``TwilioConfig.api_base_url``
  (every ``*.twilio.com`` request is redirected there) and ``media_api_origin``.
- ``POST /2010-04-01/Accounts/<sid>/Messages.json`` checks Basic auth (401, code 20003,
  otherwise) and answers 201 with a realistic Message (``sid`` "SM" + 32 hex, ``status``
  "queued"). ``messages``: what was created, each a :class:`CreatedMessage` with ``sid``,
  ``form`` (pairs, repeats kept: ``MediaUrl``, ``PersistentAction``), ``fields`` (dict) and
  the raw ``request``; ``requests``: every raw request.
- Programmable failures, consumed in order, each ``times`` times (``None`` = for ever),
  optionally only for one ``to`` and after ``after`` matching calls went through:
  ``fail(status, code, message)`` answers Twilio's legacy
  error body (429/20429, 400/21610, 400/63016 "window closed" synchronously, 400/21211...);
  ``fail(..., problem_details=True)`` answers an RFC 9457 body (the library then raises
  ``TwilioServiceException``); ``fail_html(502)`` answers an HTML page; ``delay(seconds)``
  answers late (timeouts).
- Asynchronous outcomes, as Twilio reports them after a 201:
  ``status_callback(sid, status, error_code=None, error_message=None)`` returns the
  :class:`SignedRequest` (url = the message's ``StatusCallback``, form pairs, signature)
  that Twilio would POST, e.g. ``status_callback(sid, "undelivered", error_code="63016")``
  for the usual asynchronous window-closed failure. Feed it to a Flask test client, or
  ``deliver(signed, base_url)`` to POST it to a live server.
- ``inbound(url, pairs)``: a signed inbound webhook request, as Twilio would send it.
- Media: ``add_media(content, content_type)`` returns a ``MediaUrl`` on this fake
  (``/2010-04-01/Accounts/<sid>/Messages/MM.../Media/ME...``). It requires Basic auth and
  answers 307 to the fake CDN (``cdn``, another port), or 200 directly with
  ``redirect=False``; ``not_found_times=n`` answers 404 n times first (media lagging the
  webhook). ``cdn.requests`` shows what reached the CDN (it must carry no credentials).
- ``sign(auth_token, url, pairs)``: the X-Twilio-Signature algorithm, written
  independently of the twilio library so the tests check it rather than trust it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import urllib.request
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode

from tests.fakes._http import FakeServer, FaultRules, Recorded, Reply


def sign(auth_token: str, url: str, pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> str:
    """Compute X-Twilio-Signature: HMAC-SHA1 over the URL plus sorted key+value pairs.

    https://www.twilio.com/docs/usage/webhooks/webhooks-security
    """
    data = url
    for key in sorted({k for k, _ in pairs}):
        for value in sorted({v for k, v in pairs if k == key}):
            data += key + value
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True)
class SignedRequest:
    """A request Twilio would make to us: POST ``url`` with ``form``, signed."""

    url: str
    form: tuple[tuple[str, str], ...]
    signature: str

    @property
    def body(self) -> bytes:
        return urlencode(self.form).encode()

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Twilio-Signature": self.signature,
                "Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class CreatedMessage:
    sid: str
    form: tuple[tuple[str, str], ...]
    request: Recorded

    @property
    def fields(self) -> dict[str, str]:
        return dict(self.form)

    def all(self, key: str) -> list[str]:
        return [v for k, v in self.form if k == key]


class FakeTwilioCdn(FakeServer):
    """Serves redirected media; records whether credentials leaked to it."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, tuple[str, bytes]] = {}

    def handle(self, request: Recorded) -> Reply:
        with self._lock:
            found = self.files.get(request.path)
        if found is None:
            return Reply(404, b"Not Found", "text/plain")
        return Reply(200, found[1], found[0])


class FakeTwilio(FakeServer):
    """See the module docstring."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[CreatedMessage] = []
        self.cdn = FakeTwilioCdn()
        self.faults = FaultRules()
        self._media: dict[str, dict[str, Any]] = {}
        self._gates: list[threading.Event] = []

    def start(self) -> FakeTwilio:
        self.cdn.start()
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        self.cdn.stop()

    # -- programming -------------------------------------------------------------------

    def fail(self, status: int, code: int, message: str, *, times: int | None = 1, to: str | None = None,
             problem_details: bool = False, after: int = 0) -> None:
        more = f"https://www.twilio.com/docs/errors/{code}"
        body = ({"type": more, "title": message, "status": status, "code": code, "detail": message}
                if problem_details else
                {"code": code, "message": message, "more_info": more, "status": status})
        self.faults.add(Reply.json(body, status), times=times, where={"To": to}, after=after)

    def fail_html(self, status: int = 502, *, times: int | None = 1) -> None:
        self.faults.add(Reply(status, b"<html><body>Bad Gateway</body></html>", "text/html"), times=times)

    def delay(self, seconds: float, *, times: int | None = 1) -> None:
        self.faults.add(None, times=times, delay=seconds)

    def hold(self) -> threading.Event:
        """Record the next message-create call but answer it only once the returned event is set
        (a state to wait for instead of a delay to hope is long enough)."""
        gate = threading.Event()
        with self._lock:
            self._gates.append(gate)
        return gate

    def add_media(self, content: bytes, content_type: str = "image/jpeg", *, redirect: bool = True,
                  not_found_times: int = 0, message_sid: str | None = None) -> str:
        message_sid = message_sid or new_sid("MM")
        media_sid = new_sid("ME")
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message_sid}/Media/{media_sid}"
        cdn_path = f"/v1/{secrets.token_hex(8)}/{media_sid}"
        with self._lock:
            self._media[path] = {"content": content, "type": content_type, "redirect": redirect,
                                 "not_found": not_found_times, "cdn_path": cdn_path}
        with self.cdn._lock:
            self.cdn.files[cdn_path] = (content_type, content)
        return self.url + path

    # -- Twilio's side of the conversation ----------------------------------------------

    def status_callback(self, sid: str, status: str, *, error_code: str | None = None,
                        error_message: str | None = None, url: str | None = None) -> SignedRequest:
        with self._lock:
            created = next((m for m in self.messages if m.sid == sid), None)
        fields = created.fields if created else {}
        url = url or fields.get("StatusCallback")
        if not url:
            raise ValueError(f"message {sid} has no StatusCallback; pass url=")
        to, from_ = fields.get("To", "+6281200000000"), fields.get("From", "+15005550006")
        pairs: list[tuple[str, str]] = []
        if to.startswith("whatsapp:"):
            pairs += [("ChannelPrefix", "whatsapp"), ("ChannelToAddress", to[len("whatsapp:"):])]
        if error_code:
            pairs.append(("ErrorCode", error_code))
            # WhatsApp's 63016 famously arrives with an empty ErrorMessage (pitfalls §6).
            pairs.append(("ErrorMessage", error_message or ""))
        pairs += [("SmsSid", sid), ("SmsStatus", status), ("MessageStatus", status), ("To", to),
                  ("MessageSid", sid), ("AccountSid", self.account_sid), ("From", from_),
                  ("ApiVersion", "2010-04-01")]
        return SignedRequest(url, tuple(pairs), sign(self.auth_token, url, pairs))

    def inbound(self, url: str, pairs: list[tuple[str, str]]) -> SignedRequest:
        return SignedRequest(url, tuple(pairs), sign(self.auth_token, url, pairs))

    @staticmethod
    def deliver(signed: SignedRequest, url: str | None = None) -> int:
        """POST ``signed`` to ``url`` (default: its own URL); returns the HTTP status."""
        request = urllib.request.Request(url or signed.url, data=signed.body, headers=signed.headers,
                                         method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local test server
            return response.status

    # -- serving -----------------------------------------------------------------------

    def handle(self, request: Recorded) -> Reply:
        if request.basic_auth() != (self.account_sid, self.auth_token):
            return Reply.json({"code": 20003, "message": "Authenticate",
                               "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}, 401)
        if request.method == "GET":
            return self._serve_media(request)
        if request.method == "POST" and re.fullmatch(r"/2010-04-01/Accounts/[^/]+/Messages\.json", request.path):
            return self._create(request)
        return Reply.json({"code": 20404, "message": "The requested resource was not found",
                           "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}, 404)

    def _create(self, request: Recorded) -> Reply:
        form = tuple(request.form())
        fields = dict(form)
        fault, delay = self.faults.take(fields)
        if fault is not None:
            return fault
        with self._lock:
            sid = new_sid("SM")
            self.messages.append(CreatedMessage(sid, form, request))
        now = formatdate(usegmt=True)
        body = {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": fields.get("Body", ""),
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": fields.get("From"),
            "messaging_service_sid": fields.get("MessagingServiceSid"),
            "num_media": str(len([k for k, _ in form if k == "MediaUrl"])), "num_segments": "1",
            "price": None, "price_unit": "USD", "sid": sid, "status": "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": fields.get("To"), "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"}
        reply = Reply.json(body, 201, delay=delay)
        with self._lock:
            reply.gate = self._gates.pop(0) if self._gates else None
        return reply

    def _serve_media(self, request: Recorded) -> Reply:
        with self._lock:
            media = self._media.get(request.path)
            if media is None:
                return Reply.json({"code": 20404, "message": "The requested resource was not found",
                                   "status": 404}, 404)
            if media["not_found"] > 0:
                media["not_found"] -= 1
                return Reply.json({"code": 20404, "message": "The requested resource was not found",
                                   "status": 404}, 404)
        if media["redirect"]:
            return Reply(307, b"", "text/plain", {"Location": self.cdn.url + media["cdn_path"]})
        return Reply(200, media["content"], media["type"])
