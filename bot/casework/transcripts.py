"""Searching transcripts: which conversations match the staff's filters, and what "not
understood" means for one citizen message.

Message-level filters (text, date range, intent, not understood) must all hold for one citizen
message of the conversation; contact and channel are the conversation's. Intent and confidence
come from ``Message.nlu`` (JSON), read with SQLAlchemy's JSON index operators so SQLite and
PostgreSQL run the same statement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, or_, select

from bot.casework.days import day_range, day_span
from bot.casework.filter_refusal import FilterRefused
from bot.store.models import Contact, ContactAddress, Conversation, Message

#: Intents that say the engine did not understand (besides a confidence under nlu.threshold).
FALLBACK_INTENTS = ("out_of_scope", "nlu_fallback")
MAX_FILTER_CHARS = 200
INTENT = re.compile(r"[a-z_]{1,60}")


@dataclass(frozen=True, slots=True)
class TranscriptFilter:
    text: str = ""
    contact: str = ""
    channel: str = ""
    date_from: date | None = None
    date_to: date | None = None
    intent: str = ""
    not_understood: bool = False
    page: int = 1

    @property
    def message_level(self) -> bool:
        return bool(self.text or self.date_from or self.date_to or self.intent or self.not_understood)


def parse_filter(args: Mapping[str, str], channels: tuple[str, ...]) -> TranscriptFilter:
    """The filter from query arguments; :class:`FilterRefused` for a value that cannot be used."""
    for key in ("q", "contact", "intent"):
        if len(args.get(key, "")) > MAX_FILTER_CHARS:
            raise FilterRefused(key, "too_long", limit=MAX_FILTER_CHARS)
    channel = args.get("channel", "").strip()
    if channel and channel not in channels:
        raise FilterRefused("channel", "one_of", choices=", ".join(channels))
    intent = args.get("intent", "").strip()
    if intent and not INTENT.fullmatch(intent):
        raise FilterRefused("intent", "intent_name")
    page_raw = args.get("page", "1") or "1"
    if not re.fullmatch(r"[0-9]{1,9}", page_raw):
        raise FilterRefused("page", "page_number")
    date_from, date_to = day_range(args)
    return TranscriptFilter(text=args.get("q", "").strip(), contact=args.get("contact", "").strip(),
                            channel=channel, date_from=date_from, date_to=date_to,
                            intent=intent, not_understood=args.get("not_understood") == "1",
                            page=max(int(page_raw), 1))


def not_understood_clause(threshold: float) -> Any:
    """A WHERE on Message: a parsed citizen message the NLU did not understand."""
    intent = Message.nlu["intent"].as_string()
    confidence = Message.nlu["confidence"].as_float()
    return and_(confidence.is_not(None),
                or_(intent.is_(None), intent.in_(FALLBACK_INTENTS), confidence < threshold))


def is_not_understood(nlu: Mapping[str, Any] | None, threshold: float) -> bool:
    """The same rule as :func:`not_understood_clause`, for a message already loaded."""
    if not nlu or not isinstance(nlu.get("confidence"), int | float):
        return False
    intent = nlu.get("intent")
    return intent is None or intent in FALLBACK_INTENTS or float(nlu["confidence"]) < threshold


def message_clause(f: TranscriptFilter, threshold: float, zone: str) -> Any:
    """A WHERE on Message: a citizen message matching every message-level filter."""
    conds: list[Any] = [Message.direction == "in"]
    if f.text:
        conds.append(Message.text.ilike(f"%{_escape_like(f.text)}%", escape="\\"))
    start, end = day_span(f.date_from, f.date_to, zone)
    if start:
        conds.append(Message.created_at >= start)
    if end:
        conds.append(Message.created_at < end)
    if f.intent:
        conds.append(Message.nlu["intent"].as_string() == f.intent)
    if f.not_understood:
        conds.append(not_understood_clause(threshold))
    return and_(*conds)


def conversations_matching(f: TranscriptFilter, visible: Any, threshold: float, zone: str) -> Any:
    """SELECT Conversation ids matching ``f`` among ``visible`` (a WHERE), newest activity first."""
    stmt = select(Conversation.id).where(visible)
    if f.channel:
        stmt = stmt.where(Conversation.channel == f.channel)
    if f.contact:
        like = f"%{_escape_like(f.contact)}%"
        stmt = stmt.where(or_(
            exists().where(ContactAddress.id == Conversation.address_id,
                           ContactAddress.urn.ilike(like, escape="\\")),
            exists().where(Contact.id == Conversation.contact_id,
                           or_(Contact.phone.ilike(like, escape="\\"), Contact.name.ilike(like, escape="\\")))))
    if f.message_level:
        stmt = stmt.where(exists().where(Message.conversation_id == Conversation.id,
                                         message_clause(f, threshold, zone)))
    return stmt


def _escape_like(text: str) -> str:
    # A citizen's "50%" is searched as text, not as a wildcard.
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
