"""returns to the factory: each line's model and colour and the factory's
count, the serials shipped and counted, and discrepancies that know their
direction (short or over) and the serials they hold

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "factory_return_line",
        sa.Column("shipment_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("line_no", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("colour", sa.String(length=40), nullable=True),
        sa.Column("counted", sa.BigInteger(), nullable=True),
        sa.Column("over", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["commodity.id"], name=op.f("fk_factory_return_line_model_id_commodity")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipment.id"],
            name=op.f("fk_factory_return_line_shipment_id_shipment"),
        ),
        sa.PrimaryKeyConstraint("shipment_id", "line_no", name=op.f("pk_factory_return_line")),
    )
    op.create_table(
        "factory_return_serial",
        sa.Column("shipment_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.SmallInteger(), nullable=False),
        sa.Column("colour", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.CheckConstraint(
            "state IN ('shipped', 'counted', 'missing', 'over')",
            name=op.f("ck_factory_return_serial_state"),
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipment.id"],
            name=op.f("fk_factory_return_serial_shipment_id_shipment"),
        ),
        sa.PrimaryKeyConstraint("shipment_id", "serial", name=op.f("pk_factory_return_serial")),
    )
    with op.batch_alter_table("discrepancy", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("direction", sa.String(length=5), nullable=False, server_default="short")
        )
        batch_op.add_column(sa.Column("serials", sa.JSON(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_discrepancy_direction"), "direction IN ('short', 'over')"
        )


def downgrade() -> None:
    with op.batch_alter_table("discrepancy", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_discrepancy_direction"), type_="check")
        batch_op.drop_column("serials")
        batch_op.drop_column("direction")
    op.drop_table("factory_return_serial")
    op.drop_table("factory_return_line")
