"""Reading what a citizen sent straight from an update's JSON, when python-telegram-bot refuses it.

python-telegram-bot builds its objects strictly: a field it requires that is missing (``date``,
``is_bot``), or a field a newer Bot API made required that an older self-hosted Bot API server
does not send, makes the whole update fail. The citizen's message is still there, so this
module reads the few fields Warga uses, each checked for its type, and gives up only when
nothing usable is left (then the update is stored as unparseable).
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from typing import Any

from channels.base import InboundMessage, Location, Media
from channels.telegram.config import DIGEST_PREFIX, MEDIA_PREFIX, NAME

# The update kinds that carry a message, and whether the message is an edit.
_MESSAGE_KINDS = (("message", False), ("edited_message", True), ("channel_post", False),
                  ("edited_channel_post", True), ("business_message", False),
                  ("edited_business_message", True))
_FILES = (("document", None), ("video", "video/mp4"), ("animation", "video/mp4"), ("voice", "audio/ogg"),
          ("audio", "audio/mpeg"), ("video_note", "video/mp4"))


def read_update(data: dict[str, Any], update_id: int, raw: str, now: datetime) -> InboundMessage | None:
    """Read a citizen's message or button press from the raw update.

    Args:
        data: The decoded update.
        update_id: Its ``update_id``.
        raw: The body as received, kept on the message.
        now: Aware UTC time, for updates without a (readable) date.

    Returns:
        The message, or None when the update holds nothing usable (no chat to answer, or
        nothing a citizen sent).
    """
    for key, edited in _MESSAGE_KINDS:
        message = _dict(data.get(key))
        if message is not None:
            return _message(message, update_id, raw, now, edited=edited)
    query = _dict(data.get("callback_query"))
    if query is not None:
        return _callback(query, update_id, raw, now)
    return None


def sender_of(chat_id: int, chat_type: str, user_id: int | None) -> str:
    """The URN of whoever sent a message: in a group the member's own id, not the group's.

    A channel post has no member (only the channel), so it keeps the chat's id.
    """
    if chat_type != "private" and user_id is not None:
        return f"telegram:{user_id}"
    return f"telegram:{chat_id}"


def _message(m: dict[str, Any], update_id: int, raw: str, now: datetime, *, edited: bool) -> InboundMessage | None:
    chat = _dict(m.get("chat")) or {}
    chat_id, message_id = _int(chat.get("id")), _int(m.get("message_id"))
    if chat_id is None or message_id is None:
        return None
    chat_type = _str(chat.get("type")) or "private"
    user = _dict(m.get("from")) or {}
    user_id = _int(user.get("id"))
    text = _str(m.get("text"))
    if text is None:
        text = _str(m.get("caption")) or ""
    media = _media(m)
    location = _location(m)
    phone = None
    contact = _dict(m.get("contact"))
    if contact is not None:
        number = _str(contact.get("phone_number"))
        if user_id is not None and _int(contact.get("user_id")) == user_id and number:
            phone = "+" + "".join(c for c in number if c.isdigit())
        else:
            text = text or " ".join(filter(None, (_str(contact.get("first_name")), number)))
    if edited:
        kind = "edited"
    elif chat_type != "private":
        kind = "group"
    elif text or media or location or phone:
        kind = "message"
    else:
        return None            # nothing a citizen sent that we could read
    date = _date(m.get("edit_date") if edited else None) or _date(m.get("date")) or now
    name = _name(user) or _str(chat.get("title")) or _name(chat)
    return InboundMessage(
        channel=NAME, external_id=f"{update_id}:{chat_id}:{message_id}" + (":edit" if edited else ""),
        sender=sender_of(chat_id, chat_type, user_id), text=text, received_at=date, sender_name=name,
        media=media, location=location, phone=phone if phone != "+" else None, kind=kind, raw=raw)


def _callback(q: dict[str, Any], update_id: int, raw: str, now: datetime) -> InboundMessage | None:
    query_id = _str(q.get("id"))
    user = _dict(q.get("from")) or {}
    message = _dict(q.get("message")) or {}
    chat = _dict(message.get("chat")) or {}
    user_id, chat_id = _int(user.get("id")), _int(chat.get("id"))
    data = _str(q.get("data"))
    if not query_id or data is None or (user_id is None and chat_id is None):
        return None
    chat_type = _str(chat.get("type")) or "private"
    text = data
    if data.startswith(DIGEST_PREFIX):
        text = _button_title(message, data) or data
    sender = (sender_of(chat_id, chat_type, user_id) if chat_id is not None else f"telegram:{user_id}")
    return InboundMessage(
        channel=NAME, external_id=f"{update_id}:cb:{query_id}", sender=sender, text=text,
        received_at=now, sender_name=_name(user), reply_to_button=data,
        kind="message" if chat_type == "private" else "group", raw=raw, callback_id=query_id)


def _media(m: dict[str, Any]) -> tuple[Media, ...]:
    caption = _str(m.get("caption"))
    photos = m.get("photo")
    if isinstance(photos, list):
        ids = [i for i in (_str(p.get("file_id")) for p in photos if isinstance(p, dict)) if i]
        if ids:
            return (Media(MEDIA_PREFIX + ids[-1], "image/jpeg", caption),)    # largest size last
    for key, default_type in _FILES:
        item = _dict(m.get(key))
        file_id = _str(item.get("file_id")) if item else None
        if item is not None and file_id:
            ctype = _str(item.get("mime_type")) or default_type
            if ctype is None:
                ctype = mimetypes.guess_type(_str(item.get("file_name")) or "")[0]
            return (Media(MEDIA_PREFIX + file_id, ctype, caption),)
    sticker = _dict(m.get("sticker"))
    if sticker is not None and _str(sticker.get("file_id")):
        ctype = ("video/webm" if sticker.get("is_video") is True
                 else "application/x-tgsticker" if sticker.get("is_animated") is True else "image/webp")
        return (Media(MEDIA_PREFIX + str(sticker["file_id"]), ctype, None),)
    return ()


def _location(m: dict[str, Any]) -> Location | None:
    venue = _dict(m.get("venue"))
    point = _point(_dict(venue.get("location")) if venue else None) or _point(_dict(m.get("location")))
    if point is None:
        return None
    address = None
    if venue is not None:
        address = ", ".join(p for p in (_str(venue.get("title")), _str(venue.get("address"))) if p) or None
    return Location(point[0], point[1], address)


def _point(loc: dict[str, Any] | None) -> tuple[float, float] | None:
    if loc is None:
        return None
    lat, lon = _number(loc.get("latitude")), _number(loc.get("longitude"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _button_title(message: dict[str, Any], data: str) -> str | None:
    markup = _dict(message.get("reply_markup")) or {}
    rows = markup.get("inline_keyboard")
    for row in rows if isinstance(rows, list) else ():
        for key in row if isinstance(row, list) else ():
            if isinstance(key, dict) and key.get("callback_data") == data:
                return _str(key.get("text"))
    return None


def _name(who: dict[str, Any]) -> str | None:
    return " ".join(filter(None, (_str(who.get("first_name")), _str(who.get("last_name"))))) or None


def _date(value: Any) -> datetime | None:
    number = _int(value)
    if number is None:
        return None
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
