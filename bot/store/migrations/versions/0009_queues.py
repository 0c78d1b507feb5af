"""queues: handovers wait in an agency's queue or the intake queue; staff may serve intake

Revision ID: 0009_queues
Revises: 0008_inbox_indexes
Create Date: 2026-11-29 04:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_queues'
down_revision = '0008_inbox_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('serves_intake', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handover_agency', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_conversations_handover_agency', ['handover_agency'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_handover_agency')
        batch_op.drop_column('handover_agency')
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('serves_intake')
