"""The same problem reported twice: finding an open complaint at the same place, and followers.

A complaint is "the same" when it is open, of the same category, filed within
``complaints.duplicate_days`` days, and at the same place: the same address text once spelling is
set aside (case, spaces, punctuation, "Jl."/"Jalan"), or a shared point within
``complaints.duplicate_distance_m`` metres of the other one. Citizens who join it become its
followers and are told of its status changes like its owner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.casework.complaints import CLOSED
from bot.settings import ComplaintSettings
from bot.store.models import Complaint, ComplaintFollower, Conversation, utcnow
from bot.store.places import normal_place

EARTH_RADIUS_M = 6_371_000.0
#: How many recent complaints near a shared point are measured in Python (the newest first): the
#: category, the window and a bounding box already narrowed them in SQL.
MAX_CANDIDATES = 500

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
    thing twice is the most common case; otherwise the newest. None when duplicates are
    switched off (0 days).
    """
    key = normal_place(place.text)
    if settings.duplicate_days <= 0 or (not key and place.point is None):
        return None
    since = (now or utcnow()) - timedelta(days=settings.duplicate_days)
    is_open = (Complaint.category == category, Complaint.created_at >= since,
               Complaint.status.not_in(CLOSED), Complaint.duplicate_of_id.is_(None))
    own = or_(Complaint.contact_id == contact_id, Complaint.id.in_(
        select(ComplaintFollower.complaint_id).where(ComplaintFollower.contact_id == contact_id))).label("own")
    found: list[tuple[bool, int]] = []          # (own, id): the largest wins
    if key:
        # The same address: an indexed equality on the stored key, one row whatever the number
        # of complaints on the street (on a flood morning, hundreds).
        row = session.execute(select(own, Complaint.id).where(*is_open, Complaint.location_key == key)
                              .order_by(own.desc(), Complaint.id.desc()).limit(1)).first()
        if row is not None:
            found.append((bool(row.own), row.id))
    if place.point is not None:
        # A box a little larger than the circle: SQL narrows, haversine decides.
        lat, lon = place.point
        dlat = settings.duplicate_distance_m / 111_000 + 1e-6
        dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
        rows = session.execute(select(own, Complaint.id, Complaint.latitude, Complaint.longitude).where(
            *is_open, Complaint.latitude.between(lat - dlat, lat + dlat),
            Complaint.longitude.between(lon - dlon, lon + dlon))
            .order_by(Complaint.id.desc()).limit(MAX_CANDIDATES)).all()
        found += [(bool(r.own), r.id) for r in rows
                  if distance_m(place.point, (r.latitude, r.longitude)) <= settings.duplicate_distance_m]
    if not found:
        return None
    is_own, complaint_id = max(found)
    complaint = session.get(Complaint, complaint_id)
    return (complaint, is_own) if complaint is not None else None


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
