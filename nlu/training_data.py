"""Rasa YAML training data: loading, validation and writing back.

One source feeds both engines: ``nlu/data/*.yml`` in Rasa 3.x's NLU format (intents with
examples, inline entity annotations, synonyms, regexes, lookup tables). See
https://rasa.com/docs/rasa/3.x/training-data-format/ for the format.

Loading never raises a Python traceback at a user for a bad file: every problem becomes a
:class:`Problem` with the file and line, and a file that cannot be read at all raises
:class:`TrainingDataError` carrying those problems.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nlu.intents import ENTITIES, INTENTS, MIN_EXAMPLES_PER_INTENT

#: ``[text](entity)``, ``[text](entity:value)`` (Rasa 2 style) and ``[text]{"entity": ...}``.
_ANNOTATION = re.compile(r"\[(?P<text>[^\[\]]+)\](?:\((?P<short>[^()]+)\)|(?P<json>\{[^{}]*\}))")

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


# --------------------------------------------------------------------------------------------
# Loading


def load_training_data(path: str | Path) -> TrainingData:
    """Load one Rasa YAML file, or every ``*.yml``/``*.yaml`` directly inside a directory.

    Subdirectories are not read, so ``nlu/data/test/`` (held-out data) never leaks into training.

    Args:
        path: A file or a directory.

    Returns:
        The parsed data, examples in file order.

    Raises:
        TrainingDataError: A file is missing, unreadable, not YAML, or not Rasa NLU data;
            or an annotation is malformed. Problems carry file and line.
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in (".yml", ".yaml"))
        if not files:
            raise TrainingDataError(
                [Problem("schema", ERROR, "no *.yml training files in this directory", Source(str(p)))]
            )
    elif p.is_file():
        files = [p]
    else:
        raise TrainingDataError([Problem("schema", ERROR, "no such file or directory", Source(str(p)))])

    parts: list[TrainingData] = []
    problems: list[Problem] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem("schema", ERROR, f"cannot read file: {exc}", Source(str(f))))
            continue
        data, found = parse_training_yaml(text, str(f))
        problems.extend(found)
        parts.append(data)
    errors = [pr for pr in problems if pr.severity == ERROR]
    if errors:
        raise TrainingDataError(errors)
    return merge(parts)


def merge(parts: Sequence[TrainingData]) -> TrainingData:
    """Concatenate several loaded files into one :class:`TrainingData`."""
    return TrainingData(
        examples=tuple(e for d in parts for e in d.examples),
        synonyms=tuple(s for d in parts for s in d.synonyms),
        regexes=tuple(r for d in parts for r in d.regexes),
        lookups=tuple(lk for d in parts for lk in d.lookups),
        files=tuple(f for d in parts for f in d.files),
    )


def parse_training_yaml(text: str, filename: str = "<string>") -> tuple[TrainingData, list[Problem]]:
    """Parse the text of one Rasa NLU YAML file.

    Returns:
        The data that could be read and the problems found (errors make the data incomplete).
    """
    problems: list[Problem] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return TrainingData(files=(filename,)), [
            Problem("yaml", ERROR, f"YAML syntax error: {reason}", Source(filename, line))
        ]
    if root is None:
        return TrainingData(files=(filename,)), [
            Problem("schema", WARNING, "empty file", Source(filename))
        ]
    if not isinstance(root, yaml.MappingNode):
        return TrainingData(files=(filename,)), [
            Problem("schema", ERROR, "top level must be a mapping with an `nlu:` key", _src(filename, root))
        ]

    examples: list[Example] = []
    synonyms: list[Synonym] = []
    regexes: list[RegexFeature] = []
    lookups: list[Lookup] = []
    nlu_node: yaml.Node | None = None
    for key_node, value_node in root.value:
        key = key_node.value
        if key == "nlu":
            nlu_node = value_node
        elif key not in ("version", "rules", "stories", "responses"):
            problems.append(
                Problem("schema", WARNING, f"unknown top-level key {key!r} ignored", _src(filename, key_node))
            )
    if nlu_node is None:
        problems.append(Problem("schema", WARNING, "no `nlu:` section", Source(filename, 1)))
        return TrainingData(files=(filename,)), problems
    if not isinstance(nlu_node, yaml.SequenceNode):
        problems.append(Problem("schema", ERROR, "`nlu:` must be a list", _src(filename, nlu_node)))
        return TrainingData(files=(filename,)), problems

    for item in nlu_node.value:
        if not isinstance(item, yaml.MappingNode):
            problems.append(Problem("schema", ERROR, "each `nlu:` item must be a mapping", _src(filename, item)))
            continue
        fields = {k.value: (k, v) for k, v in item.value if isinstance(k, yaml.ScalarNode)}
        kinds = [k for k in ("intent", "synonym", "regex", "lookup") if k in fields]
        if len(kinds) != 1:
            problems.append(
                Problem(
                    "schema",
                    ERROR,
                    "an `nlu:` item needs exactly one of intent/synonym/regex/lookup",
                    _src(filename, item),
                )
            )
            continue
        kind = kinds[0]
        name_node = fields[kind][1]
        if not isinstance(name_node, yaml.ScalarNode) or not str(name_node.value).strip():
            problems.append(Problem("schema", ERROR, f"`{kind}:` needs a name", _src(filename, name_node)))
            continue
        name = str(name_node.value).strip()
        if "examples" not in fields:
            problems.append(Problem("schema", ERROR, f"{kind} {name!r} has no `examples:`", _src(filename, item)))
            continue
        lines = _example_lines(fields["examples"][1], filename, problems)
        if kind == "intent":
            for raw, src in lines:
                ex = _parse_example(name, raw, src, problems)
                if ex is not None:
                    examples.append(ex)
        elif kind == "synonym":
            synonyms.append(Synonym(name, tuple(t for t, _ in lines), _src(filename, name_node)))
        elif kind == "regex":
            for pattern, src in lines:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    problems.append(Problem("bad_regex", ERROR, f"regex {name!r}: {exc}", src))
            regexes.append(RegexFeature(name, tuple(t for t, _ in lines), _src(filename, name_node)))
        else:
            lookups.append(Lookup(name, tuple(t for t, _ in lines), _src(filename, name_node)))
    data = TrainingData(tuple(examples), tuple(synonyms), tuple(regexes), tuple(lookups), (filename,))
    return data, problems


def _src(filename: str, node: yaml.Node) -> Source:
    return Source(filename, node.start_mark.line + 1)


def _example_lines(node: yaml.Node, filename: str, problems: list[Problem]) -> list[tuple[str, Source]]:
    """The ``- item`` lines of an ``examples:`` value with the line each one is on."""
    out: list[tuple[str, Source]] = []
    if isinstance(node, yaml.ScalarNode):
        # A block literal (`|`) starts on the line after its indicator; other styles on the same line.
        first = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
        for offset, line in enumerate(str(node.value).splitlines()):
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("-"):
                problems.append(
                    Problem(
                        "schema",
                        ERROR,
                        f"example line must start with '- ': {stripped[:60]!r}",
                        Source(filename, first + offset),
                    )
                )
                continue
            item = stripped[1:].strip()
            if item:
                out.append((item, Source(filename, first + offset)))
    elif isinstance(node, yaml.SequenceNode):
        # Rasa also accepts a list of mappings `- text: ...` (with metadata).
        for child in node.value:
            text_node: yaml.Node | None = child
            if isinstance(child, yaml.MappingNode):
                text_node = next((v for k, v in child.value if k.value == "text"), None)
            if isinstance(text_node, yaml.ScalarNode) and str(text_node.value).strip():
                out.append((str(text_node.value).strip(), _src(filename, text_node)))
            else:
                problems.append(Problem("schema", ERROR, "example without text", _src(filename, child)))
    else:
        problems.append(Problem("schema", ERROR, "`examples:` must be a block of '- ' lines", _src(filename, node)))
    return out


def _parse_example(intent: str, raw: str, src: Source, problems: list[Problem]) -> Example | None:
    """Strip inline entity annotations from one example line."""
    text_parts: list[str] = []
    spans: list[EntitySpan] = []
    pos = 0
    length = 0
    for m in _ANNOTATION.finditer(raw):
        before = raw[pos : m.start()]
        text_parts.append(before)
        length += len(before)
        surface = m.group("text")
        role: str | None = None
        if m.group("short") is not None:
            entity, _, value = m.group("short").partition(":")
            entity, value = entity.strip(), value.strip() or surface
        else:
            try:
                spec = json.loads(m.group("json"))
            except json.JSONDecodeError as exc:
                problems.append(Problem("bad_annotation", ERROR, f"entity annotation is not JSON: {exc.msg}", src))
                return None
            if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
                problems.append(Problem("bad_annotation", ERROR, 'annotation needs {"entity": "..."}', src))
                return None
            entity = spec["entity"]
            value = str(spec.get("value", surface))
            role = spec.get("role")
        spans.append(EntitySpan(entity, length, length + len(surface), surface, value, role))
        text_parts.append(surface)
        length += len(surface)
        pos = m.end()
    text_parts.append(raw[pos:])
    text = "".join(text_parts)
    if "[" in raw and ("](" in raw or "]{" in raw) and not spans:
        problems.append(Problem("bad_annotation", WARNING, f"looks like a broken annotation: {raw[:60]!r}", src))
    if not text.strip():
        problems.append(Problem("schema", ERROR, "empty example", src))
        return None
    return Example(intent, text, tuple(spans), src)


# --------------------------------------------------------------------------------------------
# Validation


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def validate(
    data: TrainingData,
    *,
    intents: Sequence[str] = INTENTS,
    entities: Sequence[str] = ENTITIES,
    min_examples: int = MIN_EXAMPLES_PER_INTENT,
    conflicts: str = ERROR,
) -> tuple[Problem, ...]:
    """Check loaded data against the intents and entities Warga knows.

    Errors (training refuses): an intent or entity not in the lists, the same sentence under two
    intents. Warnings: a sentence repeated under one intent, an expected intent with no or few
    examples.

    Args:
        data: Loaded data.
        intents: The expected intents (default: :data:`nlu.intents.INTENTS`).
        entities: The expected entities.
        min_examples: Fewer examples than this for an intent is a warning.
        conflicts: Severity of a sentence under two intents: ``error`` for Warga's own data,
            ``warning`` for a foreign data set being evaluated (public sets have such texts).

    Returns:
        Problems, errors first, then in file order.
    """
    problems: list[Problem] = []
    known_intents, known_entities = set(intents), set(entities)
    reported_unknown: set[str] = set()
    seen: dict[str, Example] = {}
    counts: dict[str, int] = defaultdict(int)
    for ex in data.examples:
        counts[ex.intent] += 1
        if ex.intent not in known_intents and ex.intent not in reported_unknown:
            reported_unknown.add(ex.intent)
            problems.append(
                Problem(
                    "unknown_intent", ERROR, f"unknown intent {ex.intent!r} (see nlu/intents.py)", ex.source
                )
            )
        for span in ex.entities:
            if span.entity not in known_entities:
                problems.append(
                    Problem(
                        "unknown_entity",
                        ERROR,
                        f"unknown entity {span.entity!r} in {ex.text[:50]!r}",
                        ex.source,
                    )
                )
        key = _key(ex.text)
        first = seen.get(key)
        if first is None:
            seen[key] = ex
        elif first.intent == ex.intent:
            problems.append(Problem("duplicate", WARNING, f"duplicate of {first.source}: {ex.text[:60]!r}", ex.source))
        else:
            problems.append(
                Problem(
                    "conflict",
                    conflicts,
                    f"{ex.text[:60]!r} is under {first.intent!r} ({first.source}) and {ex.intent!r}",
                    ex.source,
                )
            )
    where = Source(data.files[0] if len(data.files) == 1 else "training data")
    for intent in intents:
        if counts.get(intent, 0) == 0:
            problems.append(Problem("missing_intent", WARNING, f"intent {intent!r} has no examples", where))
        elif counts[intent] < min_examples:
            problems.append(
                Problem(
                    "few_examples",
                    WARNING,
                    f"intent {intent!r} has {counts[intent]} examples (want {min_examples}+)",
                    where,
                )
            )
    return tuple(sorted(problems, key=lambda p: p.severity != ERROR))


def load_and_validate(path: str | Path, **kwargs: object) -> tuple[TrainingData, tuple[Problem, ...]]:
    """Load and validate; raise if anything is an error.

    Raises:
        TrainingDataError: Unreadable data, or validation errors.
    """
    data = load_training_data(path)
    problems = validate(data, **kwargs)  # type: ignore[arg-type]
    errors = [p for p in problems if p.severity == ERROR]
    if errors:
        raise TrainingDataError(errors)
    return data, problems
