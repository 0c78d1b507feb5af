"""The test run's PostgreSQL databases: a stock per test process, recycled between tests.

Plain functions and one stock object, used by the fixtures of tests/conftest.py and
tests/bot/conftest.py and by tests that need a database of their own (fault tests, fuzzing).
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from typing import Any

from bot.process_alive import process_alive

PG_ADMIN_URL = os.environ.get("WARGA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
#: The database this process migrated once (``"postgresql"``), copied by CREATE DATABASE … TEMPLATE
#: for every test that wants a migrated database: a fraction of a second instead of a second.
_TEMPLATES: dict[str, str] = {}


def pg_unavailable() -> str | None:
    """Why no PostgreSQL server can be used (None: one answers)."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # any failure means "no server here": say why in the skip
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"


def run_migrations(url: str) -> None:
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def pg_dsn(name: str) -> str:
    """A libpq address of database ``name`` on the test server."""
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def pg_url(name: str) -> str:
    """The SQLAlchemy URL of database ``name`` (what the app is configured with)."""
    return pg_dsn(name).replace("postgresql://", "postgresql+psycopg://")


class _PgStock:
    """PostgreSQL databases made ahead of need, and recycled, by a background thread of each
    test process.

    CREATE DATABASE waits about half a second for the disk, and DROP DATABASE forces a
    checkpoint: with four test processes writing, a test used to wait seconds for both. Here a
    test takes a database that exists (``empty``, or a ``migrated`` copy of the template that
    :func:`migrate` renames into place) and gives it back when done. A given-back database is
    emptied (TRUNCATE … RESTART IDENTITY leaves it as the migrations made it, without files to
    copy or a checkpoint) and renamed, so nothing that still knows its old name can reach the
    next test; one whose schema a test changed is dropped. What is left is dropped when the
    process exits.
    """

    DEPTH = 2

    def __init__(self) -> None:
        import threading

        self._cond = threading.Condition()
        self._make_lock = threading.Lock()     # one CREATE DATABASE at a time per process
        self._stock: dict[str, list[str]] = {"empty": [], "migrated": []}
        self._returned: list[str] = []
        # Databases a test changed the schema of: renamed out of the way and dropped at exit,
        # when DROP DATABASE's checkpoint is cheap (during the run it waited for every other
        # test's dirty pages: 46 s for one drop seen on a loaded 2-core machine).
        self._condemned: list[str] = []
        self._active: set[str] = set()
        self._busy = False         # the thread holds a database that is in no list
        self._closed = False
        self._thread: threading.Thread | None = None

    def take(self, kind: str) -> str:
        with self._cond:
            if kind not in self._active:
                self._active.add(kind)
                self._start()
            self._cond.notify_all()
            if self._stock[kind]:
                return self._stock[kind].pop(0)
        return self._make(kind)      # none ready yet: make one now rather than wait for the thread

    def give_back(self, name: str) -> None:
        """The test is done with ``name``: recycled in the background (or dropped at exit)."""
        with self._cond:
            self._start()
            self._returned.append(name)
            self._cond.notify_all()

    def _start(self) -> None:
        if self._thread is None:
            import atexit
            import threading

            atexit.register(self._drop_stock)
            self._thread = threading.Thread(target=self._fill, name="pg-stock", daemon=True)
            self._thread.start()

    def _next_job(self) -> tuple[str, str] | None:
        if self._returned:
            return "recycle", self._returned.pop(0)
        kind = next((k for k in sorted(self._active) if len(self._stock[k]) < self.DEPTH), None)
        return None if kind is None else ("make", kind)

    def _fill(self) -> None:
        while True:
            with self._cond:
                job = None
                while not self._closed and (job := self._next_job()) is None:
                    self._cond.wait()
                if job is None:
                    return
                self._busy = True
            try:
                self._do(*job)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _do(self, action: str, arg: str) -> None:
        if action == "make":
            try:
                name, kind = self._make(arg), arg
            except Exception:  # noqa: BLE001 - the server busy or away: tests make their own,
                with self._cond:   # and this thread goes on recycling what they give back
                    self._active.discard(arg)
                return
        else:
            try:
                recycled = self._recycle(arg)
                if recycled is None:
                    return
                name, kind = self._renamed(arg), recycled
            except Exception:  # noqa: BLE001 - not reusable: dropped
                with contextlib.suppress(Exception):
                    _drop_pg_database(arg)
                return
        with self._cond:
            self._stock[kind].append(name)

    def _make(self, kind: str) -> str:
        import psycopg

        name = _new_pg_name()
        template = f' TEMPLATE "{_TEMPLATES["postgresql"]}"' if kind == "migrated" else ""
        with self._make_lock, psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{template}')
        return name

    def _recycle(self, name: str) -> str | None:
        """Empty ``name`` for the next test: which stock it joins, or None (put aside under
        another name, dropped at exit)."""
        import psycopg

        _disconnect_pg(name)
        with psycopg.connect(pg_dsn(name), autocommit=True) as conn:
            shape = _pg_schema_shape(conn)
            if not shape and not _pg_has_objects(conn):
                return "empty"
            if "postgresql" in _TEMPLATES and shape == _pg_template_shape():
                tables = [r[0] for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
                conn.execute("TRUNCATE {} RESTART IDENTITY CASCADE".format(", ".join(f'"{t}"' for t in tables)))
                return "migrated"
        self._condemned.append(self._renamed(name))
        return None

    @staticmethod
    def _renamed(name: str) -> str:
        import psycopg

        new = _new_pg_name()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" RENAME TO "{new}"')
        return new

    def _drop_stock(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.wait_for(lambda: not self._busy, timeout=60)   # the one in the thread's hands
            names = [n for kind in self._stock.values() for n in kind] + self._returned + self._condemned
            self._active.clear()
        for name in names:
            _drop_pg_database(name)


PG_STOCK = _PgStock()


def _pid_namespace() -> int:
    """This machine's (or container's) process-id space: the same pid elsewhere is another process."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def _new_pg_name() -> str:
    """Names carry the test process's id and its pid namespace: what a killed process left
    behind is found by it, and only by runs on the same machine."""
    return f"warga_test_{_pid_namespace()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def drop_orphan_pg_databases() -> None:
    """Drop the test databases of test processes that are gone.

    Each process drops its own when it exits, but pytest-xdist may stop a worker that is still
    at it (on a loaded machine a DROP DATABASE waits seconds for its checkpoint). Run by the
    main process at the start and at the end of a run; a database whose process still runs (a
    worker finishing its clean-up, another test run) is left to it.
    """
    import re

    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'warga_test_%'")]
    here = _pid_namespace()
    for name in names:
        found = re.fullmatch(r"warga_test_(\d+)_(\d+)_[0-9a-f]+", name)
        if found and int(found.group(1)) == here and not process_alive(int(found.group(2))):
            _drop_pg_database(name)


def _disconnect_pg(name: str) -> None:
    """End every session still connected to ``name`` (a test's pool, a killed process's)."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))


def _pg_has_objects(conn: Any) -> bool:
    """Anything a test created outside tables (types, sequences, functions) in ``public``."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "        WHERE n.nspname = 'public') "
        "     + (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') AND t.typrelid = 0) "
        "     + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "        WHERE n.nspname = 'public')").fetchone()
    return bool(row and row[0])


#: What a database's schema is made of, to tell a recycled database from one a test changed:
#: every column (with type, default, nullability), index, constraint, trigger, view and
#: function of ``public``, and the Alembic revision.
_SCHEMA_SHAPE = """
SELECT md5(string_agg(item, E'\\n' ORDER BY item)) FROM (
  SELECT format('col %s.%s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                a.attnotnull, pg_get_expr(d.adbin, d.adrelid)) AS item
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT 'idx ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL SELECT format('con %s %s', conrelid::regclass, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT format('trg %s %s', tgrelid::regclass, tgname) FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
  UNION ALL SELECT format('rel %s %s', relname, relkind) FROM pg_class
   WHERE relnamespace = 'public'::regnamespace
  UNION ALL SELECT 'fn ' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
  UNION ALL SELECT 'rev ' || version_num FROM alembic_version
) AS parts
"""


def _pg_schema_shape(conn: Any) -> str | None:
    """A digest of the schema of ``public`` (None: no tables at all)."""
    has_version = conn.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL").fetchone()[0]
    if not has_version:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
        return None if not tables else "no alembic_version"
    row = conn.execute(_SCHEMA_SHAPE).fetchone()
    return str(row[0]) if row else ""


_PG_TEMPLATE_SHAPE: list[str | None] = []


def _pg_template_shape() -> str | None:
    if not _PG_TEMPLATE_SHAPE:
        import psycopg

        with psycopg.connect(pg_dsn(_TEMPLATES["postgresql"])) as conn:
            _PG_TEMPLATE_SHAPE.append(_pg_schema_shape(conn))
    return _PG_TEMPLATE_SHAPE[0]


def create_pg_database() -> tuple[str, str]:
    name = PG_STOCK.take("empty")
    return name, pg_url(name)


def release_pg_database(name: str) -> None:
    """The test is done with ``name`` (it may still have sessions open: they are ended)."""
    PG_STOCK.give_back(name)


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_template() -> str:
    if "postgresql" not in _TEMPLATES:
        import atexit

        name, url = create_pg_database()
        atexit.register(_drop_pg_database, name)
        run_migrations(url)
        _TEMPLATES["postgresql"] = name
        # Read now, before any copy: CREATE DATABASE … TEMPLATE fails while anyone is connected.
        _pg_template_shape()
    return _TEMPLATES["postgresql"]


def _pg_is_empty(name: str) -> bool:
    import psycopg

    with psycopg.connect(pg_dsn(name), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
    return row is not None and row[0] == 0


def swap_in_migrated(name: str) -> bool:
    """Give the new, empty test database ``name`` the newest schema by renaming a ready copy of
    the template into its place (its empty database goes back to the stock). False: ``name`` is
    not such a database, and the caller runs the migrations."""
    import psycopg

    if not name.startswith("warga_test_") or not _pg_is_empty(name):
        return False
    _pg_template()
    copy = PG_STOCK.take("migrated")
    spare = _new_pg_name()
    _disconnect_pg(name)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" RENAME TO "{spare}"')
        conn.execute(f'ALTER DATABASE "{copy}" RENAME TO "{name}"')
    PG_STOCK.give_back(spare)
    return True


def wait_until_blocked_on_a_lock(engine: Any, holder_pid: int) -> None:
    """Until a backend of ``engine``'s database other than ``holder_pid`` waits for a lock (the
    turn or request under test, blocked by the test's own transaction). Waits for the state,
    never for a time."""
    from sqlalchemy import text

    for _ in range(3000):
        with engine.connect() as conn:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> :holder"), {"holder": holder_pid}).scalar_one()
        if waiting:
            return
        threading.Event().wait(0.01)
    raise AssertionError("nothing waited for the lock the test holds")
