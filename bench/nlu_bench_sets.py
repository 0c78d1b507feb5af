"""The data both NLU benchmarks (bench/nlu_bench.py, bench/rasa_pipelines.py) train and score on.

The project's training data, the two frozen held-out sets (short chat turns, long real-style
messages) and the public Indonesian intent set xSID (trained on id.valid, tested on id.test),
which is left out where its files are not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nlu.datasets import load_conll
from nlu.training_data import TrainingData, load_and_validate
from nlu.training_reader import load_training_data


@dataclass(frozen=True)
class BenchSets:
    """What an engine is trained on and scored on."""

    data: TrainingData
    heldout: TrainingData
    heldout_long: TrainingData
    xsid_train: TrainingData | None
    xsid_test: TrainingData | None


def load_sets(data: Path, heldout: Path, heldout_long: Path, xsid: Path) -> BenchSets:
    """Read the sets; ``xsid`` is the directory of ``id.valid.conll`` and ``id.test.conll``."""
    training, _ = load_and_validate(data)
    valid, test = xsid / "id.valid.conll", xsid / "id.test.conll"
    have_xsid = valid.is_file() and test.is_file()
    return BenchSets(
        training,
        load_training_data(heldout),
        load_training_data(heldout_long),
        load_conll(valid) if have_xsid else None,
        load_conll(test) if have_xsid else None,
    )
