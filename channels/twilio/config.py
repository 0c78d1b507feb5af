"""Twilio connector settings: one account serving SMS and WhatsApp."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

WEBHOOK_PATH = "/webhooks/twilio"
STATUS_PATH = "/webhooks/twilio/status"
WHATSAPP_PREFIX = "whatsapp:"
# Answer Twilio's webhooks with this (text/xml): "no reply now", since replies go through the
# outbox and the REST API (notes/provider-libraries.md §5).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
CHANNEL_NAMES = ("sms", "whatsapp")


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
            insensitive, trailing "." / "!" ignored) reported as ``InboundMessage.event``.
        provider_keywords: The keywords Twilio's Advanced Opt-Out answers itself on SMS
            (reported as ``InboundMessage.provider_answered``, so we do not answer twice).
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
    opt_out_keywords: tuple[str, ...] = ("STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT",
                                         "BERHENTI", "STOP SEMUA")
    opt_in_keywords: tuple[str, ...] = ("START", "UNSTOP", "MULAI")
    help_keywords: tuple[str, ...] = ("HELP", "BANTUAN")
    provider_keywords: tuple[str, ...] = ("STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT",
                                          "START", "UNSTOP", "HELP")

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
        """The StatusCallback URL given with every send, if any."""
        if self.status_callback_url:
            return self.status_callback_url
        return self.public_url.rstrip("/") + STATUS_PATH if self.public_url else None

    def template_for(self, kind: str | None) -> str | None:
        """The Content SID configured for a notification kind, if any."""
        return dict(self.whatsapp_templates).get(kind) if kind else None
