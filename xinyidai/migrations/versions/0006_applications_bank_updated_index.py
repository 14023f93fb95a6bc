"""applications (bank_id, updated_at, id): a bank's worklist, latest activity first, pages along an index
instead of sorting all of the bank's applications (11 ms → under 1 ms with 20,000 of them)

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_applications_bank_updated", "applications", ["bank_id", "updated_at", "id"])


def downgrade():
    op.drop_index("ix_applications_bank_updated", table_name="applications")
