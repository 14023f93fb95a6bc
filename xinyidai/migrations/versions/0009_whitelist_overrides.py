"""whitelist overrides: an office's per-firm include / exclude of a draft, with its reason

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('whitelist_overrides',
    sa.Column('whitelist_version_id', sa.Integer(), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_whitelist_overrides_decided_by_id_users')),
    sa.ForeignKeyConstraint(['uscc'], ['enterprises.uscc'], name=op.f('fk_whitelist_overrides_uscc_enterprises')),
    sa.ForeignKeyConstraint(['whitelist_version_id'], ['whitelist_versions.id'], name=op.f('fk_whitelist_overrides_whitelist_version_id_whitelist_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('whitelist_version_id', 'uscc', name=op.f('pk_whitelist_overrides'))
    )


def downgrade():
    op.drop_table('whitelist_overrides')
