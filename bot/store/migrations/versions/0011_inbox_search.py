"""inbox search: word-search indexes (SQLite FTS5 trigram, PostgreSQL pg_trgm) and the index of
the category + channel + due view (bench/inbox.py)

Revision ID: 0011_inbox_search
Revises: 0010_training
Create Date: 2026-11-29 04:40:00
"""
from alembic import op

from bot.store import text_search

revision = '0011_inbox_search'
down_revision = '0010_training'
branch_labels = None
depends_on = None

FILTER_INDEX = 'ix_complaints_category_channel_due_at'


def upgrade() -> None:
    op.create_index(FILTER_INDEX, 'complaints', ['category', 'channel', 'due_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # pg_trgm ships with PostgreSQL and is a trusted extension (13+): a database owner may
        # create it. IF NOT EXISTS: a DBA may have created it already.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        for name, (table, column) in text_search.TRIGRAM_INDEXES.items():
            op.execute(f'CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)')
        return
    op.execute(text_search.SQLITE_CREATE)
    for trigger in text_search.SQLITE_TRIGGERS:
        op.execute(trigger)
    # The complaints already filed.
    op.execute(f"INSERT INTO {text_search.FTS_TABLE}({text_search.FTS_TABLE}) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for name in text_search.TRIGRAM_INDEXES:
            op.execute(f'DROP INDEX IF EXISTS {name}')
        # The extension stays: other databases' objects or a DBA may rely on it, and it holds no data.
    else:
        for trigger in text_search.SQLITE_TRIGGER_NAMES:
            op.execute(f'DROP TRIGGER IF EXISTS {trigger}')
        op.execute(f'DROP TABLE IF EXISTS {text_search.FTS_TABLE}')
    op.drop_index(FILTER_INDEX, table_name='complaints')
