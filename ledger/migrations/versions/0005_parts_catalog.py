"""parts catalog: parts, their compatible handset models, effective-dated
prices, and handset models with their colours

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledger.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "handset_model",
        sa.Column("commodity_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("colours", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["commodity_id"], ["commodity.id"], name=op.f("fk_handset_model_commodity_id_commodity")
        ),
        sa.PrimaryKeyConstraint("commodity_id", name=op.f("pk_handset_model")),
    )
    op.create_table(
        "part",
        sa.Column("commodity_id", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("warranty_class", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["commodity_id"], ["commodity.id"], name=op.f("fk_part_commodity_id_commodity")
        ),
        sa.PrimaryKeyConstraint("commodity_id", name=op.f("pk_part")),
    )
    op.create_index("ix_part_category", "part", ["category"])
    op.create_table(
        "part_compatible_model",
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("handset_model_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["handset_model_id"],
            ["handset_model.commodity_id"],
            name=op.f("fk_part_compatible_model_handset_model_id_handset_model"),
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["part.commodity_id"], name=op.f("fk_part_compatible_model_part_id_part")
        ),
        sa.PrimaryKeyConstraint(
            "part_id", "handset_model_id", name=op.f("pk_part_compatible_model")
        ),
    )
    op.create_index(
        "ix_part_compatible_model_handset_model_id", "part_compatible_model", ["handset_model_id"]
    )
    op.create_table(
        "part_price",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("standard_cost", sa.BigInteger(), nullable=False),
        sa.Column("list_price", sa.BigInteger(), nullable=False),
        sa.Column("set_by", sa.String(length=80), nullable=False),
        sa.Column("set_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["part_id"], ["part.commodity_id"], name=op.f("fk_part_price_part_id_part")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_part_price")),
        sa.UniqueConstraint(
            "part_id", "effective_from", name=op.f("uq_part_price_part_id_effective_from")
        ),
    )


def downgrade() -> None:
    op.drop_table("part_price")
    op.drop_index("ix_part_compatible_model_handset_model_id", table_name="part_compatible_model")
    op.drop_table("part_compatible_model")
    op.drop_index("ix_part_category", table_name="part")
    op.drop_table("part")
    op.drop_table("handset_model")
