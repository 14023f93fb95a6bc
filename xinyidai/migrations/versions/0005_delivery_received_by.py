"""deliveries.received_by: who handed a delivery in (an operator's upload or the ingest command)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("deliveries", sa.Column("received_by", sa.String(length=64), nullable=True))


def downgrade():
    # SQLite drops a column only by copying the table: batch mode does that.
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("received_by")
