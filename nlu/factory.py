"""Build the configured NLU engine from :class:`~nlu.config.NluConfig`.

Building never starts processes: the Rasa server is started by ``warga nlu serve`` (or the
gateway's process manager) with :func:`build_rasa_server`.

Importing this module is cheap: scikit-learn (seconds of start-up) is imported by the builders
that make an sklearn engine, so `warga` commands that only name these builders start fast.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from nlu.base import NluEngine
from nlu.config import NluConfig
from nlu.fallback import FallbackEngine
from nlu.rasa_engine import RasaEngine
from nlu.rasa_server import RasaServer, RasaTrainer
from nlu.training_data import load_and_validate

if TYPE_CHECKING:
    from nlu.sklearn_engine import SklearnEngine

log = logging.getLogger(__name__)


def build_sklearn_engine(config: NluConfig, *, train_if_missing: bool = True) -> SklearnEngine:
    """The in-process engine with its active model.

    Without a usable model (first start, or a scikit-learn upgrade) it trains one from
    ``config.data_dir``, which takes seconds, so the gateway can always answer.

    Raises:
        ModelLoadError: No model and ``train_if_missing`` is False.
        TrainingDataError: It had to train and the data has errors.
    """
    from nlu.sklearn_engine import ModelLoadError, SklearnEngine

    engine = SklearnEngine(config.sklearn_models_dir, threshold=config.threshold, ticket_prefix=config.ticket_prefix)
    try:
        engine.load()
    except ModelLoadError as exc:
        if not train_if_missing:
            raise
        log.warning("%s; training a new sklearn model from %s", exc, config.data_dir)
        data, _ = load_and_validate(config.data_dir)
        engine.train(data)
    return engine


def build_rasa_trainer(config: NluConfig) -> RasaTrainer:
    """A trainer writing into the served models directory."""
    return RasaTrainer(
        venv=config.rasa_venv,
        config=config.rasa_config,
        models_dir=config.rasa_models_dir,
        work_dir=config.var_dir,
        timeout=config.rasa_train_timeout,
    )


def build_rasa_engine(config: NluConfig) -> RasaEngine:
    """A client of the configured Rasa server (which may not be running yet): Warga's own,
    which it trains, or an external one (``nlu.rasa_url``) read through ``nlu.intent_map``."""
    if not config.rasa_token and not config.external:
        # An external server may run without a token; Warga's own never does.
        log.warning("nlu.rasa_token is empty: set WARGA_NLU_RASA_TOKEN (the Rasa server requires one)")
    return RasaEngine(
        config.rasa_base_url,
        config.rasa_token,
        threshold=config.threshold,
        timeout=config.rasa_timeout,
        ticket_prefix=config.ticket_prefix,
        trainer=None if config.external else build_rasa_trainer(config),
        intent_map=config.intent_map,
        entity_map=config.entity_map,
        trust_env=config.external,
    )


def build_rasa_server(config: NluConfig, model: Path | None = None) -> RasaServer:
    """The configured Rasa server process (not started): serving ``model``, else the newest
    model in its models directory."""
    return RasaServer(
        config.rasa_venv,
        config.rasa_models_dir,
        config.var_dir,
        host=config.rasa_host,
        port=config.rasa_port,
        token=config.rasa_token,
        model=model,
    )


def build_engine(config: NluConfig) -> NluEngine:
    """The engine the gateway uses.

    ``sklearn``: the in-process engine. ``rasa``: the Rasa server, with the in-process engine
    answering any message Rasa cannot (down, slow, loading a model).
    """
    local = build_sklearn_engine(config)
    if config.engine == "sklearn":
        return local
    return FallbackEngine(build_rasa_engine(config), local, retry_after=config.rasa_retry_after)
