"""A conversation, its contact and its address as one message's turn reads them: plain rows.

Processing a message locks its conversation and reads what the turn needs of it, its contact
and its address in one statement. Loading them as ORM objects (identity map, instance state,
two joined relationships) cost more CPU than the statement itself, and the turn changes none
of them through the ORM: its end is one prebuilt UPDATE (bot/pipeline/process.py). So they
come back as frozen rows, and what reads a conversation accepts either shape
(:data:`ConversationView`: the ORM's ``Conversation`` or a :class:`ConversationRow`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select, update

from bot.store.driver_sql import DriverStatement
from bot.store.models import Contact, ContactAddress, Conversation


@dataclass(frozen=True, slots=True)
class AddressRow:
    id: int
    urn: str
    last_inbound_at: datetime | None
    opted_out_at: datetime | None
    unreachable_at: datetime | None


@dataclass(frozen=True, slots=True)
class ContactRow:
    id: int
    name: str | None
    language: str | None


@dataclass(frozen=True, slots=True)
class ConversationRow:
    id: int
    contact_id: int
    channel: str
    language: str | None
    state: dict[str, Any]
    handover: bool
    handover_agency: str | None
    updated_at: datetime
    contact: ContactRow
    address: AddressRow


#: What reads a conversation accepts: the ORM's, or a turn's row (same attribute names).
ConversationView = Conversation | ConversationRow


_c = cast(Table, Conversation.__table__)
_ct = cast(Table, Contact.__table__)
_a = cast(Table, ContactAddress.__table__)
_OWN = [f.name for f in fields(ConversationRow) if f.name not in ("contact", "address")]
_CONTACT = [f.name for f in fields(ContactRow)]
_ADDRESS = [f.name for f in fields(AddressRow)]
#: A conversation locked (FOR NO KEY UPDATE OF conversations: see ConversationProcessor._lock)
#: and read with its contact and address, without a WHERE yet; its first :data:`LOCK_WIDTH`
#: columns are a :class:`ConversationRow` (:func:`conversation_of`).
LOCKED_CONVERSATION = (
    select(*(_c.c[n] for n in _OWN), *(_ct.c[n] for n in _CONTACT), *(_a.c[n] for n in _ADDRESS))
    .select_from(_c.join(_ct, _ct.c.id == _c.c.contact_id).join(_a, _a.c.id == _c.c.address_id))
    .with_for_update(of=_c, key_share=True))
#: The lock's statement: the conversation ``b_conv``.
LOCK_SELECT = LOCKED_CONVERSATION.where(_c.c.id == bindparam("b_conv"))
LOCK_WIDTH = len(_OWN) + len(_CONTACT) + len(_ADDRESS)
_LOCK = DriverStatement(LOCK_SELECT)


_SET_CONTACT_LANGUAGE = DriverStatement(
    update(_ct).where(_ct.c.id == bindparam("b_contact")).values(language=bindparam("b_lang")))


def set_contact_language(conn: Connection, contact_id: int, language: str) -> None:
    """Record the language the citizen was last answered in on their contact (kept when
    contacts merge: bot/casework/contacts.py)."""
    _SET_CONTACT_LANGUAGE.rows(conn, {"b_contact": contact_id, "b_lang": language})


def lock_conversation(conn: Connection, conversation_id: int) -> ConversationRow | None:
    """Lock the conversation's row for this transaction (not its contact's or address's) and
    read it with its contact and address; None when there is no such conversation."""
    row = _LOCK.first(conn, {"b_conv": conversation_id})
    return None if row is None else conversation_of(row)


def conversation_of(row: tuple[Any, ...]) -> ConversationRow:
    """The conversation in the first :data:`LOCK_WIDTH` columns of a row of :data:`LOCK_SELECT`."""
    own, contact = len(_OWN), len(_OWN) + len(_CONTACT)
    return ConversationRow(**dict(zip(_OWN, row[:own], strict=True)), contact=ContactRow(*row[own:contact]),
                           address=AddressRow(*row[contact:LOCK_WIDTH]))
