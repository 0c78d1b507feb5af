"""A conversation's next message to answer and next reply to send are found through small
partial indexes, not by walking its whole history: a citizen with years of messages costs
each new message as little as a new citizen. On PostgreSQL the plan checked is the generic one
a prepared statement ends up with (bound values cannot prove a partial index applies, so the
statements name 'in', 'out' and the open statuses as literals)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import insert, text

from bot.pipeline import media, outbox, turn_sql
from bot.store.engine import make_engine
from bot.store.models import Contact, ContactAddress, Conversation, Message, utcnow
from tests.conftest import migrate

CASES = [("the next message to answer", turn_sql.NEXT.statement, "ix_messages_unprocessed"),
         ("whether another message follows", turn_sql.NEXT_ID, "ix_messages_unprocessed"),
         ("the next reply to send", outbox._OLDEST_OPEN, "ix_messages_open_replies"),
         ("attachments to download", media._WITH_MEDIA, "ix_messages_with_media")]


def _city(conn: Any, long_history: int, citizens: int) -> None:
    """One citizen with a long history, and many with a short one (a realistic spread: the
    planner weighs a conversation's share of the table)."""
    now = utcnow()
    conn.execute(insert(Contact), [{"id": i, "name": f"Warga {i}", "created_at": now} for i in range(1, citizens + 1)])
    conn.execute(insert(ContactAddress), [{"id": i, "urn": f"web:warga{i}", "channel": "web", "contact_id": i,
                                           "created_at": now} for i in range(1, citizens + 1)])
    conn.execute(insert(Conversation), [{"id": i, "contact_id": i, "address_id": i, "channel": "web", "state": {},
                                         "handover": False, "created_at": now, "updated_at": now}
                                        for i in range(1, citizens + 1)])
    conn.execute(insert(Message), [
        {"conversation_id": conv, "direction": "in" if i % 2 else "out", "channel": "web", "kind": "message",
         "text": "halo", "status": "processed" if i % 2 else "delivered", "created_at": now,
         "processed_at": now if i % 2 else None, "buttons": [], "media": []}
        for conv in range(1, citizens + 1) for i in range(long_history if conv == 1 else 6)])


def _plan(conn: Any, stmt: Any) -> str:
    sql = str(stmt.compile(dialect=conn.dialect))
    # An IN list of bound values (the channels that download media) is given one value.
    one = "?" if conn.dialect.name == "sqlite" else "%(b_channels)s"
    sql = sql.replace("__[POSTCOMPILE_b_channels]", f"({one})")
    if conn.dialect.name == "sqlite":
        marks = re.findall(r":(\w+)|\?", sql)
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(1 for _ in marks) or None).all()
        return " ".join(str(r[-1]) for r in rows)
    names: list[str] = []

    def numbered(m: re.Match[str]) -> str:
        names.append(m.group(1))
        return f"${len(names)}"

    conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
    conn.exec_driver_sql("PREPARE next_work AS " + re.sub(r"%\((\w+)\)s", numbered, sql))
    args = ", ".join("1" for _ in names)
    return " ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN EXECUTE next_work({args})").all())


@pytest.mark.parametrize(("what", "stmt", "index"), CASES, ids=[c[0] for c in CASES])
def test_open_work_is_found_by_its_partial_index(db_url: str, what: str, stmt: Any, index: str) -> None:
    migrate(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            _city(conn, long_history=2000, citizens=300)
            conn.execute(text("ANALYZE"))
        with engine.connect() as conn:
            plan = _plan(conn, stmt)
            assert index in plan, f"{what}: {plan}"
            conn.rollback()
    finally:
        engine.dispose()
