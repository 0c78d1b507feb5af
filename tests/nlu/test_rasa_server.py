"""Starting, stopping and training with a real Rasa from .venv-rasa."""

from __future__ import annotations

import socket
import tarfile
from pathlib import Path

import pytest

from nlu.base import TrainingError
from nlu.rasa_engine import RasaEngine
from nlu.rasa_server import (
    RASA_COMPONENTS_DIR,
    RasaNotInstalled,
    RasaServer,
    RasaServerError,
    RasaTrainer,
    latest_model,
    rasa_environment,
)
from nlu.training_data import Example, TrainingData, TrainingDataError
from tests.nlu.conftest import RASA_CONFIG, RASA_VENV, require_rasa_venv
from tests.support import free_port

pytestmark = pytest.mark.rasa


def test_missing_virtualenv_says_how_to_install(tmp_path: Path, small_data: TrainingData) -> None:
    server = RasaServer(tmp_path / "no-venv", tmp_path / "m", tmp_path / "w", port=free_port(), token="t")
    with pytest.raises(RasaNotInstalled, match="make rasa-venv"):
        server.start()
    trainer = RasaTrainer(tmp_path / "no-venv", RASA_CONFIG, tmp_path / "m", tmp_path / "w")
    with pytest.raises(RasaNotInstalled) as info:
        trainer.train(small_data)
    assert info.value.retryable is False


def test_token_is_required(tmp_path: Path) -> None:
    with pytest.raises(RasaServerError, match="WARGA_NLU_RASA_TOKEN"):
        RasaServer(RASA_VENV, tmp_path, tmp_path, port=free_port(), token="")


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    require_rasa_venv()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        server = RasaServer(RASA_VENV, tmp_path / "m", tmp_path / "w", port=sock.getsockname()[1], token="t")
        with pytest.raises(RasaServerError, match="in use"):
            server.start()


def test_invalid_data_is_refused_before_rasa_runs(tmp_path: Path, small_data: TrainingData) -> None:
    trainer = RasaTrainer(RASA_VENV, RASA_CONFIG, tmp_path / "m", tmp_path / "w")
    bad = small_data.with_examples(list(small_data.examples) + [Example("order_pizza", "pesan pizza")])
    with pytest.raises(TrainingDataError, match="order_pizza"):
        trainer.train(bad)
    assert not (tmp_path / "w").exists()


def test_failed_training_leaves_no_model_and_keeps_the_served_one(
    rasa_engine: RasaEngine, rasa_workdir: Path, small_data: TrainingData, tmp_path: Path
) -> None:
    broken = tmp_path / "config.yml"
    broken.write_text("recipe: default.v1\nassistant_id: x\nlanguage: id\npipeline:\n  - name: NoSuchComponent\n")
    models = rasa_workdir / "models"
    before_files = sorted(models.iterdir())
    before_model = rasa_engine.status().model_file
    trainer = RasaTrainer(RASA_VENV, broken, models, rasa_workdir, timeout=300)
    with pytest.raises(TrainingError, match="rasa train failed"):
        trainer.train(small_data)
    assert sorted(models.iterdir()) == before_files
    assert rasa_engine.status().model_file == before_model


def test_session_server_serves_the_newest_model(
    rasa_engine: RasaEngine, rasa_server: RasaServer, rasa_workdir: Path
) -> None:
    newest = latest_model(rasa_workdir / "models")
    assert newest is not None and newest.name == rasa_engine.status().model_file
    assert rasa_server.running() and rasa_server.host == "127.0.0.1"
    home = rasa_workdir / "home"
    assert home.is_dir()  # Rasa's HOME is ours, not the user's


def test_rasa_processes_see_only_warga_s_rasa_components(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/somewhere/of/the/gateway")
    env = rasa_environment(tmp_path / "home")
    assert env["PYTHONPATH"] == str(RASA_COMPONENTS_DIR)
    assert (RASA_COMPONENTS_DIR / "warga_rasa.py").is_file()
    assert "warga_rasa.TfidfFeaturizer" in RASA_CONFIG.read_text()
    assert env["RASA_TELEMETRY_ENABLED"] == "false" and env["HOME"] == str(tmp_path / "home")


def test_models_hold_no_pickled_featurizer(rasa_engine: RasaEngine, rasa_workdir: Path) -> None:
    """Warga's TF-IDF featurizer stores a vocabulary (JSON) and IDF weights (.npy), nothing pickled."""
    newest = latest_model(rasa_workdir / "models")
    assert newest is not None
    with tarfile.open(newest) as tar:
        names = tar.getnames()
    assert any(n.endswith("vocabulary.json") for n in names) and any(n.endswith("idf.npy") for n in names)
    assert not any(n.endswith((".pkl", ".pickle", ".joblib")) for n in names)
