"""build_engine: the configured engine, always able to answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.factory import build_engine, build_sklearn_engine
from nlu.fallback import FallbackEngine
from nlu.rasa_engine import RasaEngine
from nlu.sklearn_engine import ModelLoadError, SklearnEngine
from nlu.training_data import TrainingDataError
from tests.nlu.conftest import nlu_config


def test_sklearn_engine_trains_a_first_model_then_reuses_it(tmp_path: Path) -> None:
    config = nlu_config(tmp_path, engine="sklearn")
    engine = build_engine(config)
    assert isinstance(engine, SklearnEngine) and engine.ready()
    again = build_sklearn_engine(config)
    assert again.model_version == engine.model_version


def test_without_a_model_and_no_training_it_says_so(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="warga nlu train"):
        build_sklearn_engine(nlu_config(tmp_path), train_if_missing=False)


def test_bad_data_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text("nlu:\n- intent: order_pizza\n  examples: |\n    - pizza\n")
    with pytest.raises(TrainingDataError, match="order_pizza"):
        build_engine(nlu_config(tmp_path, data_dir=tmp_path / "data"))


def test_rasa_engine_falls_back_when_no_server_runs(tmp_path: Path) -> None:
    engine = build_engine(nlu_config(tmp_path, engine="rasa", rasa_timeout=1.0))
    assert isinstance(engine, FallbackEngine)
    assert isinstance(engine.primary, RasaEngine) and isinstance(engine.secondary, SklearnEngine)
    assert engine.ready() and not engine.primary_ready()
    parse = engine.parse("banjir sepinggang di rumah saya")
    assert parse.engine == "sklearn" and parse.ranking[0][0] == "report_flood"
    assert engine.fallback_count == 1
