"""Long messages: understood as a whole and by their parts.

Citizens write to their city the way they write a letter: "Selamat pagi, mohon izin. Jalan di
Jl. Kenanga RT 03/RW 05 berlubang besar, sudah 2 minggu. Mohon ditindaklanjuti. Terima kasih."
Read as one bag of words, the greeting and the thanks can outweigh the problem (issue 14 measured
dozens of complaints read as ``thank``). So a long message is cut into clauses (sentences, and
the comma-separated pieces inside them); clauses that are only a greeting, thanks or goodbye are
set aside, and what remains (the core) is classified as a whole: the complaint or question wins
over the courtesies around it. A clause that asks one of the public-service questions inside a
complaint (or reports a problem inside a question) is returned as the secondary intent, so the
dialogue can file the complaint and answer the question.

Short chat turns ("oke, makasih", "tidak, terima kasih") are not touched: for them the
courtesy often *is* the message. This module never imports an engine: it takes a ``classify``
function, so every engine (the in-process one, and Rasa through its HTTP API) reads long
messages the same way: :func:`read` gives the ranking, the secondary intent and the clauses
(:class:`nlu.base.Part`), and :func:`to_parse` makes them the :class:`nlu.base.Parse` an
engine answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from nlu.base import Entity, Parse, Part
from nlu.intents import COMPLAINT_INTENTS, QUESTION_INTENTS

#: (intent, confidence) pairs, best first.
Ranking = tuple[tuple[str, float], ...]

#: A message needs at least this many words to be read by its parts.
MIN_WORDS = 8
#: An unsure message takes a sure clause's topic only when it is among its own top intents.
SUREST_AMONG = 2
#: Intents that wrap a message rather than carry it.
COURTESY_INTENTS = frozenset({"greet", "thank", "goodbye"})
#: Intents a clause can add to the main one as the secondary intent.
TOPIC_INTENTS = frozenset(COMPLAINT_INTENTS) | frozenset(QUESTION_INTENTS)

# Words that end with a full stop without ending a sentence (addresses are full of them).
_ABBREVIATIONS = frozenset(
    "jl jln gg no kel kec kab kota rt rw yth dr h hj kp bpk bp sdr sdri wr spt "
    "blk perum komp tlp telp hp st prov ds".split()
)
# Abbreviations that often end a sentence ("..., kasur bekas dll. Mohon ..."): a capital after
# them starts the next one. ("Ibu" is a word, not an abbreviation: "Selamat pagi Bapak/Ibu.")
_LIST_ENDS = frozenset("dll dsb dkk wb".split())
_BOUNDARY = re.compile(r"[.!?;,\n]+")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Clause:
    """A piece of a message.

    Attributes:
        start: Start offset in the message.
        end: End offset (exclusive).
        text: The text of the piece.
        mark: The punctuation that ended it ("?", "." ...; "" at the end of the text).
    """

    start: int
    end: int
    text: str
    mark: str = ""


@dataclass(frozen=True, slots=True)
class Reading:
    """What a long message says once its courtesies are set aside.

    Attributes:
        ranking: The core's ranking (the main intent first).
        core: The text that was classified (the message without its courtesy clauses).
        secondary: A topic intent of the other kind (a question inside a complaint, or a
            complaint inside a question) with its confidence, or None.
        parts: Every clause with its own reading (empty when the message was read whole).
    """

    ranking: Ranking
    core: str
    secondary: tuple[str, float] | None
    parts: tuple[Part, ...] = ()


def clauses(text: str) -> list[Clause]:
    """Cut ``text`` at sentence ends, semicolons, commas and line breaks.

    A full stop after an abbreviation ("Jl.", "No.", "Kel.", "RT.") or between digits does not
    cut, so an address stays in one piece.
    """
    out: list[Clause] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        mark = m.group()
        if mark == ".":
            before = _WORD.findall(text[start : m.start()])
            last = before[-1].casefold() if before else ""
            after = text[m.end() : m.end() + 1]
            if last in _ABBREVIATIONS or (last.isdigit() and after.isdigit()):
                continue
            if last in _LIST_ENDS and not text[m.end() :].lstrip()[:1].isupper():
                continue
        if mark == "," and text[m.start() - 1 : m.start()].isdigit() and text[m.end() : m.end() + 1].isdigit():
            continue  # "1,5 meter"
        _add(out, text, start, m.start(), mark.strip()[:1] if mark.strip() else "\n")
        start = m.end()
    _add(out, text, start, len(text), "")
    return out


def _add(out: list[Clause], text: str, start: int, end: int, mark: str) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if _WORD.search(stripped):
        lead = len(piece) - len(piece.lstrip())
        # "kapan diperbaiki?!" ends a question: the question mark wins over what follows it.
        mark = "?" if "?" in text[end : end + 3] else mark
        out.append(Clause(start + lead, start + lead + len(stripped), stripped, mark))


def read(text: str, classify: Callable[[str], Ranking], *, threshold: float, whole: Ranking | None = None) -> Reading:
    """Read a message whole and, when it is long, by its parts: what every engine answers.

    Args:
        text: The message.
        classify: Ranks intents for a text (the engine's classifier, no entity extraction).
        threshold: The engine's fallback threshold: a clause is set aside as a courtesy only
            when its top intent is a courtesy with at least this confidence; a clause's
            :attr:`~nlu.base.Part.intent` is None below it.
        whole: ``classify(text)`` when the caller already has it (saves classifying twice).

    Returns:
        The reading. For a short message (fewer than :data:`MIN_WORDS` words, or a single
        clause) it is the whole message's ranking with no parts. A long message keeps its
        whole ranking unless courtesies were set aside and the rest is a topic (or confidently
        anything else); when that ranking is unsure (below ``threshold``) but a clause is sure
        of a topic among its :data:`SUREST_AMONG` best, that topic leads. The parts are
        returned either way.
    """
    if len(_WORD.findall(text)) < MIN_WORDS:
        return _whole(text, classify, whole)
    pieces = clauses(text)
    if len(pieces) < 2:
        return _whole(text, classify, whole)
    rankings = [classify(c.text) for c in pieces]
    courtesy = [bool(r and r[0][0] in COURTESY_INTENTS and r[0][1] >= threshold) for r in rankings]
    kept = [c for c, aside in zip(pieces, courtesy, strict=True) if not aside]
    ranking: Ranking = ()
    core = text
    if kept and len(kept) < len(pieces):
        core = " ".join(c.text for c in kept)
        ranking = classify(core)
        if ranking and not (ranking[0][0] in TOPIC_INTENTS or ranking[0][1] >= threshold):
            # What is left is neither a topic nor anything sure ("..., sangat membantu sekali"):
            # the courtesies were the message after all.
            ranking = ()
    if not ranking:
        ranking = whole if whole is not None else classify(text)
        core = text
    kept_rankings = [(i, r) for i, (r, aside) in enumerate(zip(rankings, courtesy, strict=True)) if not aside]
    if not ranking or ranking[0][1] < threshold:
        ranking = _surest_clause(ranking, kept_rankings, threshold)
    main = ranking[0][0] if ranking else ""
    secondary, at = _secondary(main, kept_rankings, threshold)
    parts = tuple(
        Part(
            c.start,
            c.end,
            c.text,
            c.mark,
            r[0][0] if r and r[0][1] >= threshold else None,
            r[0][1] if r else 0.0,
            "courtesy" if aside else "secondary" if i == at else "core",
        )
        for i, (c, r, aside) in enumerate(zip(pieces, rankings, courtesy, strict=True))
    )
    return Reading(ranking, core, secondary, parts)


def _whole(text: str, classify: Callable[[str], Ranking], whole: Ranking | None) -> Reading:
    return Reading(whole if whole is not None else classify(text), text, None)


def read_long(
    text: str, classify: Callable[[str], Ranking], *, threshold: float, whole: Ranking | None = None
) -> Reading | None:
    """:func:`read`, or None when reading by parts changes nothing (the message is short, has a
    single clause, or has no courtesy to set aside and no secondary intent)."""
    reading = read(text, classify, threshold=threshold, whole=whole)
    if reading.core == text and reading.secondary is None:
        return None
    return reading


def to_parse(
    text: str,
    reading: Reading | None,
    *,
    entities: tuple[Entity, ...],
    language: str,
    engine: str,
    model_version: str,
    intent: str | None = None,
    source_intent: str | None = None,
) -> Parse:
    """The :class:`~nlu.base.Parse` an engine answers for ``text``: one shape for every engine.

    Args:
        text: The message as the citizen wrote it.
        reading: The engine's reading of it; None when there was nothing to understand (empty
            text, emoji, junk): no intent, no ranking, confidence 0, only ``entities``.
        entities: The entities found on ``text``.
        language: "id" or "en".
        engine: The engine's name.
        model_version: The version of the model that answered.
        intent: The engine's verdict on the reading's top intent (None: not understood; each
            engine has its own rule: threshold, Rasa's fallback, intent names it knows).
        source_intent: The model's own name for the top intent (:attr:`Parse.source_intent`).
    """
    if reading is None:
        return Parse(text, None, 0.0, (), entities, language, engine, model_version)
    secondary = reading.secondary
    return Parse(
        text,
        intent,
        reading.ranking[0][1] if reading.ranking else 0.0,
        reading.ranking,
        entities,
        language,
        engine,
        model_version,
        secondary_intent=secondary[0] if secondary else None,
        secondary_confidence=secondary[1] if secondary else 0.0,
        parts=reading.parts,
        source_intent=source_intent,
    )


def _surest_clause(ranking: Ranking, rankings: list[tuple[int, Ranking]], threshold: float) -> Ranking:
    """When the message as a whole is unsure but a clause is sure of a topic, that topic.

    A complaint and a question of similar weight split the whole message's votes ("the drain
    ... overflows every time it rains ... what documents do I need for a family card?": 0.40
    family card, 0.26 flood); each clause alone is clear. A sure complaint clause wins over a
    sure question clause (the question then comes back as the secondary intent).
    """
    # Only a topic the whole message also leans to: a short clause alone can be sure of the
    # wrong thing ("NJOP rumah saya naik tinggi sekali" alone reads as a flood).
    leaning = {intent for intent, _ in ranking[:SUREST_AMONG]}
    sure = [
        r[0]
        for _, r in rankings
        if r and r[0][0] in TOPIC_INTENTS and r[0][0] != "report_start" and r[0][1] >= threshold
        and r[0][0] in leaning
    ]
    if not sure:
        return ranking
    complaints = [s for s in sure if s[0] in COMPLAINT_INTENTS]
    best = max(complaints or sure, key=lambda s: s[1])
    return (best, *(r for r in ranking if r[0] != best[0]))


def _secondary(
    main: str, rankings: list[tuple[int, Ranking]], threshold: float
) -> tuple[tuple[str, float] | None, int]:
    """The most confident clause intent of the other topic kind than ``main``, and its clause
    (-1 when there is none)."""
    if main in QUESTION_INTENTS:
        wanted = frozenset(COMPLAINT_INTENTS) - {"report_start"}
    elif main in COMPLAINT_INTENTS:
        wanted = frozenset(QUESTION_INTENTS)
    else:
        return None, -1
    best: tuple[str, float] | None = None
    at = -1
    for i, r in rankings:
        if r and r[0][0] in wanted and r[0][1] >= threshold and (best is None or r[0][1] > best[1]):
            best, at = r[0], i
    return best, at


__all__ = [
    "COURTESY_INTENTS",
    "MIN_WORDS",
    "TOPIC_INTENTS",
    "Clause",
    "Ranking",
    "Reading",
    "clauses",
    "read",
    "read_long",
]
