"""Benchmark results saved before the modules were split still load.

var/bench/*.pkl (bench/nlu_bench.py --reuse-rasa, bench/rasa_pipelines.py --reuse/--only) name
the report's classes under nlu.evaluate, and the scripts' own types under ``__main__`` (the
script that saved them, run as a script). The old bytes are made here from today's objects
pickled with protocol 2, whose GLOBAL opcode names each class as ``c<module>\\n<name>\\n``, with
the module rewritten to the old one.
"""

from __future__ import annotations

import io
import pickle
import sys
from dataclasses import replace
from typing import Any

from nlu.scores import EntityScore, EvaluationReport, IntentScore, Prediction, score
from tests.support import PROJECT

# The bench scripts import each other as siblings (bench/ is not a package).
sys.path.insert(0, str(PROJECT / "bench"))

import nlu_bench  # noqa: E402
import rasa_pipelines  # noqa: E402
from rasa_pipelines_candidates import all_candidates  # noqa: E402
from rasa_pipelines_runs import Result  # noqa: E402

#: Where nlu/scores.py's classes were defined before the split.
REPORT_BEFORE = {
    f"nlu.scores\n{name}": f"nlu.evaluate\n{name}"
    for name in ("EvaluationReport", "IntentScore", "EntityScore", "Prediction")
}


def saved_before(obj: object, moves: dict[str, str]) -> bytes:
    """``obj`` pickled as before the split: each ``module\\nname`` of ``moves`` named by its old path."""
    data = pickle.dumps(obj, protocol=2)
    for new, old in moves.items():
        needle = f"c{new}\n".encode()
        assert needle in data, f"{new!r} is not in the pickle"
        data = data.replace(needle, f"c{old}\n".encode())
    return data


class AsScript(pickle.Unpickler):
    """Unpickles in the process of ``script`` run as a script, where it is ``__main__``."""

    def __init__(self, data: bytes, script: str) -> None:
        super().__init__(io.BytesIO(data))
        self.script = script

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(self.script if module == "__main__" else module, name)


def report() -> EvaluationReport:
    preds = [Prediction("halo", "greet", "greet", 0.9, True), Prediction("banjir", "report_flood", "greet", 0.4, False)]
    entities = (EntityScore("location", 0.5, 1.0, 0.667, 0.8, 2),)
    return replace(score(preds, engine="rasa", method="held-out"), entities=entities)


def test_a_report_saved_when_its_classes_were_in_nlu_evaluate_loads_as_today_s() -> None:
    saved = saved_before(report(), REPORT_BEFORE)
    assert b"nlu.scores" not in saved

    loaded = pickle.loads(saved)

    assert loaded == report()
    assert type(loaded) is EvaluationReport
    assert {type(s) for s in loaded.per_intent} == {IntentScore}
    assert type(loaded.entities[0]) is EntityScore and type(loaded.errors[0]) is Prediction


def test_the_nlu_benchmark_s_saved_rasa_column_loads() -> None:
    column = nlu_bench.EngineResult("rasa", heldout=report(), notes=["a note"])
    moves = {**REPORT_BEFORE, "nlu_bench_runs\nEngineResult": "__main__\nEngineResult"}
    saved = saved_before(("fingerprint", column), moves)

    key, loaded = AsScript(saved, "nlu_bench").load()

    assert key == "fingerprint" and loaded == column


def test_a_saved_run_of_the_rasa_pipelines_loads() -> None:
    candidate = all_candidates("a")[0]
    result = Result(candidate.key, candidate.label, report(), report(), None, train_seconds=60.0, p50_ms=5.0,
                    p99_ms=9.0, serving_mb=600.0, serving_peak_mb=650.0, load_average=1.5, train_cpu_seconds=40.0)
    run = rasa_pipelines.Run(results=[result], candidates=[candidate], loads=[1.5], info={"cpu": "x"}, minutes=3.0)
    moves = {
        **REPORT_BEFORE,
        "rasa_pipelines\nRun": "__main__\nRun",
        "rasa_pipelines_runs\nResult": "__main__\nResult",
        "rasa_pipelines_candidates\nCandidate": "__main__\nCandidate",
    }

    loaded = AsScript(saved_before(run, moves), "rasa_pipelines").load()

    assert loaded == run
    assert type(loaded.results[0]) is Result and loaded.results[0].accuracy == result.accuracy
