"""Settings: config.yml, WARGA_* overrides, secrets only from the environment, one-line errors.

Unknown keys and variables, and the declarations that config.yml and the README follow, are
tests/bot/test_settings_declarations.py; loading without side effects and the generated
secrets tests/bot/test_settings_side_effects.py.
"""

from __future__ import annotations

import pytest
import yaml

from bot.settings import ConfigError, ensure_local_secrets, load_settings
from tests.bot.settings_files import CONFIG, PROJECT, config_error, del_key, set_key, write_config


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
