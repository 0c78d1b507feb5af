"""What providers report about the replies they were given, applied to the messages: delivered,
read, failed, held; and the citizen facts some failures carry (opted out, unreachable).

A report only moves a message forward (sent → delivered → read; failed is final). One that
arrives before the send was recorded is kept and applied by the outbox when it records the
send (bot/pipeline/outbox.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import ContactAddress, DeliveryReceipt, Message, ProviderMessageId, utcnow
from channels.base import DeliveryStatus, StatusUpdate

#: A reply still in the outbox: waiting, or being sent.
OPEN = ("pending", "sending")


def rank(status: str) -> int:
    parsed = DeliveryStatus.parse(status)
    return -1 if parsed is None else int(parsed)


#: Shown to staff on a message WhatsApp refused outside its 24-hour window (held until a
#: template or a new message from the citizen opens it).
NEEDS_TEMPLATE = "needs template: WhatsApp's 24-hour window was closed"


def opt_out(session: Session, urn: str | None, at: datetime) -> None:
    """Record that the citizen at ``urn`` opted out (kept if already set: the first time counts)."""
    address = session.scalars(select(ContactAddress).where(ContactAddress.urn == urn)).first()
    if address is not None:
        address.opted_out_at = address.opted_out_at or at


def mark_unreachable(session: Session, urn: str | None, at: datetime) -> None:
    """Record that the citizen at ``urn`` cannot be reached on this channel (blocked the bot)."""
    address = session.scalars(select(ContactAddress).where(ContactAddress.urn == urn)).first()
    if address is not None:
        address.unreachable_at = address.unreachable_at or at


def apply_status(session: Session, msg: Message, status: str, error_code: str | None,
                 error_reason: str | None, at: datetime) -> bool:
    """Move ``msg`` forward to ``status``; never backwards (a late "sent" never beats "read")."""
    if msg.status in OPEN or rank(status) <= rank(msg.status):
        return False
    msg.status = status
    msg.status_at = at
    if error_code:
        msg.error_code = error_code
    if error_reason:
        msg.error_reason = error_reason
    return True


def record_status(session: Session, update_: StatusUpdate, *, held: bool = False) -> bool:
    """Apply a provider's delivery report, or keep it until the message it names is recorded.

    ``held`` turns a failure into "held" (WhatsApp window closed: staff must use a template).
    """
    pid = session.scalars(select(ProviderMessageId).where(
        ProviderMessageId.channel == update_.channel,
        ProviderMessageId.provider_message_id == update_.provider_message_id)).first()
    status = "held" if held else update_.status.name
    failure = update_.failure.value if update_.failure is not None else None
    if pid is None:
        session.add(DeliveryReceipt(channel=update_.channel, provider_message_id=update_.provider_message_id,
                                    status=status, error_code=update_.error_code,
                                    error_reason=update_.error_reason, failure=failure, raw=update_.raw))
        return False
    msg = session.get(Message, pid.message_id)
    assert msg is not None
    session.add(DeliveryReceipt(channel=update_.channel, provider_message_id=update_.provider_message_id,
                                status=status, error_code=update_.error_code,
                                error_reason=update_.error_reason, failure=failure, raw=update_.raw,
                                applied_at=utcnow()))
    if held and msg.status not in OPEN:
        # "held" ranks below "failed" on purpose (a late "sent" can't undo a failure), so set it.
        msg.status, msg.status_at = "held", update_.at
        msg.error_code, msg.error_reason = update_.error_code, update_.error_reason
        return True
    return apply_status(session, msg, status, update_.error_code, update_.error_reason, update_.at)
