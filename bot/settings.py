"""Settings: config.yml, overridden by WARGA_* environment variables, secrets from the environment.

A wrong setting fails at start-up with one :class:`ConfigError` line that names the key and what was
expected; the CLI prints it and exits 1.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from nlu.config import NluConfig, NluConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.yml"
KNOWN_CHANNELS = ("web", "telegram", "sms", "whatsapp")
# Keys that look like secrets are refused in the file: they must come from the environment.
_SECRET_KEY_RE = re.compile(r"(token|secret|password|auth)", re.I)


class ConfigError(Exception):
    """A setting is missing or wrong. The message is one line meant for the admin."""


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    max_request_kb: int = 256
    chat_reply_wait_seconds: float = 5.0
    log_level: str = "INFO"


@dataclass(frozen=True, slots=True)
class QueueSettings:
    backend: str = "thread"
    redis_url: str = "redis://127.0.0.1:6379/0"
    threads: int = 4
    sweep_seconds: float = 10.0
    stall_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    give_up_after_minutes: float = 60.0
    first_retry_seconds: float = 2.0
    max_retry_seconds: float = 300.0
    lease_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    enabled: tuple[str, ...] = ("web",)
    send_timeout: float = 10.0
    telegram_api_url: str = "https://api.telegram.org"
    twilio_api_url: str = ""
    twilio_media_origin: str = "https://api.twilio.com"
    whatsapp_templates: tuple[tuple[str, str], ...] = ()


NOTIFICATION_KINDS = ("status_changed", "staff_reply")


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    intent: str
    agency: str
    coordination_hours: float
    resolution_days: float


@dataclass(frozen=True, slots=True)
class ComplaintSettings:
    initial_status: str
    transitions: Mapping[str, tuple[str, ...]]
    reopen_days: float
    categories: tuple[Category, ...]

    def category(self, name: str) -> Category | None:
        return next((c for c in self.categories if c.name == name), None)

    def category_for_intent(self, intent: str | None) -> Category | None:
        return next((c for c in self.categories if c.intent == intent), None)


@dataclass(frozen=True, slots=True)
class Secrets:
    """Values only ever read from the environment."""

    secret_key: str = ""
    telegram_bot_token: str = ""
    telegram_webhook_secret: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_sms_from: str = ""
    twilio_whatsapp_from: str = ""
    public_url: str = ""


@dataclass(frozen=True, slots=True)
class Settings:
    config_path: Path
    server: ServerSettings
    database_url: str
    queue: QueueSettings
    outbox: OutboxSettings
    channels: ChannelSettings
    nlu: NluConfig
    default_language: str
    languages: tuple[str, ...]
    ticket_prefix: str
    complaints: ComplaintSettings
    secrets: Secrets = field(default_factory=Secrets)
    var_dir: Path = PROJECT_ROOT / "var"
    timezone: str = "Asia/Jakarta"
    rasa_autostart: bool = True

    @property
    def channels_enabled(self) -> tuple[str, ...]:
        return self.channels.enabled
    knowledge_dir: Path = PROJECT_ROOT / "bot" / "knowledge"
    media_dir: Path = PROJECT_ROOT / "var" / "media"


def _env_name(path: tuple[str, ...]) -> str:
    return "WARGA_" + "_".join(p.upper() for p in path)


def _find_secrets_in_file(node: Any, path: tuple[str, ...] = ()) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            key_path = path + (str(k),)
            if _SECRET_KEY_RE.search(str(k)) and not isinstance(v, dict):
                raise ConfigError(
                    f"config: {'.'.join(key_path)}: secrets are read only from the environment, "
                    "remove this key from the file")
            _find_secrets_in_file(v, key_path)


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class _Reader:
    """Typed access to the config with error messages that name the key.

    For every key read, a WARGA_* environment variable wins over the file, whether or not the
    file mentions the key; its text is converted to the type the key needs.
    """

    def __init__(self, data: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self._data = data
        self._env = env

    def _from_env(self, dotted: str) -> str | None:
        return self._env.get(_env_name(tuple(dotted.split("."))))

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self._data
        walked: list[str] = []
        for part in dotted.split("."):
            if not isinstance(node, Mapping):
                raise ConfigError(f"config: {'.'.join(walked)}: expected a section (key: value lines), "
                                  f"got {type(node).__name__}")
            walked.append(part)
            if part not in node:
                return default
            node = node[part]
        return default if node is None else node

    def number(self, dotted: str, default: float, *, minimum: float = 0.0,
               maximum: float | None = None, integer: bool = False) -> Any:
        raw = self._from_env(dotted)
        value: Any = self.get(dotted, default)
        if raw is not None:
            try:
                value = float(raw.strip())
            except ValueError:
                value = raw
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                integer and not float(value).is_integer()):
            raise ConfigError(f"config: {dotted}: expected {kind}, got {value!r}")
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f">= {minimum:g}" if maximum is None else f"between {minimum:g} and {maximum:g}"
            raise ConfigError(f"config: {dotted}: expected {kind} {bounds}, got {value!r}")
        return int(value) if integer else float(value)

    def string(self, dotted: str, default: str, *, choices: tuple[str, ...] | None = None,
               pattern: str | None = None) -> str:
        raw = self._from_env(dotted)
        value = raw if raw is not None else self.get(dotted, default)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"config: {dotted}: expected a non-empty string, got {value!r}")
        value = value.strip()
        if choices is not None and value not in choices:
            raise ConfigError(f"config: {dotted}: expected one of {', '.join(choices)}, got {value!r}")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise ConfigError(f"config: {dotted}: expected {pattern}, got {value!r}")
        return value

    def boolean(self, dotted: str, default: bool) -> bool:
        raw = self._from_env(dotted)
        value: Any = self.get(dotted, default)
        if raw is not None:
            value = True if raw.strip().lower() in _TRUE else False if raw.strip().lower() in _FALSE else raw
        if not isinstance(value, bool):
            raise ConfigError(f"config: {dotted}: expected true or false, got {value!r}")
        return value

    def string_list(self, dotted: str, default: list[str], *,
                    choices: tuple[str, ...] | None = None) -> tuple[str, ...]:
        raw = self._from_env(dotted)
        value: Any = ([v.strip() for v in raw.split(",") if v.strip()] if raw is not None
                      else self.get(dotted, default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"config: {dotted}: expected a list of names, got {value!r}")
        for v in value:
            if choices is not None and v not in choices:
                raise ConfigError(f"config: {dotted}: expected names from {', '.join(choices)}, got {v!r}")
        return tuple(value)


def _optional_url(r: _Reader, dotted: str) -> str:
    raw = r._from_env(dotted)
    value = raw if raw is not None else r.get(dotted, "")
    if not isinstance(value, str) or (value.strip() and not re.fullmatch(r"https?://\S+", value.strip())):
        raise ConfigError(f"config: {dotted}: expected an http(s) URL or nothing, got {value!r}")
    return value.strip().rstrip("/")


def _optional_sid(r: _Reader, dotted: str) -> str:
    raw = r._from_env(dotted)
    value = raw if raw is not None else r.get(dotted, "")
    if not isinstance(value, str) or (value.strip() and not re.fullmatch(r"HX[0-9a-fA-F]{32}", value.strip())):
        raise ConfigError(f"config: {dotted}: expected a Content SID like HX0123... (34 characters) "
                          f"or nothing, got {value!r}")
    return value.strip()


def local_secret_key(var_dir: Path) -> str:
    """Without WARGA_SECRET_KEY, a random session key kept in var/ (mode 0600), shared by every
    process of this installation; set WARGA_SECRET_KEY when several machines serve."""
    return _local_secret(var_dir / "secret-key", "WARGA_SECRET_KEY")


def _local_rasa_token(base: Path) -> str:
    """Without WARGA_RASA_TOKEN, a random token kept in var/ (mode 0600) so every process of
    this installation (web, workers, `warga nlu serve`) agrees on it."""
    return _local_secret(base / "var" / "rasa-token", "WARGA_RASA_TOKEN")


def _local_secret(path: Path, variable: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror}") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token)
        return token
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"config: cannot write {path}: set {variable} ({exc.strerror})") from None


def _resolve_path(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else (base / p).resolve()


def _database_url(base: Path, url: str) -> str:
    # Relative SQLite paths are relative to the config file, so `make run` works from anywhere.
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        return "sqlite:///" + str(_resolve_path(base, url[len("sqlite:///"):]))
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        raise ConfigError(f"config: database.url: expected a sqlite:/// or postgresql:// URL, got {url!r}")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _complaints(r: _Reader, languages: tuple[str, ...]) -> ComplaintSettings:
    transitions_raw = r.get("complaints.transitions", {})
    if not isinstance(transitions_raw, Mapping) or not transitions_raw:
        raise ConfigError("config: complaints.transitions: expected a mapping of status -> [next statuses]")
    transitions: dict[str, tuple[str, ...]] = {}
    for status, nexts in transitions_raw.items():
        if nexts is None:
            nexts = []
        if not isinstance(nexts, list) or not all(isinstance(n, str) for n in nexts):
            raise ConfigError(f"config: complaints.transitions.{status}: expected a list of statuses")
        transitions[str(status)] = tuple(nexts)
    for status, nexts in transitions.items():
        for n in nexts:
            if n not in transitions:
                raise ConfigError(f"config: complaints.transitions.{status}: unknown status {n!r}")
    initial = r.string("complaints.initial_status", "menunggu", choices=tuple(transitions))
    coord = r.number("complaints.default_sla.coordination_hours", 6, minimum=0.01)
    resol = r.number("complaints.default_sla.resolution_days", 7, minimum=0.01)
    cats_raw = r.get("complaints.categories", {})
    if not isinstance(cats_raw, Mapping) or not cats_raw:
        raise ConfigError("config: complaints.categories: expected at least one category")
    categories = []
    for name in cats_raw:
        key = f"complaints.categories.{name}"
        if not isinstance(cats_raw[name], Mapping):
            raise ConfigError(f"config: {key}: expected a mapping with intent and agency")
        categories.append(Category(
            name=str(name),
            intent=r.string(f"{key}.intent", "", pattern=r"[a-z_]+"),
            agency=r.string(f"{key}.agency", ""),
            coordination_hours=r.number(f"{key}.coordination_hours", coord, minimum=0.01),
            resolution_days=r.number(f"{key}.resolution_days", resol, minimum=0.01),
        ))
    seen: dict[str, str] = {}
    for c in categories:
        if c.intent in seen:
            raise ConfigError(f"config: complaints.categories.{c.name}.intent: {c.intent!r} is already "
                              f"used by category {seen[c.intent]!r}")
        seen[c.intent] = c.name
    return ComplaintSettings(initial_status=initial, transitions=transitions,
                             reopen_days=r.number("complaints.reopen_days", 7),
                             categories=tuple(categories))


def load_settings(path: str | os.PathLike[str] | None = None,
                  env: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Load and validate settings.

    Args:
        path: The YAML file; default ``$WARGA_CONFIG`` or the project's config.yml.
        env: The environment (default ``os.environ``).
        overrides: Dotted keys set after the environment (tests use this).

    Raises:
        ConfigError: One line naming the key and what was expected.
    """
    env = os.environ if env is None else env
    config_path = Path(path or env.get("WARGA_CONFIG") or DEFAULT_CONFIG)
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config: cannot read {config_path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config: {config_path}{where}: not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config: {config_path}: expected a mapping of sections at the top")
    _find_secrets_in_file(data)
    for dotted, value in (overrides or {}).items():
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    r = _Reader(data, env)
    base = config_path.resolve().parent

    languages = r.string_list("languages.supported", ["id", "en"], choices=("id", "en"))
    server = ServerSettings(
        host=r.string("server.host", "127.0.0.1"),
        port=r.number("server.port", 8080, minimum=1, maximum=65535, integer=True),
        workers=r.number("server.workers", 2, minimum=1, maximum=64, integer=True),
        max_request_kb=r.number("server.max_request_kb", 256, minimum=1, integer=True),
        chat_reply_wait_seconds=r.number("server.chat_reply_wait_seconds", 5, maximum=60),
        log_level=r.string("server.log_level", "INFO",
                           choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    )
    queue = QueueSettings(
        backend=r.string("queue.backend", "thread", choices=("thread", "redis")),
        redis_url=r.string("queue.redis_url", "redis://127.0.0.1:6379/0", pattern=r"rediss?://.+"),
        threads=r.number("queue.threads", 4, minimum=1, maximum=64, integer=True),
        sweep_seconds=r.number("queue.sweep_seconds", 10, minimum=0.05),
        stall_seconds=r.number("queue.stall_seconds", 30, minimum=0.05),
    )
    outbox = OutboxSettings(
        give_up_after_minutes=r.number("outbox.give_up_after_minutes", 60, minimum=0.01),
        first_retry_seconds=r.number("outbox.first_retry_seconds", 2, minimum=0.01),
        max_retry_seconds=r.number("outbox.max_retry_seconds", 300, minimum=0.01),
        lease_seconds=r.number("outbox.lease_seconds", 60, minimum=1),
    )
    try:
        nlu = NluConfig(
            engine=r.string("nlu.engine", "rasa", choices=("rasa", "sklearn")),
            threshold=r.number("nlu.threshold", 0.5, maximum=0.99),
            data_dir=_resolve_path(base, r.string("nlu.data_dir", "nlu/data")),
            models_dir=_resolve_path(base, r.string("nlu.models_dir", "var/models")),
            var_dir=_resolve_path(base, r.string("nlu.var_dir", "var/rasa")),
            rasa_host=r.string("nlu.rasa_host", "127.0.0.1"),
            rasa_port=r.number("nlu.rasa_port", 5005, minimum=1, maximum=65535, integer=True),
            rasa_token=env.get("WARGA_RASA_TOKEN", "") or _local_rasa_token(base),
            rasa_timeout=r.number("nlu.rasa_timeout", 2, minimum=0.05),
            rasa_retry_after=r.number("nlu.rasa_retry_after", 10, minimum=0.05),
            rasa_venv=_resolve_path(base, r.string("nlu.rasa_venv", ".venv-rasa")),
            rasa_config=_resolve_path(base, r.string("nlu.rasa_config", "nlu/rasa/config.yml")),
            ticket_prefix=r.string("tickets.prefix", "WRG", pattern=r"[A-Z]{2,6}"),
        )
    except NluConfigError as exc:
        raise ConfigError(f"config: {exc}") from None
    default_language = r.string("languages.default", "id", choices=languages)
    public_url = env.get("WARGA_PUBLIC_URL", "").strip().rstrip("/")
    if public_url and not re.match(r"^https?://[^/\s]+", public_url):
        raise ConfigError(f"config: WARGA_PUBLIC_URL: expected an https:// URL, got {public_url!r}")
    secrets = Secrets(
        secret_key=env.get("WARGA_SECRET_KEY", ""),
        telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN", ""),
        telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET", ""),
        twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", ""),
        twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
        twilio_sms_from=env.get("TWILIO_SMS_FROM", ""),
        twilio_whatsapp_from=env.get("TWILIO_WHATSAPP_FROM", ""),
        public_url=public_url,
    )
    tz = r.string("city.timezone", "Asia/Jakarta")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"config: city.timezone: expected a time zone like Asia/Jakarta, got {tz!r}") from None
    enabled = r.string_list("channels.enabled", ["web"], choices=KNOWN_CHANNELS)
    return Settings(
        config_path=config_path,
        timezone=tz,
        knowledge_dir=_resolve_path(base, r.string("city.knowledge_dir", "bot/knowledge")),
        media_dir=_resolve_path(base, r.string("storage.media_dir", "var/media")),
        server=server,
        database_url=_database_url(base, r.string("database.url", "sqlite:///var/warga.db")),
        queue=queue,
        outbox=outbox,
        channels=ChannelSettings(
            enabled=enabled,
            send_timeout=r.number("channels.send_timeout", 10, minimum=0.1, maximum=120),
            telegram_api_url=r.string("channels.telegram_api_url", "https://api.telegram.org",
                                      pattern=r"https?://\S+"),
            twilio_api_url=_optional_url(r, "channels.twilio_api_url"),
            twilio_media_origin=r.string("channels.twilio_media_origin", "https://api.twilio.com",
                                         pattern=r"https?://[^/\s]+"),
            whatsapp_templates=tuple((k, v) for k in NOTIFICATION_KINDS
                                     if (v := _optional_sid(r, f"channels.whatsapp_templates.{k}"))),
        ),
        nlu=nlu,
        default_language=default_language,
        languages=languages,
        ticket_prefix=r.string("tickets.prefix", "WRG", pattern=r"[A-Z]{2,6}"),
        complaints=_complaints(r, languages),
        rasa_autostart=r.boolean("nlu.rasa_autostart", True),
        secrets=secrets,
        var_dir=_resolve_path(base, "var"),
    )
