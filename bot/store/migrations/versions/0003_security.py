"""security: who on the staff wrote an outbound message, conversation events (take, reply,
release), server-side console sessions and sign-in throttles

Revision ID: 0003_security
Revises: 0002
Create Date: 2026-11-29 00:40:00
"""
import sqlalchemy as sa
from alembic import op

from bot.store.column_types import UtcDateTime

revision = '0003_security'
down_revision = '0002'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_user_id', Id, nullable=True))
        batch_op.create_foreign_key('fk_messages_staff_user_id_staff_users', 'staff_users',
                                    ['staff_user_id'], ['id'])
    op.create_table(
        'conversation_events',
        sa.Column('id', Id, nullable=False),
        sa.Column('conversation_id', Id, nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('staff_user_id', Id, nullable=False),
        sa.Column('actor', sa.String(length=120), nullable=False),
        sa.Column('message_id', Id, nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id']),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id']),
        sa.ForeignKeyConstraint(['staff_user_id'], ['staff_users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_conversation_events_conversation_id', 'conversation_events',
                    ['conversation_id'], unique=False)
    op.create_table(
        'staff_sessions',
        sa.Column('id', Id, nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('staff_user_id', Id, nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['staff_user_id'], ['staff_users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_staff_sessions_staff_user_id', 'staff_sessions', ['staff_user_id'], unique=False)
    op.create_table(
        'login_throttles',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('locked_at', UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade() -> None:
    op.drop_table('login_throttles')
    op.drop_index('ix_staff_sessions_staff_user_id', table_name='staff_sessions')
    op.drop_table('staff_sessions')
    op.drop_index('ix_conversation_events_conversation_id', table_name='conversation_events')
    op.drop_table('conversation_events')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint('fk_messages_staff_user_id_staff_users', type_='foreignkey')
        batch_op.drop_column('staff_user_id')
