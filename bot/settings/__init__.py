"""Settings: config.yml, overridden by WARGA_* environment variables, secrets from the environment.

Every key is declared once, in :mod:`bot.settings.schema` (type, default, bounds, help; its
variable is ``WARGA_`` plus its path in capitals). :func:`load_settings` reads and validates them
without side effects; a wrong value, an unknown key or an unknown ``WARGA_*`` variable fails with
one :class:`ConfigError` line that names it, which the CLI prints before exiting 1.
:func:`ensure_local_secrets` is the one step that writes (var/secret-key, var/rasa-token).
The README's settings table is rendered from the declarations (:mod:`bot.settings.reference`).
"""

from bot.settings.load import DEFAULT_CONFIG, PROJECT_ROOT, load_settings
from bot.settings.local_secrets import ensure_local_secrets
from bot.settings.schema import (
    KNOWN_CHANNELS,
    NOTIFICATION_KINDS,
    OutboxSettings,
    QueueSettings,
    Secrets,
    ServerSettings,
)
from bot.settings.values import (
    Category,
    ChannelSettings,
    ComplaintSettings,
    ConfigError,
    Settings,
)

__all__ = [
    "DEFAULT_CONFIG", "KNOWN_CHANNELS", "NOTIFICATION_KINDS", "PROJECT_ROOT", "Category",
    "ChannelSettings", "ComplaintSettings", "ConfigError", "OutboxSettings", "QueueSettings",
    "Secrets", "ServerSettings", "Settings", "ensure_local_secrets", "load_settings",
]
