"""Four more provider sources (intellectual property, qualifications, environmental credit rating, new-type
agricultural operators: DESIGN §13), the deliveries' source column admitting them, and the qualifications a
product requires or prefers

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

OLD_SOURCES = ("registry", "tax", "tax_rating", "social_insurance", "housing_fund", "utilities", "public_credit")
NEW_SOURCES = (*OLD_SOURCES, "intellectual_property", "qualifications", "environmental_rating", "agricultural_operator")


def _enum(name, values, length):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def _source_column(values, length):
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint(op.f("ck_deliveries_source_source"), type_="check")
        batch.alter_column("source", existing_type=sa.String(length=20 if length == 25 else 25),
                           type_=sa.String(length=length), existing_nullable=False)
        batch.create_check_constraint(op.f("ck_deliveries_source_source"),
                                      sa.column("source").in_(values))


def upgrade():
    _source_column(NEW_SOURCES, 25)
    op.create_table(
        "intellectual_property",
        sa.Column("kind", _enum("ipkind", ("发明专利", "实用新型", "外观设计", "商标"), 8), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("granted_on", sa.Date(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"],
                                name=op.f("fk_intellectual_property_delivery_id_deliveries")),
        sa.ForeignKeyConstraint(["uscc"], ["enterprises.uscc"], name=op.f("fk_intellectual_property_uscc_enterprises")),
        sa.PrimaryKeyConstraint("kind", "number", name=op.f("pk_intellectual_property")),
    )
    op.create_index(op.f("ix_intellectual_property_uscc"), "intellectual_property", ["uscc"])
    op.create_table(
        "qualifications",
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("kind", _enum("qualificationkind", ("高新技术企业", "科技型中小企业", "专精特新", "科技小巨人"), 11),
                  nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("certificate_no", sa.String(length=64), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("expires_on >= issued_on", name=op.f("ck_qualifications_valid_period")),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], name=op.f("fk_qualifications_delivery_id_deliveries")),
        sa.ForeignKeyConstraint(["uscc"], ["enterprises.uscc"], name=op.f("fk_qualifications_uscc_enterprises")),
        sa.PrimaryKeyConstraint("uscc", "kind", "issued_on", name=op.f("pk_qualifications")),
    )
    op.create_table(
        "environmental_ratings",
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("grade", _enum("environmentalgrade", ("绿", "蓝", "黄", "红"), 5), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"],
                                name=op.f("fk_environmental_ratings_delivery_id_deliveries")),
        sa.ForeignKeyConstraint(["uscc"], ["enterprises.uscc"], name=op.f("fk_environmental_ratings_uscc_enterprises")),
        sa.PrimaryKeyConstraint("uscc", "year", name=op.f("pk_environmental_ratings")),
    )
    op.create_table(
        "agricultural_operators",
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("kind", _enum("agrioperatorkind", ("家庭农场", "农民合作社", "农业产业化龙头企业", "农业社会化服务组织"), 13),
                  nullable=False),
        sa.Column("recognized_on", sa.Date(), nullable=False),
        sa.Column("level", _enum("agrilevel", ("国家级", "市级", "区级"), 7), nullable=True),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"],
                                name=op.f("fk_agricultural_operators_delivery_id_deliveries")),
        sa.ForeignKeyConstraint(["uscc"], ["enterprises.uscc"], name=op.f("fk_agricultural_operators_uscc_enterprises")),
        sa.PrimaryKeyConstraint("uscc", "kind", name=op.f("pk_agricultural_operators")),
    )
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("required_qualifications", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("preferred_qualifications", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade():
    with op.batch_alter_table("products") as batch:
        batch.drop_column("preferred_qualifications")
        batch.drop_column("required_qualifications")
    op.drop_table("agricultural_operators")
    op.drop_table("environmental_ratings")
    op.drop_table("qualifications")
    op.drop_index(op.f("ix_intellectual_property_uscc"), table_name="intellectual_property")
    op.drop_table("intellectual_property")
    op.execute(sa.text("DELETE FROM deliveries WHERE source IN "
                       "('intellectual_property', 'qualifications', 'environmental_rating', 'agricultural_operator')"))
    _source_column(OLD_SOURCES, 20)
