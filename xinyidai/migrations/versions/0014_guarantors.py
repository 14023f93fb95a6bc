"""Guarantee institutions (政府性融资担保, DESIGN §13): the guarantor tenant with its staff (role guarantor),
guarantee products and the guarantees banks ask of them; products that require a platform guarantor; the
lifecycle's guarantee step (guarantee_requested, guaranteed); authorizations naming guarantors

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OLD_STATES = ("matched", "claimed", "approved", "declined", "disbursed", "repaying", "repaid", "overdue",
              "defaulted", "withdrawn")
NEW_STATES = ("matched", "claimed", "guarantee_requested", "guaranteed", "approved", "declined", "disbursed",
              "repaying", "repaid", "overdue", "defaulted", "withdrawn")
OLD_ROLES = ("enterprise", "bank", "office", "admin")
NEW_ROLES = (*OLD_ROLES, "guarantor")

OLD_TENANT_RULE = (
    "(role = 'enterprise' AND enterprise_uscc IS NOT NULL AND bank_id IS NULL AND district_code IS NULL)"
    " OR (role = 'bank' AND bank_id IS NOT NULL AND enterprise_uscc IS NULL AND district_code IS NULL)"
    " OR (role = 'office' AND district_code IS NOT NULL AND enterprise_uscc IS NULL AND bank_id IS NULL)"
    " OR (role = 'admin' AND enterprise_uscc IS NULL AND bank_id IS NULL AND district_code IS NULL)"
)
NEW_TENANT_RULE = (
    "(role = 'enterprise' AND enterprise_uscc IS NOT NULL AND bank_id IS NULL AND district_code IS NULL"
    " AND guarantor_id IS NULL)"
    " OR (role = 'bank' AND bank_id IS NOT NULL AND enterprise_uscc IS NULL AND district_code IS NULL"
    " AND guarantor_id IS NULL)"
    " OR (role = 'office' AND district_code IS NOT NULL AND enterprise_uscc IS NULL AND bank_id IS NULL"
    " AND guarantor_id IS NULL)"
    " OR (role = 'guarantor' AND guarantor_id IS NOT NULL AND enterprise_uscc IS NULL AND bank_id IS NULL"
    " AND district_code IS NULL)"
    " OR (role = 'admin' AND enterprise_uscc IS NULL AND bank_id IS NULL AND district_code IS NULL"
    " AND guarantor_id IS NULL)"
)


def _enum(name, values, length):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def _state_columns(batch, table, columns, values, old_length, new_length):
    for column, nullable in columns:
        batch.drop_constraint(op.f(f"ck_{table}_applicationstate_{column}"), type_="check")
        batch.alter_column(column, existing_type=sa.String(length=old_length), type_=sa.String(length=new_length),
                           existing_nullable=nullable)
        batch.create_check_constraint(op.f(f"ck_{table}_applicationstate_{column}"), sa.column(column).in_(values))


def _users(batch, roles, rule):
    batch.drop_constraint(op.f("ck_users_role_role"), type_="check")
    batch.create_check_constraint(op.f("ck_users_role_role"), sa.column("role").in_(roles))
    batch.drop_constraint(op.f("ck_users_tenant_matches_role"), type_="check")
    batch.create_check_constraint(op.f("ck_users_tenant_matches_role"), sa.text(rule))


def upgrade():
    op.create_table(
        "guarantors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guarantors")),
        sa.UniqueConstraint("code", name=op.f("uq_guarantors_code")),
    )
    op.create_table(
        "guarantee_products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guarantor_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("fee_rate_bp", sa.Integer(), nullable=False),
        sa.Column("coverage_bp", sa.Integer(), nullable=False),
        sa.Column("max_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", _enum("guaranteeproductstatus", ("active", "paused"), 10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("coverage_bp > 0 AND coverage_bp <= 10000", name=op.f("ck_guarantee_products_coverage_range")),
        sa.CheckConstraint("fee_rate_bp >= 0 AND fee_rate_bp <= 3600", name=op.f("ck_guarantee_products_fee_range")),
        sa.CheckConstraint("max_amount_fen > 0", name=op.f("ck_guarantee_products_max_amount_positive")),
        sa.ForeignKeyConstraint(["guarantor_id"], ["guarantors.id"],
                                name=op.f("fk_guarantee_products_guarantor_id_guarantors")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guarantee_products")),
        sa.UniqueConstraint("guarantor_id", "code", name=op.f("uq_guarantee_products_guarantor_id_code")),
    )
    op.create_index(op.f("ix_guarantee_products_guarantor_id"), "guarantee_products", ["guarantor_id"])
    op.create_table(
        "authorization_guarantors",
        sa.Column("authorization_id", sa.Integer(), nullable=False),
        sa.Column("guarantor_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["authorization_id"], ["authorizations.id"], ondelete="CASCADE",
                                name=op.f("fk_authorization_guarantors_authorization_id_authorizations")),
        sa.ForeignKeyConstraint(["guarantor_id"], ["guarantors.id"],
                                name=op.f("fk_authorization_guarantors_guarantor_id_guarantors")),
        sa.PrimaryKeyConstraint("authorization_id", "guarantor_id", name=op.f("pk_authorization_guarantors")),
    )
    op.create_table(
        "guarantees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("guarantor_id", sa.Integer(), nullable=False),
        sa.Column("guarantee_product_id", sa.Integer(), nullable=False),
        sa.Column("status", _enum("guaranteestatus", ("requested", "accepted", "declined", "cancelled"), 13),
                  nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fee_rate_bp", sa.Integer(), nullable=True),
        sa.Column("coverage_bp", sa.Integer(), nullable=True),
        sa.Column("decline_reason_code", sa.String(length=32), nullable=True),
        sa.Column("decline_reason_text", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"],
                                name=op.f("fk_guarantees_application_id_applications")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_guarantees_decided_by_id_users")),
        sa.ForeignKeyConstraint(["guarantee_product_id"], ["guarantee_products.id"],
                                name=op.f("fk_guarantees_guarantee_product_id_guarantee_products")),
        sa.ForeignKeyConstraint(["guarantor_id"], ["guarantors.id"], name=op.f("fk_guarantees_guarantor_id_guarantors")),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"], name=op.f("fk_guarantees_requested_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guarantees")),
    )
    op.create_index(op.f("ix_guarantees_application_id"), "guarantees", ["application_id"])
    op.create_index("ix_guarantees_guarantor_status", "guarantees", ["guarantor_id", "status", "requested_at"])
    with op.batch_alter_table("application_events") as batch:
        _state_columns(batch, "application_events", (("from_state", True), ("to_state", False)), NEW_STATES, 13, 23)
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("guarantor_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("guarantee_fee_bp", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("guarantee_coverage_bp", sa.Integer(), nullable=True))
        _state_columns(batch, "applications", (("state", False),), NEW_STATES, 13, 23)
        batch.create_index(op.f("ix_applications_guarantor_id"), ["guarantor_id"])
        batch.create_foreign_key(op.f("fk_applications_guarantor_id_guarantors"), "guarantors", ["guarantor_id"], ["id"])
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("guarantor_required", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("guarantor_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_products_guarantor_id_guarantors"), "guarantors", ["guarantor_id"], ["id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("guarantor_id", sa.Integer(), nullable=True))
        batch.create_index(op.f("ix_users_guarantor_id"), ["guarantor_id"])
        batch.create_foreign_key(op.f("fk_users_guarantor_id_guarantors"), "guarantors", ["guarantor_id"], ["id"])
        _users(batch, NEW_ROLES, NEW_TENANT_RULE)


def downgrade():
    # The older schema has no place for a guarantor's staff, and their actions are referenced from the
    # append-only audit log and the applications' histories: refuse plainly rather than fail half-way on a
    # foreign key (PostgreSQL) or delete what the audit log still points at.
    staff = op.get_bind().scalar(sa.text("SELECT count(*) FROM users WHERE role = 'guarantor'"))
    if staff:
        raise RuntimeError(f"cannot downgrade below 0014: {staff} guarantor user(s) exist, and the older schema "
                           "cannot hold them or the guarantees they decided")
    with op.batch_alter_table("users") as batch:
        _users(batch, OLD_ROLES, OLD_TENANT_RULE)
        batch.drop_constraint(op.f("fk_users_guarantor_id_guarantors"), type_="foreignkey")
        batch.drop_index(op.f("ix_users_guarantor_id"))
        batch.drop_column("guarantor_id")
    with op.batch_alter_table("products") as batch:
        batch.drop_constraint(op.f("fk_products_guarantor_id_guarantors"), type_="foreignkey")
        batch.drop_column("guarantor_id")
        batch.drop_column("guarantor_required")
    # Applications in the guarantee step go back to the claim they came from.
    op.execute(sa.text("UPDATE applications SET state = 'claimed' WHERE state IN ('guarantee_requested', 'guaranteed')"))
    op.execute(sa.text("DELETE FROM application_events WHERE from_state IN ('guarantee_requested', 'guaranteed') "
                       "OR to_state IN ('guarantee_requested', 'guaranteed')"))
    with op.batch_alter_table("applications") as batch:
        batch.drop_constraint(op.f("fk_applications_guarantor_id_guarantors"), type_="foreignkey")
        batch.drop_index(op.f("ix_applications_guarantor_id"))
        _state_columns(batch, "applications", (("state", False),), OLD_STATES, 23, 13)
        batch.drop_column("guarantee_coverage_bp")
        batch.drop_column("guarantee_fee_bp")
        batch.drop_column("guarantor_id")
    with op.batch_alter_table("application_events") as batch:
        _state_columns(batch, "application_events", (("from_state", True), ("to_state", False)), OLD_STATES, 23, 13)
    op.drop_index("ix_guarantees_guarantor_status", table_name="guarantees")
    op.drop_index(op.f("ix_guarantees_application_id"), table_name="guarantees")
    op.drop_table("guarantees")
    op.drop_table("authorization_guarantors")
    op.drop_index(op.f("ix_guarantee_products_guarantor_id"), table_name="guarantee_products")
    op.drop_table("guarantee_products")
    op.drop_table("guarantors")
