"""Download what citizens attach, soon after it arrives, so staff can see it later.

Provider URLs expire or need credentials (Twilio media needs Basic auth; Telegram file links
last about an hour), so a worker fetches each attachment into ``var/media`` and records the
file on the message. A failure is recorded and retried on the conversation's next job.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from bot.store.models import Conversation, Message, with_media
from channels.base import Channel, FetchesMedia, SendError

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
CHANNEL_CACHE_SIZE = 100_000


_m = cast(Table, Message.__table__)
# Inbound messages of a conversation that carry media, built once (it runs after every job on a
# channel that downloads). "Has media" is narrowed in SQL on the JSON text (an empty list is
# stored as "[]") and decided in Python: PostgreSQL's json type has no "=" operator, so
# `Message.media != []` raised there and failed every conversation job right after its replies.
_WITH_MEDIA = select(_m.c.id, _m.c.channel, _m.c.media).where(
    _m.c.conversation_id == bindparam("b_conv"), with_media(_m.c),
    _m.c.channel.in_(bindparam("b_channels", expanding=True)))


class MediaFetcher:
    def __init__(self, sessions: sessionmaker[Session], channels: Mapping[str, Channel],
                 directory: Path) -> None:
        self.sessions = sessions
        self.channels = channels
        self.directory = directory
        # The channels that download, once: the set is fixed when the runtime is built, and a
        # check against a runtime protocol costs microseconds on every job.
        self._fetching = sorted(name for name, ch in channels.items() if isinstance(ch, FetchesMedia))
        # Each conversation's channel (it never changes: one conversation per address), so a
        # job on a channel whose media needs no download (the web chat) costs no query.
        self._channel_of: dict[int, str] = {}

    def _downloads(self, conv_id: int) -> bool:
        """Whether the conversation is on a channel whose attachments are downloaded."""
        channel = self._channel_of.get(conv_id)
        if channel is None:
            with self.sessions() as s:
                channel = s.scalar(select(Conversation.channel).where(Conversation.id == conv_id))
            if channel is None:
                return False
            if len(self._channel_of) >= CHANNEL_CACHE_SIZE:
                self._channel_of.clear()      # a plain bound: refilled one query per conversation
            self._channel_of[conv_id] = channel
        return channel in self._fetching

    def _pending(self, conv_id: int) -> list[tuple[int, str, list[dict[str, Any]]]]:
        # Runs after every job, so it must cost next to nothing when there is nothing to fetch:
        # no query at all on a channel whose connector does not download media (the web chat
        # stores its photos itself), and otherwise three columns of the rows that have an
        # attachment (loading every inbound message of the conversation whole grew with its
        # length).
        if not self._fetching or not self._downloads(conv_id):
            return []
        with self.sessions() as s:
            rows = s.connection().execute(_WITH_MEDIA, {"b_conv": conv_id, "b_channels": self._fetching}).all()
            return [(mid, channel, list(media)) for mid, channel, media in rows
                    if media and any(not item.get("stored") and item.get("attempts", 0) < MAX_ATTEMPTS
                                     for item in media)]

    def fetch(self, conv_id: int) -> int:
        """Fetch every attachment of the conversation not stored yet; return how many."""
        done = 0
        for msg_id, channel_name, items in self._pending(conv_id):
            channel = self.channels.get(channel_name)
            if not isinstance(channel, FetchesMedia):
                continue
            changed = False
            for index, item in enumerate(items):
                if item.get("stored") or item.get("attempts", 0) >= MAX_ATTEMPTS:
                    continue
                item = dict(item)
                try:
                    content_type, data = channel.fetch_media(item["url"])
                except (SendError, ValueError) as exc:
                    item["attempts"] = item.get("attempts", 0) + 1
                    item["error"] = (exc.reason if isinstance(exc, SendError) else str(exc))[:300]
                    log.warning("media download failed", extra={"message_id": msg_id, "reason": item["error"]})
                else:
                    ext = mimetypes.guess_extension((content_type or "").split(";")[0].strip()) or ".bin"
                    path = self.directory / f"{msg_id}-{index}{ext}"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                    item.update(stored=str(path), content_type=content_type or item.get("content_type"),
                                size=len(data))
                    item.pop("error", None)
                    done += 1
                items[index] = item
                changed = True
            if changed:
                with self.sessions() as s, s.begin():
                    msg = s.get(Message, msg_id)
                    if msg is not None:
                        msg.media = items   # a new list: JSON columns track reassignment
        return done
