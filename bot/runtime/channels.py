"""The enabled channel connectors, built from the settings by ``channels.registry``.

bot/ never imports a provider package: it translates its settings into the neutral
``ChannelOptions`` and uses what the connectors declare (routes, optional abilities).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.settings import Settings
from channels.base import Channel
from channels.registry import ChannelOptions, build_channel
from channels.registry import build_channels as _build

log = logging.getLogger(__name__)
_warned: set[str] = set()


def _off(channel: str, reason: str) -> None:
    # Said once per process, not on every request.
    if channel not in _warned:
        _warned.add(channel)
        log.warning("channel is off", extra={"channel": channel, "reason": reason})


def channel_options(settings: Settings) -> ChannelOptions:
    """The connectors' view of the settings."""
    sec, ch = settings.secrets, settings.channels
    return ChannelOptions(
        enabled=settings.channels_enabled, public_url=sec.public_url, send_timeout=ch.send_timeout,
        telegram_bot_token=sec.telegram_bot_token, telegram_webhook_secret=sec.telegram_webhook_secret,
        telegram_api_url=ch.telegram_api_url,
        twilio_account_sid=sec.twilio_account_sid, twilio_auth_token=sec.twilio_auth_token,
        twilio_sms_from=sec.twilio_sms_from, twilio_whatsapp_from=sec.twilio_whatsapp_from,
        twilio_api_url=ch.twilio_api_url, twilio_media_origin=ch.twilio_media_origin,
        whatsapp_templates=ch.whatsapp_templates)


def build_channels(settings: Settings) -> Mapping[str, Channel]:
    """Build the enabled channels. One whose secrets are missing stays off and says so once."""
    built = _build(channel_options(settings))
    for name, reason in built.off:
        _off(name, reason)
    return built.channels


def one_channel(settings: Settings, name: str) -> Channel:
    """The connector ``name`` alone, built even when it is off (``warga channels``).

    Raises:
        ValueError: Its credentials are missing or malformed (the message says which).
    """
    return build_channel(channel_options(settings), name)
