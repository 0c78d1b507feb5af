"""How well an engine understands: cross-validation, test files, train-on-A-test-on-B.

Both engines are scored by the same code from the same predictions (each test sentence parsed
through the engine's ordinary ``parse``, :func:`predict`), so their numbers compare; the
report and its scores are :mod:`nlu.scores`.

Nothing here touches the active models: throw-away models live in temporary directories, and a
Rasa evaluation runs its own throw-away server on a free port (:mod:`nlu.throwaway_rasa`).
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from nlu.base import NluEngine, Parse
from nlu.config import NluConfig

# Results saved before nlu/scores.py existed (var/bench/*.pkl, which bench/nlu_bench.py --reuse-rasa
# and bench/rasa_pipelines.py --reuse/--only unpickle) name the report's classes under nlu.evaluate:
# IntentScore and EntityScore stay importable from here for them.
from nlu.scores import NONE_LABEL, EntityScore, EvaluationReport, IntentScore, Prediction, score  # noqa: F401
from nlu.sklearn_engine import SklearnEngine
from nlu.sklearn_training import fit_model
from nlu.throwaway_rasa import ThrowawayRasa
from nlu.training_data import Example, TrainingData


def predict(
    engine: NluEngine, examples: Iterable[Example]
) -> tuple[list[Prediction], list[tuple[Example, Parse]], list[float]]:
    """Parse every example through ``engine``."""
    preds: list[Prediction] = []
    parses: list[tuple[Example, Parse]] = []
    latencies: list[float] = []
    for ex in examples:
        t0 = time.perf_counter()
        parse = engine.parse(ex.text)
        latencies.append(time.perf_counter() - t0)
        top = parse.ranking[0][0] if parse.ranking else NONE_LABEL
        preds.append(Prediction(ex.text, ex.intent, top, parse.confidence, parse.intent is not None))
        parses.append((ex, parse))
    return preds, parses, latencies


def evaluate_engine(
    engine: NluEngine,
    test: TrainingData,
    *,
    method: str,
    train_seconds: float = 0.0,
    known_intents: Iterable[str] | None = None,
) -> EvaluationReport:
    """Score a ready engine on test data.

    Args:
        engine: A ready engine.
        test: The test sentences.
        method: How it was measured (for the report).
        train_seconds: Training time to report.
        known_intents: The intents the model was trained on; test intents outside them are
            reported as :attr:`EvaluationReport.unseen_intents`.
    """
    preds, parses, lat = predict(engine, test.examples)
    unseen = sorted(set(test.intents) - set(known_intents)) if known_intents is not None else []
    return score(
        preds,
        engine=engine.name,
        method=method,
        parses=parses,
        train_seconds=train_seconds,
        latencies=lat,
        unseen_intents=unseen,
    )


def folds_of(data: TrainingData, n_folds: int, seed: int = 42) -> list[tuple[list[int], list[int]]]:
    """Stratified folds (the same for both engines for the same data and seed).

    An intent with fewer examples than folds is tested in only as many folds as it has
    examples (foreign data sets have such intents); only more folds than the largest intent's
    examples is refused.
    """
    labels = data.labels()
    largest = max(Counter(labels).values())
    if n_folds < 2 or n_folds > largest:
        raise ValueError(f"folds must be from 2 to {largest} (the largest intent's examples), got {n_folds}")
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # "The least populated class has only N members": expected on foreign data, see above.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return [(list(a), list(b)) for a, b in skf.split(np.zeros(len(labels)), labels)]


# --------------------------------------------------------------------------------------------
# sklearn

def cross_validate_sklearn(
    data: TrainingData, folds: int = 5, *, threshold: float = 0.5, ticket_prefix: str = "WRG", seed: int = 42
) -> EvaluationReport:
    """Stratified k-fold cross-validation of the sklearn engine (seconds)."""
    preds: list[Prediction] = []
    parses: list[tuple[Example, Parse]] = []
    lat: list[float] = []
    train_time = 0.0
    for train_idx, test_idx in folds_of(data, folds, seed):
        t0 = time.perf_counter()
        model = fit_model(data.subset(train_idx), ticket_prefix=ticket_prefix)
        train_time += time.perf_counter() - t0
        engine = SklearnEngine(Path("."), threshold=threshold, ticket_prefix=ticket_prefix, model=model)
        p, ps, lt = predict(engine, (data.examples[i] for i in test_idx))
        preds += p
        parses += ps
        lat += lt
    return score(
        preds,
        engine="sklearn",
        method=f"{folds}-fold cross-validation",
        parses=parses,
        train_seconds=train_time / folds,
        latencies=lat,
    )


def train_and_evaluate_sklearn(
    train: TrainingData,
    test: TrainingData,
    *,
    threshold: float = 0.5,
    ticket_prefix: str = "WRG",
    method: str = "train/test",
) -> EvaluationReport:
    """Train a throw-away sklearn model on ``train`` and score it on ``test``."""
    t0 = time.perf_counter()
    model = fit_model(train, ticket_prefix=ticket_prefix)
    seconds = time.perf_counter() - t0
    engine = SklearnEngine(Path("."), threshold=threshold, ticket_prefix=ticket_prefix, model=model)
    return evaluate_engine(engine, test, method=method, train_seconds=seconds, known_intents=train.intents)


# --------------------------------------------------------------------------------------------
# Rasa


def train_and_evaluate_rasa(
    train: TrainingData, test: TrainingData, config: NluConfig, *, method: str = "train/test"
) -> EvaluationReport:
    """Train a throw-away Rasa model on ``train`` and score it on ``test`` (about 30 s)."""
    with ThrowawayRasa(config) as rasa:
        rasa.start()
        model, seconds = rasa.train(train)
        engine = rasa.serve(model)
        return evaluate_engine(engine, test, method=method, train_seconds=seconds, known_intents=train.intents)


def cross_validate_rasa(
    data: TrainingData,
    config: NluConfig,
    folds: int = 5,
    *,
    seed: int = 42,
    progress: Callable[[str], None] = lambda msg: None,
) -> EvaluationReport:
    """Stratified k-fold cross-validation of Rasa with the same folds as the sklearn engine.

    See :func:`evaluate_rasa`.
    """
    return evaluate_rasa(data, config, folds, seed=seed, progress=progress)[0]


def evaluate_rasa(
    data: TrainingData,
    config: NluConfig,
    folds: int = 5,
    *,
    heldout: TrainingData | None = None,
    seed: int = 42,
    progress: Callable[[str], None] = lambda msg: None,
) -> tuple[EvaluationReport, EvaluationReport | None]:
    """Cross-validation of Rasa (the sklearn engine's folds), and optionally a held-out test.

    The fold models (and, with ``heldout``, one model on all of ``data``) are trained one
    after another in one separate Rasa process (:meth:`RasaTrainer.train_each`) while a
    throw-away server starts; each is loaded into that server as soon as it exists and every
    test sentence goes through :meth:`RasaEngine.parse`, as in production, while the next
    model trains. ``train_seconds`` is the training process's time up to the last model
    divided by the number of models (one process start shared by all).

    Returns:
        The cross-validation report, and the held-out report (None without ``heldout``).
    """
    splits = folds_of(data, folds, seed)
    jobs = [data.subset(train_idx) for train_idx, _ in splits] + ([data] if heldout is not None else [])
    preds: list[Prediction] = []
    parses: list[tuple[Example, Parse]] = []
    lat: list[float] = []
    held_report: EvaluationReport | None = None
    train_time = 0.0
    with ThrowawayRasa(config) as rasa:
        rasa.start()
        progress(f"rasa: training {len(jobs)} models in one process")
        t0 = time.perf_counter()
        models = rasa.trainer.train_each(jobs)
        try:
            for k, model in enumerate(models):
                train_time = time.perf_counter() - t0
                engine = rasa.serve(model)
                if k < len(splits):
                    test_idx = splits[k][1]
                    progress(
                        f"rasa fold {k + 1}/{folds}: {len(test_idx)} test sentences (the next model trains meanwhile)"
                    )
                    p, ps, lt = predict(engine, (data.examples[i] for i in test_idx))
                    preds += p
                    parses += ps
                    lat += lt
                else:
                    assert heldout is not None
                    progress(f"rasa: held-out test, {len(heldout.examples)} sentences")
                    held_report = evaluate_engine(
                        engine,
                        heldout,
                        method="held-out",
                        train_seconds=train_time / len(jobs),
                        known_intents=data.intents,
                    )
        finally:
            models.close()  # type: ignore[attr-defined]
    report = score(
        preds,
        engine="rasa",
        method=f"{folds}-fold cross-validation",
        parses=parses,
        train_seconds=train_time / len(jobs),
        latencies=lat,
    )
    return report, held_report
