"""The inbox's word search (bot/casework/inbox.py) through each database's index: SQLite's FTS5
trigram table kept by triggers, PostgreSQL's pg_trgm indexes (migration 0011_inbox_search,
bot/store/text_search.py). Same answers as a plain "contains, any case" search; scoped to what the
viewer may see; terms under 3 characters fall back to LIKE."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, delete, func, insert, inspect, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from bot.casework import inbox
from bot.store import text_search
from bot.store.engine import make_engine, make_session_factory
from bot.store.migrate import upgrade
from bot.store.models import Complaint, Contact

NOW = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
ROADS, PARKS = "Dinas Bina Marga", "Dinas Pertamanan"
CHOICES = inbox.Choices(statuses=("proses", "selesai"), categories=("road_damage", "tree"),
                        agencies=(ROADS, PARKS), channels=("web", "sms"))


@pytest.fixture
def db(db_url: str) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine = make_engine(db_url)
    upgrade(engine)
    try:
        yield engine, make_session_factory(engine)
    finally:
        engine.dispose()


def file(sessions: sessionmaker[Session], number: int, description: str, *, agency: str = ROADS,
         location: str | None = None, name: str = "Warga") -> int:
    with sessions() as s, s.begin():
        contact = Contact(name=name, created_at=NOW)
        s.add(contact)
        s.flush()
        # A Core insert of these columns only: the test files on older schemas too (before
        # migration 0014 there is no location key, which the model would insert).
        return s.execute(insert(cast(Table, Complaint.__table__)).values(
            ticket=f"WRG-2026-{number:06d}", contact_id=contact.id, channel="web",
            category="road_damage" if agency == ROADS else "tree", agency=agency, description=description,
            location_text=location, status="proses", created_at=NOW).returning(Complaint.id)).scalar_one()


def statement(engine: Engine, q: str, agency: str | None = None) -> Any:
    f = inbox.InboxFilter(q=q)
    stmt = inbox.filtered(f, inbox.Viewer(1, agency), CHOICES, NOW, "Asia/Jakarta", engine.dialect.name)
    return inbox.ordered(stmt, "newest", NOW)


def found(db: tuple[Engine, sessionmaker[Session]], q: str, agency: str | None = None) -> list[str]:
    engine, sessions = db
    with sessions() as s:
        return [c.ticket[-2:] for c in s.scalars(statement(engine, q, agency))]


def test_words_are_found_in_any_case_and_inside_longer_words(db):
    sessions = db[1]
    file(sessions, 1, "Jalan BERLUBANG dalam di depan sekolah", location="Jl. Pasar Minggu No. 3")
    file(sessions, 2, "pohon tumbang menimpa kabel listrik")
    file(sessions, 3, "Banjir setinggi lutut", location="RT 05 / RW 02 Kampung Melayu")
    assert found(db, "lubang") == ["01"]                  # a part of a word ("ber-lubang")
    assert found(db, "berlubang") == ["01"] and found(db, "KaBeL") == ["02"]
    assert found(db, "pohon tumbang") == ["02"]           # several words: that phrase
    assert found(db, "tumbang pohon") == []
    assert found(db, "pasar minggu") == ["01"]            # location
    assert found(db, "kampung") == ["03"]
    assert found(db, "000002") == ["02"]                  # part of a ticket
    assert found(db, "an") == ["03", "02", "01"]          # short: LIKE, same meaning
    assert found(db, "nothing like it") == []


def test_short_terms_fall_back_to_like_and_find_the_same(db):
    sessions = db[1]
    file(sessions, 1, "lampu mati", location="RT 05")
    file(sessions, 2, "sampah di sungai")
    assert found(db, "rt") == ["01"] and found(db, "05") == ["01"]
    assert found(db, "di") == ["02"] and found(db, "5") == ["01"]
    assert found(db, "i") == ["02", "01"]


def test_search_text_is_taken_literally(db):
    sessions = db[1]
    file(sessions, 1, 'tulisan "awas anjing" di pagar, 100% rusak')
    file(sessions, 2, "kabel OR banjir")
    file(sessions, 3, "kabel putus")
    assert found(db, '"awas anjing"') == ["01"] and found(db, '"awas') == ["01"]
    assert found(db, "100%") == ["01"] and found(db, "0%") == ["01"] and found(db, "%") == ["01"]
    assert found(db, "kabel OR banjir") == ["02"]          # not an FTS operator
    assert found(db, "kab*") == [] and found(db, "NOT kabel") == [] and found(db, "_") == []
    assert found(db, "kabel") == ["03", "02"]


def test_the_index_follows_every_change_to_a_complaint(db):
    sessions = db[1]
    first = file(sessions, 1, "saluran mampet", location="Gang Mawar")
    file(sessions, 2, "parkir liar")
    with sessions() as s, s.begin():
        s.execute(update(Complaint).where(Complaint.id == first)
                  .values(description="trotoar rusak", location_text="Gang Melati"))
    assert found(db, "mampet") == [] and found(db, "mawar") == []
    assert found(db, "trotoar") == ["01"] and found(db, "melati") == ["01"]
    with sessions() as s, s.begin():
        s.execute(update(Complaint).where(Complaint.id == first).values(status="selesai"))
    assert found(db, "trotoar") == ["01"]                 # other columns: the entry stays
    with sessions() as s, s.begin():
        s.execute(update(Complaint).where(Complaint.id == first).values(location_text=None))
    assert found(db, "melati") == [] and found(db, "trotoar") == ["01"]
    with sessions() as s, s.begin():
        s.execute(delete(Complaint).where(Complaint.id == first))
    assert found(db, "trotoar") == [] and found(db, "parkir") == ["02"]


def test_staff_never_find_another_agencys_complaints(db):
    sessions = db[1]
    file(sessions, 1, "pohon tumbang di jalan", agency=ROADS, name="Sari")
    file(sessions, 2, "pohon tumbang di taman", agency=PARKS, name="Sari")
    assert found(db, "pohon") == ["02", "01"]                       # a supervisor: both
    assert found(db, "pohon", agency=ROADS) == ["01"]
    assert found(db, "taman", agency=ROADS) == []                   # the word is only in the other's
    assert found(db, "sari", agency=PARKS) == ["02"]                # by the citizen's name too
    assert found(db, "WRG-2026-000001", agency=PARKS) == []         # a whole ticket
    assert found(db, "000001", agency=PARKS) == [] and found(db, "po", agency=PARKS) == ["02"]


def _plan(engine: Engine, q: str) -> str:
    """The plan of counting what the search finds (a page may walk the id index instead)."""
    chosen = inbox.filtered(inbox.InboxFilter(q=q), inbox.Viewer(1, None), CHOICES, NOW, "Asia/Jakarta",
                            engine.dialect.name)
    stmt = select(func.count()).select_from(chosen.subquery())
    compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return "\n".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
        conn.exec_driver_sql("SET enable_seqscan = off")    # a few rows: the index only when it can serve
        return "\n".join(str(r[0]) for r in conn.exec_driver_sql(f"EXPLAIN {compiled}"))


def test_a_word_is_looked_up_in_the_index_and_a_short_term_is_not(db):
    engine, sessions = db
    file(sessions, 1, "pohon tumbang menimpa kabel")
    plan = _plan(engine, "kabel")
    if engine.dialect.name == "sqlite":
        assert "VIRTUAL TABLE INDEX" in plan and text_search.FTS_TABLE in plan
        assert text_search.FTS_TABLE not in _plan(engine, "ka")
    else:
        assert "ix_complaints_description_trgm" in plan and "ix_complaints_location_text_trgm" in plan
        assert "ix_complaints_contact_id" in plan and "ix_contacts_name_trgm" in plan


def _search_objects(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return set(conn.scalars(text("SELECT name FROM sqlite_master WHERE name LIKE 'complaints_fts%'")))
        return set(conn.scalars(text("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%_trgm'")))


def test_the_migration_indexes_filed_complaints_and_downgrades_cleanly(db_url):
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0010_training")
        sessions = make_session_factory(engine)
        file(sessions, 1, "lampu jalan mati sejak kemarin")
        upgrade(engine)                                     # complaints filed before are indexed
        assert found((engine, sessions), "kemarin") == ["01"]
        expected = ({*text_search.FTS_TABLES, *text_search.SQLITE_TRIGGER_NAMES}
                    if engine.dialect.name == "sqlite" else set(text_search.TRIGRAM_INDEXES))
        assert _search_objects(engine) == expected
        indexes = {i["name"] for i in inspect(engine).get_indexes("complaints")}
        assert "ix_complaints_category_channel_due_at" in indexes

        from alembic import command

        from bot.store.migrate import alembic_config

        cfg = alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0010_training")
        assert _search_objects(engine) == set()
        indexes = {i["name"] for i in inspect(engine).get_indexes("complaints")}
        assert "ix_complaints_category_channel_due_at" not in indexes
        with sessions() as s:                               # the table and its rows are untouched
            assert s.scalars(select(Complaint.ticket)).all() == ["WRG-2026-000001"]
        file(sessions, 2, "lampu taman mati")               # filed while downgraded: no trigger
        upgrade(engine)
        assert found((engine, sessions), "lampu") == ["02", "01"]
    finally:
        engine.dispose()
