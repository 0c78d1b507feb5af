"""Training data in the database: seeding, the fixed held-out split, import/export, history."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from bot.store.engine import make_engine, make_session_factory
from bot.store.models import NluChange, NluExample
from bot.training.store import HELDOUT, TRAIN, Actor, TrainingInputError, TrainingStore, ensure_seeded
from nlu.training_data import TrainingDataError
from nlu.training_reader import parse_training_yaml
from tests.bot.training.data import small_data, write_small_data
from tests.conftest import migrate
from tests.support import PROJECT

ADMIN = Actor("staff:admin", None)


@pytest.fixture
def sessions(db_url):
    migrate(db_url)
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def test_seed_fills_the_tables_once_with_a_stratified_held_out_split(sessions, tmp_path):
    data_dir = write_small_data(tmp_path / "data", per_intent=20)
    assert ensure_seeded(sessions, data_dir) == 120
    assert ensure_seeded(sessions, data_dir) == 0      # idempotent: the second start adds nothing
    with sessions() as s:
        counts = TrainingStore(s).counts()
        for intent in small_data().intents:
            assert counts[intent] == {TRAIN: 16, HELDOUT: 4}   # 20% of each intent set aside
        history = s.scalars(select(NluChange.kind)).all()
    assert history == ["seeded"]


def test_the_split_is_decided_by_the_text_not_by_the_order(sessions, tmp_path, sqlite_url):
    data = small_data()
    with sessions() as s, s.begin():
        TrainingStore(s).import_data(data, ADMIN)
    other = make_session_factory(make_engine(sqlite_url))
    migrate(sqlite_url)
    with other() as s, s.begin():
        TrainingStore(s).import_data(data.with_examples(reversed(data.examples)), ADMIN)

    def held(factory):
        with factory() as s:
            return set(s.scalars(select(NluExample.text).where(NluExample.split == HELDOUT)))
    assert held(sessions) == held(other) and held(sessions)


def test_export_then_import_means_the_same(sessions, sqlite_url):
    """The round trip keeps intents, examples, entity spans, synonyms, regexes and lookups."""
    with sessions() as s, s.begin():
        store = TrainingStore(s)
        store.seed(PROJECT / "nlu" / "data")
        before = store.snapshot()
    assert any(e.entities for e in before.examples) and before.synonyms and before.regexes and before.lookups
    exported = before.to_yaml()
    parsed, problems = parse_training_yaml(exported, "export.yml")
    assert not [p for p in problems if p.severity == "error"]
    migrate(sqlite_url)
    fresh = make_session_factory(make_engine(sqlite_url))
    with fresh() as s, s.begin():
        TrainingStore(s).import_data(parsed, ADMIN)
        after = TrainingStore(s).snapshot()
    assert after.fingerprint() == before.fingerprint()
    assert Counter(after.labels()) == Counter(before.labels())


def test_an_import_with_an_error_changes_nothing(sessions, tmp_path):
    with sessions() as s, s.begin():
        TrainingStore(s).import_data(small_data(), ADMIN)
    flood = small_data().examples[5]   # in the database, not in the file below
    bad = small_data().with_examples([
        *small_data(3).examples,
        type(flood)("new_intent_ok", "kalimat baru yang sah"),
        type(flood)("greet", flood.text),            # already under report_flood
    ])
    with sessions() as s:
        n = s.scalar(select(func.count()).select_from(NluExample))
    with sessions() as s, s.begin(), pytest.raises(TrainingDataError) as err:
        TrainingStore(s).import_data(bad, ADMIN)
    assert "already under 'report_flood'" in str(err.value)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(NluExample)) == n
        assert "new_intent_ok" not in TrainingStore(s).intent_names()


def test_new_intents_and_examples_are_added_checked_and_recorded(sessions):
    with sessions() as s, s.begin():
        store = TrainingStore(s)
        store.import_data(small_data(), ADMIN)
        store.add_intent("ask_parking_permit", "Izin parkir", ADMIN)
        row = store.add_example("ask_parking_permit", "  bagaimana cara   urus izin parkir  ", ADMIN,
                                entities=[])
        assert row.text == "bagaimana cara urus izin parkir" and row.split == TRAIN
        with pytest.raises(TrainingInputError):
            store.add_intent("Ask Parking!", "", ADMIN)
        with pytest.raises(TrainingInputError):
            store.add_example("ask_parking_permit", "Bagaimana cara URUS izin parkir", ADMIN)  # same sentence
        with pytest.raises(TrainingInputError):
            store.add_example("no_such_intent", "apa saja", ADMIN)
        with pytest.raises(TrainingInputError):
            store.add_example("report_flood", "banjir di jalan mawar", ADMIN,
                              entities=[{"entity": "password", "start": 0, "end": 6}])
        located = store.add_example("report_flood", "banjir di jalan mawar", ADMIN,
                                    entities=[{"entity": "location", "start": 10, "end": 21}])
        assert located.entities[0]["text"] == "jalan mawar"
        store.update_example(located.id, "report_flood", "banjir besar di jalan mawar", ADMIN,
                             entities=located.entities)          # the mark moves with its words
        assert located.entities[0]["start"] == 16 and located.entities[0]["text"] == "jalan mawar"
        store.update_example(located.id, "report_flood", "banjir besar di gang kenanga", ADMIN,
                             entities=located.entities)          # its words are gone: so is the mark
        assert located.entities == []
        store.delete_example(row.id, ADMIN)
        kinds = [c.kind for c in store.history()]
    assert kinds[:5] == ["example_deleted", "example_changed", "example_changed", "example_added", "example_added"]
    assert "intent_added" in kinds
