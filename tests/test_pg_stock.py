"""The test run's PostgreSQL databases (tests/pg_databases.py): a database a test gives back is
recycled only into what the next test expects, a database as the migrations made it, or an
empty one; anything else is dropped."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import migrate
from tests.pg_databases import PG_ADMIN_URL, PG_STOCK, create_pg_database, pg_dsn, pg_url, release_pg_database


def connect(name: str) -> psycopg.Connection:
    return psycopg.connect(pg_dsn(name), autocommit=True)


def exists(name: str) -> bool:
    with psycopg.connect(PG_ADMIN_URL) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


@pytest.fixture
def fresh_db(pg_reason: str | None) -> str:
    if pg_reason:
        pytest.skip(pg_reason)
    return create_pg_database()[0]


def test_a_filled_database_is_emptied_with_its_counters_reset(fresh_db: str) -> None:
    migrate(pg_url(fresh_db))
    with connect(fresh_db) as conn:
        conn.execute("INSERT INTO contacts (created_at) VALUES (now()), (now())")
    assert PG_STOCK._recycle(fresh_db) == "migrated"
    with connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM contacts").fetchone() == (0,)
        assert conn.execute("INSERT INTO contacts (created_at) VALUES (now()) RETURNING id").fetchone() == (1,)
    release_pg_database(fresh_db)


def test_a_database_whose_schema_a_test_changed_is_dropped(fresh_db: str) -> None:
    migrate(pg_url(fresh_db))
    with connect(fresh_db) as conn:
        conn.execute("ALTER TABLE contacts ADD COLUMN left_behind integer")
    assert PG_STOCK._recycle(fresh_db) is None
    assert not exists(fresh_db)


def test_an_unused_database_stays_empty_and_one_half_migrated_is_dropped(fresh_db: str) -> None:
    assert PG_STOCK._recycle(fresh_db) == "empty"
    with connect(fresh_db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('0001_initial_schema')")
    assert PG_STOCK._recycle(fresh_db) is None
    assert not exists(fresh_db)
