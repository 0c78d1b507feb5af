"""Reading Rasa YAML training files into :class:`~nlu.training_data.TrainingData`.

Loading never raises a Python traceback at a user for a bad file: every problem becomes a
:class:`~nlu.training_data.Problem` with the file and line, and a file that cannot be read at
all raises :class:`~nlu.training_data.TrainingDataError` carrying those problems.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from nlu.training_data import (
    ERROR,
    WARNING,
    EntitySpan,
    Example,
    Lookup,
    Problem,
    RegexFeature,
    Source,
    Synonym,
    TrainingData,
    TrainingDataError,
)

#: ``[text](entity)``, ``[text](entity:value)`` (Rasa 2 style) and ``[text]{"entity": ...}``.
_ANNOTATION = re.compile(r"\[(?P<text>[^\[\]]+)\](?:\((?P<short>[^()]+)\)|(?P<json>\{[^{}]*\}))")


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
