"""master data: locations (HQ, regional warehouses, service points) and approval levels

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledger.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "location",
        sa.Column("holder_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("region", sa.String(length=40), nullable=False),
        sa.Column("province", sa.String(length=40), nullable=False),
        sa.Column("city", sa.String(length=40), nullable=True),
        sa.Column("served_by_holder_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("status_changed_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'terminated')", name=op.f("ck_location_status")
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["holder.id"], name=op.f("fk_location_holder_id_holder")
        ),
        sa.ForeignKeyConstraint(
            ["served_by_holder_id"],
            ["holder.id"],
            name=op.f("fk_location_served_by_holder_id_holder"),
        ),
        sa.PrimaryKeyConstraint("holder_id", name=op.f("pk_location")),
    )
    op.create_index(op.f("ix_location_region"), "location", ["region"])
    op.create_index(op.f("ix_location_status"), "location", ["status"])
    op.create_index(op.f("ix_location_served_by_holder_id"), "location", ["served_by_holder_id"])
    op.create_table(
        "approval_level",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("quantity_limit", sa.BigInteger(), nullable=False),
        sa.Column("amount_limit", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rank > 0", name=op.f("ck_approval_level_rank_positive")),
        sa.CheckConstraint(
            "quantity_limit > 0 AND amount_limit > 0",
            name=op.f("ck_approval_level_limits_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_level")),
        sa.UniqueConstraint("code", name=op.f("uq_approval_level_code")),
        sa.UniqueConstraint("rank", name=op.f("uq_approval_level_rank")),
    )
    op.create_table(
        "user_approval_level",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("level_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_user_approval_level_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["level_id"],
            ["approval_level.id"],
            name=op.f("fk_user_approval_level_level_id_approval_level"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_approval_level")),
    )
    op.create_index(op.f("ix_user_approval_level_level_id"), "user_approval_level", ["level_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_user_approval_level_level_id"), table_name="user_approval_level")
    op.drop_table("user_approval_level")
    op.drop_table("approval_level")
    op.drop_index(op.f("ix_location_served_by_holder_id"), table_name="location")
    op.drop_index(op.f("ix_location_status"), table_name="location")
    op.drop_index(op.f("ix_location_region"), table_name="location")
    op.drop_table("location")
