"""Telegram connector settings and the Bot API's limits."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

# Opt in to PTB's future behaviour where durations are timedeltas. Without it, building a
# RetryAfter (a 429) emits PTBDeprecationWarning, and under ``filterwarnings = error`` a
# 429 surfaces as that warning instead of RetryAfter (notes/provider-libraries.md §3).
# PTB reads the variable at call time; we read retry_after either way (errors.py). Set here
# because every module of the package imports this one before touching PTB.
os.environ.setdefault("PTB_TIMEDELTA", "1")

NAME = "telegram"
MAX_TEXT = 4096          # https://core.telegram.org/bots/api#sendmessage, in UTF-16 units
MAX_CAPTION = 1024       # https://core.telegram.org/bots/api#sendphoto
MAX_CALLBACK_DATA = 64   # bytes, https://core.telegram.org/bots/api#inlinekeyboardbutton
DIGEST_PREFIX = "sha256:"
MEDIA_PREFIX = "tg-file:"
POLLING_URL = "telegram:getUpdates"
WEBHOOK_PATH = "/webhooks/telegram"
DEFAULT_ALLOWED_UPDATES = ("message", "edited_message", "channel_post", "callback_query",
                           "my_chat_member")
# https://core.telegram.org/bots/api#setwebhook: "1-256 characters. Only A-Z, a-z, 0-9, _
# and - are allowed". PTB does not check it (notes §4), so we do.
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """How to reach the Bot API.

    Attributes:
        token: The bot token from @BotFather (``TELEGRAM_BOT_TOKEN``).
        webhook_secret: The ``secret_token`` registered with setWebhook
            (``TELEGRAM_WEBHOOK_SECRET``); 1-256 of ``A-Z a-z 0-9 _ -``. Empty: every
            webhook request is rejected (polling still works).
        api_base_url: Origin of the Bot API; tests point it at a local fake.
        connect_timeout, read_timeout, write_timeout, pool_timeout: Seconds, per request.
        media_timeout: Seconds for downloading a file.
        connection_pool_size: Concurrent connections to the Bot API.
        max_media_bytes: Refuse to download larger files (the Bot API serves up to 20 MB).
        allowed_updates: Update kinds registered with setWebhook and asked for by polling.
    """

    token: str = field(repr=False)
    webhook_secret: str = field(default="", repr=False)
    api_base_url: str = "https://api.telegram.org"
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    write_timeout: float = 10.0
    pool_timeout: float = 1.0
    media_timeout: float = 60.0
    connection_pool_size: int = 32
    max_media_bytes: int = 20 * 1024 * 1024
    allowed_updates: tuple[str, ...] = DEFAULT_ALLOWED_UPDATES

    def __post_init__(self) -> None:
        if not self.token or ":" not in self.token:
            raise ValueError("TelegramConfig: token must look like '123456:ABC...' (from @BotFather)")
        if self.webhook_secret and not SECRET_RE.fullmatch(self.webhook_secret):
            raise ValueError("TelegramConfig: webhook_secret must be 1-256 of A-Z a-z 0-9 _ -")

    @property
    def bot_base_url(self) -> str:
        """Base URL of Bot API methods (the token is appended)."""
        return self.api_base_url.rstrip("/") + "/bot"

    @property
    def file_base_url(self) -> str:
        """Base URL of file downloads (the token is appended)."""
        return self.api_base_url.rstrip("/") + "/file/bot"

    @property
    def call_timeout(self) -> float:
        """The longest one API call may take end to end, pool wait included."""
        return self.connect_timeout + self.write_timeout + self.read_timeout + self.pool_timeout + 2
