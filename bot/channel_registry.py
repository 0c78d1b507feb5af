"""The one explicit list of channel connectors, switched on in config.yml."""

from __future__ import annotations

import logging
from typing import Mapping

from bot.settings import Settings
from channels.base import Channel
from channels.web import WebChannel

log = logging.getLogger(__name__)


def build_channels(settings: Settings) -> Mapping[str, Channel]:
    """Build the enabled channels. One whose secrets are missing stays off and says so once."""
    channels: dict[str, Channel] = {}
    if "web" in settings.channels_enabled:
        channels["web"] = WebChannel()
    return channels
