"""What an evaluation reports, and how predictions become a report.

:func:`score` turns one engine's predictions on test sentences into an :class:`EvaluationReport`
(accuracy, macro-F1, per-intent and entity scores, the confusion matrix, the answers below the
threshold); :func:`format_report` and :func:`save_confusion_png` show one. Pure functions of
their inputs: the runs that produce the predictions (cross-validation, test files, throw-away
models) are :mod:`nlu.evaluate`.

Intent accuracy counts the top-ranked intent, as Rasa's own ``rasa test`` does with the
fallback disabled; how often the answer fell below the threshold is reported beside it
(``fallback_rate``) together with the accuracy of the answers that were accepted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from nlu.base import Parse
from nlu.training_data import Example

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
