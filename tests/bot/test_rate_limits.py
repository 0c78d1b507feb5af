"""The public chat API is rate limited per sender id and per client address (issue 9, item 4).

The limiter's clock is injected (the storage's and the Retry-After's ``time``), so the test
decides when a minute has passed instead of waiting for one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.store.models import Contact
from tests.conftest import make_settings, migrate


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now

    def __getattr__(self, name: str) -> Any:   # the rest of the time module, untouched
        import time

        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    import limits.storage.memory

    import bot.web.limits

    fake = FakeClock()
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    monkeypatch.setattr(bot.web.limits, "time", fake)
    return fake


@pytest.fixture
def limited_app(sqlite_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Any]:
    from bot.web.app import create_app

    migrate(sqlite_url)
    settings = make_settings(sqlite_url, tmp_path, overrides={
        "security.chat_per_sender_per_minute": 3, "security.chat_per_address_per_minute": 5,
        "server.chat_reply_wait_seconds": 0})
    app = create_app(settings, start_workers=False)
    try:
        yield app
    finally:
        app.extensions["warga"].close()


def post(client: Any, sender: str, n: int, addr: str = "198.51.100.7") -> Any:
    return client.post("/api/v1/chat/messages", json={"sender": sender, "id": f"message-{n}", "text": "halo"},
                       environ_base={"REMOTE_ADDR": addr})


def contacts(app: Any) -> int:
    with app.extensions["warga"].sessions() as s:
        return s.scalar(select(func.count()).select_from(Contact)) or 0


def test_one_sender_is_limited_per_minute_with_retry_after(limited_app, clock):
    client = limited_app.test_client()
    sender = uuid.uuid4().hex
    assert [post(client, sender, i).status_code for i in range(3)] == [202, 202, 202]
    refused = post(client, sender, 3)
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "too_many_requests"
    assert 0 < int(refused.headers["Retry-After"]) <= 61
    # Reading has a budget of its own, keyed by the same credential (so polling never starves sending).
    reads = [client.get("/api/v1/chat/messages", headers={"X-Warga-Sender": sender},
                        environ_base={"REMOTE_ADDR": "198.51.100.8"}).status_code for _ in range(4)]
    assert reads == [200, 200, 200, 429]
    clock.now += 61
    assert post(client, sender, 4).status_code == 202


def test_one_address_cannot_create_contacts_without_limit(limited_app, clock):
    client = limited_app.test_client()
    codes = [post(client, uuid.uuid4().hex, 0).status_code for _ in range(8)]
    assert codes == [202] * 5 + [429] * 3
    assert contacts(limited_app) == 5
    # Another address is not affected.
    assert post(client, uuid.uuid4().hex, 0, addr="203.0.113.20").status_code == 202
    clock.now += 61
    assert post(client, uuid.uuid4().hex, 0).status_code == 202


def test_the_chat_page_and_the_console_are_not_limited_by_the_chat_api(limited_app, clock):
    client = limited_app.test_client()
    for _ in range(10):
        assert client.get("/", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200
    assert post(client, uuid.uuid4().hex, 0).status_code == 202


def limited_api(settings: Any) -> Any:
    """A chat API route under the limiter alone (the counting, without the rest of the app)."""
    from flask import Blueprint, Flask

    from bot.web.limits import install_rate_limits

    app = Flask(__name__)
    chat = Blueprint("webchat", __name__)

    @chat.post("/api/v1/chat/messages")
    def post_message() -> str:
        return "stored"

    install_rate_limits(app, settings, chat)
    app.register_blueprint(chat)
    return app.test_client()


def redis_settings(sqlite_url: str, tmp_path: Path, redis_url: str) -> Any:
    return make_settings(sqlite_url, tmp_path, overrides={
        "queue.backend": "redis", "queue.redis_url": redis_url,
        "security.chat_per_sender_per_minute": 3, "security.chat_per_address_per_minute": 100})


def test_every_process_counts_against_the_same_limits_in_redis(sqlite_url: str, tmp_path: Path) -> None:
    settings = redis_settings(sqlite_url, tmp_path, "redis://127.0.0.1:6379/9")  # db 9: this test alone
    first, second = limited_api(settings), limited_api(settings)    # two processes' limiters
    sender = uuid.uuid4().hex
    codes = [client.post("/api/v1/chat/messages", json={"sender": sender, "text": "halo"}).status_code
             for client in (first, second, first, second)]
    assert codes == [200, 200, 200, 429]


def test_requests_are_let_through_while_the_counters_cannot_be_reached(sqlite_url: str, tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    from tests.support import free_port

    client = limited_api(redis_settings(sqlite_url, tmp_path, f"redis://127.0.0.1:{free_port()}/0"))
    sender = uuid.uuid4().hex
    codes = [client.post("/api/v1/chat/messages", json={"sender": sender, "text": "halo"}).status_code
             for _ in range(5)]
    assert codes == [200] * 5
    assert "rate limit storage unreachable" in caplog.text


def test_counting_in_memory_starts_no_thread_and_forgets_senders_who_never_come_back(monkeypatch):
    """limits' memory storage would start a timer thread after hits; the app's sweeps old
    counters in the hitting thread, once a minute."""
    import limits.storage.memory
    from limits import RateLimitItemPerMinute
    from limits.strategies import SlidingWindowCounterRateLimiter

    from bot.web.limits import QuietMemoryStorage

    limits_clock, sweep_clock = FakeClock(), FakeClock()
    monkeypatch.setattr(limits.storage.memory, "time", limits_clock)
    storage = QuietMemoryStorage(clock=sweep_clock.time)
    timers: list[Any] = []
    real_timer = limits.storage.memory.threading.Timer

    def counted(*args: Any, **kwargs: Any) -> Any:
        timers.append(args)
        return real_timer(*args, **kwargs)

    monkeypatch.setattr(limits.storage.memory.threading, "Timer", counted)
    window = SlidingWindowCounterRateLimiter(storage)
    per_minute = RateLimitItemPerMinute(3)
    assert [window.hit(per_minute, "chat", "gone") for _ in range(4)] == [True, True, True, False]
    for n in range(50):
        window.hit(per_minute, "chat", f"sender-{n}")
    assert timers == []
    assert any("gone" in key for key in storage.storage)
    # Two minutes on, one more hit sweeps: the counters of everyone who did not come back go.
    limits_clock.now += 121
    sweep_clock.now += 121
    assert window.hit(per_minute, "chat", "back")
    assert [key for key in storage.storage if "back" not in key] == []
    assert timers == []
