"""Prometheus metrics: what the message path counts as it runs, and what the database says now.

Two kinds, on purpose:

* **Events** (counters and latency histograms), counted where they happen: messages in and out
  per channel, processing and NLU latency, NLU answers per engine and "not understood".
  With several processes (gunicorn workers, `warga worker`) each process counts its own;
  prometheus_client's multiprocess mode adds them up when ``PROMETHEUS_MULTIPROC_DIR`` is set
  (`warga serve` and `warga worker` set it to ``<var>/metrics`` before anything is imported:
  see :func:`use_shared_dir`).
* **State** (gauges), read from the database at scrape time, because the database is the
  source of truth and every process would otherwise report its own partial view: messages
  waiting to be processed and the oldest one's age, replies waiting in the outbox and the
  oldest one's age, replies that failed, and the Redis queue's length.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from bot.store.models import Message, utcnow

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram
    from prometheus_client.core import Metric

    from bot.runtime import Runtime
    from nlu.base import Parse

# Latency buckets from 5 ms to 10 s: a message alone takes tens of ms; a backlog, seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Events:
    """The event metrics, created on first use.

    prometheus_client decides how a process stores its values (in memory, or in files shared
    by processes) when it is imported and when a metric is created; the CLI imports this module
    long before `warga serve` knows its var/ folder, so nothing is created at import time.
    """

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.messages_in: Counter = Counter(
            "warga_messages_in", "Citizen messages stored (a provider's retry is not counted).", ["channel"])
        self.messages_out: Counter = Counter(
            "warga_messages_out", "Replies leaving the outbox: result is sent, failed (for good) or retry.",
            ["channel", "result"])
        self.processing: Histogram = Histogram(
            "warga_processing_seconds", "Handling one inbound message: lock, NLU, dialogue, outbox, commit.",
            buckets=BUCKETS)
        self.nlu: Histogram = Histogram("warga_nlu_seconds", "One NLU parse.", buckets=BUCKETS)
        self.nlu_parses: Counter = Counter(
            "warga_nlu_parses", "NLU answers by the engine that gave them (sklearn answering while the "
            "configured engine is rasa: Rasa was unavailable).", ["engine"])
        self.nlu_not_understood: Counter = Counter(
            "warga_nlu_not_understood", "Messages whose intent was below the confidence threshold.")
        self.nlu_unavailable: Counter = Counter(
            "warga_nlu_unavailable", "Messages handled without any NLU (the engine raised).")


_events: _Events | None = None
_events_lock = threading.Lock()


def events() -> _Events:
    global _events
    if _events is None:
        with _events_lock:
            if _events is None:
                _events = _Events()
    return _events


def message_in(channel: str, n: int = 1) -> None:
    if n:
        events().messages_in.labels(channel).inc(n)


def message_out(channel: str, result: str) -> None:
    events().messages_out.labels(channel, result).inc()


def processed(seconds: float) -> None:
    events().processing.observe(seconds)


def nlu_parsed(seconds: float, parse: Parse | None) -> None:
    """One parse: its latency, the engine that answered; ``None``: no NLU (the engine raised)."""
    e = events()
    if parse is None:
        e.nlu_unavailable.inc()
        return
    e.nlu.observe(seconds)
    e.nlu_parses.labels(parse.engine).inc()
    if parse.intent is None:
        e.nlu_not_understood.inc()


def use_shared_dir(var_dir: Path) -> None:
    """Let every process of this installation add up its counters in ``<var_dir>/metrics``.

    Call before prometheus_client counts anything in this process (it chooses its storage
    when a metric is created); an operator's own ``PROMETHEUS_MULTIPROC_DIR`` wins. Files
    of processes that no longer run are removed, so a restart does not count twice.
    """
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        return
    directory = var_dir / "metrics"
    directory.mkdir(parents=True, exist_ok=True)
    for f in directory.glob("*.db"):
        pid = f.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            f.unlink(missing_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


class StateCollector:
    """Gauges read from the database (and Redis) when Prometheus scrapes."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        now = utcnow()
        with self.rt.sessions() as session:
            waiting, oldest_in = session.execute(select(func.count(), func.min(Message.created_at)).where(
                Message.direction == "in", Message.processed_at.is_(None))).one()
            pending, oldest_out = session.execute(select(func.count(), func.min(Message.created_at)).where(
                Message.direction == "out", Message.status.in_(("pending", "sending")))).one()
            failed = session.execute(select(Message.channel, func.count()).where(
                Message.direction == "out", Message.status == "failed").group_by(Message.channel)).all()
        yield GaugeMetricFamily("warga_unprocessed_messages", "Inbound messages not processed yet.", waiting)
        yield GaugeMetricFamily("warga_oldest_unprocessed_seconds",
                                "Age of the oldest inbound message not processed yet (0: none).", _age(now, oldest_in))
        yield GaugeMetricFamily("warga_outbox_pending", "Replies waiting to be sent (pending or sending).", pending)
        yield GaugeMetricFamily("warga_outbox_oldest_seconds",
                                "Age of the oldest reply waiting to be sent (0: none).", _age(now, oldest_out))
        g = GaugeMetricFamily("warga_outbox_failed", "Replies that failed for good, by channel.", labels=["channel"])
        for channel, n in failed:
            g.add_metric([channel], n)
        yield g
        depth = self._redis_depth()
        if depth is not None:
            yield GaugeMetricFamily("warga_queue_jobs", "Jobs waiting in the Redis queue (at most one per "
                                    "conversation).", depth)

    def _redis_depth(self) -> int | None:
        from bot.pipeline.queue import RedisQueue

        if not isinstance(self.rt.queue, RedisQueue):
            return None
        from redis.exceptions import RedisError

        try:
            return int(self.rt.queue.q.count)
        except RedisError:
            return None


def _age(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:      # SQLite returns naive UTC
        then = then.replace(tzinfo=now.tzinfo)
    return max((now - then).total_seconds(), 0.0)


def counted_text() -> bytes:
    """The event metrics of every process sharing ``PROMETHEUS_MULTIPROC_DIR`` (else of this one)."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    events()       # every series is present from the first scrape on (at zero)
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return generate_latest(registry)


def exposition(rt: Runtime) -> tuple[bytes, str]:
    """The text Prometheus scrapes, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    state = CollectorRegistry()
    state.register(StateCollector(rt))
    return counted_text() + generate_latest(state), CONTENT_TYPE_LATEST
