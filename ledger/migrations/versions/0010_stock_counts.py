"""stock counts: a count at one location, its snapshot of the book and its counted lines

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledger.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_count",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("active_holder_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=True),
        sa.Column("snapshot_on", sa.Date(), nullable=False),
        sa.Column("snapshot_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'submitted', 'approved', 'cancelled')",
            name=op.f("ck_stock_count_state"),
        ),
        sa.ForeignKeyConstraint(
            ["active_holder_id"],
            ["holder.id"],
            name=op.f("fk_stock_count_active_holder_id_holder"),
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["holder.id"], name=op.f("fk_stock_count_holder_id_holder")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_count")),
        sa.UniqueConstraint("active_holder_id", name=op.f("uq_stock_count_active_holder_id")),
    )
    op.create_index("ix_stock_count_holder_id", "stock_count", ["holder_id", "id"])
    op.create_index("ix_stock_count_state", "stock_count", ["state", "id"])

    op.create_table(
        "stock_count_line",
        sa.Column("count_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("line_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("commodity_id", sa.Integer(), nullable=False),
        sa.Column("book", sa.BigInteger(), nullable=False),
        sa.Column("counted", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("book >= 0", name=op.f("ck_stock_count_line_book_not_negative")),
        sa.CheckConstraint(
            "counted IS NULL OR counted >= 0",
            name=op.f("ck_stock_count_line_counted_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["commodity_id"],
            ["commodity.id"],
            name=op.f("fk_stock_count_line_commodity_id_commodity"),
        ),
        sa.ForeignKeyConstraint(
            ["count_id"],
            ["stock_count.id"],
            name=op.f("fk_stock_count_line_count_id_stock_count"),
        ),
        sa.PrimaryKeyConstraint("count_id", "line_no", name=op.f("pk_stock_count_line")),
        sa.UniqueConstraint(
            "count_id", "commodity_id", name=op.f("uq_stock_count_line_count_id_commodity_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("stock_count_line")
    op.drop_index("ix_stock_count_state", table_name="stock_count")
    op.drop_index("ix_stock_count_holder_id", table_name="stock_count")
    op.drop_table("stock_count")
