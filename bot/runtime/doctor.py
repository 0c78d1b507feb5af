"""`warga doctor`: check an installation the way it will run, and say what to fix.

Each check reads, never changes: the settings (already valid when this runs), the database and
its migrations, Redis and its workers (redis backend), the NLU model or the Rasa server, and
each enabled channel's credentials and webhook registration, through the channel protocols
(``ManagesWebhook``), so no provider is named here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from sqlalchemy.exc import SQLAlchemyError

from bot.runtime.channels import one_channel
from bot.runtime.rasa_env import FAILED, phase_file, read_phase
from bot.settings import Settings
from bot.store.engine import make_engine, ping
from bot.store.migrate import pending
from channels.base import DeclaresWebhooks, ManagesWebhook, SendError
from nlu.base import NluError
from nlu.factory import build_rasa_engine


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one check.

    Attributes:
        name: What was checked ("database", "channel telegram", ...).
        ok: False when something is wrong.
        detail: What was found.
        fix: What to do about it (empty when nothing).
        warning: It works, but not as well as it could (shown, not counted as a problem).
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False


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
    yield from _rasa(settings)


def _rasa(settings: Settings) -> Iterator[Check]:
    """Warga's own Rasa server, or the city's (nlu.rasa_url): reachable, a model loaded, our
    token accepted; for the city's, which of its model's intents Warga cannot act on."""
    nlu = settings.nlu
    url = nlu.rasa_base_url
    label = "rasa server (external)" if nlu.external else "rasa server"
    client = build_rasa_engine(replace(nlu, rasa_timeout=_RASA_CHECK_SECONDS))
    try:
        client.status()
        intents = client.model_intents() if nlu.external else ()
    except NluError as exc:
        yield Check(label, False, f"{url}: {exc}; the sklearn engine answers meanwhile", rasa_fix(settings, str(exc)))
        return
    finally:
        client.close()
    yield Check(label, True, f"{url}: model loaded, token accepted")
    if not nlu.external:
        return
    if not intents:
        yield Check("rasa intents", True, "the model does not list its intents (GET /domain is empty); "
                    "unmapped ones show as source_intent on messages not understood",
                    "train it with a domain listing its intents, or check nlu.intent_map by hand", warning=True)
        return
    unmapped = client.unmapped(intents)
    if unmapped:
        yield Check("rasa intents", True, f"{len(unmapped)} of {len(intents)} intents are not mapped and are read "
                    f"as not understood: {', '.join(unmapped)}",
                    "map them in nlu.intent_map (their name: a Warga intent) if Warga should act on them",
                    warning=True)
    else:
        yield Check("rasa intents", True, f"all {len(intents)} intents map to Warga's")


#: Seconds for each request of the check: long enough for a distant server, short for a dead one.
_RASA_CHECK_SECONDS = 5.0


def rasa_fix(settings: Settings, reason: str) -> str:
    """What to do about ``reason`` (a :class:`~nlu.rasa_engine.RasaEngine` error): doctor and /readyz."""
    nlu = settings.nlu
    if "token" in reason:
        return ("set WARGA_NLU_RASA_TOKEN to the token your server was started with (`rasa run -t`)"
                if nlu.external else
                "the server was started with another token (WARGA_NLU_RASA_TOKEN / var/rasa-token)")
    if "no model" in reason:
        return "load a model into your server" if nlu.external else "run `warga nlu train`"
    if nlu.external:
        return f"start your Rasa server with `rasa run --enable-api`, or fix nlu.rasa_url ({nlu.rasa_url})"
    if settings.rasa_autostart:
        phase = read_phase(phase_file(nlu.var_dir))
        if phase is not None and not phase.ready:
            # A running gateway is getting it ready (a fresh `make run` installs it first).
            if phase.name == FAILED:
                return f"the running gateway could not get Rasa ready: {phase.detail}"
            detail = f" ({phase.detail})" if phase.detail else ""
            return f"the running gateway's Rasa is {phase.name}{detail}; the sklearn engine answers until it is ready"
        return "it is started with `warga run`/`warga serve` (nlu.rasa_autostart); check its log"
    return "start it with `warga nlu serve`"


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
