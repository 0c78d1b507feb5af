"""The statements of one turn of the message processing (bot/pipeline/process.py), built once at
import (building a statement costs more CPU than running it): the conversation's next message,
the lock with it, and the turn's end (the replies, "processed", the conversation's state and
what comes next). On PostgreSQL they run on psycopg's cursor (bot/store/driver_sql.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    CTE,
    Table,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by

from bot.pipeline.inbound_sql import AT, NAME, URN, address_updates, insert_message
from bot.pipeline.replies import inserted_replies
from bot.store.conversation_rows import LOCK_SELECT, LOCKED_CONVERSATION
from bot.store.driver_sql import DriverStatement
from bot.store.models import ContactAddress, Conversation, Message, open_replies, unprocessed


@dataclass(frozen=True, slots=True)
class Inbound:
    """The message a turn answers, as :data:`NEXT` reads it: a row, not an ORM entity, so the
    turn records it processed with one prebuilt UPDATE and the session's flush has less to do."""

    id: int
    channel: str
    text: str
    button_payload: str | None
    media: list[dict[str, Any]]
    latitude: float | None
    longitude: float | None
    address_text: str | None
    shared_phone: str | None
    contact_event: str | None
    provider_answered: bool
    nlu: dict[str, Any] | None
    received_at: datetime | None
    created_at: datetime


# The conversation's oldest unprocessed message, and whether another one follows: built once
# (building a statement costs more CPU than running it); the last reads only the id.
_m = cast(Table, Message.__table__)
_c = cast(Table, Conversation.__table__)
# "Inbound" written into the SQL, not bound: a prepared statement's generic plan knows nothing
# of a bound value, and with "direction = $1" PostgreSQL ANDed a bitmap of every inbound
# message in ix_messages_outbox into a look-up of a few rows.
_IN: Any = literal_column("'in'")
NEXT = DriverStatement(select(*(_m.c[f.name] for f in fields(Inbound)))
         .where(_m.c.conversation_id == bindparam("b_conv"), unprocessed(_m.c)).order_by(_m.c.id).limit(1))
# PostgreSQL: the lock and the oldest unprocessed message in one round trip. The message is read
# in the statement's snapshot, taken before the lock: when another worker's turn on the same
# conversation committed in between (it held the lock, or finished just before), it may be a
# message that turn answered. The turn's end marks it processed only while it is not
# (PROCESSED), and a turn that finds it was is rolled back and run again the slow way
# (process._StaleTurn): rare, and never answered twice.
#
# It is looked for after the conversation's last answered message: the partial index of
# unprocessed messages keeps an entry for every message processed since the last vacuum, and
# reading it from the start walked them all, every turn. Messages are answered in order (the
# turn's end refuses otherwise), so none before that one waits, except one committed after a
# later one was answered (its INSERT began first): when nothing is found after it, the
# processor reads NEXT from the start (ConversationProcessor._lock_and_next), so that one is
# answered too, late.
_answered = _m.alias("answered")
_LAST_ANSWERED = (select(_answered.c.id).where(_answered.c.conversation_id == _c.c.id, _answered.c.direction == _IN,
                                               _answered.c.processed_at.is_not(None))
                  .order_by(_answered.c.id.desc()).limit(1).correlate(_c).scalar_subquery())
_NEXT_OF_LOCKED = (select(*(_m.c[f.name] for f in fields(Inbound)))
                   .where(_m.c.conversation_id == _c.c.id, unprocessed(_m.c),
                          _m.c.id > func.coalesce(_LAST_ANSWERED, 0))
                   .order_by(_m.c.id).limit(1).lateral("next_message"))
LOCK_AND_NEXT = DriverStatement(LOCK_SELECT.add_columns(*_NEXT_OF_LOCKED.c).outerjoin(_NEXT_OF_LOCKED, true()))
# PostgreSQL, the web chat's arrival (ConversationProcessor.process_arrival): a known citizen's
# message stored into their conversation, locked and read in the same statement, so the turn
# that answers it is the message's own transaction. The lock is taken before the INSERT reads
# the conversation, so every message stored this way is stored under the lock. Whether an older
# message still waits is asked by the turn's end (_marked), under the lock. The contact and
# address are read in the statement's snapshot (as LOCK_AND_NEXT reads them): the name and last
# inbound time the statement itself sets (address_updates) are applied to what it returns.
# No row: an unknown sender or a retry.
_a = cast(Table, ContactAddress.__table__)
_LOCKED = LOCKED_CONVERSATION.where(_a.c.urn == URN).cte("locked")
_ARRIVED = (insert_message(postgresql.insert, _LOCKED.c.id, _LOCKED)
            .returning(*(_m.c[f.name] for f in fields(Inbound))).cte("arrived"))


def _as_arrived(column: Any) -> Any:
    if column.name == "last_inbound_at":
        return func.greatest(column, AT, type_=column.type).label(column.name)
    if column.name == "name":      # the contact's, filled when it was empty (address_updates)
        given = and_(func.coalesce(NAME, "") != "", or_(column.is_(None), column == ""))
        return case((given, NAME), else_=column).label(column.name)
    return column


_AS_ARRIVED = [_as_arrived(c) for c in _LOCKED.c]
ARRIVE = DriverStatement(select(*_AS_ARRIVED, *_ARRIVED.c)
                         .select_from(_LOCKED.join(_ARRIVED, true())).add_cte(*address_updates(_ARRIVED)))
NEXT_ID = (select(_m.c.id).where(_m.c.conversation_id == bindparam("b_conv"), unprocessed(_m.c),
                                 _m.c.id > bindparam("b_after"))
           .order_by(_m.c.id).limit(1))
# The same question, and whether the conversation still has an open reply (a staff reply, an
# apology; usually none: a web chat turn's own replies were stored delivered), in one round trip.
NEXT_ID_AND_OPEN = select(
    NEXT_ID.scalar_subquery().label("next_id"),
    exists().where(_m.c.conversation_id == bindparam("b_conv"), open_replies(_m.c)).label("open"))
# The end of a turn. Two of each, because a JSON column given None stores JSON null: without a
# parse the column is left alone.
PROCESSED = (update(_m).where(_m.c.id == bindparam("b_id"), _m.c.processed_at.is_(None))
             .values(status="processed", processed_at=bindparam("b_now"), error_reason=None))
PROCESSED_WITH_NLU = PROCESSED.values(nlu=bindparam("b_nlu"))
# The conversation's side of a turn: the columns save_state would set (state_columns), each as
# "b_<column>", with the language and time.
TURN_STATE = (update(_c).where(_c.c.id == bindparam("b_conv"))
              .values(state=bindparam("b_state"), handover=bindparam("b_handover"),
                      handover_agency=bindparam("b_handover_agency"), language=bindparam("b_lang"),
                      updated_at=bindparam("b_now")))


def _turn_end(processed: Update) -> Update:
    # PostgreSQL, a turn without replies: the message's "processed", the conversation's state
    # and the question of what comes next in one statement (the questions see the snapshot
    # before it, like a statement of their own would: the next message is looked for after
    # this one). With replies: turn_end_with_replies.
    done = processed.returning(_m.c.id).cte("processed")
    return TURN_STATE.add_cte(done).returning(*NEXT_ID_AND_OPEN.selected_columns, _marked(done))


# Whether the conversation's inbound message just before this one (by id) is still unprocessed,
# in the turn's last statement's snapshot (taken under the lock). Every turn's end asks it, so
# messages are marked in order, and then the one just before being answered means every older
# one is: one step back along (conversation_id, id), where asking the partial index of
# unprocessed messages for any older one walked every entry the conversation's processed
# messages left in it until the next vacuum (a fifth of the throughput under bench/load.py).
_PREVIOUS = (select(_m.c.processed_at)
             .where(_m.c.conversation_id == bindparam("b_conv"), _m.c.direction == _IN,
                    _m.c.id < bindparam("b_id"))
             .order_by(_m.c.id.desc()).limit(1).subquery("previous"))
_OLDER_WAITING = exists().where(_PREVIOUS.c.processed_at.is_(None))


def _marked(processed: CTE) -> Any:
    # Whether the turn's UPDATE marked the message, and no older one waits: not when a
    # concurrent turn already had, nor when the turn's message was read in a snapshot taken
    # before the lock (LOCK_AND_NEXT, ARRIVE) and an older one was committed meanwhile. Either
    # way the turn is rolled back and the conversation read again under the lock.
    return and_(exists(select(processed.c.id)), ~_OLDER_WAITING).label("marked")


TURN_END = DriverStatement(_turn_end(PROCESSED))
TURN_END_WITH_NLU = DriverStatement(_turn_end(PROCESSED_WITH_NLU))


@functools.cache
def turn_end_with_replies(columns: tuple[str, ...], with_nlu: bool) -> DriverStatement:
    """PostgreSQL: :data:`TURN_END` that also inserts the turn's replies (``columns``: those
    of reply_values) and returns their ids in order; a reply it stores open (any channel
    that sends) is an open reply of the conversation. One round trip for the whole turn."""
    ins = inserted_replies(columns)
    opened = or_(exists(select(ins.c.id).where(open_replies(ins.c))),
                 NEXT_ID_AND_OPEN.selected_columns[1])
    ids = select(func.array_agg(aggregate_order_by(ins.c.id, ins.c.id))).scalar_subquery()
    processed = (PROCESSED_WITH_NLU if with_nlu else PROCESSED).returning(_m.c.id).cte("processed")
    return DriverStatement(TURN_STATE.add_cte(processed, ins).returning(
        NEXT_ID_AND_OPEN.selected_columns[0], opened.label("open"), ids.label("ids"), _marked(processed)))
