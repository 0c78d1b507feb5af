"""Settings: every key declared once; unknown keys and WARGA_* variables stop loading naming the
nearest known one; config.yml and the README's table follow the declarations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.settings import load_settings
from bot.settings.keys import choices, concrete_keys, declared_keys, scalar_type
from bot.settings.load import allowed_variables
from bot.settings.reference import settings_table, table_in
from tests.bot.settings_files import CONFIG, PROJECT, config_error, set_key, write_config

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
