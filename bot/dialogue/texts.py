"""Reply texts, one YAML file per language (bot/dialogue/texts/<lang>.yml).

Rendering is strict: an unknown key or a missing placeholder raises :class:`TextError`, so a
citizen never sees "{location}". Citizen-supplied values are inserted as plain text; channels
escape them for their own markup.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from bot import yaml_load

TEXT_DIR = Path(__file__).resolve().parent / "texts"
LANGUAGES = ("id", "en")


class TextError(Exception):
    """A reply text is missing or a placeholder was not given (a programming error)."""


@cache
def catalogue(language: str) -> Mapping[str, Any]:
    path = TEXT_DIR / f"{language}.yml"
    if not path.exists():
        raise TextError(f"no reply texts for language {language!r}")
    data = yaml_load.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TextError(f"{path}: expected a mapping of keys to texts")
    return data


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def render(key: str, language: str, **values: Any) -> str:
    texts = catalogue(language if language in LANGUAGES else "id")
    template = texts.get(key)
    if not isinstance(template, str):
        raise TextError(f"no text {key!r} in {language}")
    missing = placeholders(template) - values.keys()
    if missing:
        raise TextError(f"text {key!r} ({language}) needs {', '.join(sorted(missing))}")
    out = template.format_map({k: str(v) for k, v in values.items()})
    if not out.strip():
        raise TextError(f"text {key!r} ({language}) rendered empty")
    return out


def name_of(group: str, key: str, language: str) -> str:
    """A display name from a nested table (status_names, category_names); the key if unknown."""
    table = catalogue(language if language in LANGUAGES else "id").get(group, {})
    return str(table.get(key, key.replace("_", " ").capitalize()))
