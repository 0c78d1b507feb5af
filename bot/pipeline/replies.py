"""Putting replies in a conversation's outbox: the only way in.

The dialogue's replies, status notifications and staff messages all come through here, so they
share one order, one deadline rule and one sender (:meth:`bot.pipeline.outbox.Outbox.drain`).
:func:`queue_reply` adds one through the caller's ORM session; the processing of a message
inserts its turn's replies with :func:`insert_replies`, one statement whatever their number and
no unit-of-work bookkeeping (the largest share of a turn's CPU was the ORM's flush).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, insert
from sqlalchemy.orm import Session

from bot.pipeline import metrics
from bot.pipeline.outbox import Claim, outbound_of, refusal_of
from bot.settings import OutboxSettings
from bot.store.conversation_rows import ConversationView
from bot.store.driver_sql import DriverStatement
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
        "buttons": [{"title": b.title, "payload": b.payload} for b in buttons],
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
    returns their ids in the same order."""
    if not replies:
        return []
    statement = _insert_of(tuple(replies[0]))
    if len(replies) == 1:      # most turns: a plain INSERT … RETURNING
        return [statement.rows(conn, replies[0])[0][0]]
    return [row[0] for row in statement.many(conn, replies)]


@functools.cache
def _insert_of(columns: tuple[str, ...]) -> DriverStatement:
    # reply_values gives every reply the same columns: one statement, compiled once.
    return DriverStatement(_INSERT, columns)


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
