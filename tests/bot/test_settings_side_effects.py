"""Settings: loading writes nothing; the generated secrets are made by an explicit step."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from bot.settings import ConfigError, ensure_local_secrets, load_settings
from tests.bot.settings_files import set_key, write_config
from tests.conftest import trained_models_dir


# -- no side effects; generated secrets made by an explicit step -------------------------------
def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_loading_settings_writes_nothing(tmp_path):
    path = write_config(tmp_path / "etc")
    before = _files(tmp_path)
    s = load_settings(path, env={})
    load_settings(path, env={"WARGA_NLU_ENGINE": "rasa"})
    assert _files(tmp_path) == before
    assert not s.var_dir.exists()
    assert (s.secrets.secret_key, s.nlu.rasa_token) == ("", "")


def test_ensure_local_secrets_creates_them_once_and_loading_then_reads_them(tmp_path):
    path = write_config(tmp_path / "etc")
    made = ensure_local_secrets(load_settings(path, env={}))
    var = tmp_path / "etc" / "var"
    key, token = (var / "secret-key").read_text(), (var / "rasa-token").read_text()
    assert len(key) >= 24 and len(token) >= 24 and key != token
    assert {oct((var / n).stat().st_mode & 0o777) for n in ("secret-key", "rasa-token")} == {"0o600"}
    assert (made.secrets.secret_key, made.secrets.rasa_token, made.nlu.rasa_token) == (key, token, token)
    later = load_settings(path, env={})          # another process of the same installation
    assert (later.secrets.secret_key, later.nlu.rasa_token) == (key, token)
    assert ensure_local_secrets(later) == later  # nothing new to make
    assert (var / "secret-key").read_text() == key


def test_variables_win_over_generated_secrets_and_need_no_file(tmp_path):
    path = write_config(tmp_path / "etc")
    env = {"WARGA_SECRET_KEY": "from-env-key", "WARGA_RASA_TOKEN": "from-env-token"}
    s = ensure_local_secrets(load_settings(path, env=env))
    assert (s.secrets.secret_key, s.nlu.rasa_token) == ("from-env-key", "from-env-token")
    assert not (tmp_path / "etc" / "var").exists()


def test_ensure_local_secrets_names_the_variable_when_var_cannot_be_written(tmp_path):
    path = write_config(tmp_path / "etc")
    # Not writable even for root: var/ points into /proc.
    (tmp_path / "etc" / "var").symlink_to("/proc/self/no-such-directory/var")
    with pytest.raises(ConfigError, match="set WARGA_SECRET_KEY"):
        ensure_local_secrets(load_settings(path, env={}))


def test_an_app_built_without_secrets_writes_nothing_and_uses_a_process_key(tmp_path, caplog):
    from bot.web.app import create_app

    path = write_config(tmp_path / "etc", lambda d: d["nlu"].update(engine="sklearn"))
    settings = load_settings(path, env={}, overrides={
        "database.url": f"sqlite:///{tmp_path / 'warga.db'}", "nlu.rasa_autostart": False,
        "nlu.models_dir": str(trained_models_dir()), "channels.enabled": ["web"]})
    with caplog.at_level(logging.WARNING):
        app = create_app(settings, start_workers=False)
    try:
        assert app.secret_key and len(app.secret_key) >= 32
        assert not (tmp_path / "etc" / "var").exists()
        assert "WARGA_SECRET_KEY" in caplog.text
    finally:
        app.extensions["warga"].close()


def test_warga_db_upgrade_creates_the_secrets_next_to_the_config(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bot.cli import cli

    for name in list(os.environ):
        if name.startswith("WARGA_"):
            monkeypatch.delenv(name)
    path = write_config(tmp_path / "etc", lambda d: set_key(d, "database.url", "sqlite:///var/warga.db"))
    result = CliRunner().invoke(cli, ["--config", str(path), "db", "upgrade"])
    assert result.exit_code == 0, (result.output, result.exception)
    var = tmp_path / "etc" / "var"
    assert (var / "secret-key").is_file() and (var / "rasa-token").is_file()
    s = load_settings(path, env={})
    assert s.secrets.secret_key == (var / "secret-key").read_text()
