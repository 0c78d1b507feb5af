"""The app with every channel switched on, talking to local fake providers on 127.0.0.1.

Fixtures (import them into a test module or conftest):

* ``fakes``: a started :class:`FakeTelegram` and :class:`FakeTwilio` (``fakes.telegram``,
  ``fakes.twilio``).
* ``provider_app``: the real Flask app (workers running) with web, telegram, sms and whatsapp
  channels pointed at the fakes, on a fresh SQLite and PostgreSQL database (``db_url``).
* ``provider_client``: its test client.

Constants: ``TOKEN``, ``SECRET`` (Telegram), ``ACCOUNT_SID``, ``AUTH_TOKEN``, ``SMS_FROM``,
``WHATSAPP_FROM``, ``PUBLIC_URL`` (what Twilio signs: ``PUBLIC_URL + "/webhooks/twilio"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings, migrate
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


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    tg = FakeTelegram(token=TOKEN)
    tw = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    tg.start()
    tw.start()
    try:
        yield Fakes(tg, tw)
    finally:
        tg.stop()
        tw.stop()


def provider_settings(db_url: str, tmp_path: Path, fakes: Fakes, env: dict[str, str | None] | None = None,
                      **overrides: Any) -> Any:
    """Settings with every channel on, pointed at ``fakes``. ``env`` adds to (None: removes
    from) the provider environment; ``overrides`` are dotted settings keys."""
    merged = {**provider_env(fakes), **(env or {})}
    return make_settings(db_url, tmp_path, env={k: v for k, v in merged.items() if v is not None},
                         **{"channels.enabled": ALL_CHANNELS, **overrides})


@pytest.fixture
def provider_app(db_url: str, tmp_path: Path, fakes: Fakes) -> Iterator[Any]:
    from bot.web.app import create_app

    settings = provider_settings(db_url, tmp_path, fakes)
    migrate(settings.database_url)
    app = create_app(settings)
    app.testing = True
    try:
        yield app
    finally:
        app.extensions["warga"].close()


@pytest.fixture
def provider_client(provider_app: Any) -> Any:
    return provider_app.test_client()
