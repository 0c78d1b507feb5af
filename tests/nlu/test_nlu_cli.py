"""``warga nlu ...`` through click's CliRunner with a config in ctx.obj (tests for bot/nlu_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli.nlu import nlu_group
from nlu.config import NluConfig
from tests.nlu.conftest import nlu_config

HELDOUT = Path(__file__).resolve().parents[2] / "nlu" / "data" / "test" / "heldout.yml"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> NluConfig:
    return nlu_config(tmp_path_factory.mktemp("cli"), engine="sklearn")


def run(config: NluConfig, *args: str) -> Result:
    return CliRunner().invoke(nlu_group, list(args), obj=config, catch_exceptions=False)


def test_validate_project_data(config: NluConfig) -> None:
    result = run(config, "validate")
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output


def test_validate_broken_file_is_one_line_and_exit_1(config: NluConfig, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("nlu:\n- intent: greet\n  examples: |\n    - halo\n- intent: [oops\n")
    result = run(config, "validate", "--data", str(bad))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{bad}:" in result.output and "YAML syntax error" in result.output


def test_validate_unknown_intent(config: NluConfig, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("nlu:\n- intent: order_pizza\n  examples: |\n    - pesan pizza\n")
    result = run(config, "validate", "--data", str(bad))
    assert result.exit_code == 1 and "unknown intent 'order_pizza'" in result.output


def test_train_then_parse(config: NluConfig) -> None:
    result = run(config, "train", "--engine", "sklearn")
    assert result.exit_code == 0, result.output
    assert "sklearn: model" in result.output
    result = run(config, "parse", "cek status wrg 2026 123", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["intent"] == "check_status" and out["engine"] == "sklearn"
    assert out["entities"][0]["value"] == "WRG-2026-000123"
    assert set(out) >= {"intent", "confidence", "entities", "language", "ranking", "model_version"}
    human = run(config, "parse", "banjir di rumah saya")
    assert "report_flood" in human.output and "language    id" in human.output


def test_train_if_missing_skips_existing_models(config: NluConfig) -> None:
    run(config, "train", "--engine", "sklearn")
    active = (config.sklearn_models_dir / "ACTIVE").read_text()
    result = run(config, "train", "--engine", "sklearn", "--if-missing")
    assert result.exit_code == 0 and "not training" in result.output
    assert (config.sklearn_models_dir / "ACTIVE").read_text() == active


def test_train_with_bad_data_keeps_the_model_and_exits_1(config: NluConfig, tmp_path: Path) -> None:
    run(config, "train", "--engine", "sklearn")
    active = (config.sklearn_models_dir / "ACTIVE").read_text()
    bad = tmp_path / "bad.yml"
    bad.write_text("nlu:\n- intent: order_pizza\n  examples: |\n    - pesan pizza\n")
    result = run(config, "train", "--engine", "sklearn", "--data", str(bad))
    assert result.exit_code == 1 and "order_pizza" in result.output
    assert (config.sklearn_models_dir / "ACTIVE").read_text() == active


def test_evaluate_train_test_json(config: NluConfig, tmp_path: Path) -> None:
    png = tmp_path / "cm.png"
    result = run(
        config,
        "evaluate",
        "--train",
        str(config.data_dir),
        "--test",
        str(HELDOUT),
        "--engine",
        "sklearn",
        "--json",
        "--png",
        str(png),
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["accuracy"] > 0.8 and out["macro_f1"] > 0.8
    assert "per_intent" in out and "worst_confusions" in out
    assert png.is_file() and out["confusion_png"] == str(png)


def test_evaluate_cross_validation_text(config: NluConfig, tmp_path: Path) -> None:
    result = run(config, "evaluate", "--folds", "3", "--png", str(tmp_path / "cv.png"))
    assert result.exit_code == 0, result.output
    assert "3-fold cross-validation" in result.output and "worst confusions" in result.output


def test_evaluate_needs_train_and_test_together(config: NluConfig) -> None:
    result = CliRunner().invoke(nlu_group, ["evaluate", "--train", "x.yml"], obj=config)
    assert result.exit_code == 2 and "--train and --test go together" in result.output


def test_rasa_parse_without_server_falls_back(config: NluConfig) -> None:
    from dataclasses import replace

    result = run(replace(config, engine="rasa", rasa_timeout=1.0), "parse", "halo min", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[-1])["engine"] == "sklearn"


def test_serve_without_model_and_no_train_is_one_line(config: NluConfig) -> None:
    result = run(config, "serve", "--no-train")
    assert result.exit_code == 1
    assert result.output.startswith("error: no Rasa model") and "Traceback" not in result.output


def test_parse_shows_a_question_asked_inside_a_complaint(config: NluConfig) -> None:
    assert run(config, "train", "--engine", "sklearn", "--if-missing").exit_code == 0
    text = ("Selamat pagi. Sampah di TPS Jl. Kenari RT 05 sudah seminggu tidak diangkut dan baunya sampai "
            "ke rumah warga. Sekalian mau tanya, bagaimana cara membayar PBB secara online? Terima kasih.")
    out = json.loads(run(config, "parse", text, "--json").output)
    assert out["intent"] == "report_garbage" and out["secondary_intent"] == "ask_tax"
    assert [p["role"] for p in out["parts"]][0] == "courtesy"
    assert {"text": "Terima kasih", "role": "courtesy", "intent": "thank"}.items() <= out["parts"][-1].items()
    human = run(config, "parse", text).output
    assert "also        ask_tax" in human
    assert "part        secondary ask_tax" in human


def test_an_external_rasa_server_is_neither_trained_nor_started(tmp_path: Path) -> None:
    external = nlu_config(tmp_path, engine="rasa", rasa_url="https://nlu.kota.test")
    for args in (("train", "--engine", "rasa"), ("train", "--engine", "all"), ("serve",)):
        result = run(external, *args)
        assert result.exit_code == 1, result.output
        assert "nlu.rasa_url points at your own Rasa server (https://nlu.kota.test)" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "models").exists() and not (tmp_path / "var").exists()
    # By default only the sklearn fallback is trained, and it says why.
    result = run(external, "train")
    assert result.exit_code == 0, result.output
    assert "trained where it runs; training the sklearn fallback only" in result.output
    assert "sklearn: model" in result.output and "rasa: training" not in result.output
    assert not (tmp_path / "models" / "rasa").exists()
