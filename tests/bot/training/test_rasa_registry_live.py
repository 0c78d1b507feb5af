"""Must hold (issue 13 with nlu.engine rasa): a training job trains a Rasa version scored on the
held-out split; activating it makes Warga's own Rasa server answer with it (the version's
sklearn twin answering during the load) and rolling back undoes it.

A REAL Rasa 3.6 server from .venv-rasa, started as the supervisor starts it (the newest model
in <models_dir>/rasa: the installation's own, here the test run's small model, which has never
seen a street light). Costs a Rasa training (the version), a throw-away scoring server and
three model loads: one to three minutes, depending on the machine's load.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.runtime.nlu import build_nlu
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import NluExample, NluModel
from bot.training.jobs import request_training, run_training
from bot.training.live import LiveNlu
from bot.training.rasa_switch import server_lock
from bot.training.registry import Registry
from bot.training.store import TRAIN, Actor
from nlu.rasa_server import RasaServer, latest_model
from tests.bot.training.data import write_small_data
from tests.conftest import make_settings, migrate, trained_models_dir
from tests.nlu.conftest import small_rasa_model
from tests.support import PROJECT, free_port, wait_for

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

ADMIN = Actor("staff:admin")
RASA_VENV = PROJECT / ".venv-rasa"
#: The intent only the new version knows.
NEW = "report_street_light"


@dataclass(frozen=True)
class World:
    settings: Any
    sessions: Any
    server: RasaServer
    initial: str          # the version Rasa reports for the installation's own model
    version: str          # the trained registry version


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not (RASA_VENV / "bin" / "rasa").is_file():
        pytest.fail(f"Rasa is not installed at {RASA_VENV}: run `make rasa-venv` (these tests need a real server)")
    tmp = tmp_path_factory.mktemp("rasareg")
    url = f"sqlite:///{tmp / 'warga.db'}"
    migrate(url)
    models, var = tmp / "models", tmp / "var"
    shutil.copytree(trained_models_dir() / "sklearn", models / "sklearn")
    # The installation's own Rasa model, as the supervisor trains it at first start: it has
    # never seen a street light (the test run's small model: only that matters here).
    (models / "rasa").mkdir(parents=True)
    shutil.copy2(small_rasa_model(), models / "rasa")
    initial = latest_model(models / "rasa")
    assert initial is not None
    token = secrets.token_hex(12)
    server = RasaServer(RASA_VENV, models / "rasa", var, port=free_port(), token=token).start()
    try:
        settings = make_settings(url, tmp, env={"WARGA_NLU_RASA_TOKEN": token}, overrides={
            "nlu.engine": "rasa", "nlu.models_dir": str(models), "nlu.var_dir": str(var),
            "nlu.rasa_port": server.port, "nlu.rasa_timeout": 30, "nlu.live_check_seconds": 3600,
            "nlu.data_dir": str(write_small_data(tmp / "data")),
            # The gate has its own tests; here every trained version may go live.
            "nlu.gate_intent_f1_floor": 0.0})
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        version = request_training(sessions, settings, ADMIN, start=False)   # trains while the server starts
        with sessions() as s:
            row = Registry(s).get(version)
            assert row is not None
            model_id = row.id
        run_training(sessions, settings, model_id)
        server.wait_ready(180)
        yield World(settings, sessions, server, initial.name.removeprefix("rasa-").removesuffix(".tar.gz"), version)
        engine.dispose()
    finally:
        server.stop()


def test_a_rasa_training_job_gives_a_version_scored_by_rasa_on_the_held_out_split(world: World) -> None:
    with world.sessions() as s:
        row = Registry(s).get(world.version)
        assert row is not None
    assert row.engine == "rasa" and row.status == "trained", row.log
    assert row.accuracy is not None and row.accuracy > 0.5 and row.macro_f1 is not None
    assert row.cv_accuracy is not None and NEW in row.per_intent_f1
    assert row.model_path == str(Path(world.settings.nlu.models_dir) / "registry" / f"{world.version}.tar.gz")
    assert Path(row.model_path).is_file() and Path(row.twin_path or "").is_file()
    assert Path(row.confusion_path or "").is_file()
    methods = row.score_methods or {}
    assert methods["heldout"].startswith("Rasa, held-out split") and methods["cv"].startswith("sklearn twin")
    for line in ("sklearn twin trained", "training Rasa", "Rasa trained in",
                 "scoring Rasa on the held-out split", "Rasa, held-out split: accuracy", "gate: passed"):
        assert line in row.log, line


def test_activation_makes_rasa_answer_with_the_version_the_twin_answering_during_the_load(world: World) -> None:
    with world.sessions() as s:
        # A sentence of the new intent the version was trained on.
        street_light = s.scalar(select(NluExample.text).where(NluExample.intent == NEW, NluExample.split == TRAIN)
                                .order_by(NluExample.id).limit(1))
        assert street_light is not None
    live = LiveNlu(build_nlu(world.settings), world.sessions, world.settings)
    try:
        before = live.parse(street_light)
        assert (before.engine, before.model_version) == ("rasa", world.initial) and before.intent != NEW

        with server_lock(world.settings.nlu.var_dir):      # as if another process were loading it
            with world.sessions() as s, s.begin():
                Registry(s).activate(world.version, ADMIN)
            assert live.check_now() == world.version and live.loading
            meanwhile = live.parse(street_light)
            assert (meanwhile.engine, meanwhile.model_version, meanwhile.intent) == ("sklearn", world.version, NEW)
        wait_for(lambda: not live.loading, 180, "the Rasa server to serve the version")
        after = live.parse(street_light)
        assert (after.engine, after.model_version, after.intent) == ("rasa", world.version, NEW)

        with world.sessions() as s, s.begin():
            assert Registry(s).rollback(ADMIN) is None       # back to the installation's own model
        assert live.check_now() is None
        wait_for(lambda: not live.loading, 180, "the Rasa server to serve the installation's model again")
        back = live.parse(street_light)
        assert (back.engine, back.model_version) == ("rasa", world.initial) and back.intent != NEW
    finally:
        live.close()
    with world.sessions() as s:
        assert s.scalar(select(NluModel.status).where(NluModel.version == world.version)) == "trained"
