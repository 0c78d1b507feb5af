"""Evaluation on anyone's data, calibration with tiny intents, and `warga nlu serve` on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import bot.cli.nlu as nlu_cli
from bot.cli.nlu import nlu_group
from nlu.config import NluConfig
from nlu.datasets import load_conll, load_dataset
from nlu.evaluate import train_and_evaluate_sklearn
from nlu.rasa_server import RasaServer
from nlu.scores import Prediction, score
from nlu.sklearn_training import fit_model
from nlu.training_data import TrainingData
from nlu.training_reader import load_training_data
from tests.nlu.conftest import HELDOUT, nlu_config
from tests.support import wait_for


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> NluConfig:
    return nlu_config(tmp_path_factory.mktemp("tooling"), engine="sklearn")


def run(config: NluConfig, *args: str) -> Result:
    return CliRunner().invoke(nlu_group, list(args), obj=config, catch_exceptions=False)


# -- calibration with an intent that has one example ------------------------------------------


def test_an_intent_with_one_example_leaves_every_other_intent_understood(project_data: TrainingData) -> None:
    """One intent cut down to one example: the model trains, says which intent is too small,
    and every other intent of the held-out set is understood as well as before (confidence
    calibration still works for them; it used to switch off and push 100% below threshold)."""
    heldout = load_training_data(HELDOUT)
    kept_one = False
    examples = []
    for ex in project_data.examples:
        if ex.intent == "ask_tax":
            if kept_one:
                continue
            kept_one = True
        examples.append(ex)
    tiny = project_data.with_examples(examples)
    others = heldout.with_examples([ex for ex in heldout.examples if ex.intent != "ask_tax"])

    full = train_and_evaluate_sklearn(project_data, others)
    report = train_and_evaluate_sklearn(tiny, others)

    assert report.fallback_rate < 0.15, f"{report.fallback_rate:.0%} of answers below the threshold"
    assert report.fallback_rate <= full.fallback_rate + 0.02
    assert report.accuracy >= full.accuracy - 0.02
    worst_recall = min(s.recall for s in report.per_intent if s.support >= 5)
    assert worst_recall >= 0.5
    notes = fit_model(tiny).info.notes
    assert len(notes) == 1 and "ask_tax" in notes[0] and "calibration" in notes[0]


def test_training_names_the_tiny_intent_on_the_command_line(config: NluConfig, tmp_path: Path) -> None:
    data = load_training_data(config.data_dir)
    seen: set[str] = set()
    examples = []
    for ex in data.examples:
        if ex.intent == "ask_tax" and ex.intent in seen:
            continue
        seen.add(ex.intent)
        examples.append(ex)
    path = tmp_path / "tiny.yml"
    path.write_text(data.with_examples(examples).to_yaml(), encoding="utf-8")
    result = run(config, "train", "--engine", "sklearn", "--data", str(path))
    assert result.exit_code == 0, result.output + result.stderr
    assert "ask_tax" in result.stderr and "calibration" in result.stderr


# -- scoring -----------------------------------------------------------------------------------


def test_macro_f1_averages_over_labels_only_predicted() -> None:
    """A label the engine predicts but the test set never has counts with F1 0 (as scikit-learn)."""
    preds = [
        Prediction("a", "greet", "greet", 0.9, True),
        Prediction("b", "thank", "order_pizza", 0.9, True),
    ]
    report = score(preds, engine="x", method="t")
    # greet 1.0, thank 0.0, order_pizza 0.0
    assert report.macro_f1 == round(1 / 3, 4)


# -- `warga nlu evaluate` on foreign data --------------------------------------------------------

FOREIGN_TRAIN = """\
nlu:
- intent: order_pizza
  examples: |
    - pesan pizza dong
    - saya mau pizza keju
    - order a pepperoni pizza
    - satu pizza besar ya
    - pizza margherita dua
    - mau pesan pizza untuk malam ini
- intent: book_taxi
  examples: |
    - pesan taksi ke bandara
    - tolong panggilkan taksi
    - book a taxi to the station
    - saya butuh taksi sekarang
    - taksi ke stasiun gambir
    - ada taksi kosong?
    - pizza taksi
- intent: weather
  examples: |
    - apakah besok hujan
    - cuaca hari ini bagaimana
    - will it rain tomorrow
    - panas tidak hari ini
    - ramalan cuaca jakarta
    - pizza taksi
"""

FOREIGN_TEST = """\
nlu:
- intent: order_pizza
  examples: |
    - pesan pizza keju satu
- intent: book_taxi
  examples: |
    - panggil taksi ke bandara
- intent: play_music
  examples: |
    - putar lagu dangdut
"""


def test_evaluate_accepts_any_intents_and_reports_unseen_ones(config: NluConfig, tmp_path: Path) -> None:
    train = tmp_path / "train.yml"
    test = tmp_path / "test.yml"
    train.write_text(FOREIGN_TRAIN)
    test.write_text(FOREIGN_TEST)
    result = run(
        config, "evaluate", "--train", str(train), "--test", str(test), "--engine", "sklearn", "--json",
        "--png", str(tmp_path / "cm.png"),
    )
    assert result.exit_code == 0, result.output + result.stderr
    out = json.loads(result.stdout)
    assert out["examples"] == 3
    assert out["unseen_intents"] == ["play_music"]
    assert "filed under two intents" in result.stderr and "play_music" in result.stderr
    text = run(config, "evaluate", "--train", str(train), "--test", str(test), "--png", str(tmp_path / "c.png"))
    assert text.exit_code == 0, text.output + text.stderr
    assert "never in the training data" in text.stdout and "play_music" in text.stdout


CONLL = """\
# id = 1
# text = Apakah akan hujan hari ini?
# intent = weather/find
1\tApakah\tweather/find\tO

# id = 2
# text = setel alarm jam 7 pagi
# intent = alarm/set_alarm
1\tsetel\talarm/set_alarm\tO
"""


def test_conll_files_are_read_with_rasa_safe_intent_names(tmp_path: Path) -> None:
    path = tmp_path / "x.conll"
    path.write_text(CONLL)
    data = load_conll(path)
    assert [(e.intent, e.text) for e in data.examples] == [
        ("weather__find", "Apakah akan hujan hari ini?"),
        ("alarm__set_alarm", "setel alarm jam 7 pagi"),
    ]
    assert load_dataset(path).examples == data.examples


def test_data_without_test_file_says_it_cross_validates(config: NluConfig, tmp_path: Path) -> None:
    result = run(config, "evaluate", "--data", str(HELDOUT), "--folds", "2", "--png", str(tmp_path / "cv.png"))
    assert result.exit_code == 0, result.output + result.stderr
    assert "NOTE: cross-validating (2 folds)" in result.stdout and "--test-file" in result.stdout
    assert "2-fold cross-validation" in result.stdout


# -- `warga nlu serve` on SIGTERM --------------------------------------------------------------


class _SleepingServer(RasaServer):
    """A RasaServer whose process is a sleeping Python (no Rasa needed): what is tested is the
    foreground command's signal handling around a real child process."""

    def start(self) -> RasaServer:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
        )
        return self

    def wait_ready(self, timeout: float = 120.0, *, require_model: bool = True) -> None:
        return None


def test_serve_stops_cleanly_on_sigterm(config: NluConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server = _SleepingServer(tmp_path, tmp_path / "models", tmp_path, port=1, token="t")
    monkeypatch.setattr(nlu_cli, "build_rasa_server", lambda cfg: server)
    monkeypatch.setattr(nlu_cli, "latest_model", lambda directory: tmp_path / "model.tar.gz")
    before = signal.getsignal(signal.SIGTERM)

    def terminate_when_serving() -> None:
        wait_for(lambda: server._proc is not None, what="the server process to start")
        os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=terminate_when_serving)
    sender.start()
    proc_holder: list[subprocess.Popen[bytes]] = []
    original_start = server.start

    def start_and_remember() -> RasaServer:
        result = original_start()
        assert server._proc is not None
        proc_holder.append(server._proc)
        return result

    monkeypatch.setattr(server, "start", start_and_remember)
    result = run(config, "serve")
    sender.join()
    assert result.exit_code == 0, result.output + result.stderr
    assert "rasa: stopping" in result.stdout
    assert proc_holder and proc_holder[0].poll() is not None, "the server process was left running"
    assert signal.getsignal(signal.SIGTERM) == before
