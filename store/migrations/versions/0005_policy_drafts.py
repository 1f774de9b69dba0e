"""policy drafts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 08:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('policy_drafts',
    sa.Column('draft_id', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('document_id', sa.String(length=60), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('draft', sa.JSON(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('draft_id', name=op.f('pk_policy_drafts'))
    )
    op.create_index(op.f('ix_policy_drafts_document_id'), 'policy_drafts', ['document_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_policy_drafts_document_id'), table_name='policy_drafts')
    op.drop_table('policy_drafts')
