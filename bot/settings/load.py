"""Loading: config.yml, then WARGA_* variables, then the caller's overrides; one-line errors.

Order of work: read the file; refuse secrets in it; refuse unknown WARGA_* variables; put each
variable's text, converted to its key's type, over the file; validate everything against the
declarations (bot/settings/schema.py); check what spans keys (the default language is supported,
transitions name known statuses ...); then assemble :class:`~bot.settings.values.Settings`.
Nothing is written: generated secrets are only read here (bot/settings/local_secrets.py).
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_origin

import yaml
from pydantic import ValidationError

from bot import yaml_load
from bot.settings.keys import (
    Key,
    choices,
    concrete_keys,
    entry_section,
    known_paths,
    scalar_type,
    section_of,
)
from bot.settings.local_secrets import LOCAL_SECRET_FILES, read_local_secret
from bot.settings.schema import (
    NOTIFICATION_KINDS,
    OTHER_ENV,
    ConfigFile,
    Secrets,
    Section,
)
from bot.settings.values import (
    Category,
    ChannelSettings,
    ComplaintSettings,
    ConfigError,
    Settings,
    TrainingSettings,
)
from nlu.config import NluConfig, NluConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_ROOT / "config.yml"
# Keys that look like secrets are refused in the file: they must come from the environment.
_SECRET_KEY_RE = re.compile(r"(token|secret|password|auth)", re.IGNORECASE)
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_BOUND_ERRORS = {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}


def load_settings(path: str | os.PathLike[str] | None = None,
                  env: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Load and validate settings; no side effects.

    Args:
        path: The YAML file; default ``$WARGA_CONFIG`` or the project's config.yml.
        env: The environment (default ``os.environ``).
        overrides: Dotted keys set after the environment (tests use this).

    Raises:
        ConfigError: One line naming the key (or variable) and what was expected.
    """
    env = os.environ if env is None else env
    config_path = Path(path or env.get("WARGA_CONFIG") or DEFAULT_CONFIG)
    data = _read(config_path)
    _refuse_secrets(data)
    by_env = {key.env: key for key in concrete_keys(data) if key.env}
    _refuse_unknown_variables(env, by_env)
    for name, key in by_env.items():
        if name in env:
            _set(data, key.path, _from_text(env[name], key.annotation))
    for dotted, value in (overrides or {}).items():
        _set(data, tuple(dotted.split(".")), copy.deepcopy(value))
    _fill_sections(data, ConfigFile)
    try:
        config = ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_message(exc, data)) from None
    return _assemble(config, config_path, _secrets(env, config_path.resolve().parent / "var"))


# -- the file --------------------------------------------------------------------------------
def _read(config_path: Path) -> dict[str, Any]:
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config: cannot read {config_path}: {exc.strerror or exc}") from None
    try:
        data = yaml_load.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config: {config_path}{where}: not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config: {config_path}: expected a mapping of sections at the top")
    return data


#: Mappings whose keys are names of another system (an intent called "ask_auth..."), not settings.
_NAME_MAPPINGS = {("nlu", "intent_map"), ("nlu", "entity_map")}


def _refuse_secrets(node: Any, path: tuple[str, ...] = ()) -> None:
    if not isinstance(node, dict) or path in _NAME_MAPPINGS:
        return
    for k, v in node.items():
        key_path = path + (str(k),)
        if _SECRET_KEY_RE.search(str(k)) and not isinstance(v, dict):
            raise ConfigError(f"config: {'.'.join(key_path)}: secrets are read only from the environment, "
                              "remove this key from the file")
        _refuse_secrets(v, key_path)


def _fill_sections(data: dict[str, Any], model: type[Section]) -> None:
    """A section left out (or empty) takes its defaults; so does a key left empty."""
    for name, info in model.model_fields.items():
        if name in data and data[name] is None:
            del data[name]
        section = section_of(info.annotation)
        if section is not None:
            node = data.setdefault(name, {})
            if isinstance(node, dict):
                _fill_sections(node, section)
        entry = entry_section(info.annotation)
        if entry is not None and isinstance(data.get(name), dict):
            for item in data[name].values():
                if isinstance(item, dict):
                    _fill_sections(item, entry)


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for part in path[:-1]:
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            return  # validation reports the section that is not a mapping
    node[path[-1]] = value


# -- the environment -------------------------------------------------------------------------
def allowed_variables() -> set[str]:
    """The WARGA_* (and provider) variables read outside config.yml's keys."""
    return {v for name in Secrets.model_fields for v in Secrets.variables(name)} | {v.name for v in OTHER_ENV}


def _refuse_unknown_variables(env: Mapping[str, str], by_env: Mapping[str, Key]) -> None:
    allowed = allowed_variables()
    for name in sorted(env):
        if name.startswith("WARGA_") and name not in by_env and name not in allowed:
            raise ConfigError(f"config: {name}: unknown setting{_did_you_mean(name, [*by_env, *allowed])}")


def _from_text(text: str, annotation: Any) -> Any:
    """Environment text as the key's type; left as text when it does not convert (then the
    validation error shows what was given)."""
    text = text.strip()
    kind = scalar_type(annotation)
    if kind is bool:
        low = text.lower()
        return True if low in _TRUE else False if low in _FALSE else text
    if kind in (int, float):
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if kind is int and number.is_integer() else number
    if get_origin(kind) is list:
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _secrets(env: Mapping[str, str], var_dir: Path) -> Secrets:
    try:
        secrets = Secrets.model_validate(dict(env))
    except ValidationError as exc:
        error = exc.errors()[0]
        variable = str(error["loc"][0])
        field = next(n for n in Secrets.model_fields if variable in Secrets.variables(n))
        extra = Secrets.model_fields[field].json_schema_extra
        expected = extra.get("expected") if isinstance(extra, dict) else None
        raise ConfigError(f"config: {variable}: expected {expected or 'text'}, "
                          f"got {error['input']!r}") from None
    found = {f: read_local_secret(var_dir, f) for f in LOCAL_SECRET_FILES if not getattr(secrets, f)}
    return secrets.model_copy(update={f: v for f, v in found.items() if v})


# -- error messages --------------------------------------------------------------------------
def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _message(exc: ValidationError, data: Mapping[str, Any]) -> str:
    errors = exc.errors()
    # A misspelt key also leaves its right spelling "missing": name the misspelling first.
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    path, key, section, in_entry = _locate(error["loc"])
    dotted = ".".join(path)
    if error["type"] == "extra_forbidden":
        return f"config: {dotted}: unknown key{_did_you_mean(dotted, known_paths(data))}"
    if section is not None:
        got = "nothing" if error["type"] == "missing" else type(error["input"]).__name__
        return f"config: {dotted}: expected {section.expected}, got {got}"
    got = "nothing" if error["type"] == "missing" else repr(error["input"])
    if key is None:
        return f"config: {dotted}: {error['msg']}, got {got}"
    return f"config: {dotted}: expected {_expected(key, error['type'], in_entry)}, got {got}"


def _locate(loc: tuple[int | str, ...]) -> tuple[list[str], Key | None, type[Section] | None, bool]:
    """Where an error is: the dotted path to name, the key, the section when the error is about
    a whole section, and whether it is about one entry of a list or mapping key."""
    path: list[str] = []
    model: type[Section] | None = ConfigFile
    i = 0
    while i < len(loc):
        part = loc[i]
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return path + [str(part)], None, None, False
        info = model.model_fields[part]
        path.append(part)
        i += 1
        model = section_of(info.annotation)
        if model is not None:
            continue
        entry = entry_section(info.annotation)
        if entry is not None and i < len(loc):
            path.append(str(loc[i]))
            i += 1
            model = entry
            continue
        key = Key(tuple(path), info, mapping=_is_mapping(info.annotation))
        rest = loc[i:]
        if rest and key.mapping:
            path.append(str(rest[0]))  # name the entry, e.g. complaints.transitions.menunggu
        return path, key, None, bool(rest)
    return path, None, model, False


def _is_mapping(annotation: Any) -> bool:
    return get_origin(annotation) is dict


def _expected(key: Key, error_type: str, in_entry: bool) -> str:
    if in_entry and key.extra("item_expected"):
        return str(key.extra("item_expected"))
    if key.extra("expected"):
        return str(key.extra("expected"))
    kind = scalar_type(key.annotation)
    names = choices(kind)
    if kind in (int, float):
        noun = "an integer" if kind is int else "a number"
        if error_type in _BOUND_ERRORS:
            low, high = key.bounds
            bounds = f">= {low or 0:g}" if high is None else f"between {low or 0:g} and {high:g}"
            return f"{noun} {bounds}"
        return noun
    if kind is bool:
        return "true or false"
    if get_origin(kind) is list:
        return f"names from {', '.join(names)}" if in_entry and names else "a list of names"
    if names:
        return f"one of {', '.join(names)}"
    if key.extra("pattern") and error_type == "string_pattern_mismatch":
        return str(key.extra("pattern"))
    return "a non-empty string"


# -- the settings object ---------------------------------------------------------------------
def _resolve_path(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else (base / p).resolve()


def _database_url(base: Path, url: str) -> str:
    # Relative SQLite paths are relative to the config file, so `make run` works from anywhere.
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        return "sqlite:///" + str(_resolve_path(base, url[len("sqlite:///"):]))
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _complaints(config: ConfigFile) -> ComplaintSettings:
    c = config.complaints
    transitions = {str(status): tuple(nexts or ()) for status, nexts in c.transitions.items()}
    for status, nexts in transitions.items():
        for n in nexts:
            if n not in transitions:
                raise ConfigError(f"config: complaints.transitions.{status}: unknown status {n!r}")
    if c.initial_status not in transitions:
        raise ConfigError(f"config: complaints.initial_status: expected one of {', '.join(transitions)}, "
                          f"got {c.initial_status!r}")
    categories = tuple(
        Category(name=str(name), intent=cat.intent, agency=cat.agency,
                 coordination_hours=float(c.default_sla.coordination_hours if cat.coordination_hours is None
                                          else cat.coordination_hours),
                 resolution_days=float(c.default_sla.resolution_days if cat.resolution_days is None
                                       else cat.resolution_days))
        for name, cat in c.categories.items())
    seen: dict[str, str] = {}
    for cat in categories:
        if cat.intent in seen:
            raise ConfigError(f"config: complaints.categories.{cat.name}.intent: {cat.intent!r} is already "
                              f"used by category {seen[cat.intent]!r}")
        seen[cat.intent] = cat.name
    return ComplaintSettings(initial_status=c.initial_status, transitions=transitions,
                             reopen_days=float(c.reopen_days), categories=categories,
                             duplicate_days=float(c.duplicate_days),
                             duplicate_distance_m=float(c.duplicate_distance_m))


def _assemble(config: ConfigFile, config_path: Path, secrets: Secrets) -> Settings:
    base = config_path.resolve().parent
    languages = tuple(config.languages.supported)
    if config.languages.default not in languages:
        raise ConfigError(f"config: languages.default: expected one of {', '.join(languages)}, "
                          f"got {config.languages.default!r}")
    n = config.nlu
    try:
        nlu = NluConfig(
            engine=n.engine, threshold=n.threshold,
            data_dir=_resolve_path(base, n.data_dir), models_dir=_resolve_path(base, n.models_dir),
            var_dir=_resolve_path(base, n.var_dir), rasa_url=n.rasa_url, rasa_host=n.rasa_host,
            rasa_port=n.rasa_port, intent_map=n.intent_map, entity_map=n.entity_map,
            rasa_token=secrets.rasa_token, rasa_timeout=n.rasa_timeout,
            rasa_retry_after=n.rasa_retry_after, rasa_venv=_resolve_path(base, n.rasa_venv),
            rasa_config=_resolve_path(base, n.rasa_config), ticket_prefix=config.tickets.prefix)
    except NluConfigError as exc:
        raise ConfigError(f"config: {exc}") from None
    ch = config.channels
    return Settings(
        config_path=config_path,
        server=config.server,
        database_url=_database_url(base, config.database.url),
        queue=config.queue,
        outbox=config.outbox,
        channels=ChannelSettings(
            enabled=tuple(ch.enabled), send_timeout=ch.send_timeout,
            telegram_api_url=ch.telegram_api_url, twilio_api_url=ch.twilio_api_url.rstrip("/"),
            twilio_media_origin=ch.twilio_media_origin,
            whatsapp_templates=tuple((kind, sid) for kind in NOTIFICATION_KINDS
                                     if (sid := getattr(ch.whatsapp_templates, kind)))),
        nlu=nlu,
        default_language=config.languages.default,
        languages=languages,
        ticket_prefix=config.tickets.prefix,
        complaints=_complaints(config),
        secrets=secrets,
        var_dir=base / "var",
        timezone=config.city.timezone,
        rasa_autostart=n.rasa_autostart,
        knowledge_dir=_resolve_path(base, config.city.knowledge_dir),
        media_dir=_resolve_path(base, config.storage.media_dir),
        dialogue=config.dialogue,
        security=config.security,
        console=config.console,
        training=TrainingSettings(n.gate_margin, n.gate_intent_f1_floor, n.live_check_seconds),
    )
