"""Twilio connector: SMS and WhatsApp through one Twilio account (twilio 9).

One class serves both channels. Twilio sends both kinds of inbound message to the same
webhook and tells them apart only by the ``whatsapp:`` prefix of ``From``, so parsing is
shared; the registry holds two thin instances, ``TwilioChannel(config, "sms")`` and
``TwilioChannel(config, "whatsapp")`` (see :func:`twilio_channels`), because the outbox
looks channels up by name. Either instance parses either kind and sends on the channel the
:class:`~channels.base.OutboundMessage` names.

- **verify**: ``X-Twilio-Signature`` checked with twilio's ``RequestValidator`` against the
  *public* URL Twilio called (:meth:`TwilioChannel.signed_url`), over every form field
  including blank ones; a JSON body (``?bodySHA256=``) is checked against its raw text.
- **parse_inbound**: a message webhook becomes an :class:`~channels.base.InboundMessage`, a
  status callback a :class:`~channels.base.StatusUpdate`; malformed input an
  :class:`~channels.base.Unparseable`, never an exception.
- **send**: the REST API (not TwiML), so the outbox can retry and status callbacks track
  delivery. SMS stays within ``max_sms_segments`` per message (GSM-7/UCS-2 aware); WhatsApp
  free-form only inside the 24-hour window, a configured template outside it, or
  ``held: needs template``; buttons become numbered lines.
- **fetch_media**: Basic auth only to our own account's media URLs on Twilio's API origin,
  the redirect followed without credentials.

Twilio docs: https://www.twilio.com/docs/messaging/guides/webhook-request,
https://www.twilio.com/docs/usage/webhooks/webhooks-security,
https://www.twilio.com/docs/messaging/guides/track-outbound-message-status
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from channels.base import (DeliveryStatus, Inbound, InboundMessage, Location, Media, OutboundMessage,
                           SendError, SendResult, StatusUpdate, Unparseable, WebhookRejected,
                           WebhookRequest)
from channels.sms_segments import split_sms
from channels.text_split import fits_length, split_text

try:  # twilio >= 9.13: SharedKey webhook signing may use HMAC-SHA256 (notes §5)
    from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, get_signature_algorithm
except ImportError:  # pragma: no cover - older 9.x
    SIGNATURE_SETTINGS_HEADER, get_signature_algorithm = "X-Twilio-Webhooks-Signature-Settings", None
try:  # RFC 9457 error bodies raise this, and it is NOT a TwilioRestException (notes §6)
    from twilio.base.exceptions import TwilioServiceException
except ImportError:  # pragma: no cover - twilio < 9.12
    TwilioServiceException = TwilioRestException  # type: ignore[misc,assignment]

# Answer Twilio's message webhook with this (text/xml): "no reply now", since replies go
# through the outbox and the REST API (notes §5).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
WEBHOOK_PATH = "/webhooks/twilio"
STATUS_PATH = "/webhooks/twilio/status"
WHATSAPP_PREFIX = "whatsapp:"
MAX_BODY = 1600          # Twilio rejects a longer Body (error 21617)
MAX_WA_CAPTION = 1024    # WhatsApp media captions

# https://www.twilio.com/docs/api/errors
WINDOW_CLOSED = "63016"        # free-form outside WhatsApp's 24 h customer-service window
OPTED_OUT = "21610"            # the recipient texted STOP
RETRYABLE_CODES = frozenset({"20429", "20500", "20503", "63018"})   # too many requests, 5xx, WA rate limit
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
_TWILIO_SID = r"[A-Z]{2}[0-9a-fA-F]{32}"


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    """One Twilio account used for SMS and WhatsApp.

    Attributes:
        account_sid: ``TWILIO_ACCOUNT_SID`` ("AC...").
        auth_token: ``TWILIO_AUTH_TOKEN``; signs webhooks and authenticates API calls.
        sms_from: ``TWILIO_SMS_FROM``, the SMS sender ("+62...", a short code or sender id).
        whatsapp_from: ``TWILIO_WHATSAPP_FROM`` ("whatsapp:+1415..." or just "+1415...").
        public_url: ``WARGA_PUBLIC_URL``, the https base URL Twilio calls (may include a path
            prefix such as "https://kota.go.id/warga"). Signatures are checked against it.
        status_callback_url: Where Twilio reports delivery; default
            ``public_url + "/webhooks/twilio/status"``; empty public_url and empty value: none.
        api_base_url: Send every ``*.twilio.com`` API request here instead (tests).
        media_api_origin: The only origin whose media URLs get our credentials.
        timeout: Seconds for each API and media request (twilio's default is none at all).
        whatsapp_templates: (notification kind, Content SID "HX...") pairs for sends outside
            the 24-hour window.
        max_sms_segments: Most segments one SMS may take before the reply is split.
        sms_smart_encoding: Replace curly quotes, dashes and the like with GSM-7 look-alikes.
        whatsapp_window: WhatsApp's customer-service window.
        whatsapp_window_margin: Treat the window as closing this much earlier, so a reply
            that waits in the outbox does not fail with 63016 at the edge.
        max_media_bytes: Refuse larger downloads.
        choice_formats: (language, format) for buttons rendered as lines; "{n}", "{title}".
        opt_out_keywords, opt_in_keywords, help_keywords: Whole-message keywords (case
            insensitive) reported as ``InboundMessage.event``.
    """

    account_sid: str
    auth_token: str = field(repr=False)
    sms_from: str = ""
    whatsapp_from: str = ""
    public_url: str = ""
    status_callback_url: str = ""
    api_base_url: str = ""
    media_api_origin: str = "https://api.twilio.com"
    timeout: float = 10.0
    whatsapp_templates: tuple[tuple[str, str], ...] = ()
    max_sms_segments: int = 3
    sms_smart_encoding: bool = True
    whatsapp_window: timedelta = timedelta(hours=24)
    whatsapp_window_margin: timedelta = timedelta(minutes=5)
    max_media_bytes: int = 16 * 1024 * 1024
    choice_formats: tuple[tuple[str, str], ...] = (("id", "Balas {n} untuk {title}"),
                                                   ("en", "Reply {n} for {title}"))
    opt_out_keywords: tuple[str, ...] = ("STOP", "STOPALL", "UNSUBSCRIBE", "BERHENTI")
    opt_in_keywords: tuple[str, ...] = ("START", "UNSTOP", "MULAI")
    help_keywords: tuple[str, ...] = ("HELP", "BANTUAN")

    def __post_init__(self) -> None:
        if not self.account_sid or not self.auth_token:
            raise ValueError("TwilioConfig: account_sid and auth_token are required")
        if self.public_url and not re.match(r"^https?://[^/\s]+", self.public_url):
            raise ValueError(f"TwilioConfig: public_url must be an http(s) URL, got {self.public_url!r}")
        if self.timeout <= 0:
            raise ValueError("TwilioConfig: timeout must be positive")

    @property
    def whatsapp_sender(self) -> str:
        """``whatsapp_from`` with its ``whatsapp:`` prefix."""
        w = self.whatsapp_from.strip()
        return w if not w or w.startswith(WHATSAPP_PREFIX) else WHATSAPP_PREFIX + w

    @property
    def status_callback(self) -> str | None:
        if self.status_callback_url:
            return self.status_callback_url
        return self.public_url.rstrip("/") + STATUS_PATH if self.public_url else None

    def template_for(self, kind: str | None) -> str | None:
        """The Content SID configured for a notification kind, if any."""
        return dict(self.whatsapp_templates).get(kind) if kind else None


def twilio_channels(config: TwilioConfig, *, clock: Callable[[], datetime] | None = None
                    ) -> dict[str, "TwilioChannel"]:
    """The Twilio channels whose sender is configured: {"sms": ..., "whatsapp": ...}.

    They share one REST client (and its connection pool).
    """
    rest = _RestClient(config)
    out: dict[str, TwilioChannel] = {}
    if config.sms_from:
        out["sms"] = TwilioChannel(config, "sms", clock=clock, rest=rest)
    if config.whatsapp_from:
        out["whatsapp"] = TwilioChannel(config, "whatsapp", clock=clock, rest=rest)
    return out


class RedirectingHttpClient(TwilioHttpClient):
    """Sends every ``*.twilio.com`` request to ``base_url`` instead (a local fake in tests).

    ``Client(edge=..., region=...)`` cannot point at localhost (notes §6, option 2).
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host == "twilio.com" or host.endswith(".twilio.com"):
            url = self._base + parts.path + ("?" + parts.query if parts.query else "")
        return super().request(method, url, *args, **kwargs)


class _RestClient:
    """A lazily built, fork-aware twilio ``Client`` plus a session for media downloads."""

    def __init__(self, config: TwilioConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._client: Client | None = None
        self._media: requests.Session | None = None

    def _ensure(self) -> None:
        if self._pid != os.getpid():            # built here, after any fork
            c = self._config
            http = (RedirectingHttpClient(c.api_base_url, timeout=c.timeout) if c.api_base_url
                    else TwilioHttpClient(timeout=c.timeout))
            self._client = Client(c.account_sid, c.auth_token, http_client=http)
            self._media = requests.Session()
            self._pid = os.getpid()

    def client(self) -> Client:
        with self._lock:
            self._ensure()
            assert self._client is not None
            return self._client

    def media_session(self) -> requests.Session:
        with self._lock:
            self._ensure()
            assert self._media is not None
            return self._media


class _FormParams:
    """Form pairs as the validator wants them: distinct keys, and ``getlist`` for repeats."""

    def __init__(self, pairs: tuple[tuple[str, str], ...]) -> None:
        self._pairs = pairs
        self._keys = list(dict.fromkeys(k for k, _ in pairs))

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._pairs if k == key]


class TwilioChannel:
    """The Twilio connector (see the module docstring).

    Args:
        config: Account, senders, public URL, templates.
        name: "sms" or "whatsapp": the registry name and the default channel for sends.
        clock: Returns "now" as an aware UTC datetime.
    """

    def __init__(self, config: TwilioConfig, name: str = "sms", *,
                 clock: Callable[[], datetime] | None = None, rest: _RestClient | None = None) -> None:
        if name not in ("sms", "whatsapp"):
            raise ValueError(f"TwilioChannel: name must be 'sms' or 'whatsapp', not {name!r}")
        self.name = name
        self.config = config
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._rest = rest or _RestClient(config)
        self._validator = RequestValidator(config.auth_token)

    # -- inbound -------------------------------------------------------------------------

    def signed_url(self, url: str) -> str:
        """The URL Twilio signed, rebuilt from ``public_url`` and ``url``'s path and query.

        Pass the request URL as your web framework sees it (Flask: ``request.url``); only its
        path and query string are used. Scheme and host come from ``public_url``, and a path
        prefix in ``public_url`` is added when the proxy stripped it. The query string is
        kept exactly as received: it is signed. With no ``public_url``, ``url`` is used as
        is, so it must already be the public one (e.g. via ProxyFix).
        """
        if not self.config.public_url:
            return url
        public, got = urlsplit(self.config.public_url), urlsplit(url)
        prefix = public.path.rstrip("/")
        path = got.path or "/"
        if prefix and path != prefix and not path.startswith(prefix + "/"):
            path = prefix + path
        return urlunsplit((public.scheme, public.netloc, path, got.query, ""))

    def verify(self, request: WebhookRequest) -> None:
        """Check ``X-Twilio-Signature``.

        Raises:
            WebhookRejected: Missing or wrong signature (never a TypeError).
        """
        signature = request.header("X-Twilio-Signature")
        if not signature:
            raise WebhookRejected("twilio: missing X-Twilio-Signature")
        url = self.signed_url(request.url)
        kwargs: dict[str, str] = {}
        settings = request.header(SIGNATURE_SETTINGS_HEADER)
        if settings:
            if get_signature_algorithm is None:
                raise WebhookRejected("twilio: signature settings header needs twilio >= 9.13")
            kwargs["algorithm"] = get_signature_algorithm(settings)
        params: Any
        if "bodySHA256" in parse_qs(urlsplit(url).query):
            # A JSON body: Twilio signs the URL, which carries the body's hash. The validator
            # checks that hash only when given the raw body as str; given a dict it would
            # skip the body check entirely (notes §5).
            try:
                params = request.body.decode("utf-8")
            except UnicodeDecodeError:
                raise WebhookRejected("twilio: body is not UTF-8") from None
        else:
            params = _FormParams(_form_pairs(request))
        if not self._validator.validate(url, params, signature, **kwargs):
            raise WebhookRejected(f"twilio: bad X-Twilio-Signature for {url}")

    def parse_inbound(self, request: WebhookRequest) -> list[Inbound]:
        """Parse a message webhook or a status callback. Never raises."""
        now = self._clock()
        pairs = _form_pairs(request)
        raw = request.body.decode("utf-8", errors="replace") or urlencode(pairs)
        if not pairs:
            return [Unparseable(self.name, _raw_key(raw), "empty body", raw, now)]
        form: dict[str, str] = {}
        for k, v in pairs:
            form.setdefault(k, v)
        try:
            if "Body" not in form and ("MessageStatus" in form or "SmsStatus" in form):
                return [self._read_status(form, raw, now)]
            return [self._read_message(form, raw, now)]
        except Exception as exc:  # noqa: BLE001 - the parse edge: anything unexpected becomes Unparseable
            sid = form.get("MessageSid") or form.get("SmsSid")
            return [Unparseable(self.name, sid or _raw_key(raw), f"{type(exc).__name__}: {exc}", raw, now)]

    def _read_message(self, form: dict[str, str], raw: str, now: datetime) -> Inbound:
        sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid")
        address = form.get("From", "").strip()
        if not sid:
            return Unparseable(self.name, _raw_key(raw), "message webhook without MessageSid", raw, now)
        if not address:
            return Unparseable(self.name, sid, "message webhook without From", raw, now)
        if address.startswith(WHATSAPP_PREFIX):
            channel, sender = "whatsapp", address
        elif ":" not in address:
            channel, sender = "sms", "tel:" + address
        else:
            return Unparseable(self.name, sid, f"unsupported sender address {address!r}", raw, now)
        body = form.get("Body", "")
        payload = form.get("ButtonPayload") or form.get("ListId") or None
        return InboundMessage(
            channel=channel, external_id=sid, sender=sender,
            text=payload if payload else body,   # a pressed button "says" its payload
            received_at=now,                     # Twilio's webhook carries no timestamp
            sender_name=form.get("ProfileName") or None, media=_media(form),
            location=_location(form), reply_to_button=payload, raw=raw,
            event=self._event(form, body))

    def _event(self, form: dict[str, str], body: str) -> str | None:
        # Twilio's Advanced Opt-Out tells us outright; otherwise match our own keywords
        # (Indonesian ones are not among Twilio's defaults).
        opt = form.get("OptOutType", "").upper()
        if opt in ("STOP", "START", "HELP"):
            return {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}[opt]
        word = body.strip().strip(".!").upper()
        c = self.config
        if word in c.opt_out_keywords:
            return "opt_out"
        if word in c.opt_in_keywords:
            return "opt_in"
        if word in c.help_keywords:
            return "help"
        return None

    def _read_status(self, form: dict[str, str], raw: str, now: datetime) -> Inbound:
        sid = form.get("MessageSid") or form.get("SmsSid")
        value = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
        if not sid:
            return Unparseable(self.name, _raw_key(raw), "status callback without MessageSid", raw, now)
        status = DeliveryStatus.delivered if value == "partially_delivered" else DeliveryStatus.parse(value)
        if status is None or status in (DeliveryStatus.pending, DeliveryStatus.held):
            return Unparseable(self.name, f"status:{sid}:{value}", f"unknown message status {value!r}",
                               raw, now)
        code = form.get("ErrorCode", "").strip() or None
        reason = form.get("ErrorMessage", "").strip() or ERROR_REASONS.get(code or "")
        whatsapp = (form.get("ChannelPrefix") == "whatsapp"
                    or any(form.get(k, "").startswith(WHATSAPP_PREFIX) for k in ("From", "To")))
        return StatusUpdate(channel="whatsapp" if whatsapp else "sms", provider_message_id=sid,
                            status=status, at=now, error_code=code, error_reason=reason, raw=raw,
                            unreachable=code == OPTED_OUT, window_closed=code == WINDOW_CLOSED)

    # -- outbound ------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        """Send through the REST API with ``StatusCallback`` set.

        Returns:
            ``queued`` with the Message SIDs, or ``held`` ("needs template") for WhatsApp
            outside the window without a configured template (nothing is sent then).

        Raises:
            SendError: With ``parts_sent`` set if some parts went out before the failure.
        """
        channel = message.channel if message.channel in ("sms", "whatsapp") else self.name
        plan = self.plan(message, channel)
        if isinstance(plan, SendResult):
            return plan
        if not plan:
            raise SendError("nothing to send: no text, media or location", retryable=False, code="empty")
        if "content_sid" in plan[0]:
            note: str | None = f"sent as template {message.template}"
        else:
            note = f"sent as {len(plan)} messages" if len(plan) > 1 else None
        return self._create_all(plan, message.resume_from, note)

    def plan(self, message: OutboundMessage, channel: str | None = None
             ) -> list[dict[str, Any]] | SendResult:
        """The ``messages.create`` calls ``send`` makes, in order (deterministic), or the
        ``held`` result when nothing may be sent."""
        channel = channel or (message.channel if message.channel in ("sms", "whatsapp") else self.name)
        to = _to_address(message.recipient, channel)
        c = self.config
        if channel == "sms":
            if not c.sms_from:
                raise SendError("TWILIO_SMS_FROM is not configured", retryable=False, code="config")
            text = self._compose(message, links=True)
            bodies = split_sms(text, c.max_sms_segments, smart_encoding=c.sms_smart_encoding)
            return [{"to": to, "from_": c.sms_from, "body": b} for b in bodies]
        if not c.whatsapp_from:
            raise SendError("TWILIO_WHATSAPP_FROM is not configured", retryable=False, code="config")
        sender = c.whatsapp_sender
        if not self.window_open(message.last_inbound_at):
            content_sid = c.template_for(message.template)
            if content_sid is None:
                why = (f"no template configured for {message.template!r}" if message.template
                       else "not a notification with a template")
                return SendResult((), DeliveryStatus.held,
                                  f"needs template: outside the WhatsApp 24-hour window ({why})")
            # ContentVariables must be a JSON *string*: a dict is silently sent as its first
            # key (notes §6).
            variables = json.dumps(dict(message.template_vars), ensure_ascii=False)
            return [{"to": to, "from_": sender, "content_sid": content_sid,
                     "content_variables": variables}]
        calls: list[dict[str, Any]] = [
            {"to": to, "from_": sender, "body": chunk}
            for chunk in split_text(self._compose(message, links=False), fits_length(MAX_BODY))]
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

    def window_open(self, last_inbound_at: datetime | None) -> bool:
        """Whether WhatsApp's customer-service window is open, counted from the citizen's
        last *inbound* message (our replies never extend it; pitfalls §6)."""
        if last_inbound_at is None:
            return False
        c = self.config
        return self._clock() - last_inbound_at < c.whatsapp_window - c.whatsapp_window_margin

    def _compose(self, message: OutboundMessage, *, links: bool) -> str:
        text = message.text.strip()
        formats = dict(self.config.choice_formats)
        fmt = formats.get(message.language or "id") or formats.get("id") or "{n}. {title}"
        lines = [fmt.format(n=i, title=b.title) for i, b in enumerate(message.buttons, start=1)
                 if b.kind == "reply"]
        if links:   # SMS in Indonesia carries no MMS: media and locations travel as links
            lines += list(message.media_urls)
            if message.location is not None:
                lines.append(f"https://maps.google.com/?q={message.location.lat},{message.location.lon}")
        return "\n\n".join(p for p in (text, "\n".join(lines)) if p)

    def _create_all(self, calls: list[dict[str, Any]], resume_from: int, note: str | None) -> SendResult:
        client = self._rest.client()
        callback = self.config.status_callback
        sids: list[str] = []
        status = DeliveryStatus.queued
        for index, fields in enumerate(calls):
            if index < resume_from:
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

    def fetch_media(self, url: str) -> tuple[str, bytes]:
        """Download an inbound ``MediaUrlN``.

        Only URLs on ``media_api_origin`` under ``/2010-04-01/Accounts/<our sid>/Messages/``
        get Basic auth; anything else is refused before any request is made (a forged
        webhook could otherwise name a URL that collects our credentials). Twilio answers
        with a redirect to a short-lived CDN URL, which is fetched without credentials.

        Returns:
            (content type, bytes).

        Raises:
            SendError: ``media_url_rejected`` (not retryable) for a foreign URL; retryable for
                404 (media can lag the webhook), 429, 5xx and network errors.
        """
        self._check_media_url(url)
        session = self._rest.media_session()
        auth: tuple[str, str] | None = (self.config.account_sid, self.config.auth_token)
        current = url
        for _hop in range(4):
            try:
                response = session.get(current, auth=auth, allow_redirects=False, stream=True,
                                       timeout=self.config.timeout)
            except requests.RequestException as exc:
                raise SendError(f"media download failed: {type(exc).__name__}: {exc}", retryable=True,
                                code="network") from exc
            with response:
                if response.is_redirect:
                    target = urljoin(current, response.headers.get("Location", ""))
                    if urlsplit(target).scheme not in ("https", urlsplit(self.config.media_api_origin).scheme):
                        raise SendError(f"media redirect to {target!r} refused", retryable=False,
                                        code="media_url_rejected")
                    current, auth = target, None         # credentials on the first hop only
                    continue
                return self._read_media(response)
        raise SendError("media download: too many redirects", retryable=False, code="redirects")

    def _read_media(self, response: requests.Response) -> tuple[str, bytes]:
        status = response.status_code
        if status != 200:
            raise SendError(f"media download: HTTP {status}", code=str(status),
                            retryable=status in (404, 429) or status >= 500)
        limit = self.config.max_media_bytes
        if int(response.headers.get("Content-Length") or 0) > limit:
            raise SendError("media too large", retryable=False, code="too_large")
        data = bytearray()
        for chunk in response.iter_content(65536):
            data += chunk
            if len(data) > limit:
                raise SendError("media too large", retryable=False, code="too_large")
        ctype = (response.headers.get("Content-Type") or "application/octet-stream").split(";")[0].strip()
        return ctype, bytes(data)

    def _check_media_url(self, url: str) -> None:
        u = urlsplit(url)
        expected = self.config.media_api_origin.rstrip("/").lower()
        path_ok = re.fullmatch(
            rf"/2010-04-01/Accounts/{re.escape(self.config.account_sid)}/Messages/{_TWILIO_SID}"
            rf"/Media/{_TWILIO_SID}", u.path)
        if f"{u.scheme}://{u.netloc}".lower() != expected or not path_ok or u.query or u.fragment:
            raise SendError(f"not a media URL of our Twilio account: {url!r}", retryable=False,
                            code="media_url_rejected")


def send_error(exc: BaseException, *, parts_sent: int = 0, sent_ids: tuple[str, ...] = ()) -> SendError:
    """Map a twilio or requests error to a :class:`SendError`."""
    kw: dict[str, Any] = {"parts_sent": parts_sent, "sent_ids": sent_ids}
    if isinstance(exc, requests.ConnectTimeout):
        return SendError(f"Twilio connect timeout: {exc}", retryable=True, code="timeout", **kw)
    if isinstance(exc, requests.Timeout):
        # The request was sent; Twilio may have queued the message (it has no idempotency
        # key for Messages), so a retry may duplicate it.
        return SendError(f"Twilio timed out: {exc}", retryable=True, code="timeout",
                         outcome_unknown=True, **kw)
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        unsent = isinstance(reason, (urllib3.exceptions.NewConnectionError,
                                     urllib3.exceptions.ConnectTimeoutError))
        return SendError(f"Twilio connection error: {exc}", retryable=True, code="network",
                         outcome_unknown=not unsent, **kw)
    if isinstance(exc, requests.RequestException):
        return SendError(f"Twilio request error: {exc}", retryable=True, code="network",
                         outcome_unknown=True, **kw)
    if isinstance(exc, (TwilioRestException, TwilioServiceException)):
        status = int(getattr(exc, "status", 0) or 0)
        code = str(getattr(exc, "code", "") or status)
        reason = (getattr(exc, "msg", None) or getattr(exc, "detail", None)
                  or getattr(exc, "title", None) or ERROR_REASONS.get(code) or f"HTTP {status}")
        if code == WINDOW_CLOSED:
            return SendError(f"{reason} (WhatsApp window closed: send a template)", retryable=False,
                             code=code, window_closed=True, **kw)
        if code == OPTED_OUT:
            return SendError(reason, retryable=False, code=code, unreachable=True, **kw)
        retryable = code in RETRYABLE_CODES or status == 429 or status >= 500
        return SendError(reason, retryable=retryable, code=code, **kw)
    if isinstance(exc, TwilioException):
        return SendError(f"Twilio error: {exc}", retryable=False, code="twilio_error", **kw)
    raise TypeError(f"send_error: not a Twilio error: {exc!r}")


def _form_pairs(request: WebhookRequest) -> tuple[tuple[str, str], ...]:
    if request.form:
        return request.form
    ctype = request.header("Content-Type").lower()
    if request.body and ("x-www-form-urlencoded" in ctype or not ctype):
        # keep_blank_values: Twilio signs "ToCity=" too; dropping it breaks the signature.
        return tuple(parse_qsl(request.body.decode("utf-8", errors="replace"), keep_blank_values=True))
    return ()


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


def _to_address(recipient: str, channel: str) -> str:
    if channel == "whatsapp" and recipient.startswith(WHATSAPP_PREFIX):
        return recipient
    if channel == "sms" and recipient.startswith("tel:"):
        return recipient[len("tel:"):]
    raise SendError(f"recipient {recipient!r} is not a {channel} address", retryable=False,
                    code="bad_recipient")


def status_update_window_closed(update: StatusUpdate) -> bool:
    """Whether a status callback reports WhatsApp's window as closed (error 63016)."""
    return update.window_closed or update.error_code == WINDOW_CLOSED


def parse_choice_number(text: str) -> int | None:
    """Read a numbered choice ("1", " 2. ", "3)"); anything else gives None.

    Buttons on SMS/WhatsApp are rendered as "Balas 1 untuk ..."; the dialogue maps the number
    back to the payload of the buttons it last sent.
    """
    m = re.fullmatch(r"\s*(\d{1,2})\s*[.)]?\s*", text)
    return int(m.group(1)) if m else None


__all__ = ["TwilioConfig", "TwilioChannel", "RedirectingHttpClient", "twilio_channels", "send_error",
           "EMPTY_TWIML",
           "parse_choice_number", "status_update_window_closed", "WEBHOOK_PATH", "STATUS_PATH",
           "WINDOW_CLOSED", "OPTED_OUT"]
