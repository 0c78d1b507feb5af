"""followers: citizens who joined a complaint as the same problem, and duplicates marked by staff

Revision ID: 0005_followers
Revises: 0004_assignment
Create Date: 2026-11-29 04:00:00
"""
import sqlalchemy as sa
from alembic import op

from bot.store.column_types import UtcDateTime

revision = '0005_followers'
down_revision = '0004_assignment'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'complaint_followers',
        sa.Column('id', Id, nullable=False),
        sa.Column('complaint_id', Id, nullable=False),
        sa.Column('contact_id', Id, nullable=False),
        sa.Column('conversation_id', Id, nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id']),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id']),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('complaint_id', 'contact_id', name='uq_complaint_followers'),
    )
    op.create_index('ix_complaint_followers_complaint_id', 'complaint_followers', ['complaint_id'])
    op.create_index('ix_complaint_followers_contact_id', 'complaint_followers', ['contact_id'])
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duplicate_of_id', Id, nullable=True))
        batch_op.create_foreign_key('fk_complaints_duplicate_of_id_complaints', 'complaints',
                                    ['duplicate_of_id'], ['id'])
        batch_op.create_index('ix_complaints_duplicate_of_id', ['duplicate_of_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_duplicate_of_id')
        batch_op.drop_constraint('fk_complaints_duplicate_of_id_complaints', type_='foreignkey')
        batch_op.drop_column('duplicate_of_id')
    op.drop_index('ix_complaint_followers_contact_id', table_name='complaint_followers')
    op.drop_index('ix_complaint_followers_complaint_id', table_name='complaint_followers')
    op.drop_table('complaint_followers')
