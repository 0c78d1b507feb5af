"""The vocabulary of staff actions: what they take, what they give back, why they refuse.

:class:`StaffError` (and :class:`NotVisible`, the 404) is a refusal a person reads;
:class:`Woken` names the conversations an action gave new outbound messages; the console's
forms arrive as :class:`ComplaintEdit` and :class:`StaffDraft`, checked with the limits and
helpers below. The actions themselves are :mod:`bot.casework.staff` and
:mod:`bot.casework.staff_conversations`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class StaffError(Exception):
    """A staff action was refused; the message says why."""


class NotVisible(StaffError):
    """The conversation does not exist or is outside the staff member's scope (the console
    answers 404 for both, so ids cannot be probed)."""


@dataclass(frozen=True, slots=True)
class Woken:
    """Conversations with new outbound messages (to hand to the queue)."""

    conversation_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Filed(Woken):
    """A complaint staff filed from a conversation (its ticket), and the conversation to wake."""

    ticket: str


@dataclass(frozen=True, slots=True)
class ComplaintEdit:
    """What a complaint should say after a correction (the whole form, not a difference)."""

    category: str
    description: str
    location_text: str | None
    latitude: float | None
    longitude: float | None
    #: Send it to the new category's agency too (otherwise the agency stays).
    follow_category: bool = False
    #: "beri tahu warga": tell the citizen (internal corrections are silent by default).
    notify: bool = False


@dataclass(frozen=True, slots=True)
class StaffDraft:
    """A complaint staff file from a conversation."""

    category: str
    description: str
    location_text: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    #: The citizen's messages it comes from (the latest is its source; their photos go with it).
    message_ids: tuple[int, ...] = ()


MAX_DESCRIPTION = 8000
MAX_LOCATION = 500
MAX_REASON = 1000
#: The history note of a correction the citizen was told of.
NOTIFIED = "Warga diberi tahu."


def one_newline(text: str) -> str:
    """Browsers send a textarea's line breaks as CRLF; stored text uses LF, so an unchanged
    description compares equal and is not recorded as a change."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_point(latitude: float | None, longitude: float | None) -> tuple[float, float] | None:
    """A map point, both coordinates or neither, within the globe's bounds."""
    if latitude is None and longitude is None:
        return None
    if latitude is None or longitude is None:
        raise StaffError("Isi lintang dan bujur keduanya, atau kosongkan keduanya.")
    if not (math.isfinite(latitude) and math.isfinite(longitude)
            and -90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise StaffError("Koordinat di luar batas (lintang -90..90, bujur -180..180).")
    return latitude, longitude


def place_text(text: str | None, latitude: float | None, longitude: float | None) -> str | None:
    """A location as history shows it: "Jl. Salemba 5 (-6.19, 106.85)"."""
    parts = [text] if text else []
    if latitude is not None and longitude is not None:
        parts.append(f"({latitude:g}, {longitude:g})")
    return " ".join(parts) or None
