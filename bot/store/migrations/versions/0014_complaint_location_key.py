"""complaint location key: the address as duplicates are compared, stored and indexed, so
finding an open complaint at the same place is one look-up

Revision ID: 0014_complaint_location_key
Revises: 0013_open_work_indexes
Create Date: 2026-11-29 16:40:00
"""
import re

import sqlalchemy as sa
from alembic import op

revision = '0014_complaint_location_key'
down_revision = '0013_open_work_indexes'
branch_labels = None
depends_on = None

BATCH = 2000
# bot/store/places.py as of this revision: a migration keeps its own copy, so a later change
# of the rule cannot change what this one wrote.
ABBREVIATIONS = {"jalan": "jl", "jln": "jl", "gang": "gg", "nomor": "no", "nomer": "no", "nmr": "no",
                 "kelurahan": "kel", "kecamatan": "kec"}


def normal_place(text):
    words = re.sub(r"[\W_]+", " ", text.lower()).split()
    return " ".join(ABBREVIATIONS.get(w, w) for w in words)


def upgrade() -> None:
    op.add_column('complaints', sa.Column('location_key', sa.Text(), nullable=True))
    conn = op.get_bind()
    complaints = sa.table('complaints', sa.column('id', sa.BigInteger), sa.column('location_text', sa.Text),
                          sa.column('location_key', sa.Text))
    update = (sa.update(complaints).where(complaints.c.id == sa.bindparam('b_id'))
              .values(location_key=sa.bindparam('b_key')))
    last = 0
    while True:       # in batches by id: a city's history fits in memory a batch at a time
        rows = conn.execute(sa.select(complaints.c.id, complaints.c.location_text)
                            .where(complaints.c.id > last, complaints.c.location_text.is_not(None))
                            .order_by(complaints.c.id).limit(BATCH)).all()
        if not rows:
            break
        conn.execute(update, [{'b_id': r.id, 'b_key': normal_place(r.location_text) or None} for r in rows])
        last = rows[-1].id
    op.create_index('ix_complaints_category_location_key', 'complaints', ['category', 'location_key'])


def downgrade() -> None:
    op.drop_index('ix_complaints_category_location_key', table_name='complaints')
    op.drop_column('complaints', 'location_key')
