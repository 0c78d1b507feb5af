"""How well an engine understands: cross-validation, test files, train-on-A-test-on-B.

Both engines are scored by the same code from the same predictions (each test sentence parsed
through the engine's ordinary ``parse``), so their numbers compare. Intent accuracy counts the
top-ranked intent, as Rasa's own ``rasa test`` does with the fallback disabled; how often the
answer fell below the threshold is reported beside it (``fallback_rate``) together with the
accuracy of the answers that were accepted.

Nothing here touches the active models: throw-away models live in temporary directories, and a
Rasa evaluation runs its own throw-away server on a free port.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from nlu.base import NluEngine, Parse
from nlu.config import NluConfig
from nlu.rasa_engine import RasaEngine
from nlu.rasa_server import RasaServer, RasaTrainer, free_port
from nlu.sklearn_engine import SklearnEngine, fit_model
from nlu.training_data import Example, TrainingData

log = logging.getLogger(__name__)

#: The label of "no intent" in confusion matrices (Rasa answered nothing at all).
NONE_LABEL = "(none)"


@dataclass(frozen=True, slots=True)
class IntentScore:
    """Precision, recall and F1 of one intent."""

    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class EntityScore:
    """Exact-span and overlapping-span scores of one entity over the test sentences."""

    entity: str
    precision: float
    recall: float
    f1: float
    overlap_f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Prediction:
    """One test sentence and what the engine said."""

    text: str
    expected: str
    predicted: str
    confidence: float
    accepted: bool


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """The result of one evaluation.

    Attributes:
        engine: ``sklearn`` | ``rasa``.
        method: How it was measured, e.g. "5-fold cross-validation".
        examples: Test sentences scored.
        accuracy: Share of sentences whose top intent is right.
        macro_f1: Unweighted mean F1 over intents.
        accepted_accuracy: Accuracy among the answers at or above the threshold.
        fallback_rate: Share of answers below the threshold (the bot asks again).
        per_intent: Per-intent scores, in label order.
        labels: Row/column order of ``confusion``.
        confusion: Counts, rows = expected, columns = predicted.
        worst_confusions: (expected, predicted, count), most frequent first.
        errors: The wrong predictions.
        entities: Entity scores where the test data has annotations.
        train_seconds: Mean training time per model.
        parse_ms_p50: Median parse time in milliseconds.
        parse_ms_p99: 99th percentile parse time.
        unseen_intents: Test intents the model never saw in training (always wrong; reported so
            that a foreign data set's score is read correctly).
    """

    engine: str
    method: str
    examples: int
    accuracy: float
    macro_f1: float
    accepted_accuracy: float
    fallback_rate: float
    per_intent: tuple[IntentScore, ...]
    labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]
    worst_confusions: tuple[tuple[str, str, int], ...]
    errors: tuple[Prediction, ...]
    entities: tuple[EntityScore, ...] = ()
    train_seconds: float = 0.0
    parse_ms_p50: float = 0.0
    parse_ms_p99: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    unseen_intents: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (``--json``)."""
        d = asdict(self)
        d["per_intent"] = {s.intent: {k: v for k, v in asdict(s).items() if k != "intent"} for s in self.per_intent}
        d["worst_confusions"] = [{"expected": a, "predicted": b, "count": n} for a, b, n in self.worst_confusions]
        d["entities"] = {s.entity: {k: v for k, v in asdict(s).items() if k != "entity"} for s in self.entities}
        return d


# --------------------------------------------------------------------------------------------
# Scoring


def score(
    predictions: Sequence[Prediction],
    *,
    engine: str,
    method: str,
    parses: Sequence[tuple[Example, Parse]] = (),
    train_seconds: float = 0.0,
    latencies: Sequence[float] = (),
    unseen_intents: Sequence[str] = (),
) -> EvaluationReport:
    """Turn predictions into an :class:`EvaluationReport`.

    Macro-F1 averages over every label seen in the gold answers or in the predictions, as
    scikit-learn does by default: an intent the engine predicts but the test set never has
    counts with F1 0, so predicting foreign labels is not free.
    """
    y_true = [p.expected for p in predictions]
    y_pred = [p.predicted for p in predictions]
    labels = sorted(set(y_true)) + sorted(set(y_pred) - set(y_true))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    per_intent = tuple(
        IntentScore(lbl, round(float(p), 4), round(float(r), 4), round(float(f), 4), int(s))
        for lbl, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        if s > 0
    )
    index = {lbl: i for i, lbl in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(y_true, y_pred, strict=True):
        matrix[index[t], index[p]] += 1
    pairs = Counter((p.expected, p.predicted) for p in predictions if p.expected != p.predicted)
    accepted = [p for p in predictions if p.accepted]
    lat = np.asarray(latencies, dtype=float) * 1000.0
    return EvaluationReport(
        engine=engine,
        method=method,
        examples=len(predictions),
        accuracy=round(float(accuracy_score(y_true, y_pred)), 4) if predictions else 0.0,
        macro_f1=round(
            float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)), 4
        )
        if predictions
        else 0.0,
        accepted_accuracy=(
            round(sum(p.expected == p.predicted for p in accepted) / len(accepted), 4) if accepted else 0.0
        ),
        fallback_rate=round(1 - len(accepted) / len(predictions), 4) if predictions else 0.0,
        per_intent=per_intent,
        labels=tuple(labels),
        confusion=tuple(tuple(int(v) for v in row) for row in matrix),
        worst_confusions=tuple((a, b, n) for (a, b), n in pairs.most_common(15)),
        errors=tuple(p for p in predictions if p.expected != p.predicted),
        entities=score_entities(parses),
        train_seconds=round(train_seconds, 2),
        parse_ms_p50=round(float(np.percentile(lat, 50)), 2) if len(lat) else 0.0,
        parse_ms_p99=round(float(np.percentile(lat, 99)), 2) if len(lat) else 0.0,
        unseen_intents=tuple(sorted(unseen_intents)),
    )


def score_entities(parses: Sequence[tuple[Example, Parse]]) -> tuple[EntityScore, ...]:
    """Entity scores for every entity annotated somewhere in the test sentences."""
    names = sorted({s.entity for ex, _ in parses for s in ex.entities})
    out = []
    for name in names:
        tp = fp = fn = otp = ofp = ofn = 0
        support = 0
        for ex, parse in parses:
            gold = {(s.start, s.end) for s in ex.entities if s.entity == name}
            found = {(e.start, e.end) for e in parse.entities if e.entity == name}
            support += len(gold)
            tp += len(gold & found)
            fp += len(found - gold)
            fn += len(gold - found)
            ohit = {g for g in gold if any(f[0] < g[1] and g[0] < f[1] for f in found)}
            fhit = {f for f in found if any(f[0] < g[1] and g[0] < f[1] for g in gold)}
            otp += len(ohit)
            ofn += len(gold) - len(ohit)
            ofp += len(found) - len(fhit)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        op = otp / (otp + ofp) if otp + ofp else 0.0
        orc = otp / (otp + ofn) if otp + ofn else 0.0
        out.append(
            EntityScore(
                name,
                round(p, 4),
                round(r, 4),
                round(2 * p * r / (p + r), 4) if p + r else 0.0,
                round(2 * op * orc / (op + orc), 4) if op + orc else 0.0,
                support,
            )
        )
    return tuple(out)


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


class ThrowawayRasa:
    """A Rasa trainer and server in a temporary directory, for evaluation and tests.

    Models are trained into the temporary directory and served by a server on a free port:
    the configured server and its models are never touched.

    Args:
        config: Where the Rasa virtualenv and pipeline config are.
        work_dir: Keep files here instead of a new temporary directory (the training cache
            in ``<work_dir>/.rasa`` makes re-training the same data fast).
    """

    def __init__(self, config: NluConfig, *, work_dir: Path | None = None) -> None:
        self.config = config
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if work_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="warga-rasa-")
            work_dir = Path(self._tmp.name)
        self.work_dir = Path(work_dir)
        self.models_dir = self.work_dir / "models"
        self.trainer = RasaTrainer(
            venv=config.rasa_venv, config=config.rasa_config, models_dir=self.models_dir, work_dir=self.work_dir,
            timeout=config.rasa_train_timeout, any_intents=True,
        )
        self.token = secrets.token_urlsafe(16)
        self.server: RasaServer | None = None
        self.engine: RasaEngine | None = None

    def train(self, data: TrainingData) -> tuple[Path, float]:
        """Train a model; returns its file and the seconds it took."""
        t0 = time.perf_counter()
        model = self.trainer.train(data)
        return model, time.perf_counter() - t0

    def start(self) -> None:
        """Start the throw-away server without a model and return at once (about 10 s to be
        ready), so that it starts while models train."""
        if self.server is None or not self.server.running():
            self.engine = None
            empty = self.work_dir / "no-model"
            self.server = RasaServer(self.config.rasa_venv, empty, self.work_dir, port=free_port(), token=self.token)
            self.server.start()

    def serve(self, model: Path) -> RasaEngine:
        """Serve ``model`` (``PUT /model`` into the throw-away server, started if need be)."""
        self.start()
        assert self.server is not None
        if self.engine is None:
            self.server.wait_ready(self.config.rasa_start_timeout, require_model=False)
            self.engine = RasaEngine(
                self.server.url,
                self.token,
                threshold=self.config.threshold,
                timeout=30.0,
                ticket_prefix=self.config.ticket_prefix,
                any_intents=True,       # the data evaluated may be anyone's (xSID, a city's own)
            )
        self.engine.load_model(model, timeout=self.config.rasa_start_timeout)
        return self.engine

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.engine is not None:
            self.engine.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> ThrowawayRasa:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


# --------------------------------------------------------------------------------------------
# Pictures and text


def save_confusion_png(report: EvaluationReport, path: Path) -> Path:
    """Draw the confusion matrix (rows normalised, counts written in the cells)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    matrix = np.asarray(report.confusion, dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    n = len(report.labels)
    size = max(6.0, 0.32 * n + 3)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), report.labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), report.labels, fontsize=7)
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(
                    j,
                    i,
                    str(int(matrix[i, j])),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("expected")
    ax.set_title(
        f"{report.engine}: {report.method} — accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}",
        fontsize=9,
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def format_report(report: EvaluationReport, *, worst: int = 10) -> str:
    """A plain-text summary for the terminal."""
    lines = [
        f"engine {report.engine}, {report.method}, {report.examples} examples",
        f"accuracy {report.accuracy:.3f}  macro-F1 {report.macro_f1:.3f}  "
        f"below threshold {report.fallback_rate:.1%} (accuracy of the rest {report.accepted_accuracy:.3f})",
        "",
        f"{'intent':<26}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>5}",
    ]
    for s in sorted(report.per_intent, key=lambda s: s.f1):
        lines.append(f"{s.intent:<26}{s.precision:>10.3f}{s.recall:>8.3f}{s.f1:>8.3f}{s.support:>5}")
    if report.entities:
        lines += ["", f"{'entity':<26}{'precision':>10}{'recall':>8}{'f1':>8}{'overlap-f1':>11}{'n':>5}"]
        for e in report.entities:
            lines.append(f"{e.entity:<26}{e.precision:>10.3f}{e.recall:>8.3f}{e.f1:>8.3f}{e.overlap_f1:>11.3f}{e.support:>5}")
    if report.unseen_intents:
        lines += [
            "",
            f"{len(report.unseen_intents)} test intents were never in the training data (always wrong): "
            + ", ".join(report.unseen_intents),
        ]
    if report.worst_confusions:
        lines += ["", "worst confusions (expected → predicted: count)"]
        lines += [f"  {a} → {b}: {n}" for a, b, n in report.worst_confusions[:worst]]
    return "\n".join(lines)
