"""Charges (扣款) and subsidies (补贴): what a point owes the brand and what
the brand owes it, accrued in the entry of the event that causes them, so
that the monthly settlement reads balances instead of re-deriving history.

- A charge debits the point's RECEIVABLE and credits CHARGES (Income): an
  out-of-warranty (F) repair charges the parts at their list price.
- A subsidy debits SUBSIDIES (Expenses) and credits the point's PAYABLE: an
  amount per repair by service category × the point's grade, and a monthly
  amount by grade (accrued by the settlement), from effective-dated rules.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import documents as docs
from ledger import masterdata as md
from ledger.amounts import MAX_AMOUNT
from ledger.errors import InvalidInput, InvalidState
from ledger.journal import PostingIn
from ledger.models import Holder, HolderKind, account_t
from ledger.money import credit, rules
from ledger.money.tables import SubsidyRule
from ledger.policy import Actor

CHARGES = "CHARGES"
SUBSIDIES = "SUBSIDIES"
_HOLDERS = {
    CHARGES: ("Charges to service points (parts out of warranty, lost or damaged)",
              HolderKind.CHARGES),
    SUBSIDIES: ("Service subsidies", HolderKind.SUBSIDIES),
}  # fmt: skip
# The warranty rules' service categories (ledger/parts/warranty.py decides
# which one a repair is; a test keeps the two lists equal).
CATEGORIES = ("DOA", "DAP", "WH", "F")
GRADES = ("A", "B", "C")
# A subsidy per repair, or per month, is at most ¥100,000.
SUBSIDY_MAX = 10_000_000


class SubsidyKind(enum.StrEnum):
    REPAIR = "repair"  # per repair, by category × grade
    MONTHLY = "monthly"  # per month, by grade


def repair_scope(category: str, grade: str) -> str:
    return f"{SubsidyKind.REPAIR.value}:{category}:{grade}"


def monthly_scope(grade: str) -> str:
    return f"{SubsidyKind.MONTHLY.value}:{grade}"


class SubsidyView(BaseModel):
    kind: SubsidyKind
    category: str | None
    grade: str
    amount: int
    effective_from: date
    reason: str | None
    set_by: str
    set_at: datetime


def _view(rule: SubsidyRule) -> SubsidyView:
    kind, *rest = rule.scope.split(":")
    category, grade = (rest[0], rest[1]) if kind == SubsidyKind.REPAIR else (None, rest[0])
    return SubsidyView(
        kind=SubsidyKind(kind), category=category, grade=grade, amount=rule.amount,
        effective_from=rule.effective_from, reason=rule.reason, set_by=rule.set_by,
        set_at=rule.set_at,
    )  # fmt: skip


def set_subsidy(
    session: Session,
    actor: Actor,
    *,
    grade: str,
    amount: int,
    category: str | None = None,
    effective_from: date | None = None,
    reason: str | None = None,
) -> SubsidyView:
    """Set a subsidy from a day on (today or later: repairs already written
    off keep what they accrued): per repair of `category`, or per month when
    no category is given. A rule for the same scope and day is replaced."""
    docs.require_roles(actor, "set subsidies", *credit.FINANCE)
    if grade not in GRADES:
        raise InvalidInput(f"grade {grade!r} is not valid: use A, B or C", field="grade")
    if category is not None and category not in CATEGORIES:
        raise InvalidInput(
            f"category {category!r} is not one of: {', '.join(CATEGORIES)}", field="category"
        )
    if type(amount) is not int or not 0 <= amount <= SUBSIDY_MAX:
        raise InvalidInput(
            f"a subsidy is a whole number of fen from 0 to {SUBSIDY_MAX:,}", field="amount"
        )
    scope = repair_scope(category, grade) if category else monthly_scope(grade)
    rule = rules.set_rule(
        session, actor, SubsidyRule, scope=scope,
        day=rules.effective_day(session, effective_from, "a subsidy"),
        field="amount", value=amount, reason=reason, document="subsidy_rule", shown=str,
    )  # fmt: skip
    return _view(rule)


def list_subsidies(session: Session, actor: Actor) -> list[SubsidyView]:
    docs.require_roles(actor, "read subsidies", *credit.READERS)
    rules = session.scalars(
        select(SubsidyRule).order_by(SubsidyRule.scope, SubsidyRule.effective_from)
    )
    return [_view(rule) for rule in rules]


def subsidy_on(session: Session, scope: str, day: date) -> int:
    """The subsidy of `scope` in force on `day`; 0 without a rule."""
    amount = session.scalar(
        select(SubsidyRule.amount)
        .where(SubsidyRule.scope == scope, SubsidyRule.effective_from <= day)
        .order_by(SubsidyRule.effective_from.desc())
        .limit(1)
    )
    return amount or 0


def monthly_subsidies_on(session: Session, day: date) -> dict[str, int]:
    """Each grade's monthly subsidy in force on `day`."""
    return {g: subsidy_on(session, monthly_scope(g), day) for g in GRADES}


# -- accrual ------------------------------------------------------------------------------


def system_holder(session: Session, code: str) -> Holder:
    """CHARGES or SUBSIDIES, opened by the first accrual (once looked up, the
    session remembers it: a settlement accrues for thousands of points)."""
    known = session.info.setdefault("money_holders", {})
    if code in known:
        return known[code]
    name, kind = _HOLDERS[code]
    holder = session.scalar(select(Holder).where(Holder.code == code))
    if holder is None:
        holder = known[code] = md.create_holder(session, code, name, kind.value)
        return holder
    if holder.kind != kind:
        raise InvalidState(
            f"holder {code} is a {holder.kind}, but finance keeps {name.lower()} there; an admin "
            "must rename that holder",
            holder=code,
        )
    known[code] = holder
    return holder


def charge_postings(session: Session, point: str, amount: int) -> list[PostingIn]:
    """The point owes `amount` fen: its RECEIVABLE against CHARGES."""
    if not amount:
        return []
    system_holder(session, CHARGES)
    return [
        PostingIn(account=md.account_code(point, "RECEIVABLE", credit.MONEY), amount=amount),
        PostingIn(account=md.account_code(CHARGES, "STOCK", credit.MONEY), amount=-amount),
    ]


def subsidy_postings(session: Session, point: str, amount: int) -> list[PostingIn]:
    """The brand owes the point `amount` fen: SUBSIDIES against its PAYABLE."""
    if not amount:
        return []
    system_holder(session, SUBSIDIES)
    return [
        PostingIn(account=md.account_code(SUBSIDIES, "STOCK", credit.MONEY), amount=amount),
        PostingIn(account=md.account_code(point, "PAYABLE", credit.MONEY), amount=-amount),
    ]


@dataclass(frozen=True, slots=True)
class RepairAccrual:
    charge: int
    subsidy: int
    postings: list[PostingIn]


def for_repair(
    session: Session, point: Holder, *, category: str, charge: int, day: date
) -> RepairAccrual:
    """What a repair's write-off accrues, for its entry: the charge (the
    caller's list-price total of an F repair, else 0) and the subsidy of its
    category at the point's grade."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown service category {category!r}")
    subsidy = subsidy_on(session, repair_scope(category, point.grade), day) if point.grade else 0
    if charge > MAX_AMOUNT:
        raise InvalidInput("the charge is beyond the ledger's bound", field="parts")
    return RepairAccrual(
        charge=charge,
        subsidy=subsidy,
        postings=charge_postings(session, point.code, charge)
        + subsidy_postings(session, point.code, subsidy),
    )


class MoneyBalances(BaseModel):
    """What stands between a point and the brand now, in fen."""

    point: str
    deposit: int  # paid in, owed back to the point
    receivable: int  # charges not yet settled: the point owes them
    payable: int  # subsidies not yet settled: the brand owes them


def balances(session: Session, actor: Actor, point: str) -> MoneyBalances:
    holder = credit.visible_point(session, actor, point)
    codes = [
        md.account_code(holder.code, p, credit.MONEY) for p in ("DEPOSIT", "RECEIVABLE", "PAYABLE")
    ]
    found = session.execute(
        select(account_t.c.purpose, account_t.c.balance).where(account_t.c.code.in_(codes))
    )
    rows = {purpose: balance for purpose, balance in found}
    return MoneyBalances(
        point=holder.code,
        deposit=-rows.get("DEPOSIT", 0),
        receivable=rows.get("RECEIVABLE", 0),
        payable=-rows.get("PAYABLE", 0),
    )
