"""Telegram inbound: the secret header and a table of real-shaped updates."""

from __future__ import annotations

from typing import Any

import pytest

from channels.base import (
    Channel,
    ContactEvent,
    InboundMessage,
    Location,
    Media,
    StatusUpdate,
    Unparseable,
    WebhookRejected,
    WebhookRequest,
)
from channels.telegram import TelegramChannel, TelegramConfig, callback_data_for
from tests.channels.telegram.support import (
    HOOK,
    LONG_PAYLOAD,
    NOW,
    PAYLOADS,
    SECRET,
    SITI,
    TOKEN,
    at,
    loop_threads,
    payload,
    webhook,
)

# -- verify ----------------------------------------------------------------------------

def test_is_a_channel(offline: TelegramChannel) -> None:
    assert isinstance(offline, Channel)
    assert offline.name == "telegram"


@pytest.mark.parametrize("headers, ok", [
    ({"x-telegram-bot-api-secret-token": SECRET}, True),
    ({"X-Telegram-Bot-Api-Secret-Token": SECRET}, True),       # any header-name case
    ({}, False),
    ({"x-telegram-bot-api-secret-token": ""}, False),
    ({"x-telegram-bot-api-secret-token": "wrong"}, False),
    ({"x-telegram-bot-api-secret-token": SECRET[:-1]}, False),  # a prefix is not enough
    ({"x-telegram-bot-api-secret-token": SECRET + "x"}, False),
], ids=["ok", "mixed-case-name", "missing", "empty", "wrong", "prefix", "longer"])
def test_verify_secret_header(offline: TelegramChannel, headers: dict[str, str], ok: bool) -> None:
    request = WebhookRequest(url=HOOK, headers=headers, body=b"{}")
    if ok:
        offline.verify(request)
    else:
        with pytest.raises(WebhookRejected):
            offline.verify(request)


def test_verify_rejects_everything_without_a_configured_secret() -> None:
    channel = TelegramChannel(TelegramConfig(token=TOKEN))
    with pytest.raises(WebhookRejected):
        channel.verify(webhook(b"{}", secret=""))
    with pytest.raises(WebhookRejected):
        channel.verify(webhook(b"{}", secret="anything"))


def test_config_refuses_a_secret_telegram_would_reject_and_hides_secrets() -> None:
    with pytest.raises(ValueError):
        TelegramConfig(token=TOKEN, webhook_secret="bad secret!")
    with pytest.raises(ValueError):
        TelegramConfig(token="")
    assert TOKEN not in repr(TelegramConfig(token=TOKEN, webhook_secret=SECRET))
    assert SECRET not in repr(TelegramConfig(token=TOKEN, webhook_secret=SECRET))


# -- parse: the payload table ------------------------------------------------------------

PHOTO = Media("tg-file:AgACAgUAAxkBAAIBZ2dHlarge", "image/jpeg", "Sampah menumpuk di Jl. Melati RT 03")

MESSAGES: list[tuple[str, dict[str, Any]]] = [
    ("text.json", dict(kind="message", external_id="731245001:3527065:41", sender=SITI,
                       text="Jalan di depan rumah saya berlubang besar, sudah dua minggu belum diperbaiki.",
                       sender_name="Siti Rahayu", received_at=at(1732780800))),
    ("command_start.json", dict(kind="message", text="/start", external_id="731245002:3527065:42")),
    ("command_status.json", dict(kind="message", text="/status JKT-2024-000123")),   # "@WargaKotaBot" dropped
    ("command_batal.json", dict(kind="message", text="/batal")),
    ("photo_caption.json", dict(kind="message", text="Sampah menumpuk di Jl. Melati RT 03", media=(PHOTO,))),
    ("document.json", dict(kind="message", text="Surat pengantar dari RT", media=(
        Media("tg-file:BQACAgUAAxkBAAIBaGdHdoc", "application/pdf", "Surat pengantar dari RT"),))),
    ("voice.json", dict(kind="message", text="", media=(Media("tg-file:AwACAgUAAxkBAAIBaWdHvoice", "audio/ogg"),))),
    ("sticker.json", dict(kind="message", media=(Media("tg-file:CAACAgIAAxkBAAIBbGdHsticker", "image/webp"),))),
    ("location.json", dict(kind="message", text="", location=Location(-6.175392, 106.827153))),
    ("venue.json", dict(kind="message", location=Location(
        -6.2, 106.816666, "Bundaran HI, Jl. M.H. Thamrin, Menteng, Jakarta Pusat"))),
    ("contact_own.json", dict(kind="message", phone="+6281234567890", text="")),
    # Someone else's contact card must not link that number to this citizen.
    ("contact_other.json", dict(kind="message", phone=None, text="Pak RT +62 811-2233-4455")),
    ("callback_query.json", dict(kind="message", text="category:jalan_rusak", reply_to_button="category:jalan_rusak",
                                 callback_id="4382bfdwdsb323b2d9", external_id="731245012:cb:4382bfdwdsb323b2d9",
                                 sender=SITI, received_at=NOW)),
    # A payload over 64 bytes went out as a digest: the title comes back as the text.
    ("callback_digest.json", dict(kind="message", text="Ya, kirim", reply_to_button=callback_data_for(LONG_PAYLOAD),
                                  callback_id="4382bfdwdsb323b2e0")),
    ("edited_message.json", dict(kind="edited", external_id="731245014:3527065:41:edit", received_at=at(1732780999),
                                 text="Jalan di depan rumah saya berlubang besar, sudah tiga minggu.")),
    ("channel_post.json", dict(kind="group", sender="telegram:-1001234567890", sender_name="Info Kelurahan Menteng")),
    # A group member keeps their own id (issue 9); a channel post has only the channel's.
    ("group_message.json", dict(kind="group", sender=SITI, text="Lampu jalan di gang 3 mati lagi")),
    # python-telegram-bot refuses these (a required field is missing); the tolerant reader
    # reads the citizen's message from the JSON (issue 9).
    ("missing_date.json", dict(kind="message", text="tanpa tanggal", sender=SITI, received_at=NOW,
                               external_id="731245023:3527065:55", sender_name="Siti Rahayu")),
    ("old_server_photo.json", dict(kind="message", text="Pohon tumbang di Jl. Kenanga", sender=SITI,
                                   media=(Media("tg-file:AgACAgUAAxkBAAIBold-large", "image/jpeg",
                                                "Pohon tumbang di Jl. Kenanga"),))),
    ("missing_is_bot.json", dict(kind="message", text="halo", sender=SITI, received_at=at(1732781070),
                                 external_id="731245024:3527065:56")),
    ("my_chat_member_kicked.json", dict(kind="member", event="blocked", text="kicked", sender=SITI,
                                        external_id="731245017:member:3527065", received_at=at(1732781020))),
    ("my_chat_member_unblocked.json", dict(kind="member", event="unblocked", text="member")),
    ("message_reaction.json", dict(kind="ignored", sender=SITI, external_id="731245019:message_reaction")),
    ("dice.json", dict(kind="ignored", text="")),
]

UNPARSEABLE: list[tuple[str, str, str | None]] = [
    ("unknown_kind.json", "unsupported update kind: unknown:future_thing", "731245021:unparseable"),
    ("only_update_id.json", "unsupported update kind", "731245022:unparseable"),
    ("message_without_chat.json", "message without chat", "731245025:unparseable"),
    ("no_update_id.json", "update_id missing", None),
    ("not_object.json", "not an object", None),
    ("malformed.json", "invalid JSON", None),
    ("empty.json", "empty body", None),
]


@pytest.mark.parametrize("name, expected", MESSAGES, ids=[n for n, _ in MESSAGES])
def test_parse_payload_table(offline: TelegramChannel, name: str, expected: dict[str, Any]) -> None:
    items = offline.parse_inbound(payload(name))
    assert len(items) == 1
    item = items[0]
    assert isinstance(item, InboundMessage), item
    assert item.channel == "telegram"
    assert item.raw == (PAYLOADS / name).read_text()
    for attr, value in expected.items():
        assert getattr(item, attr) == value, attr


@pytest.mark.parametrize("name, reason, key", UNPARSEABLE, ids=[n for n, _, _ in UNPARSEABLE])
def test_parse_unparseable_table(offline: TelegramChannel, name: str, reason: str, key: str | None) -> None:
    items = offline.parse_inbound(payload(name))
    assert len(items) == 1
    item = items[0]
    assert isinstance(item, Unparseable), item
    assert reason in item.reason
    assert item.raw == (PAYLOADS / name).read_text()
    assert item.received_at == NOW
    if key is not None:
        assert item.external_id == key
    else:       # no update_id: the key is derived from the body, so a retry maps to the same key
        [again] = offline.parse_inbound(payload(name))
        assert isinstance(again, Unparseable), again
        assert item.external_id.startswith("raw:") and again.external_id == item.external_id


def test_parsing_never_touches_the_network(offline: TelegramChannel) -> None:
    for path in PAYLOADS.iterdir():
        offline.parse_inbound(payload(path.name))
    assert not loop_threads()


def test_an_edit_never_collides_with_the_original(offline: TelegramChannel) -> None:
    [original] = offline.parse_inbound(payload("text.json"))
    [edit] = offline.parse_inbound(payload("edited_message.json"))
    assert isinstance(original, InboundMessage) and isinstance(edit, InboundMessage)
    assert original.external_id != edit.external_id
    assert original.external_id.split(":")[1:] == edit.external_id.split(":")[1:3]   # same chat and message_id


def key_of(item: InboundMessage | StatusUpdate | Unparseable) -> str:
    """The de-duplication key of a parsed update (Telegram sends no delivery receipts)."""
    assert not isinstance(item, StatusUpdate), item
    return item.external_id


def test_a_provider_retry_gives_the_same_external_id(offline: TelegramChannel) -> None:
    first = [key_of(offline.parse_inbound(payload(p.name))[0]) for p in sorted(PAYLOADS.iterdir())]
    second = [key_of(offline.parse_inbound(payload(p.name))[0]) for p in sorted(PAYLOADS.iterdir())]
    assert first == second
    assert len(set(first)) == len(first)


@pytest.mark.parametrize("name, event", [
    ("my_chat_member_kicked.json", ContactEvent.blocked),        # the citizen blocked the bot
    ("my_chat_member_unblocked.json", ContactEvent.unblocked),
    ("text.json", None),
    ("command_start.json", None),       # /start is the dialogue's, not an opt-in
])
def test_contact_facts(offline: TelegramChannel, name: str, event: ContactEvent | None) -> None:
    [item] = offline.parse_inbound(payload(name))
    assert isinstance(item, InboundMessage)
    assert (item.event, item.provider_answered) == (event, False)   # Telegram answers nothing itself
