"""The live switch: every process serves the active registry version, without a restart.

Each process's NLU is a :class:`LiveNlu` holder. A background thread compares the process's
loaded version with the ``nlu_models`` row marked active (one small query): when they differ it
loads the new model beside the old one, which keeps answering, and swaps the reference when the
load has finished, so no message waits or goes unanswered. It checks every
``nlu.live_check_seconds`` (the safety net) and at once when woken: by the activating request in
its own process, and over Redis pub/sub (``warga:nlu-model``) for the other processes when the
queue backend is redis. With no active version the process serves the model it was started with
(``build_nlu``), so a roll-back past the first registry version returns to it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from bot.training.registry import ActiveModel, active_model
from nlu.base import NluEngine, Parse
from nlu.fallback import FallbackEngine
from nlu.sklearn_engine import SklearnEngine, load_model

log = logging.getLogger(__name__)
CHANNEL = "warga:nlu-model"


def announce(settings: Settings) -> None:
    """Tell every other process that the active version changed (they also find out on their
    next periodic check, so a lost message only delays the switch)."""
    if settings.queue.backend != "redis":
        return
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        with Redis.from_url(settings.queue.redis_url, socket_connect_timeout=2, socket_timeout=2) as r:
            r.publish(CHANNEL, "changed")
    except RedisError as exc:
        log.warning("model change not announced; processes switch at their next check", extra={"reason": str(exc)})


class LiveNlu:
    """An :class:`~nlu.base.NluEngine` that follows the active registry version.

    Args:
        base: The engine built from the settings (served when no version is active).
        sessions: Database sessions (the check reads one row).
        settings: ``nlu`` (threshold, ticket prefix, engine), ``training.live_check_seconds``,
            ``queue`` (Redis for wake-ups).
    """

    def __init__(self, base: NluEngine, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.base = base
        self.sessions = sessions
        self.settings = settings
        self._engine: NluEngine = base
        self.name = base.name
        self._version: str | None = None
        self._failed: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._check_lock = threading.Lock()
        self._started = False
        self._start_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # -- NluEngine ----------------------------------------------------------------------
    @property
    def current(self) -> NluEngine:
        return self._engine

    @property
    def version(self) -> str | None:
        """The registry version served, or None for the model the process started with."""
        return self._version

    def parse(self, text: str) -> Parse:
        self.start()
        engine = self._engine   # one read: a swap never splits a parse
        return engine.parse(text)

    def ready(self) -> bool:
        self.start()
        return self._engine.ready()

    # -- switching ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the checking threads (lazily: after a server forked its workers)."""
        if self._started:
            return
        with self._start_lock:
            if self._started:
                return
            self._started = True
            self._spawn(self._loop, "warga-nlu-live")
            if self.settings.queue.backend == "redis":
                self._spawn(self._listen, "warga-nlu-live-redis")

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def wake(self) -> None:
        """Check now (in the background)."""
        self._wake.set()

    def check_now(self) -> str | None:
        """Compare with the active row and switch if needed; returns the version served.
        Never raises: the old model keeps answering whatever goes wrong."""
        with self._check_lock:
            try:
                with self.sessions() as s:
                    active = active_model(s)
            except Exception as exc:  # noqa: BLE001 - the database briefly away: try at the next check
                log.warning("active model check failed", extra={"reason": str(exc)})
                return self._version
            wanted = active.version if active is not None else None
            if wanted == self._version or (wanted is not None and wanted == self._failed):
                return self._version
            try:
                engine = self._build(active)
            except Exception as exc:  # noqa: BLE001 - a model that cannot load: keep serving the old one
                self._failed = wanted
                log.error("model version not loaded; the previous one keeps answering",
                          extra={"version": wanted, "reason": str(exc)})
                return self._version
            self._engine, self._version, self._failed = engine, wanted, None
            self.name = engine.name
            log.info("NLU model switched", extra={"version": wanted or "(initial)"})
            return wanted

    def _build(self, active: ActiveModel | None) -> NluEngine:
        if active is None:
            return self.base
        if active.engine != "sklearn" or not active.model_path:
            raise ValueError(f"engine {active.engine!r} cannot be served by the live switch yet")
        config = self.settings.nlu
        local = SklearnEngine(Path(config.sklearn_models_dir), threshold=config.threshold,
                              ticket_prefix=config.ticket_prefix, model=load_model(Path(active.model_path)))
        if isinstance(self.base, FallbackEngine):
            # Rasa stays the primary; the in-process engine that answers when it cannot is the new one.
            return FallbackEngine(self.base.primary, local, retry_after=config.rasa_retry_after)
        return local

    def _loop(self) -> None:
        every = self.settings.training.live_check_seconds
        while not self._stop.is_set():
            self.check_now()
            self._wake.wait(every)
            self._wake.clear()

    def _listen(self) -> None:
        from redis import Redis
        from redis.exceptions import RedisError

        backoff = 0.5
        while not self._stop.is_set():
            try:
                client = Redis.from_url(self.settings.queue.redis_url)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                backoff = 0.5
                while not self._stop.is_set():
                    if pubsub.get_message(timeout=1.0) is not None:
                        self._wake.set()
                pubsub.close()
                client.close()
            except RedisError as exc:
                log.warning("model change listener lost Redis; periodic checks go on", extra={"reason": str(exc)})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=5)
