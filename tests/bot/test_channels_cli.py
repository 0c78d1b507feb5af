"""`warga channels set-webhook|delete-webhook|info telegram` against the fake Bot API.

What a city's admin types: the webhook is registered with the secret, mistakes (http://, no
secret, no token, a token Telegram refuses) end with one line and exit status 1 before
anything is registered, and `info` shows what to watch (pending updates, the last error).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from tests.fakes.fake_telegram import FakeTelegram
from tests.providers import PUBLIC_URL, SECRET, TOKEN

HOOK = PUBLIC_URL + "/webhooks/telegram"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as tg:
        yield tg


def warga(fake: FakeTelegram, *args: str, **env: str | None) -> Result:
    base: dict[str, str | None] = {
        "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET, "WARGA_PUBLIC_URL": PUBLIC_URL,
        "WARGA_CHANNELS_TELEGRAM_API_URL": fake.url, "WARGA_CHANNELS_SEND_TIMEOUT": "3", "WARGA_CONFIG": None}
    base.update(env)
    return CliRunner().invoke(cli, list(args), env=base, obj={})


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_set_webhook_registers_the_url_and_the_secret(fake: FakeTelegram) -> None:
    result = warga(fake, "channels", "set-webhook", "telegram", "--url", HOOK)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"telegram webhook set to {HOOK} (0 updates pending)\n"
    assert fake.webhook["url"] == HOOK
    assert fake.webhook["secret_token"] == SECRET
    assert json.loads(fake.webhook["allowed_updates"]) == ["message", "edited_message", "channel_post",
                                                          "callback_query", "my_chat_member"]
    assert fake.webhook.get("drop_pending_updates") in (None, "false")


def test_set_webhook_defaults_to_the_public_url_and_can_drop_pending_updates(fake: FakeTelegram) -> None:
    result = warga(fake, "channels", "set-webhook", "telegram", "--drop-pending")
    assert result.exit_code == 0, result.output
    assert fake.webhook["url"] == HOOK and fake.webhook["secret_token"] == SECRET
    assert fake.webhook["drop_pending_updates"] == "true"


@pytest.mark.parametrize("args, env, words", [
    (["--url", "http://warga.example.go.id/webhooks/telegram"], {}, "https"),
    ([], {"WARGA_PUBLIC_URL": None}, "--url"),                                     # no URL at all
    (["--url", HOOK], {"TELEGRAM_WEBHOOK_SECRET": None}, "TELEGRAM_WEBHOOK_SECRET"),
    (["--url", HOOK], {"TELEGRAM_BOT_TOKEN": None}, "TELEGRAM_BOT_TOKEN"),
], ids=["http", "no-url", "no-secret", "no-token"])
def test_set_webhook_refuses_with_one_line(fake: FakeTelegram, args: list[str], env: dict[str, Any],
                                           words: str) -> None:
    line = one_line_error(warga(fake, "channels", "set-webhook", "telegram", *args, **env))
    assert line.startswith("warga: ") and words in line
    assert fake.requests == [] and fake.webhook == {}


def test_a_token_telegram_refuses_is_one_line(fake: FakeTelegram) -> None:
    line = one_line_error(warga(fake, "channels", "set-webhook", "telegram", "--url", HOOK,
                                TELEGRAM_BOT_TOKEN="999:not-the-bots-token"))
    assert line.startswith("warga: Telegram refused: ") and "token" in line
    assert fake.webhook == {}


def test_info_shows_pending_updates_and_the_last_error(fake: FakeTelegram) -> None:
    assert warga(fake, "channels", "set-webhook", "telegram", "--url", HOOK).exit_code == 0
    # What Telegram reports after our endpoint failed for a while (channel-pitfalls §3).
    fake.webhook_info_extra = {"pending_update_count": 42, "last_error_date": 1732780800,
                               "last_error_message": "Wrong response from the webhook: 502 Bad Gateway"}
    result = warga(fake, "channels", "info", "telegram")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "bot @warga_test_bot (id 123456)",
        f"webhook: {HOOK}; pending updates: 42",
        "last error: 2024-11-28 08:00:00+00:00 Wrong response from the webhook: 502 Bad Gateway"]


def test_info_without_a_webhook_says_polling(fake: FakeTelegram) -> None:
    result = warga(fake, "channels", "info", "telegram")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["bot @warga_test_bot (id 123456)",
                                          "webhook: (none: polling); pending updates: 0"]


def test_delete_webhook(fake: FakeTelegram) -> None:
    assert warga(fake, "channels", "set-webhook", "telegram", "--url", HOOK).exit_code == 0
    result = warga(fake, "channels", "delete-webhook", "telegram")
    assert result.exit_code == 0, result.output
    assert result.stdout == "telegram webhook removed\n"
    assert fake.webhook == {}
    assert [c.method for c in fake.calls()][-1] == "deleteWebhook"
