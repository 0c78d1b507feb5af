"""``warga channels``: register and check provider webhooks."""

from __future__ import annotations

import sys

import click

from bot.cli.support import settings_of

from bot.runtime.channels import telegram_config
from channels.base import SendError
from channels.telegram import TelegramChannel


_settings = settings_of


def _telegram(ctx: click.Context) -> TelegramChannel:
    settings = _settings(ctx)
    try:
        cfg = telegram_config(settings)
    except ValueError as exc:
        click.echo(f"warga: {exc}", err=True)
        sys.exit(1)
    if cfg is None:
        click.echo("warga: TELEGRAM_BOT_TOKEN is not set", err=True)
        sys.exit(1)
    return TelegramChannel(cfg)


def _provider_call(fn):  # type: ignore[no-untyped-def]
    try:
        return fn()
    except SendError as exc:
        click.echo(f"warga: Telegram refused: {exc.reason}", err=True)
        sys.exit(1)


@click.group("channels")
def channels_group() -> None:
    """Provider set-up: webhooks and checks."""


@channels_group.command("set-webhook")
@click.argument("channel", type=click.Choice(["telegram"]))
@click.option("--url", default=None,
              help="Public https URL of /webhooks/telegram (default: $WARGA_PUBLIC_URL/webhooks/telegram).")
@click.option("--drop-pending", is_flag=True, help="Discard updates Telegram is still holding.")
@click.pass_context
def set_webhook(ctx: click.Context, channel: str, url: str | None, drop_pending: bool) -> None:
    """Register the webhook with the provider (with TELEGRAM_WEBHOOK_SECRET)."""
    settings = _settings(ctx)
    url = url or (settings.secrets.public_url + "/webhooks/telegram" if settings.secrets.public_url else None)
    if not url or not url.startswith("https://"):
        click.echo("warga: give --url https://.../webhooks/telegram (Telegram only calls https)", err=True)
        sys.exit(1)
    if not settings.secrets.telegram_webhook_secret:
        click.echo("warga: set TELEGRAM_WEBHOOK_SECRET first (the webhook refuses requests without it)", err=True)
        sys.exit(1)
    tg = _telegram(ctx)
    try:
        _provider_call(lambda: tg.set_webhook(url, drop_pending_updates=drop_pending))
        info = _provider_call(tg.get_webhook_info)
    finally:
        tg.close()
    click.echo(f"telegram webhook set to {info.url} ({info.pending_update_count} updates pending)")


@channels_group.command("delete-webhook")
@click.argument("channel", type=click.Choice(["telegram"]))
@click.pass_context
def delete_webhook(ctx: click.Context, channel: str) -> None:
    """Remove the webhook (needed before `warga run --telegram-polling`)."""
    tg = _telegram(ctx)
    try:
        _provider_call(tg.delete_webhook)
    finally:
        tg.close()
    click.echo("telegram webhook removed")


@channels_group.command("info")
@click.argument("channel", type=click.Choice(["telegram"]))
@click.pass_context
def info(ctx: click.Context, channel: str) -> None:
    """Show the bot and its webhook state (pending updates, last error)."""
    tg = _telegram(ctx)
    try:
        bot_id, username = _provider_call(tg.get_me)
        hook = _provider_call(tg.get_webhook_info)
    finally:
        tg.close()
    click.echo(f"bot @{username} (id {bot_id})")
    click.echo(f"webhook: {hook.url or '(none: polling)'}; pending updates: {hook.pending_update_count}")
    if hook.last_error_message:
        click.echo(f"last error: {hook.last_error_date} {hook.last_error_message}")
