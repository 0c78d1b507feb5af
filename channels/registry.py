"""The one explicit list of channel connectors, built from plain options.

``bot`` fills :class:`ChannelOptions` from its settings and calls :func:`build_channels`; it
never imports a provider package itself. To add a channel, add its connector package and a
branch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from channels.base import Channel
from channels.telegram import TelegramChannel, TelegramConfig
from channels.twilio import TwilioConfig, twilio_channels
from channels.web import WebChannel


@dataclass(frozen=True, slots=True)
class ChannelOptions:
    """What the connectors need to know, independent of how the application stores it.

    Attributes:
        enabled: Channel names switched on.
        public_url: The https base URL providers call (Twilio signs it).
        send_timeout: Seconds for one provider call.
        telegram_bot_token, telegram_webhook_secret, telegram_api_url: Telegram.
        twilio_account_sid, twilio_auth_token, twilio_sms_from, twilio_whatsapp_from,
            twilio_api_url, twilio_media_origin, whatsapp_templates: Twilio.
    """

    enabled: tuple[str, ...]
    public_url: str = ""
    send_timeout: float = 10.0
    telegram_bot_token: str = field(default="", repr=False)
    telegram_webhook_secret: str = field(default="", repr=False)
    telegram_api_url: str = "https://api.telegram.org"
    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", repr=False)
    twilio_sms_from: str = ""
    twilio_whatsapp_from: str = ""
    twilio_api_url: str = ""
    twilio_media_origin: str = "https://api.twilio.com"
    whatsapp_templates: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Built:
    """The connectors that are on, and why the others (or parts of them) are off.

    Attributes:
        channels: Connector by channel name.
        off: (channel or feature, reason) pairs to tell the operator once.
    """

    channels: dict[str, Channel]
    off: tuple[tuple[str, str], ...]


def build_channels(options: ChannelOptions) -> Built:
    """Build the enabled connectors; one whose secrets are missing stays off, with a reason."""
    channels: dict[str, Channel] = {}
    off: list[tuple[str, str]] = []
    enabled = options.enabled
    if "web" in enabled:
        channels["web"] = WebChannel()
    if "telegram" in enabled:
        try:
            telegram = build_telegram(options)
        except ValueError as exc:
            off.append(("telegram", str(exc)))
        else:
            channels["telegram"] = telegram
            if not options.telegram_webhook_secret:
                off.append(("telegram-webhook", "TELEGRAM_WEBHOOK_SECRET is not set: the webhook refuses "
                                                "every request (polling still works)"))
    wanted = [c for c in ("sms", "whatsapp") if c in enabled]
    if wanted:
        if not (options.twilio_account_sid and options.twilio_auth_token):
            off += [(c, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set") for c in wanted]
        else:
            built = twilio_channels(TwilioConfig(
                account_sid=options.twilio_account_sid, auth_token=options.twilio_auth_token,
                sms_from=options.twilio_sms_from if "sms" in enabled else "",
                whatsapp_from=options.twilio_whatsapp_from if "whatsapp" in enabled else "",
                public_url=options.public_url, api_base_url=options.twilio_api_url,
                media_api_origin=options.twilio_media_origin, timeout=options.send_timeout,
                whatsapp_templates=options.whatsapp_templates))
            for c in wanted:
                if c in built:
                    channels[c] = built[c]
                else:
                    off.append((c, f"TWILIO_{c.upper()}_FROM is not set"))
            if built and not options.public_url:
                off.append(("twilio-signature", "WARGA_PUBLIC_URL is not set: Twilio signatures are "
                                                "checked against the URL Flask sees (use a proxy that keeps it)"))
    return Built(channels, tuple(off))


def build_channel(options: ChannelOptions, name: str) -> Channel:
    """Build one provider connector alone, whether or not it is enabled (``warga channels``
    manages a webhook before the channel is switched on).

    Raises:
        ValueError: Unknown name, or its credentials are missing or malformed.
    """
    if name == "telegram":
        return build_telegram(options)
    built = build_channels(replace(options, enabled=(name,)))
    if name not in built.channels:
        reasons = [reason for channel, reason in built.off if channel == name]
        raise ValueError(reasons[0] if reasons else f"unknown channel {name!r}")
    return built.channels[name]


def build_telegram(options: ChannelOptions) -> Channel:
    """Build the Telegram connector alone.

    Raises:
        ValueError: No token, or a token or secret Telegram would refuse.
    """
    if not options.telegram_bot_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    t = options.send_timeout
    return TelegramChannel(TelegramConfig(
        token=options.telegram_bot_token, webhook_secret=options.telegram_webhook_secret,
        api_base_url=options.telegram_api_url, read_timeout=t, write_timeout=t))
