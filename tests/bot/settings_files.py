"""Helpers of the settings tests: a changed copy of config.yml, and the one-line error it gives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import ConfigError, load_settings

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
