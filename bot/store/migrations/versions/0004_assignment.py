"""assignment: the staff member a complaint is assigned to (the inbox filters on it)

Revision ID: 0004_assignment
Revises: 0003_security
Create Date: 2026-11-29 03:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004_assignment'
down_revision = '0003_security'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assigned_to_id', Id, nullable=True))
        batch_op.create_foreign_key('fk_complaints_assigned_to_id_staff_users', 'staff_users',
                                    ['assigned_to_id'], ['id'])
        batch_op.create_index('ix_complaints_assigned_to_id', ['assigned_to_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_assigned_to_id')
        batch_op.drop_constraint('fk_complaints_assigned_to_id_staff_users', type_='foreignkey')
        batch_op.drop_column('assigned_to_id')
