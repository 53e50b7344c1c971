"""accounts know their side: normal side and guard from the purpose, the latest
posted date per account, longer idempotency keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

`allow_negative` gives way to `side` and `guarded`, worked out from each
account's purpose and holder as the rules stood when this was written (kept
here, not imported, so the migration means the same forever). An account
whose purpose is not on the list keeps its old behaviour; a deposit whose
balance already breaks the new guard stays unguarded, so that `verify` and
a person can look at it, rather than being refused forever.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OUTSIDE_CREDIT = {"supplier", "deposits", "opening_balance", "count_difference"}
_OUTSIDE_DEBIT = {"customer", "factory", "consumed", "scrap", "subsidies"}
_CREDIT_PURPOSES = {"DEPOSIT", "PAYABLE"}
_UNGUARDED_PURPOSES = {"RECEIVABLE", "PAYABLE"}
_KNOWN = {"STOCK", "RESERVED", "TRANSIT", "DEFECTIVE", "CASH", "DEPOSIT", "RECEIVABLE", "PAYABLE"}


def _nature(purpose: str, holder_kind: str, allow_negative: bool, balance: int):
    if holder_kind in _OUTSIDE_CREDIT:
        return "credit", False
    if holder_kind in _OUTSIDE_DEBIT:
        return "debit", False
    if purpose not in _KNOWN:
        return "debit", not allow_negative
    side = "credit" if purpose in _CREDIT_PURPOSES else "debit"
    guarded = purpose not in _UNGUARDED_PURPOSES
    if guarded and (balance > 0 if side == "credit" else balance < 0):
        guarded = False
    return side, guarded


# SQLite: columns are added and dropped in place (ALTER TABLE, SQLite 3.35+),
# not by batch mode's copy of the table, which the postings' foreign keys and
# the journal's append-only triggers would refuse once there is any history.


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column(
        "account", sa.Column("side", sa.String(6), nullable=False, server_default="debit")
    )
    op.add_column(
        "account", sa.Column("guarded", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("account", sa.Column("last_posted_on", sa.Date(), nullable=True))

    conn = op.get_bind()
    account = sa.table(
        "account",
        sa.column("id", sa.Integer),
        sa.column("holder_id", sa.Integer),
        sa.column("purpose", sa.String),
        sa.column("allow_negative", sa.Boolean),
        sa.column("balance", sa.BigInteger),
        sa.column("side", sa.String),
        sa.column("guarded", sa.Boolean),
        sa.column("last_posted_on", sa.Date),
    )
    holder = sa.table("holder", sa.column("id", sa.Integer), sa.column("kind", sa.String))
    posting = sa.table(
        "posting", sa.column("account_id", sa.Integer), sa.column("effective_date", sa.Date)
    )
    rows = conn.execute(
        sa.select(
            account.c.id, account.c.purpose, holder.c.kind, account.c.allow_negative,
            account.c.balance,
        ).join(holder, holder.c.id == account.c.holder_id)
    ).all()  # fmt: skip
    for account_id, purpose, kind, allow_negative, balance in rows:
        side, guarded = _nature(purpose, kind, bool(allow_negative), balance)
        conn.execute(
            account.update().where(account.c.id == account_id).values(side=side, guarded=guarded)
        )
    latest = (
        sa.select(sa.func.max(posting.c.effective_date))
        .where(posting.c.account_id == account.c.id)
        .scalar_subquery()
    )
    conn.execute(account.update().values(last_posted_on=latest))
    _drop_column("account", "allow_negative")
    if not sqlite:  # SQLite does not enforce VARCHAR lengths
        op.alter_column("account", "side", server_default=None)
        op.alter_column("account", "guarded", server_default=None)
        op.alter_column(
            "journal_entry", "idempotency_key", existing_type=sa.String(200), type_=sa.String(255)
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column(
        "account",
        sa.Column("allow_negative", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    account = sa.table(
        "account",
        sa.column("guarded", sa.Boolean),
        sa.column("allow_negative", sa.Boolean),
    )
    op.get_bind().execute(account.update().values(allow_negative=sa.not_(account.c.guarded)))
    for column in ("last_posted_on", "guarded", "side"):
        _drop_column("account", column)
    if not sqlite:
        op.alter_column("account", "allow_negative", server_default=None)
        # Batch keys longer than 200 characters would not fit back.
        op.alter_column(
            "journal_entry", "idempotency_key", existing_type=sa.String(255), type_=sa.String(200)
        )


def _drop_column(table: str, column: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_column(table, column)
