"""bench/nlu_bench.py's runs: train, time and score one engine on the benchmark's data.

Imported by the script (which puts the repository on the path): :func:`run_sklearn` and
:func:`run_rasa` each return one :class:`EngineResult`, a column of the report
(:mod:`nlu_bench_report`).
"""

from __future__ import annotations

import resource
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nlu_bench_sets import BenchSets
from process_memory import tree_memory_mb

from nlu.base import NluEngine
from nlu.config import NluConfig
from nlu.evaluate import (
    cross_validate_rasa,
    cross_validate_sklearn,
    evaluate_engine,
    train_and_evaluate_sklearn,
)
from nlu.scores import EvaluationReport
from nlu.sklearn_engine import SklearnEngine
from nlu.sklearn_training import fit_model
from nlu.throwaway_rasa import ThrowawayRasa


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


def run_sklearn(sets: BenchSets, texts: list[str], folds: int, threshold: float) -> EngineResult:
    data = sets.data
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
    sets: BenchSets, texts: list[str], folds: int, config: NluConfig, say
) -> EngineResult:
    data = sets.data
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
        server_peak = tree_memory_mb(rasa.server.pid, "VmHWM")
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
