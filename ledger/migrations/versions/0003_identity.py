"""identity: token versions on users, and the login throttle's failures

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledger.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing users start at version 0; tokens issued before carry no version
    # at all and are refused, so everyone logs in once after the upgrade.
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "login_failure",
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", "client", name=op.f("pk_login_failure")),
    )


def downgrade() -> None:
    op.drop_table("login_failure")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("token_version")
