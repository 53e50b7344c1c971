"""Deposits (押金): what each service point has paid the brand to draw parts.

A point's deposit is its DEPOSIT account in CNY: credit-normal (the brand
owes it back) and guarded, so that no refund gives back more than was paid
in. A receipt moves money from the point into the brand's bank, a refund
back out; both are entries through the one write path, in instalments, with
the payment method and reference on the entry. A refund may not take the
point's credit limit below what it already holds (its exposure).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import documents as docs
from ledger import journal
from ledger import masterdata as md
from ledger.amounts import MAX_AMOUNT
from ledger.errors import CreditLimitExceeded, InsufficientBalance, InvalidInput
from ledger.journal import EntryIn, PostingIn
from ledger.models import Holder, HolderKind, Role, account_t, entry_t, posting_t
from ledger.money import credit
from ledger.policy import Actor

BANK = "BANK"
REFERENCE_MAX = 80


class Method(enum.StrEnum):
    """How a deposit was paid in or refunded."""

    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    CHEQUE = "cheque"
    ONLINE = "online"


class Movement(enum.StrEnum):
    RECEIPT = "receipt"
    REFUND = "refund"


class DepositMovement(BaseModel):
    entry_id: uuid.UUID
    on: date
    movement: str  # receipt, refund, or the kind of another entry on the account
    amount: int  # fen: positive paid in, negative refunded
    method: str | None
    reference: str | None
    actor: str
    at: datetime
    memo: str


class DepositLedger(BaseModel):
    position: credit.CreditPosition
    movements: list[DepositMovement]


def bank_holder(session: Session) -> Holder:
    """The brand's bank account holder, opened by the first deposit."""
    holder = session.scalar(select(Holder).where(Holder.code == BANK))
    if holder is None:
        return md.create_holder(session, BANK, "Brand bank account", HolderKind.BANK)
    return holder


def _amount(value: int) -> int:
    if type(value) is not int or not 0 < value <= MAX_AMOUNT:
        raise InvalidInput(
            f"an amount is a whole number of fen from 1 to {MAX_AMOUNT:,} (¥0.01 upwards)",
            field="amount",
        )
    return value


def _reference(value: str | None) -> str | None:
    text = docs.reason_text(value, field="reference")
    if text is not None and (len(text) > REFERENCE_MAX or not text.isprintable()):
        raise InvalidInput(
            f"a reference is one line of at most {REFERENCE_MAX} printable characters",
            field="reference",
        )
    return text


def _method(value: Method | str) -> Method:
    try:
        return Method(value)
    except ValueError:
        raise InvalidInput(
            f"method {value!r} is not one of: {', '.join(m.value for m in Method)}",
            field="method",
        ) from None


def receive(
    session: Session,
    actor: Actor,
    point: str,
    amount: int,
    *,
    method: Method | str,
    reference: str | None = None,
    on: date | None = None,
    key: str | None = None,
) -> DepositMovement:
    """Record an instalment of a point's deposit, paid into the bank."""
    return _move(session, actor, Movement.RECEIPT, point, amount, method, reference, on, key)


def refund(
    session: Session,
    actor: Actor,
    point: str,
    amount: int,
    *,
    method: Method | str,
    reference: str | None = None,
    on: date | None = None,
    key: str | None = None,
) -> DepositMovement:
    """Give back part of a point's deposit: never more than was paid in, and
    never so much that its limit falls below what it holds."""
    return _move(session, actor, Movement.REFUND, point, amount, method, reference, on, key)


def _move(session, actor, movement, point, amount, method, reference, on, key) -> DepositMovement:
    refuse = _refuse_refund_below_exposure if movement is Movement.REFUND else None
    return bank_move(
        session, actor, document="deposit", movement=movement.value, purpose="DEPOSIT",
        into_bank=movement is Movement.RECEIPT, point=point, amount=amount, method=method,
        reference=reference, on=on, key=key, refuse=refuse,
    )  # fmt: skip


def bank_move(
    session: Session,
    actor: Actor,
    *,
    document: str,
    movement: str,
    purpose: str,
    into_bank: bool,
    point: str,
    amount: int,
    method: Method | str,
    reference: str | None,
    on: date | None,
    key: str | None,
    refuse=None,
) -> DepositMovement:
    """Money between the bank and one of a point's accounts (`purpose`), as
    finance records it: idempotent, under the point's lock, refused for a
    terminated point; `refuse(session, holder, amount)` may refuse it first.
    The entry's kind is `<document>_<movement>`."""
    docs.require_roles(actor, f"record a {document} {movement}", *credit.FINANCE)
    request = {
        "point": point, "amount": amount, "method": str(method), "reference": reference,
        "on": None if on is None else on.isoformat(),
    }  # fmt: skip
    run = docs.begin(session, actor, document, movement, key, request)
    if run.replay is not None:
        return DepositMovement.model_validate(run.replay)
    amount, method, reference = _amount(amount), _method(method), _reference(reference)
    holder = credit.visible_point(session, actor, point)
    bank = bank_holder(session)
    credit.lock_point(session, holder)
    # Read under the lock: a termination that just committed is seen.
    credit.require_not_terminated(session, holder)
    if refuse is not None:
        refuse(session, holder, amount)
    signed = amount if into_bank else -amount
    refs = {"point": holder.code, "method": method.value}
    if reference:
        refs["reference"] = reference
    memo = f"{document} {movement} {'from' if signed > 0 else 'to'} {holder.code}"
    result = journal.post_entries(
        session,
        [
            EntryIn(
                kind=f"{document}_{movement}",
                effective_date=on,
                refs=refs,
                memo=memo,
                postings=[
                    PostingIn(account=md.account_code(bank.code, "STOCK", credit.MONEY),
                              amount=signed),
                    PostingIn(account=md.account_code(holder.code, purpose, credit.MONEY),
                              amount=-signed),
                ],
            )
        ],
        actor=actor.username,
    )[0]  # fmt: skip
    run.record(
        holder.id, None, None, entry_id=result.entry_id,
        detail={"amount": signed, "method": method.value, "reference": reference,
                "on": result.effective_date.isoformat()},
    )  # fmt: skip
    return run.finish(
        DepositMovement(
            entry_id=result.entry_id,
            on=result.effective_date,
            movement=movement,
            amount=signed,
            method=method.value,
            reference=reference,
            actor=actor.username,
            at=result.created_at,
            memo=memo,
        )
    )


def _refuse_refund_below_exposure(session: Session, holder: Holder, amount: int) -> None:
    now = credit.positions(session, session.info["window"].today(), holder)[0]
    if amount > now.deposit:
        # The DEPOSIT guard refuses this too (under the point's lock nothing
        # has changed since); said first, so the answer names the deposit.
        account = credit.deposit_account(holder.code)
        raise InsufficientBalance(
            f"account {account} holds {credit.cny(now.deposit)} paid in but the refund takes "
            f"{credit.cny(amount)}; it may not give back more than was paid in",
            account=account,
            available=now.deposit,
            requested=amount,
        )
    leverage = credit.parse_ratio(now.leverage)
    new_limit = credit.limit_of(now.deposit - amount, leverage)
    if new_limit < now.exposure:
        raise CreditLimitExceeded(
            f"refunding {credit.cny(amount)} would lower {holder.code}'s credit limit to "
            f"{credit.cny(new_limit)}, below the {credit.cny(now.exposure)} of brand stock it "
            "holds; the point must return stock (or use it) first, or refund less",
            point=holder.code,
            limit=now.limit,
            exposure=now.exposure,
            headroom=now.headroom,
            requested=amount,
            field="amount",
        )


def deposit_ledger(
    session: Session, actor: Actor, point: str, *, limit: int = 200
) -> DepositLedger:
    """A point's credit position and its deposit's movements, newest first."""
    holder = credit.visible_point(session, actor, point)
    if actor.role is not Role.SERVICE_POINT:
        docs.require_roles(actor, "read a point's deposit", *credit.READERS)
    account_id = session.scalar(
        select(account_t.c.id).where(account_t.c.code == credit.deposit_account(holder.code))
    )
    rows = []
    if account_id is not None:
        rows = session.execute(
            select(
                posting_t.c.entry_id, posting_t.c.effective_date, posting_t.c.amount,
                entry_t.c.kind, entry_t.c.refs, entry_t.c.actor, entry_t.c.created_at,
                entry_t.c.memo,
            )
            .join(entry_t, entry_t.c.id == posting_t.c.entry_id)
            .where(posting_t.c.account_id == account_id)
            .order_by(posting_t.c.effective_date.desc(), posting_t.c.id.desc())
            .limit(limit)
        ).all()  # fmt: skip
    movements = [
        DepositMovement(
            entry_id=r.entry_id,
            on=r.effective_date,
            movement=r.kind.removeprefix("deposit_"),
            amount=-r.amount,
            method=(r.refs or {}).get("method"),
            reference=(r.refs or {}).get("reference"),
            actor=r.actor,
            at=r.created_at,
            memo=r.memo,
        )
        for r in rows
    ]
    day = session.info["window"].today()
    return DepositLedger(position=credit.positions(session, day, holder)[0], movements=movements)
