"""Shared fixtures: a real database (SQLite and PostgreSQL), settings, the app with workers."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.browser import page  # noqa: F401  (the `page` fixture: Chromium for browser tests)
from tests.pg_databases import (
    create_pg_database,
    drop_orphan_pg_databases,
    pg_unavailable,
    release_pg_database,
    run_migrations,
    swap_in_migrated,
)
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


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return pg_unavailable()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_reason: str | None) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warga.db'}"
        return
    if pg_reason:
        pytest.skip(pg_reason)
    name, url = create_pg_database()
    try:
        yield url
    finally:
        release_pg_database(name)


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
    if not hasattr(config, "workerinput") and pg_unavailable() is None:
        drop_orphan_pg_databases()


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and pg_unavailable() is None:
        drop_orphan_pg_databases()


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


#: One migrated SQLite database per test process, copied for every test that wants a migrated
#: database: running the migrations takes about a second, a copy a few milliseconds (PostgreSQL's
#: counterpart is in tests/pg_databases.py). Built by the real migrations, so never stale.
_TEMPLATES: dict[str, str] = {}


def _sqlite_template() -> Path:
    if "sqlite" not in _TEMPLATES:
        import atexit
        import shutil
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="warga-template-"))
        atexit.register(shutil.rmtree, folder, True)
        run_migrations(f"sqlite:///{folder / 'template.db'}")
        _TEMPLATES["sqlite"] = str(folder / "template.db")
    return Path(_TEMPLATES["sqlite"])


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
    elif parsed.get_backend_name() == "postgresql" and parsed.database and swap_in_migrated(parsed.database):
        return
    run_migrations(url)


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
