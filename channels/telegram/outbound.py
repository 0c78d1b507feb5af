"""Telegram outbound: plan the Bot API calls for a reply and make them in order.

Texts over Telegram's 4,096 UTF-16 units are split on sentence boundaries; buttons become an
inline keyboard (or a reply keyboard for "share my phone/location"); a reply split in parts
resumes after the parts an earlier attempt sent (``OutboundMessage.resume_from``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from telegram.error import BadRequest, TelegramError

from channels.base import (
    Button,
    DeliveryStatus,
    OutboundMessage,
    SendError,
    SendFailure,
    SendResult,
)
from channels.telegram.client import BotClient
from channels.telegram.config import (
    DIGEST_PREFIX,
    MAX_CALLBACK_DATA,
    MAX_CAPTION,
    MAX_TEXT,
)
from channels.telegram.errors import send_error
from channels.text_split import fits_length, split_text, utf16_len


def callback_data_for(payload: str) -> str:
    """Return the ``callback_data`` a button with ``payload`` is sent with.

    Telegram limits ``callback_data`` to 64 bytes. A longer payload (or one that happens to
    start with ``sha256:``) is sent as ``sha256:<32 chars>``; the inbound button press then
    carries that digest in ``reply_to_button`` and the button's title as ``text``. Match it
    against the buttons you sent with this same function.
    """
    raw = payload.encode("utf-8")
    if len(raw) <= MAX_CALLBACK_DATA and not payload.startswith(DIGEST_PREFIX):
        return payload
    digest = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).decode("ascii")
    return DIGEST_PREFIX + digest[:32]


@dataclass(frozen=True, slots=True)
class Part:
    """One Bot API call of a planned reply.

    Attributes:
        method: A Bot method: send_message, send_photo, send_location.
        args: Its keyword arguments (``chat_id`` is added when sending).
    """

    method: str
    args: tuple[tuple[str, Any], ...]


def plan(message: OutboundMessage) -> list[Part]:
    """The Bot API calls :func:`send` makes for ``message``, in order (deterministic):
    text parts, then photos, then a location; the keyboard goes on the last one."""
    text = message.text.strip()
    chunks = split_text(text, fits_length(MAX_TEXT, utf16_len)) if text else []
    media = list(message.media_urls)
    parts: list[Part] = []
    if len(media) == 1 and len(chunks) == 1 and utf16_len(chunks[0]) <= MAX_CAPTION:
        parts.append(Part("send_photo", (("photo", media[0]), ("caption", chunks[0]))))
        chunks, media = [], []
    parts += [Part("send_message", (("text", c),)) for c in chunks]
    parts += [Part("send_photo", (("photo", url),)) for url in media]
    if message.location is not None:
        parts.append(Part("send_location", (("latitude", message.location.lat),
                                            ("longitude", message.location.lon))))
    markup = _markup(message.buttons)
    if markup is not None and parts:
        last = parts[-1]
        parts[-1] = Part(last.method, last.args + (("reply_markup", markup),))
    return parts


def send(client: BotClient, message: OutboundMessage) -> SendResult:
    """Send a reply through ``client``.

    Raises:
        SendError: With ``parts_sent`` set if some parts went out before the failure.
    """
    chat_id = _chat_id(message.recipient)
    parts = plan(message)
    if not parts:
        raise SendError("nothing to send: no text, media or location", kind=SendFailure.permanent,
                        code="empty")
    sent: list[str] = []
    for index, part in enumerate(parts):
        if index < message.resume_from:
            continue
        try:
            result = client.call(functools.partial(_call_part, part=part, chat_id=chat_id))
        except (TelegramError, TimeoutError) as exc:
            raise send_error(exc, parts_sent=index, sent_ids=tuple(sent)) from exc
        sent.append(f"{chat_id}:{result.message_id}")
    note = f"sent as {len(parts)} messages" if len(parts) > 1 else None
    return SendResult(tuple(sent), DeliveryStatus.sent, note)


def answer_callback(client: BotClient, callback_id: str, text: str | None = None) -> bool:
    """Answer a button press so the app stops spinning; False when the query is too old or
    unknown (nothing to retry).

    Raises:
        SendError: For other failures (retryable for network errors).
    """
    try:
        return bool(client.call(lambda bot: bot.answer_callback_query(callback_id, text=text)))
    except BadRequest as exc:
        if "query is too old" in exc.message.lower() or "query id is invalid" in exc.message.lower():
            return False
        raise send_error(exc) from exc
    except (TelegramError, TimeoutError) as exc:
        raise send_error(exc) from exc


def _chat_id(recipient: str) -> int:
    scheme, _, ident = recipient.partition(":")
    try:
        if scheme != "telegram":
            raise ValueError
        return int(ident)
    except ValueError:
        raise SendError(f"not a Telegram recipient: {recipient!r}", kind=SendFailure.permanent,
                        code="bad_recipient") from None


def _markup(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    if not buttons:
        return None
    if any(b.kind in ("request_contact", "request_location") for b in buttons):
        # Sharing a phone number or location needs a reply keyboard (an inline button cannot
        # ask the app for it); the other buttons then send their title as plain text.
        rows = [[KeyboardButton(b.title, request_contact=True if b.kind == "request_contact" else None,
                                request_location=True if b.kind == "request_location" else None)]
                for b in buttons]
        return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True)
    keys = [InlineKeyboardButton(b.title, callback_data=callback_data_for(b.payload)) for b in buttons]
    if len(keys) <= 3 and all(utf16_len(b.title) <= 12 for b in buttons):
        return InlineKeyboardMarkup([keys])               # "Ya" / "Tidak" side by side
    return InlineKeyboardMarkup([[k] for k in keys])      # longer choices: one per row


def _call_part(bot: Any, *, part: Any, chat_id: int) -> Any:
    """Call the Bot API method of one planned part (``bot.send_message(...)`` and the like)."""
    return getattr(bot, part.method)(chat_id=chat_id, **dict(part.args))
