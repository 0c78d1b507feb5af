"""Evaluation: scoring, cross-validation, train/test, pictures; and the accuracy targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.evaluate import cross_validate_sklearn, evaluate_engine, folds_of, train_and_evaluate_sklearn
from nlu.rasa_engine import RasaEngine
from nlu.scores import EvaluationReport, Prediction, format_report, save_confusion_png, score
from nlu.sklearn_engine import SklearnEngine
from nlu.sklearn_training import fit_model
from nlu.training_data import TrainingData
from nlu.training_reader import load_training_data

HELDOUT = Path(__file__).resolve().parents[2] / "nlu" / "data" / "test" / "heldout.yml"
HELDOUT_LONG = HELDOUT.with_name("heldout_long.yml")


def test_score_counts_right() -> None:
    preds = [
        Prediction("a", "greet", "greet", 0.9, True),
        Prediction("b", "greet", "goodbye", 0.4, False),
        Prediction("c", "goodbye", "goodbye", 0.8, True),
        Prediction("d", "thank", "goodbye", 0.7, True),
    ]
    report = score(preds, engine="x", method="test")
    assert report.accuracy == 0.5
    assert report.fallback_rate == 0.25
    assert report.accepted_accuracy == round(2 / 3, 4)
    per = {s.intent: s for s in report.per_intent}
    assert per["greet"].precision == 1.0 and per["greet"].recall == 0.5
    assert per["goodbye"].precision == round(1 / 3, 4) and per["thank"].f1 == 0.0
    assert report.macro_f1 == round((2 / 3 + 0.5 + 0.0) / 3, 4)
    assert report.worst_confusions[0][2] == 1
    assert report.labels == ("goodbye", "greet", "thank")
    assert report.confusion == ((1, 0, 0), (1, 1, 0), (1, 0, 0))
    d = report.to_dict()
    assert d["per_intent"]["greet"]["recall"] == 0.5 and d["accuracy"] == 0.5


@pytest.fixture(scope="module")
def cv_report(project_data: TrainingData) -> EvaluationReport:
    return cross_validate_sklearn(project_data, 5)


@pytest.fixture(scope="module")
def sklearn_engine(project_data: TrainingData) -> SklearnEngine:
    """One model on all of the project's data, scored on each frozen held-out set."""
    return SklearnEngine(Path("."), threshold=0.5, model=fit_model(project_data))


def held_out(engine: SklearnEngine, path: Path, data: TrainingData, method: str = "held-out") -> EvaluationReport:
    return evaluate_engine(engine, load_training_data(path), method=method, known_intents=data.intents)


def test_sklearn_meets_the_accuracy_targets_of_issues_4_and_14(
    cv_report: EvaluationReport, sklearn_engine: SklearnEngine, project_data: TrainingData
) -> None:
    """Issue 4 set its targets on cross-validation (accuracy ≥ 0.90, macro-F1 ≥ 0.88); issue 14
    found features tuned to cross-validation errors and asked to prefer the held-out set when
    the two disagree. Removing those features costs about 2.5 points of cross-validation and
    gains 3 on the held-out set, so the issue-4 targets now hold on held-out data, and
    cross-validation keeps a floor that catches a real regression."""
    assert cv_report.examples > 1000
    worst = ", ".join(f"{a}→{b} {n}" for a, b, n in cv_report.worst_confusions[:6])
    assert cv_report.macro_f1 >= 0.84, f"macro-F1 {cv_report.macro_f1}; worst confusions: {worst}"
    assert cv_report.accuracy >= 0.86, f"accuracy {cv_report.accuracy}; worst confusions: {worst}"
    heldout = held_out(sklearn_engine, HELDOUT, project_data)
    worst = ", ".join(f"{a}→{b} {n}" for a, b, n in heldout.worst_confusions[:6])
    assert heldout.macro_f1 >= 0.88, f"held-out macro-F1 {heldout.macro_f1}; worst confusions: {worst}"
    assert heldout.accuracy >= 0.90, f"held-out accuracy {heldout.accuracy}; worst confusions: {worst}"


def test_long_real_style_messages_meet_the_targets_of_issue_14(
    sklearn_engine: SklearnEngine, project_data: TrainingData
) -> None:
    """The frozen held-out set of long, real-style messages: accuracy ≥ 0.90 with fewer than 5%
    of answers below the threshold."""
    report = held_out(sklearn_engine, HELDOUT_LONG, project_data, "held-out long")
    assert report.examples >= 80
    worst = ", ".join(f"{a}→{b} {n}" for a, b, n in report.worst_confusions[:6])
    assert report.accuracy >= 0.90, f"accuracy {report.accuracy}; worst confusions: {worst}"
    assert report.fallback_rate < 0.05, f"{report.fallback_rate:.1%} below the threshold"


def test_cross_validation_report_is_complete(cv_report: EvaluationReport, project_data: TrainingData) -> None:
    assert cv_report.examples == len(project_data.examples)
    assert {s.intent for s in cv_report.per_intent} == set(project_data.intents)
    assert sum(map(sum, cv_report.confusion)) == cv_report.examples
    assert [e.entity for e in cv_report.entities] == ["location"]
    assert cv_report.entities[0].overlap_f1 >= 0.75
    text = format_report(cv_report)
    assert "macro-F1" in text and "worst confusions" in text


def test_train_and_evaluate_scores_a_model_it_trains(project_data: TrainingData) -> None:
    """The function behind `warga nlu evaluate --train A --test B`: a throw-away model trained
    on ``train``, scored on every sentence of ``test``, training time reported."""
    train = project_data.with_examples([ex for k, ex in enumerate(project_data.examples) if k % 3])
    test = project_data.with_examples([ex for k, ex in enumerate(project_data.examples) if not k % 3])
    report = train_and_evaluate_sklearn(train, test, method="held-out")
    assert report.examples == len(test.examples) and report.method == "held-out"
    assert report.accuracy >= 0.8 and report.train_seconds > 0


def test_folds_are_stratified_and_reproducible(project_data: TrainingData) -> None:
    folds = folds_of(project_data, 5)
    assert folds == folds_of(project_data, 5)
    assert sorted(i for _, test in folds for i in test) == list(range(len(project_data.examples)))
    with pytest.raises(ValueError, match="folds"):
        folds_of(project_data, 1000)


def test_confusion_png(tmp_path: Path) -> None:
    preds = [Prediction("a", "greet", "greet", 0.9, True), Prediction("b", "greet", "thank", 0.9, True)]
    path = save_confusion_png(score(preds, engine="sklearn", method="t"), tmp_path / "cm" / "c.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- Rasa: the same targets, through a real server ---------------------------------------------


@pytest.fixture(scope="module")
def rasa_heldout(rasa_engine: RasaEngine, project_data: TrainingData) -> tuple[EvaluationReport, EvaluationReport]:
    """The session's Rasa model (trained on all of the project's data, served by a real server)
    scored on both frozen held-out sets through RasaEngine, as in production. Rasa's 5-fold
    cross-validation (five more trainings, minutes) is bench/nlu_bench.py's business: issue 14
    prefers the held-out sets, and docs/BENCHMARKS.md reports both."""
    known = project_data.intents
    short = evaluate_engine(rasa_engine, load_training_data(HELDOUT), method="held-out", known_intents=known)
    long = evaluate_engine(rasa_engine, load_training_data(HELDOUT_LONG), method="held-out long", known_intents=known)
    return short, long


@pytest.mark.rasa
def test_rasa_meets_the_accuracy_targets_of_issues_4_and_14(
    rasa_heldout: tuple[EvaluationReport, EvaluationReport],
) -> None:
    """As the sklearn test: issue-4 targets on the held-out set; the long real-style messages
    of issue 14 understood as well."""
    heldout, long = rasa_heldout
    assert heldout.engine == "rasa" and heldout.examples == len(load_training_data(HELDOUT).examples)
    worst = ", ".join(f"{a}→{b} {n}" for a, b, n in heldout.worst_confusions[:6])
    assert heldout.macro_f1 >= 0.88, f"held-out macro-F1 {heldout.macro_f1}; worst confusions: {worst}"
    assert heldout.accuracy >= 0.90, f"held-out accuracy {heldout.accuracy}; worst confusions: {worst}"
    worst = ", ".join(f"{a}→{b} {n}" for a, b, n in long.worst_confusions[:6])
    assert long.accuracy >= 0.90, f"long held-out accuracy {long.accuracy}; worst confusions: {worst}"


@pytest.mark.rasa
def test_rasa_held_out_confidences_and_locations(rasa_heldout: tuple[EvaluationReport, EvaluationReport]) -> None:
    # Confidences work with the gateway's threshold (0.5): few answers fall below it, and
    # those above it are mostly right.
    for report in rasa_heldout:
        assert report.fallback_rate <= 0.2 and report.accepted_accuracy >= 0.9, report.method
    # Locations come back on the citizen's own text (offsets mapped from Rasa's normalised text).
    for report in rasa_heldout:
        location = {e.entity: e for e in report.entities}["location"]
        assert location.overlap_f1 >= 0.75, report.method
