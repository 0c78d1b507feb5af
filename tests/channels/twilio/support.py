"""Shared constants and builders for the twilio connector tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from channels.base import OutboundMessage, WebhookRequest
from channels.twilio import TwilioConfig
from tests.fakes.fake_twilio import FakeTwilio, sign
from tests.support import free_port

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "twilio"
SID = "ACa1b2c3d4e5f60718293a4b5c6d7e8f90"
TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
PUBLIC = "https://warga.example.go.id"
HOOK = PUBLIC + "/webhooks/twilio"
STATUS = PUBLIC + "/webhooks/twilio/status"
NOW = datetime(2024, 11, 28, 9, 30, tzinfo=UTC)
SMS_TO, WA_TO = "tel:+6281234567890", "whatsapp:+6281298765432"
TEMPLATES = (("status_changed", "HXb5b62575e6e4ff6129ad7c8efe1f983e"),)


def config(fake: FakeTwilio | None = None, **kw: Any) -> TwilioConfig:
    origin = fake.url if fake else f"http://127.0.0.1:{free_port()}"
    base: dict[str, Any] = dict(sms_from="+15005550006", whatsapp_from="+14155238886", public_url=PUBLIC,
                                api_base_url=origin, media_api_origin=origin, timeout=2.0,
                                whatsapp_templates=TEMPLATES)
    base.update(kw)
    return TwilioConfig(SID, TOKEN, **base)


def pairs_of(name: str) -> list[tuple[str, str]]:
    return parse_qsl((PAYLOADS / name).read_text(), keep_blank_values=True)


def signed(name: str, url: str = HOOK, signed_url: str | None = None, *, as_form: bool = False,
           headers: dict[str, str] | None = None) -> WebhookRequest:
    """A webhook request for a payload file, signed as Twilio would sign ``signed_url``."""
    body = (PAYLOADS / name).read_bytes()
    pairs = pairs_of(name)
    h = {"content-type": "application/x-www-form-urlencoded",
         "x-twilio-signature": sign(TOKEN, signed_url or url, pairs)}
    h.update(headers or {})
    return WebhookRequest(url=url, headers=h, body=body, form=tuple(pairs) if as_form else ())


def sms_out(text: str, **kw: Any) -> OutboundMessage:
    return OutboundMessage(channel="sms", recipient=SMS_TO, text=text, **kw)


def wa_out(text: str, *, hours_ago: float | None = 1, **kw: Any) -> OutboundMessage:
    last = NOW - timedelta(hours=hours_ago) if hours_ago is not None else None
    return OutboundMessage(channel="whatsapp", recipient=WA_TO, text=text, last_inbound_at=last, **kw)
