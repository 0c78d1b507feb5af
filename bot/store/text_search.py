"""The inbox's word-search indexes, which the models cannot describe (migration 0011_inbox_search).

SQLite: ``complaints_fts``, an FTS5 table with the trigram tokenizer over the complaint's ticket,
description and location. It holds no copy of the text (``content='complaints'``): triggers add,
change and remove its index entries whenever a complaint row does. A trigram index finds any part
of a word ("lubang" in "berlubang") in any case, for terms of 3 characters or more.

PostgreSQL: GIN indexes with ``gin_trgm_ops`` (the pg_trgm extension) on the same three columns
and on the contact's name, phone and address, which ``ILIKE '%word%'`` uses as it is.

Alembic's model comparison must skip these objects (they are not in ``Base.metadata``):
`is_model_object` is that filter, naming them one by one. Beware: a batch migration on SQLite that
recreates the ``complaints`` table drops its triggers; such a migration must run `SQLITE_TRIGGERS`
again afterwards (tests/bot/test_inbox_search.py files a complaint after every migration and finds
it by a word, so a lost trigger fails there).
"""

from __future__ import annotations

from typing import Any

FTS_TABLE = "complaints_fts"
#: The tables SQLite creates for an FTS5 table without its own content ("shadow tables").
FTS_TABLES = frozenset({FTS_TABLE} | {f"{FTS_TABLE}_{part}" for part in ("data", "idx", "docsize", "config")})
#: Searched columns, in the FTS table's order.
COLUMNS = ("ticket", "description", "location_text")
#: PostgreSQL: index name -> (table, column). The citizen's name, phone and channel address too:
#: the search looks for contacts by the same words (without an index, ILIKE over every contact
#: was a fifth of a search's time with 40,000 contacts).
TRIGRAM_INDEXES = {
    **{f"ix_complaints_{column}_trgm": ("complaints", column) for column in COLUMNS},
    "ix_contacts_name_trgm": ("contacts", "name"),
    "ix_contacts_phone_trgm": ("contacts", "phone"),
    "ix_contact_addresses_urn_trgm": ("contact_addresses", "urn"),
}
#: The shortest term a trigram index can find; shorter ones are looked for with LIKE.
MIN_TERM = 3

SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
    f"{', '.join(COLUMNS)}, content='complaints', content_rowid='id', tokenize='trigram')")

_new = ", ".join(f"new.{c}" for c in COLUMNS)
_old = ", ".join(f"old.{c}" for c in COLUMNS)
_cols = ", ".join(COLUMNS)
#: Keep the index in step with complaints. An external-content FTS5 table forgets a row by being
#: told its old values ('delete'), so an update is a delete of the old text and an insert of the new.
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON complaints BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, {_cols}) VALUES (new.id, {_new}); END",
    f"CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON complaints BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_cols}) VALUES ('delete', old.id, {_old}); END",
    f"CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE OF {_cols} ON complaints BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_cols}) VALUES ('delete', old.id, {_old}); "
    f"INSERT INTO {FTS_TABLE}(rowid, {_cols}) VALUES (new.id, {_new}); END",
)
SQLITE_TRIGGER_NAMES = (f"{FTS_TABLE}_ai", f"{FTS_TABLE}_ad", f"{FTS_TABLE}_au")


def is_model_object(name: str | None, type_: str, parent_names: Any = None) -> bool:
    """Alembic ``include_name``: False for the search objects above, True for everything else."""
    if type_ == "table":
        return name not in FTS_TABLES
    if type_ == "index":
        return name not in TRIGRAM_INDEXES
    return True
