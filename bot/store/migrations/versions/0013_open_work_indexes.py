"""open work indexes: a conversation's unprocessed messages, open replies and attachments,
found without walking its whole history

Revision ID: 0013_open_work_indexes
Revises: 0012_rasa_registry
Create Date: 2026-11-29 13:25:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013_open_work_indexes'
down_revision = '0012_rasa_registry'
branch_labels = None
depends_on = None

UNPROCESSED = "direction = 'in' AND processed_at IS NULL"
OPEN_REPLIES = "direction = 'out' AND status IN ('pending', 'sending')"
WITH_MEDIA = "direction = 'in' AND CAST(media AS TEXT) <> '[]'"


def upgrade() -> None:
    # Partial: only the rows still waiting, so each stays a handful of entries per conversation
    # however long its history (ix_messages_conversation walked all of it, oldest first).
    op.create_index('ix_messages_unprocessed', 'messages', ['conversation_id', 'id'],
                    postgresql_where=sa.text(UNPROCESSED), sqlite_where=sa.text(UNPROCESSED))
    op.create_index('ix_messages_open_replies', 'messages', ['conversation_id', 'id'],
                    postgresql_where=sa.text(OPEN_REPLIES), sqlite_where=sa.text(OPEN_REPLIES))
    op.create_index('ix_messages_with_media', 'messages', ['conversation_id', 'id'],
                    postgresql_where=sa.text(WITH_MEDIA), sqlite_where=sa.text(WITH_MEDIA))


def downgrade() -> None:
    op.drop_index('ix_messages_with_media', table_name='messages')
    op.drop_index('ix_messages_open_replies', table_name='messages')
    op.drop_index('ix_messages_unprocessed', table_name='messages')
