"""`warga doctor`: check an installation the way it will run, and say what to fix.

Each check reads, never changes: the settings (already valid when this runs), the database and
its migrations, Redis and its workers (redis backend), the NLU model or the Rasa server, and
each enabled channel's credentials and webhook registration, through the channel protocols
(``ManagesWebhook``), so no provider is named here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bot.runtime.channels import one_channel
from bot.settings import Settings
from bot.store.engine import make_engine, ping
from bot.store.migrate import pending
from channels.base import DeclaresWebhooks, ManagesWebhook, SendError


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one check.

    Attributes:
        name: What was checked ("database", "channel telegram", ...).
        ok: False when something is wrong.
        detail: What was found.
        fix: What to do about it (empty when nothing).
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order an operator fixes things."""
    checks: list[Check] = [Check("configuration", True, f"valid; channels: {', '.join(settings.channels_enabled)}")]
    for check in (_database, _redis, _nlu, _channels):
        checks.extend(check(settings))
    return checks


def _database(settings: Settings) -> Iterator[Check]:
    engine = make_engine(settings.database_url)
    try:
        ping(engine)
        if pending(engine):
            yield Check("database", False, "reachable; migrations pending", "run `warga db upgrade`")
        else:
            yield Check("database", True, "reachable; schema up to date")
    except SQLAlchemyError as exc:
        yield Check("database", False, f"unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                    "start the database or fix database.url / WARGA_DATABASE_URL")
    finally:
        engine.dispose()


def _redis(settings: Settings) -> Iterator[Check]:
    if settings.queue.backend != "redis":
        return
    from redis import Redis
    from redis.exceptions import RedisError
    from rq import Queue, Worker

    client = Redis.from_url(settings.queue.redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
        workers = len(Worker.all(connection=client))
        queued = Queue("warga", connection=client).count
    except RedisError as exc:
        yield Check("redis", False, f"unreachable at {settings.queue.redis_url}: {exc}",
                    "start Redis or fix queue.redis_url")
        return
    finally:
        client.close()
    if workers == 0:
        yield Check("redis", False, f"reachable; no `warga worker` is running; {queued} jobs queued",
                    "start at least one `warga worker` (nothing is answered without one)")
    else:
        yield Check("redis", True, f"reachable; {workers} worker(s); {queued} jobs queued")


def _nlu(settings: Settings) -> Iterator[Check]:
    nlu = settings.nlu
    model = nlu.sklearn_models_dir
    if model.is_dir() and any(model.iterdir()):
        yield Check("nlu model", True, f"sklearn model in {model}")
    else:
        yield Check("nlu model", False, f"no sklearn model in {model}",
                    "run `warga nlu train` (otherwise the first start trains one)")
    if nlu.engine != "rasa":
        return
    import requests

    url = f"{nlu.rasa_url}/status"
    try:
        status = requests.get(url, params={"token": nlu.rasa_token} if nlu.rasa_token else None, timeout=3)
    except requests.RequestException as exc:
        fix = ("it is started with `warga run`/`warga serve` (nlu.rasa_autostart); check its log"
               if settings.rasa_autostart else "start it with `warga nlu serve`")
        yield Check("rasa server", False, f"unreachable at {nlu.rasa_url} ({type(exc).__name__}); "
                    "the sklearn engine answers meanwhile", fix)
        return
    if status.status_code == 200:
        yield Check("rasa server", True, f"{nlu.rasa_url}: model loaded")
    elif status.status_code == 409:
        yield Check("rasa server", False, f"{nlu.rasa_url}: running without a model", "run `warga nlu train`")
    elif status.status_code in (401, 403):
        yield Check("rasa server", False, f"{nlu.rasa_url}: refused our token",
                    "the server was started with another token (WARGA_RASA_TOKEN / var/rasa-token)")
    else:
        yield Check("rasa server", False, f"{nlu.rasa_url}: answered {status.status_code}", "check its log")


def _channels(settings: Settings) -> Iterator[Check]:
    for name in settings.channels_enabled:
        yield _channel(settings, name)


def _channel(settings: Settings, name: str) -> Check:
    label = f"channel {name}"
    try:
        channel = one_channel(settings, name)
    except ValueError as exc:
        return Check(label, False, str(exc), "set the credentials named above (README: the channel's set-up)")
    if not isinstance(channel, ManagesWebhook):
        hooks = channel.webhook_routes() if isinstance(channel, DeclaresWebhooks) else ()
        inbound = next((r.path for r in hooks if r.kind == "inbound"), None)
        where = f"; its webhook is set in the provider's console: {settings.secrets.public_url}{inbound}" \
            if inbound else ""
        return Check(label, True, f"credentials present (not checkable without sending){where}")
    try:
        return _managed(settings, name, channel)
    finally:
        channel.close()


def _managed(settings: Settings, name: str, channel: ManagesWebhook) -> Check:
    label = f"channel {name}"
    try:
        _bot_id, username = channel.get_me()
    except SendError as exc:
        return Check(label, False, f"credentials: the provider refused: {exc.reason}", "check the token")
    try:
        info = channel.get_webhook_info()
    except SendError as exc:
        return Check(label, False, f"webhook state: the provider refused: {exc.reason}",
                     "retry; check the provider's status")
    routes = channel.webhook_routes() if isinstance(channel, DeclaresWebhooks) else ()
    path = next((r.path for r in routes if r.kind == "inbound"), "")
    expected = f"{settings.secrets.public_url}{path}" if settings.secrets.public_url else ""
    who = f"@{username}"
    if not info.url:
        return Check(label, False, f"{who}; no webhook registered (updates only by polling)",
                     f"run `warga channels set-webhook {name}`, or serve with `warga run --telegram-polling`")
    if expected and info.url != expected:
        return Check(label, False, f"{who}; webhook points at {info.url}, not {expected}",
                     f"run `warga channels set-webhook {name}`")
    if info.last_error_message:
        return Check(label, False, f"{who}; webhook {info.url}; the provider's last delivery failed: "
                     f"{info.last_error_message}; {info.pending_update_count} updates pending",
                     "make the public URL reachable from the internet (TLS, proxy, firewall)")
    return Check(label, True, f"{who}; webhook {info.url}; {info.pending_update_count} updates pending")
