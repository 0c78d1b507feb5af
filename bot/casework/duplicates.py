"""The same problem reported twice: finding an open complaint at the same place, and followers.

A complaint is "the same" when it is open, of the same category, filed within
``complaints.duplicate_days`` days, and at the same place: the same address text once spelling is
set aside (case, spaces, punctuation, "Jl."/"Jalan"), or a shared point within
``complaints.duplicate_distance_m`` metres of the other one. Citizens who join it become its
followers and are told of its status changes like its owner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, or_, select
from sqlalchemy.orm import Session

from bot.casework.complaints import CLOSED
from bot.settings import ComplaintSettings
from bot.store.driver_sql import DriverStatement
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


_c = cast(Table, Complaint.__table__)
_f = cast(Table, ComplaintFollower.__table__)
_CONTACT = bindparam("b_contact", type_=_c.c.contact_id.type)
# The citizen filed it or follows it: theirs comes first.
_OWN = or_(_c.c.contact_id == _CONTACT,
           _c.c.id.in_(select(_f.c.complaint_id).where(_f.c.contact_id == _CONTACT))).label("own")
# Open, of the category, recent, and not itself a duplicate (each closed status its own bound
# value: a cached statement, where an IN list is spliced in at every execution).
_IS_OPEN = (_c.c.category == bindparam("b_category"), _c.c.created_at >= bindparam("b_since"),
            *(_c.c.status != status for status in CLOSED), _c.c.duplicate_of_id.is_(None))


@dataclass(frozen=True, slots=True)
class FoundComplaint:
    """The complaint a new one repeats, as the citizen is told of it (a row, not the ORM's
    entity: loading that cost more than the search)."""

    id: int
    ticket: str
    category: str
    agency: str
    status: str
    updated_at: datetime
    due_at: datetime | None
    location_text: str | None
    latitude: float | None
    longitude: float | None


_FOUND = [_c.c[f.name] for f in fields(FoundComplaint)]
# The same address: an indexed equality on the stored key, one row whatever the number of
# complaints on the street (on a flood morning, hundreds). Built once, like the next one.
_SAME_ADDRESS = DriverStatement(select(_OWN, *_FOUND).where(*_IS_OPEN, _c.c.location_key == bindparam("b_key"))
                                .order_by(_OWN.desc(), _c.c.id.desc()).limit(1))
# Near a shared point: a box a little larger than the circle; SQL narrows, haversine decides.
_NEAR = DriverStatement(select(_OWN, *_FOUND).where(
    *_IS_OPEN, _c.c.latitude.between(bindparam("b_lat_min"), bindparam("b_lat_max")),
    _c.c.longitude.between(bindparam("b_lon_min"), bindparam("b_lon_max")))
    .order_by(_c.c.id.desc()).limit(MAX_CANDIDATES))


def find_duplicate(session: Session, settings: ComplaintSettings, category: str, place: Place,
                   contact_id: int, now: datetime | None = None) -> tuple[FoundComplaint, bool] | None:
    """The open complaint this new one repeats, and whether ``contact_id`` already owns or follows it.

    The citizen's own (or followed) complaint comes first: the same person reporting the same
    thing twice is the most common case; otherwise the newest. None when duplicates are
    switched off (0 days).
    """
    key = normal_place(place.text)
    if settings.duplicate_days <= 0 or (not key and place.point is None):
        return None
    params: dict[str, object] = {
        "b_category": category, "b_contact": contact_id,
        "b_since": (now or utcnow()) - timedelta(days=settings.duplicate_days)}
    conn = session.connection()
    found: list[tuple[bool, FoundComplaint]] = []
    if key:
        found += [(bool(own), FoundComplaint(*rest))
                  for own, *rest in _SAME_ADDRESS.rows(conn, {**params, "b_key": key})]
    if place.point is not None:
        lat, lon = place.point
        dlat = settings.duplicate_distance_m / 111_000 + 1e-6
        dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
        rows = _NEAR.rows(conn, {**params, "b_lat_min": lat - dlat, "b_lat_max": lat + dlat,
                                 "b_lon_min": lon - dlon, "b_lon_max": lon + dlon})
        for own, *rest in rows:
            candidate = FoundComplaint(*rest)
            if candidate.latitude is not None and candidate.longitude is not None and distance_m(
                    place.point, (candidate.latitude, candidate.longitude)) <= settings.duplicate_distance_m:
                found.append((bool(own), candidate))
    if not found:
        return None
    is_own, complaint = max(found, key=lambda f: (f[0], f[1].id))
    return complaint, is_own


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
