"""What every `warga` command module shares."""

from __future__ import annotations

import click

from bot.settings import Settings, load_settings


def settings_of(ctx: click.Context) -> Settings:
    """The validated settings, loaded once per command from ``--config`` (or the default)."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings(obj.get("config"))
    return obj["settings"]
