"""Training the in-process engine's model: features, a linear SVM, a calibrated softmax.

Features: word 1–2-grams and character 2–5-grams inside word boundaries of the normalised
text (character n-grams carry typos and unseen slang). Classifier: a linear SVM (class-weight
balanced), whose decision scores become probabilities through a softmax with a temperature
fitted on cross-validated scores, so the fallback threshold means "probably wrong" rather than
an arbitrary margin (measured in docs/BENCHMARKS.md). :func:`fit_model` trains in memory; the
engine (:mod:`nlu.sklearn_engine`) saves and serves what it returns.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import sklearn
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from nlu.entities import EntityExtractor, LocationExtractor, TicketExtractor
from nlu.normalize import Normalizer
from nlu.sklearn_engine import ModelInfo, SklearnModel, softmax
from nlu.training_data import ERROR, Problem, Source, TrainingData, TrainingDataError

log = logging.getLogger(__name__)

#: An intent needs this many examples to take part in confidence calibration (three folds).
#: Fewer: it is still trained, but calibrated on the other intents only (see :func:`fit_model`).
MIN_CALIBRATION_EXAMPLES = 3


def _features() -> FeatureUnion:
    return FeatureUnion(
        [
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+")),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1)),
        ]
    )


def _classifier() -> LinearSVC:
    # Balanced class weights as in notes/rasa-server.md; C=1 beat 0.3 and 0.1 on Warga's data by
    # 0.5–2 points of CV accuracy (docs/BENCHMARKS.md).
    return LinearSVC(C=1.0, class_weight="balanced", random_state=0)


def _fit_temperature(scores: np.ndarray, y_idx: np.ndarray) -> float:
    """The softmax temperature that minimises the negative log-likelihood of held-out scores."""

    def nll(log_t: float) -> float:
        p = softmax(scores, float(np.exp(log_t)))
        return float(-np.mean(np.log(p[np.arange(len(y_idx)), y_idx] + 1e-12)))

    res = minimize_scalar(nll, bounds=(np.log(0.01), np.log(10.0)), method="bounded")
    return float(np.exp(res.x))


def _calibrated_temperature(texts: list[str], y: np.ndarray, classes: np.ndarray, rare: set[str]) -> float:
    """The softmax temperature fitted on 3-fold cross-validated scores.

    Intents in ``rare`` (too few examples to be held out) stay in the training part of every
    fold and are never scored, so one tiny intent cannot switch calibration off for all the
    others (before, one intent with one example left every answer uncalibrated and below the
    threshold). With fewer than two intents to score, the temperature is 1.
    """
    scored = np.asarray([i for i, label in enumerate(y) if label not in rare], dtype=np.int64)
    always = np.asarray([i for i, label in enumerate(y) if label in rare], dtype=np.int64)
    if len(set(y[scored])) < 2:
        return 1.0
    folds = StratifiedKFold(n_splits=MIN_CALIBRATION_EXAMPLES, shuffle=True, random_state=0)
    scores = np.zeros((len(scored), len(classes)))
    for train_pos, test_pos in folds.split(scored, y[scored]):
        train_idx = np.concatenate([scored[train_pos], always])
        # Features are refit inside each fold so that held-out scores are honest.
        fold_features = _features()
        xf = fold_features.fit_transform([texts[i] for i in train_idx])
        fold_clf = _classifier().fit(xf, y[train_idx])
        scores[test_pos] = fold_clf.decision_function(fold_features.transform([texts[i] for i in scored[test_pos]]))
    return _fit_temperature(scores, np.searchsorted(classes, y[scored]))


def fit_model(data: TrainingData, *, ticket_prefix: str = "WRG", calibrate: bool = True) -> SklearnModel:
    """Train a model in memory (no files): used by the engine and by cross-validation.

    Args:
        data: Training data (validate it first; this only needs two intents).
        ticket_prefix: The ticket number prefix from config.
        calibrate: Fit the softmax temperature on 3-fold cross-validated scores (three more fits,
            still well under a second on Warga's data); False uses temperature 1. Intents with
            fewer than :data:`MIN_CALIBRATION_EXAMPLES` examples are trained but not scored in
            calibration; the model's ``info.notes`` names them.

    Raises:
        TrainingDataError: Fewer than two intents.
    """
    started = datetime.now(UTC)
    t0 = _clock()
    labels = data.labels()
    if len(set(labels)) < 2:
        raise TrainingDataError(
            [
                Problem(
                    "schema",
                    ERROR,
                    "training needs examples of at least two intents",
                    Source(", ".join(data.files) or "training data"),
                )
            ]
        )
    normalizer = Normalizer.from_synonyms((s.value, s.examples) for s in data.synonyms)
    texts = [normalizer.features(t) for t in data.texts()]
    features = _features()
    x = features.fit_transform(texts)
    y = np.asarray(labels)
    classifier = _classifier().fit(x, y)
    counts = Counter(labels)
    rare = sorted(intent for intent, n in counts.items() if n < MIN_CALIBRATION_EXAMPLES)
    notes: list[str] = []
    if rare:
        notes.append(
            f"{len(rare)} intent(s) with fewer than {MIN_CALIBRATION_EXAMPLES} examples are trained but left out "
            f"of confidence calibration (add examples): {', '.join(rare)}"
        )
        log.warning("sklearn training: %s", notes[-1])
    temperature = _calibrated_temperature(texts, y, classifier.classes_, set(rare)) if calibrate else 1.0
    entities = EntityExtractor(TicketExtractor(ticket_prefix), LocationExtractor.from_training_data(data))
    digest = data.fingerprint()
    info = ModelInfo(
        version=f"{started:%Y%m%d-%H%M%S}-{digest}",
        data_hash=digest,
        trained_at=started.isoformat(timespec="seconds"),
        examples=len(labels),
        intents=tuple(str(c) for c in classifier.classes_),
        sklearn_version=sklearn.__version__,
        train_seconds=round(_clock() - t0, 3),
        notes=tuple(notes),
    )
    return SklearnModel.fitted(info, normalizer, features, classifier, temperature, entities)


def _clock() -> float:
    return time.perf_counter()
