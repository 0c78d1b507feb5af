"""Rasa YAML training data: what both engines train from, and writing it back as Rasa YAML.

One source feeds both engines: ``nlu/data/*.yml`` in Rasa 3.x's NLU format (intents with
examples, inline entity annotations, synonyms, regexes, lookup tables). See
https://rasa.com/docs/rasa/3.x/training-data-format/ for the format. This module holds the
immutable :class:`TrainingData` and its parts, the :class:`Problem` a file can have, and
:meth:`TrainingData.to_yaml`; reading files is :mod:`nlu.training_reader`, checking them
against Warga's intents and entities :mod:`nlu.training_checks`, and :func:`load_and_validate`
(what most callers want) does both and refuses data with errors.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Source:
    """Where something was written: a file and a 1-based line (0 when unknown)."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class EntitySpan:
    """An annotated entity inside an example's plain text.

    Attributes:
        entity: Entity name, e.g. ``location``.
        start: Start offset in the plain text.
        end: End offset (exclusive).
        text: The annotated text as written.
        value: The normalised value (the annotation's ``value``, else ``text``).
        role: Rasa's optional entity role.
    """

    entity: str
    start: int
    end: int
    text: str
    value: str
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Example:
    """One training sentence with its intent and entity annotations removed from the text."""

    intent: str
    text: str
    entities: tuple[EntitySpan, ...] = ()
    source: Source = Source("<memory>")


@dataclass(frozen=True, slots=True)
class Synonym:
    """Surface forms (``examples``) that all mean ``value``."""

    value: str
    examples: tuple[str, ...]
    source: Source = Source("<memory>")


@dataclass(frozen=True, slots=True)
class RegexFeature:
    """A named list of regular expressions (Rasa's ``regex:`` section)."""

    name: str
    patterns: tuple[str, ...]
    source: Source = Source("<memory>")


@dataclass(frozen=True, slots=True)
class Lookup:
    """A named list of phrases (Rasa's ``lookup:`` section)."""

    name: str
    elements: tuple[str, ...]
    source: Source = Source("<memory>")


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in training data.

    Attributes:
        kind: ``yaml`` | ``schema`` | ``duplicate`` | ``conflict`` | ``unknown_intent`` |
            ``unknown_entity`` | ``bad_annotation`` | ``bad_regex`` | ``missing_intent`` |
            ``few_examples``.
        severity: ``error`` (training refuses the data) or ``warning``.
        message: One line for a person.
        source: File and line.
    """

    kind: str
    severity: str
    message: str
    source: Source

    def __str__(self) -> str:
        return f"{self.source}: {self.severity}: {self.message} [{self.kind}]"


class TrainingDataError(Exception):
    """Training data could not be loaded or is not fit for training. Not retryable: fix the data.

    Attributes:
        problems: What is wrong, with file and line.
    """

    retryable = False

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        first = str(self.problems[0]) if self.problems else "invalid training data"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(first + more)


@dataclass(frozen=True, slots=True)
class TrainingData:
    """Everything one engine trains from; immutable so a model's data hash stays true."""

    examples: tuple[Example, ...] = ()
    synonyms: tuple[Synonym, ...] = ()
    regexes: tuple[RegexFeature, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    files: tuple[str, ...] = ()
    _hash: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def intents(self) -> tuple[str, ...]:
        """Intents that have examples, in first-seen order."""
        return tuple(dict.fromkeys(e.intent for e in self.examples))

    @property
    def entity_names(self) -> tuple[str, ...]:
        """Entities annotated in examples."""
        return tuple(dict.fromkeys(s.entity for e in self.examples for s in e.entities))

    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    def labels(self) -> list[str]:
        return [e.intent for e in self.examples]

    def fingerprint(self) -> str:
        """A short content hash: the same data gives the same hash whatever the file layout."""
        if not self._hash:
            payload = {
                "examples": sorted(
                    [e.intent, e.text, [[s.entity, s.start, s.end, s.value] for s in e.entities]]
                    for e in self.examples
                ),
                "synonyms": sorted([s.value, sorted(s.examples)] for s in self.synonyms),
                "regexes": sorted([r.name, sorted(r.patterns)] for r in self.regexes),
                "lookups": sorted([lk.name, sorted(lk.elements)] for lk in self.lookups),
            }
            blob = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
            self._hash.append(hashlib.sha256(blob).hexdigest()[:12])
        return self._hash[0]

    def subset(self, indices: Iterable[int]) -> TrainingData:
        """The same data with only the examples at ``indices`` (for folds and small models)."""
        chosen = tuple(self.examples[i] for i in indices)
        return TrainingData(chosen, self.synonyms, self.regexes, self.lookups, self.files)

    def with_examples(self, examples: Iterable[Example]) -> TrainingData:
        return TrainingData(tuple(examples), self.synonyms, self.regexes, self.lookups, self.files)

    def to_yaml(self) -> str:
        """Render as one Rasa 3.x NLU YAML document (what ``rasa train nlu`` reads)."""
        by_intent: dict[str, list[Example]] = defaultdict(list)
        for ex in self.examples:
            by_intent[ex.intent].append(ex)
        lines = ['version: "3.1"', "nlu:"]
        for intent, examples in by_intent.items():
            lines.append(f"- intent: {_yaml_scalar(intent)}")
            lines.append("  examples: |")
            lines.extend(f"    - {_annotate(ex)}" for ex in examples)
        for syn in self.synonyms:
            lines.append(f"- synonym: {_yaml_scalar(syn.value)}")
            lines.append("  examples: |")
            lines.extend(f"    - {_one_line(x)}" for x in syn.examples)
        for rx in self.regexes:
            lines.append(f"- regex: {_yaml_scalar(rx.name)}")
            lines.append("  examples: |")
            lines.extend(f"    - {_one_line(p)}" for p in rx.patterns)
        for lk in self.lookups:
            lines.append(f"- lookup: {_yaml_scalar(lk.name)}")
            lines.append("  examples: |")
            lines.extend(f"    - {_one_line(x)}" for x in lk.elements)
        return "\n".join(lines) + "\n"


def _yaml_scalar(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _annotate(example: Example) -> str:
    text = example.text
    out: list[str] = []
    pos = 0
    for span in sorted(example.entities, key=lambda s: s.start):
        if span.start < pos:  # overlapping annotations cannot be written inline; keep the first
            continue
        out.append(text[pos : span.start])
        if span.value == span.text and span.role is None:
            out.append(f"[{span.text}]({span.entity})")
        else:
            spec: dict[str, str] = {"entity": span.entity}
            if span.value != span.text:
                spec["value"] = span.value
            if span.role is not None:
                spec["role"] = span.role
            out.append(f"[{span.text}]{json.dumps(spec, ensure_ascii=False)}")
        pos = span.end
    out.append(text[pos:])
    return _one_line("".join(out))


def load_and_validate(path: str | Path, **kwargs: object) -> tuple[TrainingData, tuple[Problem, ...]]:
    """Load (:func:`nlu.training_reader.load_training_data`) and validate
    (:func:`nlu.training_checks.validate`, with ``kwargs``); raise if anything is an error.

    Raises:
        TrainingDataError: Unreadable data, or validation errors.
    """
    # Late: both modules import this one's types.
    from nlu.training_checks import validate
    from nlu.training_reader import load_training_data

    data = load_training_data(path)
    problems = validate(data, **kwargs)  # type: ignore[arg-type]
    errors = [p for p in problems if p.severity == ERROR]
    if errors:
        raise TrainingDataError(errors)
    return data, problems
