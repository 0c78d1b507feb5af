"""bench/rasa_pipelines.py's runs: train one candidate, serve it, score it (:func:`measure`).

Imported by the script (which puts the repository on the path). Each training runs in a
separate Rasa process with its own throw-away server (:class:`nlu.throwaway_rasa.ThrowawayRasa`),
one at a time; a :class:`Result` is what one candidate measured.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nlu_bench_sets import BenchSets
from process_memory import tree_memory_mb
from rasa_pipelines_candidates import ROOT, Candidate, config_yaml

from nlu.config import NluConfig
from nlu.evaluate import evaluate_engine
from nlu.scores import EvaluationReport
from nlu.throwaway_rasa import ThrowawayRasa
from nlu.training_data import TrainingData


@dataclass(frozen=True, slots=True)
class Result:
    """What one candidate measured."""

    key: str
    label: str
    heldout: EvaluationReport
    heldout_long: EvaluationReport
    xsid: EvaluationReport | None
    train_seconds: float
    p50_ms: float
    p99_ms: float
    serving_mb: float
    serving_peak_mb: float
    load_average: float
    #: xSID scored by another candidate with the same intent classifier (its key).
    xsid_from: str = ""
    #: CPU seconds (user + system) of the training process: what a training costs, much less
    #: sensitive than the wall time to the other work on a shared machine.
    train_cpu_seconds: float = 0.0
    xsid_train_cpu_seconds: float = 0.0

    @property
    def examples(self) -> int:
        return self.heldout.examples + self.heldout_long.examples

    @property
    def accuracy(self) -> float:
        """Accuracy over both held-out sets together (each sentence counts once)."""
        right = round(self.heldout.accuracy * self.heldout.examples) + round(
            self.heldout_long.accuracy * self.heldout_long.examples
        )
        return right / self.examples if self.examples else 0.0

    @property
    def below(self) -> float:
        """Share of both held-out sets' answers below the threshold."""
        n = round(self.heldout.fallback_rate * self.heldout.examples) + round(
            self.heldout_long.fallback_rate * self.heldout_long.examples
        )
        return n / self.examples if self.examples else 0.0


def measure(candidate: Candidate, sets: BenchSets, config_dir: Path, say: Callable[[str], None], *,
            xsid: bool = True, threshold: float = 0.5) -> Result:
    """Train ``candidate`` on the project data (and on xSID), serve it, score it."""
    path = config_dir / candidate.file_name
    path.write_text(config_yaml(candidate), encoding="utf-8")
    config = NluConfig(rasa_venv=ROOT / ".venv-rasa", rasa_config=path, threshold=threshold)
    load = os.getloadavg()[0]
    with ThrowawayRasa(config) as rasa:
        # The server starts while the model trains (a minute on a busy machine): the training's
        # wall time shares the cores with it, its CPU time (the rule's cost) does not.
        rasa.start()
        say(f"{candidate.label}: training (load average {load:.1f})...")
        model, seconds, cpu = _train(rasa, sets.data)
        say(f"{candidate.label}: trained in {seconds:.0f}s ({cpu:.0f} CPU s); serving...")
        engine = rasa.serve(model)
        engine.parse(sets.heldout.examples[0].text)  # the first parse after loading is slow
        held = evaluate_engine(engine, sets.heldout, method="held-out", train_seconds=seconds)
        long = evaluate_engine(engine, sets.heldout_long, method="held-out, long messages", train_seconds=seconds)
        p50, p99 = held.parse_ms_p50, held.parse_ms_p99
        assert rasa.server is not None and rasa.server.pid is not None
        serving = tree_memory_mb(rasa.server.pid)
        peak = tree_memory_mb(rasa.server.pid, "VmHWM")
        say(f"{candidate.label}: held-out {held.accuracy:.3f}, long {long.accuracy:.3f}, serving {serving:.0f} MB")
        xs, xcpu = None, 0.0
        if xsid and sets.xsid_train is not None and sets.xsid_test is not None:
            say(f"{candidate.label}: xSID...")
            xmodel, xseconds, xcpu = _train(rasa, sets.xsid_train)
            xs = evaluate_engine(rasa.serve(xmodel), sets.xsid_test, method="xSID id.valid → id.test",
                                 train_seconds=xseconds, known_intents=sets.xsid_train.intents)
    return Result(candidate.key, candidate.label, held, long, xs, seconds, p50, p99, serving, peak, load,
                  train_cpu_seconds=cpu, xsid_train_cpu_seconds=xcpu if xs is not None else 0.0)


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _train(rasa: ThrowawayRasa, data: TrainingData) -> tuple[Path, float, float]:
    """Train; the model, wall seconds and CPU seconds (the training process is waited for, so
    its CPU time is added to this process's children's: the difference is this training's)."""
    before = _cpu_of_children()
    model, seconds = rasa.train(data)
    return model, seconds, _cpu_of_children() - before
