"""Store what arrives before it is acknowledged: messages, unparseable updates, delivery receipts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.contacts import ContactRepository
from bot.models import Message, utcnow
from channels.base import InboundMessage, Unparseable


@dataclass(frozen=True, slots=True)
class Stored:
    """Result of storing one inbound message.

    Attributes:
        message_id: The stored (or already stored) message.
        conversation_id: Its conversation, if it has one.
        duplicate: True when this was a provider's retry of something already stored.
        needs_processing: True when the dialogue should handle it.
    """

    message_id: int
    conversation_id: int | None
    duplicate: bool
    needs_processing: bool


def clean(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; keep everything else exactly as the citizen sent it."""
    return None if value is None else value.replace("\x00", "\ufffd")


def _existing(session: Session, channel: str, external_id: str) -> Message | None:
    return session.scalars(select(Message).where(
        Message.channel == channel, Message.external_id == external_id)).first()


def store_inbound(session: Session, msg: InboundMessage) -> Stored:
    """Store ``msg`` once; a second delivery of the same provider id is reported as duplicate."""
    old = _existing(session, msg.channel, msg.external_id)
    if old is not None:
        return Stored(old.id, old.conversation_id, True, False)
    contacts = ContactRepository(session)
    address = contacts.get_or_create_address(msg.sender, msg.channel, clean(msg.sender_name))
    conversation = contacts.conversation_for(address)
    processable = msg.kind == "message"
    if processable:
        address.last_inbound_at = max(filter(None, [address.last_inbound_at, msg.received_at]))
    row = Message(
        conversation_id=conversation.id, direction="in", channel=msg.channel, kind=msg.kind,
        external_id=msg.external_id, urn=msg.sender, text=clean(msg.text) or "",
        media=[{"url": m.url, "content_type": m.content_type, "caption": clean(m.caption)}
               for m in msg.media],
        latitude=msg.location.lat if msg.location else None,
        longitude=msg.location.lon if msg.location else None,
        address_text=clean(msg.location.address) if msg.location else None,
        button_payload=clean(msg.reply_to_button), raw=clean(msg.raw), received_at=msg.received_at,
        status="received" if processable else "recorded",
        # Edits, group posts and member changes are kept for the transcript, never answered.
        processed_at=None if processable else utcnow(),
        shared_phone=clean(msg.phone),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Same update delivered twice at the same moment: the other request stored it.
        old = _existing(session, msg.channel, msg.external_id)
        assert old is not None
        return Stored(old.id, old.conversation_id, True, False)
    return Stored(row.id, conversation.id, False, processable)


def store_unparseable(session: Session, item: Unparseable) -> Stored:
    """Keep an authenticated update we could not understand, with the reason, for staff."""
    old = _existing(session, item.channel, item.external_id)
    if old is not None:
        return Stored(old.id, old.conversation_id, True, False)
    row = Message(direction="in", channel=item.channel, kind="unparseable",
                  external_id=item.external_id, text="", raw=clean(item.raw),
                  error_reason=clean(item.reason[:2000]), status="unparseable",
                  received_at=item.received_at, processed_at=utcnow())
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        old = _existing(session, item.channel, item.external_id)
        assert old is not None
        return Stored(old.id, None, True, False)
    return Stored(row.id, None, False, False)

