"""Putting replies in a conversation's outbox: the only way in.

The dialogue's replies, status notifications and staff messages all come through here, so they
share one order, one deadline rule and one sender (:meth:`bot.pipeline.outbox.Outbox.drain`).
:func:`queue_reply` adds one through the caller's ORM session; the processing of a message
inserts its turn's replies with :func:`insert_replies`, one statement whatever their number and
no unit-of-work bookkeeping (the largest share of a turn's CPU was the ORM's flush).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CTE, JSON, Connection, Table, Text, bindparam, func, insert, literal_column, select
from sqlalchemy import cast as cast_
from sqlalchemy.orm import Session

from bot.pipeline import metrics
from bot.pipeline.outbox import Claim, outbound_of, refusal_of
from bot.settings import OutboxSettings
from bot.store.conversation_rows import ConversationView
from bot.store.models import Conversation, Message, utcnow
from channels.base import Button, DeliversOnStore, DeliveryStatus

_m = cast(Table, Message.__table__)
_INSERT = insert(_m).returning(_m.c.id, sort_by_parameter_order=True)


def reply_values(settings: OutboxSettings, conversation: ConversationView, text: str, *,
                 buttons: Sequence[Button] = (), reply_to_id: int | None = None,
                 template: str | None = None, template_vars: Mapping[str, str] | None = None,
                 kind: str = "message", now: datetime | None = None,
                 delivered_by: DeliversOnStore | None = None) -> dict[str, Any]:
    """The columns of one reply to the citizen of ``conversation`` (always the same keys).

    Args:
        template: The notification kind a channel may need an approved template for (WhatsApp
            outside its 24-hour window); ``template_vars`` fill it.
        reply_to_id: The inbound message this answers (the web chat returns replies by it).
        delivered_by: The conversation's channel when its citizens read replies from the store
            (the web chat): the reply is stored already delivered, as
            :func:`~bot.pipeline.outbox.deliver_on_store` would record it, saving that
            function's read and update. A reply the outbox would refuse (the citizen opted out
            or cannot be reached) is queued open instead, for that function to refuse with its
            reason.
    """
    now = now or utcnow()
    values: dict[str, Any] = {
        "conversation_id": conversation.id, "direction": "out", "channel": conversation.channel,
        "kind": kind, "urn": conversation.address.urn, "text": text,
        "buttons": [{"title": b.title, "payload": b.payload} for b in buttons], "media": [],
        "provider_answered": False, "parts_sent": 0,
        "reply_to_id": reply_to_id, "template": template,
        "template_vars": dict(template_vars) if template_vars is not None else None,
        "status": "pending", "attempts": 0, "sent_at": None, "status_at": None, "error_reason": None,
        "provider_message_id": None, "next_attempt_at": now, "created_at": now,
        "deadline_at": now + timedelta(minutes=settings.give_up_after_minutes)}
    if delivered_by is not None:
        values.update(_delivered_on_store(settings, values, delivered_by, conversation, now))
    return values


def queue_reply(session: Session, settings: OutboxSettings, conversation: Conversation, text: str, *,
                buttons: Sequence[Button] = (), reply_to_id: int | None = None,
                template: str | None = None, template_vars: Mapping[str, str] | None = None,
                kind: str = "message", now: datetime | None = None,
                delivered_by: DeliversOnStore | None = None) -> Message:
    """Put one message for the citizen in the conversation's outbox, in ``session`` (see
    :func:`reply_values` for the arguments). The caller commits, then wakes the conversation's
    worker."""
    msg = Message(**reply_values(settings, conversation, text, buttons=buttons, reply_to_id=reply_to_id,
                                 template=template, template_vars=template_vars, kind=kind, now=now,
                                 delivered_by=delivered_by))
    session.add(msg)
    return msg


def insert_replies(conn: Connection, replies: Sequence[dict[str, Any]]) -> list[int]:
    """Insert replies built by :func:`reply_values`, in order, in the caller's transaction;
    returns their ids in the same order. (On PostgreSQL a turn's replies go in with its last
    statement instead: :func:`inserted_replies`.)"""
    if len(replies) == 1:      # most turns: a plain INSERT … RETURNING, no batch to keep in order
        return [conn.execute(_INSERT, replies[0]).scalar_one()]
    return list(conn.execute(_INSERT, list(replies)).scalars()) if replies else []


def inserted_replies(columns: tuple[str, ...]) -> CTE:
    """PostgreSQL: a CTE named ``ins`` that inserts the replies given as one JSON array in
    ``b_replies`` (:func:`replies_json`; each with ``columns``, from :func:`reply_values`) and
    returns their ids, directions and statuses. The ids are given in the array's order (INSERT … SELECT …
    ORDER BY takes the serial ids in that order, as SQLAlchemy's own batched INSERTs rely on).
    A turn's replies so go in with its other statements: one parameter whatever their number."""
    rows = func.json_populate_recordset(literal_column("NULL::messages"),
                                        cast_(bindparam("b_replies", type_=Text()), JSON)) \
        .table_valued(*columns, with_ordinality="ordinality").alias("r")
    # A JSON null in the array is read as SQL NULL; SQLAlchemy stores None in a JSON column
    # as JSON null (none_as_null is off), so these do too.
    values = [func.coalesce(rows.c[c], literal_column("'null'::json"))
              if isinstance(t := _m.c[c].type, JSON) and not t.none_as_null else rows.c[c] for c in columns]
    # reply_values gives every column with a Python-side default: DriverStatement would refuse
    # the statement otherwise (nothing here computes such a default).
    return (insert(_m).from_select(list(columns), select(*values).order_by(rows.c.ordinality))
            .returning(_m.c.id, _m.c.direction, _m.c.status).cte("ins"))


def replies_json(replies: Sequence[Mapping[str, Any]]) -> str:
    """The ``b_replies`` of :func:`inserted_replies`."""
    return json.dumps(list(replies), default=_json_value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:      # as UtcDateTime refuses one: PostgreSQL would read it local
            raise ValueError("naive datetime given to a UTC column")
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _delivered_on_store(settings: OutboxSettings, values: Mapping[str, Any], channel: DeliversOnStore,
                        conversation: ConversationView, now: datetime) -> dict[str, Any]:
    address = conversation.address
    claim = Claim(id=0, channel=values["channel"], urn=values["urn"], text=values["text"],
                  buttons=values["buttons"], media=[], template=values["template"],
                  template_vars=values["template_vars"], parts_sent=0, attempts=1,
                  deadline_at=values["deadline_at"], error_reason=None,
                  last_inbound_at=address.last_inbound_at, opted_out_at=address.opted_out_at,
                  unreachable_at=address.unreachable_at, language=conversation.language or "id")
    if refusal_of(settings, claim, now) is not None:
        return {}
    result = channel.record_delivery(replace(outbound_of(claim), idempotency_key=""))
    metrics.message_out(claim.channel, "sent")
    return {"status": result.status.name, "attempts": 1,
            "sent_at": now if result.status != DeliveryStatus.held else None, "status_at": now,
            "error_reason": result.note,
            "provider_message_id": result.provider_message_ids[0] if result.provider_message_ids else None}
