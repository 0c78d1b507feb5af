"""The one way in: verify → parse → store (commit) → wake a worker → acknowledge.

Every channel comes through :meth:`Receiver.receive`: provider webhooks, Telegram polling, the
web chat API and ``warga chat``. What a request carries is stored in one transaction and
committed before anyone is answered, so nothing acknowledged is ever lost; a provider's retry of
the same update finds it stored (unique channel + external id) and changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Row, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from bot.casework.contacts import ContactRepository
from bot.pipeline import metrics
from bot.pipeline.delivery_reports import NEEDS_TEMPLATE, mark_unreachable, opt_out, record_status
from bot.pipeline.inbound_sql import EXISTING, INSERT_ONCE, Known, store_known
from bot.store.driver_sql import autocommit
from bot.store.engine import postgresql_engine
from bot.store.models import (
    DeliveryReceipt,
    Message,
    ProviderMessageId,
    utcnow,
)
from channels.base import (
    AnswersButtons,
    Channel,
    ContactEvent,
    Inbound,
    InboundMessage,
    InvalidRequest,
    Media,
    SendError,
    SendFailure,
    StatusUpdate,
    Unparseable,
    WebhookRequest,
)

if TYPE_CHECKING:
    from bot.pipeline.queue import JobQueue

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class Received:
    """What one request brought, once committed.

    Attributes:
        conversations: Conversations with new messages to handle (their workers are woken).
        callbacks: Button presses to acknowledge to the provider.
        stored: New rows (0 for a provider's retry).
        messages: Each citizen message of the request, in order (the web chat waits for the
            replies to its message).
    """

    conversations: tuple[int, ...]
    callbacks: tuple[str, ...]
    stored: int
    messages: tuple[Stored, ...] = ()


class Receiver:
    """Takes requests from every channel into the store and wakes the workers.

    Args:
        sessions: The session factory.
        queue: Wakes a worker per conversation with new messages.
    """

    def __init__(self, sessions: sessionmaker[Session], queue: JobQueue) -> None:
        self.sessions = sessions
        self.queue = queue

    def receive(self, channel: Channel, request: WebhookRequest, *, authenticated: bool = False,
                process_here: bool = False) -> Received:
        """Verify, parse, store and commit one request, then wake workers and acknowledge.

        Args:
            channel: The connector the request arrived for.
            request: The request as the connector sees it.
            authenticated: The request did not come from the network but from our own
                authenticated call to the provider (Telegram ``getUpdates``): skip ``verify``.
            process_here: Process the stored messages in this thread before returning: for a
                caller that answers with the replies (the web chat). A request's only message
                from a known citizen is stored and answered in one transaction when the queue
                can (:meth:`JobQueue.arrive`): a crash before its commit stores nothing, and
                the request, unanswered, is sent again. Otherwise processing starts after the
                store's commit, when the conversation is free (:meth:`JobQueue.process_here`),
                so a crash leaves the message to the sweeper.

        Raises:
            WebhookRejected: The request is not authentic (nothing was stored).
        """
        if not authenticated:
            channel.verify(request)
        try:
            items = channel.parse_inbound(request)
        except InvalidRequest:
            raise            # the client's mistake: 400, nothing stored
        except Exception as exc:  # noqa: BLE001 - a connector's bug must not become a 5xx
            log.exception("connector failed to parse a request; storing it raw",
                          extra={"channel": channel.name})
            items = [unstorable(channel.name, request, exc, "could not be parsed")]
        if process_here and (arrived := self._arrive(items)) is not None:
            return arrived
        try:
            received = store_and_commit(self.sessions, items)
        except DATABASE_UNAVAILABLE:
            raise            # nothing stored: the caller answers 503 and the provider retries
        except Exception as exc:  # noqa: BLE001 - what we cannot store is kept raw, never a 5xx
            # An authentic request whose content the database refuses (a value too long, a
            # character a driver cannot encode...). A 5xx would make Telegram re-send it for
            # ever and hold every later update behind it, so it is kept raw for staff instead.
            log.exception("request could not be stored as parsed; storing it raw",
                          extra={"channel": channel.name})
            received = store_and_commit(self.sessions,
                                        [unstorable(channel.name, request, exc, "could not be stored")])
        metrics.message_in(channel.name, sum(1 for m in received.messages if not m.duplicate))
        for conv_id in received.conversations:
            if process_here:
                self.queue.process_here(conv_id)
            else:
                self.queue.enqueue(conv_id)
        if isinstance(channel, AnswersButtons):
            for callback_id in received.callbacks:
                # Off the request path: a slow Bot API must not delay the provider's 200.
                _callbacks.submit(_acknowledge, channel.answer_callback, callback_id)
        return received

    def _arrive(self, items: list[Inbound]) -> Received | None:
        """A request's only message, stored and answered in one transaction by the queue
        (:meth:`JobQueue.arrive`: the web chat on PostgreSQL), or None."""
        only = _only_message(items)
        if only is None or only.callback_id or only.kind != "message":
            return None
        only = _cleaned(only)
        arrival = self.queue.arrive(_inbound_values(only))
        if arrival is None:
            return None
        metrics.message_in(only.channel)
        if arrival.more:
            self.queue.process_here(arrival.conversation_id)
        stored = Stored(arrival.message_id, arrival.conversation_id, False, True)
        return Received((arrival.conversation_id,), (), 1, (stored,))


# The database could not be reached or gave no connection: nothing was stored, so the request
# must fail (503) rather than be stored as unparseable.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


def unstorable(channel: str, request: WebhookRequest, exc: Exception, what: str) -> Unparseable:
    """The raw request as an :class:`Unparseable`, for content a connector or the database
    could not handle (``what`` says which, for staff)."""
    raw = request.body.decode("utf-8", errors="replace")
    key = "unstorable:" + hashlib.sha256(request.body).hexdigest()[:32]
    return Unparseable(channel, key, f"{what}: {type(exc).__name__}: {exc}"[:2000], raw, utcnow())


# Threads start on first use, so none exists before a server forks its workers.
_callbacks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="warga-callbacks")


def _acknowledge(answer: Callable[[str], object], callback_id: str) -> None:
    try:
        answer(callback_id)
    except SendError as exc:
        # The press is stored and handled either way; only the spinner on the button lingers.
        log.info("callback not acknowledged", extra={"reason": exc.reason})


# How often a transaction is restarted when SQLite reports "database is locked".
SQLITE_BUSY_ATTEMPTS = 5


def store_and_commit(sessions: sessionmaker[Session], items: list[Inbound]) -> Received:
    """Store ``items`` in one transaction and commit it.

    A request's only message, from a citizen who wrote before, is on PostgreSQL one statement
    that commits itself (:func:`_store_alone`). On SQLite the transaction is restarted when it
    hits "database is locked". A SAVEPOINT (``begin_nested``, e.g. creating a new contact) opens a
    *deferred* transaction; when a worker commits between its first read and its first write,
    SQLite refuses the upgrade at once (SQLITE_BUSY_SNAPSHOT: the busy timeout does not apply)
    and only a restart can succeed. Without this, a second citizen writing while a worker saved
    a reply got a 500, and Twilio does not retry a failed message webhook: the message was lost.
    """
    only = _only_message(items)
    tried = False
    # On PostgreSQL one statement in autocommit mode is a whole transaction that costs one
    # round trip (BEGIN and COMMIT are two more).
    if only is not None and (engine := postgresql_engine(sessions)) is not None:
        received = _store_alone(engine, only)
        if received is not None:
            return received
        tried = True
    for attempt in range(1, SQLITE_BUSY_ATTEMPTS + 1):
        try:
            with sessions() as session, session.begin():
                return store_items(session, items, try_known=not tried)
        except OperationalError as exc:
            if not (isinstance(exc.orig, sqlite3.OperationalError) and "locked" in str(exc.orig)) \
                    or attempt == SQLITE_BUSY_ATTEMPTS:
                raise
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")


def _only_message(items: list[Inbound]) -> InboundMessage | None:
    """A request's only item when it is a message that can be stored by one statement. A
    contact event (STOP, blocked...) marks the address in the same transaction: not alone."""
    only = items[0] if len(items) == 1 else None
    return only if isinstance(only, InboundMessage) and only.event is None else None


def _store_alone(engine: Engine, msg: InboundMessage) -> Received | None:
    """Store a request's only message in one statement, committed when it returns: a known
    citizen's new message, or a provider's retry. None when that statement stored nothing and
    found nothing (a new citizen, or a retry racing the first delivery): a transaction decides."""
    msg = _cleaned(msg)
    with engine.connect() as conn, autocommit(conn):
        known = store_known(conn, _inbound_values(msg))
    if known is None:
        return None
    stored = _stored(msg, known)
    new = not stored.duplicate
    conversations = (stored.conversation_id,) if stored.needs_processing and stored.conversation_id is not None else ()
    callbacks = (msg.callback_id,) if msg.callback_id and new else ()
    return Received(conversations, callbacks, int(new), (stored,))


def store_items(session: Session, items: list[Inbound], *, try_known: bool = True) -> Received:
    """Store what one request carried (the caller commits). ``try_known``: see
    :func:`store_inbound`."""
    conversations: list[int] = []
    callbacks: list[str] = []
    messages: list[Stored] = []
    stored = 0
    for item in items:
        if isinstance(item, InboundMessage):
            result = store_inbound(session, item, try_known=try_known)
            messages.append(result)
            if item.callback_id and not result.duplicate:
                callbacks.append(item.callback_id)
            if result.duplicate:
                continue
            stored += 1
            _apply_event(session, item, result.message_id)
            if result.needs_processing and result.conversation_id is not None:
                conversations.append(result.conversation_id)
        elif isinstance(item, StatusUpdate):
            stored += 1 if _status(session, item) else 0
        elif isinstance(item, Unparseable):
            stored += 0 if store_unparseable(session, item).duplicate else 1
    return Received(tuple(dict.fromkeys(conversations)), tuple(callbacks), stored, tuple(messages))


def _apply_event(session: Session, item: InboundMessage, message_id: int) -> None:
    """Act on the contact-level fact the connector reported, as the message is stored.

    The address is marked at once, so replies already queued for an opted-out or unreachable
    citizen are refused from now on; processing then answers the keyword (process.py).
    """
    if item.event is None:
        return
    address = ContactRepository(session).address(item.sender)
    if address is None:
        return
    now = utcnow()
    match item.event:
        case ContactEvent.blocked:
            address.unreachable_at = now
        case ContactEvent.unblocked:
            address.unreachable_at = None
        case ContactEvent.opt_out:
            address.opted_out_at = now
        case ContactEvent.opt_in:
            if address.opted_out_at is None:
                # Nothing to undo: "START" from someone who never stopped is an ordinary
                # message for the dialogue, so the stored fact is dropped.
                row = session.get(Message, message_id)
                if row is not None:
                    row.contact_event, row.provider_answered = None, False
            address.opted_out_at = None
        case ContactEvent.help:
            pass


def _status(session: Session, update: StatusUpdate) -> bool:
    """Apply one delivery report; False when the same report was stored before (a retry)."""
    update = replace(update, provider_message_id=clean(update.provider_message_id) or "",
                     error_code=clean(update.error_code), error_reason=clean(update.error_reason),
                     raw=clean(update.raw))
    # Provider message ids are unique per provider: match on the id alone, so a report that
    # does not say which of the provider's channels it is about (no From/To) still finds it.
    known = session.scalars(select(ProviderMessageId.channel).where(
        ProviderMessageId.provider_message_id == update.provider_message_id)).first()
    if known is not None and known != update.channel:
        update = replace(update, channel=known)
    if session.scalars(select(DeliveryReceipt.id).where(
            DeliveryReceipt.channel == update.channel,
            DeliveryReceipt.provider_message_id == update.provider_message_id,
            DeliveryReceipt.status == update.status.name,
            DeliveryReceipt.error_code.is_(None) if update.error_code is None
            else DeliveryReceipt.error_code == update.error_code)).first() is not None:
        return False
    held = False
    opted_out = unreachable = False
    match update.failure:
        case SendFailure.needs_template:
            # WhatsApp refused a free-form message outside 24 h (usually reported here rather
            # than at send time): staff must see it as "needs template", not as lost.
            update = replace(update, error_reason=NEEDS_TEMPLATE)
            held = True
        case SendFailure.contact_stopped:
            opted_out = True      # the number replied STOP to our sender (Twilio 21610)
        case SendFailure.contact_unreachable:
            unreachable = True
        case _:
            pass
    record_status(session, update, held=held)
    if not (opted_out or unreachable):
        return True
    pid = session.scalars(select(ProviderMessageId).where(
        ProviderMessageId.channel == update.channel,
        ProviderMessageId.provider_message_id == update.provider_message_id)).first()
    if pid is None:
        return True   # applied with the receipt once the message is recorded (outbox.py)
    msg = session.get(Message, pid.message_id)
    urn = msg.urn if msg is not None else None
    (opt_out if opted_out else mark_unreachable)(session, urn, utcnow())
    return True


# -- storing one item ------------------------------------------------------------------


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(value: str | None) -> str | None:
    """Make ``value`` storable; keep everything else exactly as the citizen sent it.

    NUL is stripped (PostgreSQL text cannot hold it, and it carries nothing a citizen meant).
    A lone surrogate (JSON may spell ``"\\ud800"``) is not a character and cannot be encoded
    by any database driver: it becomes U+FFFD, the honest mark of "something unreadable here".
    """
    if value is None:
        return None
    value = value.replace("\x00", "")
    return _LONE_SURROGATE.sub("\ufffd", value)


def _inbound_values(msg: InboundMessage) -> dict[str, Any]:
    """The binds of :mod:`bot.pipeline.inbound_sql` for ``msg`` (already cleaned of its ids)."""
    processable = msg.kind == "message"
    name = clean(msg.sender_name)
    return {
        "b_direction": "in", "b_channel": msg.channel, "b_kind": msg.kind,
        "b_external_id": msg.external_id, "b_urn": msg.sender, "b_text": clean(msg.text) or "",
        "b_media": [media_item(m) for m in msg.media],
        "b_latitude": msg.location.lat if msg.location else None,
        "b_longitude": msg.location.lon if msg.location else None,
        "b_address_text": clean(msg.location.address) if msg.location else None,
        "b_button_payload": clean(msg.reply_to_button), "b_raw": clean(msg.raw), "b_received_at": msg.received_at,
        "b_status": "received" if processable else "recorded",
        # Edits, group posts and member changes are kept for the transcript, never answered.
        "b_processed_at": None if processable else utcnow(),
        "b_shared_phone": clean(msg.phone),
        "b_contact_event": msg.event.value if msg.event is not None else None,
        "b_provider_answered": msg.provider_answered,
        "b_buttons": [], "b_attempts": 0, "b_parts_sent": 0, "b_created_at": utcnow(),
        # Only a message to answer moves the address's last inbound time.
        "b_at": msg.received_at if processable else None,
        "b_name": name[:200] if name else None,
    }


def _cleaned(msg: InboundMessage) -> InboundMessage:
    # The ids come from the request too (a Twilio "From", a client's message id).
    return replace(msg, external_id=clean(msg.external_id) or "", sender=clean(msg.sender) or "")


def _existing(session: Session, channel: str, external_id: str) -> Row[Any, Any] | None:
    """The (id, conversation_id) of the message already stored under this provider id."""
    return session.connection().execute(EXISTING, {"b_channel": channel, "b_external_id": external_id}).first()


def _stored(msg: InboundMessage, known: Known) -> Stored:
    return Stored(known.message_id, known.conversation_id, known.duplicate,
                  not known.duplicate and msg.kind == "message")


def store_inbound(session: Session, msg: InboundMessage, *, try_known: bool = True) -> Stored:
    """Store ``msg`` once; a second delivery of the same provider id is reported as duplicate.

    ``try_known=False``: the caller already tried :func:`inbound_sql.store_known` for it.
    """
    msg = _cleaned(msg)
    values = _inbound_values(msg)
    # Core statements do not flush the ORM: anything an earlier item of this request (or the
    # caller) changed through it is written first, so they see it and nothing stale is
    # written over them later.
    if session.new or session.dirty or session.deleted:
        session.flush()
    if try_known:
        known = store_known(session.connection(), values)
        if known is not None:
            return _stored(msg, known)
    # A new citizen (or one without a conversation), or a retry racing the first delivery.
    old = _existing(session, msg.channel, msg.external_id)
    if old is not None:
        return Stored(old.id, old.conversation_id, True, False)
    conversation_id = _new_conversation(session, msg, values["b_at"])
    conn = session.connection()
    row_id = conn.execute(INSERT_ONCE[conn.dialect.name], {**values, "b_conversation_id": conversation_id}).scalar()
    if row_id is None:
        # Same update delivered twice at the same moment: the other request stored it.
        old = _existing(session, msg.channel, msg.external_id)
        assert old is not None
        return Stored(old.id, old.conversation_id, True, False)
    return Stored(row_id, conversation_id, False, msg.kind == "message")


def _new_conversation(session: Session, msg: InboundMessage, at: datetime | None) -> int:
    """The conversation of ``msg``'s sender, created with the contact and address as needed,
    with the address's last inbound time moved to ``at`` (None: not a message to answer)."""
    contacts = ContactRepository(session)
    address = contacts.get_or_create_address(msg.sender, msg.channel, clean(msg.sender_name))
    conversation = contacts.conversation_for(address)
    if at is not None:
        address.last_inbound_at = max(filter(None, [address.last_inbound_at, at]))
    session.flush()
    return conversation.id


def media_item(m: Media) -> dict[str, Any]:
    """The stored shape of an attachment (``Message.media``). One the connector already holds
    on this machine (the web chat's upload) is stored at once, so the media fetcher skips it."""
    item: dict[str, Any] = {"url": m.url, "content_type": m.content_type, "caption": clean(m.caption)}
    if m.file_name:
        item["name"] = clean(m.file_name)
    if m.local_path:
        item.update(stored=m.local_path, size=m.size)
    return item


def store_unparseable(session: Session, item: Unparseable) -> Stored:
    """Keep an authenticated update we could not understand, with the reason, for staff."""
    item = replace(item, external_id=clean(item.external_id) or "")
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
