"""Settings the gateway passes to the NLU (``nlu:`` in config.yml; key = field name)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ENGINES = ("rasa", "sklearn")


class NluConfigError(ValueError):
    """A setting is invalid; the message names the key and what was expected."""


@dataclass(frozen=True, slots=True)
class NluConfig:
    """NLU settings.

    Relative paths are taken relative to the working directory; the gateway should pass
    absolute ones (the Rasa processes run in ``var_dir``).

    Attributes:
        engine: ``rasa`` (Rasa server, sklearn fallback per message) or ``sklearn`` (alone).
        threshold: Below this confidence the intent is None and the dialogue asks again; applies
            to both engines. sklearn's confidences are calibrated on held-out folds, DIET's are
            its own softmax; docs/BENCHMARKS.md shows the share of answers below it per engine.
            Rasa's FallbackClassifier threshold (nlu/rasa/config.yml) must not be higher.
        data_dir: Training data (top-level ``*.yml``; ``test/`` holds held-out data).
        models_dir: Trained models (``sklearn/`` and ``rasa/`` inside).
        var_dir: The Rasa server's working directory and HOME, its logs and training cache.
        rasa_host: Where the Rasa server listens (loopback).
        rasa_port: Its port.
        rasa_token: Its API token (from env ``WARGA_RASA_TOKEN``; never in a file).
        rasa_timeout: Seconds for one parse before the fallback answers.
        rasa_retry_after: Seconds to skip Rasa after a failure.
        rasa_venv: Rasa's virtualenv (``make rasa-venv``).
        rasa_config: Rasa's pipeline config.
        rasa_start_timeout: Seconds to wait for the server to be ready.
        rasa_train_timeout: Seconds before a Rasa training is abandoned.
        ticket_prefix: Ticket number prefix (``WRG`` in ``WRG-2026-000123``).
    """

    engine: str = "rasa"
    threshold: float = 0.5
    data_dir: Path = Path("nlu/data")
    models_dir: Path = Path("var/models")
    var_dir: Path = Path("var/rasa")
    rasa_host: str = "127.0.0.1"
    rasa_port: int = 5005
    rasa_token: str = ""
    rasa_timeout: float = 2.0
    rasa_retry_after: float = 10.0
    rasa_venv: Path = Path(".venv-rasa")
    rasa_config: Path = Path("nlu/rasa/config.yml")
    rasa_start_timeout: float = 180.0
    rasa_train_timeout: float = 1800.0
    ticket_prefix: str = "WRG"

    def __post_init__(self) -> None:
        for name in ("data_dir", "models_dir", "var_dir", "rasa_venv", "rasa_config"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, Path(value))
            elif not isinstance(value, Path):
                raise NluConfigError(f"nlu.{name}: expected a path, got {value!r}")
        if self.engine not in ENGINES:
            raise NluConfigError(f"nlu.engine: expected one of {', '.join(ENGINES)}, got {self.engine!r}")
        if not isinstance(self.threshold, (int, float)) or not 0.0 <= self.threshold < 1.0:
            raise NluConfigError(f"nlu.threshold: expected a number from 0 to below 1, got {self.threshold!r}")
        if not isinstance(self.rasa_port, int) or not 0 < self.rasa_port < 65536:
            raise NluConfigError(f"nlu.rasa_port: expected a TCP port, got {self.rasa_port!r}")
        for name in ("rasa_timeout", "rasa_retry_after", "rasa_start_timeout", "rasa_train_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise NluConfigError(f"nlu.{name}: expected a positive number of seconds, got {value!r}")
        if not self.ticket_prefix.isalnum():
            raise NluConfigError(f"nlu.ticket_prefix: expected letters/digits, got {self.ticket_prefix!r}")

    @property
    def rasa_url(self) -> str:
        return f"http://{self.rasa_host}:{self.rasa_port}"

    @property
    def sklearn_models_dir(self) -> Path:
        return self.models_dir / "sklearn"

    @property
    def rasa_models_dir(self) -> Path:
        return self.models_dir / "rasa"
