"""What every `warga` command module shares."""

from __future__ import annotations

import click

from bot.settings import Settings, ensure_local_secrets, load_settings


def settings_of(ctx: click.Context) -> Settings:
    """The validated settings, loaded once per command from ``--config`` (or the default)."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings(obj.get("config"))
    return obj["settings"]


def settings_with_local_secrets(ctx: click.Context) -> Settings:
    """The settings, after creating var/secret-key and var/rasa-token when they are missing.

    Only the commands that set up or start an installation call this (db upgrade, run, serve,
    worker, nlu serve): every process started after them reads the same files.
    """
    obj = ctx.ensure_object(dict)
    obj["settings"] = ensure_local_secrets(settings_of(ctx))
    return obj["settings"]
