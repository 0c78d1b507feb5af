"""Train and evaluate both NLU engines on the same data; print one table; write docs/BENCHMARKS.md.

Usage (from the repository root, with the gateway's virtualenv; Rasa from .venv-rasa):

    .venv/bin/python bench/nlu_bench.py                  # everything (about 3 minutes on 2 cores)
    .venv/bin/python bench/nlu_bench.py --rasa-folds 0   # Rasa without cross-validation (~1.5 min)
    .venv/bin/python bench/nlu_bench.py --skip-rasa      # sklearn only (seconds)

Accuracy: 5-fold stratified cross-validation on nlu/data (the same folds for both engines),
train-on-all / test on the frozen held-out sets nlu/data/test/heldout.yml (short chat turns)
and nlu/data/test/heldout_long.yml (long, real-style messages), and the public Indonesian
intent set xSID (../shared/data/xsid-id: train on id.valid, test on id.test). Latency: every
held-out and training sentence parsed one at a time, in-process for sklearn, through Warga's
HTTP client for Rasa.

docs/BENCHMARKS.md is shared with other benchmarks: this script rewrites only the part between
``<!-- nlu:begin -->`` and ``<!-- nlu:end -->``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlu.base import NluEngine  # noqa: E402
from nlu.config import NluConfig  # noqa: E402
from nlu.datasets import load_conll  # noqa: E402
from nlu.evaluate import (  # noqa: E402
    cross_validate_rasa,
    cross_validate_sklearn,
    evaluate_engine,
    train_and_evaluate_sklearn,
)
from nlu.scores import EvaluationReport, save_confusion_png  # noqa: E402
from nlu.sklearn_engine import SklearnEngine  # noqa: E402
from nlu.sklearn_training import fit_model  # noqa: E402
from nlu.throwaway_rasa import ThrowawayRasa  # noqa: E402
from nlu.training_data import TrainingData, load_and_validate  # noqa: E402
from nlu.training_reader import load_training_data  # noqa: E402


@dataclass
class EngineResult:
    """One column of the table."""

    engine: str
    train_seconds: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    throughput: float = 0.0
    throughput_4: float = 0.0
    cv: EvaluationReport | None = None
    heldout: EvaluationReport | None = None
    heldout_long: EvaluationReport | None = None
    #: The long held-out set read whole (no clauses): what reading by parts changes.
    heldout_long_whole: EvaluationReport | None = None
    xsid: EvaluationReport | None = None
    peak_mb: float = 0.0
    notes: list[str] = field(default_factory=list)


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        ram = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        ram = "unknown"
    return {
        "cpu": cpu,
        "nproc": str(os.cpu_count()),
        "ram": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def latency(engine: NluEngine, texts: list[str], rounds: int = 3) -> tuple[float, float, float]:
    """p50 and p99 in ms, and sequential parses per second: the median of ``rounds`` passes.

    The machine is shared (other engineers' tests, a Rasa training): the median pass keeps one
    burst of someone else's work from deciding the number.
    """
    for t in texts[:20]:
        engine.parse(t)
    passes = []
    for _ in range(rounds):
        times = []
        t_all = time.perf_counter()
        for t in texts:
            t0 = time.perf_counter()
            engine.parse(t)
            times.append(time.perf_counter() - t0)
        total = time.perf_counter() - t_all
        arr = np.asarray(times) * 1000
        passes.append((float(np.percentile(arr, 50)), float(np.percentile(arr, 99)), len(texts) / total))
    return sorted(passes, key=lambda p: p[1])[len(passes) // 2]


def concurrent_throughput(engine: NluEngine, texts: list[str], workers: int = 4) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(engine.parse, texts))
    return len(texts) / (time.perf_counter() - t0)


def vm_hwm_mb(pid: int) -> float:
    """Peak resident memory of a running process (VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def process_tree_hwm_mb(pid: int) -> float:
    """Peak RSS of a process and its children (Rasa's server runs under a wrapper script)."""
    pids = [pid]
    try:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
        ).stdout
        pids += [int(p) for p in out.split()]
    except OSError:
        pass
    return max(vm_hwm_mb(p) for p in pids)


@dataclass(frozen=True)
class TestSets:
    """The held-out sets and the public comparison set."""

    heldout: TrainingData
    heldout_long: TrainingData
    xsid_train: TrainingData | None
    xsid_test: TrainingData | None


def run_sklearn(data: TrainingData, sets: TestSets, texts: list[str], folds: int, threshold: float) -> EngineResult:
    res = EngineResult("sklearn")
    runs = []
    model = None
    for _ in range(3):
        t0 = time.perf_counter()
        model = fit_model(data)
        runs.append(time.perf_counter() - t0)
    res.train_seconds = statistics.median(runs)
    assert model is not None
    engine = SklearnEngine(Path("."), threshold=threshold, model=model)
    res.p50_ms, res.p99_ms, res.throughput = latency(engine, texts)
    res.throughput_4 = concurrent_throughput(engine, texts)
    res.cv = cross_validate_sklearn(data, folds, threshold=threshold)
    res.heldout = evaluate_engine(engine, sets.heldout, method="held-out", train_seconds=res.train_seconds)
    res.heldout_long = evaluate_engine(
        engine, sets.heldout_long, method="held-out, long messages", train_seconds=res.train_seconds
    )
    if sets.xsid_train is not None and sets.xsid_test is not None:
        res.xsid = train_and_evaluate_sklearn(
            sets.xsid_train, sets.xsid_test, threshold=threshold, method="xSID id.valid → id.test"
        )
    res.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res.notes.append("peak memory = whole bench process (Python, numpy, scikit-learn, data) after training and CV")
    return res


def run_rasa(
    data: TrainingData, sets: TestSets, texts: list[str], folds: int, config: NluConfig, say
) -> EngineResult:
    res = EngineResult("rasa")
    with ThrowawayRasa(config) as rasa:
        say("rasa: training on all data...")
        model, res.train_seconds = rasa.train(data)
        train_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        say(f"rasa: trained in {res.train_seconds:.0f}s; starting a server...")
        engine = rasa.serve(model)
        res.heldout = evaluate_engine(engine, sets.heldout, method="held-out", train_seconds=res.train_seconds)
        res.heldout_long = evaluate_engine(
            engine, sets.heldout_long, method="held-out, long messages", train_seconds=res.train_seconds
        )
        engine.by_parts = False
        res.heldout_long_whole = evaluate_engine(
            engine, sets.heldout_long, method="held-out, long messages read whole", train_seconds=res.train_seconds
        )
        engine.by_parts = True
        res.p50_ms, res.p99_ms, res.throughput = latency(engine, texts)
        res.throughput_4 = concurrent_throughput(engine, texts)
        assert rasa.server is not None and rasa.server.pid is not None
        server_peak = process_tree_hwm_mb(rasa.server.pid)
        if sets.xsid_train is not None and sets.xsid_test is not None:
            say("rasa: xSID (train on id.valid, test on id.test)...")
            xmodel, xseconds = rasa.train(sets.xsid_train)
            res.xsid = evaluate_engine(
                rasa.serve(xmodel),
                sets.xsid_test,
                method="xSID id.valid → id.test",
                train_seconds=xseconds,
                known_intents=sets.xsid_train.intents,
            )
        res.peak_mb = max(train_peak, server_peak)
        res.notes.append(f"peak memory: training process {train_peak:.0f} MB, serving process {server_peak:.0f} MB")
    if folds:
        say(f"rasa: {folds}-fold cross-validation (fold models trained in one process)...")
        res.cv = cross_validate_rasa(data, config, folds, progress=say)
    return res


def fmt(v: float | None, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def table(results: list[EngineResult]) -> str:
    rows = [
        ("train time, all data (s)", lambda r: fmt(r.train_seconds, ".2f")),
        ("parse p50 (ms)", lambda r: fmt(r.p50_ms, ".2f")),
        ("parse p99 (ms)", lambda r: fmt(r.p99_ms, ".2f")),
        ("throughput, 1 client (parses/s)", lambda r: fmt(r.throughput, ".0f")),
        ("throughput, 4 threads (parses/s)", lambda r: fmt(r.throughput_4, ".0f")),
        ("CV accuracy", lambda r: fmt(r.cv.accuracy if r.cv else None, ".3f")),
        ("CV macro-F1", lambda r: fmt(r.cv.macro_f1 if r.cv else None, ".3f")),
        ("CV answers below threshold", lambda r: fmt(r.cv.fallback_rate if r.cv else None, ".1%")),
        ("held-out accuracy", lambda r: fmt(r.heldout.accuracy if r.heldout else None, ".3f")),
        ("held-out macro-F1", lambda r: fmt(r.heldout.macro_f1 if r.heldout else None, ".3f")),
        ("held-out answers below threshold", lambda r: fmt(r.heldout.fallback_rate if r.heldout else None, ".1%")),
        ("held-out location F1 exact / overlap", lambda r: _loc(r.heldout)),
        ("long held-out accuracy", lambda r: fmt(r.heldout_long.accuracy if r.heldout_long else None, ".3f")),
        ("long held-out macro-F1", lambda r: fmt(r.heldout_long.macro_f1 if r.heldout_long else None, ".3f")),
        (
            "long held-out answers below threshold",
            lambda r: fmt(r.heldout_long.fallback_rate if r.heldout_long else None, ".1%"),
        ),
        ("long held-out location F1 exact / overlap", lambda r: _loc(r.heldout_long)),
        (
            "long held-out read whole: accuracy / below threshold",
            lambda r: f"{r.heldout_long_whole.accuracy:.3f} / {r.heldout_long_whole.fallback_rate:.1%}"
            if r.heldout_long_whole
            else "—",
        ),
        ("xSID accuracy", lambda r: fmt(r.xsid.accuracy if r.xsid else None, ".3f")),
        ("xSID macro-F1", lambda r: fmt(r.xsid.macro_f1 if r.xsid else None, ".3f")),
        ("xSID answers below threshold", lambda r: fmt(r.xsid.fallback_rate if r.xsid else None, ".1%")),
        ("xSID train time (s)", lambda r: fmt(r.xsid.train_seconds if r.xsid else None, ".2f")),
        ("xSID parse p50 / p99 (ms)", lambda r: _lat(r.xsid)),
        ("peak memory (MB)", lambda r: fmt(r.peak_mb, ".0f")),
    ]
    head = "| | " + " | ".join(r.engine for r in results) + " |"
    sep = "|---|" + "---:|" * len(results)
    body = [f"| {name} | " + " | ".join(f(r) for r in results) + " |" for name, f in rows]
    return "\n".join([head, sep, *body])


def _loc(report: EvaluationReport | None) -> str:
    if report is None:
        return "—"
    for e in report.entities:
        if e.entity == "location":
            return f"{e.f1:.2f} / {e.overlap_f1:.2f}"
    return "—"


def _lat(report: EvaluationReport | None) -> str:
    if report is None:
        return "—"
    return f"{report.parse_ms_p50:.2f} / {report.parse_ms_p99:.2f}"


def per_intent_table(results: list[EngineResult], attr: str) -> str:
    reports = [(r.engine, getattr(r, attr)) for r in results if getattr(r, attr) is not None]
    if not reports:
        return ""
    intents = sorted({s.intent for _, rep in reports for s in rep.per_intent})
    head = "| intent | " + " | ".join(f"{name} F1" for name, _ in reports) + " |"
    sep = "|---|" + "---:|" * len(reports)
    lines = [head, sep]
    scores = {name: {s.intent: s.f1 for s in rep.per_intent} for name, rep in reports}
    for intent in sorted(intents, key=lambda i: min(scores[n].get(i, 1.0) for n, _ in reports)):
        lines.append(
            f"| {intent} | "
            + " | ".join(f"{scores[name].get(intent, 0.0):.3f}" for name, _ in reports)
            + " |"
        )
    return "\n".join(lines)


def confusions(results: list[EngineResult], attr: str) -> str:
    out = []
    for r in results:
        rep = getattr(r, attr)
        if rep is None:
            continue
        pairs = ", ".join(f"{a} → {b} ({n})" for a, b, n in rep.worst_confusions[:10])
        out.append(f"- **{r.engine}** ({rep.method}): {pairs}")
    return "\n".join(out)


#: Issue 14's measurements (29 Nov 2026, this machine, nlu/data with the long messages: 1,918
#: examples). Not regenerated by this script.
ISSUE_14 = """## Issue 14: long messages, honest evaluation, stems (29 Nov 2026)

sklearn engine on nlu/data with the long real-style messages (1,918 examples). Accuracy / macro-F1 /
answers below the 0.5 threshold. Choices were made on CV and `heldout.yml`, preferring the
held-out set where they disagreed; the long held-out set is shown for the record only.

| features | 5-fold CV | held-out | long held-out (acc / below) |
|---|---:|---:|---:|
| before: concept families, no stems | 0.906 / 0.885 / 8.3% | 0.908 / 0.907 / 7.0% | 0.955 / 3.4% |
| concept entries seen in one training example removed (85 of 302) | 0.880 / 0.861 / 10.1% | 0.912 / 0.912 / 7.0% | 0.955 / 3.4% |
| no concept families | 0.882 / 0.860 / 9.0% | 0.934 / 0.933 / 4.8% | 0.977 / 3.4% |
| concept families + Sastrawi stems added | 0.911 / 0.890 / 8.0% | 0.912 / 0.911 / 5.5% | 0.966 / 3.4% |
| concept families, words replaced by their stems | 0.905 / 0.883 / 7.8% | 0.912 / 0.912 / 6.6% | 0.955 / 3.4% |
| single-example entries removed + stems added | 0.883 / 0.863 / 10.0% | 0.919 / 0.919 / 6.6% | 0.966 / 3.4% |
| **no concept families + stems added (chosen)** | **0.881 / 0.859 / 9.7%** | **0.938 / 0.937 / 4.8%** | **0.989 / 4.5%** |
| no concept families, words replaced by their stems | 0.879 / 0.857 / 9.1% | 0.934 / 0.934 / 5.1% | 0.966 / 3.4% |
| chosen, without the English → Indonesian words | 0.855 / 0.834 / 12.0% | 0.934 / 0.933 / 4.0% | 0.989 / 5.7% |

- The concept families of nlu/lexicon.py were written while reading CV errors; with them CV is
  2.5 points higher and the held-out set 3 points lower. Removed. Indonesian stems (PySastrawi,
  added next to each word, words under 4 letters left alone) generalise across affixes
  ("berlubang", "kebanjiran"): kept. Replacing words by their stems lost information. The English →
  Indonesian words still pay (+2.6 CV, +0.4 held-out). Parse p50 fell from about 1.0 ms to 0.6 ms
  without the concept matching.
- Reading long messages by their parts (nlu/long_messages.py: courtesy clauses, i.e. greetings,
  thanks and goodbyes the model is sure of, set aside, the rest classified as a whole): with the
  model of that day, long held-out 0.932 / 5.7% below → 0.955 / 3.4%; with a model that had no
  long training examples, 0.739 (a quarter of the questions read as `thank`) → 0.966. The short
  held-out set is unchanged by it (messages under 8 words are never split).
- Long real-style training examples (nlu/data/long_messages.yml, 132): short held-out 0.893 →
  0.908 with the reading by parts.
- Calibration: an intent with fewer than 3 examples is now trained but left out of the
  temperature fit (before, one such intent switched calibration off for all and pushed almost
  every answer below the threshold). One intent cut to a single example: the other intents'
  held-out accuracy 0.890 → 0.886, answers below threshold 7.7% → 7.6%.
- Earlier (28 Nov, below) Sastrawi stems replacing the words did not help CV (0.807 against 0.809):
  measured then on CV only.
"""


#: Measurements behind the engines' settings (28 Nov 2026, this machine, nlu/data of that day:
#: 1,557 examples for the sklearn part, 1,786 for the Rasa part). Not regenerated: rerun the
#: experiments when the data changes a lot.
CHOICES = """## Measurements behind the settings

sklearn engine, 5-fold CV on nlu/data (accuracy / macro-F1):

- Features and classifier: TF-IDF word 1–2 + char_wb 2–5 with LinearSVC (balanced) on raw
  lower-cased text 0.793 / 0.788 (C 0.3); with Warga's slang normaliser 0.802 / 0.798 (C 0.3),
  0.809 / 0.806 (C 1). LogisticRegression (C 10–30) scored the same (0.805–0.807) but trained
  15× slower; RidgeClassifier, ComplementNB (0.777), word-only (0.754), char-only (0.813),
  char n-grams across word boundaries (0.784), word 1–3, char 1–5/2–6 and Indonesian stemming
  (Sastrawi: 0.807) were no better. C 0.5–2 is a plateau (±0.1 point).
- The remaining errors were meaning, not spelling: English examples (18% of the data) were
  right only 64% of the time. An English → Indonesian word table (nlu/lexicon.py) raised CV to
  0.852; concept families for short replies and complaint topics to 0.881 and 0.891.
  (The families were written while reading the CV errors, so CV flatters them a little; the
  held-out set, 272 sentences never trained on, stayed at 0.90–0.91 throughout.)
- Confidence: softmax of the SVM scores with a temperature fitted on 3-fold held-out scores
  (negative log-likelihood); at the default threshold 0.5 about 10% of CV answers fall below
  it and 93% of the rest are right.

Rasa pipeline (nlu/rasa/config.yml), measured 28 Nov 2026 on nlu/data of that day (1,786
examples, fingerprint 2b8928c5006b): 5-fold CV with the sklearn engine's folds, and trained on
all data / tested on the held-out set. "Rasa sees": `raw` the citizen's text; `norm` Warga's
normalised tokens (nlu/normalize.py); `feat` those plus the English → Indonesian words and
concept tokens of nlu/lexicon.py, i.e. exactly what the sklearn engine classifies. Intent
accuracy / macro-F1; "below" = answers under the 0.5 threshold (or `nlu_fallback`).

| Rasa sees | features | intent classifier | CV | CV below | held-out | train / model |
|---|---|---|---:|---:|---:|---:|
| raw | CountVectors word 1–2 + char_wb 2–5 | DIET, 1 layer × 128, 60 epochs (before; 1,557 examples) | 0.775 / 0.773 | 21.3% | 0.868 / 0.865 | 181 s |
| raw | CountVectors word 1–2 + char_wb 2–5 | LogisticRegression, Rasa's default (lbfgs) | 0.786 / 0.798 | 26.0% | 0.882 / 0.882 | 26 s |
| raw | same | LogisticRegression, liblinear (one-vs-rest) | 0.819 / 0.828 | 24.2% | 0.897 / 0.898 | 8 s |
| feat | same | LogisticRegression, lbfgs | 0.863 / 0.874 | 15.2% | 0.875 / 0.877 | 20 s |
| feat | same | LogisticRegression, liblinear | 0.880 / 0.890 | 12.9% | 0.886 / 0.887 | 7 s |
| feat | same, char_wb 2–6 | LogisticRegression, liblinear | 0.878 / 0.888 | 13.2% | 0.882 / 0.884 | 8 s |
| raw | TF-IDF (warga_rasa.TfidfFeaturizer), scale 11 | LogisticRegression, liblinear | 0.835 / 0.844 | 21.4% | 0.904 / 0.903 | 5 s |
| norm | TF-IDF, scale 11 | LogisticRegression, liblinear | 0.847 / 0.855 | 20.4% | 0.912 / 0.911 | 5 s |
| feat | TF-IDF, scale 5.5 | LogisticRegression, liblinear | 0.901 / 0.908 | 17.7% | 0.882 / 0.881 | 5 s |
| feat | TF-IDF, scale 8 | LogisticRegression, liblinear | 0.901 / 0.907 | 14.6% | 0.886 / 0.885 | 5 s |
| **feat** | **TF-IDF, scale 11 (chosen)** | **LogisticRegression, liblinear** | **0.901 / 0.908** | **12.6%** | **0.886 / 0.885** | 5 s |
| feat | TF-IDF, scale 16 | LogisticRegression, liblinear | 0.899 / 0.906 | 11.0% | 0.886 / 0.885 | 5 s |

Train / model: in one warm Rasa process, on a shared machine; a separate
`RasaTrainer.train` adds about 10 s of Rasa start-up.

- Normalisation is what Warga contributes: `feat` against `raw` is +6.6 points of CV accuracy.
  Rasa's count features and its fixed C were the rest: TF-IDF weighting (+2 points over counts)
  needs a custom component (Rasa ships none; its documentation uses a TF-IDF featurizer as the
  example of a custom graph component). `scale` 5.5–16 scored alike; 11 keeps the share below
  the threshold near the sklearn engine's.
- **The concept tokens raise CV but lower the held-out score**, for both engines. A
  scikit-learn replica of the Rasa pipeline (it matched Rasa within 0.3 points where both ran):
  `norm` 0.849 CV / 0.919 held-out; `norm` + English words 0.876 / 0.926; `norm` + concepts
  0.894 / 0.890; `feat` (both) 0.903 / 0.886. The sklearn engine without the concept tokens:
  0.879 / 0.887 CV, 0.930 / 0.930 held-out (with them 0.902 / 0.908, 0.890 / 0.889). The
  families were written while reading CV errors (above), and it shows: they fit the training
  sentences' wording. Mostly the short-reply families: only those (greeting … guidance) 0.899 /
  0.897, only the complaint-topic families 0.878 / 0.919; dropping any single family moves the
  held-out score by 1.5 points at most. Rasa uses `feat` as required (same text as the sklearn
  engine; CV ≥ 0.90 is the issue's target); nlu/lexicon.py's concept families need another
  look, and the Rasa engine follows that file automatically.
- Entities (CRFEntityExtractor on the normalised text, offsets mapped back; CV exact / overlap
  F1 of `location`, held-out in brackets): CRF defaults on lower-cased text 0.63 / 0.79
  (0.50 / 0.70); keeping capitals of unchanged words 0.61 / 0.81 (0.46 / 0.69); two words of
  context each side and 100 iterations 0.62 / 0.81 (0.46 / 0.72); plus RegexFeaturizer's lookup
  `pattern` feature (chosen) 0.68 / 0.85 (0.53 / 0.76). DIET's entities were 0.19 / 0.67
  held-out.
- Training a model with the chosen pipeline: about 7 s in a warm Rasa process (5 s without the
  entity extractor), a third of it Rasa fingerprinting the training data after each component
  (profiled); a separate process also pays about 10 s of start-up (17 s in the table above),
  hence `RasaTrainer.train_each`: the five CV folds in one process, about 45 s.
- Confidences: liblinear's one-vs-rest probabilities; at the gateway's threshold 0.5 about 12%
  of CV answers and 9% of held-out answers fall below it, and 95% / 94% of the rest are right
  (sklearn engine: 10% / 8%, 94% / 93%). FallbackClassifier threshold 0.5 to match nlu.threshold
  (its ambiguity rule, 0.1, adds under 0.5%).

Location entities: exact-span F1 is held down by the annotations themselves (12% of spans
start with a preposition, "depan sdn 03", "sekitar pasar minggu", others do not; place names
with no prefix, "cawang", "kapuk", need lookup tables; a kelurahan table came on 28 Nov);
overlap F1 is what the dialogue feels (it asks for the location when none is found).
"""


def write_markdown(
    path: Path,
    results: list[EngineResult],
    info: dict[str, str],
    data: TrainingData,
    sets: TestSets,
    args: argparse.Namespace,
    pngs: list[Path],
) -> None:
    rasa = next((r for r in results if r.engine == "rasa"), None)
    cv_note = "5-fold stratified CV, same folds for both engines"
    if rasa is not None and rasa.cv is None:
        cv_note += "; Rasa CV not run this time (--rasa-folds 0): see the held-out rows"
    elif rasa is not None and rasa.cv is not None:
        cv_note = (f"sklearn {args.folds}-fold, Rasa {rasa.cv.method}, stratified, same seed"
                   " (the same folds when the counts match)")
    notes = "\n".join(f"- {r.engine}: {n}" for r in results for n in r.notes)
    heldout = sets.heldout
    xsid_line = (
        f"- Public comparison: xSID Indonesian (`../shared/data/xsid-id`, CC BY-SA 4.0, van der Goot et al. 2021): "
        f"trained on id.valid ({len(sets.xsid_train.examples)} sentences, {len(sets.xsid_train.intents)} intents), "
        f"tested on id.test ({len(sets.xsid_test.examples)}); intent names `a/b` become `a__b` (Rasa reads `/` "
        "as a retrieval intent). One test intent (`alarm__time_left_on_alarm`) has no training example."
        if sets.xsid_train is not None and sets.xsid_test is not None
        else "- xSID: not found, not run."
    )
    text = f"""# NLU benchmarks

Produced by `bench/nlu_bench.py` (`.venv/bin/python bench/nlu_bench.py`); rerun it after changing
the training data or an engine, and commit this file with the change.

## Machine

- CPU: {info["cpu"]} ({info["nproc"]} cores visible)
- RAM: {info["ram"]}
- OS: {info["os"]}; Python {info["python"]} (gateway), Rasa Open Source 3.6.21 on Python 3.10 (.venv-rasa)
- Date: {info["date"]}

## Data

- Training: `nlu/data/*.yml`, {len(data.examples)} examples, {len(data.intents)} intents (fingerprint `{data.fingerprint()}`).
- Held-out: `nlu/data/test/heldout.yml`, {len(heldout.examples)} examples (mostly short chat turns), and
  `nlu/data/test/heldout_long.yml`, {len(sets.heldout_long.examples)} long real-style messages (greeting,
  problem, address, duration, request, thanks), both frozen and never trained on. Features were
  chosen on cross-validation and `heldout.yml`, preferring `heldout.yml` where they disagreed
  (issue 14); the long set was not used to choose anything.
{xsid_line}
- Accuracy: {cv_note}. "Accuracy" scores the top-ranked intent; "below threshold" is the share of
  answers under `nlu.threshold` ({args.threshold}), which the dialogue treats as "not understood".

## Results

{table(results)}

Latency: each sentence parsed alone (median of 3 passes over all held-out and training
sentences); sklearn in-process (`SklearnEngine.parse`, including entity extraction and language
detection), Rasa through Warga's HTTP client (`RasaEngine.parse`: normalising the text,
`POST /model/parse` on 127.0.0.1, mapping entities back to the citizen's text). Training: sklearn
median of 3 in-process fits; Rasa one separate training process (`RasaTrainer.train`, config
`nlu/rasa/config.yml`), cache cold, about half of it starting Rasa. Rasa cross-validation trains
the five fold models in one process (`RasaTrainer.train_each`) and tests each through a real
server while the next one trains.

Both engines read a long message whole and by its clauses with the same code
(`nlu/long_messages.py`): greetings and thanks are set aside, a question inside a complaint is
kept as the secondary intent. For Rasa every clause of a long message is one more
`POST /model/parse` (the latency rows include them). "Long held-out read whole" is the same Rasa
model with reading by parts switched off (`RasaEngine(by_parts=False)`): the before/after of
that change.

{notes}

## Per intent (cross-validation)

{per_intent_table(results, "cv")}

## Per intent (held-out)

{per_intent_table(results, "heldout")}

## Per intent (long held-out)

{per_intent_table(results, "heldout_long")}

## Worst confusions

Cross-validation:

{confusions(results, "cv")}

Held-out:

{confusions(results, "heldout")}

Long held-out:

{confusions(results, "heldout_long")}

xSID:

{confusions(results, "xsid")}

Confusion matrices: {", ".join(f"`{p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}`" for p in pngs)}

{ISSUE_14}
{CHOICES}
"""
    replace_marked_part(path, text)


BEGIN = "<!-- nlu:begin -->"
END = "<!-- nlu:end -->"


def replace_marked_part(path: Path, part: str) -> None:
    """Write ``part`` between the NLU markers of ``path``, leaving the rest of the file alone.

    A file without the markers is from before they existed, when this script wrote all of
    it: its text up to the first other section's marker (a line starting with ``<!--``) is
    replaced; anything from that marker on is kept.
    """
    block = f"{BEGIN}\n{part.strip()}\n{END}\n"
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        new = head + block + ("\n" + tail if tail else "")
    else:
        lines = old.splitlines(keepends=True)
        keep_from = next((i for i, line in enumerate(lines) if line.startswith("<!--")), len(lines))
        tail = "".join(lines[keep_from:])
        new = block + ("\n" + tail if tail else "")
    path.write_text(new, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "nlu" / "data")
    parser.add_argument("--heldout", type=Path, default=ROOT / "nlu" / "data" / "test" / "heldout.yml")
    parser.add_argument("--heldout-long", type=Path, default=ROOT / "nlu" / "data" / "test" / "heldout_long.yml")
    parser.add_argument(
        "--xsid", type=Path, default=ROOT.parent / "shared" / "data" / "xsid-id", help="xSID directory (id.valid/test)"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--rasa-folds", type=int, default=5, help="0 skips Rasa cross-validation")
    parser.add_argument("--skip-rasa", action="store_true")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--png-dir", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument(
        "--reuse-rasa", action="store_true", help="Use the Rasa results saved by the last full run (same data only)"
    )
    args = parser.parse_args()

    def say(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    data, _ = load_and_validate(args.data)
    heldout = load_training_data(args.heldout)
    xsid_valid, xsid_test = args.xsid / "id.valid.conll", args.xsid / "id.test.conll"
    have_xsid = xsid_valid.is_file() and xsid_test.is_file()
    sets = TestSets(
        heldout,
        load_training_data(args.heldout_long),
        load_conll(xsid_valid) if have_xsid else None,
        load_conll(xsid_test) if have_xsid else None,
    )
    if not have_xsid:
        say(f"xSID not found in {args.xsid}: skipped")
    texts = [ex.text for ex in heldout.examples] + [ex.text for ex in data.examples]
    info = machine()
    say("sklearn...")
    results = [run_sklearn(data, sets, texts, args.folds, args.threshold)]
    key = data.fingerprint() + heldout.fingerprint() + sets.heldout_long.fingerprint()
    saved = ROOT / "var" / "bench" / "rasa-result.pkl"
    if args.reuse_rasa:
        fingerprint, rasa_result = pickle.loads(saved.read_bytes())
        if fingerprint != key:
            say("error: the saved Rasa results are for other data; rerun without --reuse-rasa")
            return 1
        results.append(rasa_result)
    elif not args.skip_rasa:
        config = NluConfig(
            rasa_venv=ROOT / ".venv-rasa", rasa_config=ROOT / "nlu" / "rasa" / "config.yml", threshold=args.threshold
        )
        rasa_result = run_rasa(data, sets, texts, args.rasa_folds, config, say)
        if rasa_result.cv is None and saved.is_file():
            # A quick rerun (--rasa-folds 0) keeps the last cross-validation of the same data.
            fingerprint, previous = pickle.loads(saved.read_bytes())
            if fingerprint == key and previous.cv is not None:
                rasa_result.cv = previous.cv
                rasa_result.notes.append("cross-validation from the previous full run on the same data")
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_bytes(pickle.dumps((key, rasa_result)))
        results.append(rasa_result)
    pngs = []
    for r in results:
        for attr in ("cv", "heldout", "heldout_long", "xsid"):
            rep = getattr(r, attr)
            if rep is not None:
                pngs.append(save_confusion_png(rep, args.png_dir / f"confusion-{r.engine}-{attr}.png"))
    print(table(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_markdown(args.output, results, info, data, sets, args, pngs)
    say(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
