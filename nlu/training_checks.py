"""Checking training data against the intents and entities Warga knows.

:func:`validate` lists what is wrong (unknown intents or entities, a sentence under two
intents: errors; duplicates, intents with few examples: warnings);
:func:`nlu.training_data.load_and_validate` reads and refuses data with errors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from nlu.intents import ENTITIES, INTENTS, MIN_EXAMPLES_PER_INTENT
from nlu.training_data import ERROR, WARNING, Example, Problem, Source, TrainingData


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
