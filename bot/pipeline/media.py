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
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.store.models import Message
from channels.base import Channel, FetchesMedia, SendError

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


class MediaFetcher:
    def __init__(self, sessions: sessionmaker[Session], channels: Mapping[str, Channel],
                 directory: Path) -> None:
        self.sessions = sessions
        self.channels = channels
        self.directory = directory

    def _pending(self, conv_id: int) -> list[tuple[int, str, list[dict[str, Any]]]]:
        with self.sessions() as s:
            # "Has media" is decided here, not in SQL: PostgreSQL's json type has no "="
            # operator, so `Message.media != []` raised there and failed every conversation
            # job right after its replies (no attachment was ever downloaded on PostgreSQL).
            rows = s.scalars(select(Message).where(
                Message.conversation_id == conv_id, Message.direction == "in")).all()
            return [(m.id, m.channel, list(m.media)) for m in rows
                    if m.media and any(not item.get("stored") and item.get("attempts", 0) < MAX_ATTEMPTS
                                       for item in m.media)]

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
