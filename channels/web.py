"""The web chat channel: the page at ``/`` and any city app using the JSON chat API.

There is no provider to call: a reply is "delivered" once stored, and the client fetches it
(in the POST's answer or by polling GET /api/v1/chat/messages). A photo comes as a form POST
whose file the web layer has already checked and saved: it is "fetched" at once.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import PurePath

from channels.base import (
    Button,
    DeliveryStatus,
    Inbound,
    InboundMessage,
    InvalidRequest,
    Location,
    Media,
    OutboundMessage,
    SendResult,
    UploadedFile,
    WebhookRequest,
)

# The page uses 32 hex characters (128 random bits); apps may use any opaque id of this shape.
SENDER_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# A client-chosen message id makes a retried POST (bad connection) idempotent.
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_TEXT = 4000
#: A language code of the ``language`` field (which ones a city offers is the server's choice).
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")
#: The button payload a language choice becomes: "lang:en".
LANGUAGE_PAYLOAD = "lang:"
#: The form field of a photo upload.
PHOTO_FIELD = "photo"


class WebChatError(InvalidRequest):
    """The request is not a valid chat message; the text says what to fix."""


class WebChannel:
    """Parses the chat API's JSON and "sends" by leaving the reply in the store."""

    name = "web"

    def verify(self, request: WebhookRequest) -> None:
        """Accept every request: the sender id is the credential (whoever knows it reads that
        conversation), and a malformed body is the client's error (:class:`WebChatError`)."""
        return None

    def parse_body(self, data: object, external_id: str, photos: tuple[UploadedFile, ...] = ()) -> InboundMessage:
        """Validate a decoded JSON body (or a photo upload's form fields) and build the message.

        Args:
            data: The decoded JSON object, or the form fields of a ``multipart/form-data`` POST.
            external_id: The de-duplication key.
            photos: Photos that came with a form POST, already checked and saved.

        Raises:
            WebChatError: With a message for the API client.
        """
        if not isinstance(data, dict):
            raise WebChatError("body must be a JSON object")
        sender = data.get("sender")
        if not isinstance(sender, str) or not SENDER_RE.match(sender):
            raise WebChatError("sender must be an opaque id of 16-64 letters, digits, '-' or '_'")
        text = data.get("text", "")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise WebChatError("text must be a string")
        if len(text) > MAX_TEXT:
            raise WebChatError(f"text is longer than {MAX_TEXT} characters")
        button = data.get("button")
        if button is not None and (not isinstance(button, str) or len(button) > 200):
            raise WebChatError("button must be a string of at most 200 characters")
        language = data.get("language")
        if language is not None:
            if not isinstance(language, str) or not LANGUAGE_RE.match(language):
                raise WebChatError("language must be a language code such as \"id\" or \"en\"")
            if text.strip() or button is not None or data.get("location") is not None or photos:
                raise WebChatError("send language alone: it changes the language of the conversation")
            # The choice travels as a button press, so the dialogue (which owns the
            # conversation's language) applies it in order with the other messages.
            button = LANGUAGE_PAYLOAD + language
        location = None
        if data.get("location") is not None:
            loc = data["location"]
            try:
                lat, lon = float(loc["lat"]), float(loc["lon"])
            except (TypeError, KeyError, ValueError):
                raise WebChatError("location must be {\"lat\": number, \"lon\": number}") from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise WebChatError("location is outside the valid latitude/longitude range")
            location = Location(lat, lon)
        if not text.strip() and button is None and location is None and not photos:
            raise WebChatError("send text, a button, a location or a photo")
        # Like a Telegram photo: the words sent with it are its caption and the message's text.
        caption = text.strip() or None
        media = tuple(Media(f"web-upload:{PurePath(p.path).name}", p.content_type, caption,
                            file_name=p.filename[:200] or None, local_path=p.path, size=p.size)
                      for p in photos)
        name = data.get("name")
        return InboundMessage(
            channel="web", external_id=external_id, sender=f"web:{sender}",
            text=button if button is not None else text,
            received_at=datetime.now(UTC), location=location, reply_to_button=button,
            sender_name=name[:100] if isinstance(name, str) and name.strip() else None,
            media=media, raw=json.dumps(data, ensure_ascii=False)[:10000])

    def parse_inbound(self, request: WebhookRequest) -> list[Inbound]:
        """Parse a POST of the chat API: a JSON body, or form fields with a photo.

        Raises:
            WebChatError: The body is not a valid chat message (answer 400 with its text).
        """
        photos: tuple[UploadedFile, ...] = ()
        data: object
        if request.files or request.form or request.header("content-type").startswith("multipart/form-data"):
            data = dict(reversed(request.form))      # a repeated field: the first one counts
            photos = tuple(f for f in request.files if f.field == PHOTO_FIELD)
            if len(photos) > 1:
                raise WebChatError("send one photo per message")
        else:
            try:
                data = json.loads(request.body)
            except ValueError:   # UnicodeDecodeError (not UTF-8) included
                raise WebChatError("body is not valid JSON") from None
            except RecursionError:
                raise WebChatError("body is nested too deeply") from None
        client_id = data.get("id") if isinstance(data, dict) else None
        if client_id is not None and (not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id)):
            raise WebChatError("id must be 8-64 letters, digits, '-' or '_'")
        sender = data.get("sender") if isinstance(data, dict) else None
        external = f"{sender}:{client_id}" if client_id else uuid.uuid4().hex
        return [self.parse_body(data, external, photos)]

    def send(self, message: OutboundMessage) -> SendResult:
        return self.record_delivery(message)

    def record_delivery(self, message: OutboundMessage) -> SendResult:
        """Stored is delivered: the client reads it (channels.base.DeliversOnStore). There is no
        provider id: the reply's own id is what the client knows it by."""
        return SendResult((), DeliveryStatus.delivered)


def buttons_json(buttons: tuple[Button, ...]) -> list[dict[str, str]]:
    return [{"title": b.title, "payload": b.payload} for b in buttons]
