"""Making Warga's own Rasa server serve a model file: once per server, whoever asks.

Every process (each gunicorn worker, each ``warga worker``) follows the active version on its
own (:mod:`bot.training.live`), and all of them notice an activation within moments of each
other. Loading a model into Rasa (``PUT /model``) takes 13–15 s and blocks the server meanwhile
(../shared/notes/rasa-server.md), so it must happen once, not once per process: a process loads
only while holding an exclusive lock on a file in the server's working directory (one per
server, like the server itself: it listens on loopback), and first asks the server what it
serves (``GET /status``). The first process loads; the others wait for the lock, find the model
already there and only switch their own engine.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path

from bot.file_lock import exclusive
from bot.settings import Settings
from bot.store.engine import make_engine, make_session_factory
from bot.training.registry import active_model
from nlu.base import NluError, Parse
from nlu.rasa_engine import RasaEngine

log = logging.getLogger(__name__)

#: The lock file in the Rasa server's working directory (nlu.var_dir).
LOCK_NAME = "rasa-model.lock"


def active_rasa_model(settings: Settings) -> Path | None:
    """The active version's Rasa model file, when a Rasa version is active and its file is
    here: what Warga's own server starts with, so that a restart serves the active version at
    once (not the newest file of models/rasa, replaced by a 15 s load moments later)."""
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            active = active_model(session)
    finally:
        engine.dispose()
    if active is None or active.engine != "rasa" or not active.model_path:
        return None
    path = Path(active.model_path)
    return path if path.is_file() else None


def server_lock(var_dir: Path) -> contextlib.AbstractContextManager[None]:
    """Hold the Rasa server's model lock (blocks while another process loads a model)."""
    return exclusive(Path(var_dir) / LOCK_NAME)


def serves(rasa: RasaEngine, model: Path) -> bool:
    """Whether the server's loaded model is ``model`` (Rasa reports the file's base name).

    Raises:
        NluError: The server cannot tell now (down, busy loading, token refused).
    """
    return rasa.loaded_model() == Path(model).name


def ensure_served(rasa: RasaEngine, model: Path, var_dir: Path, *, timeout: float) -> bool:
    """Make the server serve ``model`` unless it already does.

    Returns:
        True if this call loaded it, False if it was already served (another process loaded it).

    Raises:
        NluError: The server is down, or refused the file (its old model stays).
    """
    with server_lock(var_dir):
        if serves(rasa, model):
            return False
        log.info("loading a model into the rasa server", extra={"model": Path(model).name})
        rasa.load_model(model, timeout=timeout)
        return True


class AwaitingRasa:
    """The primary engine while the Rasa server does not (yet) serve this process's model:
    every parse is refused, so :class:`~nlu.fallback.FallbackEngine` answers with the twin
    and no answer is labelled with a version that did not give it.

    Args:
        model: The model file the server should serve.
        reason: Why it does not yet (loading, server down).
    """

    name = "rasa"

    def __init__(self, model: Path, reason: str = "loading") -> None:
        self.model = Path(model)
        self._reason = reason
        self._lock = threading.Lock()

    @property
    def reason(self) -> str:
        return self._reason

    def because(self, reason: str) -> None:
        with self._lock:
            self._reason = reason

    def parse(self, text: str) -> Parse:
        raise NluError(f"rasa does not serve {self.model.name} yet ({self._reason})", retryable=True)

    def ready(self) -> bool:
        return False
