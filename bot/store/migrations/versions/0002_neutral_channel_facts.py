"""neutral channel facts: the contact event a connector reported on an inbound message,
whether the provider already answered it, and the failure kind of a delivery receipt

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 00:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_event', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('provider_answered', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    with op.batch_alter_table('delivery_receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failure', sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('delivery_receipts', schema=None) as batch_op:
        batch_op.drop_column('failure')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('provider_answered')
        batch_op.drop_column('contact_event')
