"""The test run's PostgreSQL databases (tests/conftest.py): a database a test gave back reaches
the next test empty, exactly as the migrations made it, or not at all."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import (
    _PG_STOCK,
    PG_ADMIN_URL,
    _create_pg_database,
    _pg_url,
    _release_pg_database,
    migrate,
)
from tests.support import wait_for


def connect(name: str) -> psycopg.Connection:
    return psycopg.connect(_pg_url(name).replace("+psycopg", ""), autocommit=True)


def exists(name: str) -> bool:
    with psycopg.connect(PG_ADMIN_URL) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


@pytest.fixture
def migrated_db(pg_reason: str | None) -> str:
    if pg_reason:
        pytest.skip(pg_reason)
    name, url = _create_pg_database()
    migrate(url)
    return name


def next_migrated(avoid: str) -> str:
    """The next migrated database the stock hands out (given back ones first, once recycled)."""
    name, url = _create_pg_database()
    migrate(url)
    assert name != avoid
    return name


def test_a_filled_database_comes_back_empty_with_its_counters_reset(migrated_db: str) -> None:
    with connect(migrated_db) as conn:
        conn.execute("INSERT INTO contacts (created_at) VALUES (now())")
        conn.execute("INSERT INTO contacts (created_at) VALUES (now())")
    _release_pg_database(migrated_db)
    wait_for(lambda: not exists(migrated_db), what="the database to leave under its old name")
    for _ in range(_PG_STOCK.DEPTH + 2):          # whichever copy comes: each is empty
        name = next_migrated(migrated_db)
        with connect(name) as conn:
            assert conn.execute("SELECT count(*) FROM contacts").fetchone() == (0,)
            row = conn.execute("INSERT INTO contacts (created_at) VALUES (now()) RETURNING id").fetchone()
            assert row == (1,)
        _release_pg_database(name)


def test_a_database_whose_schema_a_test_changed_is_never_handed_out_again(migrated_db: str) -> None:
    with connect(migrated_db) as conn:
        conn.execute("ALTER TABLE contacts ADD COLUMN left_behind integer")
    _release_pg_database(migrated_db)
    wait_for(lambda: not exists(migrated_db), what="the changed database to be dropped or renamed")
    for _ in range(_PG_STOCK.DEPTH + 2):
        name = next_migrated(migrated_db)
        with connect(name) as conn:
            columns = {r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'contacts'")}
        assert "left_behind" not in columns
        _release_pg_database(name)
