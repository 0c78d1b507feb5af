"""Telegram connector on python-telegram-bot 22.

Inbound: Telegram POSTs one JSON ``Update`` per request to our webhook with the secret we
registered in ``X-Telegram-Bot-Api-Secret-Token``. :meth:`TelegramChannel.verify` checks it,
:meth:`TelegramChannel.parse_inbound` turns the update into exactly one
:class:`~channels.base.InboundMessage` or :class:`~channels.base.Unparseable` and never
raises: an exception here would become a 5xx, and Telegram re-sends a failing update for
ever while holding every later update behind it (notes/channel-pitfalls.md §1, §3).

Outbound: one PTB ``Bot`` on one event-loop thread (``channels/loop_bridge.py``, pattern D
in notes/provider-libraries.md §2), created lazily after fork. Texts over Telegram's 4,096
UTF-16 units are split on sentence boundaries; buttons become an inline keyboard; errors
become :class:`~channels.base.SendError` saying whether to retry.

Polling (:meth:`TelegramChannel.poll_updates`) returns the raw updates as
:class:`~channels.base.WebhookRequest` objects so they go through the same
``parse_inbound`` as webhook deliveries.

Bot API reference: https://core.telegram.org/bots/api
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import mimetypes
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

# Opt in to PTB's future behaviour where durations are timedeltas. Without it, building a
# RetryAfter (a 429) emits PTBDeprecationWarning, and under ``filterwarnings = error`` a
# 429 surfaces as that warning instead of RetryAfter (notes/provider-libraries.md §3).
# PTB reads the variable at call time; we read retry_after either way (_retry_seconds).
os.environ.setdefault("PTB_TIMEDELTA", "1")

import httpx  # noqa: E402
from telegram import (Bot, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton,  # noqa: E402
                      Message, ReplyKeyboardMarkup, Update)
from telegram.error import (BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken,  # noqa: E402
                            NetworkError, RetryAfter, TelegramError, TimedOut)
from telegram.request import HTTPXRequest  # noqa: E402

from channels.base import (Button, DeliveryStatus, Inbound, InboundMessage, Location, Media,  # noqa: E402
                           OutboundMessage, SendError, SendResult, Unparseable, WebhookRejected,
                           WebhookRequest)
from channels.loop_bridge import BridgeTimeout, LoopBridge  # noqa: E402
from channels.text_split import fits_length, split_text, utf16_len  # noqa: E402

log = logging.getLogger(__name__)

MAX_TEXT = 4096          # https://core.telegram.org/bots/api#sendmessage, in UTF-16 units
MAX_CAPTION = 1024       # https://core.telegram.org/bots/api#sendphoto
MAX_CALLBACK_DATA = 64   # bytes, https://core.telegram.org/bots/api#inlinekeyboardbutton
DIGEST_PREFIX = "sha256:"
MEDIA_PREFIX = "tg-file:"
POLLING_URL = "telegram:getUpdates"
DEFAULT_ALLOWED_UPDATES = ("message", "edited_message", "channel_post", "callback_query",
                           "my_chat_member")
# https://core.telegram.org/bots/api#setwebhook: "1-256 characters. Only A-Z, a-z, 0-9, _
# and - are allowed". PTB does not check it (notes §4), so we do.
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
# A 403 means the citizen is gone only for these descriptions; "bot can't initiate
# conversation" or "not enough rights" are our problem, not an opt-out (courier PR 688).
_UNREACHABLE_403 = ("bot was blocked by the user", "user is deactivated",
                    "bot was kicked from", "bot is not a member of")
_COMMAND_RE = re.compile(r"^(/[A-Za-z0-9_]{1,32})@[A-Za-z0-9_]+(?=\s|$)")
_EXTRA_TYPES = {".oga": "audio/ogg", ".ogg": "audio/ogg", ".webp": "image/webp",
                ".tgs": "application/x-tgsticker", ".webm": "video/webm", ".mp4": "video/mp4",
                ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


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
        if self.webhook_secret and not _SECRET_RE.fullmatch(self.webhook_secret):
            raise ValueError("TelegramConfig: webhook_secret must be 1-256 of A-Z a-z 0-9 _ -")

    @property
    def bot_base_url(self) -> str:
        return self.api_base_url.rstrip("/") + "/bot"

    @property
    def file_base_url(self) -> str:
        return self.api_base_url.rstrip("/") + "/file/bot"

    @property
    def call_timeout(self) -> float:
        """The longest one API call may take end to end, pool wait included."""
        return self.connect_timeout + self.write_timeout + self.read_timeout + self.pool_timeout + 2


@dataclass(frozen=True, slots=True)
class TelegramWebhookInfo:
    """What ``getWebhookInfo`` says: watch ``pending_update_count`` and the last error
    (notes/channel-pitfalls.md §3)."""

    url: str
    pending_update_count: int
    last_error_date: datetime | None = None
    last_error_message: str | None = None
    max_connections: int | None = None
    allowed_updates: tuple[str, ...] = ()
    ip_address: str | None = None


@dataclass(frozen=True, slots=True)
class _BotHandle:
    """The Bot and the request objects it was built with (so we can close them)."""

    bot: Bot
    requests: tuple[HTTPXRequest, ...]


@dataclass(frozen=True, slots=True)
class _Part:
    method: str                     # a Bot method: send_message, send_photo, send_location
    args: tuple[tuple[str, Any], ...]


class TelegramChannel:
    """The Telegram connector (see the module docstring).

    Args:
        config: Token, secret and timeouts.
        clock: Returns "now" as an aware UTC datetime (for updates without a date).
    """

    name = "telegram"

    def __init__(self, config: TelegramConfig, *, clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._bridge: LoopBridge[_BotHandle] = LoopBridge(self._make_bot, _close_bot, "warga-telegram")
        self._poll_lock = threading.Lock()
        self._poll_client: httpx.Client | None = None
        self._poll_pid: int | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def _make_bot(self) -> _BotHandle:
        c = self.config

        def request(pool: int) -> HTTPXRequest:
            return HTTPXRequest(connection_pool_size=pool, connect_timeout=c.connect_timeout,
                                read_timeout=c.read_timeout, write_timeout=c.write_timeout,
                                pool_timeout=c.pool_timeout)

        # Only our own polling calls getUpdates (over plain HTTP, see poll_updates), so the
        # Bot's getUpdates pool stays minimal.
        requests = (request(c.connection_pool_size), request(1))
        bot = Bot(c.token, base_url=c.bot_base_url, base_file_url=c.file_base_url,
                  request=requests[0], get_updates_request=requests[1])
        return _BotHandle(bot, requests)

    def close(self) -> None:
        """Close connection pools and stop the loop thread; the channel restarts lazily."""
        self._bridge.close()
        with self._poll_lock:
            if self._poll_client is not None and self._poll_pid == os.getpid():
                self._poll_client.close()
            self._poll_client = None

    def __enter__(self) -> "TelegramChannel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inbound -------------------------------------------------------------------------

    def verify(self, request: WebhookRequest) -> None:
        """Check ``X-Telegram-Bot-Api-Secret-Token`` in constant time.

        Raises:
            WebhookRejected: The header is missing or wrong, or no secret is configured.
        """
        expected = self.config.webhook_secret
        if not expected:
            raise WebhookRejected("telegram: no webhook secret configured")
        got = request.header("X-Telegram-Bot-Api-Secret-Token")
        if not got:
            raise WebhookRejected("telegram: missing X-Telegram-Bot-Api-Secret-Token")
        if not hmac.compare_digest(got.encode("utf-8"), expected.encode("utf-8")):
            raise WebhookRejected("telegram: wrong X-Telegram-Bot-Api-Secret-Token")

    def parse_inbound(self, request: WebhookRequest) -> list[Inbound]:
        """Turn one webhook (or polled) update into exactly one item. Never raises."""
        raw = request.body.decode("utf-8", errors="replace")
        now = self._clock()
        if not raw.strip():
            return [self._unparseable(None, "empty body", raw, now)]
        try:
            data = json.loads(raw)
        except ValueError as exc:
            return [self._unparseable(None, f"invalid JSON: {exc}", raw, now)]
        if not isinstance(data, dict):
            return [self._unparseable(None, "JSON body is not an object", raw, now)]
        update_id = data.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return [self._unparseable(None, "update_id missing or not an integer", raw, now)]
        try:
            return [self._read_update(Update.de_json(data, None), update_id, raw, now)]
        except Exception as exc:  # noqa: BLE001 - the parse edge: a malformed field becomes Unparseable
            # PTB reports missing fields as plain TypeError/KeyError/AttributeError (notes §1).
            return [self._unparseable(update_id, f"{type(exc).__name__}: {exc}", raw, now)]

    def _unparseable(self, update_id: int | None, reason: str, raw: str, now: datetime) -> Unparseable:
        # A retry of the same bad body must map to the same key, so it is stored once.
        key = (f"{update_id}:unparseable" if update_id is not None
               else "raw:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32])
        log.info("telegram: unparseable update %s: %s", key, reason)   # the raw body is stored, not logged
        return Unparseable(self.name, key, reason, raw, now)

    def _read_update(self, u: Update, update_id: int, raw: str, now: datetime) -> Inbound:
        # External ids start with update_id but also name the chat and message: Telegram
        # restarts update_id at a random value after a week without updates
        # (https://core.telegram.org/bots/api#getting-updates), and a bare update_id could
        # then collide with a stored one and drop a new message as a "duplicate".
        if u.message is not None:
            return self._read_message(u.message, update_id, raw, edited=False)
        if u.edited_message is not None:
            return self._read_message(u.edited_message, update_id, raw, edited=True)
        if u.channel_post is not None:
            return self._read_message(u.channel_post, update_id, raw, edited=False)
        if u.edited_channel_post is not None:
            return self._read_message(u.edited_channel_post, update_id, raw, edited=True)
        if u.callback_query is not None:
            return self._read_callback(u, update_id, raw, now)
        if u.my_chat_member is not None:
            return self._read_member(u, update_id, raw)
        kinds = [k for k in Update.ALL_TYPES if getattr(u, k, None) is not None]
        kind = kinds[0] if kinds else "unknown:" + ",".join(sorted(u.api_kwargs))
        chat, user = u.effective_chat, u.effective_user
        if chat is None and user is None:
            return self._unparseable(update_id, f"unsupported update kind: {kind}", raw, now)
        # Known kinds we do not act on (reactions, chat_member, inline queries...): stored on
        # purpose so the transcript is complete, never processed.
        return InboundMessage(
            channel=self.name, external_id=f"{update_id}:{kind}",
            sender=f"telegram:{chat.id if chat is not None else user.id}",  # type: ignore[union-attr]
            text="", received_at=now, sender_name=user.full_name if user else None,
            kind="ignored", raw=raw)

    def _read_message(self, m: Message, update_id: int, raw: str, *, edited: bool) -> InboundMessage:
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
        return InboundMessage(channel=self.name, external_id=external_id, sender=f"telegram:{chat.id}",
                              text=text, received_at=at, sender_name=name, media=media,
                              location=location, phone=phone, kind=kind, raw=raw)

    def _read_callback(self, u: Update, update_id: int, raw: str, now: datetime) -> InboundMessage:
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
            channel=self.name, external_id=f"{update_id}:cb:{q.id}",
            sender=f"telegram:{chat.id if chat is not None else q.from_user.id}",
            text=text, received_at=now,   # a callback_query carries no date
            sender_name=q.from_user.full_name, reply_to_button=data, kind=kind, raw=raw,
            callback_id=q.id)

    def _read_member(self, u: Update, update_id: int, raw: str) -> InboundMessage:
        m = u.my_chat_member
        assert m is not None
        old, new = m.old_chat_member.status, m.new_chat_member.status
        event = None
        if m.chat.type == "private":
            # "kicked" in a private chat is how Telegram tells us the citizen blocked the bot;
            # back to "member" when they unblock and press Start again.
            if new == "kicked":
                event = "blocked"
            elif old == "kicked" and new == "member":
                event = "unblocked"
        return InboundMessage(
            channel=self.name, external_id=f"{update_id}:member:{m.chat.id}",
            sender=f"telegram:{m.chat.id}", text=new, received_at=m.date,
            sender_name=m.from_user.full_name, kind="member", raw=raw, event=event)

    # -- outbound ------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        """Send a reply: text parts in order, then photos, then a location.

        Raises:
            SendError: With ``parts_sent`` set if some parts went out before the failure.
        """
        chat_id = _chat_id(message.recipient)
        parts = self.plan(message)
        if not parts:
            raise SendError("nothing to send: no text, media or location", retryable=False,
                            code="empty")
        sent: list[str] = []
        for index, part in enumerate(parts):
            if index < message.resume_from:
                continue
            try:
                result = self._call(lambda bot, p=part: getattr(bot, p.method)(chat_id=chat_id, **dict(p.args)))
            except (TelegramError, TimeoutError) as exc:
                raise send_error(exc, parts_sent=index, sent_ids=tuple(sent)) from exc
            sent.append(f"{chat_id}:{result.message_id}")
        note = f"sent as {len(parts)} messages" if len(parts) > 1 else None
        return SendResult(tuple(sent), DeliveryStatus.sent, note)

    def plan(self, message: OutboundMessage) -> list[_Part]:
        """The Bot API calls ``send`` makes for ``message``, in order (deterministic)."""
        text = message.text.strip()
        chunks = split_text(text, fits_length(MAX_TEXT, utf16_len)) if text else []
        media = list(message.media_urls)
        parts: list[_Part] = []
        if len(media) == 1 and len(chunks) == 1 and utf16_len(chunks[0]) <= MAX_CAPTION:
            parts.append(_Part("send_photo", (("photo", media[0]), ("caption", chunks[0]))))
            chunks, media = [], []
        parts += [_Part("send_message", (("text", c),)) for c in chunks]
        parts += [_Part("send_photo", (("photo", url),)) for url in media]
        if message.location is not None:
            parts.append(_Part("send_location", (("latitude", message.location.lat),
                                                 ("longitude", message.location.lon))))
        markup = _markup(message.buttons)
        if markup is not None and parts:
            last = parts[-1]
            parts[-1] = _Part(last.method, last.args + (("reply_markup", markup),))
        return parts

    def answer_callback(self, callback_id: str, text: str | None = None) -> bool:
        """Answer a button press (``InboundMessage.callback_id``) so the app stops spinning.

        Call it from the worker soon after storing the update; Telegram expires queries
        after a short while. Returns False when the query is too old or unknown (nothing
        to retry).

        Raises:
            SendError: For other failures (retryable for network errors).
        """
        try:
            return bool(self._call(lambda bot: bot.answer_callback_query(callback_id, text=text)))
        except BadRequest as exc:
            if "query is too old" in exc.message.lower() or "query id is invalid" in exc.message.lower():
                return False
            raise send_error(exc) from exc
        except (TelegramError, TimeoutError) as exc:
            raise send_error(exc) from exc

    def fetch_media(self, ref: str) -> tuple[str, bytes]:
        """Download a file named by ``Media.url`` ("tg-file:<file_id>") via getFile.

        Returns:
            (content type guessed from Telegram's file path, the bytes).

        Raises:
            SendError: Not retryable for an unknown file or one over ``max_media_bytes``.
        """
        file_id = ref.removeprefix(MEDIA_PREFIX)
        try:
            f = self._call(lambda bot: bot.get_file(file_id))
            if f.file_size and f.file_size > self.config.max_media_bytes:
                raise SendError(f"file too large: {f.file_size} bytes", retryable=False, code="too_large")
            data = self._call(lambda bot: f.download_as_bytearray(read_timeout=self.config.media_timeout),
                              timeout=self.config.media_timeout + self.config.call_timeout)
        except (TelegramError, TimeoutError) as exc:
            raise send_error(exc) from exc
        if len(data) > self.config.max_media_bytes:
            raise SendError(f"file too large: {len(data)} bytes", retryable=False, code="too_large")
        return _content_type(f.file_path or ""), bytes(data)

    def set_webhook(self, url: str, secret: str | None = None, *, drop_pending_updates: bool = False,
                    max_connections: int = 40) -> None:
        """Register ``url`` (https) as the webhook, with ``secret`` (default: the configured one).

        Raises:
            ValueError: For a non-https URL or a secret Telegram would not accept.
            SendError: If Telegram refuses.
        """
        secret = self.config.webhook_secret if secret is None else secret
        if not url.startswith("https://"):
            raise ValueError("Telegram only delivers webhooks to https:// URLs")
        if not _SECRET_RE.fullmatch(secret):
            raise ValueError("webhook secret must be 1-256 of A-Z a-z 0-9 _ -")
        try:
            self._call(lambda bot: bot.set_webhook(
                url=url, secret_token=secret, allowed_updates=list(self.config.allowed_updates),
                drop_pending_updates=drop_pending_updates, max_connections=max_connections))
        except (TelegramError, TimeoutError) as exc:
            raise send_error(exc) from exc

    def delete_webhook(self, *, drop_pending_updates: bool = False) -> None:
        """Remove the webhook (needed before polling: getUpdates answers 409 while one is set)."""
        try:
            self._call(lambda bot: bot.delete_webhook(drop_pending_updates=drop_pending_updates))
        except (TelegramError, TimeoutError) as exc:
            raise send_error(exc) from exc

    def get_webhook_info(self) -> TelegramWebhookInfo:
        """Return the webhook state Telegram reports."""
        try:
            info = self._call(lambda bot: bot.get_webhook_info())
        except (TelegramError, TimeoutError) as exc:
            raise send_error(exc) from exc
        return TelegramWebhookInfo(
            url=info.url, pending_update_count=info.pending_update_count,
            last_error_date=info.last_error_date, last_error_message=info.last_error_message,
            max_connections=info.max_connections, allowed_updates=tuple(info.allowed_updates or ()),
            ip_address=info.ip_address)

    def get_me(self) -> tuple[int, str]:
        """Check the token: return the bot's (id, username)."""
        try:
            me = self._call(lambda bot: bot.get_me())
        except (TelegramError, TimeoutError) as exc:
            raise send_error(exc) from exc
        return me.id, me.username

    def poll_updates(self, offset: int | None = None, timeout: int = 30,
                     limit: int = 100) -> tuple[list[WebhookRequest], int | None]:
        """Long-poll getUpdates once.

        The updates come back raw, one :class:`WebhookRequest` each (url ``telegram:getUpdates``,
        no headers), to be stored through ``parse_inbound`` exactly like webhook deliveries;
        skip ``verify`` for them (they came over our own authenticated request). Store them,
        then poll again with the returned offset: that confirms them to Telegram. A malformed
        update still advances the offset, so it can never block the ones after it.

        Returns:
            (requests, next offset: the highest update_id + 1, or ``offset`` if none came).

        Raises:
            SendError: 409 (not retryable) while a webhook is set; 429/5xx/network retryable.
        """
        params = {"timeout": str(timeout), "limit": str(limit),
                  "allowed_updates": json.dumps(list(self.config.allowed_updates))}
        if offset is not None:
            params["offset"] = str(offset)
        c = self.config
        http_timeout = httpx.Timeout(connect=c.connect_timeout, read=c.read_timeout + timeout,
                                     write=c.write_timeout, pool=c.pool_timeout)
        try:
            response = self._poller().post(f"{c.bot_base_url}{c.token}/getUpdates", data=params,
                                           timeout=http_timeout)
        except httpx.HTTPError as exc:
            raise SendError(f"getUpdates failed: {type(exc).__name__}: {exc}", retryable=True,
                            code="network") from exc
        updates = _api_result(response)
        if not isinstance(updates, list):
            raise SendError("getUpdates: result is not a list", retryable=True, code="bad_response")
        requests: list[WebhookRequest] = []
        next_offset = offset
        for item in updates:
            uid = item.get("update_id") if isinstance(item, dict) else None
            if isinstance(uid, int) and not isinstance(uid, bool):
                next_offset = max(next_offset or 0, uid + 1)
            body = json.dumps(item, ensure_ascii=False).encode("utf-8")
            requests.append(WebhookRequest(url=POLLING_URL, headers={}, body=body))
        return requests, next_offset

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, call: Callable[[Bot], Any], timeout: float | None = None) -> Any:
        return self._bridge.run(lambda handle: call(handle.bot), timeout or self.config.call_timeout)

    def _poller(self) -> httpx.Client:
        with self._poll_lock:
            if self._poll_client is None or self._poll_pid != os.getpid():
                self._poll_client = httpx.Client()
                self._poll_pid = os.getpid()
            return self._poll_client


async def _close_bot(handle: _BotHandle) -> None:
    # Bot.shutdown() only closes the pools if initialize() ran (notes §2), and we never call
    # initialize() (it costs a getMe per process): close the request objects directly.
    for request in handle.requests:
        await request.shutdown()


def send_error(exc: BaseException, *, parts_sent: int = 0, sent_ids: tuple[str, ...] = ()) -> SendError:
    """Map a PTB error (or a bridge timeout) to a :class:`SendError`.

    The order matters: ``BadRequest`` and ``TimedOut`` subclass ``NetworkError``, so a
    blanket "network error: retry" would retry bad requests for ever (notes §3).
    """
    kw: dict[str, Any] = {"parts_sent": parts_sent, "sent_ids": sent_ids}
    if isinstance(exc, RetryAfter):
        return SendError(f"Telegram flood control: {exc.message}", retryable=True,
                         retry_after=_retry_seconds(exc), code="429", **kw)
    if isinstance(exc, Forbidden):
        gone = any(s in exc.message.lower() for s in _UNREACHABLE_403)
        return SendError(exc.message, retryable=False, code="403", unreachable=gone, **kw)
    if isinstance(exc, InvalidToken):
        return SendError(f"Telegram rejected the bot token: {exc.message}", retryable=False,
                         code="401", **kw)
    if isinstance(exc, ChatMigrated):
        return SendError(f"the group became supergroup {exc.new_chat_id}", retryable=False,
                         code="chat_migrated", **kw)
    if isinstance(exc, Conflict):
        return SendError(exc.message, retryable=False, code="409", **kw)
    if isinstance(exc, BadRequest):
        return SendError(exc.message, retryable=False, code="400", **kw)
    if isinstance(exc, TimedOut):
        # PoolTimeout and ConnectTimeout mean the request never left; a read or write
        # timeout means Telegram may have delivered it.
        unsent = isinstance(exc.__cause__, (httpx.PoolTimeout, httpx.ConnectTimeout))
        return SendError(f"Telegram timed out: {exc.message}", retryable=True, code="timeout",
                         outcome_unknown=not unsent, **kw)
    if isinstance(exc, NetworkError):
        cause = exc.__cause__
        # Only a transport failure after connecting (connection reset mid-request, a read
        # error) leaves the outcome open. ConnectError: it never left. No transport cause:
        # Telegram answered (a 5xx, or a body PTB could not parse) without carrying it out.
        unsent = (not isinstance(cause, httpx.TransportError)
                  or isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)))
        return SendError(f"Telegram network error: {exc.message}", retryable=True,
                         code="network", outcome_unknown=not unsent, **kw)
    if isinstance(exc, BridgeTimeout):
        return SendError(str(exc), retryable=True, code="timeout", outcome_unknown=True, **kw)
    if isinstance(exc, TelegramError):
        return SendError(exc.message, retryable=False, code="telegram_error", **kw)
    if isinstance(exc, TimeoutError):
        return SendError(f"timed out: {exc}", retryable=True, code="timeout", outcome_unknown=True, **kw)
    raise TypeError(f"send_error: not a Telegram error: {exc!r}")


def _retry_seconds(exc: RetryAfter) -> float:
    value: Any = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


def _api_result(response: httpx.Response) -> Any:
    """Decode a raw Bot API answer the way PTB would, mapping errors to SendError."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code == 200 and isinstance(data, dict) and data.get("ok") is True:
        return data.get("result")
    body = data if isinstance(data, dict) else {}
    description = str(body.get("description") or response.text[:200] or response.reason_phrase)
    status = response.status_code
    params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    if status == 429:
        retry_after = params.get("retry_after")
        return _raise(SendError(description, retryable=True, code="429",
                                retry_after=float(retry_after) if retry_after is not None else None))
    if status == 409:
        return _raise(SendError(f"{description} (a webhook is set or another poller runs; "
                                "delete_webhook() first)", retryable=False, code="409"))
    if status in (401, 404):
        return _raise(SendError(f"Telegram rejected the bot token: {description}", retryable=False,
                                code="401"))
    return _raise(SendError(description, retryable=status >= 500, code=str(status)))


def _raise(exc: SendError) -> Any:
    raise exc


def _chat_id(recipient: str) -> int:
    scheme, _, ident = recipient.partition(":")
    try:
        if scheme != "telegram":
            raise ValueError
        return int(ident)
    except ValueError:
        raise SendError(f"not a Telegram recipient: {recipient!r}", retryable=False,
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


def _content_type(file_path: str) -> str:
    ext = os.path.splitext(file_path)[1].lower()
    return _EXTRA_TYPES.get(ext) or mimetypes.guess_type(file_path)[0] or "application/octet-stream"
