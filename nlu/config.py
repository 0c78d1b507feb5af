"""Settings the gateway passes to the NLU (``nlu:`` in config.yml; key = field name)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlu.intents import ENTITIES, INTENTS

ENGINES = ("rasa", "sklearn")
#: (their name, Warga's name) pairs, sorted: a mapping frozen with the rest of the settings.
NameMap = tuple[tuple[str, str], ...]


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
        rasa_url: An external Rasa server (``https://nlu.city.go.id``) that Warga neither starts
            nor trains; empty: Warga's own server at ``rasa_host:rasa_port``.
        rasa_host: Where Warga's own Rasa server listens (loopback).
        rasa_port: Its port.
        rasa_token: The server's API token (from env ``WARGA_NLU_RASA_TOKEN``; never in a file).
        intent_map: An external model's intent names -> Warga's intents. An intent that is
            neither mapped nor a Warga intent name is not understood (below the threshold).
        entity_map: An external model's entity names -> Warga's entities (``location`` ...).
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
    rasa_url: str = ""
    rasa_host: str = "127.0.0.1"
    rasa_port: int = 5005
    rasa_token: str = field(default="", repr=False)  # a secret: never in logs or tracebacks
    rasa_timeout: float = 2.0
    rasa_retry_after: float = 10.0
    rasa_venv: Path = Path(".venv-rasa")
    rasa_config: Path = Path("nlu/rasa/config.yml")
    rasa_start_timeout: float = 180.0
    rasa_train_timeout: float = 1800.0
    ticket_prefix: str = "WRG"
    intent_map: NameMap | Mapping[str, str] = ()
    entity_map: NameMap | Mapping[str, str] = ()

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
        if not isinstance(self.rasa_url, str) or (self.rasa_url and not _URL.fullmatch(self.rasa_url)):
            raise NluConfigError(f"nlu.rasa_url: expected an http(s) URL or nothing, got {self.rasa_url!r}")
        object.__setattr__(self, "rasa_url", self.rasa_url.rstrip("/"))
        object.__setattr__(self, "intent_map", _name_map("intent_map", self.intent_map, INTENTS, "intent"))
        object.__setattr__(self, "entity_map", _name_map("entity_map", self.entity_map, ENTITIES, "entity"))

    @property
    def external(self) -> bool:
        """Whether Rasa is a server of the city's own (``rasa_url``) that Warga neither starts
        nor trains."""
        return bool(self.rasa_url)

    @property
    def rasa_base_url(self) -> str:
        """The Rasa server Warga talks to: the external one, else its own."""
        return self.rasa_url or f"http://{self.rasa_host}:{self.rasa_port}"

    @property
    def sklearn_models_dir(self) -> Path:
        return self.models_dir / "sklearn"

    @property
    def rasa_models_dir(self) -> Path:
        return self.models_dir / "rasa"


_URL = re.compile(r"https?://[^/\s]+(/\S*)?")


def _name_map(key: str, value: object, known: tuple[str, ...], what: str) -> NameMap:
    """``value`` as sorted pairs, every target one of ``known``.

    Raises:
        NluConfigError: Not a mapping of names, or a target Warga does not know; the message
            names the entry and the nearest known name (a typo is the usual cause).
    """
    items: Any = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = [(k, v) for k, v in items]
    except (TypeError, ValueError):
        raise NluConfigError(f"nlu.{key}: expected a mapping of their name: Warga's {what}") from None
    for source, target in pairs:
        if not isinstance(source, str) or not source.strip() or not isinstance(target, str):
            raise NluConfigError(f"nlu.{key}: expected names, got {source!r}: {target!r}")
        if target not in known:
            nearest = _nearest(target, known)
            hint = f" (nearest: {nearest})" if nearest else ""
            raise NluConfigError(f"nlu.{key}.{source}: {target!r} is not a Warga {what}{hint}")
    return tuple(sorted(pairs))


def _nearest(name: str, known: tuple[str, ...]) -> str | None:
    """The known name ``name`` most likely meant: one it abbreviates ("report_road" ->
    "report_road_damage"), else the most similar spelling."""
    folded = name.strip().lower()
    containing = [k for k in known if folded and folded in k]
    if containing:
        return min(containing, key=len)
    close = difflib.get_close_matches(folded, known, n=1, cutoff=0.0)
    return close[0] if close else None
