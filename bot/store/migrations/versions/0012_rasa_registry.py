"""rasa registry: a Rasa version's in-process twin (the sklearn model that answers while Rasa
cannot) and how each of a version's scores was measured

Revision ID: 0012_rasa_registry
Revises: 0011_inbox_search
Create Date: 2026-11-29 07:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012_rasa_registry'
down_revision = '0011_inbox_search'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: rows trained before this migration have neither (sklearn versions need no twin).
    op.add_column('nlu_models', sa.Column('twin_path', sa.String(length=500), nullable=True))
    op.add_column('nlu_models', sa.Column('score_methods', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('nlu_models', schema=None) as batch_op:
        batch_op.drop_column('score_methods')
        batch_op.drop_column('twin_path')
