"""Statements run on psycopg's cursor (bot/store/driver_sql.py) store and return what
SQLAlchemy's executor would, on both databases: JSON encoded and decoded, datetimes in UTC
whatever the session's time zone, errors raised as
SQLAlchemy's, and the statements visible to SQLAlchemy's statement listeners. The turn's
conversation row (bot/store/conversation_rows.py) is the ORM's conversation, field for field."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, bindparam, event, insert, select, text

from bot.store.conversation_rows import lock_conversation, set_contact_language
from bot.store.driver_sql import DriverStatement
from bot.store.engine import make_engine
from bot.store.models import Contact, ContactAddress, Conversation, Message
from tests.conftest import migrate
from tests.pg_databases import create_pg_database, release_pg_database

T0 = datetime(2026, 11, 29, 3, 4, 5, 600000, tzinfo=UTC)
_m = cast(Table, Message.__table__)
_INSERT = DriverStatement(
    insert(_m).values({c: bindparam(c) for c in ("conversation_id", "direction", "channel", "kind", "text", "buttons",
                                                 "media", "provider_answered", "parts_sent", "attempts", "status",
                                                 "created_at")})
    .returning(_m.c.id, _m.c.media, _m.c.parts_sent, _m.c.created_at))
_READ = DriverStatement(select(_m.c.text, _m.c.buttons, _m.c.created_at, _m.c.processed_at)
                        .where(_m.c.id == bindparam("b_id")))


@contextmanager
def _seeded(url: str) -> Iterator[Engine]:
    migrate(url)
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        # A city's server in its own time zone: psycopg returns its datetimes in that zone.
        event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute("SET TIME ZONE 'Asia/Jakarta'"))
    with engine.begin() as conn:
        conn.execute(insert(Contact).values(id=1, name="Siti", language="id", created_at=T0))
        conn.execute(insert(ContactAddress).values(id=1, contact_id=1, urn="web:siti", channel="web",
                                                   last_inbound_at=T0, created_at=T0))
        conn.execute(insert(Conversation).values(id=1, contact_id=1, address_id=1, channel="web",
                                                 state={"filing": None}, handover=False, created_at=T0,
                                                 updated_at=T0))
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    with _seeded(db_url) as engine:
        yield engine


@pytest.fixture
def pg_engine(pg_reason: str | None) -> Iterator[Engine]:
    if pg_reason:
        pytest.fail(pg_reason)   # about PostgreSQL's row locks: never pass without it
    name, url = create_pg_database()
    try:
        with _seeded(url) as engine:
            yield engine
    finally:
        release_pg_database(name)


def _reply(text_: str, **extra: Any) -> dict[str, Any]:
    return {"conversation_id": 1, "direction": "out", "channel": "web", "kind": "message", "text": text_,
            "buttons": [{"title": "Ya", "payload": "/yes"}], "media": [], "provider_answered": False,
            "parts_sent": 0, "attempts": 0, "status": "pending", "created_at": T0, **extra}


def test_values_go_in_and_come_out_as_sqlalchemy_stores_and_reads_them(engine: Engine) -> None:
    with engine.begin() as conn:
        [(msg_id, media, parts_sent, created_at)] = _INSERT.rows(conn, _reply("halo 'kak' %s"))
        row = _READ.first(conn, {"b_id": msg_id})
    assert media == [] and parts_sent == 0
    assert created_at == T0 and created_at.tzinfo == UTC
    assert row == ("halo 'kak' %s", [{"title": "Ya", "payload": "/yes"}], T0, None)
    assert row is not None and row[2].utcoffset() == timedelta(0)
    with engine.connect() as conn:
        stored = conn.execute(select(_m.c.text, _m.c.buttons, _m.c.created_at).where(_m.c.id == msg_id)).one()
    assert tuple(stored) == row[:3]


def test_a_naive_datetime_is_refused_and_stores_nothing(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as conn:
        _INSERT.rows(conn, _reply("x", created_at=T0.replace(tzinfo=None)))
    with engine.connect() as conn:
        assert conn.execute(select(_m.c.id)).all() == []


def test_statements_are_reported_to_sqlalchemy_listeners(engine: Engine) -> None:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *args: seen.append(sql.split()[0]))
    with engine.begin() as conn:
        [(msg_id, *_)] = _INSERT.rows(conn, _reply("halo"))
        _READ.rows(conn, {"b_id": msg_id})
    assert [s for s in seen if s != "BEGIN"] == ["INSERT", "SELECT"]    # SQLite's is BEGIN IMMEDIATE


def test_a_statement_runs_in_the_callers_transaction(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        _INSERT.rows(conn, _reply("halo"))
        raise RuntimeError("the turn failed")
    with engine.connect() as conn:
        assert conn.execute(select(_m.c.id)).all() == []


def test_an_insert_that_leaves_a_python_default_to_sqlalchemy_is_refused_at_build() -> None:
    contacts = cast(Table, Contact.__table__)
    with pytest.raises(ValueError, match="created_at"):
        DriverStatement(insert(contacts).values(name=bindparam("name")))


def test_the_locked_row_is_the_conversation_the_orm_loads(engine: Engine) -> None:
    from sqlalchemy.orm import Session

    with engine.begin() as conn:
        row = lock_conversation(conn, 1)
        set_contact_language(conn, 1, "en")
        assert lock_conversation(conn, 2) is None
    assert row is not None
    with Session(engine) as session:
        conv = session.get_one(Conversation, 1)
        for name in ("id", "contact_id", "channel", "language", "state", "handover", "handover_agency",
                     "updated_at"):
            assert getattr(row, name) == getattr(conv, name), name
        assert (row.contact.id, row.contact.name, row.contact.language) == (1, "Siti", "id")
        assert conv.contact.language == "en"
        assert (row.address.id, row.address.urn, row.address.last_inbound_at) == (1, "web:siti", T0)
        assert row.address.last_inbound_at is not None and row.address.last_inbound_at.tzinfo == UTC


def test_on_postgresql_the_lock_holds_the_conversation_not_its_messages(pg_engine: Engine) -> None:
    engine = pg_engine
    with engine.connect() as holder:
        holder.begin()
        assert lock_conversation(holder, 1) is not None
        with engine.connect() as other:
            other.execute(text("SET lock_timeout = '5s'"))
            other.commit()
            # A new message of the conversation is stored meanwhile (KEY SHARE on its row) ...
            with other.begin():
                _INSERT.rows(other, _reply("pesan baru"))
            # ... while a second worker's lock waits (and here gives up at once).
            other.execute(text("SET lock_timeout = '1ms'"))
            other.commit()
            with pytest.raises(Exception, match="lock"), other.begin():
                lock_conversation(other, 1)
        holder.rollback()


def test_a_refused_statement_raises_as_sqlalchemy_would(engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), engine.begin() as conn:
        _INSERT.rows(conn, _reply("halo", conversation_id=99))      # no such conversation
    with engine.connect() as conn:
        assert conn.execute(select(_m.c.id)).all() == []


def test_a_lost_server_costs_one_failure_not_one_per_pooled_connection(pg_engine: Engine) -> None:
    from sqlalchemy.exc import DBAPIError

    held = [pg_engine.connect() for _ in range(3)]         # three warm connections in the pool
    for conn in held:
        conn.execute(text("SELECT 1"))
        conn.close()
    with pg_engine.connect() as killer:                     # the server restarts (their backends end)
        killer.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    with pytest.raises(DBAPIError) as lost, pg_engine.begin() as conn:
        _READ.rows(conn, {"b_id": 1})
    assert lost.value.connection_invalidated
    # The pool threw the other old connections away too: the next turns succeed at once.
    for i in range(3):
        with pg_engine.begin() as conn:
            assert _INSERT.rows(conn, _reply(f"lagi {i}"))[0][0] > 0


def test_a_statement_outside_a_transaction_is_refused(pg_engine: Engine) -> None:
    from bot.store.driver_sql import autocommit

    with pg_engine.connect() as conn:
        with pytest.raises(RuntimeError, match="transaction"):
            _READ.rows(conn, {"b_id": 1})
        with autocommit(conn):
            _INSERT.rows(conn, _reply("sendiri"))            # commits itself
        conn.begin()
        with pytest.raises(RuntimeError, match="transaction"), autocommit(conn):
            pass
        conn.rollback()
    with pg_engine.connect() as other:
        assert other.execute(select(_m.c.text)).scalars().all() == ["sendiri"]
