"""Statements (对账单): each point's month, as the settlement wrote it, with
its lines read from the journal; marked signed back when the point's signed
copy arrives (the handbook gives it 48 hours), and the late ones listed.

Amounts are fen, positive where the brand owes the point: the opening
balance, less the month's charges, plus its subsidies, less what was paid
out, is the closing balance."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import documents as docs
from ledger.errors import InvalidState, NotFound
from ledger.models import Commodity, Holder, Role, account_t, entry_t, posting_t
from ledger.money import credit, periods, settlement
from ledger.money.tables import Statement
from ledger.policy import Actor
from ledger.types import utcnow

SIGN_BACK_WITHIN = timedelta(hours=48)


class StatementLine(BaseModel):
    on: date
    kind: str
    document: str | None  # the repair, the month…
    memo: str
    charge: int  # what the point was charged (fen)
    subsidy: int  # what it earned (fen)
    payment: int  # what was paid out to it (fen)


class StatementView(BaseModel):
    month: str
    point: str
    name: str
    grade: str | None
    opening: int
    charges: int
    subsidies: int
    payments: int
    closing: int
    settled: int
    issued_at: datetime
    signed_back_at: datetime | None
    signed_back_by: str | None
    late: bool
    lines: list[StatementLine] | None = None


def _late(row: Statement, now: datetime) -> bool:
    return row.signed_back_at is None and now - row.issued_at > SIGN_BACK_WITHIN


def _view(row: Statement, holder: Holder, month: str, now, lines=None) -> StatementView:
    return StatementView(
        month=month, point=holder.code, name=holder.name, grade=holder.grade,
        opening=row.opening, charges=row.charges, subsidies=row.subsidies,
        payments=row.payments, closing=row.closing, settled=row.settled,
        issued_at=row.issued_at, signed_back_at=row.signed_back_at,
        signed_back_by=row.signed_back_by, late=_late(row, now), lines=lines,
    )  # fmt: skip


def _find(session: Session, actor: Actor, month: str, point: str, *, lock: bool = False):
    holder = credit.visible_point(session, actor, point)
    first = periods.parse_month(month)
    stmt = select(Statement).where(Statement.month == first, Statement.holder_id == holder.id)
    row = session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None:
        raise NotFound(f"{point} has no statement for {month}", month=month, point=point)
    return row, holder, first


def lines(session: Session, holder: Holder, first: date) -> list[StatementLine]:
    return lines_of(session, [holder.id], first).get(holder.id, [])


def lines_of(
    session: Session, holder_ids: Sequence[int], first: date
) -> dict[int, list[StatementLine]]:
    """Each point's movements of the month on its money accounts, oldest
    first, one line per entry (the settlement's own entries, which move
    nothing the point is owed, are left out): one query for many points."""
    end = periods.last_day(first)
    rows = session.execute(
        select(
            account_t.c.holder_id, posting_t.c.entry_id, posting_t.c.effective_date,
            entry_t.c.kind, entry_t.c.refs, entry_t.c.memo, account_t.c.purpose,
            posting_t.c.amount,
        )
        .join(account_t, account_t.c.id == posting_t.c.account_id)
        .join(entry_t, entry_t.c.id == posting_t.c.entry_id)
        .join(Commodity, Commodity.id == account_t.c.commodity_id)
        .where(
            account_t.c.holder_id.in_(holder_ids),
            account_t.c.purpose.in_(settlement.MONEY_PURPOSES),
            Commodity.code == credit.MONEY,
            posting_t.c.effective_date.between(first, end),
            entry_t.c.kind.not_in(settlement.SETTLEMENT_KINDS),
        )
        .order_by(account_t.c.holder_id, posting_t.c.effective_date, posting_t.c.id)
    )  # fmt: skip
    out: dict[int, dict] = defaultdict(dict)  # point → entry → its line
    for holder_id, entry_id, on, kind, refs, memo, purpose, amount in rows:
        line = out[holder_id].get(entry_id)
        if line is None:
            refs = refs or {}
            line = out[holder_id][entry_id] = StatementLine(
                on=on, kind=kind, document=refs.get("repair") or refs.get("month"), memo=memo,
                charge=0, subsidy=0, payment=0,
            )  # fmt: skip
        if purpose == "RECEIVABLE":
            line.charge += amount
        elif purpose == "PAYABLE":
            line.subsidy -= amount
        else:
            line.payment += amount
    # Ordered by date, then posting: an entry's line sits at its first posting.
    return {h: sorted(by_entry.values(), key=lambda ln: ln.on) for h, by_entry in out.items()}


def get(session: Session, actor: Actor, month: str, point: str) -> StatementView:
    row, holder, first = _find(session, actor, month, point)
    return _view(row, holder, periods.month_text(first), utcnow(), lines(session, holder, first))


def list_statements(
    session: Session,
    actor: Actor,
    month: str,
    *,
    late: bool | None = None,
    signed_back: bool | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[StatementView]:
    """A month's statements by point; `late`: not signed back within 48 hours."""
    first = periods.parse_month(month)
    stmt = (
        select(Statement, Holder)
        .join(Holder, Holder.id == Statement.holder_id)
        .where(Statement.month == first)
        .order_by(Holder.code)
    )
    if actor.role is Role.SERVICE_POINT:
        stmt = stmt.where(Statement.holder_id == actor.holder_id)
    else:
        docs.require_roles(actor, "read statements", *credit.READERS)
    now = utcnow()
    if late:
        stmt = stmt.where(Statement.signed_back_at.is_(None),
                          Statement.issued_at < now - SIGN_BACK_WITHIN)  # fmt: skip
    if signed_back is not None:
        stmt = stmt.where(
            Statement.signed_back_at.is_not(None) if signed_back
            else Statement.signed_back_at.is_(None)
        )  # fmt: skip
    if after is not None:
        stmt = stmt.where(Holder.code > after)
    rows = session.execute(stmt.limit(limit)).all()
    return [_view(row, holder, month, now) for row, holder in rows]


def all_of(session: Session, month: str) -> list[tuple[StatementView, list[StatementLine]]]:
    """Every statement of the month with its lines: for the spreadsheets
    (the lines read for 500 points at a time)."""
    first = periods.parse_month(month)
    rows = session.execute(
        select(Statement, Holder)
        .join(Holder, Holder.id == Statement.holder_id)
        .where(Statement.month == first)
        .order_by(Holder.code)
    ).all()
    now = utcnow()
    out = []
    for i in range(0, len(rows), 500):
        part = rows[i : i + 500]
        found = lines_of(session, [h.id for _, h in part], first)
        out += [(_view(row, h, month, now), found.get(h.id, [])) for row, h in part]
    return out


def mark_signed_back(
    session: Session, actor: Actor, month: str, point: str, key: str | None = None
) -> StatementView:
    """Finance records that the point's signed copy came back."""
    docs.require_roles(actor, "mark a statement signed back", *credit.FINANCE)
    run = docs.begin(session, actor, "statement", "sign_back", key,
                     {"month": month, "point": point})  # fmt: skip
    if run.replay is not None:
        return StatementView.model_validate(run.replay)
    row, holder, first = _find(session, actor, month, point, lock=True)
    if row.signed_back_at is not None:
        raise InvalidState(
            f"{point}'s statement for {month} was signed back on "
            f"{row.signed_back_at:%Y-%m-%d %H:%M} by {row.signed_back_by}",
            month=month,
            point=point,
        )
    row.signed_back_at, row.signed_back_by = utcnow(), actor.username
    session.flush()
    run.record(row.id, "issued", "signed_back")
    return run.finish(_view(row, holder, periods.month_text(first), utcnow()))
