"""The live switch: every process serves the active registry version, without a restart.

Each process's NLU is a :class:`LiveNlu` holder. A background thread compares the process's
loaded version with the ``nlu_models`` row marked active (one small query): when they differ it
loads the new model beside the old one, which keeps answering, and swaps the reference when the
load has finished, so no message waits or goes unanswered. It checks every
``nlu.live_check_seconds`` (the safety net) and at once when woken: by the activating request in
its own process, and over Redis pub/sub (``warga:nlu-model``) for the other processes when the
queue backend is redis. With no active version the process serves the model it was started with
(``build_nlu``), so a roll-back past the first registry version returns to it.

With Warga's own Rasa server (``nlu.engine: rasa``) a process serves a Rasa version as
``FallbackEngine(rasa, twin)``, but only once the server serves that version's model: until
then (the ~15 s of ``PUT /model``, or while the server is down) the version's sklearn twin
answers every message. The load itself happens once per server, whichever process notices first
(:mod:`bot.training.rasa_switch`), in a background thread; the others find it loaded. A
roll-back is the same path: the server goes back to the previous version's model, or to the
installation's own (the newest in ``<models_dir>/rasa``) when that version has none.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from bot.training.rasa_switch import AwaitingRasa, ensure_served, serves
from bot.training.registry import ActiveModel, active_model
from nlu.base import NluEngine, NluError, Parse
from nlu.fallback import FallbackEngine
from nlu.rasa_engine import RasaEngine
from nlu.rasa_server import latest_model

if TYPE_CHECKING:
    from nlu.sklearn_engine import SklearnEngine

log = logging.getLogger(__name__)
CHANNEL = "warga:nlu-model"


@dataclass(frozen=True, slots=True)
class _Plan:
    """How this process serves one version.

    Attributes:
        served: The engine once Warga's own Rasa server serves ``model`` (or when there is no
            Rasa model to manage).
        model: The model file the Rasa server must serve for this version; None: nothing to do.
        waiting: What answers until it does: the version's sklearn model (a Rasa version's
            twin) behind a primary that refuses every parse.
    """

    served: NluEngine
    model: Path | None = None
    waiting: FallbackEngine | None = None


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
        self._plan = _Plan(base)
        self._loader: threading.Thread | None = None

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

    @property
    def loading(self) -> bool:
        """Whether this process waits for the Rasa server to serve its version's model (the
        twin answers every message meanwhile)."""
        plan = self._plan
        return plan.model is not None and self._engine is not plan.served

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
            if wanted != self._version and not (wanted is not None and wanted == self._failed):
                try:
                    plan = self._plan_for(active)
                except Exception as exc:  # noqa: BLE001 - a model that cannot load: keep serving the old one
                    self._failed = wanted
                    log.error("model version not loaded; the previous one keeps answering",
                              extra={"version": wanted, "reason": str(exc)})
                    return self._version
                self._plan, self._version, self._failed = plan, wanted, None
                # With a Rasa model to wait for, the twin answers until the server serves it.
                self._set(plan.waiting if plan.waiting is not None else plan.served)
                log.info("NLU model switched", extra={"version": wanted or "(initial)"})
            self._sync_server()
            return self._version

    def _set(self, engine: NluEngine) -> None:
        self._engine = engine
        self.name = engine.name

    # -- Warga's own Rasa server -------------------------------------------------------------
    def _rasa(self) -> RasaEngine | None:
        """The client of Warga's own Rasa server, if this process serves through it. Only then
        does it make the server serve the active version's model (never an external server's:
        the city loads that one itself)."""
        config = self.settings.nlu
        if config.engine != "rasa" or config.external or not isinstance(self.base, FallbackEngine):
            return None
        primary = self.base.primary
        return primary if isinstance(primary, RasaEngine) else None

    def _plan_for(self, active: ActiveModel | None) -> _Plan:
        """How to serve ``active``. The Rasa server serves the active version's Rasa model if it
        has one, else the installation's own (the newest in nlu.models_dir/rasa, what the server
        starts with), so a roll-back reaches the server too."""
        config = self.settings.nlu
        rasa = self._rasa()
        if active is None:
            if rasa is None:
                return _Plan(self.base)
            assert isinstance(self.base, FallbackEngine)
            return self._with_server(rasa, self.base.secondary, latest_model(config.rasa_models_dir), self.base)
        model: Path | None
        if active.engine == "rasa":
            if not active.twin_path or not active.model_path:
                raise ValueError(f"version {active.version} has no Rasa model or no sklearn twin")
            local, model = self._local(active.twin_path), Path(active.model_path)
        elif active.engine == "sklearn" and active.model_path:
            local, model = self._local(active.model_path), latest_model(config.rasa_models_dir)
        else:
            raise ValueError(f"engine {active.engine!r} cannot be served by the live switch")
        if rasa is not None:
            return self._with_server(rasa, local, model)
        if isinstance(self.base, FallbackEngine):
            # An external Rasa server stays the primary; the in-process engine that answers
            # when it cannot is the new one.
            return _Plan(FallbackEngine(self.base.primary, local, retry_after=config.rasa_retry_after))
        return _Plan(local)

    def _local(self, path: str) -> SklearnEngine:
        # Late: scikit-learn takes seconds to import, and `warga` commands that never load a
        # model (channels, users) reach this module through bot.runtime.
        from nlu.sklearn_engine import SklearnEngine, load_model

        config = self.settings.nlu
        return SklearnEngine(Path(config.sklearn_models_dir), threshold=config.threshold,
                             ticket_prefix=config.ticket_prefix, model=load_model(Path(path)))

    def _with_server(self, rasa: RasaEngine, local: NluEngine, model: Path | None,
                     served: NluEngine | None = None) -> _Plan:
        retry = self.settings.nlu.rasa_retry_after
        served = served or FallbackEngine(rasa, local, retry_after=retry)
        if model is None:
            return _Plan(served)   # no model of its own to go back to: the server keeps what it has
        return _Plan(served, model, FallbackEngine(AwaitingRasa(model), local, retry_after=retry))

    def _sync_server(self) -> None:
        """Serve through Rasa only while the server serves this version's model; otherwise let
        the twin answer and have the model loaded in the background (a load blocks Rasa for
        ~15 s: never in the caller's thread). Runs on every check, so a restarted server (it
        starts with the installation's own model) is brought back to the active one."""
        plan = self._plan
        rasa = self._rasa()
        if plan.model is None or plan.waiting is None or rasa is None:
            return
        try:
            here = serves(rasa, plan.model)
        except NluError:
            here = False   # down, or busy loading for another process: the loader finds out
        if here:
            if self._engine is not plan.served:
                self._set(plan.served)
                log.info("rasa serves this version's model", extra={"model": plan.model.name})
            return
        if self._engine is plan.served:
            self._set(plan.waiting)   # the server lost it (restarted, or someone loaded another)
        if self._loader is None or not self._loader.is_alive():
            self._loader = threading.Thread(target=self._load, args=(plan, rasa), name="warga-rasa-load", daemon=True)
            self._loader.start()

    def _load(self, plan: _Plan, rasa: RasaEngine) -> None:
        assert plan.model is not None and plan.waiting is not None
        config = self.settings.nlu
        waiting = plan.waiting.primary
        try:
            ensure_served(rasa, plan.model, config.var_dir, timeout=config.rasa_start_timeout)
        except NluError as exc:
            if isinstance(waiting, AwaitingRasa) and waiting.reason != str(exc):
                log.warning("rasa model not loaded; the sklearn twin answers, retrying at the next check",
                            extra={"model": plan.model.name, "reason": str(exc)})
                waiting.because(str(exc))
            return
        with self._check_lock:
            if self._plan is not plan:
                self.wake()   # another version was activated meanwhile: its load starts now
            elif self._engine is not plan.served:
                self._set(plan.served)
                log.info("rasa serves this version's model", extra={"model": plan.model.name})

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
