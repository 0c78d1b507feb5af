"""The pool tests a connection only after it sat idle (bot/store/engine.py): a broken idle
connection is replaced unseen, and one that broke while in use fails once and is replaced."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from bot.store.engine import ping_idle_connections
from tests.pg_databases import PG_ADMIN_URL


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pooled(pg_reason: str | None) -> Iterator[tuple[Engine, Clock]]:
    if pg_reason:
        pytest.fail(pg_reason)   # about PostgreSQL's connections: never pass without it
    clock = Clock()
    engine = create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
                           pool_size=1, max_overflow=0)
    ping_idle_connections(engine, 10.0, clock)
    try:
        yield engine, clock
    finally:
        engine.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(pid: int) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        # With a timeout it returns once the backend has exited (PostgreSQL 14+).
        admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))


def test_a_connection_that_broke_while_idle_is_replaced_before_anyone_uses_it(pooled):
    engine, clock = pooled
    first = backend_pid(engine)
    terminate(first)
    clock.now += 11            # idle longer than the threshold: tested at checkout
    assert backend_pid(engine) != first


def test_a_connection_in_steady_use_is_handed_out_untested_and_replaced_after_one_failure(pooled):
    engine, clock = pooled
    first = backend_pid(engine)
    terminate(first)
    clock.now += 1             # used a moment ago: no test round trip
    with pytest.raises(OperationalError) as failed:
        backend_pid(engine)
    assert failed.value.connection_invalidated
    assert backend_pid(engine) not in (first, None)
