"""money: leverage rules (a grade's or a point's ratio, effective-dated),
credit overrides (finance's leave for one shipment past a point's limit),
subsidy rules, the subsidy each repair earned, the ledger's calendar (the
months closed), monthly settlements and the points' statements

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from ledger.types import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leverage_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=48), nullable=False),
        sa.Column("ratio", sa.Integer(), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("set_by", sa.String(length=80), nullable=False),
        sa.Column("set_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "ratio IS NULL OR (ratio >= 0 AND ratio <= 1000)", name=op.f("ck_leverage_rule_ratio")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leverage_rule")),
        sa.UniqueConstraint(
            "scope", "effective_from", name=op.f("uq_leverage_rule_scope_effective_from")
        ),
    )
    with op.batch_alter_table("leverage_rule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leverage_rule_scope"), ["scope"], unique=False)

    op.create_table(
        "credit_override",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("document", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("granted_by", sa.String(length=80), nullable=False),
        sa.Column("granted_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_by", sa.String(length=24), nullable=True),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("over_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "state IN ('open', 'used', 'withdrawn')", name=op.f("ck_credit_override_state")
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["holder.id"], name=op.f("fk_credit_override_holder_id_holder")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_override")),
    )
    with op.batch_alter_table("credit_override", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credit_override_document"), ["document"])
        batch_op.create_index(batch_op.f("ix_credit_override_holder_id"), ["holder_id"])

    op.create_table(
        "subsidy_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=24), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("set_by", sa.String(length=80), nullable=False),
        sa.Column("set_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_rule")),
        sa.UniqueConstraint(
            "scope", "effective_from", name=op.f("uq_subsidy_rule_scope_effective_from")
        ),
    )
    with op.batch_alter_table("subsidy_rule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subsidy_rule_scope"), ["scope"], unique=False)
    calendar = op.create_table(
        "ledger_calendar",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("closed_through", sa.Date(), nullable=True),
        sa.Column("changed_by", sa.String(length=80), nullable=False),
        sa.Column("changed_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_calendar")),
    )
    # The one row: nothing closed yet.
    op.bulk_insert(
        calendar,
        [{"id": 1, "closed_through": None, "changed_by": "system",
          "changed_at": datetime.now(UTC)}],
    )  # fmt: skip
    op.create_table(
        "settlement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("run", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=24), nullable=True),
        sa.Column("started_by", sa.String(length=80), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("settled_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("payable", sa.BigInteger(), nullable=False),
        sa.Column("receivable", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "state IN ('running', 'settled', 'reopened')", name=op.f("ck_settlement_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement")),
        sa.UniqueConstraint("month", name=op.f("uq_settlement_month")),
    )
    op.create_table(
        "statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("opening", sa.BigInteger(), nullable=False),
        sa.Column("charges", sa.BigInteger(), nullable=False),
        sa.Column("subsidies", sa.BigInteger(), nullable=False),
        sa.Column("payments", sa.BigInteger(), nullable=False),
        sa.Column("closing", sa.BigInteger(), nullable=False),
        sa.Column("settled", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("signed_back_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("signed_back_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["holder.id"], name=op.f("fk_statement_holder_id_holder")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement")),
        sa.UniqueConstraint("month", "holder_id", name=op.f("uq_statement_month_holder_id")),
    )
    with op.batch_alter_table("statement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_statement_month"), ["month"], unique=False)
    with op.batch_alter_table("repair", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subsidy", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("repair", schema=None) as batch_op:
        batch_op.drop_column("subsidy")
    op.drop_table("statement")
    op.drop_table("settlement")
    op.drop_table("ledger_calendar")
    op.drop_table("subsidy_rule")
    op.drop_table("credit_override")
    op.drop_table("leverage_rule")
