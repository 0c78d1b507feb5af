"""The outbox: send stored replies through their channel, in order, with retries and leases.

A reply is claimed with a lease before it is sent, so two workers never send it twice; a
worker that dies mid-send leaves a lease that expires and the sweeper sends again (the only
case where a provider may see the same reply twice, as with any at-least-once transport).
The claims and send records are committed without waiting for the disk (:func:`no_disk_wait`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, String, Table, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.pipeline import metrics
from bot.pipeline.delivery_reports import NEEDS_TEMPLATE, OPEN, apply_status, mark_unreachable, opt_out
from bot.settings import OutboxSettings
from bot.store.models import (
    ContactAddress,
    Conversation,
    DeliveryReceipt,
    Message,
    ProviderMessageId,
    open_replies,
    utcnow,
)
from channels.base import (
    Button,
    Channel,
    DeliversOnStore,
    DeliveryStatus,
    NoDeliveryReports,
    OutboundMessage,
    SendError,
    SendFailure,
    SendResult,
)

log = logging.getLogger(__name__)


def backoff(settings: OutboxSettings, attempts: int, retry_after: float | None) -> float:
    delay = min(settings.first_retry_seconds * (2 ** max(attempts - 1, 0)), settings.max_retry_seconds)
    return max(delay, retry_after or 0.0)


@dataclass(frozen=True, slots=True)
class Claim:
    """A reply this worker holds the lease of: what sending it needs, and nothing more."""

    id: int
    channel: str
    urn: str | None
    text: str
    buttons: list[dict[str, str]]
    media: list[dict[str, Any]]
    template: str | None
    template_vars: dict[str, str] | None
    parts_sent: int
    attempts: int                       # this attempt's number (the claim counted it)
    deadline_at: datetime | None
    error_reason: str | None            # of the last failed attempt
    last_inbound_at: datetime | None    # the address's, for channels with a reply window
    opted_out_at: datetime | None
    unreachable_at: datetime | None
    language: str


def claim_of(row: Row[*tuple[Any, ...]]) -> Claim:
    """The claim of a reply read by :data:`_OLDEST_OPEN` (or its like), as this attempt."""
    return Claim(id=row.id, channel=row.channel, urn=row.urn, text=row.text, buttons=row.buttons or [],
                 media=row.media or [], template=row.template, template_vars=row.template_vars,
                 parts_sent=row.parts_sent, attempts=row.attempts + 1, deadline_at=row.deadline_at,
                 error_reason=row.error_reason, last_inbound_at=row.last_inbound_at,
                 opted_out_at=row.opted_out_at, unreachable_at=row.unreachable_at,
                 language=row.language or "id")


# The outbox's statements, built once: building a statement costs more CPU than running it.
_m = cast(Table, Message.__table__)
_a = cast(Table, ContactAddress.__table__)
_c = cast(Table, Conversation.__table__)
_r = cast(Table, DeliveryReceipt.__table__)
_OLDEST_OPEN = (
    select(_m.c.id, _m.c.status, _m.c.lease_until, _m.c.next_attempt_at, _m.c.attempts, _m.c.channel, _m.c.urn,
           _m.c.text, _m.c.buttons, _m.c.media, _m.c.template, _m.c.template_vars, _m.c.parts_sent,
           _m.c.deadline_at, _m.c.error_reason, _a.c.last_inbound_at, _a.c.opted_out_at, _a.c.unreachable_at,
           _c.c.language)
    .select_from(_m.outerjoin(_a, _a.c.urn == _m.c.urn).outerjoin(_c, _c.c.id == _m.c.conversation_id))
    .where(_m.c.conversation_id == bindparam("b_conv"), open_replies(_m.c))
    .order_by(_m.c.id).limit(1))
_CLAIM = (update(_m).where(_m.c.id == bindparam("b_id"), _m.c.status == bindparam("b_status"),
                           or_(_m.c.lease_until.is_(None), _m.c.lease_until <= bindparam("b_now")))
          .values(status="sending", lease_until=bindparam("b_lease"), attempts=_m.c.attempts + 1))
_REFUSE = (update(_m).where(_m.c.id == bindparam("b_id"))
           .values(status="failed", error_reason=bindparam("b_reason"), status_at=bindparam("b_now"),
                   lease_until=None))
# A retried message that finally went out has no error: the code of the last failed attempt
# is cleared too (its reason is replaced by the send's note), or staff see a "sent" message
# still carrying "429"/"502".
_RECORD_SENT = (update(_m).where(_m.c.id == bindparam("b_id"), _m.c.status == "sending",
                                 _m.c.attempts == bindparam("b_attempts"))
                .values(status=bindparam("b_status"), lease_until=None, sent_at=bindparam("b_sent_at"),
                        status_at=bindparam("b_now"), error_code=None, error_reason=bindparam("b_note"),
                        provider_message_id=func.coalesce(bindparam("b_pid", type_=String),
                                                          _m.c.provider_message_id)))
_NOTE_PID = insert(cast(Table, ProviderMessageId.__table__))
# Every open reply of a conversation not leased to a sender right now, oldest first: what a
# channel that delivers on store records in one go.
_OPEN_UNLEASED = (
    select(*_OLDEST_OPEN.selected_columns)
    .select_from(_m.outerjoin(_a, _a.c.urn == _m.c.urn).outerjoin(_c, _c.c.id == _m.c.conversation_id))
    .where(_m.c.conversation_id == bindparam("b_conv"), open_replies(_m.c),
           or_(_m.c.lease_until.is_(None), _m.c.lease_until <= bindparam("b_now")))
    .order_by(_m.c.id))
# Claim and record in one statement, only while nobody else holds the reply (same check as _CLAIM;
# no IN list: an executemany takes no expanding parameter).
_DELIVERED_ON_STORE = (
    update(_m).where(_m.c.id == bindparam("b_id"), or_(*(_m.c.status == s for s in OPEN)),
                     or_(_m.c.lease_until.is_(None), _m.c.lease_until <= bindparam("b_now")))
    .values(status=bindparam("b_status"), lease_until=None, attempts=_m.c.attempts + 1,
            sent_at=bindparam("b_sent_at"), status_at=bindparam("b_now"), error_code=None,
            error_reason=bindparam("b_note"),
            provider_message_id=func.coalesce(bindparam("b_pid", type_=String), _m.c.provider_message_id)))
_EARLY_RECEIPTS = (select(_r.c.id).where(_r.c.channel == bindparam("b_channel"),
                                         _r.c.provider_message_id.in_(bindparam("b_pids", expanding=True)),
                                         _r.c.applied_at.is_(None)))


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

    def claim(self, session: Session, conv_id: int, now: datetime) -> Claim | None:
        """Claim the conversation's oldest open reply with a lease, in ``session``'s transaction:
        two round trips (the reply with its address and language, then the conditional UPDATE
        that claims it), both prebuilt Core statements on the columns the send needs (the ORM's
        statement building and object loading were most of the outbox's CPU).

        The drain claims this way, and so does the transaction that processed a message and
        queued the reply: the send after its commit then needs no transaction of its own to
        claim it (pass the claim to :meth:`drain`). Should the process die before sending, the
        reply goes out when the lease has expired."""
        conn = session.connection()
        row = conn.execute(_OLDEST_OPEN, {"b_conv": conv_id}).first()
        if row is None:
            return None
        if row.status == "sending" and row.lease_until and row.lease_until > now:
            return None            # another worker is sending it right now
        if row.next_attempt_at and row.next_attempt_at > now:
            return None            # waiting for its retry time; later replies wait behind it
        lease_until = now + timedelta(seconds=self.settings.lease_seconds)
        claimed = conn.execute(_CLAIM, {"b_id": row.id, "b_status": row.status, "b_now": now,
                                        "b_lease": lease_until}).rowcount
        if claimed != 1:
            return None
        return claim_of(row)

    def drain(self, conv_id: int, claimed: Claim | None = None) -> int:
        """Send the conversation's pending replies in order; return how many left the outbox.

        The record of one send and the claim of the next reply share a transaction: one commit
        per reply instead of two, and the record is still committed before the next send. A
        reply on a channel whose citizens read it from the store (:class:`DeliversOnStore`,
        the web chat) is claimed and recorded in one go, and the next claim follows in the same
        transaction: nothing leaves the process, so there is nothing to wait for.
        ``claimed``: the reply :meth:`claim` claimed in a transaction already committed,
        sent first.
        """
        done = 0
        sent: tuple[int, str, int, SendResult] | None = None
        while True:
            now = self.clock()
            channel = self.channels.get(claimed.channel) if claimed is not None else None
            if (claimed is not None and channel is not None and not isinstance(channel, DeliversOnStore)
                    and refusal_of(self.settings, claimed, now) is None):
                # Claimed with the processing: straight to the send.
                outbound = outbound_of(claimed)
                msg_id, attempts = claimed.id, claimed.attempts
                claimed = None
                done += 1
            else:
                with self.sessions() as session, session.begin():
                    # Only a transaction that writes is told not to wait for the disk (a drain
                    # that finds nothing costs one read).
                    writes = sent is not None
                    if sent is not None:
                        no_disk_wait(session)
                        self._record_sent_in(session, *sent, now,
                                             early_receipts=reports_delivery(self.channels.get(sent[1])))
                        sent = None
                    while True:
                        claim, claimed = claimed or self.claim(session, conv_id, now), None
                        if claim is None:
                            return done
                        if not writes:
                            no_disk_wait(session)
                            writes = True
                        done += 1
                        refusal = refusal_of(self.settings, claim, now)
                        if refusal is not None:
                            session.connection().execute(_REFUSE, {"b_id": claim.id, "b_reason": refusal,
                                                                   "b_now": now})
                            metrics.message_out(claim.channel, "failed")
                            continue
                        outbound = outbound_of(claim)
                        msg_id, attempts, channel = claim.id, claim.attempts, self.channels.get(claim.channel)
                        if not isinstance(channel, DeliversOnStore):
                            break
                        self._record_sent_in(session, msg_id, claim.channel, attempts,
                                             channel.record_delivery(outbound), now, receipts=False)
                        metrics.message_out(claim.channel, "sent")
            if channel is None:
                self._record_error(msg_id, SendError(f"channel {outbound.channel} is off",
                                                     kind=SendFailure.permanent), attempts)
                continue
            try:
                result = channel.send(outbound)
            except SendError as exc:
                self._record_error(msg_id, exc, attempts)
                if exc.retryable:
                    return done - 1    # keep order: later replies wait until this one goes
                continue
            sent = (msg_id, outbound.channel, attempts, result)
            metrics.message_out(outbound.channel, "sent")

    def _record_sent_in(self, session: Session, msg_id: int, channel: str, attempts: int,
                        result: SendResult, now: datetime, *, receipts: bool = True,
                        early_receipts: bool = True) -> None:
        """Record a send. ``receipts``: the provider's ids are noted, so its reports find
        the message (a channel that delivers on store has nobody reporting on it);
        ``early_receipts``: a report that came before this record is looked for and applied
        (pointless where the provider never reports: :class:`NoDeliveryReports`)."""
        conn = session.connection()
        pids = result.provider_message_ids
        # Only while this claim still holds the reply (status sending, same attempt): the
        # conditional UPDATE locks and re-checks the row in one statement.
        recorded = conn.execute(_RECORD_SENT, {
            "b_id": msg_id, "b_attempts": attempts, "b_status": result.status.name, "b_now": now,
            "b_sent_at": now if result.status != DeliveryStatus.held else None,
            "b_note": result.note, "b_pid": pids[0] if pids else None}).rowcount == 1
        if not recorded:
            msg = session.get(Message, msg_id)
            assert msg is not None
            self._superseded(msg, attempts)     # logs which attempt stands
        if not receipts:
            return
        # Recorded or superseded, the provider's ids are noted, so its delivery receipts find
        # the message.
        if pids:
            conn.execute(_NOTE_PID, [{"channel": channel, "provider_message_id": pid, "message_id": msg_id}
                                     for pid in pids])
        if not recorded or not early_receipts:
            return
        # A status callback may have arrived before we stored the id: apply it now (rare,
        # so only then is the message loaded as an object).
        early_ids = conn.execute(_EARLY_RECEIPTS, {"b_channel": channel, "b_pids": list(pids)}).scalars().all() \
            if pids else []
        if early_ids:
            msg = session.get(Message, msg_id)
            assert msg is not None
            early = session.scalars(select(DeliveryReceipt).where(DeliveryReceipt.id.in_(early_ids))
                                    .order_by(DeliveryReceipt.id)).all()
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


def refusal_of(settings: OutboxSettings, claim: Claim, now: datetime) -> str | None:
    """Why a claimed reply must not go out (recorded as failed), or None."""
    if claim.deadline_at and claim.deadline_at < now:
        return (f"gave up: not sent within {settings.give_up_after_minutes:g} minutes "
                f"({claim.error_reason or 'no error recorded'})")
    if claim.opted_out_at is not None and claim.template != "opt_out_confirmation":
        return "not sent: the citizen opted out"
    if claim.unreachable_at is not None:
        return "not sent: the citizen cannot be reached on this channel (blocked or deactivated)"
    return None


def outbound_of(claim: Claim) -> OutboundMessage:
    """What a connector is given to send for a claimed reply."""
    return OutboundMessage(
        channel=claim.channel, recipient=claim.urn or "", text=claim.text,
        buttons=tuple(Button(b["title"], b["payload"]) for b in claim.buttons),
        media_urls=tuple(m["url"] for m in claim.media), template=claim.template,
        template_vars=tuple(sorted((claim.template_vars or {}).items())),
        last_inbound_at=claim.last_inbound_at, idempotency_key=str(claim.id), language=claim.language,
        # A reply split in parts resumes after the parts that already went out.
        resume_from=claim.parts_sent)


def deliver_on_store(session: Session, settings: OutboxSettings, channel: DeliversOnStore, conv_id: int,
                     now: datetime) -> int:
    """Record the conversation's open replies delivered, in the caller's transaction: for a
    channel whose citizens read their replies from the store (the web chat), the processing
    of a message commits its replies already delivered, and the outbox has nothing left to do.

    The same rules as :meth:`Outbox.drain` (a reply past its deadline, or to a citizen who
    opted out or cannot be reached, is refused; one another worker holds is left to it), in
    two statements whatever the number of replies: one read, one batched update. Call it
    after the replies were added (they are flushed first). Returns how many were recorded.
    """
    session.flush()
    conn = session.connection()
    rows = conn.execute(_OPEN_UNLEASED, {"b_conv": conv_id, "b_now": now}).all()
    delivered: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for row in rows:
        claim = claim_of(row)
        refusal = refusal_of(settings, claim, now)
        if refusal is not None:
            refused.append({"b_id": claim.id, "b_reason": refusal, "b_now": now})
            metrics.message_out(claim.channel, "failed")
            continue
        result = channel.record_delivery(outbound_of(claim))
        pids = result.provider_message_ids
        delivered.append({"b_id": claim.id, "b_status": result.status.name, "b_now": now,
                          "b_sent_at": now if result.status != DeliveryStatus.held else None,
                          "b_note": result.note, "b_pid": pids[0] if pids else None})
        metrics.message_out(claim.channel, "sent")
    if refused:
        conn.execute(_REFUSE, refused)
    if delivered:
        conn.execute(_DELIVERED_ON_STORE, delivered)
    return len(rows)


def reports_delivery(channel: Channel | None) -> bool:
    """Whether the channel's provider may report on what was sent (all do but those that say
    otherwise: :class:`NoDeliveryReports` with ``reports_delivery`` False)."""
    return not (isinstance(channel, NoDeliveryReports) and channel.reports_delivery is False)


def no_disk_wait(session: Session) -> None:
    """Commit this transaction without waiting for PostgreSQL to flush it to disk.

    Only for the outbox's own bookkeeping (claims, leases, what a send returned): the replies
    themselves were committed durably with the processing of the message (outbox before send).
    Should PostgreSQL itself crash (not Warga) within a fraction of a second after such a
    commit, it is lost, and the reply is sent again when its lease expires: the at-least-once
    case a crash between send and record already has. In exchange, each reply costs no disk
    flush (about 4 ms each on the benchmark machine, the largest part of a message's time).
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
