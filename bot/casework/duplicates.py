"""The same problem reported twice: finding an open complaint at the same place, and followers.

A complaint is "the same" when it is open, of the same category, filed within
``complaints.duplicate_days`` days, and at the same place: the same address text once spelling is
set aside (case, spaces, punctuation, "Jl."/"Jalan"), or a shared point within
``complaints.duplicate_distance_m`` metres of the other one. Citizens who join it become its
followers and are told of its status changes like its owner.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from bot.casework.complaints import CLOSED
from bot.settings import ComplaintSettings
from bot.store.models import Complaint, ComplaintFollower, Conversation, utcnow

EARTH_RADIUS_M = 6_371_000.0
#: How many recent candidates are compared in Python (the newest first): the category, the
#: window and a bounding box already narrowed them in SQL.
MAX_CANDIDATES = 500

# Spellings of the same word in Indonesian addresses, mapped to one of them.
_ABBREVIATIONS = {"jalan": "jl", "jln": "jl", "gang": "gg", "nomor": "no", "nomer": "no", "nmr": "no",
                  "kelurahan": "kel", "kecamatan": "kec"}


def normal_place(text: str | None) -> str:
    """An address as compared: lower case, no punctuation, one space, "Jalan"/"Jln"/"Jl." as "jl".

    >>> normal_place("JL.  Cikini Raya, No.5") == normal_place("jalan cikini raya no 5")
    True
    """
    if not text:
        return ""
    words = re.sub(r"[\W_]+", " ", text.lower()).split()
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance in metres between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Place:
    """Where a complaint is: a written address, a shared point, or both."""

    text: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def point(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return self.latitude, self.longitude


def same_place(a: Place, b: Place, max_distance_m: float) -> bool:
    """The same address text (spelling aside), or two shared points within ``max_distance_m``."""
    text_a, text_b = normal_place(a.text), normal_place(b.text)
    if text_a and text_a == text_b:
        return True
    pa, pb = a.point, b.point
    return pa is not None and pb is not None and distance_m(pa, pb) <= max_distance_m


def find_duplicate(session: Session, settings: ComplaintSettings, category: str, place: Place,
                   contact_id: int, now: datetime | None = None) -> tuple[Complaint, bool] | None:
    """The open complaint this new one repeats, and whether ``contact_id`` already owns or follows it.

    The citizen's own (or followed) complaint comes first: the same person reporting the same
    thing twice is the most common case. None when duplicates are switched off (0 days).
    """
    if settings.duplicate_days <= 0 or (not normal_place(place.text) and place.point is None):
        return None
    since = (now or utcnow()) - timedelta(days=settings.duplicate_days)
    near: list[ColumnElement[bool]] = []
    # SQLite's lower() folds ASCII letters only: only an ASCII word is looked for in SQL.
    words = [w for w in normal_place(place.text).split() if w not in _ABBREVIATIONS.values() and w.isascii()]
    if words:
        # Every word of the normalised text is in the lower-cased original as written: the
        # longest one narrows the candidates in SQL; normal_place decides.
        near.append(func.lower(Complaint.location_text).contains(max(words, key=len), autoescape=True))
    elif normal_place(place.text):
        near.append(Complaint.location_text.is_not(None))
    if place.point is not None:
        # A box a little larger than the circle: SQL narrows, haversine decides.
        lat, lon = place.point
        dlat = settings.duplicate_distance_m / 111_000 + 1e-6
        dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
        near.append(and_(Complaint.latitude.between(lat - dlat, lat + dlat),
                         Complaint.longitude.between(lon - dlon, lon + dlon)))
    # Only the columns compared: on a flood morning hundreds of complaints share a street, and
    # loading each as a whole entity cost more than the rest of the citizen's turn.
    rows = session.execute(select(Complaint.id, Complaint.contact_id, Complaint.location_text,
                                  Complaint.latitude, Complaint.longitude).where(
        Complaint.category == category, Complaint.created_at >= since,
        Complaint.status.not_in(CLOSED), Complaint.duplicate_of_id.is_(None), or_(*near))
        .order_by(Complaint.id.desc()).limit(MAX_CANDIDATES)).all()
    matches = [c for c in rows if same_place(place, Place(c.location_text, c.latitude, c.longitude),
                                             settings.duplicate_distance_m)]
    if not matches:
        return None
    followed = set(session.scalars(select(ComplaintFollower.complaint_id).where(
        ComplaintFollower.contact_id == contact_id,
        ComplaintFollower.complaint_id.in_([c.id for c in matches]))))
    mine = next((c for c in matches if c.contact_id == contact_id or c.id in followed), None)
    found = session.get(Complaint, (mine or matches[0]).id)
    return (found, mine is not None) if found is not None else None


def follows(session: Session, complaint: Complaint, contact_id: int) -> bool:
    """The citizen filed the complaint or already follows it."""
    return complaint.contact_id == contact_id or session.scalar(select(ComplaintFollower.id).where(
        ComplaintFollower.complaint_id == complaint.id, ComplaintFollower.contact_id == contact_id)) is not None


def add_follower(session: Session, complaint: Complaint, contact_id: int,
                 conversation_id: int | None) -> bool:
    """Make the citizen a follower of ``complaint``; False when they own or follow it already."""
    if follows(session, complaint, contact_id):
        return False
    session.add(ComplaintFollower(complaint_id=complaint.id, contact_id=contact_id,
                                  conversation_id=conversation_id, created_at=utcnow()))
    session.flush()
    return True


def followers(session: Session, complaint: Complaint) -> list[ComplaintFollower]:
    """Who follows the complaint, in the order they joined."""
    return list(session.scalars(select(ComplaintFollower).where(
        ComplaintFollower.complaint_id == complaint.id).order_by(ComplaintFollower.id)))


def follower_conversations(session: Session, complaint: Complaint) -> list[Conversation]:
    """The conversations to tell a follower in: where they joined, locked like a worker locks
    them (the rating question and notifications write their state)."""
    ids = [f.conversation_id for f in followers(session, complaint)
           if f.conversation_id is not None and f.conversation_id != complaint.conversation_id]
    out = []
    for conv_id in ids:
        conv = session.get(Conversation, conv_id, with_for_update=True)
        if conv is not None:
            out.append(conv)
    return out


def root_of(session: Session, complaint: Complaint) -> Complaint:
    """The complaint a chain of duplicates ends at (itself when it is no duplicate)."""
    seen = {complaint.id}
    while complaint.duplicate_of_id is not None and complaint.duplicate_of_id not in seen:
        nxt = session.get(Complaint, complaint.duplicate_of_id)
        if nxt is None:
            break
        seen.add(nxt.id)
        complaint = nxt
    return complaint
