"""`warga doctor`: one line per check, what to fix under each failure, exit status 1 on any.

Real services where the check talks to one: SQLite and PostgreSQL, the fake Bot API for the
Telegram channel, Redis db 12, and a closed port standing in for a Rasa server that is down.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from tests.conftest import make_settings, migrate, trained_models_dir
from tests.fakes.fake_rasa import FakeRasa
from tests.fakes.fake_telegram import FakeTelegram
from tests.providers import PUBLIC_URL, SECRET, TOKEN
from tests.support import free_port

HOOK = PUBLIC_URL + "/webhooks/telegram"
REDIS_DB12 = "redis://127.0.0.1:6379/12"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as tg:
        yield tg


def doctor(fake: FakeTelegram, db_url: str, tmp_path: Path, **env: str | None) -> Result:
    base: dict[str, str | None] = {
        "WARGA_CONFIG": None, "WARGA_DATABASE_URL": db_url, "WARGA_NLU_ENGINE": "sklearn",
        "WARGA_NLU_MODELS_DIR": str(trained_models_dir()), "WARGA_NLU_RASA_AUTOSTART": "false",
        "WARGA_CHANNELS_ENABLED": "web,telegram", "WARGA_STORAGE_MEDIA_DIR": str(tmp_path / "media"),
        "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET, "WARGA_PUBLIC_URL": PUBLIC_URL,
        "WARGA_CHANNELS_TELEGRAM_API_URL": fake.url, "WARGA_CHANNELS_SEND_TIMEOUT": "3"}
    base.update(env)
    return CliRunner().invoke(cli, ["doctor"], env=base, obj={})


def lines(result: Result) -> dict[str, str]:
    """Check name → its line (and the fix line after a failure)."""
    out: dict[str, str] = {}
    name = ""
    for line in result.stdout.splitlines():
        if line.startswith(("ok  ", "FAIL", "WARN")):
            name = line[6:].split(":", 1)[0]
            out[name] = line
        elif line.strip().startswith("fix:") and name:
            out[name] += "\n" + line
    return out


def test_a_healthy_installation_passes(fake: FakeTelegram, db_url: str, tmp_path: Path) -> None:
    migrate(db_url)
    fake.webhook.update({"url": HOOK, "secret_token": SECRET})
    result = doctor(fake, db_url, tmp_path)
    assert result.exit_code == 0, result.output
    checks = lines(result)
    assert checks["database"].startswith("ok  ")
    assert checks["channel telegram"].startswith("ok  ") and HOOK in checks["channel telegram"]
    assert checks["channel web"].startswith("ok  ")
    assert result.stdout.rstrip().endswith("everything looks right")


def test_problems_are_named_with_their_fix_and_exit_1(fake: FakeTelegram, db_url: str, tmp_path: Path) -> None:
    # Not migrated, and no webhook registered with Telegram.
    result = doctor(fake, db_url, tmp_path)
    assert result.exit_code == 1, result.output
    checks = lines(result)
    assert checks["database"].startswith("FAIL") and "run `warga db upgrade`" in checks["database"]
    assert checks["channel telegram"].startswith("FAIL")
    assert "no webhook registered" in checks["channel telegram"]
    assert "warga channels set-webhook telegram" in checks["channel telegram"]
    assert result.stdout.rstrip().endswith("2 problem(s) found")


def test_a_webhook_pointing_elsewhere_or_failing(fake: FakeTelegram, sqlite_url: str, tmp_path: Path) -> None:
    migrate(sqlite_url)
    fake.webhook.update({"url": "https://old.example.org/webhooks/telegram"})
    checks = lines(doctor(fake, sqlite_url, tmp_path))
    assert "not " + HOOK in checks["channel telegram"]
    fake.webhook.update({"url": HOOK})
    fake.webhook_info_extra = {"last_error_message": "Connection timed out", "last_error_date": 1764370000}
    result = doctor(fake, sqlite_url, tmp_path)
    assert result.exit_code == 1
    assert "Connection timed out" in lines(result)["channel telegram"]


def test_a_refused_token_and_missing_credentials(fake: FakeTelegram, sqlite_url: str, tmp_path: Path) -> None:
    migrate(sqlite_url)
    result = doctor(fake, sqlite_url, tmp_path, TELEGRAM_BOT_TOKEN="999:WRONG")
    assert result.exit_code == 1
    assert "check the token" in lines(result)["channel telegram"]
    result = doctor(fake, sqlite_url, tmp_path, WARGA_CHANNELS_ENABLED="web,sms", TWILIO_ACCOUNT_SID=None,
                    TWILIO_AUTH_TOKEN=None)
    assert result.exit_code == 1
    assert lines(result)["channel sms"].startswith("FAIL")


def test_redis_without_workers_and_rasa_down(fake: FakeTelegram, sqlite_url: str, tmp_path: Path) -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_DB12).flushdb()
    except redis.RedisError as exc:  # pragma: no cover - the test machine runs Redis
        pytest.fail(f"Redis is needed: {exc}")
    migrate(sqlite_url)
    fake.webhook.update({"url": HOOK})
    result = doctor(fake, sqlite_url, tmp_path, WARGA_QUEUE_BACKEND="redis", WARGA_QUEUE_REDIS_URL=REDIS_DB12,
                    WARGA_NLU_ENGINE="rasa", WARGA_NLU_RASA_PORT=str(free_port()))
    assert result.exit_code == 1
    checks = lines(result)
    assert "no `warga worker` is running" in checks["redis"]
    assert checks["rasa server"].startswith("FAIL") and "warga nlu serve" in checks["rasa server"]
    assert checks["channel telegram"].startswith("ok  ")


def test_an_external_rasa_server_its_token_and_its_unmapped_intents(fake: FakeTelegram, sqlite_url: str,
                                                                     tmp_path: Path) -> None:
    migrate(sqlite_url)
    fake.webhook.update({"url": HOOK, "secret_token": SECRET})
    with FakeRasa(token="their-token", intents=["lapor_jalan", "cuaca", "greet", "nlu_fallback"]) as rasa:
        config = tmp_path / "config.yml"
        # intent_map is file only: a copy of the project's file with the city's server and map.
        text = (Path(__file__).resolve().parents[2] / "config.yml").read_text(encoding="utf-8")
        config.write_text(text.replace("  intent_map: {}", "  intent_map: {lapor_jalan: report_road_damage}"),
                          encoding="utf-8")
        env = {"WARGA_CONFIG": str(config), "WARGA_NLU_ENGINE": "rasa", "WARGA_NLU_RASA_URL": rasa.url}

        result = doctor(fake, sqlite_url, tmp_path, WARGA_NLU_RASA_TOKEN="their-token", **env)
        assert result.exit_code == 0, result.output     # a warning is not a problem
        checks = lines(result)
        assert checks["rasa server (external)"].startswith("ok  ") and rasa.url in checks["rasa server (external)"]
        assert checks["rasa intents"].startswith("WARN") and "1 of 3 intents" in checks["rasa intents"]
        assert "cuaca" in checks["rasa intents"] and "lapor_jalan" not in checks["rasa intents"]
        assert "nlu.intent_map" in checks["rasa intents"]
        assert result.stdout.rstrip().endswith("everything works; 1 warning(s)")

        result = doctor(fake, sqlite_url, tmp_path, WARGA_NLU_RASA_TOKEN="stale", **env)
        assert result.exit_code == 1
        line = lines(result)["rasa server (external)"]
        assert line.startswith("FAIL") and "token rejected" in line and "set WARGA_NLU_RASA_TOKEN" in line
        assert "stale" not in result.output

        rasa.model = False
        line = lines(doctor(fake, sqlite_url, tmp_path, WARGA_NLU_RASA_TOKEN="their-token", **env))[
            "rasa server (external)"]
        assert "no model loaded" in line and "load a model into your server" in line

    line = lines(doctor(fake, sqlite_url, tmp_path, WARGA_NLU_RASA_TOKEN="their-token", **env))[
        "rasa server (external)"]
    assert line.startswith("FAIL") and "nlu.rasa_url" in line and "sklearn engine answers" in line


def test_readiness_says_what_is_wrong_with_the_external_rasa(sqlite_url: str, tmp_path: Path) -> None:
    from bot.web.app import create_app

    migrate(sqlite_url)
    with FakeRasa(token="their-token") as rasa:
        for token, expected in (("stale", "token rejected"), ("their-token", "ok")):
            settings = make_settings(sqlite_url, tmp_path, env={"WARGA_NLU_RASA_TOKEN": token},
                                     overrides={"nlu.engine": "rasa", "nlu.rasa_url": rasa.url})
            app = create_app(settings, start_workers=False)
            body = app.test_client().get("/readyz")
            # Ready either way: the sklearn engine answers while the city's server cannot.
            assert body.status_code == 200
            rasa_check = body.get_json()["checks"]["rasa"]
            if expected == "ok":
                assert rasa_check == "ok"
            else:
                assert expected in rasa_check and rasa.url in rasa_check, rasa_check
                assert "sklearn engine is answering" in rasa_check and "set WARGA_NLU_RASA_TOKEN" in rasa_check
                assert token not in rasa_check
