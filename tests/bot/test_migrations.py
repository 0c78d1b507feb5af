"""Migrations: they build the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, select

from bot.store.engine import make_engine, make_session_factory
from bot.store.migrate import pending, upgrade
from bot.store.models import Base, StaffUser
from bot.store.text_search import FTS_TABLES, TRIGRAM_INDEXES, is_model_object


def _diff(engine, metadata: MetaData) -> list:
    with engine.connect() as conn:
        # The word-search objects no model describes (bot/store/text_search.py) are left out by
        # name, each one; test_inbox_search.py checks the migration makes and removes them.
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                     "compare_server_default": True,
                                                     "include_name": is_model_object})
        return compare_metadata(ctx, metadata)


def test_upgrade_creates_the_schema_and_is_harmless_twice(db_url):
    engine = make_engine(db_url)
    try:
        assert pending(engine) is True            # an empty database needs migrating
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        search_tables = FTS_TABLES if engine.dialect.name == "sqlite" else set()
        assert tables == set(Base.metadata.tables) | {"alembic_version"} | search_tables
        assert pending(engine) is False
        # Running it again (every `make run` does) is harmless and keeps the data.
        sessions = make_session_factory(engine)
        with sessions() as s, s.begin():
            s.add(StaffUser(username="admin", role="admin", password_hash="x"))
        upgrade(engine)
        assert pending(engine) is False
        with sessions() as s:
            assert s.scalars(select(StaffUser.username)).all() == ["admin"]
    finally:
        engine.dispose()


def test_models_and_migrations_agree(db_url):
    """Autogenerate finds nothing to do: a model change without a migration fails here.

    Only the word-search objects are filtered out (named one by one): on both databases the
    comparison (with type and server-default comparison switched on) comes back empty, so there
    is no type-rendering noise to ignore.
    """
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        assert _diff(engine, Base.metadata) == []
        # Guard: the comparison really sees a column the migrations lack.
        metadata = MetaData()
        for table in Base.metadata.tables.values():
            table.to_metadata(metadata)
        metadata.tables["complaints"].append_column(Column("priority", Integer, nullable=True))
        diff = _diff(engine, metadata)
        assert [(d[0], d[2], d[3].name) for d in diff if d[0] == "add_column"] == [
            ("add_column", "complaints", "priority")]
        # Guard: the filter hides only the search objects, not an index of the same table.
        assert is_model_object("ix_complaints_status_id", "index") and is_model_object("complaints", "table")
        assert not any(is_model_object(name, "index") for name in TRIGRAM_INDEXES)
    finally:
        engine.dispose()
