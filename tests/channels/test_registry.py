"""channels.registry builds the enabled connectors from plain options, and says why the
others stay off; each connector declares its optional abilities as protocols."""

from __future__ import annotations

import pytest

from channels.base import (
    AnswersButtons,
    Channel,
    CitizenAbilities,
    Closeable,
    DeclaresWebhooks,
    DescribesCitizenAbilities,
    FetchesMedia,
    ManagesWebhook,
    Polls,
    WebhookRoute,
)
from channels.registry import ChannelOptions, build_channel, build_channels
from channels.terminal import TerminalChannel
from channels.twilio import EMPTY_TWIML

TWILIO = dict(twilio_account_sid="AC" + "1" * 32, twilio_auth_token="token",
              twilio_sms_from="+15005550006", twilio_whatsapp_from="+14155238886")
TELEGRAM = dict(telegram_bot_token="123:abc", telegram_webhook_secret="s3cret")
EVERYTHING = ("web", "telegram", "sms", "whatsapp")


@pytest.mark.parametrize("enabled, options, on, off", [
    (EVERYTHING, {**TWILIO, **TELEGRAM, "public_url": "https://kota.go.id"}, EVERYTHING, []),
    (("web", "telegram"), {}, ("web",), ["telegram"]),
    (("telegram",), {"telegram_bot_token": "123:abc"}, ("telegram",), ["telegram-webhook"]),
    (("telegram",), {"telegram_bot_token": "no-colon"}, (), ["telegram"]),
    (("sms", "whatsapp"), {}, (), ["sms", "whatsapp"]),
    (("sms", "whatsapp"), {**TWILIO, "twilio_whatsapp_from": ""}, ("sms",), ["whatsapp", "twilio-signature"]),
    (("whatsapp",), {**TWILIO, "public_url": "https://kota.go.id"}, ("whatsapp",), []),
])
def test_build_channels(enabled: tuple[str, ...], options: dict[str, str], on: tuple[str, ...],
                        off: list[str]) -> None:
    built = build_channels(ChannelOptions(enabled=enabled, **options))    # type: ignore[arg-type]
    assert sorted(built.channels) == sorted(on)
    assert [name for name, _ in built.off] == off
    assert all(reason for _, reason in built.off)


def test_build_one_channel_even_when_it_is_off() -> None:
    options = ChannelOptions(enabled=("web",), **TELEGRAM, **TWILIO)     # type: ignore[arg-type]
    assert build_channel(options, "telegram").name == "telegram"
    assert build_channel(options, "whatsapp").name == "whatsapp"
    with pytest.raises(ValueError, match="TELEGRAM_BOT_TOKEN"):
        build_channel(ChannelOptions(enabled=()), "telegram")
    with pytest.raises(ValueError, match="TWILIO_ACCOUNT_SID"):
        build_channel(ChannelOptions(enabled=()), "sms")


ABILITIES = (DeclaresWebhooks, FetchesMedia, AnswersButtons, Closeable, Polls, ManagesWebhook,
             DescribesCitizenAbilities)


@pytest.mark.parametrize("name, abilities", [
    ("telegram", set(ABILITIES) - {DescribesCitizenAbilities}),
    ("sms", {DeclaresWebhooks, FetchesMedia, DescribesCitizenAbilities}),
    ("whatsapp", {DeclaresWebhooks, FetchesMedia, DescribesCitizenAbilities}),
    ("web", set()),
])
def test_connectors_declare_their_abilities(name: str, abilities: set[type]) -> None:
    options = ChannelOptions(enabled=EVERYTHING, **TELEGRAM, **TWILIO)    # type: ignore[arg-type]
    channel = build_channels(options).channels[name]
    assert isinstance(channel, Channel)
    assert {a for a in ABILITIES if isinstance(channel, a)} == abilities


@pytest.mark.parametrize("name, abilities", [
    ("sms", CitizenAbilities(share_location=False, send_photos=False)),
    ("whatsapp", CitizenAbilities(share_location=True, send_photos=True)),
])
def test_sms_citizens_can_neither_share_a_map_point_nor_send_a_photo(name: str,
                                                                      abilities: CitizenAbilities) -> None:
    options = ChannelOptions(enabled=EVERYTHING, **TWILIO)    # type: ignore[arg-type]
    channel = build_channels(options).channels[name]
    assert isinstance(channel, DescribesCitizenAbilities) and channel.citizen_abilities == abilities


def test_terminal_is_a_plain_channel() -> None:
    channel = TerminalChannel(print)
    assert isinstance(channel, Channel) and not any(isinstance(channel, a) for a in ABILITIES)


def test_twilio_channels_share_their_routes_and_telegram_answers_json() -> None:
    options = ChannelOptions(enabled=EVERYTHING, **TELEGRAM, **TWILIO)    # type: ignore[arg-type]
    channels = build_channels(options).channels
    sms, wa, tg = (channels[n] for n in ("sms", "whatsapp", "telegram"))
    assert isinstance(sms, DeclaresWebhooks) and isinstance(wa, DeclaresWebhooks) and isinstance(tg, DeclaresWebhooks)
    assert sms.webhook_routes() == wa.webhook_routes() == (
        WebhookRoute("/webhooks/twilio", "inbound", EMPTY_TWIML, "text/xml"),
        WebhookRoute("/webhooks/twilio/status", "status", EMPTY_TWIML, "text/xml"))
    assert tg.webhook_routes() == (WebhookRoute("/webhooks/telegram", "inbound", '{"ok":true}\n',
                                                "application/json"),)
