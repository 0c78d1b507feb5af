"""Run the dialogue over a conversation's unprocessed inbound messages, one at a time, in order.

Each message is handled in one transaction that stores its replies in the outbox and marks it
processed, so a job run twice (or a provider's retry) never answers twice, and a crash before
the commit simply leaves the message for the sweeper.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from bot.casework.contacts import ContactRepository
from bot.casework.conversation_state import load_state, state_columns
from bot.casework.dialogue_ports import DbDialoguePorts
from bot.casework.queues import routed_queue
from bot.dialogue.engine import Dialogue
from bot.dialogue.knowledge import KnowledgeBase
from bot.dialogue.policy import dialogue_policy
from bot.dialogue.texts import render
from bot.dialogue.types import Incoming, Reply, Turn
from bot.pipeline import metrics
from bot.pipeline.dead_letters import DeadLetters
from bot.pipeline.outbox import Claim, deliver_on_store
from bot.pipeline.replies import insert_replies, replies_json, reply_values
from bot.pipeline.turn_sql import (
    ARRIVE,
    LOCK_AND_NEXT,
    NEXT,
    NEXT_ID_AND_OPEN,
    PROCESSED,
    PROCESSED_WITH_NLU,
    TURN_END,
    TURN_END_WITH_NLU,
    TURN_STATE,
    Inbound,
    turn_end_with_replies,
)
from bot.pipeline.wakeup import LocalWakeups, StoredReply, Wakeups
from bot.settings import Settings
from bot.store.conversation_rows import (
    LOCK_WIDTH,
    ConversationRow,
    conversation_of,
    lock_conversation,
    set_contact_language,
)
from bot.store.engine import postgresql_engine
from bot.store.models import ContactAddress, Message, utcnow
from channels.base import (
    Channel,
    CitizenAbilities,
    ContactEvent,
    DeliversOnStore,
    DescribesCitizenAbilities,
    Location,
    Media,
)
from nlu.base import NluEngine, NluError, Parse

log = logging.getLogger(__name__)


def now_year() -> int:
    return utcnow().year


# The keyword facts a connector reports (channels.base.ContactEvent), and our answer to each.
# The address itself was already marked when the message was stored (receive._apply_event).
KEYWORD_REPLIES = {ContactEvent.opt_out.value: "opted_out", ContactEvent.opt_in.value: "opted_in",
                   ContactEvent.help.value: "sms_help"}
DIGIT_RE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def infrastructure_fault(exc: BaseException) -> bool:
    """A lost or refused database connection, as opposed to a message that makes the code
    fail. Only the latter counts toward dead-lettering: an outage of a few seconds must never
    turn citizens' messages into failures.

    PostgreSQL's operational errors (connection lost or refused, server shutting down,
    deadlock, out of memory) are all passing by nature; SQLite reports a wrong schema as an
    operational error too, so there only a dropped connection counts as a fault. No pooled
    connection within the pool's timeout (every one busy: a filing takes its ticket number on
    a second one) is a fault too.
    """
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError) and type(exc.orig).__module__.startswith("psycopg")


def parse_to_json(p: Parse) -> dict[str, object]:
    return {"intent": p.intent, "confidence": round(float(p.confidence), 4),
            "ranking": [[str(i), round(float(c), 4)] for i, c in p.ranking[:5]],
            "entities": [{"entity": e.entity, "value": e.value, "start": e.start, "end": e.end}
                         for e in p.entities],
            "language": p.language, "engine": p.engine, "model_version": p.model_version,
            # An external model's own name for what it understood (nlu.intent_map), kept so staff
            # and the city's NLU team can see what was mapped or left unmapped.
            **({"source_intent": p.source_intent} if p.source_intent else {})}


@dataclass(frozen=True, slots=True)
class _Stored:
    """What a turn stored, and what its last statement found."""

    replies: tuple[StoredReply, ...]
    next_id: int | None             # the conversation's next unprocessed message
    open_replies: bool              # the conversation still has an open reply


class _StaleTurn(Exception):
    """The turn answered a message that a concurrent turn had answered (see LOCK_AND_NEXT)."""


@dataclass(frozen=True, slots=True)
class Processed:
    """What one run over a conversation did.

    Attributes:
        handled: Messages answered or dead-lettered.
        outbox_done: The last transaction recorded every open reply delivered on store (the
            web chat) and no message was left: the outbox has nothing to do for this run.
        claimed: The reply the last transaction claimed for sending (a channel that sends),
            for :meth:`Outbox.drain`: its send needs no transaction of its own to claim it.
    """

    handled: int
    outbox_done: bool = False
    claimed: Claim | None = None


@dataclass(frozen=True, slots=True)
class Arrival:
    """A web chat message stored and answered by :meth:`ConversationProcessor.process_arrival`.

    Attributes:
        message_id: The message stored.
        conversation_id: Its conversation.
        more: Messages of the conversation stored meanwhile are left to answer: the caller
            runs the conversation's job.
    """

    message_id: int
    conversation_id: int
    more: bool


@dataclass(frozen=True, slots=True)
class _Turn:
    """What one message's turn left for after its commit."""

    more: bool
    answers: dict[int, tuple[StoredReply, ...]]
    claimed: Claim | None
    on_store: bool


class ConversationProcessor:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], nlu: NluEngine, *,
                 wakeups: Wakeups | None = None, channels: Mapping[str, Channel] | None = None,
                 max_attempts: int = 3,
                 claim_next: Callable[[Session, int, datetime], Claim | None] | None = None) -> None:
        self.settings = settings
        # The outbox's claim (Outbox.claim), made in the transaction of the conversation's
        # last message: one transaction fewer per message on the channels that send.
        self.claim_next = claim_next
        self.channels = channels or {}
        # Which channels record a reply delivered as it is stored, decided once (the channels
        # are fixed when the runtime is built; a runtime protocol check costs microseconds).
        self._delivers_on_store = {name: ch for name, ch in self.channels.items() if isinstance(ch, DeliversOnStore)}
        # PostgreSQL's engine (None on SQLite): a web chat arrival's transaction runs on one of
        # its connections directly (process_arrival).
        self._engine = postgresql_engine(sessions)
        self._describes_abilities = {name for name, ch in self.channels.items()
                                     if isinstance(ch, DescribesCitizenAbilities)}
        self.wakeups = wakeups or LocalWakeups()
        self.dead_letters = DeadLetters(settings, sessions, self.wakeups, max_attempts)
        self.sessions = sessions
        self.nlu = nlu
        self.knowledge = KnowledgeBase(settings.knowledge_dir)

    @property
    def max_attempts(self) -> int:
        return self.dead_letters.max_attempts

    def _lock(self, session: Session, conv_id: int) -> ConversationRow | None:
        # FOR NO KEY UPDATE serialises workers on PostgreSQL (as FOR UPDATE would) but lets the
        # new messages of the conversation be stored meanwhile: their foreign key takes a KEY
        # SHARE lock on this row, which FOR UPDATE blocks until the whole turn has committed.
        # SQLite has one writer anyway. The contact and address every message needs come in
        # the same round trip (inner joins: both are required columns), and only the
        # conversation's row is locked.
        return lock_conversation(session.connection(), conv_id)

    def _lock_and_next(self, session: Session, conv_id: int,
                       stale: bool) -> tuple[ConversationRow, Inbound | None] | None:
        """The locked conversation and its oldest unprocessed message: one round trip on
        PostgreSQL (LOCK_AND_NEXT), two after a stale turn and on SQLite (one writer: the
        message is read after the lock is held)."""
        conn = session.connection()
        if stale or conn.dialect.name != "postgresql":
            conv = self._lock(session, conv_id)
            return None if conv is None else (conv, self._next(session, conv_id))
        row = LOCK_AND_NEXT.first(conn, {"b_conv": conv_id})
        if row is None:
            return None
        message = row[LOCK_WIDTH:]
        if message[0] is None:
            # Nothing after the last answered message: read from the start (see LOCK_AND_NEXT).
            return conversation_of(row), self._next(session, conv_id)
        return conversation_of(row), Inbound(*message)

    def _button_from_digit(self, session: Session, conv_id: int, msg: Inbound) -> str | None:
        """On channels without buttons the choices were numbered; "1" picks the first."""
        if msg.button_payload or not msg.text:
            return msg.button_payload
        m = DIGIT_RE.match(msg.text)
        if not m:
            return None
        last = session.scalars(select(Message).where(
            Message.conversation_id == conv_id, Message.direction == "out", Message.id < msg.id)
            .order_by(Message.id.desc()).limit(1)).first()
        if last is None or not last.buttons:
            return None
        n = int(m.group(1))
        return last.buttons[n - 1]["payload"] if 1 <= n <= len(last.buttons) else None

    def _parse(self, text: str) -> Parse | None:
        if not text.strip():
            return None
        started = time.perf_counter()
        try:
            parse = self.nlu.parse(text)
        except NluError as exc:
            # The dialogue still answers (keywords and buttons work without a model).
            log.warning("nlu unavailable", extra={"reason": str(exc)})
            metrics.nlu_parsed(time.perf_counter() - started, None)
            return None
        metrics.nlu_parsed(time.perf_counter() - started, parse)
        return parse

    def process(self, conv_id: int) -> Processed:
        """Handle every unprocessed inbound message of the conversation, in order."""
        handled = 0
        more = True
        outbox_done = False
        claimed: Claim | None = None
        stale = False
        while more:
            msg_id: int | None = None
            outbox_done = False
            # Only the claim of the transaction that ends the run is handed on: one whose
            # commit failed is gone with it.
            claimed = None
            started = time.perf_counter()
            try:
                with self.sessions() as session, session.begin():
                    locked = self._lock_and_next(session, conv_id, stale)
                    if locked is None:
                        return Processed(handled)
                    conv, msg = locked
                    if msg is None:
                        return Processed(handled)
                    msg_id = msg.id
                    turn = self._turn(session, conv, msg, session.connection())
                    more, claimed = turn.more, turn.claimed
            except _StaleTurn:
                # Rolled back: that message was answered meanwhile. Look again, the slow way.
                stale = more = True
                continue
            except Exception as exc:  # the edge of one message: its transaction is rolled back
                if (msg_id is None or infrastructure_fault(exc)
                        or not self.dead_letters.record_failure(conv_id, msg_id, exc)):
                    # The database (or Redis) went away, or nothing could be recorded: not the
                    # message's fault, so no attempt is counted; the sweeper re-drives it.
                    raise
                more = True
            else:
                # Committed: whoever waits for this message's replies (the web chat) wakes now.
                self.wakeups.processed((msg_id,), turn.answers)
                metrics.processed(time.perf_counter() - started)
                outbox_done = turn.on_store
            handled += 1
        return Processed(handled, outbox_done, claimed)

    def process_arrival(self, values: Mapping[str, Any],
                        take: Callable[[int], bool] = lambda _conv_id: True) -> Arrival | None:
        """Store a known citizen's web chat message and answer it in one transaction.

        PostgreSQL, a channel that records replies delivered as they are stored: the message is
        stored into its conversation under the conversation's lock and read back by the same
        statement (:data:`ARRIVE`), answered, and committed with its replies. One transaction
        and four round trips (BEGIN, that statement, the turn's end, COMMIT) instead of the
        stored message's own and the turn's (six). When an older message of the conversation
        is still unprocessed, the turn's end refuses (:class:`_StaleTurn`) and everything is
        rolled back: the usual way then answers both in order.

        ``values``: the binds of :func:`bot.pipeline.inbound_sql.store_known`. ``take``: asked
        once the conversation is known; False (another thread of this process handles it)
        rolls everything back. None when this way does not apply or nothing was committed (an
        unknown sender, a retry of a stored message, a conversation not taken, any error): the
        caller stores the message alone and processes it the usual way, where a failure is
        counted against the message, so nothing is lost and nothing is answered twice.
        """
        if values["b_channel"] not in self._delivers_on_store or self._engine is None:
            return None
        started = time.perf_counter()
        try:
            # A Core connection's transaction, with an ORM session joined to it for what the
            # turn does through the ORM (rarely anything: a filing, a reopened complaint): a
            # session's own transaction cost a web chat message 4% more CPU.
            with self._engine.connect() as conn, conn.begin():
                row = ARRIVE.first(conn, values)
                if row is None:
                    return None
                conv = conversation_of(row)
                if not take(conv.id):
                    raise _StaleTurn()
                arrived = Inbound(*row[LOCK_WIDTH:])
                with self.sessions(bind=conn) as session:
                    turn = self._turn(session, conv, arrived, conn)
                    session.flush()      # what the turn changed through the ORM, before the commit
        except _StaleTurn:
            return None          # an older message waits, or a worker has the conversation
        except Exception:  # noqa: BLE001 - rolled back: the usual way stores and handles it
            log.warning("web chat message taken the usual way", exc_info=True)
            return None
        self.wakeups.processed((arrived.id,), turn.answers)
        metrics.processed(time.perf_counter() - started)
        return Arrival(arrived.id, conv.id, turn.more)

    def _turn(self, session: Session, conv: ConversationRow, msg: Inbound, conn: Connection) -> _Turn:
        """Answer ``msg`` in the caller's transaction (it holds the conversation's lock):
        ``conn``'s, which ``session`` is on."""
        delivered_by = self._delivers_on_store.get(conv.channel)
        stored = self._handle(session, conv, msg, delivered_by, conn)
        # Asked before the commit (by the turn's last statement), so the last message costs no
        # extra transaction just to find nothing. A message stored after this check has queued
        # its own job (the queue runs a conversation once more when woken mid-run).
        more = stored.next_id is not None
        answers: dict[int, tuple[StoredReply, ...]] = {}
        claimed = None
        if delivered_by is not None:
            # Stored is delivered (the web chat): the turn's replies were stored delivered; any
            # other open reply of the conversation (a staff reply, an earlier apology) is
            # recorded in this transaction too, so the outbox has nothing left to do.
            if stored.open_replies:
                deliver_on_store(session, self.settings.outbox, delivered_by, conv.id, utcnow())
            # With their ids: the waiting request needs no read-back.
            answers[msg.id] = stored.replies
        elif not more and self.claim_next is not None:
            session.flush()          # what the turn changed through the ORM, before the claim
            claimed = self.claim_next(session, conv.id, utcnow())
        return _Turn(more, answers, claimed, delivered_by is not None)

    def _next(self, session: Session, conv_id: int) -> Inbound | None:
        row = NEXT.first(session.connection(), {"b_conv": conv_id})
        return Inbound(*row) if row is not None else None

    def _abilities(self, channel_name: str) -> CitizenAbilities:
        if channel_name not in self._describes_abilities:
            return CitizenAbilities()
        return cast(DescribesCitizenAbilities, self.channels[channel_name]).citizen_abilities

    def _keyword_turn(self, session: Session, conv: ConversationRow,
                      msg: Inbound) -> tuple[Turn, ConversationRow] | None:
        """Channel-level facts answered before the dialogue: a shared phone number, and the
        opt-out / opt-in / help keywords the connector recognised (``msg.contact_event``).
        With the conversation as it is after them (a shared phone may merge its contact)."""
        lang = conv.language or self.settings.default_language
        if msg.shared_phone:
            state = load_state(conv)
            address = session.get_one(ContactAddress, conv.address.id)
            contact = ContactRepository(session).link_phone(address, msg.shared_phone)
            conv = self._lock(session, conv.id) or conv
            return Turn((Reply(render("phone_linked", lang, phone=contact.phone)),), state, lang), conv
        text = KEYWORD_REPLIES.get(msg.contact_event or "")
        if text is None:
            return None     # (most messages: the dialogue loads the state itself)
        # The provider may have answered the keyword itself (Twilio's Advanced Opt-Out on
        # SMS): a second answer costs the citizen an SMS, and after STOP it is refused (21610).
        return Turn(() if msg.provider_answered else (Reply(render(text, lang)),), load_state(conv), lang), conv

    def _handle(self, session: Session, conv: ConversationRow, msg: Inbound,
                delivered_by: DeliversOnStore | None, conn: Connection) -> _Stored:
        """Answer one message and record it processed; returns the replies queued for it
        (stored delivered when the channel ``delivered_by`` delivers on store)."""
        keyword = self._keyword_turn(session, conv, msg)
        if keyword is not None:
            keyword_turn, conv = keyword
            return self._store_turn(session, conv, msg, keyword_turn, delivered_by, None, conn,
                                    template="opt_out_confirmation"
                                    if conv.address.opted_out_at is not None else None)
        button = self._button_from_digit(session, conv.id, msg)
        parse = self._parse(button or msg.text)
        nlu = {**(msg.nlu or {}), **parse_to_json(parse)} if parse is not None else None
        incoming = Incoming(
            text=msg.text or "", channel=msg.channel, received_at=msg.received_at or msg.created_at,
            button=button,
            location=Location(msg.latitude, msg.longitude, msg.address_text)
            if msg.latitude is not None and msg.longitude is not None else None,
            media=tuple(Media(m["url"], m.get("content_type"), m.get("caption")) for m in msg.media),
            sender_name=conv.contact.name, abilities=self._abilities(conv.channel))
        ports = DbDialoguePorts(session, self.settings, conv, msg.id)
        dialogue = Dialogue(ports, self.knowledge, timezone=self.settings.timezone,
                            ticket_example=f"{self.settings.ticket_prefix}-{now_year()}-000123",
                            policy=dialogue_policy(self.settings))
        turn = dialogue.step(load_state(conv), incoming, parse)
        if turn.handover:
            log.info("conversation handed over", extra={"conversation_id": conv.id, "reason": turn.handover})
        return self._store_turn(session, conv, msg, turn, delivered_by, nlu, conn)

    def _store_turn(self, session: Session, conv: ConversationRow, msg: Inbound, turn: Turn,
                    delivered_by: DeliversOnStore | None, nlu: dict[str, Any] | None,
                    conn: Connection, template: str | None = None) -> _Stored:
        """The replies inserted, the message recorded processed and the conversation's state
        saved by prebuilt statements: no ORM flush (the conversation's loaded object is not
        changed, and the transaction ends with this turn)."""
        now = utcnow()
        replies = [reply_values(self.settings.outbox, conv, reply.text, buttons=reply.buttons,
                                reply_to_id=msg.id, template=template, now=now, delivered_by=delivered_by)
                   for reply in turn.replies]
        if session.new:
            # Rows the dialogue added through the ORM (a follower's notification queued by a
            # reopened complaint may be for this very conversation) go first, in their order,
            # and the turn's last statement must see them among the open replies.
            session.flush()
        columns = state_columns(conv, turn.state,
                                routed_queue(session, self.settings.complaints, conv, turn.state))
        params = {"b_id": msg.id, "b_now": now, "b_nlu": nlu, "b_conv": conv.id, "b_after": msg.id,
                  "b_lang": turn.language, **{f"b_{column}": value for column, value in columns.items()}}
        if conn.dialect.name == "postgresql" and replies:
            # The replies, "processed", the state and what comes next: one statement.
            statement = turn_end_with_replies(tuple(replies[0]), nlu is not None)
            next_id, open_, ids, marked = statement.rows(conn, {**params, "b_replies": replies_json(replies)})[0]
        elif conn.dialect.name == "postgresql":
            ids = []
            next_id, open_, marked = (TURN_END if nlu is None else TURN_END_WITH_NLU).rows(conn, params)[0]
        else:
            ids = insert_replies(conn, replies)
            conn.execute(PROCESSED if nlu is None else PROCESSED_WITH_NLU, params)
            conn.execute(TURN_STATE, params)
            next_id, open_ = conn.execute(NEXT_ID_AND_OPEN, params).one()
            marked = True
        if not marked:
            raise _StaleTurn()
        if conv.contact.language != turn.language:
            set_contact_language(conn, conv.contact.id, turn.language)
        return _Stored(tuple(StoredReply(i, r["text"], r["buttons"], now) for i, r in zip(ids, replies, strict=True)),
                       next_id, bool(open_))
