"""The ``warga`` command line."""

from __future__ import annotations

import getpass
import os
import re
import secrets
import signal
import sys
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.cli.casework import complaints_group, conversations_group
from bot.cli.channels import channels_group
from bot.cli.nlu import nlu_group
from bot.cli.nlu_training import export_cmd  # noqa: F401  (registers export/import/models/... on nlu)
from bot.cli.support import settings_of, settings_with_local_secrets
from bot.cli.users import users_group
from bot.settings import ConfigError, Settings

if TYPE_CHECKING:
    from nlu.base import NluEngine

_MISSING_TABLE = re.compile(r"no such table|relation .* does not exist|UndefinedTable", re.I)


def _require_schema(settings: Settings) -> None:
    """Serving an unmigrated database would fail on the first message: say so at start-up."""
    from bot.store.engine import make_engine
    from bot.store.migrate import pending

    engine = make_engine(settings.database_url)
    try:
        if pending(engine):
            _fail("the database is not set up (or not up to date): run `warga db upgrade`")
    finally:
        engine.dispose()


def _start_rasa(settings: Settings, nlu: NluEngine | None = None) -> Any:
    """With nlu.engine rasa and nlu.rasa_autostart, run the Rasa server beside the gateway
    (never an external one, nlu.rasa_url: the city runs and trains that itself). It starts when
    its environment is installed (`make run` installs it in the background); each phase is
    printed, and ``nlu`` (this process's engine) switches to Rasa when it is ready."""
    if settings.nlu.engine != "rasa" or not settings.rasa_autostart or settings.nlu.external:
        return None
    from bot.runtime.rasa import start_supervisor

    return start_supervisor(settings, say=click.echo, nlu=nlu)


_settings = settings_of


def _fail(message: str) -> None:
    click.echo(f"warga: {message}", err=True)
    sys.exit(1)


class WargaGroup(click.Group):
    """Turns configuration and database errors into one line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _fail(str(exc))
        except (OperationalError, ProgrammingError) as exc:
            detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            if _MISSING_TABLE.search(detail):
                _fail("the database is not set up (or not up to date): run `warga db upgrade`")
            _fail(f"database unreachable: {detail}")


@click.group(cls=WargaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Configuration file (default: $WARGA_CONFIG, else the project's config.yml).")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """Warga: the city's chatbot gateway for complaints and public-service questions."""
    ctx.ensure_object(dict)["config"] = config


# -- serving -----------------------------------------------------------------------------
@cli.command()
@click.option("--host", default=None, help="Bind address (default: server.host).")
@click.option("--port", type=int, default=None, help="Port (default: server.port).")
@click.option("--telegram-polling", is_flag=True,
              help="Fetch Telegram updates by polling (no public URL needed; no webhook may be set).")
@click.pass_context
def run(ctx: click.Context, host: str | None, port: int | None, telegram_polling: bool) -> None:
    """Serve Warga with the development server (web chat at /, console at /console)."""
    settings = settings_with_local_secrets(ctx)
    _require_schema(settings)
    from bot.runtime import prepare_to_serve
    from bot.web.app import create_app

    app = create_app(settings)
    rt = app.extensions["warga"]
    supervisor = _start_rasa(settings, rt.nlu)
    prepare_to_serve(rt)
    poller = None
    if telegram_polling:
        from bot.pipeline.polling import TelegramPoller
        from channels.base import Polls

        pollable = next((c for c in rt.channels.values() if isinstance(c, Polls)), None)
        if pollable is None:
            _fail("--telegram-polling needs TELEGRAM_BOT_TOKEN and telegram in channels.enabled")
        assert pollable is not None
        poller = TelegramPoller(rt, pollable)
        poller.start()
    host = host or settings.server.host
    port = port or settings.server.port
    click.echo(f"Warga is running on http://{host}:{port}  (web chat: /, staff console: /console)")
    # A service manager stops us with SIGTERM: leave through `finally`, so the Rasa server we
    # started (in its own session) and the workers are stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    finally:
        if poller is not None:
            poller.stop()
        rt.close()
        if supervisor is not None:
            supervisor.stop()


@cli.command()
@click.option("--host", default=None, help="Bind address (default: server.host).")
@click.option("--port", type=int, default=None, help="Port (default: server.port).")
@click.option("--workers", type=int, default=None, help="Worker processes (default: server.workers).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve Warga with gunicorn (production)."""
    settings = settings_with_local_secrets(ctx)
    _require_schema(settings)
    from gunicorn.app.base import BaseApplication

    from bot.pipeline.metrics import use_shared_dir

    use_shared_dir(settings.var_dir)      # /metrics adds up every worker process's counts

    from bot.web.app import create_app

    n = workers or settings.server.workers
    if settings.database_url.startswith("sqlite") and n > 1:
        # SQLite has no row locks across processes: one process with threads keeps order.
        click.echo("warga: SQLite database: serving with 1 process (use PostgreSQL for more)", err=True)
        n = 1

    from bot.web.server import WaitressWorker, request_threads

    class _Worker(WaitressWorker):
        # waitress refuses (413) bodies past twice the app's largest limit (a web chat photo
        # with its fields) before buffering them; the app answers 413 itself over its limits.
        max_body_bytes = 2 * (settings.server.max_photo_kb + settings.server.max_request_kb) * 1024

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host or settings.server.host}:{port or settings.server.port}")
            self.cfg.set("workers", n)
            # waitress reads whole requests before a thread sees them: slow clients cannot
            # hold the threads (bot/web/server.py); access lines come from it, without queries.
            self.cfg.set("worker_class", _Worker)
            self.cfg.set("threads", request_threads(settings))
            self.cfg.set("timeout", 60)

        def load(self) -> Any:
            # Built in each worker after the fork: threads and connections don't survive fork.
            from bot.runtime import prepare_to_serve

            app = create_app(settings)
            prepare_to_serve(app.extensions["warga"])
            return app

    supervisor = _start_rasa(settings)
    try:
        _App().run()
    finally:
        if supervisor is not None:
            supervisor.stop()


@cli.command()
@click.option("--burst", is_flag=True, help="Run queued jobs and exit.")
@click.pass_context
def worker(ctx: click.Context, burst: bool) -> None:
    """Run background jobs from Redis (only with queue.backend: redis)."""
    settings = settings_with_local_secrets(ctx)
    if settings.queue.backend != "redis":
        _fail("queue.backend is 'thread': the web process runs the work itself; no worker needed")
    import time

    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from rq import SimpleWorker

    from bot.pipeline.metrics import use_shared_dir
    from bot.pipeline.queue import RedisQueue, start_sweeper, worker_runtime

    use_shared_dir(settings.var_dir)      # the web processes' /metrics include this worker's counts
    from bot.runtime import prepare_to_serve

    rt = worker_runtime()
    prepare_to_serve(rt)
    assert isinstance(rt.queue, RedisQueue)
    sweeper, stop = start_sweeper(rt.queue, settings.queue.sweep_seconds)
    backoff = 1.0
    try:
        while True:
            # SimpleWorker runs jobs in this process: RQ's default worker forks a child per job,
            # and a child inheriting this process's database pool, sweeper thread and loaded
            # model deadlocked on shared connections and locks.
            try:
                SimpleWorker([rt.queue.q], connection=rt.queue.redis).work(burst=burst)
                break
            except (RedisConnectionError, RedisTimeoutError) as exc:
                if burst:
                    raise
                # Redis away: wait and come back, never exit for good.
                click.echo(f"warga: Redis unavailable ({exc}); retrying in {backoff:g} s", err=True)
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
    finally:
        stop.set()
        sweeper.join(timeout=10)


@cli.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check configuration, database, Redis, NLU/Rasa and channels; print what to fix."""
    from bot.runtime.doctor import run_checks

    checks = run_checks(settings_of(ctx))
    for c in checks:
        click.echo(f"{'FAIL' if not c.ok else 'WARN' if c.warning else 'ok  '}  {c.name}: {c.detail}")
        if (not c.ok or c.warning) and c.fix:
            click.echo(f"      fix: {c.fix}")
    failed = [c for c in checks if not c.ok]
    warned = sum(c.ok and c.warning for c in checks)
    also = f"; {warned} warning(s)" if warned else ""
    click.echo(f"{len(failed)} problem(s) found{also}" if failed else
               f"everything works{also}" if warned else "everything looks right")
    sys.exit(1 if failed else 0)


# -- database ----------------------------------------------------------------------------
@cli.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate the database to the newest schema."""
    settings = settings_with_local_secrets(ctx)
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    from bot.store.engine import make_session_factory
    from bot.training.store import ensure_seeded
    from nlu.training_data import TrainingDataError

    try:
        added = ensure_seeded(make_session_factory(engine), settings.nlu.data_dir)   # NLU data, first time only
    except TrainingDataError as exc:
        added = 0   # the schema is up to date; the data can be imported later (`warga nlu import`)
        click.echo(f"warga: training data not loaded from {settings.nlu.data_dir}: {exc}", err=True)
    engine.dispose()
    click.echo("database is up to date" + (f" (training data: {added} examples from {settings.nlu.data_dir})"
                                            if added else ""))


# -- chat --------------------------------------------------------------------------------
@cli.command()
@click.option("--as", "who", default=None, help="A name for this terminal citizen (keeps the conversation).")
@click.pass_context
def chat(ctx: click.Context, who: str | None) -> None:
    """Talk to the bot in the terminal (the same dialogue as every channel)."""
    settings = _settings(ctx)
    from bot.runtime import build_runtime
    from bot.runtime.logs import configure_logging
    from channels.terminal import TerminalChannel

    configure_logging("ERROR")  # keep the terminal for the conversation
    terminal = TerminalChannel(lambda s: click.echo(f"warga> {s}"))
    # Inline: each line is answered before the next prompt.
    rt = build_runtime(settings, channels={"terminal": terminal}, inline=True)
    who = who or getpass.getuser()
    click.echo("Type a message (Ctrl-D to quit).")
    try:
        while True:
            try:
                text = input("you> ")
            except EOFError:
                break
            rt.receiver.receive(terminal, TerminalChannel.request_for(text, who))
    finally:
        rt.close()


# -- demo --------------------------------------------------------------------------------
@cli.group()
def demo() -> None:
    """Demo data."""


@demo.command("load")
@click.option("--if-empty", is_flag=True, help="Only when the database has no complaints yet.")
@click.pass_context
def demo_load(ctx: click.Context, if_empty: bool) -> None:
    """Load demo complaints and an admin account (admin / printed password).

    The password is printed once; `warga users set-password admin` sets a new one.
    """
    settings = _settings(ctx)
    from bot.casework.demo import load_demo
    from bot.store.engine import make_engine, make_session_factory
    from bot.store.models import Complaint, StaffUser

    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        if if_empty and s.scalar(select(func.count()).select_from(Complaint)):
            click.echo("demo data not loaded: the database already has complaints")
            return
        password = os.environ.get("WARGA_DEMO_PASSWORD") or secrets.token_urlsafe(9)
        had_admin = s.scalar(select(StaffUser.id).where(StaffUser.username == "admin")) is not None
        created = load_demo(s, settings, password)
    if had_admin:
        # The existing admin keeps its password: printing the new one would be a lie.
        click.echo(f"loaded {created} demo complaints; the admin account already existed "
                   "(`warga users set-password admin` sets a new password)")
    else:
        click.echo(f"loaded {created} demo complaints; console login: admin / {password}")
        click.echo("(printed only now; `warga users set-password admin` sets a new one)")


cli.add_command(users_group)
cli.add_command(nlu_group)
cli.add_command(complaints_group)
cli.add_command(conversations_group)
cli.add_command(channels_group)


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()
