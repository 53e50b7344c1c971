"""master data: suppliers (holders of kind supplier) with payment terms, and
the minimum order and pack size of each part they supply

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledger.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "supplier",
        sa.Column("holder_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["holder.id"], name=op.f("fk_supplier_holder_id_holder")
        ),
        sa.PrimaryKeyConstraint("holder_id", name=op.f("pk_supplier")),
    )
    op.create_table(
        "supplier_part",
        sa.Column("supplier_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("part_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("minimum_order", sa.BigInteger(), nullable=False),
        sa.Column("pack_size", sa.Integer(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["supplier.holder_id"],
            name=op.f("fk_supplier_part_supplier_id_supplier"),
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["part.commodity_id"], name=op.f("fk_supplier_part_part_id_part")
        ),
        sa.PrimaryKeyConstraint("supplier_id", "part_id", name=op.f("pk_supplier_part")),
    )


def downgrade() -> None:
    op.drop_table("supplier_part")
    op.drop_table("supplier")
