"""A Rasa trainer and server of its own, in a temporary directory: for evaluations and tests.

Scoring a Rasa model (``warga nlu evaluate``, the training job's held-out score, the
benchmarks) must never touch the configured server or its models: :class:`ThrowawayRasa`
trains into its own directory and serves from its own server on a free port.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path

from nlu.config import NluConfig
from nlu.rasa_engine import RasaEngine
from nlu.rasa_server import RasaServer, RasaTrainer, free_port
from nlu.training_data import TrainingData


class ThrowawayRasa:
    """A Rasa trainer and server in a temporary directory, for evaluation and tests.

    Models are trained into the temporary directory and served by a server on a free port:
    the configured server and its models are never touched.

    Args:
        config: Where the Rasa virtualenv and pipeline config are.
        work_dir: Keep files here instead of a new temporary directory (the training cache
            in ``<work_dir>/.rasa`` makes re-training the same data fast).
    """

    def __init__(self, config: NluConfig, *, work_dir: Path | None = None) -> None:
        self.config = config
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if work_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="warga-rasa-")
            work_dir = Path(self._tmp.name)
        self.work_dir = Path(work_dir)
        self.models_dir = self.work_dir / "models"
        self.trainer = RasaTrainer(
            venv=config.rasa_venv, config=config.rasa_config, models_dir=self.models_dir, work_dir=self.work_dir,
            timeout=config.rasa_train_timeout, any_intents=True,
        )
        self.token = secrets.token_urlsafe(16)
        self.server: RasaServer | None = None
        self.engine: RasaEngine | None = None

    def train(self, data: TrainingData) -> tuple[Path, float]:
        """Train a model; returns its file and the seconds it took."""
        t0 = time.perf_counter()
        model = self.trainer.train(data)
        return model, time.perf_counter() - t0

    def start(self) -> None:
        """Start the throw-away server without a model and return at once (about 10 s to be
        ready), so that it starts while models train."""
        if self.server is None or not self.server.running():
            self.engine = None
            empty = self.work_dir / "no-model"
            self.server = RasaServer(self.config.rasa_venv, empty, self.work_dir, port=free_port(), token=self.token)
            self.server.start()

    def serve(self, model: Path) -> RasaEngine:
        """Serve ``model`` (``PUT /model`` into the throw-away server, started if need be)."""
        self.start()
        assert self.server is not None
        if self.engine is None:
            self.server.wait_ready(self.config.rasa_start_timeout, require_model=False)
            self.engine = RasaEngine(
                self.server.url,
                self.token,
                threshold=self.config.threshold,
                timeout=30.0,
                ticket_prefix=self.config.ticket_prefix,
                any_intents=True,       # the data evaluated may be anyone's (xSID, a city's own)
            )
        self.engine.load_model(model, timeout=self.config.rasa_start_timeout)
        return self.engine

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.engine is not None:
            self.engine.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> ThrowawayRasa:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
