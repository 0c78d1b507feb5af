"""Background work: handle conversations and drain their outbox; re-drive whatever stalled.

The database is the source of truth; a queue only wakes workers up. Three backends share one
protocol (:class:`JobQueue`) and one sweeper loop (:func:`sweep_forever`):

* ``thread``: worker threads inside the web process (one machine, the default).
* ``redis``: jobs on Redis through RQ, run by ``warga worker`` processes, so several web and
  worker processes on several machines share one PostgreSQL and one Redis.
* ``inline``: the job runs in the caller's thread at once (``warga chat``, which answers before
  it asks for the next line).
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.pipeline.media import MediaFetcher
from bot.pipeline.outbox import Outbox
from bot.pipeline.process import Arrival, ConversationProcessor
from bot.store.models import Message, unprocessed, utcnow

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    """Wakes a worker for a conversation; re-drives stalled ones."""

    def enqueue(self, conv_id: int) -> None:
        """Make sure a job for ``conv_id`` runs soon (a duplicate wake-up is harmless)."""

    def process_here(self, conv_id: int) -> None:
        """Make sure a job for ``conv_id`` runs, in the calling thread when the backend can
        (the conversation is free in this process), else as :meth:`enqueue` does."""

    def sweep(self, stall_seconds: float | None = None) -> int:
        """Enqueue every conversation with work left over; return how many."""

    def arrive(self, values: Mapping[str, Any]) -> Arrival | None:
        """Store and answer one message in the calling thread, in one transaction, when the
        backend can (:meth:`ConversationProcessor.process_arrival`); None: store it alone and
        call :meth:`process_here`."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class ConversationJob:
    """One unit of background work: process a conversation, then send what it produced.

    The outbox is drained whatever happened while processing: a message that failed (and is
    retried or dead-lettered) must never hold back replies already queued, staff replies
    included. The one exception: processing already recorded every open reply delivered on
    store (:attr:`Processed.outbox_done`), so there is nothing to drain.
    """

    def __init__(self, processor: ConversationProcessor, outbox: Outbox,
                 media: MediaFetcher | None = None) -> None:
        self.processor = processor
        self.outbox = outbox
        self.media = media

    def __call__(self, conv_id: int) -> None:
        processed = None
        try:
            processed = self.processor.process(conv_id)
        finally:
            # Skipped only when processing recorded every open reply delivered on store (the
            # web chat): a reply queued later by anyone else comes with its own wake-up.
            if processed is None or not processed.outbox_done:
                self.outbox.drain(conv_id, processed.claimed if processed is not None else None)
        if self.media is not None:
            # After the replies: a citizen waits for an answer, not for our download.
            self.media.fetch(conv_id)


def stalled_conversations(sessions: sessionmaker[Session], stall_seconds: float,
                          limit: int = 500) -> list[int]:
    """Conversations with inbound messages left unprocessed or replies due for sending."""
    now = utcnow()
    with sessions() as session:
        waiting = session.scalars(select(Message.conversation_id).where(
            unprocessed(Message),
            Message.conversation_id.is_not(None),
            Message.created_at <= now - timedelta(seconds=stall_seconds)).distinct().limit(limit)).all()
        due = session.scalars(select(Message.conversation_id).where(
            Message.direction == "out", Message.status.in_(("pending", "sending")),
            Message.next_attempt_at <= now).distinct().limit(limit)).all()
    return sorted({c for c in [*waiting, *due] if c is not None})


class _Sweeping:
    """``sweep`` for every backend: re-drive stalled conversations through ``enqueue``."""

    sessions: sessionmaker[Session]
    stall_seconds: float
    # Timed work on conversations nobody writes in (unanswered handovers): returns the
    # conversations it queued messages for. Set by build_runtime.
    tidy: Callable[[], Sequence[int]] | None = None

    def enqueue(self, conv_id: int) -> None:
        raise NotImplementedError

    def process_here(self, conv_id: int) -> None:
        """Backends whose jobs run elsewhere (Redis: ``warga worker``) or always here (inline)."""
        self.enqueue(conv_id)

    def arrive(self, values: Mapping[str, Any]) -> Arrival | None:
        return None

    def redrive(self, conv_id: int) -> None:
        """Queue a job for a conversation the sweeper found stalled."""
        self.enqueue(conv_id)

    def sweep(self, stall_seconds: float | None = None) -> int:
        tidied = list(self.tidy()) if self.tidy is not None else []
        convs = stalled_conversations(self.sessions, self.stall_seconds if stall_seconds is None else stall_seconds)
        for conv_id in tidied:
            self.enqueue(conv_id)
        for conv_id in convs:
            self.redrive(conv_id)
        return len(set(tidied) | set(convs))


def sweep_forever(q: JobQueue, stop: threading.Event, every_seconds: float) -> None:
    """The sweeper loop, the safety net of every backend (run in a thread).

    At start-up everything left over is re-driven at once (a crash lost nothing); afterwards
    only what stalled longer than the queue's ``stall_seconds``.
    """
    stall: float | None = 0.0
    while not stop.is_set():
        try:
            q.sweep(stall)
        except Exception:  # the edge of the sweeper thread: the database may be briefly away
            log.exception("sweep failed")
        stall = None
        stop.wait(every_seconds)


def start_sweeper(q: JobQueue, every_seconds: float) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=sweep_forever, args=(q, stop, every_seconds),
                              name="warga-sweeper", daemon=True)
    thread.start()
    return thread, stop


class ThreadQueue(_Sweeping):
    """In-process workers. A conversation is never handled by two threads at once (a web chat
    arrival included: :meth:`arrive`)."""

    def __init__(self, job: Callable[[int], None], sessions: sessionmaker[Session], *,
                 threads: int, sweep_seconds: float, stall_seconds: float,
                 arrivals: Callable[[Mapping[str, Any], Callable[[int], bool]], Arrival | None] | None = None,
                 ) -> None:
        self.job = job
        # ConversationProcessor.process_arrival: a web chat message stored and answered in one
        # transaction, when this queue lets it take the conversation.
        self.arrivals = arrivals
        self.sessions = sessions
        self.threads = threads
        self.sweep_seconds = sweep_seconds
        self.stall_seconds = stall_seconds
        self._q: queue.Queue[int | None] = queue.Queue()
        self._pending: set[int] = set()
        self._running: set[int] = set()
        self._again: set[int] = set()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._sweeper: tuple[threading.Thread, threading.Event] | None = None

    def enqueue(self, conv_id: int) -> None:
        with self._lock:
            if conv_id in self._running:
                self._again.add(conv_id)   # run once more after the current run finishes
                return
            if conv_id in self._pending:
                return
            self._pending.add(conv_id)
        self._q.put(conv_id)

    def process_here(self, conv_id: int) -> None:
        """Run the conversation's job in the calling thread (the web chat's request, which
        waits for the replies anyway: no hand-over to a worker, no wake-up), unless a worker
        runs it or has it waiting: then it is enqueued, and that worker's job (or the run it
        owes afterwards) handles the new message, in order. A queue not started (an app built
        with ``start_workers=False``) processes nothing here either: it only enqueues."""
        with self._lock:
            free = bool(self._workers) and conv_id not in self._running and conv_id not in self._pending
            if free:
                self._running.add(conv_id)
        if free:
            self._run(conv_id)
        else:
            self.enqueue(conv_id)

    def arrive(self, values: Mapping[str, Any]) -> Arrival | None:
        """As :meth:`process_here`: a queue not started processes nothing here, and the
        conversation is taken as running once the arrival knows it; when a worker of this
        process has it running or waiting, the arrival is rolled back and the message goes
        the usual way (enqueued behind that job)."""
        if not self._workers or self.arrivals is None:
            return None
        taken: list[int] = []

        def take(conv_id: int) -> bool:
            with self._lock:
                if conv_id in self._running or conv_id in self._pending:
                    return False
                self._running.add(conv_id)
            taken.append(conv_id)
            return True

        try:
            return self.arrivals(values, take)
        finally:
            for conv_id in taken:
                self._release(conv_id)

    def _work(self) -> None:
        while True:
            conv_id = self._q.get()
            if conv_id is None:
                return
            with self._lock:
                self._pending.discard(conv_id)
                self._running.add(conv_id)
            self._run(conv_id)

    def _run(self, conv_id: int) -> None:
        """Run a job this thread marked running; enqueue it again if it was woken meanwhile."""
        try:
            self.job(conv_id)
        except Exception:  # the edge of a job: log it, the sweeper will try again
            log.exception("conversation job failed", extra={"conversation_id": conv_id})
        finally:
            self._release(conv_id)

    def _release(self, conv_id: int) -> None:
        """The conversation's run in this thread is over; run it again if woken meanwhile."""
        with self._lock:
            self._running.discard(conv_id)
            again = conv_id in self._again
            self._again.discard(conv_id)
        if again:
            self.enqueue(conv_id)

    def start(self) -> None:
        if self._workers:
            return
        for i in range(self.threads):
            t = threading.Thread(target=self._work, name=f"warga-worker-{i}", daemon=True)
            t.start()
            self._workers.append(t)
        self._sweeper = start_sweeper(self, self.sweep_seconds)

    def stop(self) -> None:
        if self._sweeper is not None:
            thread, stop = self._sweeper
            stop.set()
            thread.join(timeout=10)
            self._sweeper = None
        for _ in range(self.threads):
            self._q.put(None)
        for t in self._workers:
            t.join(timeout=10)
        self._workers.clear()


class InlineQueue(_Sweeping):
    """Runs the job at once in the caller's thread (``warga chat``)."""

    def __init__(self, job: Callable[[int], None], sessions: sessionmaker[Session],
                 stall_seconds: float) -> None:
        self.job = job
        self.sessions = sessions
        self.stall_seconds = stall_seconds

    def enqueue(self, conv_id: int) -> None:
        self.job(conv_id)

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


ENQUEUE_TIMEOUT_SECONDS = 2.0


# Compare-and-delete: remove a marker only while it names the given job.
_DELETE_IF_EQUAL = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisQueue(_Sweeping):
    """Jobs on Redis (RQ), run by ``warga worker`` processes, which also run the sweeper.

    At most one job per conversation waits in the queue: a marker key holding the job's id is
    set when a job is queued and cleared when a worker starts it, so a burst of messages queues
    one job that handles them all (the job reads every unprocessed message), and a message
    arriving while a job runs queues exactly one more.

    The marker and its job are written in one transaction. A marker can still outlive its job
    (a worker took the job and died before starting it, or Redis lost the queue), so the sweeper
    trusts a marker only while its job is still waiting in the queue, and otherwise replaces both
    (`redrive`). The marker also expires, as a last resort.
    """

    MARKER_TTL_SECONDS = 600

    def __init__(self, redis_url: str, sessions: sessionmaker[Session], stall_seconds: float) -> None:
        from redis import Redis
        from rq import Queue

        # The worker's connection blocks on the queue (no socket timeout); the one that queues
        # jobs runs before a webhook is acknowledged, so a Redis that hangs instead of refusing
        # must cost a bounded wait, not the provider's timeout.
        self.redis = Redis.from_url(redis_url)
        self.q = Queue("warga", connection=self.redis)
        self._quick = Redis.from_url(redis_url, socket_connect_timeout=ENQUEUE_TIMEOUT_SECONDS,
                                     socket_timeout=ENQUEUE_TIMEOUT_SECONDS)
        self._quick_q = Queue("warga", connection=self._quick)
        self.sessions = sessions
        self.stall_seconds = stall_seconds

    @staticmethod
    def marker(conv_id: int) -> str:
        return f"warga:queued:{conv_id}"

    def enqueue(self, conv_id: int) -> None:
        """Queue a job unless one is already waiting. Never raises for a Redis outage: the
        message is stored, and the sweeper re-drives it once Redis is back."""
        from redis.exceptions import RedisError

        try:
            self._replace_marker(conv_id, None)
        except RedisError as exc:
            log.warning("job not queued (Redis unavailable); the sweeper will re-drive it",
                        extra={"conversation_id": conv_id, "reason": str(exc)})

    def redrive(self, conv_id: int) -> None:
        """Queue a job for a stalled conversation unless its marked job is still waiting."""
        from redis.exceptions import RedisError
        from rq.exceptions import NoSuchJobError
        from rq.job import Job, JobStatus

        try:
            marked = self._quick.get(self.marker(conv_id))
            if marked is not None:
                marked_id = marked.decode() if isinstance(marked, bytes) else str(marked)
                try:
                    # Queued and still in the list: a worker that took the job and died before
                    # starting it leaves it "queued" but gone from the list.
                    if (Job.fetch(marked_id, connection=self._quick).get_status() == JobStatus.QUEUED
                            and self._quick.lpos(self._quick_q.key, marked_id) is not None):
                        return        # the promised job is still in line: nothing is lost
                except NoSuchJobError:
                    pass
            self._replace_marker(conv_id, marked)
        except RedisError as exc:
            log.warning("stalled conversation not re-driven (Redis unavailable)",
                        extra={"conversation_id": conv_id, "reason": str(exc)})

    def _replace_marker(self, conv_id: int, expected: bytes | str | None) -> bool:
        """If the marker still holds ``expected`` (None: no marker), set it to a new job's id
        and queue that job, in one transaction: nobody ever sees a marker without its job, so
        two processes can never both decide a job is missing and queue one each."""
        from redis.exceptions import WatchError

        key = self.marker(conv_id)
        job_id = f"warga-conv-{conv_id}-{uuid.uuid4().hex[:16]}"
        with self._quick.pipeline() as pipe:
            try:
                pipe.watch(key)
                if pipe.get(key) != expected:
                    return False      # a job is waiting, or another process just queued one
                pipe.multi()
                pipe.set(key, job_id, ex=self.MARKER_TTL_SECONDS)
                self._quick_q.enqueue_call(run_conversation, args=(conv_id,), job_id=job_id, timeout=300,
                                           result_ttl=0, failure_ttl=86400, pipeline=pipe)
                pipe.execute()
            except WatchError:
                return False
        return True

    def begin(self, conv_id: int, job_id: str | None) -> None:
        """A worker starts the conversation's job: later messages need a new one. Only this
        job's own marker is removed: one the sweeper put there for a replacement job stays, or
        the next message would queue a second job beside it."""
        if job_id is None:
            self.redis.delete(self.marker(conv_id))
        else:
            self._forget(self.redis, conv_id, job_id)

    def _forget(self, client: Any, conv_id: int, job_id: str) -> None:
        """Remove the marker if it still names ``job_id`` (atomically, on the server)."""
        client.eval(_DELETE_IF_EQUAL, 1, self.marker(conv_id), job_id)

    def start(self) -> None:
        return None

    def stop(self) -> None:
        self.redis.close()
        self._quick.close()


# -- RQ entry points (``warga worker`` with ``queue.backend: redis``) ---------------------
_worker_runtime: Runtime | None = None


def worker_runtime() -> Runtime:
    """The worker process's runtime, built lazily (after any fork), once."""
    global _worker_runtime
    if _worker_runtime is None:
        from bot.runtime import build_runtime
        from bot.settings import load_settings

        _worker_runtime = build_runtime(load_settings())
    return _worker_runtime


def run_conversation(conv_id: int) -> None:
    """What an RQ job runs (importable by name)."""
    from rq import get_current_job

    rt = worker_runtime()
    if isinstance(rt.queue, RedisQueue):
        job = get_current_job()
        rt.queue.begin(conv_id, job.id if job is not None else None)
    rt.job(conv_id)
