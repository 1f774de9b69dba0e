"""bureaus as tenants, token expiry, server-side web sessions

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 08:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bureau', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    # A token made before bureaus existed belongs to the bureau it was named for.
    op.execute("UPDATE api_tokens SET bureau = name WHERE role = 'bureau'")

    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bureau', sa.String(length=100), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_enterprises_bureau'), ['bureau'], unique=False)

    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bureau', sa.String(length=100), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_interactions_bureau'), ['bureau'], unique=False)
        batch_op.drop_constraint('uq_interactions_idempotency_key', type_='unique')
        batch_op.create_unique_constraint(
            'uq_interactions_bureau_idempotency_key', ['bureau', 'idempotency_key']
        )

    op.create_table('web_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('bureau', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_web_sessions_token_id_api_tokens'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_web_sessions'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_sessions_token_id'), ['token_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_token_id'))
        batch_op.drop_index(batch_op.f('ix_web_sessions_expires_at'))
    op.drop_table('web_sessions')

    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_interactions_bureau_idempotency_key', type_='unique')
        batch_op.create_unique_constraint('uq_interactions_idempotency_key', ['idempotency_key'])
        batch_op.drop_index(batch_op.f('ix_interactions_bureau'))
        batch_op.drop_column('bureau')

    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprises_bureau'))
        batch_op.drop_column('bureau')

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
        batch_op.drop_column('bureau')
