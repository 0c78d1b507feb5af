"""Rasa versions in the registry without a Rasa process: the live switch against a fake Rasa
HTTP API (the transport seam), a Rasa training that cannot run, an external server.

The real server's half (training, scoring, loading a model) is test_rasa_registry_live.py.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.store.engine import make_engine, make_session_factory
from bot.store.models import NluModel, StaffUser
from bot.training.jobs import request_training, run_training
from bot.training.live import LiveNlu
from bot.training.rasa_switch import active_rasa_model, server_lock
from bot.training.registry import Registry, active_model
from bot.training.store import Actor
from nlu.fallback import FallbackEngine
from nlu.rasa_engine import RasaEngine
from nlu.sklearn_engine import SklearnEngine, active_model_path, load_model
from tests.bot.staff_accounts import stored_hash
from tests.bot.training.data import PASSWORD, write_small_data
from tests.conftest import make_settings, migrate, trained_models_dir
from tests.support import wait_for

ADMIN = Actor("staff:admin")
INITIAL = "rasa-20261101-000000-initial.tar.gz"
VERSION = "20261129-080000-rasa"


class FakeRasa:
    """Rasa's HTTP API as far as the live switch uses it: /status names the loaded file, PUT
    /model loads one (held until ``release`` while ``hold`` is cleared), /model/parse answers."""

    def __init__(self) -> None:
        self.loaded: str | None = INITIAL
        self.up = True
        self.puts: list[str] = []
        self.release = threading.Event()
        self.release.set()
        self._lock = threading.Lock()

    def handler(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path
        if path == "/status":
            if self.loaded is None:
                return httpx.Response(409, json={"message": "no model"})
            return httpx.Response(200, json={"model_file": self.loaded, "model_id": "x"})
        if path == "/model" and request.method == "PUT":
            name = Path(json.loads(request.content)["model_file"]).name
            with self._lock:
                self.puts.append(name)
            self.release.wait(30)     # Rasa blocks while it loads
            self.loaded = name
            return httpx.Response(204)
        if path == "/model/parse":
            text = json.loads(request.content)["text"]
            return httpx.Response(200, json={"text": text, "intent": {"name": "greet", "confidence": 0.97},
                                              "intent_ranking": [{"name": "greet", "confidence": 0.97}],
                                              "entities": []})
        return httpx.Response(404)


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Any, Any, FakeRasa]]:
    migrate(sqlite_url)
    models = tmp_path / "models"
    (models / "rasa").mkdir(parents=True)
    (models / "rasa" / INITIAL).write_bytes(b"the installation's own model")   # the fake never reads it
    shutil.copytree(trained_models_dir() / "sklearn", models / "sklearn")
    settings = make_settings(sqlite_url, tmp_path, overrides={
        "nlu.engine": "rasa", "nlu.models_dir": str(models), "nlu.var_dir": str(tmp_path / "rasa-var"),
        "nlu.data_dir": str(write_small_data(tmp_path / "data")), "nlu.live_check_seconds": 3600})
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    # A Rasa version as a training job leaves it: its model file and its sklearn twin.
    registry = models / "registry"
    registry.mkdir()
    (registry / f"{VERSION}.tar.gz").write_bytes(b"a rasa model")
    installed = active_model_path(models / "sklearn")
    assert installed is not None
    model = load_model(installed)
    twin = registry / f"{VERSION}.pkl"
    twin.write_bytes(pickle.dumps(replace(model, info=replace(model.info, version=VERSION))))
    with sessions() as s, s.begin():
        s.add(NluModel(version=VERSION, engine="rasa", status="trained", trained_by="staff:admin",
                       model_path=str(registry / f"{VERSION}.tar.gz"), twin_path=str(twin), per_intent_f1={},
                       accuracy=0.9, macro_f1=0.9))
    yield settings, sessions, FakeRasa()
    engine.dispose()


def process(world: tuple[Any, Any, FakeRasa]) -> LiveNlu:
    """One gateway process's NLU, built as build_nlu builds it for nlu.engine rasa."""
    settings, sessions, fake = world
    local = SklearnEngine(settings.nlu.sklearn_models_dir)
    local.load()
    rasa = RasaEngine("http://127.0.0.1:5005", "token", timeout=2.0, transport=httpx.MockTransport(fake.handler))
    return LiveNlu(FallbackEngine(rasa, local), sessions, settings)


def activate(world: tuple[Any, Any, FakeRasa], version: str) -> None:
    with world[1]() as s, s.begin():
        Registry(s).activate(version, ADMIN)


def answered_by(live: LiveNlu) -> tuple[str, str]:
    parse = live.parse("halo selamat pagi")
    return parse.engine, parse.model_version


def test_processes_noticing_one_activation_load_the_model_once_and_the_twin_answers_meanwhile(world):
    fake = world[2]
    web, worker = process(world), process(world)
    assert answered_by(web) == ("rasa", "20261101-000000-initial")
    fake.release.clear()                         # the load takes its time
    activate(world, VERSION)
    web.check_now()
    worker.check_now()
    wait_for(lambda: fake.puts, 10, "one process to start loading")
    assert web.loading and worker.loading
    # Rasa is blocked by the load: the version's twin answers, labelled with the version.
    assert answered_by(web) == ("sklearn", VERSION) and answered_by(worker) == ("sklearn", VERSION)
    fake.release.set()
    wait_for(lambda: not web.loading and not worker.loading, 20, "both processes to serve through Rasa")
    assert fake.puts == [f"{VERSION}.tar.gz"]       # loaded once, not once per process
    assert answered_by(web) == ("rasa", VERSION) and answered_by(worker) == ("rasa", VERSION)
    web.close()
    worker.close()


def test_rasa_down_at_activation_the_twin_answers_until_it_is_back_and_loads_the_version(world):
    fake = world[2]
    live = process(world)
    fake.up = False
    activate(world, VERSION)
    assert live.check_now() == VERSION
    assert live.loading and answered_by(live) == ("sklearn", VERSION)
    fake.up = True                               # back, with the installation's own model

    def switched() -> bool:
        live.check_now()
        return not live.loading
    wait_for(switched, 20, "the process to load the version once Rasa is back")
    assert fake.puts == [f"{VERSION}.tar.gz"] and answered_by(live) == ("rasa", VERSION)
    live.close()


def test_a_restarted_server_is_brought_back_to_the_active_version_and_a_roll_back_reaches_it(world):
    fake = world[2]
    live = process(world)
    activate(world, VERSION)
    live.check_now()
    wait_for(lambda: not live.loading, 20, "the version to be loaded")
    fake.loaded = INITIAL                        # the server restarted: it starts with its own model
    live.check_now()
    wait_for(lambda: not live.loading and fake.loaded != INITIAL, 20, "the version to be loaded again")
    assert answered_by(live) == ("rasa", VERSION)
    with world[1]() as s, s.begin():
        assert Registry(s).rollback(ADMIN) is None     # back to the installation's own model
    assert live.check_now() is None
    wait_for(lambda: not live.loading, 20, "the installation's own model to be loaded")
    assert fake.puts == [f"{VERSION}.tar.gz", f"{VERSION}.tar.gz", INITIAL]
    assert answered_by(live) == ("rasa", "20261101-000000-initial")
    live.close()


def test_warga_own_server_starts_with_the_active_rasa_versions_model(world):
    settings = world[0]
    assert active_rasa_model(settings) is None                   # nothing active: the newest file
    activate(world, VERSION)
    model = active_rasa_model(settings)
    assert model == Path(settings.nlu.models_dir) / "registry" / f"{VERSION}.tar.gz"
    model.unlink()                                                # its file gone: the newest file
    assert active_rasa_model(settings) is None


def test_a_process_that_finds_the_server_lock_held_waits_and_does_not_load_again(world):
    """Another process is loading (it holds the server's lock); this one serves the twin and,
    once the lock is free and the model there, switches without a load of its own."""
    settings, _, fake = world
    live = process(world)
    activate(world, VERSION)
    with server_lock(settings.nlu.var_dir):
        live.check_now()
        assert live.loading and answered_by(live) == ("sklearn", VERSION)
        fake.loaded = f"{VERSION}.tar.gz"        # what the other process loaded
    wait_for(lambda: not live.loading, 20, "the process to find the version loaded")
    assert fake.puts == [] and answered_by(live) == ("rasa", VERSION)
    live.close()


@pytest.mark.parametrize("broken", ["rasa_venv", "rasa_config"])
def test_a_rasa_training_that_cannot_run_fails_with_the_reason_and_the_active_version_serves(world, tmp_path,
                                                                                             broken):
    settings, sessions, _ = world
    activate(world, VERSION)
    broken_settings = make_settings(settings.database_url, tmp_path, overrides={
        "nlu.engine": "rasa", "nlu.models_dir": str(settings.nlu.models_dir),
        "nlu.var_dir": str(settings.nlu.var_dir), "nlu.data_dir": str(settings.nlu.data_dir),
        f"nlu.{broken}": str(tmp_path / "missing")})
    version = request_training(sessions, broken_settings, ADMIN, start=False)
    with sessions() as s:
        row = Registry(s).get(version)
        assert row is not None and row.engine == "rasa"
        model_id = row.id
    assert run_training(sessions, broken_settings, model_id) == "failed"
    with sessions() as s:
        row = Registry(s).get(version)
        assert row is not None and row.status == "failed"
        expected = "Rasa is not installed" if broken == "rasa_venv" else "cannot read rasa config"
        assert expected in (row.error or "") and "sklearn twin trained" in row.log
        active = active_model(s)
        assert active is not None and active.version == VERSION
    assert not list(Path(settings.nlu.models_dir, "registry").glob(f"{version}*.tar.gz"))


def test_with_an_external_rasa_server_training_trains_the_sklearn_fallback_and_says_so(sqlite_url, tmp_path):
    migrate(sqlite_url)
    settings = make_settings(sqlite_url, tmp_path, overrides={
        "nlu.engine": "rasa", "nlu.rasa_url": "https://nlu.city.example", "nlu.models_dir": str(tmp_path / "m"),
        "nlu.data_dir": str(write_small_data(tmp_path / "data"))})
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    version = request_training(sessions, settings, ADMIN, start=False)
    with sessions() as s:
        row = Registry(s).get(version)
        assert row is not None and row.engine == "sklearn"
        assert "external Rasa server at https://nlu.city.example is trained where it runs" in row.log
    engine.dispose()


def sign_in_admin(app: Any) -> Any:
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    assert client.post("/console/login", data={"username": "admin", "password": PASSWORD,
                                               "csrf": token.group(1)}).status_code == 302
    return client


@pytest.mark.parametrize("server", ["own", "external"])
def test_the_console_shows_each_versions_engine_how_it_was_scored_and_what_training_trains(world, tmp_path,
                                                                                           server):
    from bot.web.app import create_app

    settings, sessions, _ = world
    if server == "external":
        settings = make_settings(settings.database_url, tmp_path, overrides={
            "nlu.engine": "rasa", "nlu.rasa_url": "https://nlu.city.example",
            "nlu.models_dir": str(settings.nlu.models_dir), "nlu.data_dir": str(settings.nlu.data_dir)})
    with sessions() as s, s.begin():
        row = Registry(s).get(VERSION)
        assert row is not None
        row.score_methods = {"heldout": "Rasa, held-out split (24 sentences) through a throw-away Rasa server",
                             "cv": "sklearn twin, 5-fold cross-validation of the train split"}
        s.add(StaffUser(username="admin", name="Admin", role="admin",
                        password_hash=stored_hash(PASSWORD)))
    app = create_app(settings)
    app.testing = True
    try:
        client = sign_in_admin(app)
        page = client.get("/console/nlu/models").get_data(as_text=True)
        assert re.search(rf'data-version="{VERSION}">\s*<td><a[^>]*>{VERSION}</a></td>\s*'
                         r'<td class="engine">rasa</td>', page)
        if server == "own":
            assert "kembaran sklearn-nya" in page and "Server Rasa eksternal" not in page
        else:
            assert "Server Rasa eksternal (https://nlu.city.example)" in page and "hanya melatih mesin cadangan" in page
        detail = client.get(f"/console/nlu/models/{VERSION}").get_data(as_text=True)
        assert "Cara penilaian" in detail and "uji: Rasa, held-out split (24 sentences) through a throw-away" in detail
        assert "validasi silang: sklearn twin, 5-fold" in detail
    finally:
        app.extensions["warga"].close()
