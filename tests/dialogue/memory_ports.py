"""An in-memory implementation of the dialogue's ports: complaints in a dict, time from a clock.

It keeps the rules the database-backed ports (bot/casework/dialogue_ports.py) keep and the
dialogue relies on: tickets are per city and year, someone else's ticket is never shown, a
resolved complaint reopens only within the reopen period, a duplicate is an open complaint of
the same category at the same place (bot.casework.duplicates.same_place) within the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bot.casework.duplicates import Place, same_place
from bot.dialogue.types import ComplaintDraft, ComplaintView, Duplicate

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)     # 10:00 WIB
ME = "citizen"

# (name, intent, agency, coordination hours, resolution days): the shape of config.yml's
# complaints.categories, in the order they are offered.
CATEGORIES: tuple[tuple[str, str, str, float, float], ...] = (
    ("road_damage", "report_road_damage", "Dinas Bina Marga", 6, 7),
    ("flood", "report_flood", "Dinas Sumber Daya Air", 2, 3),
    ("drainage", "report_drainage", "Dinas Sumber Daya Air", 6, 7),
    ("garbage", "report_garbage", "Dinas Lingkungan Hidup", 6, 3),
    ("street_light", "report_street_light", "Dinas Bina Marga (PJU)", 6, 7),
    ("tree", "report_tree", "Dinas Pertamanan dan Hutan Kota", 6, 7),
    ("illegal_parking", "report_illegal_parking", "Dinas Perhubungan", 6, 7),
    ("traffic", "report_traffic", "Dinas Perhubungan", 6, 7),
    ("street_vendor", "report_street_vendor", "Satpol PP", 6, 7),
    ("public_facility", "report_public_facility", "Dinas Cipta Karya, Tata Ruang dan Pertanahan", 6, 7),
    ("pollution", "report_pollution", "Dinas Lingkungan Hidup", 6, 7),
    ("public_service", "report_public_service", "Inspektorat", 6, 7),
    ("other", "report_start", "Sekretariat Daerah (Biro Pemerintahan)", 6, 7),
)


@dataclass
class StoredComplaint:
    owner: str
    view: ComplaintView
    draft: ComplaintDraft | None = None
    ratings: list[int] = field(default_factory=list)
    reopened: int = 0
    rated: bool = False      # since it was last resolved
    place: Place = field(default_factory=Place)
    filed_at: datetime = NOW
    followers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)      # what followers added, as the citizen's notes
    media: list[str] = field(default_factory=list)      # urls of photos followers added


class MemoryPorts:
    """Dialogue ports for the citizen ``citizen``; ``complaints`` is shared between citizens.

    Args:
        citizen: Who is talking (own_complaint and rate only see this citizen's complaints).
        clock: The current time.
        complaints: Another MemoryPorts' store, to let two citizens share one city.
        reopen_days: How long after Selesai a complaint can be reopened.
        duplicate_days: How recent an open complaint must be to count as the same (0: never).
        duplicate_distance_m: How close two shared points must be to count as the same place.
    """

    def __init__(self, citizen: str = ME, clock: Callable[[], datetime] = lambda: NOW,
                 complaints: dict[str, StoredComplaint] | None = None, reopen_days: float = 7,
                 duplicate_days: float = 14, duplicate_distance_m: float = 150) -> None:
        self.citizen = citizen
        self.clock = clock
        self.complaints: dict[str, StoredComplaint] = {} if complaints is None else complaints
        self._reopen_days = reopen_days
        self.duplicate_days = duplicate_days
        self.duplicate_distance_m = duplicate_distance_m

    def as_citizen(self, citizen: str) -> MemoryPorts:
        """Ports for another citizen of the same city (the same complaints)."""
        return MemoryPorts(citizen, self.clock, self.complaints, self._reopen_days, self.duplicate_days,
                           self.duplicate_distance_m)

    # -- test helpers ------------------------------------------------------------------------
    def add(self, category: str = "tree", status: str = "menunggu", owner: str | None = None,
            closed_at: datetime | None = None, location: str | None = None,
            point: tuple[float, float] | None = None, filed_at: datetime | None = None) -> str:
        """Store a complaint directly (as if filed earlier or by someone else); return its ticket."""
        ticket = f"WRG-2026-{len(self.complaints) + 1:06d}"
        now = filed_at or self.clock()
        self.complaints[ticket] = StoredComplaint(owner or self.citizen, ComplaintView(
            ticket=ticket, category=category, agency=self._category(category)[2], status=status,
            updated_at=now, due_at=now + timedelta(hours=6), closed_at=closed_at),
            place=Place(location, *(point or (None, None))), filed_at=now)
        return ticket

    def filed(self) -> list[ComplaintDraft]:
        return [c.draft for c in self.complaints.values() if c.draft is not None]

    def _category(self, name: str) -> tuple[str, str, str, float, float]:
        return next(c for c in CATEGORIES if c[0] == name)

    def _own(self, ticket: str) -> StoredComplaint | None:
        c = self.complaints.get(ticket)
        return c if c is not None and c.owner == self.citizen else None

    # -- DialoguePorts -----------------------------------------------------------------------
    def file_complaint(self, draft: ComplaintDraft) -> ComplaintView:
        ticket = f"WRG-2026-{len(self.complaints) + 1:06d}"
        _, _, agency, hours, days = self._category(draft.category)
        now = self.clock()
        view = ComplaintView(ticket=ticket, category=draft.category, agency=agency, status="menunggu",
                             updated_at=now, due_at=now + timedelta(hours=hours),
                             resolve_due_at=now + timedelta(days=days))
        self.complaints[ticket] = StoredComplaint(self.citizen, view, draft, filed_at=now, place=Place(
            draft.location_text, draft.latitude, draft.longitude))
        return view

    def own_complaint(self, ticket: str) -> ComplaintView | None:
        c = self._own(ticket)
        return c.view if c else None

    def recent_complaints(self, limit: int) -> list[ComplaintView]:
        own = [c.view for c in self.complaints.values() if c.owner == self.citizen]
        return own[::-1][:limit]

    def category_for_intent(self, intent: str | None) -> str | None:
        return next((c[0] for c in CATEGORIES if c[1] == intent), None)

    def categories(self) -> list[str]:
        return [c[0] for c in CATEGORIES]

    def rate(self, ticket: str, rating: int) -> bool:
        c = self._own(ticket)
        if c is None or c.rated:
            return False    # stored once per resolution (a reopened complaint may be rated again)
        c.ratings.append(rating)
        c.rated = True
        return True

    def sla_of(self, category: str) -> tuple[float, float]:
        _, _, _, hours, days = self._category(category)
        return hours, days

    def reopen(self, ticket: str) -> ComplaintView | None:
        c = self._own(ticket)
        if c is None or c.view.status != "selesai" or c.view.closed_at is None \
                or self.clock() - c.view.closed_at > timedelta(days=self._reopen_days):
            return None
        c.view = replace(c.view, status="proses", updated_at=self.clock(), closed_at=None)
        c.reopened += 1
        c.rated = False
        return c.view

    def reopen_days(self) -> float:
        return self._reopen_days

    def find_duplicate(self, draft: ComplaintDraft) -> Duplicate | None:
        if self.duplicate_days <= 0:
            return None
        place = Place(draft.location_text, draft.latitude, draft.longitude)
        since = self.clock() - timedelta(days=self.duplicate_days)
        matches = [c for c in reversed(self.complaints.values())
                   if c.view.category == draft.category and c.view.status not in ("selesai", "ditolak")
                   and c.filed_at >= since and same_place(place, c.place, self.duplicate_distance_m)]
        if not matches:
            return None
        mine = [c for c in matches if c.owner == self.citizen or self.citizen in c.followers]
        best = (mine or matches)[0]
        where = best.place.text or f"{best.place.latitude:.5f}, {best.place.longitude:.5f}"
        return Duplicate(best.view, where, own=bool(mine))

    def follow(self, ticket: str, draft: ComplaintDraft) -> ComplaintView | None:
        c = self.complaints.get(ticket)
        if c is None or c.view.status in ("selesai", "ditolak"):
            return None
        c.notes.append(draft.description)
        c.media.extend(m.url for m in draft.media)
        if c.owner != self.citizen and self.citizen not in c.followers:
            c.followers.append(self.citizen)
        return c.view
