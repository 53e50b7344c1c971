"""planning: the optimiser's plans (allocations and purchases), as proposed and released,
and the workbooks uploaded for purchase plans

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledger.types import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("job", sa.String(length=24), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_by", sa.String(length=80), nullable=True),
        sa.Column("released_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("requisitions", sa.JSON(), nullable=True),
        sa.CheckConstraint("kind IN ('allocation', 'purchase')", name=op.f("ck_plan_kind")),
        sa.CheckConstraint("status IN ('proposed', 'released')", name=op.f("ck_plan_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_plan_idempotency_key")),
    )
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.create_index("ix_plan_kind", ["kind", "id"], unique=False)
    op.create_table(
        "plan_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=80), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_upload")),
        sa.UniqueConstraint("sha256", name=op.f("uq_plan_upload_sha256")),
    )


def downgrade() -> None:
    op.drop_table("plan_upload")
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_index("ix_plan_kind")
    op.drop_table("plan")
