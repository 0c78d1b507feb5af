"""The one explicit list of channel connectors, switched on in config.yml."""

from __future__ import annotations

import logging
from typing import Mapping

from bot.settings import Settings
from channels.base import Channel
from channels.telegram import TelegramChannel, TelegramConfig
from channels.twilio import TwilioConfig, twilio_channels
from channels.web import WebChannel

log = logging.getLogger(__name__)
_warned: set[str] = set()


def _off(channel: str, reason: str) -> None:
    # Said once per process, not on every request.
    if channel not in _warned:
        _warned.add(channel)
        log.warning("channel is off", extra={"channel": channel, "reason": reason})


def telegram_config(settings: Settings) -> TelegramConfig | None:
    sec = settings.secrets
    if not sec.telegram_bot_token:
        return None
    t = settings.channels.send_timeout
    return TelegramConfig(token=sec.telegram_bot_token, webhook_secret=sec.telegram_webhook_secret,
                          api_base_url=settings.channels.telegram_api_url,
                          read_timeout=t, write_timeout=t)


def twilio_config(settings: Settings) -> TwilioConfig | None:
    sec = settings.secrets
    if not (sec.twilio_account_sid and sec.twilio_auth_token):
        return None
    return TwilioConfig(
        account_sid=sec.twilio_account_sid, auth_token=sec.twilio_auth_token,
        sms_from=sec.twilio_sms_from if "sms" in settings.channels_enabled else "",
        whatsapp_from=sec.twilio_whatsapp_from if "whatsapp" in settings.channels_enabled else "",
        public_url=sec.public_url, api_base_url=settings.channels.twilio_api_url,
        media_api_origin=settings.channels.twilio_media_origin,
        timeout=settings.channels.send_timeout,
        whatsapp_templates=settings.channels.whatsapp_templates)


def build_channels(settings: Settings) -> Mapping[str, Channel]:
    """Build the enabled channels. One whose secrets are missing stays off and says so once."""
    enabled = settings.channels_enabled
    channels: dict[str, Channel] = {}
    if "web" in enabled:
        channels["web"] = WebChannel()
    if "telegram" in enabled:
        try:
            cfg = telegram_config(settings)
        except ValueError as exc:
            cfg = None
            _off("telegram", str(exc))
        if cfg is None:
            _off("telegram", "TELEGRAM_BOT_TOKEN is not set")
        else:
            if not cfg.webhook_secret:
                _off("telegram-webhook", "TELEGRAM_WEBHOOK_SECRET is not set: the webhook refuses "
                                         "every request (polling still works)")
            channels["telegram"] = TelegramChannel(cfg)
    wanted = [c for c in ("sms", "whatsapp") if c in enabled]
    if wanted:
        cfg_tw = twilio_config(settings)
        if cfg_tw is None:
            for c in wanted:
                _off(c, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set")
        else:
            built = twilio_channels(cfg_tw)
            for c in wanted:
                if c in built:
                    channels[c] = built[c]
                else:
                    _off(c, f"TWILIO_{c.upper()}_FROM is not set")
            if built and not settings.secrets.public_url:
                _off("twilio-signature", "WARGA_PUBLIC_URL is not set: Twilio signatures are checked "
                                         "against the URL Flask sees (use a proxy that keeps it)")
    return channels
