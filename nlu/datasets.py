"""Reading other people's intent data sets, so that engines can be compared on them.

``warga nlu evaluate --train A --test B`` and the benchmark accept Warga's Rasa YAML (a file or
a directory) and CoNLL files with ``# text =`` and ``# intent =`` comments per sentence (the
format of xSID, the public Indonesian benchmark in ``../shared/data/xsid-id``).
"""

from __future__ import annotations

from pathlib import Path

from nlu.training_data import ERROR, Example, Problem, Source, TrainingData, TrainingDataError
from nlu.training_reader import load_training_data

#: Suffixes read as CoNLL.
CONLL_SUFFIXES = (".conll", ".conllu")


def intent_name(raw: str) -> str:
    """A foreign intent name as Warga and Rasa can carry it.

    Rasa reads ``a/b`` as the retrieval intent ``a`` with response key ``b``, so the slash
    becomes ``__`` (``alarm/set_alarm`` → ``alarm__set_alarm``); nothing else changes.
    """
    return raw.strip().replace("/", "__")


def load_conll(path: str | Path) -> TrainingData:
    """Sentences and intents of a CoNLL file (slots are ignored).

    Each sentence is a block of lines separated by a blank line; the block's ``# text = ...`` and
    ``# intent = ...`` comments give the example.

    Raises:
        TrainingDataError: The file cannot be read or has a sentence without text or intent.
    """
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrainingDataError([Problem("schema", ERROR, f"cannot read file: {exc}", Source(str(p)))]) from exc
    examples: list[Example] = []
    problems: list[Problem] = []
    text: str | None = None
    intent: str | None = None
    start = 1
    for lineno, line in enumerate([*raw.splitlines(), ""], start=1):
        stripped = line.strip()
        if not stripped:
            if text is not None or intent is not None:
                if text and intent:
                    examples.append(Example(intent_name(intent), text, (), Source(str(p), start)))
                else:
                    problems.append(Problem("schema", ERROR, "sentence without `# text =` or `# intent =`",
                                            Source(str(p), start)))
            text = intent = None
            start = lineno + 1
            continue
        if stripped.startswith("# text ="):
            text = stripped.split("=", 1)[1].strip()
        elif stripped.startswith("# intent ="):
            intent = stripped.split("=", 1)[1].strip()
    if problems:
        raise TrainingDataError(problems)
    if not examples:
        raise TrainingDataError([Problem("schema", ERROR, "no `# text =` / `# intent =` sentences", Source(str(p)))])
    return TrainingData(tuple(examples), files=(str(p),))


def load_dataset(path: str | Path) -> TrainingData:
    """Warga's YAML (file or directory) or a CoNLL file, chosen by the file's suffix."""
    p = Path(path)
    if p.suffix.lower() in CONLL_SUFFIXES:
        return load_conll(p)
    return load_training_data(p)


__all__ = ["CONLL_SUFFIXES", "intent_name", "load_conll", "load_dataset"]
