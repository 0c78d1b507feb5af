"""``warga nlu export|import|models|activate|rollback`` and ``warga nlu train --from-db``:
the training data and the model registry in the database (bot/training)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import Engine

from bot.cli.nlu import _edge, nlu_group
from bot.cli.support import settings_of
from bot.settings import Settings
from bot.store.engine import make_engine, make_session_factory
from bot.training.registry import Registry
from bot.training.store import Actor, TrainingInputError, TrainingStore, ensure_seeded
from nlu.training_reader import load_training_data

CLI = Actor("cli")


def _open(ctx: click.Context) -> tuple[Settings, Engine]:
    settings = settings_of(ctx)
    return settings, make_engine(settings.database_url)


@nlu_group.command("export")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory to write nlu.yml into (default: print it).")
@click.pass_context
@_edge
def export_cmd(ctx: click.Context, out_dir: Path | None) -> None:
    """Write the database's training data as Rasa YAML (both splits, one file)."""
    settings, engine = _open(ctx)
    try:
        sessions = make_session_factory(engine)
        ensure_seeded(sessions, settings.nlu.data_dir)
        with sessions() as s:
            data = TrainingStore(s).snapshot()
    finally:
        engine.dispose()
    text = data.to_yaml()
    if out_dir is None:
        click.echo(text, nl=False)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "nlu.yml").write_text(text, encoding="utf-8")
    click.echo(f"{out_dir / 'nlu.yml'}: {len(data.examples)} examples, {len(data.intents)} intents")


@nlu_group.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.pass_context
@_edge
def import_cmd(ctx: click.Context, path: Path) -> None:
    """Add a Rasa YAML file's (or directory's) training data to the database; all or nothing."""
    settings, engine = _open(ctx)
    try:
        sessions = make_session_factory(engine)
        ensure_seeded(sessions, settings.nlu.data_dir)
        data = load_training_data(path)
        with sessions() as s, s.begin():
            added = TrainingStore(s).import_data(data, CLI)
    finally:
        engine.dispose()
    click.echo(f"{path}: {added} new examples ({len(data.examples) - added} already there)")


@nlu_group.command("models")
@click.pass_context
@_edge
def models_cmd(ctx: click.Context) -> None:
    """List the trained versions with their held-out scores."""
    _, engine = _open(ctx)
    try:
        with make_session_factory(engine)() as s:
            rows = Registry(s).versions()
            for m in rows:
                scores = (f"accuracy {m.accuracy:.3f} macro-F1 {m.macro_f1:.3f}"
                          if m.accuracy is not None and m.macro_f1 is not None else "")
                why = m.refusal_reason or m.error or ""
                click.echo(f"{m.version:<34} {m.status:<9} {scores} {why}".rstrip())
    finally:
        engine.dispose()
    if not rows:
        click.echo("no trained versions yet: `warga nlu train --from-db` or Latih in the console")


@nlu_group.command("activate")
@click.argument("version")
@click.option("--override", "reason", default="", help="Why a version the gate refused goes live anyway.")
@click.pass_context
@_edge
def activate_cmd(ctx: click.Context, version: str, reason: str) -> None:
    """Make VERSION the active model; every running process switches to it."""
    _run_registry(ctx, lambda reg: reg.activate(version, CLI, override_reason=reason).version)


@nlu_group.command("rollback")
@click.pass_context
@_edge
def rollback_cmd(ctx: click.Context) -> None:
    """Go back to the version active before the current one."""
    _run_registry(ctx, lambda reg: reg.rollback(CLI) or "the installation's own model")


def _run_registry(ctx: click.Context, action: object) -> None:
    settings, engine = _open(ctx)
    try:
        with make_session_factory(engine)() as s, s.begin():
            try:
                now = action(Registry(s))  # type: ignore[operator]
            except TrainingInputError as exc:
                click.echo(f"error: {exc}", err=True)
                sys.exit(1)
        from bot.training.live import announce

        announce(settings)
    finally:
        engine.dispose()
    click.echo(f"active: {now}")


def train_from_db(ctx: click.Context) -> None:
    """``warga nlu train --from-db``: train into the registry here, wait, print the verdict."""
    from bot.training.jobs import request_training, run_training

    settings, engine = _open(ctx)
    try:
        sessions = make_session_factory(engine)
        try:
            version = request_training(sessions, settings, CLI, start=False)
        except TrainingInputError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        with sessions() as s:
            row = Registry(s).get(version)
            assert row is not None
            model_id = row.id
        click.echo(f"training {version} (held-out scoring and cross-validation take a while)...")
        status = run_training(sessions, settings, model_id)
        with sessions() as s:
            row = Registry(s).get(version)
            assert row is not None
            click.echo(row.log.rstrip())
            click.echo(f"{version}: {status}" + (f" ({row.refusal_reason or row.error})"
                                                 if status != "trained" else
                                                 f"; activate it with `warga nlu activate {version}`"))
    finally:
        engine.dispose()
    if status == "failed":
        sys.exit(1)
