"""Run Warga's own Rasa server beside ``warga run`` / ``warga serve``, whenever it becomes possible.

Everything here happens in the background: the sklearn engine answers every message until Rasa
is ready (nlu.fallback), so citizens never wait for it. On a fresh machine `make run` starts the
gateway while Rasa's environment is still being installed (nlu/rasa/install.sh), so the
supervisor goes through these phases (bot/runtime/rasa_env.py), each printed by `warga run` and
shown on /readyz:

    installing environment → training (only when there is no model yet) → starting → ready
                                                        or failed: why (the sklearn engine answers)

It waits for the environment rather than failing when it is missing, and looks again after a
failed install, so a `make rasa-venv` run by hand is picked up without a restart. When Rasa is
ready the gateway's next message goes to it (:func:`switch_to_rasa`).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from bot.runtime.rasa_env import (
    FAILED,
    INSTALLING,
    READY,
    STARTING,
    TRAINING,
    Environment,
    InstallProbe,
    RasaPhase,
    console_line,
    phase_file,
    remove_phase,
    write_phase,
)
from bot.settings import Settings
from bot.training.live import LiveNlu
from bot.training.rasa_switch import active_rasa_model
from nlu.base import NluEngine, NluError
from nlu.config import NluConfig
from nlu.factory import build_rasa_server, build_rasa_trainer
from nlu.fallback import FallbackEngine
from nlu.rasa_server import RasaServer, latest_model
from nlu.training_data import TrainingDataError, load_and_validate

log = logging.getLogger(__name__)


def _listening(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


class RasaSupervisor:
    """Waits for Rasa's environment, trains a first model if there is none, starts the server.

    Args:
        config: The NLU settings (Warga's own server: never an external one).
        environment: Says whether Rasa's environment is installed (:class:`InstallProbe`; tests
            pass their own).
        on_phase: Called on every change of phase, in the supervisor's thread, after
            :attr:`phase` changed and before :attr:`ready` is set.
        poll_seconds: How often to look at the environment while waiting for it.
        first_model: The model file to start the server with (the active registry version's);
            None, or a failure to say, starts it with the newest in the models directory.
    """

    def __init__(self, config: NluConfig, *, environment: Callable[[], Environment],
                 on_phase: Callable[[RasaPhase], None] | None = None, poll_seconds: float = 2.0,
                 first_model: Callable[[], Path | None] | None = None) -> None:
        self.config = config
        self.environment = environment
        self.first_model = first_model
        self.poll_seconds = poll_seconds
        self.server: RasaServer | None = None
        self.ready = threading.Event()
        self.error: str | None = None
        self.phase_path = phase_file(config.var_dir)
        self._on_phase = on_phase
        self._phase: RasaPhase | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="warga-rasa", daemon=True)

    @property
    def phase(self) -> RasaPhase | None:
        """The current phase (None before :meth:`start`)."""
        return self._phase

    def start(self) -> None:
        if _listening(self.config.rasa_host, self.config.rasa_port):
            log.info("rasa server already running", extra={"url": self.config.rasa_base_url})
            self._set(READY, f"already running at {self.config.rasa_base_url}")
            return
        self._thread.start()

    def _set(self, name: str, detail: str = "") -> None:
        phase = RasaPhase(name, detail)
        with self._lock:
            if phase == self._phase:
                return
            self._phase = phase
        try:
            write_phase(self.phase_path, phase)
        except OSError as exc:  # /readyz of other processes misses it; this one still knows
            log.warning("rasa phase not written", extra={"path": str(self.phase_path), "reason": str(exc)})
        if name == FAILED:
            self.error = detail
            log.error("rasa server not started; the sklearn engine answers", extra={"reason": detail})
        else:
            log.info("rasa phase: %s", phase, extra={"phase": name, "detail": detail})
        if self._on_phase is not None:
            self._on_phase(phase)
        if name == READY:      # after on_phase: whoever waits for it finds Rasa answering
            self.ready.set()

    def _wait_for_environment(self) -> bool:
        """Block until the environment is ready (True) or the supervisor stops (False)."""
        while not self._stop.is_set():
            env = self.environment()
            if env.ready:
                return True
            # A failed install is shown, never retried from here; a later `make rasa-venv`
            # makes the environment ready and the loop goes on from there.
            if env.failed:
                self._set(FAILED, env.failed)
            else:
                self._set(INSTALLING, env.detail)
            self._stop.wait(self.poll_seconds)
        return False

    def _run(self) -> None:
        if not self._wait_for_environment():
            return
        try:
            model = self._model_to_start_with()
            if model is None and latest_model(self.config.rasa_models_dir) is None:
                self._set(TRAINING)
                data, _ = load_and_validate(self.config.data_dir)
                build_rasa_trainer(self.config).train(data)
            self._set(STARTING)
            with self._lock:  # stop() either finds this server started or stops us before it exists
                if self._stop.is_set():
                    return
                server = self.server = build_rasa_server(self.config, model)
                server.start()
            server.wait_ready(self.config.rasa_start_timeout)
            if not self._stop.is_set():
                self._set(READY)
        except (NluError, TrainingDataError, OSError) as exc:
            if not self._stop.is_set():
                self._set(FAILED, str(exc))

    def _model_to_start_with(self) -> Path | None:
        if self.first_model is None:
            return None
        try:
            return self.first_model()
        except Exception as exc:  # noqa: BLE001 - the database away: the newest model will do
            log.warning("active rasa version unknown; starting with the newest model", extra={"reason": str(exc)})
            return None

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            server = self.server
        if server is not None and server.running():
            server.stop()
        remove_phase(self.phase_path)


def switch_to_rasa(nlu: NluEngine) -> None:
    """Let the next message go to Rasa: a fallback engine that saw Rasa down skips it for
    ``nlu.rasa_retry_after`` seconds, which would leave "Rasa ready" untrue for that long."""
    engine = nlu.current if isinstance(nlu, LiveNlu) else nlu
    if isinstance(engine, FallbackEngine):
        engine.retry_primary()


def start_supervisor(settings: Settings, *, say: Callable[[str], None] | None = None,
                     nlu: NluEngine | None = None, poll_seconds: float = 2.0,
                     environment: Callable[[], Environment] | None = None) -> RasaSupervisor:
    """Start supervising Warga's own Rasa server for a gateway process.

    Args:
        say: Prints each phase as a sentence (`warga run`'s terminal).
        nlu: The process's engine, switched to Rasa as soon as Rasa is ready (``warga serve``'s
            workers are other processes: they try Rasa again within ``nlu.rasa_retry_after``).
        environment: Instead of what `make run`'s install leaves in the project's var/ (tests).
    """

    def on_phase(phase: RasaPhase) -> None:
        if phase.ready and nlu is not None:
            switch_to_rasa(nlu)
        if say is not None:
            with contextlib.suppress(OSError):  # a closed terminal must not stop the supervisor
                say(console_line(phase))

    probe = environment or InstallProbe(settings.nlu.rasa_venv, settings.var_dir)
    supervisor = RasaSupervisor(settings.nlu, environment=probe, on_phase=on_phase, poll_seconds=poll_seconds,
                                first_model=lambda: active_rasa_model(settings))
    supervisor.start()
    return supervisor
