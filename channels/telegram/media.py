"""Telegram attachments: download a file named by ``Media.url`` ("tg-file:<file_id>")."""

from __future__ import annotations

import mimetypes
import os

from telegram.error import TelegramError

from channels.base import SendError, SendFailure
from channels.telegram.client import BotClient
from channels.telegram.config import MEDIA_PREFIX, TelegramConfig
from channels.telegram.errors import send_error

_EXTRA_TYPES = {".oga": "audio/ogg", ".ogg": "audio/ogg", ".webp": "image/webp",
                ".tgs": "application/x-tgsticker", ".webm": "video/webm", ".mp4": "video/mp4",
                ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def fetch_media(client: BotClient, config: TelegramConfig, ref: str) -> tuple[str, bytes]:
    """Download a file via getFile.

    Returns:
        (content type guessed from Telegram's file path, the bytes).

    Raises:
        SendError: Permanent for an unknown file or one over ``max_media_bytes``.
    """
    file_id = ref.removeprefix(MEDIA_PREFIX)
    try:
        f = client.call(lambda bot: bot.get_file(file_id))
        if f.file_size and f.file_size > config.max_media_bytes:
            raise SendError(f"file too large: {f.file_size} bytes", kind=SendFailure.permanent,
                            code="too_large")
        data = client.call(lambda bot: f.download_as_bytearray(read_timeout=config.media_timeout),
                           timeout=config.media_timeout + config.call_timeout)
    except (TelegramError, TimeoutError) as exc:
        raise send_error(exc) from exc
    if len(data) > config.max_media_bytes:
        raise SendError(f"file too large: {len(data)} bytes", kind=SendFailure.permanent, code="too_large")
    return content_type(f.file_path or ""), bytes(data)


def content_type(file_path: str) -> str:
    """The content type of a Telegram file, from its path's extension."""
    ext = os.path.splitext(file_path)[1].lower()
    return _EXTRA_TYPES.get(ext) or mimetypes.guess_type(file_path)[0] or "application/octet-stream"
