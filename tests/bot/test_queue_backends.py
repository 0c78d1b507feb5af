"""The queue backends: at most one Redis job per conversation, wake-ups across processes, one
sweeper loop for every backend."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue

from bot.pipeline.queue import InlineQueue, RedisQueue, ThreadQueue, sweep_forever
from bot.pipeline.wakeup import ANSWERS_KEPT, LocalWakeups, RedisWakeups, StoredReply
from bot.store.engine import make_engine, make_session_factory

# Database 14: test_restart.py uses 15 for its worker processes.
REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def redis_db() -> Iterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def sessions(tmp_path: Path) -> Any:
    from tests.conftest import migrate

    url = f"sqlite:///{tmp_path / 'q.db'}"
    migrate(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def test_a_burst_of_messages_queues_one_redis_job_per_conversation(redis_db, sessions):
    q = RedisQueue(REDIS_URL, sessions, stall_seconds=30)
    try:
        for _ in range(50):
            q.enqueue(7)
            q.enqueue(8)
        assert Queue("warga", connection=redis_db).count == 2
        # A worker starts conversation 7's job: a message arriving now needs (and gets) one more.
        started = redis_db.get(RedisQueue.marker(7)).decode()
        q.begin(7, started)
        q.enqueue(7)
        q.enqueue(7)
        assert Queue("warga", connection=redis_db).count == 3
        # A job starting late never removes the marker of the job queued after it.
        q.begin(7, started)
        q.enqueue(7)
        assert Queue("warga", connection=redis_db).count == 3
    finally:
        q.stop()


def test_the_sweeper_trusts_a_marker_only_while_its_job_waits(redis_db, sessions):
    q = RedisQueue(REDIS_URL, sessions, stall_seconds=30)
    try:
        q.enqueue(7)
        # Its job is in line: re-driving the stalled conversation adds nothing.
        q.redrive(7)
        q.redrive(7)
        assert Queue("warga", connection=redis_db).count == 1
        # Redis lost the job but kept the marker (the marker was set, then the line dropped):
        # web processes still see "queued", the sweeper sees no job behind it and queues one.
        Queue("warga", connection=redis_db).empty()
        q.enqueue(7)
        assert Queue("warga", connection=redis_db).count == 0
        q.redrive(7)
        assert Queue("warga", connection=redis_db).count == 1
        q.redrive(7)
        assert Queue("warga", connection=redis_db).count == 1
        # A worker took the job from the list and died before starting it: still "queued" in
        # its own record, but gone from the line, so the sweeper queues another.
        redis_db.lpop("rq:queue:warga")
        q.redrive(7)
        assert Queue("warga", connection=redis_db).count == 1
        # A marker naming a job that never existed is stale too.
        redis_db.set(RedisQueue.marker(8), "warga-conv-8-lost")
        q.redrive(8)
        assert Queue("warga", connection=redis_db).count == 2
    finally:
        q.stop()


def test_redis_unavailable_when_waking_a_worker_is_not_an_error(sessions):
    # Nothing listens on port 1: the message is stored already and the sweeper re-drives it.
    q = RedisQueue("redis://127.0.0.1:1/0", sessions, stall_seconds=30)
    q.enqueue(7)
    q.redrive(7)


def test_a_wakeup_reaches_a_waiter_in_another_process_over_redis(redis_db):
    web, worker = RedisWakeups(REDIS_URL), RedisWakeups(REDIS_URL)   # as in two processes
    try:
        with web.watch(41) as watch41, web.watch(42) as watch42:
            worker.processed([42])
            assert watch42.wait(10)
            assert not watch41.wait(0)
    finally:
        web.close()
        worker.close()


def test_a_local_wakeup_wakes_only_the_waiters_of_that_message():
    wakeups = LocalWakeups()
    with wakeups.watch(1) as one, wakeups.watch(2) as two:
        threading.Thread(target=wakeups.processed, args=([1],)).start()
        assert one.wait(10)
        assert not two.wait(0)
    with wakeups.watch(1) as again:   # a finished wait leaves nothing behind
        assert not again.wait(0)


def test_replies_left_with_a_wakeup_are_taken_once_and_only_the_latest_are_kept():
    wakeups = LocalWakeups()
    at = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    reply = StoredReply(7, "Halo", [{"title": "Menu", "payload": "menu"}], at)
    wakeups.processed([1], {1: (reply,)})
    assert wakeups.answered(2) is None
    assert wakeups.answered(1) == (reply,)
    assert wakeups.answered(1) is None          # taken: a second reader asks the database
    for mid in range(10, 10 + ANSWERS_KEPT + 1):  # nobody took them (a request that gave up)
        wakeups.processed([mid], {mid: ()})
    assert wakeups.answered(10) is None and wakeups.answered(10 + ANSWERS_KEPT) == ()


def test_a_redis_backend_worker_keeps_no_replies_for_the_web_chat(redis_db):
    """On the redis backend jobs run in `warga worker` and the web chat's requests wait in the
    web processes: replies left with a worker's wake-up would never be taken (each worker
    process would hold its last ANSWERS_KEPT citizens' replies for nothing). The web process
    reads them from the database."""
    web, worker = RedisWakeups(REDIS_URL), RedisWakeups(REDIS_URL)   # as in two processes
    reply = StoredReply(7, "Halo", [], datetime(2026, 11, 29, 12, 0, tzinfo=UTC))
    try:
        with web.watch(43) as watch:
            worker.processed([43], {43: (reply,)})
            assert watch.wait(10)
        assert web.answered(43) is None and worker.answered(43) is None
    finally:
        web.close()
        worker.close()


class CountingQueue(InlineQueue):
    def __init__(self, sessions: Any, stop: threading.Event) -> None:
        super().__init__(lambda conv_id: None, sessions, stall_seconds=30)
        self.stop_after_first = stop
        self.sweeps: list[float | None] = []

    def sweep(self, stall_seconds: float | None = None) -> int:
        self.sweeps.append(stall_seconds)
        if len(self.sweeps) == 2:
            self.stop_after_first.set()
        return 0


def test_the_sweeper_redrives_everything_at_start_then_only_what_stalled(sessions):
    stop = threading.Event()
    q = CountingQueue(sessions, stop)
    sweep_forever(q, stop, every_seconds=0)
    assert q.sweeps == [0.0, None]


def test_every_backend_has_the_sweep_of_the_queue_protocol(sessions):
    for q in (InlineQueue(lambda c: None, sessions, 30),
              ThreadQueue(lambda c: None, sessions, threads=1, sweep_seconds=1, stall_seconds=30)):
        assert q.sweep(0) == 0


class GatedJob:
    """A job that records which thread ran it and can be held until released."""

    def __init__(self, hold: bool = False) -> None:
        self.runs: list[tuple[int, str]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, conv_id: int) -> None:
        self.runs.append((conv_id, threading.current_thread().name))
        self.started.set()
        assert self.release.wait(30)


def test_a_free_conversation_is_processed_in_the_calling_thread(sessions):
    job = GatedJob()
    q = ThreadQueue(job, sessions, threads=1, sweep_seconds=60, stall_seconds=30)
    q.start()
    try:
        q.process_here(7)
    finally:
        q.stop()
    assert job.runs == [(7, threading.current_thread().name)]


def test_a_queue_that_was_not_started_processes_nothing_in_the_calling_thread(sessions):
    job = GatedJob()
    q = ThreadQueue(job, sessions, threads=1, sweep_seconds=60, stall_seconds=30)
    q.process_here(7)            # an app built without workers: the message waits, as with enqueue
    assert job.runs == []


def test_a_conversation_waiting_for_a_worker_is_left_to_that_worker(sessions):
    job = GatedJob(hold=True)
    q = ThreadQueue(job, sessions, threads=1, sweep_seconds=60, stall_seconds=30)
    q.start()
    try:
        q.enqueue(1)             # the only worker is busy with another conversation...
        assert job.started.wait(10)
        q.enqueue(7)             # ...so this one waits in the queue
        q.process_here(7)        # the waiting job reads every unprocessed message: nothing to add
        assert [conv for conv, _ in job.runs] == [1]
        job.started.clear()
        job.release.set()
        while len(job.runs) < 2:
            assert job.started.wait(10)
            job.started.clear()
    finally:
        q.stop()
    assert [conv for conv, _ in job.runs] == [1, 7]
    assert all(thread.startswith("warga-worker") for _, thread in job.runs)


def test_a_conversation_a_worker_is_processing_runs_once_more_in_the_worker_afterwards(sessions):
    job = GatedJob(hold=True)
    q = ThreadQueue(job, sessions, threads=1, sweep_seconds=60, stall_seconds=30)
    q.start()
    try:
        q.enqueue(7)
        assert job.started.wait(10)          # the worker is inside the conversation's job
        q.process_here(7)                    # returns at once: never two runs of one conversation
        assert len(job.runs) == 1
        job.started.clear()
        job.release.set()
        assert job.started.wait(10)          # the run it owes for the new message
    finally:
        q.stop()
    assert [conv for conv, _ in job.runs] == [7, 7]
    assert all(thread.startswith("warga-worker") for _, thread in job.runs)
