"""Telegram inbound: check the webhook secret and turn one ``Update`` into one item.

Parsing never raises: an exception would become a 5xx, and Telegram re-sends a failing
update for ever while holding every later update behind it (notes/channel-pitfalls.md §1,
§3). A malformed update becomes :class:`~channels.base.Unparseable`, stored raw.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import mimetypes
import re
from datetime import datetime
from typing import Any

from telegram import Message, Update

from channels.base import (
    ContactEvent,
    Inbound,
    InboundMessage,
    Location,
    Media,
    Unparseable,
    WebhookRejected,
    WebhookRequest,
)
from channels.telegram import tolerant
from channels.telegram.config import DIGEST_PREFIX, MEDIA_PREFIX, NAME, TelegramConfig

log = logging.getLogger(__name__)
_COMMAND_RE = re.compile(r"^(/[A-Za-z0-9_]{1,32})@[A-Za-z0-9_]+(?=\s|$)")


def verify_secret(config: TelegramConfig, request: WebhookRequest) -> None:
    """Check ``X-Telegram-Bot-Api-Secret-Token`` in constant time.

    Raises:
        WebhookRejected: The header is missing or wrong, or no secret is configured.
    """
    expected = config.webhook_secret
    if not expected:
        raise WebhookRejected("telegram: no webhook secret configured")
    got = request.header("X-Telegram-Bot-Api-Secret-Token")
    if not got:
        raise WebhookRejected("telegram: missing X-Telegram-Bot-Api-Secret-Token")
    if not hmac.compare_digest(got.encode("utf-8"), expected.encode("utf-8")):
        raise WebhookRejected("telegram: wrong X-Telegram-Bot-Api-Secret-Token")


def parse_update(request: WebhookRequest, now: datetime) -> list[Inbound]:
    """Turn one webhook (or polled) update into exactly one item. Never raises.

    Args:
        request: The update's raw body.
        now: Aware UTC time, for updates that carry no date.
    """
    raw = request.body.decode("utf-8", errors="replace")
    if not raw.strip():
        return [_unparseable(None, "empty body", raw, now)]
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return [_unparseable(None, f"invalid JSON: {exc}", raw, now)]
    except RecursionError:
        return [_unparseable(None, "invalid JSON: nested too deeply", raw, now)]
    if not isinstance(data, dict):
        return [_unparseable(None, "JSON body is not an object", raw, now)]
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return [_unparseable(None, "update_id missing or not an integer", raw, now)]
    try:
        return [_read_update(Update.de_json(data, None), update_id, raw, now)]
    except Exception as exc:  # noqa: BLE001 - the parse edge: a malformed field becomes Unparseable
        # PTB reports missing fields as plain TypeError/KeyError/AttributeError (notes §1).
        # The citizen's message is usually still readable: read it from the JSON itself.
        reason = f"{type(exc).__name__}: {exc}"
    try:
        message = tolerant.read_update(data, update_id, raw, now)
    except Exception as exc:  # noqa: BLE001 - never a 5xx: Telegram would re-send it for ever
        reason += f"; then {type(exc).__name__}: {exc}"
        message = None
    if message is None:
        return [_unparseable(update_id, reason, raw, now)]
    log.info("telegram: update %s read from its JSON (%s)", update_id, reason)
    return [message]


def _unparseable(update_id: int | None, reason: str, raw: str, now: datetime) -> Unparseable:
    # A retry of the same bad body must map to the same key, so it is stored once.
    key = (f"{update_id}:unparseable" if update_id is not None
           else "raw:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32])
    log.info("telegram: unparseable update %s: %s", key, reason)   # the raw body is stored, not logged
    return Unparseable(NAME, key, reason, raw, now)


def _read_update(u: Update, update_id: int, raw: str, now: datetime) -> Inbound:
    # External ids start with update_id but also name the chat and message: Telegram
    # restarts update_id at a random value after a week without updates
    # (https://core.telegram.org/bots/api#getting-updates), and a bare update_id could
    # then collide with a stored one and drop a new message as a "duplicate".
    if u.message is not None:
        return _read_message(u.message, update_id, raw, edited=False)
    if u.edited_message is not None:
        return _read_message(u.edited_message, update_id, raw, edited=True)
    if u.channel_post is not None:
        return _read_message(u.channel_post, update_id, raw, edited=False)
    if u.edited_channel_post is not None:
        return _read_message(u.edited_channel_post, update_id, raw, edited=True)
    if u.callback_query is not None:
        return _read_callback(u, update_id, raw, now)
    if u.my_chat_member is not None:
        return _read_member(u, update_id, raw)
    kinds = [k for k in Update.ALL_TYPES if getattr(u, k, None) is not None]
    kind = kinds[0] if kinds else "unknown:" + ",".join(sorted(u.api_kwargs))
    chat, user = u.effective_chat, u.effective_user
    if chat is None and user is None:
        return _unparseable(update_id, f"unsupported update kind: {kind}", raw, now)
    # Known kinds we do not act on (reactions, chat_member, inline queries...): stored on
    # purpose so the transcript is complete, never processed.
    return InboundMessage(
        channel=NAME, external_id=f"{update_id}:{kind}",
        sender=f"telegram:{chat.id if chat is not None else user.id}",  # type: ignore[union-attr]
        text="", received_at=now, sender_name=user.full_name if user else None,
        kind="ignored", raw=raw)


def _read_message(m: Message, update_id: int, raw: str, *, edited: bool) -> InboundMessage:
    chat = m.chat
    if chat is None:
        raise ValueError("message without chat")     # becomes Unparseable at the edge
    user = m.from_user
    text = m.text if m.text is not None else (m.caption or "")
    if m.text and any(e.type == "bot_command" and e.offset == 0 for e in m.entities):
        text = _COMMAND_RE.sub(r"\1", text)          # "/status@WargaBot 12" -> "/status 12"
    media = _media_of(m)
    location = _location_of(m)
    phone = None
    if m.contact is not None:
        # Only the citizen's *own* contact (shared with the request_contact button) links
        # a phone number to them; a forwarded contact card of someone else must not.
        if user is not None and m.contact.user_id == user.id:
            phone = normalize_phone(m.contact.phone_number)
        else:
            text = text or " ".join(filter(None, (m.contact.first_name, m.contact.phone_number)))
    if edited:
        kind = "edited"
    elif chat.type != "private":
        kind = "group"      # groups and channels are stored, not answered (a policy choice)
    elif text or media or location or phone:
        kind = "message"
    else:
        kind = "ignored"    # a dice, a poll, a service message: nothing to answer
    external_id = f"{update_id}:{chat.id}:{m.message_id}" + (":edit" if edited else "")
    at = (m.edit_date if edited and m.edit_date else m.date)
    name = user.full_name if user is not None else (chat.title or chat.full_name)
    sender = tolerant.sender_of(chat.id, chat.type, user.id if user is not None else None)
    return InboundMessage(channel=NAME, external_id=external_id, sender=sender,
                          text=text, received_at=at, sender_name=name, media=media,
                          location=location, phone=phone, kind=kind, raw=raw)


def _read_callback(u: Update, update_id: int, raw: str, now: datetime) -> InboundMessage:
    q = u.callback_query
    assert q is not None
    message = q.message
    chat = message.chat if message is not None else None
    data = q.data
    text = data or ""
    if data and data.startswith(DIGEST_PREFIX):
        text = _button_title(message, data) or data
    kind = "group" if chat is not None and chat.type != "private" else "message"
    if data is None:
        kind = "ignored"   # a game button: no payload of ours
    return InboundMessage(
        channel=NAME, external_id=f"{update_id}:cb:{q.id}",
        sender=(tolerant.sender_of(chat.id, chat.type, q.from_user.id) if chat is not None
                else f"telegram:{q.from_user.id}"),
        text=text, received_at=now,   # a callback_query carries no date
        sender_name=q.from_user.full_name, reply_to_button=data, kind=kind, raw=raw,
        callback_id=q.id)


def _read_member(u: Update, update_id: int, raw: str) -> InboundMessage:
    m = u.my_chat_member
    assert m is not None
    old, new = m.old_chat_member.status, m.new_chat_member.status
    event = None
    if m.chat.type == "private":
        # "kicked" in a private chat is how Telegram tells us the citizen blocked the bot;
        # back to "member" when they unblock and press Start again.
        if new == "kicked":
            event = ContactEvent.blocked
        elif old == "kicked" and new == "member":
            event = ContactEvent.unblocked
    return InboundMessage(
        channel=NAME, external_id=f"{update_id}:member:{m.chat.id}",
        sender=f"telegram:{m.chat.id}", text=new, received_at=m.date,
        sender_name=m.from_user.full_name, kind="member", raw=raw, event=event)


def _button_title(message: Any, data: str) -> str | None:
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", ()) or ():
        for key in row:
            if key.callback_data == data:
                return key.text
    return None


def _media_of(m: Message) -> tuple[Media, ...]:
    caption = m.caption
    if m.photo:
        return (Media(MEDIA_PREFIX + m.photo[-1].file_id, "image/jpeg", caption),)   # largest size last
    for attr, default_type in (("document", None), ("video", "video/mp4"), ("animation", "video/mp4"),
                               ("voice", "audio/ogg"), ("audio", "audio/mpeg"),
                               ("video_note", "video/mp4")):
        item = getattr(m, attr, None)
        if item is not None:
            ctype = getattr(item, "mime_type", None) or default_type
            if ctype is None:
                ctype = mimetypes.guess_type(getattr(item, "file_name", None) or "")[0]
            return (Media(MEDIA_PREFIX + item.file_id, ctype, caption),)
    if m.sticker is not None:
        s = m.sticker
        ctype = "video/webm" if s.is_video else "application/x-tgsticker" if s.is_animated else "image/webp"
        return (Media(MEDIA_PREFIX + s.file_id, ctype, None),)
    return ()


def _location_of(m: Message) -> Location | None:
    if m.venue is not None:
        v = m.venue
        address = ", ".join(p for p in (v.title, v.address) if p)
        return Location(v.location.latitude, v.location.longitude, address or None)
    if m.location is not None:
        return Location(m.location.latitude, m.location.longitude)
    return None


def normalize_phone(number: str | None) -> str | None:
    """Normalise a shared phone number to E.164 ("6281234567890" -> "+6281234567890").

    Telegram clients send ``phone_number`` with or without the "+" and sometimes with spaces.
    """
    if not number:
        return None
    digits = re.sub(r"[^\d]", "", number)
    return "+" + digits if digits else None
