"""``warga channels``: register and check provider webhooks."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import closing
from typing import Any

import click

from bot.cli.support import settings_of
from channels.base import DeclaresWebhooks, ManagesWebhook, SendError

_settings = settings_of
# The channels whose webhook is registered through the provider's API (Twilio's is set in
# its console); checked against ManagesWebhook when built.
MANAGED = ["telegram"]


def _admin(ctx: click.Context, name: str) -> ManagesWebhook:
    # Late: the bot.runtime package imports the whole application (pipeline, dialogue, NLU), which
    # every `warga` process would otherwise pay for at start-up.
    from bot.runtime.channels import one_channel

    try:
        channel = one_channel(_settings(ctx), name)
    except ValueError as exc:
        click.echo(f"warga: {exc}", err=True)
        sys.exit(1)
    if not isinstance(channel, ManagesWebhook):
        click.echo(f"warga: {name} webhooks are not managed through its API", err=True)
        sys.exit(1)
    return channel


def _provider_call(name: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except SendError as exc:
        click.echo(f"warga: {name.capitalize()} refused: {exc.reason}", err=True)
        sys.exit(1)


def _inbound_path(channel: object) -> str:
    routes = channel.webhook_routes() if isinstance(channel, DeclaresWebhooks) else ()
    return next((r.path for r in routes if r.kind == "inbound"), "")


@click.group("channels")
def channels_group() -> None:
    """Provider set-up: webhooks and checks."""


@channels_group.command("set-webhook")
@click.argument("channel", type=click.Choice(MANAGED))
@click.option("--url", default=None,
              help="Public https URL of /webhooks/telegram (default: $WARGA_PUBLIC_URL/webhooks/telegram).")
@click.option("--drop-pending", is_flag=True, help="Discard updates Telegram is still holding.")
@click.pass_context
def set_webhook(ctx: click.Context, channel: str, url: str | None, drop_pending: bool) -> None:
    """Register the webhook with the provider (with TELEGRAM_WEBHOOK_SECRET)."""
    settings = _settings(ctx)
    admin = _admin(ctx, channel)     # no provider call yet: the checks below come first
    path = _inbound_path(admin)
    url = url or (settings.secrets.public_url + path if settings.secrets.public_url else None)
    if not url or not url.startswith("https://"):
        click.echo(f"warga: give --url https://...{path} ({channel.capitalize()} only calls https)", err=True)
        sys.exit(1)
    if not settings.secrets.telegram_webhook_secret:
        click.echo("warga: set TELEGRAM_WEBHOOK_SECRET first (the webhook refuses requests without it)", err=True)
        sys.exit(1)
    with closing(admin):   # the connector's HTTP client and event loop
        _provider_call(channel, lambda: admin.set_webhook(url, drop_pending_updates=drop_pending))
        info = _provider_call(channel, admin.get_webhook_info)
    click.echo(f"{channel} webhook set to {info.url} ({info.pending_update_count} updates pending)")


@channels_group.command("delete-webhook")
@click.argument("channel", type=click.Choice(MANAGED))
@click.pass_context
def delete_webhook(ctx: click.Context, channel: str) -> None:
    """Remove the webhook (needed before `warga run --telegram-polling`)."""
    admin = _admin(ctx, channel)
    with closing(admin):   # the connector's HTTP client and event loop
        _provider_call(channel, admin.delete_webhook)
    click.echo(f"{channel} webhook removed")


@channels_group.command("info")
@click.argument("channel", type=click.Choice(MANAGED))
@click.pass_context
def info(ctx: click.Context, channel: str) -> None:
    """Show the bot and its webhook state (pending updates, last error)."""
    admin = _admin(ctx, channel)
    with closing(admin):   # the connector's HTTP client and event loop
        bot_id, username = _provider_call(channel, admin.get_me)
        hook = _provider_call(channel, admin.get_webhook_info)
    click.echo(f"bot @{username} (id {bot_id})")
    click.echo(f"webhook: {hook.url or '(none: polling)'}; pending updates: {hook.pending_update_count}")
    if hook.last_error_message:
        click.echo(f"last error: {hook.last_error_date} {hook.last_error_message}")
