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
