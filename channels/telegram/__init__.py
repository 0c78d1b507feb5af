"""Telegram connector on python-telegram-bot 22.

Inbound (``inbound.py``): Telegram POSTs one JSON ``Update`` per request to our webhook with
the secret we registered in ``X-Telegram-Bot-Api-Secret-Token``; it is checked, and the
update becomes exactly one :class:`~channels.base.InboundMessage` or
:class:`~channels.base.Unparseable`, never an exception (notes/channel-pitfalls.md §1, §3).
A citizen blocking / unblocking the bot is reported as a neutral
:class:`~channels.base.ContactEvent`.

Outbound (``outbound.py``, ``client.py``): one PTB ``Bot`` on one event-loop thread
(pattern D in notes/provider-libraries.md §2), created lazily after fork. Errors
(``errors.py``) become :class:`~channels.base.SendError` with a
:class:`~channels.base.SendFailure` kind.

Set-up and polling (``admin.py``), attachments (``media.py``); the connector object that
composes them is ``channel.py``. Bot API reference: https://core.telegram.org/bots/api
"""

# config first: it sets PTB_TIMEDELTA before python-telegram-bot is imported anywhere.
from channels.telegram.config import (DEFAULT_ALLOWED_UPDATES, DIGEST_PREFIX, MAX_CALLBACK_DATA,  # isort: skip
                                      MAX_CAPTION, MAX_TEXT, MEDIA_PREFIX, POLLING_URL, WEBHOOK_PATH,
                                      TelegramConfig)
from channels.telegram.channel import TelegramChannel
from channels.telegram.errors import send_error
from channels.telegram.inbound import normalize_phone
from channels.telegram.outbound import callback_data_for

__all__ = ["TelegramChannel", "TelegramConfig", "callback_data_for", "normalize_phone", "send_error",
           "DEFAULT_ALLOWED_UPDATES", "DIGEST_PREFIX", "MAX_CALLBACK_DATA", "MAX_CAPTION", "MAX_TEXT",
           "MEDIA_PREFIX", "POLLING_URL", "WEBHOOK_PATH"]
