"""Shared fixtures for the NLU tests.

The Rasa fixtures run a REAL Rasa 3.6.21 server from .venv-rasa (no recorded responses). They
fail, rather than skip, when .venv-rasa is missing: the suite must not go green without them.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlu.config import NluConfig
from nlu.rasa_engine import RasaEngine
from nlu.rasa_server import RasaServer, RasaTrainer, latest_model
from nlu.training_data import TrainingData
from nlu.training_reader import load_training_data
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "nlu" / "data"
HELDOUT = DATA_DIR / "test" / "heldout.yml"
RASA_VENV = ROOT / ".venv-rasa"
RASA_CONFIG = ROOT / "nlu" / "rasa" / "config.yml"

#: Intents of the small Rasa model the tests train (enough to tell them apart, quick to train).
SMALL_INTENTS = ("greet", "goodbye", "thank", "check_status", "report_flood", "report_garbage", "out_of_scope")
SMALL_PER_INTENT = 15


@pytest.fixture(scope="session")
def project_data() -> TrainingData:
    return load_training_data(DATA_DIR)


def small_selection(data: TrainingData) -> TrainingData:
    """The first SMALL_PER_INTENT examples of each of SMALL_INTENTS."""
    taken: dict[str, int] = defaultdict(int)
    chosen = []
    for ex in data.examples:
        if ex.intent in SMALL_INTENTS and taken[ex.intent] < SMALL_PER_INTENT:
            taken[ex.intent] += 1
            chosen.append(ex)
    return data.with_examples(chosen)


@pytest.fixture(scope="session")
def small_data(project_data: TrainingData) -> TrainingData:
    return small_selection(project_data)


def small_rasa_model() -> Path:
    """A Rasa model of SMALL_INTENTS (no street lights), trained once per test run and shared
    by the tests that need some trained model to start a server with (a training costs about
    half a minute of both cores). Copy it before putting it where a server or a trainer writes."""
    from tests.conftest import cache_lock

    require_rasa_venv()
    with cache_lock("small-rasa-model") as work:
        models = work / "models"
        if (trained := latest_model(models)) is None:
            trained = RasaTrainer(venv=RASA_VENV, config=RASA_CONFIG, models_dir=models, work_dir=work,
                                  timeout=600).train(small_selection(load_training_data(DATA_DIR)))
        return trained


def nlu_config(tmp: Path, **overrides: object) -> NluConfig:
    """A config whose every writable path is under ``tmp``."""
    values: dict[str, object] = dict(
        engine="sklearn",
        data_dir=DATA_DIR,
        models_dir=tmp / "models",
        var_dir=tmp / "var",
        rasa_venv=RASA_VENV,
        rasa_config=RASA_CONFIG,
        rasa_token="test-" + secrets.token_hex(8),
        rasa_port=free_port(),
    )
    values.update(overrides)
    return NluConfig(**values)  # type: ignore[arg-type]


def require_rasa_venv() -> None:
    if not (RASA_VENV / "bin" / "rasa").is_file():
        pytest.fail(f"Rasa is not installed at {RASA_VENV}: run `make rasa-venv` (the Rasa tests need a real server)")


@pytest.fixture(scope="session")
def rasa_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rasa")


@pytest.fixture(scope="session")
def rasa_trainer(rasa_workdir: Path) -> RasaTrainer:
    require_rasa_venv()
    return RasaTrainer(
        venv=RASA_VENV,
        config=RASA_CONFIG,
        models_dir=rasa_workdir / "models",
        work_dir=rasa_workdir,
        timeout=600,
    )


@pytest.fixture(scope="session")
def rasa_server(rasa_workdir: Path) -> Iterator[RasaServer]:
    """A real Rasa server started WITHOUT a model; ``rasa_engine`` trains and loads one."""
    require_rasa_venv()
    server = RasaServer(RASA_VENV, rasa_workdir / "models", rasa_workdir, port=free_port(), token=secrets.token_hex(12))
    server.start()
    try:
        server.wait_ready(180, require_model=False)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def rasa_engine(rasa_server: RasaServer, rasa_trainer: RasaTrainer, project_data: TrainingData) -> Iterator[RasaEngine]:
    """A client of the session server, after training a model on the project's data and loading
    it (PUT /model): the one Rasa training of a test run that the accuracy tests also score
    (every `rasa` test runs in one process, see tests/conftest.py)."""
    engine = RasaEngine(rasa_server.url, rasa_server.token, threshold=0.5, timeout=30.0, trainer=rasa_trainer)
    engine.train(project_data)
    yield engine
    engine.close()
