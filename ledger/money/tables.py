"""Finance's tables on the one metadata: leverage rules and credit overrides.

Money itself (deposits, charges, subsidies) lives in journal accounts; these
tables hold only the rules and the decisions that are not movements."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from ledger.documents import REASON_MAX
from ledger.types import UTCDateTime


class LeverageRule(SQLModel, table=True):
    """From `effective_from` on, a grade's leverage ratio, or one point's
    (overriding its grade's; a point rule without a ratio returns the point to
    its grade's). The ratio is in hundredths: 250 is 2.5×."""

    __tablename__ = "leverage_rule"
    __table_args__ = (
        UniqueConstraint("scope", "effective_from"),
        CheckConstraint("ratio IS NULL OR (ratio >= 0 AND ratio <= 1000)", name="ratio"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    # "grade:A" or "point:<holder code>"
    scope: str = Field(sa_column=Column(String(48), nullable=False, index=True))
    ratio: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    effective_from: date = Field(sa_column=Column(Date, nullable=False))
    reason: str | None = Field(default=None, max_length=REASON_MAX)
    set_by: str = Field(max_length=80)
    set_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class CreditOverride(SQLModel, table=True):
    """Finance's leave for one shipment of one document to go past the point's
    credit limit: granted with a reason, spent by the first issue of that
    document that needs it."""

    __tablename__ = "credit_override"
    __table_args__ = (CheckConstraint("state IN ('open', 'used', 'withdrawn')", name="state"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    holder_id: int = Field(
        sa_column=Column(Integer, ForeignKey("holder.id"), nullable=False, index=True)
    )
    # The document whose next shipment may pass (a requisition's number).
    document: str = Field(sa_column=Column(String(24), nullable=False, index=True))
    state: str = Field(sa_column=Column(String(12), nullable=False))
    reason: str = Field(max_length=REASON_MAX)
    granted_by: str = Field(max_length=80)
    granted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_by: str | None = Field(default=None, max_length=24)  # the shipment's number
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # How far past the limit the shipment took the point, in fen.
    over_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class SubsidyRule(SQLModel, table=True):
    """From `effective_from` on, the subsidy (fen) of one scope: a repair of
    a category at a point of a grade ("repair:WH:A"), or a month at a point of
    a grade ("monthly:A")."""

    __tablename__ = "subsidy_rule"
    __table_args__ = (UniqueConstraint("scope", "effective_from"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    scope: str = Field(sa_column=Column(String(24), nullable=False, index=True))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    effective_from: date = Field(sa_column=Column(Date, nullable=False))
    reason: str | None = Field(default=None, max_length=REASON_MAX)
    set_by: str = Field(max_length=80)
    set_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Settlement(SQLModel, table=True):
    """One month's settlement of every point: a document whose runs post the
    monthly subsidies and the net of each point's charges and subsidies.
    `run` counts the starts (a resumed job keeps its run, so its entries'
    keys are the same); the entries' keys name month, run and point."""

    __tablename__ = "settlement"
    __table_args__ = (CheckConstraint("state IN ('running', 'settled', 'reopened')", name="state"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    month: date = Field(sa_column=Column(Date, nullable=False, unique=True))
    state: str = Field(sa_column=Column(String(12), nullable=False))
    run: int = Field(sa_column=Column(Integer, nullable=False))
    job: str | None = Field(default=None, max_length=24)
    started_by: str = Field(max_length=80)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    settled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Of the latest run: points settled, entries posted, and the nets (fen).
    points: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    entries: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    payable: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    receivable: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class Statement(SQLModel, table=True):
    """A point's statement of one month (对账单): what the brand owed it at the
    start, the month's charges, subsidies and payments, what it owes at the
    end (fen; positive: the brand owes the point). Written by the settlement;
    finance marks it signed back (the handbook gives 48 hours)."""

    __tablename__ = "statement"
    __table_args__ = (UniqueConstraint("month", "holder_id"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    month: date = Field(sa_column=Column(Date, nullable=False, index=True))
    holder_id: int = Field(sa_column=Column(Integer, ForeignKey("holder.id"), nullable=False))
    opening: int = Field(sa_column=Column(BigInteger, nullable=False))
    charges: int = Field(sa_column=Column(BigInteger, nullable=False))
    subsidies: int = Field(sa_column=Column(BigInteger, nullable=False))
    payments: int = Field(sa_column=Column(BigInteger, nullable=False))
    closing: int = Field(sa_column=Column(BigInteger, nullable=False))
    # The month's settlement, net: positive, the brand owes the point.
    settled: int = Field(sa_column=Column(BigInteger, nullable=False))
    issued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    signed_back_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    signed_back_by: str | None = Field(default=None, max_length=80)
