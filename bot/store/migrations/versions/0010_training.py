"""training: NLU training data in the database (intents, examples with a fixed train/held-out
split, synonyms, regexes, lookups), its history, the NLU inbox's decisions and the model registry

Revision ID: 0010_training
Revises: 0009_queues
Create Date: 2026-11-29 03:45:00
"""
import sqlalchemy as sa
from alembic import op

from bot.store.column_types import UtcDateTime

revision = '0010_training'
down_revision = '0009_queues'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column:
    return sa.Column('id', Id, nullable=False)


def upgrade() -> None:
    op.create_table(
        'nlu_intents', _id(),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'), sa.UniqueConstraint('name'),
    )
    op.create_table(
        'nlu_examples', _id(),
        sa.Column('intent', sa.String(length=80), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('text_key', sa.String(length=64), nullable=False),
        sa.Column('entities', sa.JSON(), nullable=False),
        sa.Column('split', sa.String(length=8), nullable=False),
        sa.Column('origin', sa.String(length=20), nullable=False),
        sa.Column('message_id', Id, nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id']),
        sa.PrimaryKeyConstraint('id'), sa.UniqueConstraint('text_key'),
    )
    op.create_index('ix_nlu_examples_intent', 'nlu_examples', ['intent'], unique=False)
    op.create_table(
        'nlu_synonyms', _id(),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('examples', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'), sa.UniqueConstraint('value'),
    )
    op.create_table(
        'nlu_regexes', _id(),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('patterns', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'), sa.UniqueConstraint('name'),
    )
    op.create_table(
        'nlu_lookups', _id(),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('elements', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'), sa.UniqueConstraint('name'),
    )
    op.create_table(
        'nlu_changes', _id(),
        sa.Column('actor', sa.String(length=120), nullable=False),
        sa.Column('staff_user_id', Id, nullable=True),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['staff_user_id'], ['staff_users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_nlu_changes_created_at', 'nlu_changes', ['created_at'], unique=False)
    op.create_table(
        'nlu_reviews', _id(),
        sa.Column('message_id', Id, nullable=False),
        sa.Column('decision', sa.String(length=12), nullable=False),
        sa.Column('intent', sa.String(length=80), nullable=True),
        sa.Column('example_id', Id, nullable=True),
        sa.Column('staff_user_id', Id, nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['example_id'], ['nlu_examples.id']),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id']),
        sa.ForeignKeyConstraint(['staff_user_id'], ['staff_users.id']),
        sa.PrimaryKeyConstraint('id'), sa.UniqueConstraint('message_id'),
    )
    op.create_table(
        'nlu_models', _id(),
        sa.Column('version', sa.String(length=80), nullable=False),
        sa.Column('engine', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('progress', sa.Integer(), nullable=False),
        sa.Column('data_hash', sa.String(length=40), nullable=True),
        sa.Column('trained_by', sa.String(length=120), nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('trained_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('examples', sa.Integer(), nullable=False),
        sa.Column('accuracy', sa.Float(), nullable=True),
        sa.Column('macro_f1', sa.Float(), nullable=True),
        sa.Column('cv_accuracy', sa.Float(), nullable=True),
        sa.Column('cv_macro_f1', sa.Float(), nullable=True),
        sa.Column('below_threshold', sa.Float(), nullable=True),
        sa.Column('per_intent_f1', sa.JSON(), nullable=False),
        sa.Column('confusion_path', sa.String(length=500), nullable=True),
        sa.Column('model_path', sa.String(length=500), nullable=True),
        sa.Column('log', sa.Text(), nullable=False),
        sa.Column('refusal_reason', sa.Text(), nullable=True),
        sa.Column('override_reason', sa.Text(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('activated_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('activated_by', sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint('id'), sa.UniqueConstraint('version'),
    )
    op.create_index('ix_nlu_models_status', 'nlu_models', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_nlu_models_status', table_name='nlu_models')
    op.drop_table('nlu_models')
    op.drop_table('nlu_reviews')
    op.drop_index('ix_nlu_changes_created_at', table_name='nlu_changes')
    op.drop_table('nlu_changes')
    op.drop_table('nlu_lookups')
    op.drop_table('nlu_regexes')
    op.drop_table('nlu_synonyms')
    op.drop_index('ix_nlu_examples_intent', table_name='nlu_examples')
    op.drop_table('nlu_examples')
    op.drop_table('nlu_intents')
