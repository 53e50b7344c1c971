"""The ledger's tables.

Quantities and money are integers (units, or fen for CNY). Accounts carry their
balance so that reading it is a primary-key lookup; the journal (entries,
postings, serial moves) is append-only.
"""

from __future__ import annotations

import enum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ledger.types import UTCDateTime

# Stable constraint names, so Alembic migrations (batch mode on SQLite) can
# refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid).
BigId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class HolderKind(enum.StrEnum):
    """Who holds an account: the brand's own locations, or an outside party."""

    HQ = "hq"
    REGIONAL_WAREHOUSE = "regional_warehouse"
    SERVICE_POINT = "service_point"
    IN_TRANSIT = "in_transit"
    SUPPLIER = "supplier"
    FACTORY = "factory"
    CUSTOMER = "customer"
    CONSUMED = "consumed"
    SCRAP = "scrap"
    COUNT_DIFFERENCE = "count_difference"
    OPENING_BALANCE = "opening_balance"
    BANK = "bank"
    DEPOSITS = "deposits"
    SUBSIDIES = "subsidies"

    @property
    def holds_stock(self) -> bool:
        """The brand's own places: their stock accounts may never go negative."""
        return self in _STOCK_HOLDERS

    @property
    def book_type(self) -> str:
        """Root of the account in double-entry books (Beancount's five types)."""
        return _BOOK_TYPE[self]


_STOCK_HOLDERS = {
    HolderKind.HQ,
    HolderKind.REGIONAL_WAREHOUSE,
    HolderKind.SERVICE_POINT,
    HolderKind.IN_TRANSIT,
    HolderKind.BANK,
}
_BOOK_TYPE = {
    HolderKind.HQ: "Assets",
    HolderKind.REGIONAL_WAREHOUSE: "Assets",
    HolderKind.SERVICE_POINT: "Assets",
    HolderKind.IN_TRANSIT: "Assets",
    HolderKind.BANK: "Assets",
    HolderKind.CUSTOMER: "Assets",
    HolderKind.FACTORY: "Assets",
    HolderKind.SUPPLIER: "Liabilities",
    HolderKind.DEPOSITS: "Liabilities",
    HolderKind.OPENING_BALANCE: "Equity",
    HolderKind.COUNT_DIFFERENCE: "Income",
    HolderKind.CONSUMED: "Expenses",
    HolderKind.SCRAP: "Expenses",
    HolderKind.SUBSIDIES: "Expenses",
}


class CommodityKind(enum.StrEnum):
    MONEY = "money"
    PART = "part"
    HANDSET = "handset"


class Role(enum.StrEnum):
    ADMIN = "admin"
    WAREHOUSE_CLERK = "warehouse_clerk"
    APPROVER = "approver"
    SERVICE_POINT = "service_point"
    FINANCE = "finance"
    PLANNER = "planner"


class Holder(Base):
    __tablename__ = "holder"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("holder.id"))
    grade: Mapped[str | None] = mapped_column(String(1))
    created_at = mapped_column(UTCDateTime(), nullable=False)


class Commodity(Base):
    __tablename__ = "commodity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    serialized: Mapped[bool] = mapped_column(Boolean, default=False)
    # Money is kept in minor units: CNY has 2 decimals (fen); parts have 0.
    decimals: Mapped[int] = mapped_column(SmallInteger, default=0)
    created_at = mapped_column(UTCDateTime(), nullable=False)


class Account(Base):
    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("holder_id", "purpose", "commodity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("holder.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(24))
    commodity_id: Mapped[int] = mapped_column(ForeignKey("commodity.id"), index=True)
    allow_negative: Mapped[bool] = mapped_column(Boolean)
    # Kept in the same transaction as the postings; guarded in SQL.
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at = mapped_column(UTCDateTime(), nullable=False)


class JournalEntry(Base):
    __tablename__ = "journal_entry"

    id = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    effective_date = mapped_column(Date, nullable=False, index=True)
    created_at = mapped_column(UTCDateTime(), nullable=False)
    actor: Mapped[str] = mapped_column(String(80))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # sha-256 of the request that first used the key: same key, other body = conflict.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    memo: Mapped[str] = mapped_column(String(500), default="")
    refs = mapped_column(JSON, nullable=False)
    reverses_entry_id = mapped_column(ForeignKey("journal_entry.id"), unique=True)


class Posting(Base):
    __tablename__ = "posting"
    __table_args__ = (
        # Statements and as-of balances walk one account in date order.
        Index("ix_posting_account_date", "account_id", "effective_date", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id = mapped_column(ForeignKey("journal_entry.id"), nullable=False, index=True)
    line_no: Mapped[int] = mapped_column(SmallInteger)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    commodity_id: Mapped[int] = mapped_column(ForeignKey("commodity.id"))
    # Debit positive, credit negative; for every commodity an entry sums to zero.
    amount: Mapped[int] = mapped_column(BigInteger)
    effective_date = mapped_column(Date, nullable=False)


class SerialUnit(Base):
    """A handset or serialized part, and the account that holds it now."""

    __tablename__ = "serial_unit"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    commodity_id: Mapped[int] = mapped_column(ForeignKey("commodity.id"), index=True)
    colour: Mapped[str | None] = mapped_column(String(40))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)


class SerialMove(Base):
    __tablename__ = "serial_move"
    __table_args__ = (Index("ix_serial_move_serial", "serial", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(ForeignKey("serial_unit.serial"))
    entry_id = mapped_column(ForeignKey("journal_entry.id"), nullable=False, index=True)
    from_account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    to_account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(24))
    # A service-point user is bound to exactly one point.
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("holder.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at = mapped_column(UTCDateTime(), nullable=False)
    # Part of every token: bumped on deactivate, reactivate, role change and
    # password reset, so every token issued before no longer counts.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LoginFailure(Base):
    """Failed logins of one username from one client, for the login throttle."""

    __tablename__ = "login_failure"

    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    first_failed_at = mapped_column(UTCDateTime(), nullable=False)
    locked_until = mapped_column(UTCDateTime(), nullable=True)


account_t = Account.__table__
entry_t = JournalEntry.__table__
posting_t = Posting.__table__
serial_t = SerialUnit.__table__
serial_move_t = SerialMove.__table__
