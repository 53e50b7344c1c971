"""repairs and write-offs: a part's return rule, repairs and their parts,
and shipments of defective stock (a point to its warehouse, a warehouse to
the factory)

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
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


def downgrade() -> None:
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_shipment_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_shipment_kind"), _KINDS_BEFORE)
    with op.batch_alter_table("part", schema=None) as batch_op:
        batch_op.drop_column("returnable")
