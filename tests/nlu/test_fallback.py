"""Per-message fallback from Rasa to the in-process engine.

The first tests use two small engines that implement the NluEngine protocol (the seam); the
last one stops a REAL Rasa server mid-test and checks the sklearn engine answers instead.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlu.base import NluError, Parse
from nlu.fallback import FallbackEngine
from nlu.rasa_engine import RasaEngine
from nlu.rasa_server import RasaServer, latest_model
from nlu.sklearn_engine import SklearnEngine
from nlu.sklearn_training import fit_model
from nlu.training_data import TrainingData
from tests.support import free_port


class ScriptedEngine:
    """Answers or fails as told (an NluEngine at the protocol seam)."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.calls = 0

    def parse(self, text: str) -> Parse:
        self.calls += 1
        if self.fail:
            raise NluError(f"{self.name} is down", retryable=True)
        return Parse(text, "greet", 0.9, (("greet", 0.9),), (), "id", self.name, "v1")

    def ready(self) -> bool:
        return not self.fail


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_primary_answers_when_up() -> None:
    primary, secondary = ScriptedEngine("rasa"), ScriptedEngine("sklearn")
    engine = FallbackEngine(primary, secondary)
    assert engine.parse("halo").engine == "rasa"
    assert engine.fallback_count == 0 and engine.stats().primary == 1
    assert engine.name == "rasa+sklearn" and engine.ready()


def test_failure_falls_back_counts_logs_and_skips_the_primary_for_a_while(caplog: pytest.LogCaptureFixture) -> None:
    primary, secondary = ScriptedEngine("rasa", fail=True), ScriptedEngine("sklearn")
    clock = Clock()
    engine = FallbackEngine(primary, secondary, retry_after=10, clock=clock)
    assert engine.parse("halo").engine == "sklearn"
    assert engine.parse("halo lagi").engine == "sklearn"
    assert primary.calls == 1  # skipped the second time: one timeout, not one per message
    assert engine.fallback_count == 2
    assert "rasa is down" in (engine.stats().last_error or "")
    assert "nlu fallback" in caplog.text
    primary.fail = False
    clock.now += 11
    assert engine.parse("halo").engine == "rasa"
    assert engine.stats().primary == 1 and engine.fallback_count == 2
    assert engine.ready() and engine.primary_ready()


def test_the_primary_is_asked_again_at_once_when_it_is_known_to_be_back() -> None:
    primary, secondary = ScriptedEngine("rasa", fail=True), ScriptedEngine("sklearn")
    engine = FallbackEngine(primary, secondary, retry_after=600, clock=Clock())
    assert engine.parse("halo").engine == "sklearn"
    assert engine.primary_skipped()
    primary.fail = False
    assert engine.parse("halo").engine == "sklearn"  # still skipped: nobody said it is back
    engine.retry_primary()  # the Rasa supervisor saw the server ready
    assert not engine.primary_skipped()
    assert engine.parse("halo").engine == "rasa"


def test_both_down_is_an_error() -> None:
    engine = FallbackEngine(ScriptedEngine("rasa", fail=True), ScriptedEngine("sklearn", fail=True))
    with pytest.raises(NluError):
        engine.parse("halo")
    assert not engine.ready()


@pytest.fixture()
def own_rasa_server(rasa_engine: RasaEngine, rasa_server: RasaServer, rasa_workdir: Path) -> Iterator[RasaServer]:
    """A second real server with the session's small model, so this test may stop it."""
    model = latest_model(rasa_workdir / "models")
    assert model is not None
    server = RasaServer(
        rasa_server.venv,
        rasa_workdir / "models",
        rasa_workdir / "second",
        port=free_port(),
        token=secrets.token_hex(8),
        model=model,
    )
    server.start()
    try:
        server.wait_ready(180)
        yield server
    finally:
        server.stop()


@pytest.mark.rasa
def test_real_rasa_stopped_mid_test_falls_back_to_sklearn(
    own_rasa_server: RasaServer, small_data: TrainingData, tmp_path: Path
) -> None:
    rasa = RasaEngine(own_rasa_server.url, own_rasa_server.token, threshold=0.5, timeout=5.0)
    local = SklearnEngine(tmp_path, threshold=0.5, model=fit_model(small_data))
    engine = FallbackEngine(rasa, local, retry_after=0.0)

    before = engine.parse("cek status laporan WRG-2026-000123")
    assert before.engine == "rasa"
    assert before.entity("ticket_id") == "WRG-2026-000123"
    assert engine.fallback_count == 0

    own_rasa_server.stop()
    assert not own_rasa_server.running()

    after = engine.parse("cek status laporan WRG-2026-000123")
    assert after.engine == "sklearn"
    assert after.ranking[0][0] == "check_status"
    assert after.entity("ticket_id") == "WRG-2026-000123"
    assert engine.fallback_count == 1
    assert not engine.primary_ready() and engine.ready()
    rasa.close()
