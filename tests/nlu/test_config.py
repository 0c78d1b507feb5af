"""NluConfig validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.config import NluConfig, NluConfigError


def test_defaults_are_valid() -> None:
    config = NluConfig()
    assert config.engine == "rasa" and config.rasa_host == "127.0.0.1"
    assert config.rasa_base_url == "http://127.0.0.1:5005"
    assert config.sklearn_models_dir == Path("var/models/sklearn")
    assert config.rasa_models_dir == Path("var/models/rasa")


def test_string_paths_become_paths() -> None:
    config = NluConfig(models_dir="/tmp/m")  # type: ignore[arg-type]
    assert config.models_dir == Path("/tmp/m")


@pytest.mark.parametrize(
    "field, value, key",
    [
        ("engine", "dialogflow", "nlu.engine"),
        ("threshold", 1.5, "nlu.threshold"),
        ("threshold", "high", "nlu.threshold"),
        ("rasa_port", 70000, "nlu.rasa_port"),
        ("rasa_timeout", 0, "nlu.rasa_timeout"),
        ("ticket_prefix", "W-R", "nlu.ticket_prefix"),
        ("models_dir", 42, "nlu.models_dir"),
    ],
)
def test_bad_values_name_the_key(field: str, value: object, key: str) -> None:
    with pytest.raises(NluConfigError, match=key):
        NluConfig(**{field: value})  # type: ignore[arg-type]
