"""Shared constants and builders for the telegram connector tests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from channels.base import OutboundMessage, WebhookRequest
from channels.telegram import TelegramConfig
from tests.fakes.fake_telegram import FakeTelegram
from tests.support import free_port

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "telegram"
TOKEN = "123456:TEST-token"
SECRET = "s3cret-Token_1"
NOW = datetime(2024, 11, 28, 9, 30, tzinfo=UTC)
HOOK = "https://warga.example.go.id/webhooks/telegram"
SITI = "telegram:3527065"
LONG_PAYLOAD = "confirm_complaint:JKT-2024-000123:category=jalan_rusak:location=-6.175392,106.827153"


def at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def webhook(body: bytes, secret: str | None = SECRET) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-telegram-bot-api-secret-token"] = secret
    return WebhookRequest(url=HOOK, headers=headers, body=body)


def payload(name: str) -> WebhookRequest:
    return webhook((PAYLOADS / name).read_bytes())


def config(fake: FakeTelegram | None = None, **kw: Any) -> TelegramConfig:
    base: dict[str, Any] = {"api_base_url": fake.url if fake else f"http://127.0.0.1:{free_port()}",
                            "connect_timeout": 1.0, "read_timeout": 2.0, "write_timeout": 2.0}
    base.update(kw)
    return TelegramConfig(token=TOKEN, webhook_secret=SECRET, **base)


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "warga-telegram" and t.is_alive()]


def out(text: str = "", **kw: Any) -> OutboundMessage:
    return OutboundMessage(channel="telegram", recipient=SITI, text=text, **kw)


def sentences(n: int) -> str:
    return " ".join(f"Kalimat nomor {i} menjelaskan langkah penanganan laporan warga dengan rinci." for i in range(n))
