"""Training into the registry, the gate's refusals with their reasons, activation, roll-back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.store.engine import make_engine, make_session_factory
from bot.store.models import NluChange, NluExample, NluModel
from bot.training.jobs import request_training, run_training
from bot.training.registry import Registry, active_model
from bot.training.store import TRAIN, Actor, TrainingInputError, TrainingStore, ensure_seeded
from tests.bot.training.data import write_small_data
from tests.conftest import make_settings, migrate

ADMIN = Actor("staff:admin")


@pytest.fixture
def world(sqlite_url, tmp_path):
    migrate(sqlite_url)
    settings = make_settings(sqlite_url, tmp_path, overrides={
        "nlu.data_dir": str(write_small_data(tmp_path / "data")),
        "nlu.models_dir": str(tmp_path / "models")})
    engine = make_engine(sqlite_url)
    yield settings, make_session_factory(engine)
    engine.dispose()


def version_of(s, version: str) -> NluModel:
    row = Registry(s).get(version)
    assert row is not None, version
    return row


def active_version(s) -> str | None:
    active = active_model(s)
    return active.version if active is not None else None


def train(world) -> NluModel:
    settings, sessions = world
    version = request_training(sessions, settings, ADMIN, start=False)
    with sessions() as s:
        model_id = version_of(s, version).id
    run_training(sessions, settings, model_id)
    with sessions() as s:
        return version_of(s, version)


def activate(world, version: str, reason: str = "") -> None:
    with world[1]() as s, s.begin():
        Registry(s).activate(version, ADMIN, override_reason=reason)


def test_a_trained_version_has_its_scores_picture_and_log_and_can_go_live(world):
    model = train(world)
    assert model.status == "trained", model.log
    assert model.accuracy is not None and model.accuracy > 0.6 and model.macro_f1 is not None
    assert model.cv_accuracy is not None and set(model.per_intent_f1) >= {"greet", "report_flood"}
    assert Path(model.confusion_path or "").is_file() and Path(model.model_path or "").is_file()
    assert "held-out split: accuracy" in model.log and model.examples == 96   # the train split only
    activate(world, model.version)
    with world[1]() as s:
        assert active_version(s) == model.version
        assert s.scalars(select(NluChange.kind).order_by(NluChange.id)).all()[-3:] == [
            "training_requested", "training_trained", "model_activated"]


def test_shuffled_labels_give_a_model_the_gate_refuses_with_the_reason(world):
    good = train(world)
    activate(world, good.version)
    settings, sessions = world
    with sessions() as s, s.begin():
        rows = s.scalars(select(NluExample).where(NluExample.split == TRAIN).order_by(NluExample.id)).all()
        intents = [r.intent for r in rows]
        for i, row in enumerate(rows[::2]):            # half the labels moved to another intent
            row.intent = intents[(2 * i + 37) % len(intents)] if intents[(2 * i + 37) % len(intents)] != row.intent \
                else intents[(2 * i + 61) % len(intents)]
    bad = train(world)
    assert bad.status == "refused"
    assert "lebih rendah dari model aktif" in (bad.refusal_reason or "")
    with pytest.raises(TrainingInputError, match="tulis alasan"):
        activate(world, bad.version)
    with sessions() as s:
        assert active_version(s) == good.version   # still the good one
    activate(world, bad.version, "uji coba sengaja, disetujui kepala dinas")
    with sessions() as s:
        assert active_version(s) == bad.version
        change = s.scalars(select(NluChange).order_by(NluChange.id.desc())).first()
        assert change.detail["override_reason"] == "uji coba sengaja, disetujui kepala dinas"
    with sessions() as s, s.begin():
        assert Registry(s).rollback(ADMIN) == good.version


def test_an_intent_with_a_single_example_is_refused_naming_the_intent(world):
    settings, sessions = world
    ensure_seeded(sessions, settings.nlu.data_dir)
    with sessions() as s, s.begin():
        store = TrainingStore(s)
        store.add_intent("ask_parking_permit", "", ADMIN)
        store.add_example("ask_parking_permit", "bagaimana mengurus izin parkir di kantor", ADMIN)
    model = train(world)
    assert model.status == "refused"
    assert "ask_parking_permit 0.00" in (model.refusal_reason or "")
    assert "one example: ask_parking_permit" in model.log


def test_one_training_at_a_time_and_a_failure_is_shown_and_changes_nothing(world):
    settings, sessions = world
    good = train(world)
    activate(world, good.version)
    request_training(sessions, settings, ADMIN, start=False)
    with pytest.raises(TrainingInputError, match="masih berjalan"):
        request_training(sessions, settings, ADMIN, start=False)
    with sessions() as s, s.begin():
        queued = Registry(s).running()
        assert queued is not None
        s.execute(update(NluExample).values(intent="greet"))    # one intent left: cannot train
    run_training(sessions, settings, queued.id)
    with sessions() as s:
        failed = version_of(s, queued.version)
        assert failed.status == "failed" and "two intents" in (failed.error or "")
        assert active_version(s) == good.version
    request_training(sessions, settings, ADMIN, start=False)   # the next one may start


def test_the_live_holder_switches_to_the_active_version_and_back(world):
    from bot.training.live import LiveNlu
    from nlu.sklearn_engine import SklearnEngine
    from tests.conftest import trained_models_dir

    settings, sessions = world
    base = SklearnEngine(trained_models_dir() / "sklearn")
    base.load()
    live = LiveNlu(base, sessions, settings)
    assert live.check_now() is None and live.current is base
    model = train(world)
    activate(world, model.version)
    assert live.check_now() == model.version
    parse = live.parse("ada banjir di depan rumah saya")
    assert parse.model_version == model.version and parse.intent == "report_flood"
    with sessions() as s, s.begin():
        Registry(s).rollback(ADMIN)
    assert live.check_now() is None and live.current is base
    live.close()


def test_a_training_whose_process_died_does_not_block_the_next_one(world):
    from datetime import timedelta

    from bot.store.models import utcnow

    settings, sessions = world
    start = utcnow()
    with sessions() as s, s.begin():
        row = Registry(s).request("sklearn", ADMIN, now=start)
        row.status, row.heartbeat_at = "training", start
    with sessions() as s, s.begin(), pytest.raises(TrainingInputError):
        Registry(s).request("sklearn", ADMIN, now=start + timedelta(seconds=60))   # still beating
    with sessions() as s, s.begin():
        fresh = Registry(s).request("sklearn", ADMIN, now=start + timedelta(minutes=5))   # no beat for 5 min
        assert fresh.status == "queued"
        dead = version_of(s, row.version)
        assert dead.status == "failed" and "berhenti sebelum selesai" in (dead.error or "")
