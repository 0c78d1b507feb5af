"""The app with every channel switched on, talking to local fake providers on 127.0.0.1.

The fixtures built on this (``fakes``, ``provider_app``, ``provider_client``) are in
tests/bot/conftest.py; this plain module holds what they and other tests share:
:class:`Fakes` (a started :class:`FakeTelegram` and :class:`FakeTwilio`), the provider
environment and settings.

Constants: ``TOKEN``, ``SECRET`` (Telegram), ``ACCOUNT_SID``, ``AUTH_TOKEN``, ``SMS_FROM``,
``WHATSAPP_FROM``, ``PUBLIC_URL`` (what Twilio signs: ``PUBLIC_URL + "/webhooks/twilio"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import make_settings
from tests.fakes.fake_telegram import FakeTelegram
from tests.fakes.fake_twilio import FakeTwilio

TOKEN = "123456:TEST-token"
SECRET = "webhook-secret-123"
ACCOUNT_SID = "ACa1b2c3d4e5f60718293a4b5c6d7e8f90"   # the one in tests/payloads/twilio
AUTH_TOKEN = "twilio-auth-token-0123456789abcd"
SMS_FROM = "+15005550006"
WHATSAPP_FROM = "whatsapp:+14155238886"
PUBLIC_URL = "https://warga.example.go.id"
ALL_CHANNELS = ["web", "telegram", "sms", "whatsapp"]


@dataclass
class Fakes:
    telegram: FakeTelegram
    twilio: FakeTwilio


def provider_env(fakes: Fakes) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_SMS_FROM": SMS_FROM, "TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
        "WARGA_PUBLIC_URL": PUBLIC_URL,
        "WARGA_CHANNELS_TELEGRAM_API_URL": fakes.telegram.url,
        "WARGA_CHANNELS_TWILIO_API_URL": fakes.twilio.url,
        "WARGA_CHANNELS_TWILIO_MEDIA_ORIGIN": fakes.twilio.url,
        "WARGA_CHANNELS_SEND_TIMEOUT": "3",
    }


def provider_settings(db_url: str, tmp_path: Path, fakes: Fakes, env: Mapping[str, str | None] | None = None,
                      overrides: Mapping[str, Any] | None = None) -> Any:
    """Settings with every channel on, pointed at ``fakes``. ``env`` adds to (None: removes
    from) the provider environment; ``overrides`` are dotted settings keys."""
    merged = {**provider_env(fakes), **(env or {})}
    return make_settings(db_url, tmp_path, env={k: v for k, v in merged.items() if v is not None},
                         overrides={"channels.enabled": ALL_CHANNELS, **(overrides or {})})
