"""The settings object the rest of the code reads, built by :func:`bot.settings.load_settings`.

The shape is the code's, not the file's: sections whose shape is the same are the declared models
themselves (``settings.server`` is a :class:`~bot.settings.schema.ServerSettings`); the others are
assembled here from validated values (paths resolved, SLA defaults applied, lists as tuples).
No defaults live here: they are declared once, in bot/settings/schema.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.settings.schema import (
    ConsoleSection,
    DialogueSection,
    OutboxSettings,
    QueueSettings,
    Secrets,
    SecuritySection,
    ServerSettings,
)
from nlu.config import NluConfig


class ConfigError(Exception):
    """A setting is missing or wrong. The message is one line meant for the admin."""


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    enabled: tuple[str, ...]
    send_timeout: float
    telegram_api_url: str
    twilio_api_url: str
    twilio_media_origin: str
    #: (notification kind, Content SID) for the kinds that have a template.
    whatsapp_templates: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class TrainingSettings:
    """The gate and the live switch of retrained models (``nlu.gate_*``, ``nlu.live_check_seconds``)."""

    gate_margin: float
    gate_intent_f1_floor: float
    live_check_seconds: float


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
    duplicate_days: float = 14.0
    duplicate_distance_m: float = 150.0

    def category(self, name: str) -> Category | None:
        return next((c for c in self.categories if c.name == name), None)

    def category_for_intent(self, intent: str | None) -> Category | None:
        return next((c for c in self.categories if c.intent == intent), None)


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
    secrets: Secrets
    var_dir: Path
    timezone: str
    rasa_autostart: bool
    knowledge_dir: Path
    media_dir: Path
    dialogue: DialogueSection
    security: SecuritySection
    console: ConsoleSection
    training: TrainingSettings

    @property
    def channels_enabled(self) -> tuple[str, ...]:
        return self.channels.enabled
