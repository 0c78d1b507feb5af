"""Fixtures of the channel tests in tests/bot/: fake providers, the app with every channel on.

* ``no_internet`` (autouse): resolving a real host name fails the test loudly.
* ``fakes``: a started fake Telegram Bot API and fake Twilio REST API on 127.0.0.1.
* ``provider_app`` / ``provider_client``: the real app (workers running) with web, telegram,
  sms and whatsapp on, pointed at ``fakes``, on a fresh database of each kind (``db_url``).
* ``shared_db``, ``make_world``, ``world``: one migrated database per module and kind, emptied
  before each test, and :class:`tests.bot.world.World` apps on it (migrating a fresh
  PostgreSQL database per case would cost seconds each).

The helpers these build on are plain modules: tests/providers.py and tests/bot/world.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.bot.world import World, WorldFactory, empty_database
from tests.conftest import migrate
from tests.fakes.fake_telegram import FakeTelegram
from tests.fakes.fake_twilio import FakeTwilio
from tests.pg_databases import create_pg_database, release_pg_database
from tests.providers import ACCOUNT_SID, AUTH_TOKEN, TOKEN, Fakes, provider_settings


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    tg = FakeTelegram(token=TOKEN)
    tw = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    tg.start()
    tw.start()
    try:
        yield Fakes(tg, tw)
    finally:
        tg.stop()
        tw.stop()


@pytest.fixture
def provider_app(db_url: str, tmp_path: Path, fakes: Fakes) -> Iterator[Flask]:
    from bot.web.app import create_app

    settings = provider_settings(db_url, tmp_path, fakes)
    migrate(settings.database_url)
    app = create_app(settings)
    app.testing = True
    try:
        yield app
    finally:
        app.extensions["warga"].close()


@pytest.fixture
def provider_client(provider_app: Flask) -> FlaskClient:
    return provider_app.test_client()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
              pg_reason: str | None) -> Iterator[str]:
    """One migrated database per test module and kind; emptied before each test."""
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'warga.db'}"
    else:
        if pg_reason:
            pytest.skip(pg_reason)
        name, url = create_pg_database()
    migrate(url)
    try:
        yield url
    finally:
        if name:
            release_pg_database(name)


@pytest.fixture
def make_world(shared_db: str, tmp_path: Path, fakes: Fakes) -> Iterator[WorldFactory]:
    empty_database(shared_db)
    factory = WorldFactory(shared_db, tmp_path, fakes)
    try:
        yield factory
    finally:
        for world in factory.built:
            world.rt.close()


@pytest.fixture
def world(make_world: WorldFactory) -> World:
    """The app with web, telegram, sms and whatsapp on, pointed at the fake providers."""
    return make_world()
