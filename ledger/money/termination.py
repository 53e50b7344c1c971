"""Termination (退网): a point leaves the network for good.

Its deposit is refunded only when it holds none of the brand's goods (stock,
stock in transit to it, defective parts, handsets) and owes nothing; the
refusal lists exactly what blocks it. The termination entry then closes the
point's money: the deposit and whatever the brand still owes it (subsidies
settled or not, less charges) leave the bank in one payment, and the point
is terminated (it can do nothing more).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import documents as docs
from ledger import journal
from ledger import masterdata as md
from ledger.catalog import locations
from ledger.errors import InvalidState
from ledger.journal import EntryIn, PostingIn
from ledger.models import Commodity, CommodityKind, account_t
from ledger.money import credit, deposits, periods
from ledger.policy import Actor

_GOODS = ("STOCK", "TRANSIT", "DEFECTIVE")
_MONEY = ("DEPOSIT", "RECEIVABLE", "PAYABLE", "SETTLED")


class TerminationView(BaseModel):
    point: str
    deposit: int  # refunded, fen
    paid_out: int  # the deposit and what the brand owed the point, fen
    entry_id: object | None
    reason: str


def blocks(session: Session, holder_id: int, code: str) -> tuple[list[str], dict[str, int]]:
    """What keeps a point from being terminated, in words, and its money
    balances (purpose → balance)."""
    rows = session.execute(
        select(account_t.c.code, account_t.c.purpose, account_t.c.balance, Commodity.kind)
        .join(Commodity, Commodity.id == account_t.c.commodity_id)
        .where(account_t.c.holder_id == holder_id, account_t.c.balance != 0)
        .order_by(account_t.c.code)
    ).all()
    reasons, money = [], {}
    for account, purpose, balance, kind in rows:
        if kind == CommodityKind.MONEY:
            if account == md.account_code(code, purpose, credit.MONEY) and purpose in _MONEY:
                money[purpose] = balance
            continue
        if purpose in _GOODS:
            what = {"STOCK": "in stock", "TRANSIT": "in transit to it",
                    "DEFECTIVE": "defective, not yet shipped back"}[purpose]  # fmt: skip
            reasons.append(f"{account} holds {balance:,} {what}")
    owed = -sum(money.get(p, 0) for p in ("RECEIVABLE", "PAYABLE", "SETTLED"))
    if owed < 0:
        reasons.append(
            f"{code} owes {credit.cny(-owed)} (charges net of subsidies): collect it first"
        )
    return reasons, money


def _unsettled_month(session: Session) -> str | None:
    """Last month, if it has ended without being closed by its settlement."""
    today = session.info["window"].today()
    end = today.replace(day=1) - timedelta(days=1)
    if end < session.info["window"].first_open_day or periods.is_closed(
        session, end.replace(day=1)
    ):
        return None
    return periods.month_text(end.replace(day=1))


def terminate(
    session: Session,
    actor: Actor,
    point: str,
    *,
    reason: str,
    method: deposits.Method | str = deposits.Method.BANK_TRANSFER,
    reference: str | None = None,
    open_documents: Sequence[str] = (),
) -> TerminationView:
    """Refund the deposit, pay out what the brand owes, terminate the point.
    `open_documents` are the caller's documents still under way for the
    point (requisitions, shipments): each one blocks too."""
    docs.require_roles(actor, "terminate a point", *credit.FINANCE)
    reason = docs.reason_text(reason, required=True)
    method = deposits._method(method)
    reference = deposits._reference(reference)
    holder = credit.visible_point(session, actor, point)
    credit.lock_point(session, holder)
    # Read under the lock: of two terminations at once, the second sees the first.
    credit.require_not_terminated(session, holder)
    refusals, money = blocks(session, holder.id, holder.code)
    unsettled = _unsettled_month(session)
    if unsettled:
        refusals.append(
            f"{unsettled} has ended but is not settled: settle it first, so that the point's "
            "month is stated before its money is paid out"
        )
    refusals += [f"{number} is still under way" for number in open_documents]
    if refusals:
        raise InvalidState(
            f"{holder.code} cannot be terminated yet: " + "; ".join(refusals),
            point=holder.code,
            blocks=refusals,
        )
    deposit = -money.get("DEPOSIT", 0)
    postings = [
        PostingIn(account=md.account_code(holder.code, purpose, credit.MONEY), amount=-balance)
        for purpose, balance in sorted(money.items())
    ]
    paid_out = -sum(money.values())  # the deposit and the rest the brand owes
    entry_id = None
    if postings:
        bank = deposits.bank_holder(session)
        if paid_out:
            postings.append(
                PostingIn(account=md.account_code(bank.code, "STOCK", credit.MONEY),
                          amount=-paid_out)
            )  # fmt: skip
        refs = {"point": holder.code, "method": method.value}
        if reference:
            refs["reference"] = reference
        entry_id = journal.post_entries(
            session,
            [EntryIn(kind="termination", refs=refs, postings=postings,
                     memo=f"termination of {holder.code}: deposit refunded, account closed")],
            actor=actor.username,
        )[0].entry_id  # fmt: skip
    locations.set_status(session, actor, holder.code, "terminated", reason, terminating=True)
    withdrawn = credit.withdraw_open_overrides(session, holder, reason="the point was terminated")
    docs.step(
        session, actor, "deposit", holder.id, "terminate", None, "terminated", reason=reason,
        entry_id=entry_id,
        detail={"deposit": deposit, "paid_out": paid_out, "overrides_withdrawn": withdrawn},
    )  # fmt: skip
    return TerminationView(
        point=holder.code, deposit=deposit, paid_out=paid_out, entry_id=entry_id, reason=reason
    )
