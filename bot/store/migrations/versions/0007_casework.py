"""casework: what a staff correction changed on a complaint (field, old value, new value)

Revision ID: 0007_casework
Revises: 0005_followers
Create Date: 2026-11-29 03:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007_casework'
down_revision = '0005_followers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaint_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('field', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('old_value', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('new_value', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('complaint_events', schema=None) as batch_op:
        batch_op.drop_column('new_value')
        batch_op.drop_column('old_value')
        batch_op.drop_column('field')
