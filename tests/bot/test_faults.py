"""Faults answer what is true (issue 9): nothing stored → 503 with Retry-After; stored but the
wake-up failed → 2xx. The database outage is real: PostgreSQL behind a proxy the test cuts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.store.models import Message
from tests.conftest import make_settings, migrate
from tests.pg_databases import PG_ADMIN_URL, create_pg_database, release_pg_database
from tests.support import CuttableProxy, free_port


@pytest.fixture
def pg_behind_proxy(pg_reason: str | None) -> Iterator[tuple[str, CuttableProxy]]:
    if pg_reason:
        pytest.fail(pg_reason)   # these tests are about PostgreSQL: never pass without it
    from sqlalchemy.engine import make_url

    name, _ = create_pg_database()
    admin = make_url(PG_ADMIN_URL)
    proxy = CuttableProxy((admin.host or "127.0.0.1", admin.port or 5432))
    url = admin.set(drivername="postgresql+psycopg", port=proxy.port, database=name)
    try:
        yield url.render_as_string(hide_password=False), proxy
    finally:
        proxy.close()
        release_pg_database(name)


@pytest.fixture
def app_on_proxy(pg_behind_proxy: tuple[str, CuttableProxy], tmp_path: Path) -> Iterator[tuple[Any, CuttableProxy]]:
    from bot.web.app import create_app

    url, proxy = pg_behind_proxy
    migrate(url)
    settings = make_settings(url, tmp_path, overrides={"server.chat_reply_wait_seconds": 10})
    app = create_app(settings)
    try:
        yield app, proxy
    finally:
        app.extensions["warga"].close()


def stored_inbound(app: Any) -> int:
    with app.extensions["warga"].sessions() as s:
        return s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) or 0


def test_database_down_answers_503_with_retry_after_and_the_retry_is_stored_once(app_on_proxy):
    app, proxy = app_on_proxy
    client = app.test_client()
    sender = uuid.uuid4().hex
    first = client.post("/api/v1/chat/messages", json={"sender": sender, "id": "message-1", "text": "halo"})
    assert first.status_code == 200
    proxy.cut()
    for _ in range(2):   # the pool's first broken connection and a fresh one both fail alike
        r = client.post("/api/v1/chat/messages", json={"sender": sender, "id": "message-2", "text": "menu"})
        assert r.status_code == 503, r.get_data(as_text=True)
        assert int(r.headers["Retry-After"]) > 0
        assert r.get_json()["error"] == "unavailable"
    r = client.get("/api/v1/chat/messages", headers={"X-Warga-Sender": sender})
    assert r.status_code == 503 and "Retry-After" in r.headers
    proxy.restore()
    # The page sends the same message id again: stored once, answered.
    r = client.post("/api/v1/chat/messages", json={"sender": sender, "id": "message-2", "text": "menu"})
    assert r.status_code == 200 and r.get_json()["replies"]
    again = client.post("/api/v1/chat/messages", json={"sender": sender, "id": "message-2", "text": "menu"})
    assert again.get_json()["duplicate"] is True
    assert stored_inbound(app) == 2


def test_the_console_with_the_database_down_answers_503_not_500(app_on_proxy):
    app, proxy = app_on_proxy
    client = app.test_client()
    proxy.cut()
    r = client.get("/console/login")
    assert r.status_code == 200    # the login page needs no database
    import re

    found = re.search(r'name="csrf" value="([^"]+)"', r.get_data(as_text=True))
    assert found is not None
    token = found.group(1)
    r = client.post("/console/login", data={"username": "a", "password": "b", "csrf": token})
    assert r.status_code == 503 and "Retry-After" in r.headers


def test_redis_down_after_storing_still_answers_2xx(sqlite_url, tmp_path):
    """Stored, but the wake-up (Redis) failed: 202, and the message is there for the sweeper."""
    from bot.web.app import create_app

    migrate(sqlite_url)
    dead_redis = f"redis://127.0.0.1:{free_port()}/12"
    settings = make_settings(sqlite_url, tmp_path, overrides={"queue.backend": "redis", "queue.redis_url": dead_redis,
                                                       "server.chat_reply_wait_seconds": 0.2})
    app = create_app(settings, start_workers=False)
    try:
        r = app.test_client().post("/api/v1/chat/messages",
                                   json={"sender": uuid.uuid4().hex, "id": "message-r", "text": "halo"})
        assert r.status_code == 202, r.get_data(as_text=True)
        assert r.get_json()["pending"] is True
        assert stored_inbound(app) == 1
    finally:
        app.extensions["warga"].close()


def test_a_provider_webhook_with_the_database_down_gets_503_and_its_redelivery_is_stored_once(
        pg_behind_proxy, tmp_path):
    """Telegram re-sends an update until it gets a 2xx: with the database away the answer must be
    503 (nothing stored), and the redelivery after the outage is stored once."""
    from bot.web.app import create_app
    from tests.bot.world import TELEGRAM

    url, proxy = pg_behind_proxy
    migrate(url)
    secret = "fault-test-secret"
    env = {"TELEGRAM_BOT_TOKEN": "123456:fault-test", "TELEGRAM_WEBHOOK_SECRET": secret,
           "WARGA_CHANNELS_TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}"}
    settings = make_settings(url, tmp_path, env=env, overrides={"channels.enabled": ["web", "telegram"]})
    app = create_app(settings, start_workers=False)
    try:
        client = app.test_client()
        update = (TELEGRAM / "text.json").read_bytes()
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"}
        proxy.cut()
        for _ in range(2):
            r = client.post("/webhooks/telegram", data=update, headers=headers)
            assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0
        proxy.restore()
        for _ in range(2):   # Telegram's redelivery, then a duplicate of it
            assert client.post("/webhooks/telegram", data=update, headers=headers).status_code == 200
        assert stored_inbound(app) == 1
    finally:
        app.extensions["warga"].close()
