"""The declarations: every setting once, with its type, default, bounds, help and environment name.

The sections below are what config.yml may hold; a key the models do not declare is refused.
Each leaf key can be overridden by its environment variable, ``WARGA_`` plus its path in
capitals (:func:`env_name`). Secrets and a few other variables are read only from the environment:
:class:`Secrets` and :data:`OTHER_ENV`. Loading (bot/settings/load.py), the README's table
(bot/settings/reference.py) and the tests all read these declarations; nothing repeats them.

Models are strict (a quoted ``"8080"`` in the file is not a port) and frozen; the loader converts
environment text to the declared type before validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

Channel = Literal["web", "telegram", "sms", "whatsapp"]
Language = Literal["id", "en"]
KNOWN_CHANNELS: tuple[str, ...] = get_args(Channel)


def _integral(value: Any) -> Any:
    # YAML and environment text may give 8080.0 for an integer; keep accepting it.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not a time zone") from None
    return value


def _database_scheme(value: str) -> str:
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
        raise ValueError("not a database URL")
    return value


Int = Annotated[int, BeforeValidator(_integral)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True)]


def setting(default: Any = ..., help: str = "", *, ge: float | None = None, le: float | None = None,
            pattern: str | None = None, expected: str | None = None, example: Any = None,
            item_expected: str | None = None) -> Any:
    """Declare one key.

    Args:
        default: The value when neither the file nor the environment sets it (``...``: required).
        help: One line for config.yml's reader and the README's table.
        ge: Lowest allowed number.
        le: Highest allowed number.
        pattern: A regular expression the whole (stripped) text must match.
        expected: What the error message says was expected, when the type alone says too little.
        example: A valid value other than the default (the tests set it to see the key is read).
        item_expected: For a mapping, what each entry must be (error messages name the entry).
    """
    extra: dict[str, Any] = {}
    for name, value in (("pattern", pattern), ("expected", expected), ("example", example),
                        ("item_expected", item_expected)):
        if value is not None:
            extra[name] = value
    return Field(default, description=help, ge=ge, le=le,
                 pattern=f"^(?:{pattern})$" if pattern else None,
                 json_schema_extra=extra or None)


class Section(BaseModel):
    """A mapping of config.yml; unknown keys are errors."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    #: What an error says when the section is not a mapping.
    expected: ClassVar[str] = "a section (key: value lines)"


class CitySection(Section):
    timezone: Annotated[Text, AfterValidator(_time_zone)] = setting(
        "Asia/Jakarta", "Due times are shown in this time zone.",
        expected="a time zone like Asia/Jakarta", example="Asia/Makassar")
    knowledge_dir: Text = setting(
        "bot/knowledge", "Public-service answers, one YAML file per language (relative to config.yml).")


class ServerSettings(Section):
    """``server:``: the web server."""

    host: Text = setting("127.0.0.1", "Bind address of `warga run` / `warga serve`.")
    port: Int = setting(8080, "Port of `warga run` / `warga serve`.", ge=1, le=65535)
    workers: Int = setting(2, "gunicorn worker processes for `warga serve`.", ge=1, le=64)
    threads: int | None = setting(
        None, "Request threads of each `warga serve` process; web chat messages are processed in them. "
        "Unset: 2 with nlu.engine sklearn (its parse runs on the CPU), 8 with rasa (each parse waits "
        "on the Rasa server). README: Running at scale.", ge=1, le=64, example=4)
    max_request_kb: Int = setting(256, "Larger request bodies are refused with 413.", ge=1)
    max_photo_kb: Int = setting(
        5120, "A larger photo uploaded on the web chat is refused with 413 (only that upload may "
        "exceed max_request_kb).", ge=1, le=51200, example=2048)
    chat_reply_wait_seconds: float = setting(
        5.0, "How long POST /api/v1/chat/messages waits for the bot's replies.", ge=0, le=60)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = setting("INFO", "Log level.")


class StorageSection(Section):
    media_dir: Text = setting("var/media", "Attachments citizens send, downloaded for staff.")


class DatabaseSection(Section):
    url: Annotated[Text, AfterValidator(_database_scheme)] = setting(
        "sqlite:///var/warga.db",
        "SQLite file (relative to config.yml) or a PostgreSQL URL (postgresql://user@host:5432/warga).",
        expected="a sqlite:/// or postgresql:// URL", example="sqlite:///var/other.db")


class QueueSettings(Section):
    """``queue:``: where background work runs."""

    backend: Literal["thread", "redis"] = setting(
        "thread", "thread: in the web process; redis: on Redis (RQ), run `warga worker` beside it.")
    redis_url: Text = setting("redis://127.0.0.1:6379/0", "The Redis of the redis backend.",
                              pattern=r"rediss?://.+", example="redis://10.0.0.5:6379/2")
    threads: Int = setting(4, "Worker threads of the thread backend.", ge=1, le=64)
    sweep_seconds: float = setting(10.0, "How often stalled messages are re-driven.", ge=0.05)
    stall_seconds: float = setting(30.0, "An inbound message unprocessed this long is re-driven.", ge=0.05)
    process_attempts: Int = setting(
        3, "A message whose processing fails this many times is marked failed and shown to staff.",
        ge=1, le=20)


class OutboxSettings(Section):
    """``outbox:``: sending replies."""

    give_up_after_minutes: float = setting(
        60.0, "A reply not sent by then is marked failed and shown to staff.", ge=0.01)
    first_retry_seconds: float = setting(2.0, "Retries back off exponentially from here ...", ge=0.01)
    max_retry_seconds: float = setting(300.0, "... up to this.", ge=0.01)
    lease_seconds: float = setting(60.0, "A send in progress this long is assumed lost and retried.", ge=1)


class SecuritySection(Section):
    """``security:``: sign-in throttling, console sessions, the public chat API's rate limits."""

    login_slow_after_failures: Int = setting(
        3, "Failed sign-ins (per account and per client address) before each answer is delayed.", ge=1)
    login_lock_after_failures: Int = setting(
        10, "Failed sign-ins before the account or address is locked until an admin unlocks it.", ge=1)
    login_delay_seconds: float = setting(
        1.0, "The delay per failure past login_slow_after_failures (capped at 10 s).", ge=0, le=10)
    login_concurrent_checks: Int = setting(
        4, "Password checks run at once per process (more wait): hashing cannot exhaust the CPU.", ge=1, le=64)
    session_idle_minutes: float = setting(
        60.0, "A console session unused this long ends (sign in again).", ge=1)
    chat_per_sender_per_minute: Int = setting(
        30, "Chat API requests one sender id may make per minute (more get 429 with Retry-After).", ge=1)
    chat_per_address_per_minute: Int = setting(
        300, "Chat API requests one client address may make per minute (more get 429).", ge=1)
    trusted_proxies: Int = setting(
        0, "Reverse proxies in front of Warga whose X-Forwarded-For is trusted for the client address.",
        ge=0, le=5)


_SID = r"(HX[0-9a-fA-F]{32})?"
_SID_EXPECTED = "a Content SID like HX0123... (34 characters) or nothing"
_SID_EXAMPLE = "HX" + "0123456789abcdef" * 2


class WhatsappTemplates(Section):
    """``channels.whatsapp_templates:``: one approved Content template per notification kind."""

    status_changed: OptionalText = setting(
        "", "Template for a status change ({{1}} ticket, {{2}} new status); empty: held for staff.",
        pattern=_SID, expected=_SID_EXPECTED, example=_SID_EXAMPLE)
    staff_reply: OptionalText = setting(
        "", "Template for a staff reply ({{1}} ticket); empty: held for staff.",
        pattern=_SID, expected=_SID_EXPECTED, example=_SID_EXAMPLE)


NOTIFICATION_KINDS: tuple[str, ...] = tuple(WhatsappTemplates.model_fields)


class ChannelsSection(Section):
    enabled: list[Channel] = setting(
        ["web"], "Channels switched on (one whose secrets are missing stays off and says so).",
        example=["web", "sms"])
    send_timeout: float = setting(10.0, "Seconds for one provider API call.", ge=0.1, le=120)
    telegram_api_url: Text = setting("https://api.telegram.org", "Telegram's Bot API (or your own).",
                                     pattern=r"https?://\S+", example="https://bot-api.example")
    twilio_api_url: OptionalText = setting(
        "", "Twilio's API; empty: Twilio itself (tests point this at a local fake).",
        pattern=r"(https?://\S+)?", expected="an http(s) URL or nothing", example="https://tw.example")
    twilio_media_origin: Text = setting(
        "https://api.twilio.com", "The only host that ever gets Twilio credentials (media downloads).",
        pattern=r"https?://[^/\s]+", example="https://media.example")
    whatsapp_templates: WhatsappTemplates


class NluSection(Section):
    engine: Literal["rasa", "sklearn"] = setting(
        "rasa", "rasa (falls back to sklearn per message when Rasa is down or slow) or sklearn.")
    threshold: float = setting(0.5, "Below this confidence the bot asks a clarifying question.",
                               ge=0, le=0.99)
    data_dir: Text = setting("nlu/data", "Training data (Rasa YAML) both engines train from.")
    models_dir: Text = setting("var/models", "Trained models (sklearn/ and rasa/ inside).")
    var_dir: Text = setting("var/rasa", "The Rasa server's working directory, HOME and logs.")
    rasa_url: OptionalText = setting(
        "", "Your own Rasa server (its token: WARGA_NLU_RASA_TOKEN), which Warga neither starts nor "
        "trains; empty: Warga's own at rasa_host:rasa_port.",
        pattern=r"(https?://[^/\s]+(/\S*)?)?", expected="an http(s) URL or nothing",
        example="https://nlu.example.go.id")
    intent_map: dict[str, str] = setting(
        {}, "Your Rasa model's intent names -> Warga's (file only); an intent neither mapped nor "
        "named like Warga's is not understood.",
        expected="a mapping of their intent: Warga's intent", item_expected="a Warga intent name")
    entity_map: dict[str, str] = setting(
        {}, "Your Rasa model's entity names -> Warga's (location, ticket_id) (file only).",
        expected="a mapping of their entity: Warga's entity", item_expected="location or ticket_id")
    rasa_host: Text = setting("127.0.0.1", "Where the Rasa server listens (loopback).")
    rasa_port: Int = setting(5005, "The Rasa server's port.", ge=1, le=65535)
    rasa_timeout: float = setting(2.0, "Seconds; a slower Rasa answer falls back to sklearn.", ge=0.05)
    rasa_retry_after: float = setting(10.0, "Seconds to skip Rasa after it failed.", ge=0.05)
    rasa_venv: Text = setting(".venv-rasa", "Rasa's own Python 3.10 virtualenv (`make rasa-venv`).")
    rasa_config: Text = setting("nlu/rasa/config.yml", "Rasa's pipeline.")
    rasa_autostart: bool = setting(True, "`warga run` / `warga serve` start (and first train) Rasa.")
    gate_margin: float = setting(0.02, "A new model whose held-out accuracy or macro-F1 is lower than the "
                                 "active model's by more than this is not activated without a reason.",
                                 ge=0, le=1)
    gate_intent_f1_floor: float = setting(0.3, "A new model with any intent's F1 below this is not "
                                          "activated without a reason.", ge=0, le=1)
    live_check_seconds: float = setting(5.0, "Each process checks the active model version this often "
                                        "(a Redis message switches sooner).", ge=0.05)


class LanguagesSection(Section):
    default: Language = setting("id", "Replies start in this language (one of languages.supported).",
                                example="en")
    supported: list[Language] = setting(["id", "en"], "Languages citizens may switch to.",
                                         example=["id"])


class TicketsSection(Section):
    prefix: Text = setting("WRG", "Ticket numbers look like WRG-2026-000123.",
                           pattern=r"[A-Z]{2,6}", example="JKT")


class SlaSection(Section):
    coordination_hours: float = setting(
        6.0, "Menunggu -> Koordinasi/Disposisi within this many hours (per category too).", ge=0.01)
    resolution_days: float = setting(
        7.0, "Filed -> Selesai within this many days (per category too).", ge=0.01)


class CategorySection(Section):
    """``complaints.categories.<name>:``: one category per complaint intent."""

    expected: ClassVar[str] = "a mapping with intent and agency"
    intent: Text = setting(..., "The NLU intent that files a complaint of this category.",
                           pattern=r"report_[a-z_]+", example="report_pothole")
    agency: Text = setting(..., "The agency the ticket is routed to.")
    coordination_hours: float | None = setting(
        None, "Overrides complaints.default_sla.coordination_hours.", ge=0.01)
    resolution_days: float | None = setting(
        None, "Overrides complaints.default_sla.resolution_days.", ge=0.01)


class ComplaintsSection(Section):
    initial_status: Text = setting("menunggu", "A new complaint's status (one of the transitions).",
                                   example="koordinasi")
    transitions: Annotated[dict[str, list[str] | None], Field(min_length=1)] = setting(
        ..., "Status workflow: where each status may go next (file only).",
        expected="a mapping of status -> [next statuses]", item_expected="a list of statuses")
    reopen_days: float = setting(7.0, "After Selesai the citizen may reopen within this many days.", ge=0)
    duplicate_days: float = setting(
        14.0, "A new complaint is offered to join an open one of the same category and place filed "
        "within this many days (0: never).", ge=0, example=7.0)
    duplicate_distance_m: float = setting(
        150.0, "Shared points this close (metres) count as the same place for duplicates.", ge=0,
        example=100.0)
    default_sla: SlaSection
    categories: Annotated[dict[str, CategorySection], Field(min_length=1)] = setting(
        ..., "Complaint categories by name.", expected="at least one category")


class DialogueSection(Section):
    """``dialogue:``: how the conversation treats citizens off the happy path."""

    handover_timeout_minutes: float = setting(
        60.0, "A handover nobody took within this time returns to the bot, and the citizen is told.",
        ge=1, example=30.0)
    expected_wait_minutes: Int = setting(
        15, "The wait citizens are told to expect after a handover.", ge=1, example=30)
    office_hours: Text = setting(
        "Senin-Jumat 08.00-16.00", "When staff answer, as told to citizens who wait for a person.",
        example="Senin-Sabtu 07.30-15.00")
    draft_stale_hours: float = setting(
        24.0, "An unsent complaint untouched this long is not resumed without asking.", ge=0.1,
        example=12.0)


def _tile_url(value: str) -> str:
    # The template also names the one host the console's CSP lets images come from, so it must
    # be a plain http(s) URL with the tile coordinates in it (or empty: no tiles at all).
    if value and not all(part in value for part in ("{z}", "{x}", "{y}")):
        raise ValueError("the tile URL needs {z}, {x} and {y}")
    return value


class ConsoleSection(Section):
    """``console:``: the staff console."""

    map_tile_url: Annotated[OptionalText, AfterValidator(_tile_url)] = setting(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "Map tiles of the complaint page (Leaflet URL template; its host is allowed by the CSP). "
        "Empty: no tiles, the marker and the \"buka di peta\" link only.",
        pattern=r"|https?://[A-Za-z0-9.{}:-]+(/[A-Za-z0-9._~{}/@%-]*)?",
        expected="an http(s) URL template with {z}, {x} and {y}, or empty",
        example="https://tiles.example.go.id/{z}/{x}/{y}.png")


class ConfigFile(Section):
    """The whole of config.yml."""

    city: CitySection
    server: ServerSettings
    storage: StorageSection
    database: DatabaseSection
    queue: QueueSettings
    outbox: OutboxSettings
    channels: ChannelsSection
    nlu: NluSection
    languages: LanguagesSection
    tickets: TicketsSection
    complaints: ComplaintsSection
    dialogue: DialogueSection
    security: SecuritySection
    console: ConsoleSection = ConsoleSection()


def _public_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if value and not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("not an http(s) URL")
    return value


def secret(variable: str | tuple[str, ...], help: str, **extra: Any) -> Any:
    """Declare one value read only from the environment variable ``variable`` (several: the
    first is its name, the others older names still read)."""
    alias: str | AliasChoices = variable if isinstance(variable, str) else AliasChoices(*variable)
    return Field("", validation_alias=alias, description=help, repr=False,
                 json_schema_extra=extra or None)


class Secrets(BaseModel):
    """Values only ever read from the environment (a secret-looking key in config.yml is refused)."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)

    secret_key: str = secret(
        "WARGA_SECRET_KEY", "Signs console sessions (default: var/secret-key, made by `warga db upgrade`/`run`).")
    rasa_token: str = secret(
        ("WARGA_NLU_RASA_TOKEN", "WARGA_RASA_TOKEN"),
        "Token of the Rasa server's HTTP API (default: var/rasa-token, made likewise unless nlu.rasa_url "
        "is set; WARGA_RASA_TOKEN is its older name).")
    telegram_bot_token: str = secret("TELEGRAM_BOT_TOKEN", "Telegram bot token (from @BotFather).")
    telegram_webhook_secret: str = secret("TELEGRAM_WEBHOOK_SECRET", "Checks that webhook calls come from Telegram.")
    twilio_account_sid: str = secret("TWILIO_ACCOUNT_SID", "Twilio account (SMS and WhatsApp).")
    twilio_auth_token: str = secret("TWILIO_AUTH_TOKEN", "Twilio auth token (also checks signatures).")
    twilio_sms_from: str = secret("TWILIO_SMS_FROM", "The SMS sender number.")
    twilio_whatsapp_from: str = secret("TWILIO_WHATSAPP_FROM", "The WhatsApp sender (whatsapp:+...).")
    public_url: Annotated[str, AfterValidator(_public_url)] = secret(
        "WARGA_PUBLIC_URL", "The https base URL providers call (webhooks, Twilio signatures).",
        expected="an https:// URL")

    @classmethod
    def variable(cls, name: str) -> str:
        """The environment variable of field ``name``."""
        return cls.variables(name)[0]

    @classmethod
    def variables(cls, name: str) -> tuple[str, ...]:
        """Every environment variable field ``name`` is read from, its current name first."""
        alias = cls.model_fields[name].validation_alias
        if isinstance(alias, AliasChoices):
            return tuple(str(choice) for choice in alias.choices)
        assert isinstance(alias, str)
        return (alias,)


@dataclass(frozen=True, slots=True)
class EnvVariable:
    """An environment variable read outside the settings object (not a config.yml key)."""

    name: str
    help: str


OTHER_ENV: tuple[EnvVariable, ...] = (
    EnvVariable("WARGA_CONFIG", "The configuration file (default: the project's config.yml)."),
    EnvVariable("WARGA_NEW_PASSWORD", "Password for `warga users create` (else asked for)."),
    EnvVariable("WARGA_DEMO_PASSWORD", "The demo admin's password for `warga demo load` (else random)."),
    EnvVariable("WARGA_TEST_PG", "Tests only: the PostgreSQL admin URL the database tests use."),
)


def env_name(path: tuple[str, ...] | str) -> str:
    """``WARGA_`` plus the key's path in capitals: ``nlu.threshold`` -> ``WARGA_NLU_THRESHOLD``."""
    parts = path.split(".") if isinstance(path, str) else path
    return "WARGA_" + "_".join(p.upper() for p in parts)
