"""delivery_rejections.value: the offending value of a rejected row's field, shown beside the reason

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("delivery_rejections", sa.Column("value", sa.String(length=200), nullable=True))


def downgrade():
    # SQLite drops a column only by copying the table: batch mode does that.
    with op.batch_alter_table("delivery_rejections") as batch:
        batch.drop_column("value")
