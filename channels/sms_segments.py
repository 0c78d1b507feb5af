"""SMS segment arithmetic: GSM-7 versus UCS-2, counting and splitting.

An SMS carries 140 bytes. Text that fits the GSM 03.38 alphabet is packed in 7-bit units
(160 per single SMS, 153 per part of a concatenated one, because the concatenation header
takes 6 bytes); the characters of the extension table (``€ [ ] { } | ^ ~ \\`` and form
feed) take two units, and an escape pair never straddles two parts. One character outside
the alphabet, an emoji or a curly quote, switches the *whole* message to UCS-2: 70 UTF-16
units for a single SMS, 67 per part, with emoji taking two units. So one "😊" turns a
150-character reply from 1 segment into 3, each billed.

References:
- https://www.twilio.com/docs/glossary/what-sms-character-limit
- https://www.twilio.com/docs/messaging/services#smart-encoding (the replacements
  :func:`gsm_normalize` makes mirror Twilio's Smart Encoding)
- 3GPP TS 23.038 §6.2.1 (the GSM 7-bit default alphabet and its extension table)
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.text_split import split_text

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67
TWILIO_MAX_BODY = 1600   # Twilio rejects a longer Body (error 21617)

# Twilio's Smart Encoding table, the characters that matter in practice: typographic
# punctuation that phones and word processors put in text and that would otherwise force
# UCS-2 for no visible gain.
_SMART = {
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"',
    "\u00bb": '"', "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u2039": "'", "\u203a": "'", "\u02bc": "'", "\u2010": "-", "\u2011": "-", "\u2012": "-",
    "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-", "\u2022": "-", "\u2026": "...",
    "\t": " ", "\u00a0": " ", "\u2000": " ", "\u2001": " ", "\u2002": " ", "\u2003": " ",
    "\u2004": " ", "\u2005": " ", "\u2006": " ", "\u2007": " ", "\u2008": " ", "\u2009": " ",
    "\u200a": " ", "\u202f": " ", "\u205f": " ", "\u3000": " ", "\u200b": "", "\u200c": "",
    "\u200d": "", "\u2060": "", "\ufeff": "",
}
_SMART_TABLE = str.maketrans(_SMART)


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """How a text travels as SMS.

    Attributes:
        encoding: "GSM-7" or "UCS-2".
        segments: Number of SMS parts (each billed); 0 for an empty text.
        units: Septets (GSM-7) or UTF-16 code units (UCS-2).
        non_gsm: The characters that forced UCS-2, in order of first appearance.
    """

    encoding: str
    segments: int
    units: int
    non_gsm: tuple[str, ...] = ()


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` is in the GSM 7-bit alphabet or its extension."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def count_segments(text: str) -> SegmentInfo:
    """Count the SMS segments ``text`` needs, as the carrier will bill them."""
    non_gsm = tuple(dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION))
    if not non_gsm:
        sizes = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return SegmentInfo("GSM-7", _pack(sizes, GSM7_SINGLE, GSM7_MULTI), sum(sizes))
    sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]    # a surrogate pair stays whole
    return SegmentInfo("UCS-2", _pack(sizes, UCS2_SINGLE, UCS2_MULTI), sum(sizes), non_gsm)


def _pack(sizes: list[int], single: int, multi: int) -> int:
    total = sum(sizes)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, room = 1, multi
    for size in sizes:
        if size > room:           # an escape pair or surrogate pair never straddles parts
            segments, room = segments + 1, multi
        room -= size
    return segments


def gsm_normalize(text: str) -> str:
    """Replace typographic characters with their GSM-7 look-alikes (Twilio Smart Encoding).

    Returns the replaced text only when that makes the whole text GSM-7; otherwise the text
    is returned unchanged, since it travels as UCS-2 anyway and an emoji sequence would
    lose its zero-width joiners.
    """
    replaced = text.translate(_SMART_TABLE)
    return replaced if replaced != text and is_gsm7(replaced) else text


def split_sms(text: str, max_segments: int = 3, *, smart_encoding: bool = True) -> list[str]:
    """Split ``text`` into SMS bodies of at most ``max_segments`` segments each.

    A reply that fits ``max_segments`` goes as one concatenated SMS; a longer one becomes
    several, cut on paragraph or sentence boundaries, each judged on its own encoding (an
    emoji in the last part does not make the first parts UCS-2).

    Args:
        text: The reply.
        max_segments: The most segments one body may take.
        smart_encoding: Apply :func:`gsm_normalize` to each part where it avoids UCS-2.

    Returns:
        The bodies to send, in order; ``[]`` for an empty text.
    """
    if max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    prepare = gsm_normalize if smart_encoding else (lambda s: s)

    def fits(part: str) -> bool:
        body = prepare(part)
        return len(body) <= TWILIO_MAX_BODY and count_segments(body).segments <= max_segments

    return [prepare(part) for part in split_text(text, fits)]
