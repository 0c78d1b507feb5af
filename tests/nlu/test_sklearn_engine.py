"""The in-process engine: training, parsing, persistence, bad input (speed: bench/nlu_bench.py)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from nlu.base import NluEngine, NluError, Trainer
from nlu.sklearn_engine import ModelLoadError, SklearnEngine, active_model_path, load_model
from nlu.sklearn_training import fit_model
from nlu.training_data import Example, TrainingData, TrainingDataError


@pytest.fixture(scope="module")
def trained(project_data: TrainingData, tmp_path_factory: pytest.TempPathFactory) -> SklearnEngine:
    engine = SklearnEngine(tmp_path_factory.mktemp("models"), threshold=0.5)
    engine.train(project_data)
    return engine


def test_is_an_engine_and_a_trainer(trained: SklearnEngine) -> None:
    assert isinstance(trained, NluEngine) and isinstance(trained, Trainer)
    assert trained.ready() and trained.name == "sklearn"


# How fast training and parsing are is measured by bench/nlu_bench.py (docs/BENCHMARKS.md), not
# asserted here: a loaded CI machine would fail a speed target without anything being wrong.
def test_trains_on_the_full_data(project_data: TrainingData, tmp_path: Path) -> None:
    engine = SklearnEngine(tmp_path)
    version = engine.train(project_data)
    assert engine.ready() and engine.model_version == version
    assert engine.parse("banjir sepinggang di rumah saya").ranking[0][0] == "report_flood"


@pytest.mark.parametrize(
    "text, intent",
    [
        ("jalan depan rumah saya bolong, bahaya", "report_road_damage"),
        ("gw mau lapor, sampah udah 3 hari ga diangkut", "report_garbage"),
        ("banjir sepinggang di rumah saya", "report_flood"),
        ("lampu jalan mati, gelap banget", "report_street_light"),
        ("cek status WRG-2026-000123", "check_status"),
        ("how do I renew my ID card?", "ask_id_card"),
        ("halo selamat pagi", "greet"),
        ("makasih ya min", "thank"),
        ("saya mau bicara dengan petugas", "request_human"),
    ],
)
def test_understands_typical_messages(trained: SklearnEngine, text: str, intent: str) -> None:
    parse = trained.parse(text)
    assert parse.ranking[0][0] == intent
    assert parse.engine == "sklearn" and parse.model_version == trained.model_version


def test_parse_fields(trained: SklearnEngine) -> None:
    parse = trained.parse("cek status wrg 2026 123 di jl. melati")
    assert parse.entity("ticket_id") == "WRG-2026-000123"
    assert parse.entity("location") == "jl. melati"
    assert parse.language == "id"
    confidences = [c for _, c in parse.ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert all(isinstance(i, str) for i, _ in parse.ranking)
    assert 0.0 <= parse.confidence <= 1.0 and parse.confidence == parse.ranking[0][1]
    assert abs(sum(c for _, c in parse.ranking) - 1.0) < 0.05 or len(parse.ranking) == 10


def test_threshold_turns_unsure_answers_into_none(trained: SklearnEngine) -> None:
    strict = SklearnEngine(trained.models_dir, threshold=0.999999, model=trained.model)
    parse = strict.parse("hmm gimana ya")
    assert parse.intent is None and parse.ranking


@pytest.mark.parametrize(
    "text",
    ["", "   ", "😀😀😀🙏", "\x00\x01\x02\x7f", "\udcff\ud800", "🔥" * 3000, "?!... ---"],
)
def test_nothing_to_understand_gives_none(trained: SklearnEngine, text: str) -> None:
    parse = trained.parse(text)
    assert parse.intent is None and parse.confidence == 0.0 and parse.text == text


@pytest.mark.parametrize(
    "text",
    [
        "jalan rusak " * 1000,  # 12,000 characters
        "x" * 10_000,
        "asdkjh qwezxc plmokn",
        "\udcff\ud800 junk \x00",
    ],
)
def test_long_and_junk_input_is_answered(trained: SklearnEngine, text: str) -> None:
    parse = trained.parse(text)
    assert parse.intent in (None, "out_of_scope", "report_road_damage")
    for e in parse.entities:
        assert text[e.start : e.end] == e.text


def test_saved_model_loads_in_a_new_engine(trained: SklearnEngine) -> None:
    fresh = SklearnEngine(trained.models_dir)
    assert not fresh.ready()
    with pytest.raises(NluError):
        fresh.parse("halo")
    assert fresh.load() == trained.model_version
    assert fresh.parse("halo min").ranking == trained.parse("halo min").ranking


def test_version_is_timestamp_and_data_hash(trained: SklearnEngine, project_data: TrainingData) -> None:
    version = trained.model_version or ""
    assert version.endswith(project_data.fingerprint())
    assert active_model_path(trained.models_dir).name == f"sklearn-{version}.pkl"  # type: ignore[union-attr]


def test_failed_training_keeps_the_active_model(project_data: TrainingData, tmp_path: Path) -> None:
    engine = SklearnEngine(tmp_path)
    first = engine.train(project_data)
    bad = project_data.with_examples(list(project_data.examples) + [Example("order_pizza", "pesan pizza")])
    with pytest.raises(TrainingDataError, match="order_pizza"):
        engine.train(bad)
    one_intent = TrainingData((Example("greet", "halo"), Example("greet", "hai")))
    with pytest.raises(TrainingDataError):
        engine.train(one_intent)
    assert engine.model_version == first
    assert SklearnEngine(tmp_path).load() == first


def test_unusable_model_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="warga nlu train"):
        SklearnEngine(tmp_path).load()
    junk = tmp_path / "sklearn-20260101-000000-abc.pkl"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(ModelLoadError):
        load_model(junk)
    with pytest.raises(ModelLoadError):
        SklearnEngine(tmp_path).load()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("encoding", ["latin-1", "utf-8"])
def test_binary_junk_gets_no_intent(trained: SklearnEngine, seed: int, encoding: str) -> None:
    junk = random.Random(seed).randbytes(300 * (seed + 1)).decode(encoding, errors="replace")
    parse = trained.parse(junk)
    assert parse.intent is None and parse.confidence == 0.0


def test_models_of_an_older_format_are_refused(trained: SklearnEngine, tmp_path: Path) -> None:
    import dataclasses

    from nlu.sklearn_engine import save_model

    assert trained.model is not None
    save_model(dataclasses.replace(trained.model, format=1), tmp_path)
    with pytest.raises(ModelLoadError, match="older"):
        SklearnEngine(tmp_path).load()


def test_fast_scoring_equals_scikit_learn(trained: SklearnEngine, project_data: TrainingData) -> None:
    model = trained.model
    assert model is not None
    texts = [ex.text for ex in project_data.examples[::7]] + [
        "", "zzzz qqqq", "WRG-2026-000001", "jalan jalan  rusak\tJALAN rusak", "a b c d"]
    norm = [model.normalizer.features(t) for t in texts]
    # The reference: scikit-learn's own transform and decision function.
    reference = np.atleast_2d(model.classifier.decision_function(model.features.transform(norm)))
    # Twice: the second pass reads every word's n-grams from the scorer's cache.
    for _ in range(2):
        fast = np.vstack([model.scorer.scores(f) for f in norm])
        assert np.allclose(fast, reference, atol=1e-9)


def test_fit_model_is_deterministic(project_data: TrainingData) -> None:
    small = project_data.subset(range(0, len(project_data.examples), 4))
    a, b = fit_model(small), fit_model(small)
    text = "sampah numpuk di jl. melati"
    assert np.allclose(a.probabilities([text]), b.probabilities([text]))


def test_a_model_file_read_again_is_shared_and_another_file_is_read(trained: SklearnEngine, tmp_path: Path) -> None:
    source = active_model_path(trained.models_dir)
    assert source is not None
    copy = tmp_path / source.name
    copy.write_bytes(source.read_bytes())
    first = load_model(copy)
    assert load_model(copy) is first                  # the next app of a process shares it
    other = tmp_path / "sklearn-other.pkl"
    other.write_bytes(source.read_bytes())
    again = load_model(other)
    assert again is not first and again.info == first.info
    copy.write_bytes(b"not a pickle any more")        # changed in place: read, and refused
    with pytest.raises(ModelLoadError):
        load_model(copy)


def test_the_word_cache_stays_bounded_and_scores_stay_exact(trained: SklearnEngine,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import nlu.sklearn_engine as engine_module

    model = trained.model
    assert model is not None
    monkeypatch.setattr(engine_module, "WORD_CACHE_SIZE", 3)
    long_word = "x" * (engine_module.WORD_CACHE_CHARS + 1)
    text = model.normalizer.features(f"lampu jalan mati total di gang kelinci sejak kemarin malam {long_word}")
    reference = model.classifier.decision_function(model.features.transform([text]))[0]
    for _ in range(3):
        assert np.allclose(model.scorer.scores(text), reference, atol=1e-9)
    caches = [c for c in model.scorer.__dict__["_word_grams"] if c is not None]
    assert caches and all(len(c) <= 3 and long_word not in c for c in caches)
