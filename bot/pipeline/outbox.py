"""The outbox: send stored replies through their channel, in order, with retries and leases.

A reply is claimed with a lease before it is sent, so two workers never send it twice; a
worker that dies mid-send leaves a lease that expires and the sweeper sends again (the only
case where a provider may see the same reply twice, as with any at-least-once transport).
The claims and send records are committed without waiting for the disk (:func:`no_disk_wait`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, text, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from bot.pipeline import metrics
from bot.settings import OutboxSettings
from bot.store.models import ContactAddress, Conversation, DeliveryReceipt, Message, ProviderMessageId, utcnow
from channels.base import (
    Button,
    Channel,
    DeliveryStatus,
    OutboundMessage,
    SendError,
    SendFailure,
    SendResult,
    StatusUpdate,
)

log = logging.getLogger(__name__)
OPEN = ("pending", "sending")


def rank(status: str) -> int:
    parsed = DeliveryStatus.parse(status)
    return -1 if parsed is None else int(parsed)


def backoff(settings: OutboxSettings, attempts: int, retry_after: float | None) -> float:
    delay = min(settings.first_retry_seconds * (2 ** max(attempts - 1, 0)), settings.max_retry_seconds)
    return max(delay, retry_after or 0.0)


class Outbox:
    """Sends each conversation's pending replies in order.

    Args:
        settings: Retry, lease and deadline settings.
        sessions: The session factory.
        channels: The connectors, by channel name.
        clock: The current time (aware UTC); tests drive retries and deadlines with their own.
    """

    def __init__(self, settings: OutboxSettings, sessions: sessionmaker[Session],
                 channels: Mapping[str, Channel], *, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.sessions = sessions
        self.channels = channels
        self.clock = clock

    def _claim(self, session: Session, conv_id: int,
               now: datetime) -> tuple[Message, ContactAddress | None, str] | None:
        """Claim the conversation's oldest open reply with a lease: two round trips (the reply
        with its address and language, then the conditional UPDATE that claims it)."""
        row = session.execute(
            select(Message, ContactAddress, Conversation.language)
            .outerjoin(ContactAddress, ContactAddress.urn == Message.urn)
            .outerjoin(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.conversation_id == conv_id, Message.direction == "out", Message.status.in_(OPEN))
            .order_by(Message.id).limit(1)).first()
        if row is None:
            return None
        msg, address, language = row
        if msg.status == "sending" and msg.lease_until and msg.lease_until > now:
            return None            # another worker is sending it right now
        if msg.next_attempt_at and msg.next_attempt_at > now:
            return None            # waiting for its retry time; later replies wait behind it
        lease_until = now + timedelta(seconds=self.settings.lease_seconds)
        claimed = cast(CursorResult[Any], session.execute(
            update(Message).where(Message.id == msg.id, Message.status == msg.status,
                                  or_(Message.lease_until.is_(None), Message.lease_until <= now))
            .values(status="sending", lease_until=lease_until, attempts=Message.attempts + 1)
            .execution_options(synchronize_session=False))).rowcount
        if claimed != 1:
            return None
        # What the UPDATE wrote, without reading the row back.
        for key, value in (("status", "sending"), ("lease_until", lease_until), ("attempts", msg.attempts + 1)):
            set_committed_value(msg, key, value)
        return msg, address, language or "id"

    def drain(self, conv_id: int) -> int:
        """Send the conversation's pending replies in order; return how many left the outbox.

        The record of one send and the claim of the next reply share a transaction: one commit
        per reply instead of two, and the record is still committed before the next send.
        """
        done = 0
        sent: tuple[int, int, SendResult] | None = None
        while True:
            now = self.clock()
            with self.sessions() as session, session.begin():
                no_disk_wait(session)
                if sent is not None:
                    self._record_sent_in(session, *sent, now)
                    sent = None
                claimed = self._claim(session, conv_id, now)
                if claimed is None:
                    return done
                msg, address, language = claimed
                refusal = self._refusal(msg, address, now)
                if refusal is not None:
                    msg.status, msg.error_reason, msg.status_at = "failed", refusal, now
                    msg.lease_until = None
                    metrics.message_out(msg.channel, "failed")
                    done += 1
                    continue
                outbound = OutboundMessage(
                    channel=msg.channel, recipient=msg.urn or "", text=msg.text,
                    buttons=tuple(Button(b["title"], b["payload"]) for b in msg.buttons),
                    media_urls=tuple(m["url"] for m in msg.media), template=msg.template,
                    template_vars=tuple(sorted((msg.template_vars or {}).items())),
                    last_inbound_at=address.last_inbound_at if address else None,
                    idempotency_key=str(msg.id), language=language,
                    # A reply split in parts resumes after the parts that already went out.
                    resume_from=msg.parts_sent)
                msg_id, attempts, channel = msg.id, msg.attempts, self.channels.get(msg.channel)
            if channel is None:
                self._record_error(msg_id, SendError(f"channel {outbound.channel} is off",
                                                     kind=SendFailure.permanent), attempts)
                done += 1
                continue
            try:
                result = channel.send(outbound)
            except SendError as exc:
                self._record_error(msg_id, exc, attempts)
                if exc.retryable:
                    return done    # keep order: later replies wait until this one goes
                done += 1
                continue
            sent = (msg_id, attempts, result)
            metrics.message_out(outbound.channel, "sent")
            done += 1

    def _refusal(self, msg: Message, address: ContactAddress | None, now: datetime) -> str | None:
        if msg.deadline_at and msg.deadline_at < now:
            return (f"gave up: not sent within {self.settings.give_up_after_minutes:g} minutes "
                    f"({msg.error_reason or 'no error recorded'})")
        if address is not None and address.opted_out_at is not None and msg.template != "opt_out_confirmation":
            return "not sent: the citizen opted out"
        if address is not None and address.unreachable_at is not None:
            return "not sent: the citizen cannot be reached on this channel (blocked or deactivated)"
        return None

    def _record_sent_in(self, session: Session, msg_id: int, attempts: int, result: SendResult,
                        now: datetime) -> None:
        msg = session.get(Message, msg_id, with_for_update=True)
        assert msg is not None
        if self._superseded(msg, attempts):
            # Still note the provider's ids, so its delivery receipts find the message.
            for pid in result.provider_message_ids:
                session.add(ProviderMessageId(channel=msg.channel, provider_message_id=pid, message_id=msg.id))
            return
        msg.status = result.status.name
        msg.lease_until = None
        msg.sent_at = now if result.status != DeliveryStatus.held else None
        msg.status_at = now
        # A retried message that finally went out has no error: clear the code of the last
        # failed attempt too (its reason is replaced just below), or staff see a "sent"
        # message still carrying "429"/"502".
        msg.error_code = None
        msg.error_reason = result.note
        if result.provider_message_ids:
            msg.provider_message_id = result.provider_message_ids[0]
        for pid in result.provider_message_ids:
            session.add(ProviderMessageId(channel=msg.channel, provider_message_id=pid,
                                          message_id=msg.id))
        session.flush()
        # A status callback may have arrived before we stored the id: apply it now.
        early = session.scalars(select(DeliveryReceipt).where(
            DeliveryReceipt.channel == msg.channel,
            DeliveryReceipt.provider_message_id.in_(result.provider_message_ids),
            DeliveryReceipt.applied_at.is_(None)).order_by(DeliveryReceipt.id)).all()
        for receipt in early:
            apply_status(session, msg, receipt.status, receipt.error_code, receipt.error_reason, now)
            receipt.applied_at = now
            # An early "contact stopped" (Twilio 21610) or "unreachable" receipt means
            # what it means on time (receive._status); applied here, so recorded here too.
            if receipt.failure == SendFailure.contact_stopped:
                opt_out(session, msg.urn, now)
            elif receipt.failure == SendFailure.contact_unreachable:
                mark_unreachable(session, msg.urn, now)
        log.info("outbound sent", extra={"message_id": msg_id, "status": result.status.name})

    @staticmethod
    def _superseded(msg: Message, attempts: int) -> bool:
        """This send's lease expired and another worker claimed the reply again (or already
        recorded it): the newer attempt's outcome stands. Without this check, a slow send that
        finally failed would set a reply that went out meanwhile back to pending, and the
        citizen would get it again after the replies that followed it."""
        if msg.status == "sending" and msg.attempts == attempts:
            return False
        log.warning("a send's outcome came after another attempt took the reply over; the newer one stands",
                    extra={"message_id": msg.id, "attempt": attempts, "status": msg.status})
        return True

    def _record_error(self, msg_id: int, exc: SendError, attempts: int) -> None:
        now = self.clock()
        with self.sessions() as session, session.begin():
            no_disk_wait(session)
            msg = session.get(Message, msg_id, with_for_update=True)
            assert msg is not None
            if self._superseded(msg, attempts):
                return
            msg.lease_until = None
            msg.error_code = exc.code
            msg.error_reason = exc.reason[:2000]
            msg.status_at = now
            if exc.parts_sent:
                msg.parts_sent = max(msg.parts_sent, exc.parts_sent)
                for pid in exc.sent_ids:
                    session.add(ProviderMessageId(channel=msg.channel, provider_message_id=pid,
                                                  message_id=msg.id))
            retry_at = now + timedelta(seconds=backoff(self.settings, attempts, exc.retry_after))
            in_time = msg.deadline_at is None or retry_at < msg.deadline_at
            msg.status = "failed"
            match exc.kind:
                case SendFailure.retry_later | SendFailure.throttled if in_time:
                    msg.status = "pending"
                    msg.next_attempt_at = retry_at
                case SendFailure.needs_template:
                    msg.status = "held"
                    msg.error_reason = NEEDS_TEMPLATE
                case SendFailure.contact_stopped:
                    # The citizen opted out (Twilio 21610: the number texted STOP). Recorded as
                    # the opt-out it is, because START/MULAI clears it; marked unreachable, the
                    # number stayed blocked for ever.
                    opt_out(session, msg.urn, now)
                case SendFailure.contact_unreachable:
                    mark_unreachable(session, msg.urn, now)
                case SendFailure.retry_later | SendFailure.throttled | SendFailure.permanent:
                    pass     # failed: out of time, or retrying cannot help
            metrics.message_out(msg.channel, "retry" if msg.status == "pending" else msg.status)
        log.warning("outbound send failed", extra={"message_id": msg_id, "code": exc.code,
                                                   "reason": exc.reason, "kind": exc.kind.value})


def no_disk_wait(session: Session) -> None:
    """Commit this transaction without waiting for PostgreSQL to flush it to disk.

    Only for the outbox's own bookkeeping (claims, leases, what a send returned): the replies
    themselves were committed durably with the processing of the message (outbox before send).
    Should PostgreSQL itself crash (not Warga) within a fraction of a second after such a
    commit, it is lost, and the reply is sent again when its lease expires: the at-least-once
    case a crash between send and record already has. In exchange, each reply costs no disk
    flush (about 4 ms each on the benchmark machine, the largest part of a message's time).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def queue_reply(session: Session, settings: OutboxSettings, conversation: Conversation, text: str, *,
                buttons: Sequence[Button] = (), reply_to_id: int | None = None,
                template: str | None = None, template_vars: Mapping[str, str] | None = None,
                kind: str = "message", now: datetime | None = None) -> Message:
    """Put one message for the citizen in the conversation's outbox (the only way in).

    The dialogue's replies, status notifications and staff messages all come through here, so
    they share one order, one deadline rule and one sender (:meth:`Outbox.drain`). The caller
    commits, then wakes the conversation's worker.

    Args:
        template: The notification kind a channel may need an approved template for (WhatsApp
            outside its 24-hour window); ``template_vars`` fill it.
        reply_to_id: The inbound message this answers (the web chat returns replies by it).
    """
    now = now or utcnow()
    msg = Message(
        conversation_id=conversation.id, direction="out", channel=conversation.channel, kind=kind,
        urn=conversation.address.urn, text=text,
        buttons=[{"title": b.title, "payload": b.payload} for b in buttons],
        reply_to_id=reply_to_id, template=template,
        template_vars=dict(template_vars) if template_vars is not None else None,
        status="pending", next_attempt_at=now, created_at=now,
        deadline_at=now + timedelta(minutes=settings.give_up_after_minutes))
    session.add(msg)
    return msg


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
