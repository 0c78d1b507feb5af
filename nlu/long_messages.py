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
function, so any engine that can rank intents for a text can use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from nlu.intents import COMPLAINT_INTENTS, QUESTION_INTENTS

#: (intent, confidence) pairs, best first.
Ranking = tuple[tuple[str, float], ...]

#: A message needs at least this many words to be read by its parts.
MIN_WORDS = 8
#: Intents that wrap a message rather than carry it.
COURTESY_INTENTS = frozenset({"greet", "thank", "goodbye"})
#: Intents a clause can add to the main one as the secondary intent.
TOPIC_INTENTS = frozenset(COMPLAINT_INTENTS) | frozenset(QUESTION_INTENTS)

# Words that end with a full stop without ending a sentence (addresses are full of them).
_ABBREVIATIONS = frozenset(
    "jl jln gg no kel kec kab kota rt rw yth dr h hj kp bpk bp ibu sdr sdri wr wb dkk dll dsb spt "
    "blk perum komp tlp telp hp st prov ds".split()
)
_BOUNDARY = re.compile(r"[.!?;,\n]+")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Clause:
    """A piece of a message.

    Attributes:
        start: Start offset in the message.
        end: End offset (exclusive).
        text: The text of the piece.
    """

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Reading:
    """What a long message says once its courtesies are set aside.

    Attributes:
        ranking: The core's ranking (the main intent first).
        core: The text that was classified (the message without its courtesy clauses).
        secondary: A topic intent of the other kind (a question inside a complaint, or a
            complaint inside a question) with its confidence, or None.
    """

    ranking: Ranking
    core: str
    secondary: tuple[str, float] | None


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
        if mark == "," and text[m.start() - 1 : m.start()].isdigit() and text[m.end() : m.end() + 1].isdigit():
            continue  # "1,5 meter"
        _add(out, text, start, m.start())
        start = m.end()
    _add(out, text, start, len(text))
    return out


def _add(out: list[Clause], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if _WORD.search(stripped):
        lead = len(piece) - len(piece.lstrip())
        out.append(Clause(start + lead, start + lead + len(stripped), stripped))


def read_long(
    text: str, classify: Callable[[str], Ranking], *, threshold: float, whole: Ranking | None = None
) -> Reading | None:
    """Read a long message by its parts; None when it is short or has nothing to set aside.

    Args:
        text: The message.
        classify: Ranks intents for a text (the engine's classifier, no entity extraction).
        threshold: The engine's fallback threshold: a clause is set aside as a courtesy only
            when its top intent is a courtesy with at least this confidence.
        whole: ``classify(text)`` when the caller already has it (saves classifying twice).

    Returns:
        The reading, or None when the whole message should be classified as it is (fewer
        than :data:`MIN_WORDS` words, a single clause, nothing but courtesies, a remainder that
        is neither a complaint or question nor confidently anything else, or no courtesy to
        set aside and no secondary intent).
    """
    if len(_WORD.findall(text)) < MIN_WORDS:
        return None
    parts = clauses(text)
    if len(parts) < 2:
        return None
    rankings = [classify(c.text) for c in parts]
    kept = [
        c
        for c, r in zip(parts, rankings, strict=True)
        if not (r and r[0][0] in COURTESY_INTENTS and r[0][1] >= threshold)
    ]
    if not kept:
        return None
    core = " ".join(c.text for c in kept)
    ranking = classify(core) if len(kept) < len(parts) else ()
    if ranking and not (ranking[0][0] in TOPIC_INTENTS or ranking[0][1] >= threshold):
        # What is left is neither a topic nor anything sure ("..., sangat membantu sekali"):
        # the courtesies were the message after all.
        ranking = ()
    if not ranking:
        # Nothing set aside: only a secondary intent can add to the whole message's reading.
        ranking = whole if whole is not None else classify(text)
        core = text
    main = ranking[0][0] if ranking else ""
    secondary = _secondary(main, [r for c, r in zip(parts, rankings, strict=True) if c in kept], threshold)
    if core == text and secondary is None:
        return None
    return Reading(ranking, core, secondary)


def _secondary(main: str, rankings: list[Ranking], threshold: float) -> tuple[str, float] | None:
    """The most confident clause intent of the other topic kind than ``main``."""
    if main in QUESTION_INTENTS:
        wanted = frozenset(COMPLAINT_INTENTS) - {"report_start"}
    elif main in COMPLAINT_INTENTS:
        wanted = frozenset(QUESTION_INTENTS)
    else:
        return None
    best: tuple[str, float] | None = None
    for r in rankings:
        if r and r[0][0] in wanted and r[0][1] >= threshold and (best is None or r[0][1] > best[1]):
            best = r[0]
    return best


__all__ = [
    "COURTESY_INTENTS",
    "MIN_WORDS",
    "TOPIC_INTENTS",
    "Clause",
    "Ranking",
    "Reading",
    "clauses",
    "read_long",
]
