"""Settled months paid (付款) and collected (收款): what the settlement left
on a point's SETTLED account leaves it through the bank.

The brand pays a point what it owes it (SETTLED debit, bank credit), or a
point pays what it owes the brand (bank debit, SETTLED credit); neither may
go past what is owed, so SETTLED never changes side by a payment. Both are
finance's, under the point's lock, like deposits; the statement of the month
shows them as payments (a collection as a negative one)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import masterdata as md
from ledger.errors import InsufficientBalance
from ledger.models import Holder, account_t
from ledger.money import credit
from ledger.money.deposits import DepositMovement, Method, bank_move
from ledger.policy import Actor


def _refuse_beyond(to_point: bool):
    """The refusal of a payment to the point (`to_point`) beyond what the
    brand owes it, or of a collection beyond what the point owes."""

    def refuse(session: Session, holder: Holder, amount: int) -> None:
        code = md.account_code(holder.code, "SETTLED", credit.MONEY)
        balance = session.scalar(select(account_t.c.balance).where(account_t.c.code == code))
        # Credit-normal: a negative balance is what the brand owes the point.
        owed = max(-(balance or 0) if to_point else (balance or 0), 0)
        if amount > owed:
            raise InsufficientBalance(
                (
                    f"{holder.code} is owed {credit.cny(owed)} on {code}; a payment may not "
                    f"exceed it ({credit.cny(amount)} asked)"
                )
                if to_point
                else (
                    f"{holder.code} owes {credit.cny(owed)} on {code}; a collection may not "
                    f"exceed it ({credit.cny(amount)} received)"
                ),
                account=code,
                available=owed,
                requested=amount,
                field="amount",
            )

    return refuse


def pay(
    session: Session, actor: Actor, point: str, amount: int, *, method: Method | str,
    reference: str | None = None, on: date | None = None, key: str | None = None,
) -> DepositMovement:  # fmt: skip
    """The brand pays a point (part of) what its settled months owe it."""
    return bank_move(
        session, actor, document="settlement", movement="payment", purpose="SETTLED",
        into_bank=False, point=point, amount=amount, method=method, reference=reference,
        on=on, key=key, refuse=_refuse_beyond(to_point=True),
    )  # fmt: skip


def collect(
    session: Session, actor: Actor, point: str, amount: int, *, method: Method | str,
    reference: str | None = None, on: date | None = None, key: str | None = None,
) -> DepositMovement:  # fmt: skip
    """A point pays (part of) what its settled months owe the brand."""
    return bank_move(
        session, actor, document="settlement", movement="collection", purpose="SETTLED",
        into_bank=True, point=point, amount=amount, method=method, reference=reference,
        on=on, key=key, refuse=_refuse_beyond(to_point=False),
    )  # fmt: skip
