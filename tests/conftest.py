"""Shared fixtures: a real database (SQLite and PostgreSQL), settings, the app with workers."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.browser import page  # noqa: F401  (the `page` fixture: Chromium for browser tests)
from tests.support import PROJECT

# Loopback traffic must never go through a proxy (fake providers, Rasa, PostgreSQL).
for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(filter(None, [os.environ.get(_var, ""), "127.0.0.1", "localhost"]))

_real_getaddrinfo = socket.getaddrinfo


def _loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host not in ("127.0.0.1", "localhost", "::1", b"127.0.0.1", b"localhost"):
        raise OSError(f"a test tried to resolve {host!r}: tests must only talk to 127.0.0.1")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolving any real host name fails loudly, in the app's threads too: no test may reach a
    real provider (subprocesses such as the Rasa server bind and talk to 127.0.0.1 only)."""
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_only)


PG_ADMIN_URL = os.environ.get("WARGA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # any failure means "no server here": say why in the skip
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return _pg_available()


def _pg_url(name: str) -> str:
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://")


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
        """Empty ``name`` for the next test: which stock it joins, or None (dropped)."""
        import psycopg

        _disconnect_pg(name)
        with psycopg.connect(_pg_url(name).replace("+psycopg", ""), autocommit=True) as conn:
            shape = _pg_schema_shape(conn)
            if not shape and not _pg_has_objects(conn):
                return "empty"
            if "postgresql" in _TEMPLATES and shape == _pg_template_shape():
                tables = [r[0] for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
                conn.execute("TRUNCATE {} RESTART IDENTITY CASCADE".format(", ".join(f'"{t}"' for t in tables)))
                return "migrated"
        _drop_pg_database(name)
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
            names = [n for kind in self._stock.values() for n in kind] + self._returned
            self._active.clear()
        for name in names:
            _drop_pg_database(name)


_PG_STOCK = _PgStock()


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


def _drop_orphan_pg_databases() -> None:
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
        if found and int(found.group(1)) == here and not _process_alive(int(found.group(2))):
            _drop_pg_database(name)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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

        with psycopg.connect(_pg_url(_TEMPLATES["postgresql"]).replace("+psycopg", "")) as conn:
            _PG_TEMPLATE_SHAPE.append(_pg_schema_shape(conn))
    return _PG_TEMPLATE_SHAPE[0]


def _create_pg_database() -> tuple[str, str]:
    name = _PG_STOCK.take("empty")
    return name, _pg_url(name)


def _release_pg_database(name: str) -> None:
    """The test is done with ``name`` (it may still have sessions open: they are ended)."""
    _PG_STOCK.give_back(name)


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_reason: str | None) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warga.db'}"
        return
    if pg_reason:
        pytest.skip(pg_reason)
    name, url = _create_pg_database()
    try:
        yield url
    finally:
        _release_pg_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'warga.db'}"


_MODELS: dict[str, Path] = {}


def session_cache() -> Path:
    """A folder shared by every process of one test run: the pytest-xdist workers and the
    processes tests start inherit ``TEST_CACHE_WARGA`` from the process that made it (which
    removes it at the end), so what is costly to build is built once per run, not per process."""
    if "TEST_CACHE_WARGA" not in os.environ:
        import atexit
        import shutil
        import tempfile

        os.environ["TEST_CACHE_WARGA"] = folder = tempfile.mkdtemp(prefix="warga-test-cache-")
        atexit.register(shutil.rmtree, folder, True)
    return Path(os.environ["TEST_CACHE_WARGA"])


@contextlib.contextmanager
def cache_lock(name: str) -> Iterator[Path]:
    """Hold an exclusive lock on ``session_cache() / name`` across processes; yields the path."""
    from bot.file_lock import exclusive

    path = session_cache() / name
    with exclusive(path.with_name(path.name + ".lock")):
        yield path


def pytest_configure(config: pytest.Config) -> None:
    session_cache()     # made before pytest-xdist starts its workers, so they share it
    if not hasattr(config, "workerinput") and _pg_available() is None:
        _drop_orphan_pg_databases()


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and _pg_available() is None:
        _drop_orphan_pg_databases()


def trained_models_dir() -> Path:
    """The sklearn model trained once per test run from the project's data (seconds), shared
    by every test process and every process the tests start."""
    if "dir" not in _MODELS:
        from nlu.config import NluConfig
        from nlu.factory import build_sklearn_engine

        with cache_lock("sklearn-models") as directory:
            if not (directory / ".trained").exists():
                build_sklearn_engine(NluConfig(engine="sklearn", data_dir=PROJECT / "nlu" / "data",
                                               models_dir=directory))
                (directory / ".trained").touch()
        _MODELS["dir"] = directory
    return _MODELS["dir"]


def make_settings(db_url: str, tmp_path: Path, env: dict[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Any:
    """Test settings on ``db_url``; ``env`` is the process environment, ``overrides`` dotted
    settings keys ("tickets.prefix") over the test defaults."""
    from bot.settings import load_settings

    base: dict[str, Any] = {
        "database.url": db_url,
        "nlu.engine": "sklearn",
        "nlu.models_dir": str(trained_models_dir()),
        "nlu.rasa_autostart": False,
        "storage.media_dir": str(tmp_path / "media"),
        "queue.sweep_seconds": 0.2,
        "queue.stall_seconds": 0.5,
        "queue.threads": 2,
        "outbox.first_retry_seconds": 0.05,
        "server.chat_reply_wait_seconds": 10,
        "channels.enabled": ["web"],
        # Tests never reach the internet: the console's map draws no tiles (its marker, the
        # coordinates and the "buka di peta" link still show).
        "console.map_tile_url": "",
        # Test clients poll the chat API many times a second from one address; the limits have
        # their own tests (tests/bot/test_rate_limits.py).
        "security.chat_per_sender_per_minute": 100_000,
        "security.chat_per_address_per_minute": 100_000,
    }
    base.update(overrides or {})
    return load_settings(PROJECT / "config.yml", env=env or {}, overrides=base)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Any:
    return make_settings(db_url, tmp_path)


def _run_migrations(url: str) -> None:
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


#: One migrated database of each kind per test process, copied for every test that wants a
#: migrated database: running the migrations takes about a second, a copy a few milliseconds
#: (SQLite) or a fraction of that (PostgreSQL's CREATE DATABASE … TEMPLATE). The templates are
#: built by the real migrations at the start of each session, so they are never stale.
_TEMPLATES: dict[str, str] = {}


def _sqlite_template() -> Path:
    if "sqlite" not in _TEMPLATES:
        import atexit
        import shutil
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="warga-template-"))
        atexit.register(shutil.rmtree, folder, True)
        _run_migrations(f"sqlite:///{folder / 'template.db'}")
        _TEMPLATES["sqlite"] = str(folder / "template.db")
    return Path(_TEMPLATES["sqlite"])


def _pg_template() -> str:
    if "postgresql" not in _TEMPLATES:
        import atexit

        name, url = _create_pg_database()
        atexit.register(_drop_pg_database, name)
        _run_migrations(url)
        _TEMPLATES["postgresql"] = name
        # Read now, before any copy: CREATE DATABASE … TEMPLATE fails while anyone is connected.
        _pg_template_shape()
    return _TEMPLATES["postgresql"]


def _pg_is_empty(name: str) -> bool:
    import psycopg

    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
    return row is not None and row[0] == 0


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema: a copy of the session's template
    when the database is new and empty, the migrations themselves otherwise."""
    import shutil

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        target = Path(parsed.database)
        if not target.exists() or target.stat().st_size == 0:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_sqlite_template(), target)
            return
    elif parsed.get_backend_name() == "postgresql" and parsed.database and \
            parsed.database.startswith("warga_test_") and _pg_is_empty(parsed.database):
        import psycopg

        _pg_template()
        copy = _PG_STOCK.take("migrated")
        spare = _new_pg_name()      # the empty database goes back to the stock under a new name
        _disconnect_pg(parsed.database)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{parsed.database}" RENAME TO "{spare}"')
            conn.execute(f'ALTER DATABASE "{copy}" RENAME TO "{parsed.database}"')
        _PG_STOCK.give_back(spare)
        return
    _run_migrations(url)


@pytest.fixture
def app(settings: Any) -> Iterator[Any]:
    """The real app, migrated database, background workers running."""
    from bot.web.app import create_app

    migrate(settings.database_url)
    application = create_app(settings)
    application.testing = True
    try:
        yield application
    finally:
        application.extensions["warga"].close()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


#: Files that take minutes (Rasa trainings, real processes under load). pytest-xdist hands out
#: work in collection order when ``--no-loadscope-reorder`` is given, so these go first then.
#: `make test` keeps xdist's default (the files with the most tests first): measured, it was
#: faster, because all the slow files at once overload two cores.
SLOW_FIRST = ("rasa", "faults", "slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank: dict[str, int] = {}
    for item in items:
        path = item.nodeid.split("::")[0]
        for i, name in enumerate(SLOW_FIRST):     # Rasa trainings are the longest: first of all
            if item.get_closest_marker(name):
                rank[path] = min(rank.get(path, i), i)
    # Stable: the order within a file, and among files of one rank, is kept.
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(SLOW_FIRST)))


def rasa_test_files() -> frozenset[str]:
    """The test files that use a real Rasa server (they mark tests `rasa`), as node ids name them."""
    return frozenset(str(path.relative_to(PROJECT)) for path in (PROJECT / "tests").rglob("test_*.py")
                     if "mark.rasa" in path.read_text(encoding="utf-8"))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, except that every file using Rasa goes to one process: the session's
    Rasa server starts and its model trains once per run, not once in each process (about a
    minute of both cores each). pytest-xdist's own ``loadgroup`` cannot do this with pytest 9
    (it renames node ids through an attribute pytest 9 no longer reads)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling  # type: ignore[import-untyped]

    together = rasa_test_files()

    class RasaTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "rasa" if path in together else path

    return RasaTogether(config, log)
