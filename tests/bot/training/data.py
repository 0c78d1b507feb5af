"""A small training data set taken from the project's own, so a test trains in seconds."""

from __future__ import annotations

from pathlib import Path

from nlu.training_data import TrainingData
from nlu.training_reader import load_training_data
from tests.support import PROJECT

PASSWORD = "correct-horse-9"
SMALL_INTENTS = ("report_flood", "report_garbage", "report_street_light", "ask_id_card", "greet", "thank")


def small_data(per_intent: int = 20) -> TrainingData:
    full = load_training_data(PROJECT / "nlu" / "data")
    picked = []
    for intent in SMALL_INTENTS:
        picked += [e for e in full.examples if e.intent == intent][:per_intent]
    return TrainingData(tuple(picked), full.synonyms[:3], full.regexes, full.lookups[:2], ("small",))


def write_small_data(directory: Path, per_intent: int = 20) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "nlu.yml").write_text(small_data(per_intent).to_yaml(), encoding="utf-8")
    return directory
