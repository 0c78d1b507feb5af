"""Settings: config.yml, WARGA_* overrides, secrets only from the environment, one-line errors."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import ConfigError, ensure_local_secrets, load_settings
from bot.settings.keys import choices, concrete_keys, declared_keys, scalar_type
from bot.settings.load import allowed_variables
from bot.settings.reference import settings_table, table_in
from tests.conftest import trained_models_dir

PROJECT = Path(__file__).resolve().parents[2]
CONFIG = PROJECT / "config.yml"


def set_key(data: dict, dotted: str, value: Any) -> None:
    node = data
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def del_key(data: dict, dotted: str) -> None:
    node = data
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    del node[last]


def write_config(tmp_path: Path, mutate: Callable[[dict], None] | None = None,
                 name: str = "config.yml") -> Path:
    """A copy of the project's config.yml, changed by ``mutate``."""
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    if mutate:
        mutate(data)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def config_error(path: Path | str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env=env or {})
    message = str(info.value)
    assert "\n" not in message.strip(), f"not one line: {message!r}"
    assert message.strip(), "empty message"
    return message


# -- the shipped file ----------------------------------------------------------------------
def test_the_project_config_loads():
    raw = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    s = load_settings(CONFIG, env={})
    assert s.config_path == CONFIG
    assert (s.server.host, s.server.port, s.server.max_request_kb) == (
        raw["server"]["host"], raw["server"]["port"], raw["server"]["max_request_kb"])
    assert raw["database"]["url"] == "sqlite:///var/warga.db"
    assert s.database_url == f"sqlite:///{PROJECT / 'var' / 'warga.db'}"
    assert s.queue.backend == raw["queue"]["backend"] == "thread"
    assert s.channels_enabled == tuple(raw["channels"]["enabled"])
    assert s.nlu.engine == raw["nlu"]["engine"]
    assert s.nlu.threshold == raw["nlu"]["threshold"]
    assert s.nlu.data_dir == PROJECT / raw["nlu"]["data_dir"]
    assert s.nlu.models_dir == PROJECT / raw["nlu"]["models_dir"]
    assert (s.default_language, s.languages) == ("id", ("id", "en"))
    assert s.ticket_prefix == raw["tickets"]["prefix"] == "WRG"
    c = s.complaints
    assert c.initial_status == "menunggu"
    assert c.transitions == {k: tuple(v or ()) for k, v in raw["complaints"]["transitions"].items()}
    assert c.transitions["ditolak"] == ()
    flood = c.category("flood")
    assert flood is not None
    assert (flood.intent, flood.agency, flood.coordination_hours, flood.resolution_days) == (
        "report_flood", "Dinas Sumber Daya Air", 2.0, 3.0)
    road = c.category_for_intent("report_road_damage")
    assert road is not None
    default_sla = raw["complaints"]["default_sla"]
    assert (road.name, road.agency, road.coordination_hours, road.resolution_days) == (
        "road_damage", "Dinas Bina Marga", default_sla["coordination_hours"],
        default_sla["resolution_days"])
    assert [cat.name for cat in c.categories] == list(raw["complaints"]["categories"])
    assert len({cat.intent for cat in c.categories}) == len(c.categories)


def test_warga_config_selects_another_file(tmp_path):
    path = write_config(tmp_path, lambda d: set_key(d, "server.port", 9000), name="etc/warga.yml")
    s = load_settings(None, env={"WARGA_CONFIG": str(path)})
    assert s.config_path == path
    assert s.server.port == 9000


# -- environment overrides -----------------------------------------------------------------
ENV_CASES = [
    ("WARGA_DATABASE_URL", "postgresql+psycopg://warga@db.example:5432/warga",
     lambda s: s.database_url, "postgresql+psycopg://warga@db.example:5432/warga"),
    ("WARGA_DATABASE_URL", "sqlite:///:memory:", lambda s: s.database_url, "sqlite:///:memory:"),
    ("WARGA_NLU_THRESHOLD", "0.7", lambda s: s.nlu.threshold, 0.7),
    ("WARGA_NLU_THRESHOLD", "0.9", lambda s: s.nlu.threshold, 0.9),
    ("WARGA_CHANNELS_ENABLED", "web,telegram", lambda s: s.channels_enabled, ("web", "telegram")),
    ("WARGA_CHANNELS_ENABLED", " sms , whatsapp ", lambda s: s.channels_enabled, ("sms", "whatsapp")),
    ("WARGA_CHANNELS_ENABLED", "web", lambda s: s.channels_enabled, ("web",)),
    ("WARGA_QUEUE_BACKEND", "redis", lambda s: s.queue.backend, "redis"),
    ("WARGA_QUEUE_REDIS_URL", "redis://:pw@10.0.0.5:6379/2", lambda s: s.queue.redis_url,
     "redis://:pw@10.0.0.5:6379/2"),
    ("WARGA_QUEUE_THREADS", "8", lambda s: s.queue.threads, 8),
    ("WARGA_NLU_RASA_AUTOSTART", "false", lambda s: s.rasa_autostart, False),
    ("WARGA_NLU_RASA_AUTOSTART", "False", lambda s: s.rasa_autostart, False),
    ("WARGA_NLU_ENGINE", "sklearn", lambda s: s.nlu.engine, "sklearn"),
    ("WARGA_SERVER_PORT", "9090", lambda s: s.server.port, 9090),
    ("WARGA_SERVER_HOST", "0.0.0.0", lambda s: s.server.host, "0.0.0.0"),
    ("WARGA_SERVER_HOST", "::", lambda s: s.server.host, "::"),       # bind all IPv6 addresses
    ("WARGA_SERVER_LOG_LEVEL", "DEBUG", lambda s: s.server.log_level, "DEBUG"),
    ("WARGA_LANGUAGES_DEFAULT", "en", lambda s: s.default_language, "en"),
    ("WARGA_TICKETS_PREFIX", "JKT", lambda s: s.ticket_prefix, "JKT"),
    ("WARGA_COMPLAINTS_CATEGORIES_FLOOD_COORDINATION_HOURS", "1",
     lambda s: s.complaints.category("flood").coordination_hours, 1.0),
    ("WARGA_COMPLAINTS_CATEGORIES_ROAD_DAMAGE_AGENCY", "Dinas Bina Marga DKI",
     lambda s: s.complaints.category("road_damage").agency, "Dinas Bina Marga DKI"),
]


@pytest.mark.parametrize("var, raw, get, expected", ENV_CASES,
                         ids=[f"{c[0]}={c[1]}" for c in ENV_CASES])
def test_every_key_can_be_overridden_by_the_environment(var, raw, get, expected):
    value = get(load_settings(CONFIG, env={var: raw}))
    assert value == expected
    assert type(value) is type(expected)


def test_environment_overrides_keys_the_file_leaves_out(tmp_path):
    """A deployment's own config file need not list every key for WARGA_* to apply."""
    def trim(d: dict) -> None:
        del d["queue"]
        del_key(d, "nlu.threshold")
        del_key(d, "server.port")
    path = write_config(tmp_path, trim)
    s = load_settings(path, env={"WARGA_QUEUE_BACKEND": "redis", "WARGA_NLU_THRESHOLD": "0.7",
                                 "WARGA_SERVER_PORT": "9090"})
    assert (s.queue.backend, s.nlu.threshold, s.server.port) == ("redis", 0.7, 9090)


def test_keys_left_out_take_their_defaults(tmp_path):
    def trim(d: dict) -> None:
        del d["queue"]
        del_key(d, "nlu.threshold")
    s = load_settings(write_config(tmp_path, trim), env={})
    assert (s.queue.backend, s.queue.threads) == ("thread", 4)
    assert 0 < s.nlu.threshold < 1


# -- secrets -------------------------------------------------------------------------------
SECRET_IN_FILE = [
    ("telegram.bot_token", "123456:AAE-bot-token"),
    ("server.secret_key", "session-signing-key-y"),
    ("twilio.auth_token", "twilio-auth-token-z"),
    ("nlu.rasa_token", "rasa-token-t"),
    ("database.password", "hunter2"),
]


@pytest.mark.parametrize("dotted, value", SECRET_IN_FILE, ids=[c[0] for c in SECRET_IN_FILE])
def test_a_secret_in_the_file_is_refused_naming_the_key(tmp_path, dotted, value):
    path = write_config(tmp_path, lambda d: set_key(d, dotted, value))
    message = config_error(path)
    assert message.startswith(f"config: {dotted}:"), message
    assert "environment" in message
    assert value not in message          # never echo the secret itself


def test_secrets_come_from_the_environment(tmp_path):
    env = {"WARGA_SECRET_KEY": "k" * 32, "WARGA_RASA_TOKEN": "rasa-tok",
           "TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_SECRET": "hook",
           "TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "auth",
           "TWILIO_SMS_FROM": "+15005550006", "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
           "WARGA_PUBLIC_URL": "https://warga.example.go.id/"}
    s = load_settings(CONFIG, env=env)
    sec = s.secrets
    assert (sec.secret_key, sec.telegram_bot_token, sec.telegram_webhook_secret) == (
        "k" * 32, "123:abc", "hook")
    assert (sec.twilio_account_sid, sec.twilio_auth_token, sec.twilio_sms_from,
            sec.twilio_whatsapp_from) == ("AC123", "auth", "+15005550006", "whatsapp:+14155238886")
    assert sec.public_url == "https://warga.example.go.id"
    assert s.nlu.rasa_token == "rasa-tok"
    # A copy, so that var/secret-key of a project that has been run is not found next to it.
    empty = load_settings(write_config(tmp_path), env={}).secrets
    assert (empty.secret_key, empty.telegram_bot_token, empty.twilio_auth_token) == ("", "", "")


# -- bad values: one line naming the key and what was expected ------------------------------
BAD = [
    # id, file changes, env, key named, fragments the message must contain
    ("port too big", {"server.port": 70000}, {}, "server.port", ["expected", "65535", "70000"]),
    ("port zero", {"server.port": 0}, {}, "server.port", ["expected", "between 1"]),
    ("port not a number", {"server.port": "http"}, {}, "server.port", ["expected an integer"]),
    ("port fraction from env", {}, {"WARGA_SERVER_PORT": "80.5"}, "server.port", ["integer"]),
    ("threshold 1.5", {"nlu.threshold": 1.5}, {}, "nlu.threshold", ["expected", "1.5"]),
    ("threshold negative", {"nlu.threshold": -0.1}, {}, "nlu.threshold", ["expected", "-0.1"]),
    ("threshold abc from env", {}, {"WARGA_NLU_THRESHOLD": "abc"}, "nlu.threshold",
     ["expected a number, got 'abc'"]),
    ("unknown channel", {"channels.enabled": ["web", "signal"]}, {}, "channels.enabled",
     ["expected", "signal", "telegram"]),
    ("unknown channel from env", {}, {"WARGA_CHANNELS_ENABLED": "web,line"}, "channels.enabled",
     ["expected", "line"]),
    ("unknown queue backend", {"queue.backend": "kafka"}, {}, "queue.backend",
     ["expected", "thread", "redis", "kafka"]),
    ("unknown queue backend from env", {}, {"WARGA_QUEUE_BACKEND": "rabbitmq"}, "queue.backend",
     ["rabbitmq"]),
    ("bad redis url", {"queue.redis_url": "localhost:6379"}, {}, "queue.redis_url", ["expected"]),
    ("mysql database", {"database.url": "mysql://u@h/warga"}, {}, "database.url",
     ["expected", "postgresql", "mysql://u@h/warga"]),
    ("not a database url", {}, {"WARGA_DATABASE_URL": "warga.db"}, "database.url", ["expected"]),
    ("heroku-style postgres url", {}, {"WARGA_DATABASE_URL": "postgres://u@h/warga"},
     "database.url", ["expected"]),
    ("transition to unknown status", {"complaints.transitions.menunggu": ["koordinasi", "dibatalkan"]},
     {}, "complaints.transitions.menunggu", ["dibatalkan"]),
    ("initial status unknown", {"complaints.initial_status": "baru"}, {},
     "complaints.initial_status", ["expected", "baru"]),
    ("category without agency", {"complaints.categories.flood": {"intent": "report_flood"}}, {},
     "complaints.categories.flood.agency", ["expected"]),
    ("category with empty agency", {"complaints.categories.flood.agency": ""}, {},
     "complaints.categories.flood.agency", ["expected"]),
    ("category without intent", {"complaints.categories.tree": {"agency": "Dinas Pertamanan"}}, {},
     "complaints.categories.tree.intent", ["expected"]),
    ("two categories one intent", {"complaints.categories.tree.intent": "report_flood"}, {},
     "complaints.categories.tree.intent", ["report_flood", "flood"]),
    ("category sla zero", {"complaints.categories.flood.coordination_hours": 0}, {},
     "complaints.categories.flood.coordination_hours", ["expected"]),
    ("unknown nlu engine", {"nlu.engine": "gpt"}, {}, "nlu.engine", ["expected", "sklearn", "gpt"]),
    ("autostart not a boolean", {"nlu.rasa_autostart": "maybe"}, {}, "nlu.rasa_autostart",
     ["expected true or false"]),
    ("unsupported default language", {"languages.default": "fr"}, {}, "languages.default",
     ["expected", "fr"]),
    ("lower-case ticket prefix", {"tickets.prefix": "wrg"}, {}, "tickets.prefix", ["expected", "wrg"]),
    ("unknown log level", {"server.log_level": "VERBOSE"}, {}, "server.log_level",
     ["expected", "VERBOSE"]),
    ("section that is not a mapping", {"nlu": 5}, {}, "nlu", ["expected"]),
    ("intent map to no warga intent", {"nlu.intent_map": {"lapor_jalan": "report_road"}}, {},
     "nlu.intent_map.lapor_jalan", ["'report_road' is not a Warga intent", "nearest: report_road_damage"]),
    ("intent map misspelt", {"nlu.intent_map": {"lapor_banjir": "report_flod"}}, {},
     "nlu.intent_map.lapor_banjir", ["not a Warga intent", "nearest: report_flood"]),
    ("intent map not a mapping", {"nlu.intent_map": ["lapor_jalan"]}, {}, "nlu.intent_map", ["expected"]),
    ("entity map to no warga entity", {"nlu.entity_map": {"alamat": "address"}}, {},
     "nlu.entity_map.alamat", ["not a Warga entity", "nearest: location"]),
    ("rasa url not http", {}, {"WARGA_NLU_RASA_URL": "nlu.kota.go.id:5005"}, "nlu.rasa_url",
     ["expected an http(s) URL"]),
    ("public url not http", {}, {"WARGA_PUBLIC_URL": "ftp://warga.example"}, "WARGA_PUBLIC_URL",
     ["expected"]),
]


@pytest.mark.parametrize("changes, env, key, fragments", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_bad_value_is_one_line_naming_the_key(tmp_path, changes, env, key, fragments):
    def mutate(d: dict) -> None:
        for dotted, value in changes.items():
            set_key(d, dotted, value)
    message = config_error(write_config(tmp_path, mutate), env)
    assert message.startswith(f"config: {key}:"), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("server:\n  port: 8080\n host: 127.0.0.1\n", encoding="utf-8")
    message = config_error(path)
    assert str(path) in message
    assert "line 3" in message
    assert "YAML" in message


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nowhere" / "config.yml"
    message = config_error(path)
    assert message.startswith("config:")
    assert str(path) in message


def test_missing_file_from_warga_config(tmp_path):
    path = tmp_path / "missing.yml"
    with pytest.raises(ConfigError, match="missing.yml"):
        load_settings(None, env={"WARGA_CONFIG": str(path)})


def test_a_list_at_the_top_is_refused(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("- server\n- database\n", encoding="utf-8")
    message = config_error(path)
    assert str(path) in message and "mapping" in message


# -- database URLs -------------------------------------------------------------------------
def test_relative_sqlite_path_is_relative_to_the_config_file(tmp_path, monkeypatch):
    path = write_config(tmp_path, lambda d: set_key(d, "database.url", "sqlite:///data/warga.db"),
                        name="etc/config.yml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    s = load_settings(path, env={})
    assert s.database_url == f"sqlite:///{tmp_path / 'etc' / 'data' / 'warga.db'}"
    from_env = load_settings(path, env={"WARGA_DATABASE_URL": "sqlite:///var/other.db"})
    assert from_env.database_url == f"sqlite:///{tmp_path / 'etc' / 'var' / 'other.db'}"
    assert s.nlu.models_dir == tmp_path / "etc" / "var" / "models"


def test_absolute_sqlite_path_is_kept(tmp_path):
    absolute = f"sqlite:///{tmp_path / 'abs.db'}"
    assert load_settings(CONFIG, env={"WARGA_DATABASE_URL": absolute}).database_url == absolute
    path = write_config(tmp_path, lambda d: set_key(d, "database.url", absolute), name="etc/c.yml")
    assert load_settings(path, env={}).database_url == absolute


@pytest.mark.parametrize("given, expected", [
    ("postgresql://warga@127.0.0.1:5432/warga", "postgresql+psycopg://warga@127.0.0.1:5432/warga"),
    ("postgresql://warga:s3cr%40t@db:5432/warga", "postgresql+psycopg://warga:s3cr%40t@db:5432/warga"),
    ("postgresql+psycopg://warga@db/warga", "postgresql+psycopg://warga@db/warga"),
])
def test_postgresql_urls_use_the_psycopg_driver(tmp_path, given, expected):
    assert load_settings(CONFIG, env={"WARGA_DATABASE_URL": given}).database_url == expected
    path = write_config(tmp_path, lambda d: set_key(d, "database.url", given))
    assert load_settings(path, env={}).database_url == expected


# -- unknown keys and variables: one line naming the nearest known one ------------------------
UNKNOWN_KEYS = [
    ("nlu.thresold", 0.6, "config: nlu.thresold: unknown key (did you mean nlu.threshold?)"),
    ("server.prot", 9000, "config: server.prot: unknown key (did you mean server.port?)"),
    ("serverr", {"port": 9000}, "config: serverr: unknown key (did you mean server?)"),
    ("queue.backned", "redis", "config: queue.backned: unknown key (did you mean queue.backend?)"),
    ("complaints.categories.flood.agensi", "Dinas SDA",
     ("config: complaints.categories.flood.agensi: unknown key "
     "(did you mean complaints.categories.flood.agency?)")),
    ("channels.whatsapp_templates.status_change", "",
     ("config: channels.whatsapp_templates.status_change: unknown key "
     "(did you mean channels.whatsapp_templates.status_changed?)")),
    ("complaints.default_sla.resolution_day", 3, ("config: complaints.default_sla.resolution_day: "
     "unknown key (did you mean complaints.default_sla.resolution_days?)")),
]


@pytest.mark.parametrize("dotted, value, expected", UNKNOWN_KEYS, ids=[c[0] for c in UNKNOWN_KEYS])
def test_an_unknown_key_in_the_file_stops_loading_naming_the_nearest(tmp_path, dotted, value, expected):
    assert config_error(write_config(tmp_path, lambda d: set_key(d, dotted, value))) == expected


def test_a_misspelt_key_is_named_before_the_right_one_it_leaves_out(tmp_path):
    """`agensi` instead of `agency`: the admin is told about the typo, not a missing agency."""
    def misspell(d: dict) -> None:
        d["complaints"]["categories"]["flood"] = {"intent": "report_flood", "agensi": "Dinas SDA"}
    assert "unknown key (did you mean complaints.categories.flood.agency?)" in config_error(
        write_config(tmp_path, misspell))


UNKNOWN_VARIABLES = [
    ("WARGA_SERVER_PROT", "1",
     "config: WARGA_SERVER_PROT: unknown setting (did you mean WARGA_SERVER_PORT?)"),
    ("WARGA_NLU_THRESOLD", "0.6",
     "config: WARGA_NLU_THRESOLD: unknown setting (did you mean WARGA_NLU_THRESHOLD?)"),
    ("WARGA_SECRETKEY", "k", "config: WARGA_SECRETKEY: unknown setting (did you mean WARGA_SECRET_KEY?)"),
    ("WARGA_COMPLAINTS_CATEGORIES_FLOODS_AGENCY", "x",
     ("config: WARGA_COMPLAINTS_CATEGORIES_FLOODS_AGENCY: unknown setting "
     "(did you mean WARGA_COMPLAINTS_CATEGORIES_FLOOD_AGENCY?)")),
    ("WARGA_COMPLAINTS_TRANSITIONS", "menunggu", "config: WARGA_COMPLAINTS_TRANSITIONS: unknown setting"),
]


@pytest.mark.parametrize("name, value, expected", UNKNOWN_VARIABLES, ids=[c[0] for c in UNKNOWN_VARIABLES])
def test_an_unknown_warga_variable_stops_loading_naming_the_nearest(name, value, expected):
    message = config_error(CONFIG, {name: value})
    if "(did you mean" in expected:
        assert message == expected
    else:  # nothing close enough to suggest, or a suggestion: either way the name is refused
        assert message.startswith(expected), message


def test_variables_of_other_programs_are_left_alone():
    s = load_settings(CONFIG, env={"WARGAX": "1", "TWILIO_REGION": "ie1", "HOME": "/root",
                                   "PATH": "/usr/bin", "TELEGRAM_SOMETHING": "x"})
    assert s.server.port == 8080


def test_variables_that_are_not_file_keys_but_legitimate_are_accepted(tmp_path):
    env = {"WARGA_CONFIG": str(CONFIG), "WARGA_SECRET_KEY": "k" * 32, "WARGA_RASA_TOKEN": "t",
           "WARGA_PUBLIC_URL": "https://warga.example", "WARGA_DEMO_PASSWORD": "demo-pass",
           "WARGA_NEW_PASSWORD": "new-pass", "WARGA_TEST_PG": "postgresql://postgres@127.0.0.1/postgres"}
    s = load_settings(None, env=env)
    assert (s.config_path, s.secrets.secret_key, s.nlu.rasa_token) == (CONFIG, "k" * 32, "t")


VARIABLE_RE = re.compile(r"\bWARGA_[A-Z][A-Z0-9_]*[A-Z0-9]\b")
# Names this file and the README's example use on purpose as misspellings.
DELIBERATELY_UNKNOWN = {name for name, _, _ in UNKNOWN_VARIABLES} | {"WARGA_XYZ"}


def test_every_warga_variable_the_code_and_tests_read_is_declared():
    """A variable some module reads but nobody declared would stop start-up wherever it is set."""
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    known = {k.env for k in concrete_keys(data) if k.env} | allowed_variables()
    sources = [p for d in ("bot", "channels", "nlu", "tests", "bench", ".ci") for p in (PROJECT / d).rglob("*")
               if p.is_file() and p.suffix in (".py", ".sh", "", ".yml", ".toml", ".md")]
    sources += [PROJECT / "Makefile", PROJECT / "README.md", PROJECT / "config.yml"]
    found: dict[str, Path] = {}
    for path in sources:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for name in VARIABLE_RE.findall(text):
            found.setdefault(name, path)
    assert found, "the scan found nothing: it cannot fail"
    undeclared = {name: str(path.relative_to(PROJECT)) for name, path in found.items()
                  if name not in known and name not in DELIBERATELY_UNKNOWN
                  and "<NAME>" not in name}
    assert not undeclared, f"declare these in bot/settings/schema.py: {undeclared}"


# -- the declarations ------------------------------------------------------------------------
def test_each_key_is_named_warga_plus_its_path_once():
    keys = [k for k in declared_keys() if k.env]
    for key in keys:
        assert key.env == "WARGA_" + "_".join(part.upper() for part in key.path)
        assert key.help.strip(), f"{key.dotted} has no help"
    names = [k.env for k in keys] + sorted(allowed_variables())
    assert len(names) == len(set(names)), "two settings share an environment variable"


def _alternative(key, current):
    """A valid value of ``key`` other than ``current``, derived from its declaration."""
    example = key.extra("example")
    if example is not None and example != current:
        return example
    kind = scalar_type(key.annotation)
    names = choices(kind)
    if kind is bool:
        return not current
    if names:
        return next(n for n in names if n != current)
    if kind in (int, float):
        low, high = key.bounds
        base = current if current is not None else (low or 1)
        for candidate in (base * 2, base + 1, low, high, (low or 0) + 1):
            if (candidate is not None and candidate != current and (low is None or candidate >= low)
                    and (high is None or candidate <= high)):
                return kind(candidate)
    if kind is str:
        return "elsewhere"
    raise AssertionError(f"{key.dotted}: give it an example= in its declaration")


def _as_text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def _get(data, path):
    node = data
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


PROJECT_KEYS = [k for k in concrete_keys(yaml.safe_load(CONFIG.read_text(encoding="utf-8"))) if k.env]


@pytest.mark.parametrize("key", PROJECT_KEYS, ids=[k.dotted for k in PROJECT_KEYS])
def test_every_declared_key_is_read_from_the_file_and_its_variable(key):
    """Changing any one key changes the settings the code reads, the same from the file as from
    the key's variable: no key is documented but ignored."""
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    current = _get(data, key.path)
    if current is None and not key.required:
        current = key.info.default
    value = _alternative(key, current)
    baseline = load_settings(CONFIG, env={})
    from_file = load_settings(CONFIG, env={}, overrides={key.dotted: value})
    from_env = load_settings(CONFIG, env={key.env: _as_text(value)})
    assert from_file != baseline, f"{key.dotted}={value!r} changed nothing"
    assert from_env == from_file


@pytest.mark.parametrize("dotted, value", [
    ("complaints.transitions.ditolak", ["menunggu"]),
    ("nlu.intent_map", {"lapor_jalan": "report_road_damage"}),
    ("nlu.entity_map", {"alamat": "location"}),
    ("complaints.categories.noise", {"intent": "report_noise", "agency": "Satpol PP"}),
])
def test_the_dynamic_mappings_are_read(dotted, value):
    assert load_settings(CONFIG, env={}, overrides={dotted: value}) != load_settings(CONFIG, env={})


# -- config.yml and the README stay in step with the declarations -----------------------------
def _yaml_keys_with_comments(text: str) -> dict[str, bool]:
    """Dotted path of each block-style key in ``text`` -> whether a comment explains it (on its
    line, or on the comment lines right above it)."""
    found: dict[str, bool] = {}
    stack: list[tuple[int, str]] = []
    comment_above = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            comment_above = False
            continue
        if stripped.startswith("#"):
            comment_above = True
            continue
        match = re.match(r"^( *)([A-Za-z_][A-Za-z0-9_]*):(.*)$", line)
        if match is None:
            comment_above = False
            continue
        indent, name, rest = len(match.group(1)), match.group(2), match.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([p for _, p in stack] + [name])
        found[path] = comment_above or " #" in rest
        stack.append((indent, name))
        comment_above = False
    return found


def test_config_yml_has_every_declared_key_with_a_comment_and_nothing_else():
    in_file = _yaml_keys_with_comments(CONFIG.read_text(encoding="utf-8"))
    declared = {k.dotted for k in declared_keys() if "<name>" not in k.path}
    missing = declared - set(in_file)
    assert not missing, f"declared but not in config.yml: {sorted(missing)}"
    dynamic = tuple(k.dotted + "." for k in declared_keys() if k.mapping)
    sections = {".".join(k.path[:n]) for k in declared_keys() for n in range(1, len(k.path))}
    extra = {p for p in in_file if p not in declared and p not in sections and not p.startswith(dynamic)}
    assert not extra, f"in config.yml but not declared: {sorted(extra)}"
    uncommented = sorted(p for p in declared if not in_file[p])
    assert not uncommented, f"keys in config.yml without a comment: {uncommented}"


def test_the_readme_table_is_the_one_the_declarations_render():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    table = table_in(readme)
    assert table is not None, "README.md lost its settings table markers"
    assert table == settings_table(), "README.md's settings table is stale: run `python -m bot.settings.reference`"
    for key in declared_keys():
        assert f"`{key.dotted}`" in table


# -- no side effects; generated secrets made by an explicit step -------------------------------
def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_loading_settings_writes_nothing(tmp_path):
    path = write_config(tmp_path / "etc")
    before = _files(tmp_path)
    s = load_settings(path, env={})
    load_settings(path, env={"WARGA_NLU_ENGINE": "rasa"})
    assert _files(tmp_path) == before
    assert not s.var_dir.exists()
    assert (s.secrets.secret_key, s.nlu.rasa_token) == ("", "")


def test_ensure_local_secrets_creates_them_once_and_loading_then_reads_them(tmp_path):
    path = write_config(tmp_path / "etc")
    made = ensure_local_secrets(load_settings(path, env={}))
    var = tmp_path / "etc" / "var"
    key, token = (var / "secret-key").read_text(), (var / "rasa-token").read_text()
    assert len(key) >= 24 and len(token) >= 24 and key != token
    assert {oct((var / n).stat().st_mode & 0o777) for n in ("secret-key", "rasa-token")} == {"0o600"}
    assert (made.secrets.secret_key, made.secrets.rasa_token, made.nlu.rasa_token) == (key, token, token)
    later = load_settings(path, env={})          # another process of the same installation
    assert (later.secrets.secret_key, later.nlu.rasa_token) == (key, token)
    assert ensure_local_secrets(later) == later  # nothing new to make
    assert (var / "secret-key").read_text() == key


def test_variables_win_over_generated_secrets_and_need_no_file(tmp_path):
    path = write_config(tmp_path / "etc")
    env = {"WARGA_SECRET_KEY": "from-env-key", "WARGA_RASA_TOKEN": "from-env-token"}
    s = ensure_local_secrets(load_settings(path, env=env))
    assert (s.secrets.secret_key, s.nlu.rasa_token) == ("from-env-key", "from-env-token")
    assert not (tmp_path / "etc" / "var").exists()


def test_ensure_local_secrets_names_the_variable_when_var_cannot_be_written(tmp_path):
    path = write_config(tmp_path / "etc")
    # Not writable even for root: var/ points into /proc.
    (tmp_path / "etc" / "var").symlink_to("/proc/self/no-such-directory/var")
    with pytest.raises(ConfigError, match="set WARGA_SECRET_KEY"):
        ensure_local_secrets(load_settings(path, env={}))


def test_an_app_built_without_secrets_writes_nothing_and_uses_a_process_key(tmp_path, caplog):
    from bot.web.app import create_app

    path = write_config(tmp_path / "etc", lambda d: d["nlu"].update(engine="sklearn"))
    settings = load_settings(path, env={}, overrides={
        "database.url": f"sqlite:///{tmp_path / 'warga.db'}", "nlu.rasa_autostart": False,
        "nlu.models_dir": str(trained_models_dir()), "channels.enabled": ["web"]})
    with caplog.at_level(logging.WARNING):
        app = create_app(settings, start_workers=False)
    try:
        assert app.secret_key and len(app.secret_key) >= 32
        assert not (tmp_path / "etc" / "var").exists()
        assert "WARGA_SECRET_KEY" in caplog.text
    finally:
        app.extensions["warga"].close()


def test_warga_db_upgrade_creates_the_secrets_next_to_the_config(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bot.cli import cli

    for name in list(os.environ):
        if name.startswith("WARGA_"):
            monkeypatch.delenv(name)
    path = write_config(tmp_path / "etc", lambda d: set_key(d, "database.url", "sqlite:///var/warga.db"))
    result = CliRunner().invoke(cli, ["--config", str(path), "db", "upgrade"])
    assert result.exit_code == 0, (result.output, result.exception)
    var = tmp_path / "etc" / "var"
    assert (var / "secret-key").is_file() and (var / "rasa-token").is_file()
    s = load_settings(path, env={})
    assert s.secrets.secret_key == (var / "secret-key").read_text()


# -- an external Rasa server -------------------------------------------------------------------
def test_an_external_rasa_server_with_its_maps_and_token(tmp_path):
    def mutate(d: dict) -> None:
        # An intent whose name looks like a secret's is a name, not a secret in the file.
        d["nlu"].update(rasa_url="https://nlu.kota.go.id/", intent_map={
            "lapor_jalan": "report_road_damage", "tanya_auth_token_ktp": "ask_id_card"},
            entity_map={"alamat": "location"})
    path = write_config(tmp_path / "etc", mutate)
    s = load_settings(path, env={"WARGA_NLU_RASA_TOKEN": "their-token"})
    assert s.nlu.external and s.nlu.rasa_base_url == "https://nlu.kota.go.id"
    assert dict(s.nlu.intent_map) == {"lapor_jalan": "report_road_damage", "tanya_auth_token_ktp": "ask_id_card"}
    assert dict(s.nlu.entity_map) == {"alamat": "location"}
    assert s.nlu.rasa_token == "their-token" and "their-token" not in repr(s.secrets) + repr(s.nlu)
    assert load_settings(path, env={"WARGA_RASA_TOKEN": "older-name"}).nlu.rasa_token == "older-name"
    # Warga never makes up a token for a server it does not run.
    made = ensure_local_secrets(load_settings(path, env={}))
    assert made.nlu.rasa_token == "" and made.secrets.secret_key
    assert not (tmp_path / "etc" / "var" / "rasa-token").exists()
    own = load_settings(write_config(tmp_path / "own"), env={})
    assert not own.nlu.external and own.nlu.rasa_base_url == "http://127.0.0.1:5005"
