"""bot.casework.duplicates.find_duplicate on a real database (SQLite and PostgreSQL): the SQL
narrowing (category, window, open, a word of the address, a box around the point) never hides
a match that same_place would accept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.casework.duplicates import Place, find_duplicate
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Complaint, ComplaintFollower, Contact, utcnow
from tests.conftest import make_settings, migrate

SALEMBA = (-6.1952, 106.8510)
METRE = 1 / 111_195


@pytest.fixture
def world(db_url: str, tmp_path: Any) -> Any:
    migrate(db_url)
    settings = make_settings(db_url, tmp_path)
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        for n in range(4):
            s.add(Contact(id=n + 1, name=f"warga {n + 1}"))
    yield sessions, settings.complaints
    engine.dispose()


def add(s: Any, ticket: str, *, owner: int = 1, category: str = "road_damage", text: str | None = None,
        point: tuple[float, float] | None = None, days_ago: float = 1, status: str = "menunggu") -> Complaint:
    c = Complaint(ticket=ticket, contact_id=owner, channel="web", category=category, agency="Dinas Bina Marga",
                  description="jalan berlubang", location_text=text, latitude=point[0] if point else None,
                  longitude=point[1] if point else None, status=status,
                  created_at=utcnow() - timedelta(days=days_ago))
    s.add(c)
    s.flush()
    return c


@pytest.mark.parametrize("asked", ["jalan salemba raya", "JL.SALEMBA  RAYA", "Jln. Salemba Raya,"])
def test_an_address_in_another_spelling_is_found(world, asked):
    sessions, settings = world
    with sessions() as s, s.begin():
        add(s, "WRG-2026-000001", text="Jl. Salemba Raya", owner=2)
        add(s, "WRG-2026-000002", text="Jl. Salemba Tengah", owner=2)
        found = find_duplicate(s, settings, "road_damage", Place(asked), contact_id=1)
        assert found is not None and (found[0].ticket, found[1]) == ("WRG-2026-000001", False)


def test_the_citizens_own_or_followed_complaint_comes_first(world):
    sessions, settings = world
    with sessions() as s, s.begin():
        followed = add(s, "WRG-2026-000001", text="Jl. Salemba Raya", owner=2)
        add(s, "WRG-2026-000002", text="jl salemba raya", owner=3)
        s.add(ComplaintFollower(complaint_id=followed.id, contact_id=1, created_at=utcnow()))
        s.flush()
        found = find_duplicate(s, settings, "road_damage", Place("Jalan Salemba Raya"), contact_id=1)
        assert found is not None and (found[0].ticket, found[1]) == ("WRG-2026-000001", True)


@pytest.mark.parametrize("kind,place,found", [
    ("near point", Place(None, SALEMBA[0] + 100 * METRE, SALEMBA[1]), True),
    ("near point east", Place(None, SALEMBA[0], SALEMBA[1] + 140 * METRE), True),
    ("far point", Place(None, SALEMBA[0] + 400 * METRE, SALEMBA[1]), False),
    ("other address", Place("Jl. Pramuka"), False),
])
def test_points_within_the_distance(world, kind, place, found):
    sessions, settings = world
    with sessions() as s, s.begin():
        add(s, "WRG-2026-000001", point=SALEMBA, owner=2)
        assert (find_duplicate(s, settings, "road_damage", place, contact_id=1) is not None) is found, kind


@pytest.mark.parametrize("change", [dict(category="garbage"), dict(days_ago=15), dict(status="selesai"),
                                    dict(status="ditolak")])
def test_other_category_old_or_closed_complaints_are_not_duplicates(world, change):
    sessions, settings = world
    with sessions() as s, s.begin():
        add(s, "WRG-2026-000001", text="Jl. Salemba Raya", point=SALEMBA, owner=2, **change)
        assert find_duplicate(s, settings, "road_damage", Place("Jl. Salemba Raya", *SALEMBA), contact_id=1) is None


def test_the_citizens_own_complaint_is_found_however_many_others_share_the_street(world):
    """A flood morning: hundreds of open complaints at one address. The search is one indexed
    look-up of the stored key, so the citizen's own complaint, older than all of them, is
    still the one offered (a scan of the newest few hundred would have missed it)."""
    sessions, settings = world
    with sessions() as s, s.begin():
        add(s, "WRG-2026-000001", text="Jl. Salemba Raya No. 5", owner=1, days_ago=2)
        s.add_all(Complaint(ticket=f"WRG-2026-{n:06d}", contact_id=2, channel="web", category="road_damage",
                            agency="Dinas Bina Marga", description="banjir", location_text="jalan salemba raya no 5",
                            status="menunggu", created_at=utcnow() - timedelta(hours=1))
                  for n in range(2, 603))
    with sessions() as s:
        found = find_duplicate(s, settings, "road_damage", Place("JL SALEMBA RAYA NO.5"), contact_id=1)
        assert found is not None and (found[0].ticket, found[1]) == ("WRG-2026-000001", True)
        found = find_duplicate(s, settings, "road_damage", Place("JL SALEMBA RAYA NO.5"), contact_id=3)
        assert found is not None and (found[0].ticket, found[1]) == ("WRG-2026-000602", False)


def test_a_corrected_address_is_searched_by_its_new_spelling(world):
    sessions, settings = world
    with sessions() as s, s.begin():
        c = add(s, "WRG-2026-000001", text="Jl. Salemba Raya", owner=2)
        assert c.location_key == "jl salemba raya"
        c.location_text = "Gang Mawar 3"                  # staff corrected it
    with sessions() as s:
        assert find_duplicate(s, settings, "road_damage", Place("Jl. Salemba Raya"), contact_id=1) is None
        found = find_duplicate(s, settings, "road_damage", Place("gg. mawar 3"), contact_id=1)
        assert found is not None and found[0].ticket == "WRG-2026-000001"


def test_complaints_filed_before_the_key_existed_are_found_after_the_upgrade(db_url, tmp_path):
    from sqlalchemy import text

    from bot.store.migrate import upgrade

    engine = make_engine(db_url)
    try:
        upgrade(engine, "0013_open_work_indexes")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO contacts (id, name, created_at) VALUES (1, 'warga', :now)"),
                         {"now": utcnow()})
            conn.execute(text(
                "INSERT INTO complaints (ticket, contact_id, channel, category, agency, description, "
                "location_text, media, language, status, created_at, updated_at) VALUES "
                "(:t, 1, 'web', 'road_damage', 'Dinas Bina Marga', 'jalan berlubang', :loc, '[]', 'id', "
                "'menunggu', :now, :now)"),
                [{"t": "WRG-2026-000001", "loc": "Jalan Salemba Raya", "now": utcnow()},
                 {"t": "WRG-2026-000002", "loc": None, "now": utcnow()}])
        upgrade(engine)
        sessions = make_session_factory(engine)
        with sessions() as s:
            assert dict(s.execute(select(Complaint.ticket, Complaint.location_key)).all()) == {
                "WRG-2026-000001": "jl salemba raya", "WRG-2026-000002": None}
            found = find_duplicate(s, make_settings(db_url, tmp_path).complaints, "road_damage",
                                   Place("jl. salemba raya"), contact_id=2)
            assert found is not None and found[0].ticket == "WRG-2026-000001"
    finally:
        engine.dispose()
