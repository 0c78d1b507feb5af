"""Split long replies into provider-sized parts on natural boundaries.

Every provider caps one message (Telegram 4,096 UTF-16 units, Twilio 1,600 characters, SMS a
few segments), and cutting mid-sentence reads badly. :func:`split_text` cuts at the best
boundary that still fits: a paragraph break, else a sentence end, else a line break, else a
space, and only as a last resort inside a word. What "fits" is a predicate, so the same
splitter serves character limits and SMS segment counts (see ``channels/sms_segments.py``).

The split is deterministic: the same text always gives the same parts, which is what lets
a retry skip the parts an earlier attempt already sent (``OutboundMessage.resume_from``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

# A sentence ends at . ! ? or … (optionally followed by closing quotes/brackets) and then
# whitespace. Indonesian addresses are full of abbreviations ("Jl. Sudirman No. 5, Kel.
# Menteng"), which must not count as sentence ends.
_SENTENCE_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s)""")
_ABBREVIATIONS = frozenset({
    "jl", "jln", "no", "kel", "kec", "kab", "prov", "rt", "rw", "gg",
    "dr", "drs", "ir", "h", "hj", "bpk", "sdr", "sdri", "tn", "ny", "st", "pt", "cv",
    "tbk", "dll", "dsb", "dst", "yth", "mr", "mrs", "ms", "e.g", "i.e", "etc", "vs",
})
_WORD_BEFORE = re.compile(r"([\w.]+)$")

# Below this share of the allowed length, a boundary of a better kind is not worth the very
# short part it would leave; the splitter then looks at the next kind of boundary.
_MIN_FILL = 0.3


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: how Telegram counts its 4,096 limit.

    An emoji outside the Basic Multilingual Plane counts as two.
    See https://core.telegram.org/api/entities#entity-length.
    """
    return len(text.encode("utf-16-le")) // 2


def fits_length(limit: int, measure: Callable[[str], int] = len) -> Callable[[str], bool]:
    """Build a ``fits`` predicate for :func:`split_text` from a length limit."""
    return lambda part: measure(part) <= limit


def split_text(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Split ``text`` into parts that each satisfy ``fits``, in order.

    Whitespace at a cut is dropped; nothing else is. ``fits`` must be monotone (if a string
    fits, every prefix of it fits), which holds for lengths and SMS segment counts.

    Args:
        text: The text to split. Leading and trailing whitespace is removed.
        fits: Whether one part is small enough.

    Returns:
        The parts; ``[]`` for an empty text. Joining them with single spaces or newlines
        gives the original text up to the whitespace at the cuts.

    Raises:
        ValueError: If not even one character fits.
    """
    rest = text.strip()
    parts: list[str] = []
    while rest:
        if fits(rest):
            parts.append(rest)
            break
        limit = _longest_fitting_prefix(rest, fits)
        if limit == 0:
            raise ValueError("split_text: not even one character fits")
        cut = _best_cut(rest, limit)
        part = rest[:cut].rstrip()
        if not part or not fits(part):
            # All whitespace, or a predicate that is not quite monotone (SMS smart encoding
            # can make a shorter prefix cost more): fall back to the longest fitting prefix.
            part, cut = rest[:limit], limit
        parts.append(part)
        rest = rest[cut:].lstrip()
    return parts


def _longest_fitting_prefix(text: str, fits: Callable[[str], bool]) -> int:
    lo, hi = 0, len(text)                  # fits(text[:lo]) holds, fits(text[:hi]) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(text[:mid]):
            lo = mid
        else:
            hi = mid
    return lo


def _best_cut(text: str, limit: int) -> int:
    """Return where to cut ``text`` so the first part is at most ``limit`` characters."""
    # A window ending exactly at a word boundary counts that space as a boundary too.
    window = text[: limit + 1] if limit < len(text) and text[limit].isspace() else text[:limit]
    floor = int(limit * _MIN_FILL)
    for finder in (_paragraph_cuts, _sentence_cuts, _line_cuts, _space_cuts):
        cuts = [c for c in finder(window) if floor <= c <= limit and c > 0]
        if cuts:
            return max(cuts)
    return limit


def _paragraph_cuts(window: str) -> list[int]:
    return [m.start() for m in re.finditer(r"\n[ \t]*\n", window)]


def _sentence_cuts(window: str) -> list[int]:
    cuts = []
    for m in _SENTENCE_END.finditer(window):
        if m.group().startswith(".") and len(m.group()) == 1:
            before = _WORD_BEFORE.search(window[: m.start()])
            if before and before.group(1).lower().rstrip(".") in _ABBREVIATIONS:
                continue
        cuts.append(m.end())
    return cuts


def _line_cuts(window: str) -> list[int]:
    return [m.start() for m in re.finditer(r"\n", window)]


def _space_cuts(window: str) -> list[int]:
    return [m.start() for m in re.finditer(r"\s", window)]
