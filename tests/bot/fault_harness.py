"""Real processes under faults (issue 10): the pieces the fault tests share.

A fault test starts `warga serve` and `warga worker` processes on a PostgreSQL database of its own
and Redis, plays citizens writing on Telegram (signed webhooks to the real server, replies read
from the fake Bot API), breaks something in the middle, and then checks what a city needs after
any fault: every acknowledged update stored once and processed, every reply stored once and
delivered in order, nothing left pending.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.store.models import Message
from tests.conftest import trained_models_dir
from tests.fakes.fake_telegram import FakeTelegram
from tests.pg_databases import create_pg_database, release_pg_database
from tests.providers import SECRET, Fakes, provider_env
from tests.support import PROJECT, WARGA, free_port, wait_for

#: What each simulated citizen writes, in order, waiting for an answer after each.
MESSAGES = ("halo", "jam buka kantor kelurahan?", "jalan rusak di depan rumah saya", "di Jl. Pramuka Raya no 10",
            "ya", "syarat bikin ktp apa?", "terima kasih", "halo lagi")


@pytest.fixture
def pg_url(pg_reason: str | None) -> Iterator[str]:
    """A PostgreSQL database of the test's own (for real processes), dropped afterwards."""
    if pg_reason:
        pytest.fail(f"PostgreSQL is needed: {pg_reason}")
    name, url = create_pg_database()
    try:
        yield url
    finally:
        release_pg_database(name)


def process_env(fakes: Fakes, database_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of every process: fakes, the Redis backend, short sweeps and leases so
    recovery happens within a test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WARGA_", "TELEGRAM_", "TWILIO_"))}
    env.update(provider_env(fakes))
    env.update({
        "WARGA_DATABASE_URL": database_url, "WARGA_CHANNELS_ENABLED": "web,telegram",
        "WARGA_NLU_ENGINE": "sklearn", "WARGA_NLU_RASA_AUTOSTART": "false",
        "WARGA_NLU_MODELS_DIR": str(trained_models_dir()), "WARGA_STORAGE_MEDIA_DIR": str(tmp_path / "media"),
        "WARGA_QUEUE_BACKEND": "redis", "WARGA_QUEUE_REDIS_URL": redis_url,
        "WARGA_QUEUE_SWEEP_SECONDS": "0.3", "WARGA_QUEUE_STALL_SECONDS": "1",
        "WARGA_OUTBOX_LEASE_SECONDS": "1", "WARGA_OUTBOX_FIRST_RETRY_SECONDS": "0.1",
        "WARGA_OUTBOX_MAX_RETRY_SECONDS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    })
    (tmp_path / "metrics").mkdir(exist_ok=True)
    return env


def upgrade(env: dict[str, str]) -> None:
    done = subprocess.run([WARGA, "db", "upgrade"], cwd=PROJECT, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


class Processes:
    """`warga` processes in their own process groups, killed with SIGKILL at the end."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            proc = subprocess.Popen([WARGA, *args], cwd=PROJECT, env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def serve(self, workers: int = 1) -> subprocess.Popen[bytes]:
        proc = self.start("serve", "--port", str(self.port), "--workers", str(workers))
        wait_for(self.healthy, 90, "`warga serve` to answer /healthz")
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL to the whole process group (gunicorn's master and its workers), as a crash."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def update_id(chat: int, n: int) -> int:
    return chat * 100 + n


def post_update(url: str, chat: int, n: int, body_text: str) -> int:
    """One Telegram update to the webhook; the HTTP status (0: no answer at all)."""
    update = {"update_id": update_id(chat, n), "message": {
        "message_id": n, "date": 1764370000 + n, "text": body_text,
        "from": {"id": chat, "is_bot": False, "first_name": "W"},
        "chat": {"id": chat, "type": "private", "first_name": "W"}}}
    request = urllib.request.Request(url + "/webhooks/telegram", data=json.dumps(update).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "X-Telegram-Bot-Api-Secret-Token": SECRET})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def delivered(telegram: FakeTelegram, chat: int) -> list[str]:
    """Texts the fake Bot API accepted (answered 200) for one chat, in order."""
    return [c.params.get("text", "") for c in telegram.calls("sendMessage")
            if c.params.get("chat_id") == str(chat) and c.request.answered[:1] == [200]]


@dataclass
class Citizens:
    """Citizens on Telegram who each write MESSAGES in turn and wait for a reply before the next.

    An update the server did not acknowledge with 200 is sent again, as Telegram does, until it
    is; `acknowledged` records each (chat, n) once it was. `on_progress` is called with the
    number acknowledged so far, from the citizen threads (the test injects faults from it).
    """

    url: Callable[[], str]
    telegram: FakeTelegram
    chats: tuple[int, ...]
    reply_wait: float = 120.0
    acknowledged: list[tuple[int, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, on_progress: Callable[[int], None] = lambda n: None) -> None:
        threads = [threading.Thread(target=self._citizen, args=(chat, on_progress)) for chat in self.chats]
        for t in threads:
            t.start()
        for t in threads:
            t.join(self.reply_wait * len(MESSAGES))
        assert not any(t.is_alive() for t in threads), "a citizen never finished"
        assert self.errors == [], self.errors

    def _citizen(self, chat: int, on_progress: Callable[[int], None]) -> None:
        try:
            for n, words in enumerate(MESSAGES, start=1):
                wait_for(lambda n=n, words=words: post_update(self.url(), chat, n, words) == 200,  # type: ignore[misc]
                         self.reply_wait, f"the server to acknowledge update {n} of chat {chat}", interval=0.2)
                with self._lock:
                    self.acknowledged.append((chat, n))
                    count = len(self.acknowledged)
                on_progress(count)
                # A person waits for an answer before writing again.
                wait_for(lambda n=n: len(delivered(self.telegram, chat)) >= n, self.reply_wait,  # type: ignore[misc]
                         f"a reply to message {n} of chat {chat}")
        except Exception as exc:  # reported by run(), in the test's thread
            self.errors.append(f"chat {chat}: {exc}")


def describe(database_url: str) -> str:
    """What is still open, for a failure message: unprocessed messages and unsent replies."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as s:
            rows = list(s.scalars(select(Message).where(
                ((Message.direction == "in") & Message.processed_at.is_(None))
                | ((Message.direction == "out") & (Message.status != "sent"))).order_by(Message.id)))
            return "\n".join(f"{m.id} conv={m.conversation_id} {m.direction} {m.status} attempts={m.attempts} "
                             f"next={m.next_attempt_at} lease={m.lease_until} err={m.error_reason!r} "
                             f"text={m.text[:30]!r}" for m in rows) or "(nothing open)"
    except Exception as exc:  # a description must never hide the failure it describes
        return f"(state unreadable: {exc})"
    finally:
        engine.dispose()


def settled_rows(database_url: str, timeout: float = 120) -> list[Message]:
    """Every message once nothing is left to do: inbound processed, outbound sent or failed."""
    engine = create_engine(database_url)

    def settled() -> list[Message] | None:
        with Session(engine) as s:
            rows = list(s.scalars(select(Message).order_by(Message.id)))
        if any(m.direction == "in" and m.processed_at is None for m in rows):
            return None
        if any(m.direction == "out" and m.status in ("pending", "sending") for m in rows):
            return None
        return rows

    try:
        return wait_for(settled, timeout, "every message processed and every reply sent")
    finally:
        engine.dispose()


def check_nothing_lost_or_repeated(rows: list[Message], citizens: Citizens) -> None:
    """The guarantees after any fault.

    A reply may reach the provider more than once only in the documented at-least-once case: a
    send whose outcome Warga could not know (a timeout, a process killed mid-send) and that it
    therefore claimed again, which its ``attempts`` column records. How many such sends a run
    has depends on the machine's load (a starved fake can exceed the client's timeout), so the
    bound is what Warga recorded, not a fixed count.
    """
    inbound = [m for m in rows if m.direction == "in"]
    # Every acknowledged update stored exactly once ("update_id:chat:message_id"), processed
    # normally: a fault of the database or Redis is not the message's fault.
    stored = sorted((m.external_id or "").split(":")[0] for m in inbound)
    assert stored == sorted(str(update_id(c, n)) for c, n in citizens.acknowledged)
    assert all(m.status == "processed" for m in inbound), [(m.id, m.status, m.error_reason) for m in inbound]
    for chat in citizens.chats:
        mine = [m for m in inbound if m.urn == f"telegram:{chat}"]
        # Order kept: processed in the order they arrived.
        assert [m.id for m in sorted(mine, key=lambda m: m.processed_at or m.created_at)] == [m.id for m in mine]
        replies = [m for m in rows if m.direction == "out" and m.urn == f"telegram:{chat}"]
        # Every message answered; no reply stored twice; every reply delivered.
        assert {m.reply_to_id for m in replies} == {m.id for m in mine}
        pairs = [(m.reply_to_id, m.text) for m in replies]
        assert len(pairs) == len(set(pairs))
        assert all(m.status == "sent" for m in replies), [(m.id, m.status, m.error_reason) for m in replies]
        # Delivered in the stored order; a repeat only right after itself.
        texts = delivered(citizens.telegram, chat)
        collapsed = [t for k, t in enumerate(texts) if k == 0 or t != texts[k - 1]]
        stored_texts = [m.text for m in replies]
        assert collapsed == [t for k, t in enumerate(stored_texts) if k == 0 or t != stored_texts[k - 1]], (
            chat, texts, [(m.id, m.reply_to_id, m.text[:40], m.attempts, m.sent_at) for m in replies])
        repeats = len(texts) - len(replies)
        retried = sum(max(m.attempts - 1, 0) for m in replies)
        assert 0 <= repeats <= retried, (chat, repeats, retried, texts)


class Schedule:
    """Faults run one after another in their own thread, each once the load reached its mark."""

    def __init__(self, steps: list[tuple[int, str, Callable[[], None]]]) -> None:
        self.steps = steps
        self.count = 0
        self.done: list[str] = []
        self.failure: BaseException | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def progress(self, count: int) -> None:
        with self._cond:
            self.count = max(self.count, count)
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            for mark, name, fault in self.steps:
                with self._cond:
                    if not self._cond.wait_for(lambda mark=mark: self.count >= mark, timeout=600):  # type: ignore[misc]
                        raise AssertionError(f"the load never reached {mark} for {name}")
                fault()
                self.done.append(name)
        except BaseException as exc:  # reported by finish()
            self.failure = exc

    def finish(self) -> None:
        self._thread.join(120)
        if self.failure is not None:
            raise self.failure
        assert self.done == [name for _, name, _ in self.steps]
