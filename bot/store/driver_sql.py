"""Prebuilt statements run on PostgreSQL's driver (psycopg) cursor, past SQLAlchemy's executor.

Under load SQLAlchemy's per-statement work (execution context, parameter construction, result
set-up, the cursor description it reads: psycopg builds a column object for each) cost more
CPU than psycopg and the database together on the hot path of a message: about 200 µs a
statement, a third of the server's CPU. A :class:`DriverStatement` is compiled once at import,
and each run hands the SQL string and the parameters to psycopg's cursor, converting values
with the column types' own bind and result processors (the same conversions SQLAlchemy would
apply: JSON encoded, UTC datetimes checked and returned in UTC). It runs inside whatever
transaction the SQLAlchemy connection is in.

Other databases (SQLite) run the same statement through SQLAlchemy: the rows have the same
values, so callers need not know which way it went.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.crud import REQUIRED
from sqlalchemy.types import TypeDecorator

_DIALECT = PGDialect_psycopg()
Processor = Callable[[Any], Any]


class DriverStatement:
    """One statement, compiled for psycopg once; run with :meth:`rows` or :meth:`first`.

    Parameters are those of the statement's ``bindparam`` names; binds the statement fixes
    itself (``values(status="processed")``, ``limit(1)``) keep their compiled values.
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = cast(Executable, statement)
        compiled = cast(SQLCompiler, statement.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True}))
        if compiled.positiontup:
            raise ValueError("DriverStatement needs named parameters")
        if compiled.insert_prefetch:
            # SQLAlchemy's execution would compute these columns' Python-side defaults; here
            # nothing would, so the statement must give them.
            raise ValueError(f"no value for {', '.join(c.key for c in compiled.insert_prefetch)}")
        self.sql = compiled.string
        # The statement's own values; a bind it leaves to the caller is missing until given.
        self._fixed = {k: v for k, v in compiled.construct_params(_check=False).items() if v is not REQUIRED}
        # (one processor per bind: no tuple-valued binds here)
        self._binds = cast(dict[str, Processor], dict(compiled._bind_processors))
        # psycopg returns what SQLAlchemy's psycopg dialect returns for the standard types
        # (JSON decoded, floats, booleans); the project's own types convert further (UTC for
        # datetimes a session in another time zone returns in its zone).
        self._results = tuple((i, column[3]) for i, column in enumerate(compiled._result_columns)
                              if isinstance(column[3], TypeDecorator))
        self.returns_rows = bool(compiled._result_columns)

    def _params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        params = {**self._fixed, **given}
        for name, process in self._binds.items():
            if name in params:
                params[name] = process(params[name])
        return params

    def _row(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        if not self._results:
            return row
        values = list(row)
        for i, type_ in self._results:
            values[i] = type_.process_result_value(values[i], _DIALECT)
        return tuple(values)

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run it once; the rows it returns (none for a statement without RETURNING).

        In the transaction the caller began on ``conn`` (a session's), or in
        :func:`autocommit`: psycopg would otherwise open a transaction SQLAlchemy does not know
        of, which its ``commit()`` would not commit."""
        if conn.dialect.name != "postgresql":
            result = conn.execute(self.statement, dict(params))
            return [tuple(r) for r in result] if result.returns_rows else []
        bound = self._params(params)
        with _as_sqlalchemy_errors(conn, self.sql, bound):
            cur = _cursor(conn)
            if not (conn.in_transaction() or cur.connection.autocommit):
                raise RuntimeError("a DriverStatement runs in a transaction begun on its connection")
            _announce(conn, cur, self.sql, bound, False)
            cur.execute(self.sql, bound)
            # (psycopg's cursor.description would build a column object per column)
            return [self._row(r) for r in cur.fetchall()] if self.returns_rows else []

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = self.rows(conn, params)
        return rows[0] if rows else None


@contextmanager
def _as_sqlalchemy_errors(conn: Connection, sql: str, params: Any) -> Iterator[None]:
    """psycopg's errors handled by SQLAlchemy's own handler, as for a statement it ran: raised
    as its DBAPIError (a lost connection is an infrastructure fault, not the message's:
    bot/pipeline/process.py), ``handle_error`` listeners told, and on a lost connection this one
    and every older one in the pool invalidated, so a restarted server costs one failed
    request, not one per pooled connection (bot/store/engine.py tests idle ones only).
    ``_handle_dbapi_exception`` is SQLAlchemy's private API (pinned below 2.2; tested)."""
    try:
        yield
    except psycopg.Error as exc:
        conn._handle_dbapi_exception(exc, sql, params, None, None)


def _announce(conn: Connection, cursor: Any, sql: str, params: Any, many: bool) -> None:
    # What watches SQLAlchemy's statements (bench/sql_profile.py, the tests that count round
    # trips) sees these too; with no listener this is an empty loop.
    for listener in conn.dispatch.before_cursor_execute:
        listener(conn, cursor, sql, params, None, many)


@contextmanager
def autocommit(conn: Connection) -> Iterator[Connection]:
    """``conn`` (PostgreSQL, no transaction begun) with each :class:`DriverStatement` committing
    itself: one round trip, no BEGIN or COMMIT. Cheaper than SQLAlchemy's AUTOCOMMIT isolation
    level, which is set at every checkout and reset at every return; psycopg's autocommit is a
    flag of the client."""
    if conn.in_transaction():
        raise RuntimeError("autocommit() on a connection in a transaction")
    driver = driver_connection(conn)
    driver.autocommit = True
    try:
        yield conn
    finally:
        try:
            if not driver.closed:
                driver.autocommit = False
        except psycopg.Error:
            # (busy after an interrupted statement) Never back to the pool in autocommit: the
            # next session's "transaction" would commit each statement and lose its row locks.
            conn.invalidate()


def _cursor(conn: Connection) -> Any:
    """The pooled connection's own cursor: a statement is run by one thread at a time on a
    connection (the pool's checkout), and opening a cursor for each cost a quarter of a short
    statement's CPU. Kept in the pool record's ``info`` with the psycopg connection it belongs
    to: a record whose connection was replaced (invalidated) gets a new one."""
    pooled = conn.connection
    driver: Any = pooled.driver_connection
    kept = pooled.info.get("warga_cursor")
    if kept is not None and kept[0] is driver and not kept[1].closed:
        return kept[1]
    cursor = driver.cursor()
    pooled.info["warga_cursor"] = (driver, cursor)
    return cursor


def driver_connection(conn: Connection) -> Any:
    """psycopg's connection under a SQLAlchemy one (in its transaction)."""
    return conn.connection.driver_connection
