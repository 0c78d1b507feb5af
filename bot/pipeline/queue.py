"""Background work: handle conversations and drain their outbox; re-drive whatever stalled.

The database is the source of truth; the queue only wakes workers up. Two backends:

* ``thread``: worker threads inside the web process (one machine, the default).
* ``redis``: jobs on Redis through RQ, run by ``warga worker`` processes, so several web and
  worker processes on several machines share one PostgreSQL and one Redis.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import timedelta
from typing import Callable, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.pipeline.media import MediaFetcher
from bot.store.models import Message, utcnow
from bot.pipeline.outbox import Outbox
from bot.pipeline.process import ConversationProcessor

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    def enqueue(self, conv_id: int) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class ConversationJob:
    """One unit of background work: process a conversation, then send what it produced."""

    def __init__(self, processor: ConversationProcessor, outbox: Outbox,
                 media: "MediaFetcher | None" = None) -> None:
        self.processor = processor
        self.outbox = outbox
        self.media = media

    def __call__(self, conv_id: int) -> None:
        self.processor.process(conv_id)
        self.outbox.drain(conv_id)
        if self.media is not None:
            # After the replies: a citizen waits for an answer, not for our download.
            self.media.fetch(conv_id)


def stalled_conversations(sessions: sessionmaker[Session], stall_seconds: float,
                          limit: int = 500) -> list[int]:
    """Conversations with inbound messages left unprocessed or replies due for sending."""
    now = utcnow()
    with sessions() as session:
        unprocessed = session.scalars(select(Message.conversation_id).where(
            Message.direction == "in", Message.processed_at.is_(None),
            Message.conversation_id.is_not(None),
            Message.created_at <= now - timedelta(seconds=stall_seconds)).distinct().limit(limit)).all()
        due = session.scalars(select(Message.conversation_id).where(
            Message.direction == "out", Message.status.in_(("pending", "sending")),
            Message.next_attempt_at <= now).distinct().limit(limit)).all()
    return sorted({c for c in [*unprocessed, *due] if c is not None})


class _Sweeping:
    """Re-drive stalled conversations through ``enqueue`` (both backends)."""

    sessions: sessionmaker[Session]
    stall_seconds: float

    def enqueue(self, conv_id: int) -> None:
        raise NotImplementedError

    def sweep(self, stall_seconds: float | None = None) -> int:
        convs = stalled_conversations(self.sessions, self.stall_seconds if stall_seconds is None else stall_seconds)
        for conv_id in convs:
            self.enqueue(conv_id)
        return len(convs)


class ThreadQueue(_Sweeping):
    """In-process workers. A conversation is never handled by two threads at once."""

    def __init__(self, job: Callable[[int], None], sessions: sessionmaker[Session], *,
                 threads: int, sweep_seconds: float, stall_seconds: float) -> None:
        self.job = job
        self.sessions = sessions
        self.threads = threads
        self.sweep_seconds = sweep_seconds
        self.stall_seconds = stall_seconds
        self._q: queue.Queue[int | None] = queue.Queue()
        self._pending: set[int] = set()
        self._running: set[int] = set()
        self._again: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def enqueue(self, conv_id: int) -> None:
        with self._lock:
            if conv_id in self._running:
                self._again.add(conv_id)   # run once more after the current run finishes
                return
            if conv_id in self._pending:
                return
            self._pending.add(conv_id)
        self._q.put(conv_id)

    def _work(self) -> None:
        while True:
            conv_id = self._q.get()
            if conv_id is None:
                return
            with self._lock:
                self._pending.discard(conv_id)
                self._running.add(conv_id)
            try:
                self.job(conv_id)
            except Exception:  # the edge of a job: log it, the sweeper will try again
                log.exception("conversation job failed", extra={"conversation_id": conv_id})
            finally:
                with self._lock:
                    self._running.discard(conv_id)
                    again = conv_id in self._again
                    self._again.discard(conv_id)
                if again:
                    self.enqueue(conv_id)


    def _sweeper(self) -> None:
        # At start-up everything left over is re-driven at once (a crash lost nothing).
        stall: float | None = 0.0
        while not self._stop.is_set():
            try:
                self.sweep(stall)
            except Exception:  # the database may be briefly away; try again next round
                log.exception("sweep failed")
            stall = None
            self._stop.wait(self.sweep_seconds)

    def start(self) -> None:
        if self._workers:
            return
        for i in range(self.threads):
            t = threading.Thread(target=self._work, name=f"warga-worker-{i}", daemon=True)
            t.start()
            self._workers.append(t)
        sweeper = threading.Thread(target=self._sweeper, name="warga-sweeper", daemon=True)
        sweeper.start()
        self._workers.append(sweeper)

    def stop(self) -> None:
        self._stop.set()
        for _ in range(self.threads):
            self._q.put(None)
        for t in self._workers:
            t.join(timeout=10)
        self._workers.clear()


class RedisQueue(_Sweeping):
    """Jobs on Redis (RQ). ``warga worker`` runs them and the sweeper."""

    def __init__(self, redis_url: str, sessions: sessionmaker[Session], stall_seconds: float) -> None:
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(redis_url)
        self.q = Queue("warga", connection=self.redis)
        self.sessions = sessions
        self.stall_seconds = stall_seconds

    def enqueue(self, conv_id: int) -> None:
        # RQ can't dedupe jobs; the database claims (row locks, leases) make duplicates harmless.
        self.q.enqueue("bot.pipeline.queue.run_conversation", conv_id, job_timeout=300,
                       result_ttl=0, failure_ttl=86400)


    def start(self) -> None:
        return None

    def stop(self) -> None:
        self.redis.close()


# -- RQ entry points (``warga worker`` with ``queue.backend: redis``) ---------------------
_worker_runtime: "Runtime | None" = None


def worker_runtime() -> "Runtime":
    """The worker process's runtime, built lazily (after any fork), once."""
    global _worker_runtime
    if _worker_runtime is None:
        from bot.runtime import build_runtime
        from bot.settings import load_settings

        _worker_runtime = build_runtime(load_settings())
    return _worker_runtime


def run_conversation(conv_id: int) -> None:
    worker_runtime().job(conv_id)
