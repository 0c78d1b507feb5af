"""Engine and session factory. The edge (request, CLI command, job) owns the transaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

#: A pooled connection idle longer than this (seconds) is tested with a ``SELECT 1`` before it
#: is handed out; one used more recently is handed out as it is.
IDLE_PING_SECONDS = 10.0
#: How much of a SQLite file is read through mmap; beyond it, ordinary reads (200,000 complaints
#: with their search index are about 200 MB).
MMAP_BYTES = 256 * 1024 * 1024


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Several worker threads write: wait for the lock instead of failing at once.
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # We issue BEGIN ourselves (below), so pysqlite must not.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")      # readers don't block the writer
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Read the file through memory-mapped pages (shared by every connection, held by the
            # OS) instead of a 2 MB page cache per connection: a word search with 200,000
            # complaints looks up ~25,000 rows and took twice as long without (bench/inbox.py).
            cur.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Connection) -> None:
            # Take the write lock at the start: a deferred transaction that later upgrades gets
            # SQLITE_BUSY at once in WAL mode instead of waiting out the busy timeout, and this
            # also serialises conversation handling the way FOR UPDATE does on PostgreSQL.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=10)
    ping_idle_connections(engine, IDLE_PING_SECONDS)
    return engine


def ping_idle_connections(engine: Engine, idle_seconds: float,
                          clock: Callable[[], float] = time.monotonic) -> None:
    """Test a pooled connection before handing it out, but only when it sat idle in the pool for
    more than ``idle_seconds``.

    ``pool_pre_ping`` tests every checkout: a round trip per transaction, five per message on the
    busy path, to catch what in practice happens to idle connections (the server restarted
    overnight, a firewall dropped a quiet connection). A connection that broke while in steady
    use fails its statement instead; SQLAlchemy then invalidates it and every older connection
    of the pool, and the caller's edge handles the error as any database fault: a request
    answers 503 and is retried by the provider or the page, a job is re-driven by the sweeper.
    """
    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = clock()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or clock() - since <= idle_seconds:
            return          # new, or in use moments ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out another (up to three times).
            raise DisconnectionError("idle connection failed its ping") from exc


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def postgresql_engine(sessions: sessionmaker[Session]) -> Engine | None:
    """The engine ``sessions`` are bound to when it is PostgreSQL's (the message path's
    statements that only PostgreSQL runs: bot/store/driver_sql.py), else None."""
    engine = sessions.kw.get("bind")
    return engine if isinstance(engine, Engine) and engine.dialect.name == "postgresql" else None


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
