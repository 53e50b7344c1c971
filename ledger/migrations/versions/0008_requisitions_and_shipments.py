"""parts cycle: requisitions and their lines, shipments (issues, transfers,
returns) and their lines, discrepancies found on receipt, and the actions
taken on every document (its history and idempotency keys)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledger.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_action",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("document", sa.String(length=24), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("state_before", sa.String(length=16), nullable=True),
        sa.Column("state_after", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("entry_id", sa.Uuid(), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entry.id"],
            name=op.f("fk_document_action_entry_id_journal_entry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_action")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_document_action_idempotency_key")),
    )
    op.create_index(
        op.f("ix_document_action_document"), "document_action", ["document", "document_id", "id"]
    )

    op.create_table(
        "requisition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_holder_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_holder_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("approved_quantity", sa.BigInteger(), nullable=True),
        sa.Column("approved_amount", sa.BigInteger(), nullable=True),
        sa.Column("escalated_to_rank", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('draft', 'submitted', 'approved', 'rejected', 'issued', 'received', "
            "'closed', 'cancelled')",
            name=op.f("ck_requisition_state"),
        ),
        sa.ForeignKeyConstraint(
            ["requester_holder_id"],
            ["holder.id"],
            name=op.f("fk_requisition_requester_holder_id_holder"),
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_holder_id"],
            ["holder.id"],
            name=op.f("fk_requisition_warehouse_holder_id_holder"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requisition")),
    )
    op.create_index(
        op.f("ix_requisition_requester_holder_id"), "requisition", ["requester_holder_id", "id"]
    )
    op.create_index(op.f("ix_requisition_state"), "requisition", ["state", "id"])
    op.create_index(
        op.f("ix_requisition_warehouse_holder_id"), "requisition", ["warehouse_holder_id"]
    )

    op.create_table(
        "requisition_line",
        sa.Column("requisition_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("line_no", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("commodity_id", sa.Integer(), nullable=False),
        sa.Column("requested", sa.BigInteger(), nullable=False),
        sa.Column("approved", sa.BigInteger(), nullable=True),
        sa.Column("shipped", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("short", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["commodity_id"],
            ["commodity.id"],
            name=op.f("fk_requisition_line_commodity_id_commodity"),
        ),
        sa.ForeignKeyConstraint(
            ["requisition_id"],
            ["requisition.id"],
            name=op.f("fk_requisition_line_requisition_id_requisition"),
        ),
        sa.PrimaryKeyConstraint("requisition_id", "line_no", name=op.f("pk_requisition_line")),
    )
    op.create_table(
        "shipment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("requisition_id", sa.Integer(), nullable=True),
        sa.Column("from_holder_id", sa.Integer(), nullable=False),
        sa.Column("to_holder_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("courier", sa.String(length=80), nullable=True),
        sa.Column("tracking_number", sa.String(length=80), nullable=True),
        sa.Column("shipped_by", sa.String(length=80), nullable=False),
        sa.Column("shipped_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shipped_on", sa.Date(), nullable=False),
        sa.Column("received_by", sa.String(length=80), nullable=True),
        sa.Column("received_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('issue', 'transfer', 'return')", name=op.f("ck_shipment_kind")
        ),
        sa.CheckConstraint("state IN ('in_transit', 'received')", name=op.f("ck_shipment_state")),
        sa.ForeignKeyConstraint(
            ["from_holder_id"], ["holder.id"], name=op.f("fk_shipment_from_holder_id_holder")
        ),
        sa.ForeignKeyConstraint(
            ["requisition_id"],
            ["requisition.id"],
            name=op.f("fk_shipment_requisition_id_requisition"),
        ),
        sa.ForeignKeyConstraint(
            ["to_holder_id"], ["holder.id"], name=op.f("fk_shipment_to_holder_id_holder")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment")),
    )
    op.create_index(op.f("ix_shipment_from_holder_id"), "shipment", ["from_holder_id", "id"])
    op.create_index(op.f("ix_shipment_requisition_id"), "shipment", ["requisition_id"])
    op.create_index(op.f("ix_shipment_state_shipped_on"), "shipment", ["state", "shipped_on"])
    op.create_index(op.f("ix_shipment_to_holder_id"), "shipment", ["to_holder_id", "id"])

    op.create_table(
        "discrepancy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.SmallInteger(), nullable=False),
        sa.Column("commodity_id", sa.Integer(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("chargeable", sa.Boolean(), nullable=False),
        sa.Column("resolved_by", sa.String(length=80), nullable=True),
        sa.Column("resolved_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint("state IN ('open', 'found', 'lost')", name=op.f("ck_discrepancy_state")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_discrepancy_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["commodity_id"], ["commodity.id"], name=op.f("fk_discrepancy_commodity_id_commodity")
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["holder.id"], name=op.f("fk_discrepancy_holder_id_holder")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipment.id"], name=op.f("fk_discrepancy_shipment_id_shipment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discrepancy")),
    )
    op.create_index(op.f("ix_discrepancy_holder_id"), "discrepancy", ["holder_id"])
    op.create_index(op.f("ix_discrepancy_shipment_id"), "discrepancy", ["shipment_id"])
    op.create_index(op.f("ix_discrepancy_state"), "discrepancy", ["state", "id"])

    op.create_table(
        "shipment_line",
        sa.Column("shipment_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("line_no", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("commodity_id", sa.Integer(), nullable=False),
        sa.Column("requisition_line_no", sa.SmallInteger(), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=True),
        sa.Column("short", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["commodity_id"], ["commodity.id"], name=op.f("fk_shipment_line_commodity_id_commodity")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipment.id"], name=op.f("fk_shipment_line_shipment_id_shipment")
        ),
        sa.PrimaryKeyConstraint("shipment_id", "line_no", name=op.f("pk_shipment_line")),
    )


def downgrade() -> None:
    op.drop_table("shipment_line")
    op.drop_index(op.f("ix_discrepancy_state"), table_name="discrepancy")
    op.drop_index(op.f("ix_discrepancy_shipment_id"), table_name="discrepancy")
    op.drop_index(op.f("ix_discrepancy_holder_id"), table_name="discrepancy")

    op.drop_table("discrepancy")
    op.drop_index(op.f("ix_shipment_to_holder_id"), table_name="shipment")
    op.drop_index(op.f("ix_shipment_state_shipped_on"), table_name="shipment")
    op.drop_index(op.f("ix_shipment_requisition_id"), table_name="shipment")
    op.drop_index(op.f("ix_shipment_from_holder_id"), table_name="shipment")

    op.drop_table("shipment")
    op.drop_table("requisition_line")
    op.drop_index(op.f("ix_requisition_warehouse_holder_id"), table_name="requisition")
    op.drop_index(op.f("ix_requisition_state"), table_name="requisition")
    op.drop_index(op.f("ix_requisition_requester_holder_id"), table_name="requisition")

    op.drop_table("requisition")
    op.drop_index(op.f("ix_document_action_document"), table_name="document_action")

    op.drop_table("document_action")
