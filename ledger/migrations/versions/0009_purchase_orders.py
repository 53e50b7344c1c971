"""purchase orders: orders to a supplier at agreed prices, and their lines

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledger.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "purchase_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_holder_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("expected_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("escalated_to_rank", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('draft', 'submitted', 'approved', 'partly_received', 'received', "
            "'rejected', 'cancelled')",
            name=op.f("ck_purchase_order_state"),
        ),
        sa.ForeignKeyConstraint(
            ["supplier_holder_id"],
            ["holder.id"],
            name=op.f("fk_purchase_order_supplier_holder_id_holder"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order")),
    )
    op.create_index(op.f("ix_purchase_order_state"), "purchase_order", ["state", "id"])
    op.create_index(
        op.f("ix_purchase_order_supplier_holder_id"),
        "purchase_order",
        ["supplier_holder_id", "id"],
    )

    op.create_table(
        "purchase_order_line",
        sa.Column("purchase_order_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("line_no", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("commodity_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_purchase_order_line_quantity_positive")),
        sa.CheckConstraint(
            "unit_price > 0", name=op.f("ck_purchase_order_line_unit_price_positive")
        ),
        sa.CheckConstraint(
            "received >= 0 AND received <= quantity",
            name=op.f("ck_purchase_order_line_received_within"),
        ),
        sa.ForeignKeyConstraint(
            ["commodity_id"],
            ["commodity.id"],
            name=op.f("fk_purchase_order_line_commodity_id_commodity"),
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_order.id"],
            name=op.f("fk_purchase_order_line_purchase_order_id_purchase_order"),
        ),
        sa.PrimaryKeyConstraint(
            "purchase_order_id", "line_no", name=op.f("pk_purchase_order_line")
        ),
    )


def downgrade() -> None:
    op.drop_table("purchase_order_line")
    op.drop_index(op.f("ix_purchase_order_supplier_holder_id"), table_name="purchase_order")
    op.drop_index(op.f("ix_purchase_order_state"), table_name="purchase_order")
    op.drop_table("purchase_order")
