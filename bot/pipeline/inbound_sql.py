"""The statements that store one inbound message, built once at import (building a statement
costs more CPU than running it).

The common case is a citizen who wrote before sending something new. Their message is stored
with the conversation found by its URN inside the INSERT itself (``INSERT … SELECT … FROM
conversations JOIN contact_addresses``), so nothing is read first. On PostgreSQL the same
statement also moves the address's last inbound time, fills the contact's empty name and
reports a provider's retry (WITH ins AS (INSERT … ON CONFLICT DO NOTHING RETURNING …), UPDATEs
that run only when ``ins`` holds the new row, then the new row or the one already stored): one
round trip, and in autocommit mode (``receive.store_and_commit``) a whole transaction. SQLite
has no data-modifying CTE: its INSERT … RETURNING is followed by the UPDATEs (in-process calls,
not round trips).

A first message from a new citizen, or a retry racing the first delivery (the row it
conflicts with was committed after this statement's snapshot, so it is not visible) stores
nothing here and is left to the caller's general path.
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

from sqlalchemy import (
    CTE,
    Connection,
    String,
    Table,
    bindparam,
    exists,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.driver_sql import DriverStatement
from bot.store.models import Contact, ContactAddress, Conversation, Message


class Known(NamedTuple):
    """The row a known citizen's message was stored as, or the one a retry found."""

    message_id: int
    conversation_id: int | None
    duplicate: bool


_m = cast(Table, Message.__table__)
_a = cast(Table, ContactAddress.__table__)
_ct = cast(Table, Contact.__table__)
_cv = cast(Table, Conversation.__table__)

# The columns an inbound message is stored with (bound as ``b_<column>``); the rest take their
# defaults. Those whose default is computed in Python are bound too: an INSERT inside a CTE
# does not compute them.
INBOUND_COLUMNS = ("conversation_id", "direction", "channel", "kind", "external_id", "urn", "text", "media",
                   "latitude", "longitude", "address_text", "button_payload", "raw", "received_at", "status",
                   "processed_at", "shared_phone", "contact_event", "provider_answered",
                   "buttons", "attempts", "parts_sent", "created_at")
_UNIQUE = ["channel", "external_id"]

EXISTING = (select(_m.c.id, _m.c.conversation_id)
            .where(_m.c.channel == bindparam("b_channel"), _m.c.external_id == bindparam("b_external_id")).limit(1))
URN = bindparam("b_urn", type_=_a.c.urn.type)
# When to move last_inbound_at (b_at: None for kinds the dialogue does not answer). Exact, never
# backwards: WhatsApp's 24-hour window is counted from it.
AT = bindparam("b_at", type_=_a.c.last_inbound_at.type)
_LATER = (AT.is_not(None), or_(_a.c.last_inbound_at.is_(None), _a.c.last_inbound_at < AT))
NAME = bindparam("b_name", type_=String())
_NAME_IS_NEW = (func.coalesce(NAME, "") != "", or_(_ct.c.name.is_(None), _ct.c.name == ""))
_CONTACT_OF_URN = select(_a.c.contact_id).where(_a.c.urn == URN).scalar_subquery()


def insert_message(make: Any, conversation_id: Any, source: Any, *where: Any) -> Any:
    """INSERT the message bound as ``b_<column>`` into the conversation ``conversation_id`` of
    each row of ``source`` that meets ``where`` (none: nothing is stored), ON CONFLICT
    (channel, external_id) DO NOTHING. ``make``: the dialect's insert."""
    binds = [bindparam(f"b_{c}", type_=_m.c[c].type) for c in INBOUND_COLUMNS[1:]]
    rows = select(conversation_id, *binds).select_from(source).where(*where)
    return make(_m).from_select(list(INBOUND_COLUMNS), rows, include_defaults=False) \
        .on_conflict_do_nothing(index_elements=_UNIQUE)


def address_updates(ins: CTE) -> tuple[CTE, CTE]:
    """PostgreSQL: the CTEs that move the address's last inbound time and fill the contact's
    empty name, each only when ``ins`` (a CTE of :func:`insert_message`) stored the message."""
    stored = exists(select(ins.c.id))
    last_inbound = (update(_a).where(_a.c.urn == URN, *_LATER, stored).values(last_inbound_at=AT)
                    .cte("set_last_inbound"))
    name = update(_ct).where(_ct.c.id == _CONTACT_OF_URN, *_NAME_IS_NEW, stored).values(name=NAME).cte("set_name")
    return last_inbound, name


def _insert(make: Any) -> Any:
    # The conversation of b_urn (no row: no conversation for that address yet).
    return insert_message(make, _cv.c.id, _cv.join(_a, _a.c.id == _cv.c.address_id), _a.c.urn == URN)


def _postgresql_statement() -> Any:
    ins = _insert(postgresql.insert).returning(_m.c.id, _m.c.conversation_id).cte("ins")
    last_inbound, name = address_updates(ins)
    new = select(ins.c.id, ins.c.conversation_id, false().label("duplicate"))
    already = select(_m.c.id, _m.c.conversation_id, true()).where(
        _m.c.channel == bindparam("b_channel"), _m.c.external_id == bindparam("b_external_id"))
    return new.union_all(already).add_cte(last_inbound, name)


_STORE_KNOWN_PG = DriverStatement(_postgresql_statement())
_INSERT_KNOWN_SQLITE = _insert(sqlite.insert).returning(
    _m.c.id, _m.c.conversation_id,
    select(_ct.c.name).where(_ct.c.id == _CONTACT_OF_URN).scalar_subquery().label("contact_name"))
_SET_LAST_INBOUND_SQLITE = update(_a).where(_a.c.urn == URN, *_LATER).values(last_inbound_at=AT)
_SET_NAME_SQLITE = update(_ct).where(_ct.c.id == _CONTACT_OF_URN).values(name=NAME)

#: INSERT ... ON CONFLICT (channel, external_id) DO NOTHING RETURNING id, per dialect: a
#: provider's retry racing the first delivery returns nothing instead of raising, so no
#: SAVEPOINT is needed.
INSERT_ONCE = {name: make(_m).values({c: bindparam(f"b_{c}") for c in INBOUND_COLUMNS})
               .on_conflict_do_nothing(index_elements=_UNIQUE).returning(_m.c.id)
               for name, make in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}


def store_known(conn: Connection, values: dict[str, Any]) -> Known | None:
    """Store a message from a citizen who has a conversation, or find the same one stored before.

    ``values`` binds every ``b_<column>`` of :data:`INBOUND_COLUMNS` but the conversation, plus
    ``b_at`` (the new last inbound time, or None) and ``b_name`` (a name for a contact that has
    none, or None). None when nothing was stored and no earlier row is visible: the sender has
    no conversation yet, or the earlier row was committed while this statement ran (on SQLite,
    whenever nothing was stored).
    """
    if conn.dialect.name == "postgresql":
        row = _STORE_KNOWN_PG.first(conn, values)
        return None if row is None else Known(row[0], row[1], bool(row[2]))
    stored = conn.execute(_INSERT_KNOWN_SQLITE, values).first()
    if stored is None:
        return None     # the caller's duplicate check tells a retry from a new citizen
    if values["b_at"] is not None:
        conn.execute(_SET_LAST_INBOUND_SQLITE, values)
    if values["b_name"] and not stored.contact_name:
        conn.execute(_SET_NAME_SQLITE, values)
    return Known(stored.id, stored.conversation_id, False)
