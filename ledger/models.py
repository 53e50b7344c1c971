"""The ledger's tables.

Quantities and money are integers (units, or fen for CNY). Accounts carry their
balance so that reading it is a primary-key lookup; the journal (entries,
postings, serial moves) is append-only.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlmodel import Field, SQLModel

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


# One metadata for every table: the book's SQLModel tables below and those of
# the modules built on it (ledger/catalog/, ledger/parts/, …), so that Alembic
# and the tests see one schema with one naming convention.
SQLModel.metadata.naming_convention = NAMING_CONVENTION


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
    PURCHASES = "purchases"
    CHARGES = "charges"

    @property
    def is_outside_party(self) -> bool:
        """Suppliers, the factory, customers, consumption, scrap…: the other
        side of the brand's movements. Their accounts are never guarded."""
        return self not in _BRAND_PLACES

    @property
    def book_root(self) -> str:
        """Beancount root of an outside party's accounts."""
        return _OUTSIDE_ROOT[self]


_BRAND_PLACES = {
    HolderKind.HQ,
    HolderKind.REGIONAL_WAREHOUSE,
    HolderKind.SERVICE_POINT,
    HolderKind.IN_TRANSIT,
    HolderKind.BANK,
}
_OUTSIDE_ROOT = {
    HolderKind.CUSTOMER: "Assets",
    HolderKind.FACTORY: "Assets",
    HolderKind.SUPPLIER: "Liabilities",
    HolderKind.DEPOSITS: "Liabilities",
    HolderKind.OPENING_BALANCE: "Equity",
    HolderKind.COUNT_DIFFERENCE: "Income",
    # What points are charged: parts out of warranty, lost or damaged.
    HolderKind.CHARGES: "Income",
    HolderKind.CONSUMED: "Expenses",
    HolderKind.SCRAP: "Expenses",
    HolderKind.SUBSIDIES: "Expenses",
    # The cost of parts bought: the other side of what is owed to suppliers.
    HolderKind.PURCHASES: "Expenses",
}


class Side(enum.StrEnum):
    """An account's normal side. Amounts are signed, debit positive: a
    debit-normal account holds a positive balance, a credit-normal one a
    negative balance."""

    DEBIT = "debit"
    CREDIT = "credit"


@dataclass(frozen=True, slots=True)
class PurposeRule:
    side: Side
    root: str  # Beancount root at the brand's own places
    holders: frozenset[HolderKind]  # brand places it may be opened at
    commodities: frozenset[str]  # commodity kinds it may hold
    meaning: str


_GOODS = frozenset({"part", "handset"})
_ANY = frozenset({"part", "handset", "money"})
_STOCKING = frozenset({HolderKind.HQ, HolderKind.REGIONAL_WAREHOUSE, HolderKind.SERVICE_POINT})


class Purpose(enum.StrEnum):
    """The closed list of what an account is for. The purpose decides the
    account's normal side, its guard and its Beancount root; an outside
    party's accounts (purpose STOCK: what it gave or took) are unguarded and
    take the party's root. An unknown purpose is refused."""

    STOCK = "STOCK"
    RESERVED = "RESERVED"
    TRANSIT = "TRANSIT"
    DEFECTIVE = "DEFECTIVE"
    CASH = "CASH"
    DEPOSIT = "DEPOSIT"
    RECEIVABLE = "RECEIVABLE"
    PAYABLE = "PAYABLE"
    SETTLED = "SETTLED"

    @property
    def rule(self) -> PurposeRule:
        return PURPOSES[self]


PURPOSES: dict[Purpose, PurposeRule] = {
    Purpose.STOCK: PurposeRule(
        Side.DEBIT, "Assets", frozenset(_BRAND_PLACES), _ANY,
        "usable stock (cash for CNY at the bank); never below zero",
    ),
    Purpose.RESERVED: PurposeRule(
        Side.DEBIT, "Assets", frozenset({HolderKind.HQ, HolderKind.REGIONAL_WAREHOUSE}), _GOODS,
        "stock set aside for an approved requisition; never below zero",
    ),
    Purpose.TRANSIT: PurposeRule(
        Side.DEBIT, "Assets", _STOCKING | {HolderKind.IN_TRANSIT}, _GOODS,
        "stock on its way to the holder; never below zero",
    ),
    Purpose.DEFECTIVE: PurposeRule(
        Side.DEBIT, "Assets", _STOCKING, _GOODS,
        "replaced defective parts awaiting return; never below zero",
    ),
    Purpose.CASH: PurposeRule(
        Side.DEBIT, "Assets",
        frozenset({HolderKind.BANK, HolderKind.HQ, HolderKind.REGIONAL_WAREHOUSE}),
        frozenset({"money"}),
        "the brand's money: at the bank, or cash at HQ and the regional centres; never below zero",
    ),
    Purpose.DEPOSIT: PurposeRule(
        Side.CREDIT, "Liabilities", frozenset({HolderKind.SERVICE_POINT}), frozenset({"money"}),
        "a point's deposit, owed back to it; never refunded beyond what was paid in",
    ),
    Purpose.RECEIVABLE: PurposeRule(
        Side.DEBIT, "Assets", frozenset({HolderKind.SERVICE_POINT}), frozenset({"money"}),
        "what a point owes the brand (charges); unguarded",
    ),
    Purpose.PAYABLE: PurposeRule(
        Side.CREDIT, "Liabilities", frozenset({HolderKind.SERVICE_POINT}), frozenset({"money"}),
        "what the brand owes a point (subsidies); unguarded",
    ),
    Purpose.SETTLED: PurposeRule(
        Side.CREDIT, "Liabilities", frozenset({HolderKind.SERVICE_POINT}), frozenset({"money"}),
        "a point's settled months, net: what the brand owes it (or it owes); unguarded",
    ),
}  # fmt: skip
_UNGUARDED = {Purpose.RECEIVABLE, Purpose.PAYABLE, Purpose.SETTLED}


@dataclass(frozen=True, slots=True)
class AccountNature:
    """What an account's purpose and holder make of it."""

    side: Side
    guarded: bool
    root: str


def account_nature(purpose: Purpose, holder_kind: HolderKind) -> AccountNature:
    """Side, guard and Beancount root of `purpose` at a holder of `holder_kind`.
    Raises ValueError (in words) where the purpose does not fit the holder."""
    rule = purpose.rule
    if holder_kind.is_outside_party:
        if purpose is not Purpose.STOCK:
            raise ValueError(
                f"an outside party ({holder_kind.value}) holds only STOCK accounts, not {purpose}"
            )
        # The other side of the brand's movements: credit-normal where it
        # gives (supplier, opening balance, count gains), debit where it takes.
        root = holder_kind.book_root
        side = Side.CREDIT if root in ("Liabilities", "Equity", "Income") else Side.DEBIT
        return AccountNature(side, False, root)
    if holder_kind not in rule.holders:
        fits = ", ".join(sorted(k.value for k in rule.holders))
        raise ValueError(f"purpose {purpose} fits {fits}, not a {holder_kind.value}")
    return AccountNature(rule.side, purpose not in _UNGUARDED, rule.root)


def book_root(purpose: str, holder_kind: str) -> str:
    """Beancount root of an account (an account opened before the purposes
    were a closed list keeps Assets, or its outside party's root)."""
    kind = HolderKind(holder_kind)
    try:
        return account_nature(Purpose(purpose), kind).root
    except ValueError:
        return kind.book_root if kind.is_outside_party else "Assets"


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


class Holder(SQLModel, table=True):
    __tablename__ = "holder"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=32, index=True)
    parent_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("holder.id")))
    grade: str | None = Field(default=None, max_length=1)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Commodity(SQLModel, table=True):
    __tablename__ = "commodity"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    code: str = Field(max_length=24, unique=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    serialized: bool = False
    # Money is kept in minor units: CNY has 2 decimals (fen); parts have 0.
    decimals: int = Field(default=0, sa_column=Column(SmallInteger, nullable=False, default=0))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Account(SQLModel, table=True):
    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("holder_id", "purpose", "commodity_id"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    code: str = Field(max_length=120, unique=True)
    holder_id: int = Field(
        sa_column=Column(Integer, ForeignKey("holder.id"), nullable=False, index=True)
    )
    purpose: str = Field(max_length=24)
    commodity_id: int = Field(
        sa_column=Column(Integer, ForeignKey("commodity.id"), nullable=False, index=True)
    )
    # From the purpose and the holder (`account_nature`); fixed once opened.
    side: str = Field(max_length=6)
    guarded: bool
    # Kept in the same transaction as the postings; guarded in SQL: within
    # the bounds always, and never past zero on the wrong side if guarded.
    balance: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    # The latest effective date posted: a take from a guarded account is never
    # dated before it, so every as-of balance obeys the guard too.
    last_posted_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class JournalEntry(SQLModel, table=True):
    __tablename__ = "journal_entry"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    kind: str = Field(max_length=40)
    effective_date: date = Field(sa_column=Column(Date, nullable=False, index=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(max_length=80)
    # A client's key is at most 200 characters; a batch key gets "/<position>".
    idempotency_key: str | None = Field(default=None, max_length=255, unique=True)
    # sha-256 of the request that first used the key: same key, other body = conflict.
    request_hash: str | None = Field(default=None, max_length=64)
    memo: str = Field(default="", max_length=500)
    refs: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    reverses_entry_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("journal_entry.id"), unique=True)
    )


class Posting(SQLModel, table=True):
    __tablename__ = "posting"
    __table_args__ = (
        # Statements and as-of balances walk one account in date order.
        Index("ix_posting_account_date", "account_id", "effective_date", "id"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    entry_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("journal_entry.id"), nullable=False, index=True)
    )
    line_no: int = Field(sa_column=Column(SmallInteger, nullable=False))
    account_id: int = Field(sa_column=Column(Integer, ForeignKey("account.id"), nullable=False))
    commodity_id: int = Field(sa_column=Column(Integer, ForeignKey("commodity.id"), nullable=False))
    # Debit positive, credit negative; for every commodity an entry sums to zero.
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    effective_date: date = Field(sa_column=Column(Date, nullable=False))


class SerialUnit(SQLModel, table=True):
    """A handset or serialized part, and the account that holds it now."""

    __tablename__ = "serial_unit"

    serial: str = Field(max_length=40, primary_key=True)
    commodity_id: int = Field(
        sa_column=Column(Integer, ForeignKey("commodity.id"), nullable=False, index=True)
    )
    colour: str | None = Field(default=None, max_length=40)
    account_id: int = Field(
        sa_column=Column(Integer, ForeignKey("account.id"), nullable=False, index=True)
    )


class SerialMove(SQLModel, table=True):
    __tablename__ = "serial_move"
    __table_args__ = (Index("ix_serial_move_serial", "serial", "id"),)

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    serial: str = Field(
        sa_column=Column(String(40), ForeignKey("serial_unit.serial"), nullable=False)
    )
    entry_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("journal_entry.id"), nullable=False, index=True)
    )
    from_account_id: int = Field(
        sa_column=Column(Integer, ForeignKey("account.id"), nullable=False)
    )
    to_account_id: int = Field(sa_column=Column(Integer, ForeignKey("account.id"), nullable=False))


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    username: str = Field(max_length=80, unique=True)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=24)
    # A service-point user is bound to exactly one point.
    holder_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("holder.id")))
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Part of every token: bumped on deactivate, reactivate, role change and
    # password reset, so every token issued before no longer counts.
    token_version: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, default=0, server_default="0")
    )
    # The console's language for this user (a gettext locale); None: the default.
    locale: str | None = Field(default=None, max_length=10)


class BrowserSession(SQLModel, table=True):
    """A signed-in browser of the web console: the cookie holds a random token,
    this row only its SHA-256, so a copy of the table signs nobody in."""

    __tablename__ = "browser_session"

    token_hash: str = Field(max_length=64, primary_key=True)
    username: str = Field(max_length=80, index=True)
    # The user's token version at sign-in: a deactivation, role change or
    # password reset ends every browser session too.
    token_version: int
    # The synchronizer token every form and htmx request of this session carries.
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class LoginFailure(SQLModel, table=True):
    """Failed logins of one username from one client, for the login throttle."""

    __tablename__ = "login_failure"

    username: str = Field(max_length=80, primary_key=True)
    client: str = Field(max_length=64, primary_key=True)
    failures: int
    first_failed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    locked_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class LedgerCalendar(SQLModel, table=True):
    """The one row that says which months are closed: no entry may be dated
    on or before `closed_through` (finance's period closing moves it)."""

    __tablename__ = "ledger_calendar"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    closed_through: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    changed_by: str = Field(max_length=80)
    changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


account_t = Account.__table__
entry_t = JournalEntry.__table__
posting_t = Posting.__table__
serial_t = SerialUnit.__table__
serial_move_t = SerialMove.__table__
