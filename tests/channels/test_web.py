"""The web chat connector: JSON bodies and photo forms into inbound messages."""

from __future__ import annotations

import json

import pytest

from channels.base import InboundMessage, UploadedFile, WebhookRequest
from channels.web import WebChannel, WebChatError

SENDER = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
PHOTO = UploadedFile("photo", "<b>foto</b>.jpg", "image/jpeg", "/srv/media/web/0123abcd.jpg", 2048)


def parse_json(body: dict[str, object]) -> InboundMessage:
    [msg] = WebChannel().parse_inbound(WebhookRequest("http://x/api", {}, json.dumps(body).encode()))
    assert isinstance(msg, InboundMessage)
    return msg


def parse_form(fields: dict[str, str], *files: UploadedFile) -> InboundMessage:
    [msg] = WebChannel().parse_inbound(WebhookRequest("http://x/api", {}, b"", form=tuple(fields.items()),
                                                      files=files))
    assert isinstance(msg, InboundMessage)
    return msg


def test_a_language_choice_is_a_press_the_dialogue_applies():
    msg = parse_json({"sender": SENDER, "language": "en", "id": "lang-0000001"})
    assert msg.reply_to_button == "lang:en" and msg.text == "lang:en"
    assert msg.external_id == f"{SENDER}:lang-0000001"


def test_a_photo_form_becomes_a_photo_already_held_here():
    msg = parse_form({"sender": SENDER, "id": "photo-000001", "text": "lubang besar"}, PHOTO)
    assert msg.text == "lubang besar" and msg.external_id == f"{SENDER}:photo-000001"
    [media] = msg.media
    assert media.url == "web-upload:0123abcd.jpg" and media.content_type == "image/jpeg"
    assert media.caption == "lubang besar" and media.file_name == "<b>foto</b>.jpg"
    assert media.local_path == PHOTO.path and media.size == 2048
    # A photo alone is a message too (as on Telegram).
    assert parse_form({"sender": SENDER}, PHOTO).media[0].caption is None


def test_a_json_body_cannot_name_a_file():
    msg = parse_json({"sender": SENDER, "text": "hi", "photo": "/etc/passwd", "media": [{"url": "/etc/passwd"}]})
    assert msg.media == ()


@pytest.mark.parametrize("body,needle", [
    ({"sender": SENDER, "language": "en", "text": "hi"}, "alone"),
    ({"sender": SENDER, "language": "english"}, "language code"),
    ({"sender": SENDER, "language": 5}, "language code"),
    ({"sender": SENDER}, "photo"),
])
def test_invalid_bodies_say_what_to_fix(body, needle):
    with pytest.raises(WebChatError, match=needle):
        parse_json(body)


def test_one_photo_per_message():
    with pytest.raises(WebChatError, match="one photo"):
        parse_form({"sender": SENDER}, PHOTO, PHOTO)
