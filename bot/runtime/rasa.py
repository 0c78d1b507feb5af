"""Start (and first train) the Rasa server beside ``warga run`` / ``warga serve``.

Rasa takes about 20 s to start and a minute to train, so this runs in the background: the
sklearn engine answers every message until Rasa is ready (nlu.fallback), and citizens never
wait for it.
"""

from __future__ import annotations

import logging
import socket
import threading

from nlu.base import NluError
from nlu.config import NluConfig
from nlu.factory import build_rasa_server, build_rasa_trainer
from nlu.rasa_server import RasaServer, latest_model
from nlu.training_data import TrainingDataError, load_and_validate

log = logging.getLogger(__name__)


def _listening(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


class RasaSupervisor:
    def __init__(self, config: NluConfig) -> None:
        self.config = config
        self.server: RasaServer | None = None
        self._thread = threading.Thread(target=self._run, name="warga-rasa", daemon=True)
        self.ready = threading.Event()
        self.error: str | None = None

    def start(self) -> None:
        if _listening(self.config.rasa_host, self.config.rasa_port):
            log.info("rasa server already running", extra={"url": self.config.rasa_base_url})
            self.ready.set()
            return
        self._thread.start()

    def _run(self) -> None:
        try:
            if latest_model(self.config.rasa_models_dir) is None:
                log.info("no rasa model yet: training one (sklearn answers meanwhile)")
                data, _ = load_and_validate(self.config.data_dir)
                build_rasa_trainer(self.config).train(data)
            self.server = build_rasa_server(self.config)
            self.server.start()
            self.server.wait_ready(self.config.rasa_start_timeout)
            log.info("rasa server ready", extra={"url": self.config.rasa_base_url})
            self.ready.set()
        except (NluError, TrainingDataError, OSError) as exc:
            # The gateway keeps answering with the sklearn engine; say why Rasa is missing.
            self.error = str(exc)
            log.error("rasa server not started; the sklearn engine answers", extra={"reason": str(exc)})

    def stop(self) -> None:
        if self.server is not None and self.server.running():
            self.server.stop()
