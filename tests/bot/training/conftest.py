"""The app of the retraining tests: a small training data set, the installation's own model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from bot.store.models import StaffUser
from tests.bot.staff_accounts import stored_hash
from tests.bot.training.data import PASSWORD, write_small_data
from tests.conftest import make_settings, migrate, trained_models_dir


@pytest.fixture
def app(sqlite_url: str, tmp_path: Any) -> Iterator[Any]:
    from bot.web.app import create_app

    settings = make_settings(sqlite_url, tmp_path, overrides={
        "nlu.data_dir": str(write_small_data(tmp_path / "data")),
        "nlu.models_dir": str(tmp_path / "models"),
        "nlu.live_check_seconds": 3600})          # this process switches when its admin activates
    # The process starts with the project's own model (the installation's), as `warga run` would.

    shutil.copytree(trained_models_dir() / "sklearn", tmp_path / "models" / "sklearn")
    migrate(sqlite_url)
    application = create_app(settings)
    application.testing = True
    with application.extensions["warga"].sessions() as s, s.begin():
        for name, role, agency in (("admin", "admin", None), ("sari", "supervisor", None),
                                   ("lukas", "staff", "Dinas Lingkungan Hidup")):
            s.add(StaffUser(username=name, name=name.title(), role=role, agency=agency,
                            password_hash=stored_hash(PASSWORD)))
    yield application
    application.extensions["warga"].close()
