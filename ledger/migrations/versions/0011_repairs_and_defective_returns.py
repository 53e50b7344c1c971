"""repairs and write-offs: a part's return rule, repairs and their parts,
and shipments of defective stock (a point to its warehouse, a warehouse to
the factory)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledger.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_KINDS_BEFORE = "kind IN ('issue', 'transfer', 'return')"
_KINDS = "kind IN ('issue', 'transfer', 'return', 'defective', 'factory')"


def upgrade() -> None:
    with op.batch_alter_table("part", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("returnable", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_shipment_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_shipment_kind"), _KINDS)
    op.create_table(
        "repair",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("repair_number", sa.String(length=40), nullable=False),
        sa.Column("retired_as", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("customer_serial", sa.String(length=40), nullable=False),
        sa.Column("handset_model", sa.String(length=80), nullable=False),
        sa.Column("fault", sa.String(length=500), nullable=False),
        sa.Column("part_class", sa.String(length=16), nullable=False),
        sa.Column("reported_on", sa.Date(), nullable=False),
        sa.Column("manufactured_on", sa.Date(), nullable=False),
        sa.Column("purchased_on", sa.Date(), nullable=True),
        sa.Column("proof_of_purchase", sa.Boolean(), nullable=False),
        sa.Column("sold", sa.Boolean(), nullable=False),
        sa.Column("man_made_damage", sa.Boolean(), nullable=False),
        sa.Column("talk_minutes", sa.Integer(), nullable=False),
        sa.Column("cosmetic_ok", sa.Boolean(), nullable=False),
        sa.Column("extended_months", sa.SmallInteger(), nullable=False),
        sa.Column("category", sa.String(length=4), nullable=False),
        sa.Column("warranty_ends_on", sa.Date(), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=False),
        sa.Column("decision_reason_zh", sa.String(length=500), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("chargeable", sa.Boolean(), nullable=False),
        sa.Column("charge", sa.BigInteger(), nullable=False),
        sa.Column("written_off_on", sa.Date(), nullable=False),
        sa.Column("written_off_by", sa.String(length=80), nullable=False),
        sa.Column("written_off_at", ledger.types.UTCDateTime(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=True),
        sa.Column("reversed_by", sa.String(length=80), nullable=True),
        sa.Column("reversed_at", ledger.types.UTCDateTime(), nullable=True),
        sa.Column("reversal_reason", sa.String(length=500), nullable=True),
        sa.Column("reversal_entry_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint("state IN ('written_off', 'reversed')", name=op.f("ck_repair_state")),
        sa.CheckConstraint(
            "category IN ('DOA', 'DAP', 'WH', 'F')", name=op.f("ck_repair_category")
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["holder.id"], name=op.f("fk_repair_holder_id_holder")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entry.id"], name=op.f("fk_repair_entry_id_journal_entry")
        ),
        sa.ForeignKeyConstraint(
            ["reversal_entry_id"],
            ["journal_entry.id"],
            name=op.f("fk_repair_reversal_entry_id_journal_entry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repair")),
        sa.UniqueConstraint(
            "holder_id",
            "repair_number",
            "retired_as",
            name=op.f("uq_repair_holder_id_repair_number_retired_as"),
        ),
    )
    op.create_index(
        "ix_repair_holder_id_written_off_on", "repair", ["holder_id", "written_off_on", "id"]
    )
    op.create_index("ix_repair_written_off_on", "repair", ["written_off_on", "id"])
    op.create_table(
        "repair_part",
        sa.Column("repair_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.SmallInteger(), nullable=False),
        sa.Column("commodity_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost", sa.BigInteger(), nullable=False),
        sa.Column("unit_list_price", sa.BigInteger(), nullable=False),
        sa.Column("defective", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_repair_part_quantity_positive")),
        sa.CheckConstraint(
            "defective >= 0 AND defective <= quantity",
            name=op.f("ck_repair_part_defective_in_range"),
        ),
        sa.ForeignKeyConstraint(
            ["repair_id"], ["repair.id"], name=op.f("fk_repair_part_repair_id_repair")
        ),
        sa.ForeignKeyConstraint(
            ["commodity_id"], ["commodity.id"], name=op.f("fk_repair_part_commodity_id_commodity")
        ),
        sa.PrimaryKeyConstraint("repair_id", "line_no", name=op.f("pk_repair_part")),
    )
    op.create_index("ix_repair_part_commodity_id", "repair_part", ["commodity_id"])


def downgrade() -> None:
    op.drop_index("ix_repair_part_commodity_id", table_name="repair_part")
    op.drop_table("repair_part")
    op.drop_index("ix_repair_written_off_on", table_name="repair")
    op.drop_index("ix_repair_holder_id_written_off_on", table_name="repair")
    op.drop_table("repair")
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_shipment_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_shipment_kind"), _KINDS_BEFORE)
    with op.batch_alter_table("part", schema=None) as batch_op:
        batch_op.drop_column("returnable")
