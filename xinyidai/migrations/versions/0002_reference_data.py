"""reference data: Shanghai's districts and the city office

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from xinyidai.database import ensure_reference_data

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    ensure_reference_data(op.get_bind())


def downgrade():
    op.execute("DELETE FROM districts")
