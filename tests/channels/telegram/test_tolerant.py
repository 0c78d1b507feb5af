"""The tolerant reader: a Telegram update lacking any one field, optional or "always present"
(https://core.telegram.org/bots/api#update, #message, #callbackquery), still gives the
citizen's message, unless what is missing is what makes it one (issue 9).

Every citizen payload in tests/payloads/telegram/ is taken apart one field at a time: each
variant must parse without raising into exactly one item; when the field is not one of the
few a message cannot do without (the update id, the chat's id, the message id, the button
press's id), the item is still the same message from the same citizen.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from channels.base import InboundMessage, Unparseable, WebhookRequest
from channels.telegram import TelegramChannel
from tests.channels.telegram.support import NOW, PAYLOADS, SITI

CITIZEN_PAYLOADS = ["text.json", "command_start.json", "photo_caption.json", "document.json", "voice.json",
                    "sticker.json", "location.json", "venue.json", "contact_own.json", "contact_other.json",
                    "callback_query.json", "callback_digest.json", "edited_message.json"]
# Without these there is no message to speak of: the update becomes unparseable.
ESSENTIAL = {("update_id",), ("message",), ("message", "chat"), ("message", "chat", "id"),
             ("message", "message_id"), ("edited_message",), ("edited_message", "chat"),
             ("edited_message", "chat", "id"), ("edited_message", "message_id"),
             ("callback_query",), ("callback_query", "id"),
             # ... or when the one thing the citizen sent can no longer be read.
             ("message", "voice", "file_id"), ("message", "sticker", "file_id"),
             ("message", "location", "latitude"), ("message", "location", "longitude")}


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path of a JSON object (list items included)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def without(data: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    parent: Any = out
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return out


def cases() -> Iterator[Any]:
    for name in CITIZEN_PAYLOADS:
        data = json.loads((PAYLOADS / name).read_text())
        for path in paths(data):
            yield pytest.param(name, path, id=f"{name}-{'.'.join(map(str, path))}")


def parse(channel: TelegramChannel, data: dict[str, Any]) -> Any:
    items = channel.parse_inbound(WebhookRequest("https://x/webhooks/telegram", {}, json.dumps(data).encode()))
    assert len(items) == 1
    return items[0]


@pytest.mark.parametrize("name, path", list(cases()))
def test_an_update_lacking_one_field_still_gives_the_message(offline: TelegramChannel, name: str,
                                                             path: tuple[Any, ...]) -> None:
    data = json.loads((PAYLOADS / name).read_text())
    whole = parse(offline, data)
    assert isinstance(whole, InboundMessage)
    item = parse(offline, without(data, path))
    if path in ESSENTIAL:
        assert isinstance(item, Unparseable | InboundMessage)
        return
    assert isinstance(item, InboundMessage), (path, item)
    assert (item.external_id, item.sender) == (whole.external_id, whole.sender)
    assert item.received_at.tzinfo is not None


PTB_REFUSES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # "date" is required of every Message; a self-hosted Bot API server may predate a field
    # a newer python-telegram-bot requires (here: is_bot, chat.type).
    "no date": ({"message_id": 5, "chat": {"id": 3527065, "type": "private"},
                 "from": {"id": 3527065, "is_bot": False, "first_name": "Siti"}, "text": "halo"},
                dict(text="halo", received_at=NOW)),
    "no is_bot, a photo": ({"message_id": 6, "date": 1732781070, "chat": {"id": 3527065, "type": "private"},
                            "from": {"id": 3527065, "first_name": "Siti"}, "caption": "got",
                            "photo": [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
                                      {"file_id": "big", "file_unique_id": "b", "width": 800, "height": 800}]},
                           dict(text="got", media_urls=["tg-file:big"])),
    "no chat type, a venue": ({"message_id": 7, "date": 1732781070, "chat": {"id": 3527065},
                               "from": {"id": 3527065, "is_bot": False, "first_name": "Siti"},
                               "venue": {"location": {"latitude": -6.2, "longitude": 106.8}, "title": "Monas",
                                         "address": "Gambir"}},
                              dict(text="", location=(-6.2, 106.8, "Monas, Gambir"))),
    "no is_bot, own contact": ({"message_id": 8, "date": 1732781070, "chat": {"id": 3527065, "type": "private"},
                                "from": {"id": 3527065, "first_name": "Siti"},
                                "contact": {"phone_number": "62 812 3456 7890", "user_id": 3527065}},
                               dict(phone="+6281234567890")),
    "no is_bot, a document": ({"message_id": 9, "date": 1732781070, "chat": {"id": 3527065, "type": "private"},
                               "from": {"id": 3527065, "first_name": "Siti"},
                               "document": {"file_id": "doc1", "file_name": "surat.pdf"}},
                              dict(media_urls=["tg-file:doc1"], media_types=["application/pdf"])),
}


@pytest.mark.parametrize("name", list(PTB_REFUSES))
def test_what_python_telegram_bot_refuses_is_read_from_the_json(offline: TelegramChannel, name: str) -> None:
    message, expected = PTB_REFUSES[name]
    item = parse(offline, {"update_id": 900, "message": message})
    assert isinstance(item, InboundMessage), item
    assert (item.kind, item.sender, item.external_id) == ("message", SITI, f"900:3527065:{message['message_id']}")
    got = dict(text=item.text, received_at=item.received_at, phone=item.phone,
               media_urls=[m.url for m in item.media], media_types=[m.content_type for m in item.media],
               location=(item.location.lat, item.location.lon, item.location.address) if item.location else None)
    for key, want in expected.items():
        assert got[key] == want, key


def test_a_button_press_without_from_in_a_group_keeps_the_members_id(offline: TelegramChannel) -> None:
    update = {"update_id": 901, "callback_query": {
        "id": "cb-1", "chat_instance": "1", "data": "yes", "from": {"id": 3527065, "first_name": "Siti"},
        "message": {"message_id": 3, "date": 1, "chat": {"id": -100123, "type": "supergroup", "title": "RW 05"}}}}
    item = parse(offline, update)      # no is_bot: PTB refuses it
    assert isinstance(item, InboundMessage)
    assert (item.sender, item.kind, item.reply_to_button, item.callback_id) == (SITI, "group", "yes", "cb-1")


@pytest.mark.parametrize("message", [
    {"message_id": 5, "date": 1, "from": {"id": 3527065, "first_name": "Siti"}, "text": "no chat"},
    {"message_id": 5, "date": 1, "chat": {"id": 3527065, "type": "private"}, "voice": {"duration": 3}},
    {"message_id": 5, "date": 1, "chat": {"id": 3527065, "type": "private"}, "from": "nobody"},
    {"chat": {"id": 3527065, "type": "private"}, "text": "no message id"},
    {"message_id": 5, "date": 1, "chat": {"id": 3527065, "type": "private"}, "location": {"latitude": "x"}},
])
def test_a_body_with_nothing_usable_is_unparseable(offline: TelegramChannel, message: dict[str, Any]) -> None:
    assert isinstance(parse(offline, {"update_id": 902, "message": message}), Unparseable)
