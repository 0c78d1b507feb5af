"""Everything a running Warga process needs, built once from the settings."""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.casework.handovers import sweep_unanswered
from bot.pipeline.media import MediaFetcher
from bot.pipeline.outbox import Outbox
from bot.pipeline.process import ConversationProcessor
from bot.pipeline.queue import ConversationJob, InlineQueue, JobQueue, RedisQueue, ThreadQueue
from bot.pipeline.receive import Receiver
from bot.pipeline.wakeup import LocalWakeups, RedisWakeups, Wakeups
from bot.runtime.channels import build_channels
from bot.runtime.nlu import build_nlu
from bot.settings import Settings
from bot.store.engine import make_engine, make_session_factory
from bot.training.live import LiveNlu
from channels.base import Channel, Closeable
from nlu.base import NluEngine

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    nlu: NluEngine
    channels: Mapping[str, Channel]
    processor: ConversationProcessor
    outbox: Outbox
    queue: JobQueue
    job: ConversationJob
    receiver: Receiver
    wakeups: Wakeups
    started: bool = field(default=False)

    def start(self) -> None:
        if not self.started:
            self.queue.start()
            self.started = True

    def close(self) -> None:
        if self.started:
            self.queue.stop()
            self.started = False
        self.wakeups.close()
        if isinstance(self.nlu, LiveNlu):
            self.nlu.close()
        for ch in self.channels.values():
            if isinstance(ch, Closeable):
                ch.close()
        self.engine.dispose()


def build_runtime(settings: Settings, *, nlu: NluEngine | None = None,
                  channels: Mapping[str, Channel] | None = None, inline: bool = False) -> Runtime:
    """Build a process's runtime (nothing starts until :meth:`Runtime.start`).

    Args:
        nlu: An engine to use instead of the configured one (tests).
        channels: Connectors to use instead of the enabled ones (tests, ``warga chat``).
        inline: Run each conversation's job in the receiving thread (``warga chat``).
    """
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    # Follows the active registry version (bot/training/live.py): switches without a restart.
    nlu = nlu if nlu is not None else LiveNlu(build_nlu(settings), sessions, settings)
    channels = channels if channels is not None else build_channels(settings)
    outbox = Outbox(settings.outbox, sessions, channels)
    redis = settings.queue.backend == "redis" and not inline
    wakeups: Wakeups = RedisWakeups(settings.queue.redis_url) if redis else LocalWakeups()
    processor = ConversationProcessor(settings, sessions, nlu, wakeups=wakeups, channels=channels,
                                      max_attempts=settings.queue.process_attempts,
                                      claim_next=outbox.claim)
    job = ConversationJob(processor, outbox, MediaFetcher(sessions, channels, settings.media_dir))
    q: InlineQueue | RedisQueue | ThreadQueue
    if inline:
        q = InlineQueue(job, sessions, settings.queue.stall_seconds)
    elif redis:
        q = RedisQueue(settings.queue.redis_url, sessions, settings.queue.stall_seconds)
    else:
        q = ThreadQueue(job, sessions, threads=settings.queue.threads,
                        sweep_seconds=settings.queue.sweep_seconds,
                        stall_seconds=settings.queue.stall_seconds, arrivals=processor.process_arrival)
    if not inline:
        q.tidy = functools.partial(sweep_unanswered, sessions, settings)
    return Runtime(settings, engine, sessions, nlu, channels, processor, outbox, q, job, Receiver(sessions, q), wakeups)


def prepare_to_serve(rt: Runtime) -> None:
    """Once per serving process (`warga serve`'s, `run`, `worker`), after its runtime is built
    and before it takes work: build now what the first messages would otherwise build (the
    knowledge base's keyword stems), then freeze the start-up heap with it."""
    rt.processor.knowledge.warm()
    freeze_startup_heap()


def freeze_startup_heap() -> None:
    """Exclude everything built at start-up (the app, the models, SQLAlchemy's mappers: a
    quarter of a million objects) from the cyclic garbage collector's scans.

    Without it each full collection walks them all again (about 80 ms of CPU on the benchmark
    machine, several times a minute under load) though none of them ever becomes garbage.
    Call once per serving process, after its app or runtime is built and before it takes
    work (never in tests, which build many apps in one process: frozen objects are never
    collected).
    """
    gc.collect()
    gc.freeze()
