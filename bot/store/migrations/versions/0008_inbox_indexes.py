"""inbox indexes: composite indexes matched to the inbox's filters and sorts (bench/inbox.py)

Revision ID: 0008_inbox_indexes
Revises: 0007_casework
Create Date: 2026-11-29 04:00:00
"""
from alembic import op

revision = '0008_inbox_indexes'
down_revision = '0007_casework'
branch_labels = None
depends_on = None

#: name -> columns; each serves a view of the inbox (see Complaint.__table_args__).
INDEXES = {
    'ix_complaints_status_id': ['status', 'id'],
    'ix_complaints_status_due_at': ['status', 'due_at'],
    'ix_complaints_due_at': ['due_at'],
    'ix_complaints_agency_id': ['agency', 'id'],
    'ix_complaints_agency_status_id': ['agency', 'status', 'id'],
    'ix_complaints_agency_status_due_at': ['agency', 'status', 'due_at'],
    'ix_complaints_created_at': ['created_at'],
    'ix_complaints_updated_at': ['updated_at'],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, 'complaints', columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='complaints')
