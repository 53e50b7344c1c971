"""The read side: balances, statements, entries, serial histories, the trial
balance and a full self-check. Reading a balance never sums history: the
current balance is a primary-key read; an as-of balance subtracts only the
postings dated after that day."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from ledger.amounts import MAX_BALANCE
from ledger.errors import InvalidEntry, NotFound
from ledger.journal import EntryIn, PostResult, resolve_accounts
from ledger.models import (
    Account,
    Commodity,
    Holder,
    HolderKind,
    JournalEntry,
    Posting,
    SerialMove,
    SerialUnit,
    Side,
)
from ledger.policy import Actor

_ACCOUNT_COLUMNS = (
    Account.id,
    Account.code,
    Account.purpose,
    Account.side,
    Account.guarded,
    Account.balance,
    Account.last_posted_on,
    Holder.code.label("holder"),
    Holder.kind.label("holder_kind"),
    Holder.id.label("holder_id"),
    Commodity.code.label("commodity"),
    Commodity.kind.label("commodity_kind"),
    Commodity.decimals.label("decimals"),
)


def _accounts():
    return (
        select(*_ACCOUNT_COLUMNS)
        .join(Holder, Holder.id == Account.holder_id)
        .join(Commodity, Commodity.id == Account.commodity_id)
    )


def _visible(stmt, actor: Actor):
    return stmt if actor.sees_everything else stmt.where(Account.holder_id == actor.holder_id)


def get_account(session: Session, actor: Actor, code: str) -> dict[str, Any]:
    row = session.execute(_visible(_accounts().where(Account.code == code), actor)).one_or_none()
    if row is None:
        # Same answer for "no such account" and "not yours": nothing leaks.
        raise NotFound(f"account {code!r} does not exist", account=code)
    return dict(row._mapping)


def _page(stmt, code_column, after: str | None, limit: int):
    stmt = stmt.order_by(code_column).limit(limit)
    return stmt.where(code_column > after) if after else stmt


def holder_code(session: Session, holder_id: int) -> str | None:
    return session.scalar(select(Holder.code).where(Holder.id == holder_id))


def list_holders(
    session: Session, actor: Actor, *, kind: str | None = None, after=None, limit: int = 100
) -> list[Holder]:
    stmt = _page(select(Holder), Holder.code, after, limit)
    if not actor.sees_everything:
        stmt = stmt.where(Holder.id == actor.holder_id)
    if kind:
        stmt = stmt.where(Holder.kind == kind)
    return list(session.scalars(stmt))


def list_commodities(
    session: Session, *, kind: str | None = None, after=None, limit: int = 100
) -> list[Commodity]:
    stmt = _page(select(Commodity), Commodity.code, after, limit)
    if kind:
        stmt = stmt.where(Commodity.kind == kind)
    return list(session.scalars(stmt))


def list_accounts(
    session: Session,
    actor: Actor,
    *,
    holder: str | None = None,
    commodity: str | None = None,
    purpose: str | None = None,
    nonzero: bool = False,
    after: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    stmt = _visible(_accounts(), actor)
    if holder:
        stmt = stmt.where(Holder.code == holder)
    if commodity:
        stmt = stmt.where(Commodity.code == commodity)
    if purpose:
        stmt = stmt.where(Account.purpose == purpose)
    if nonzero:
        stmt = stmt.where(Account.balance != 0)
    rows = session.execute(_page(stmt, Account.code, after, limit))
    return [dict(r._mapping) for r in rows]


def balance(session: Session, actor: Actor, code: str, as_of: date | None = None) -> dict[str, Any]:
    """Balance now, or at the end of `as_of` (by effective date)."""
    account = get_account(session, actor, code)
    amount = account["balance"]
    if as_of is not None:
        later = session.scalar(
            select(func.coalesce(func.sum(Posting.amount), 0)).where(
                Posting.account_id == account["id"], Posting.effective_date > as_of
            )
        )
        amount -= int(later)
    return {
        "account": code,
        "commodity": account["commodity"],
        "decimals": account["decimals"],
        "balance": amount,
        "as_of": as_of,
    }


@dataclass
class StatementPage:
    account: dict[str, Any]
    opening_balance: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    closing_balance: int = 0
    next_cursor: str | None = None


def statement(
    session: Session,
    actor: Actor,
    code: str,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> StatementPage:
    """Postings of an account in effective-date order with a running balance,
    a page at a time; `cursor` is the `next_cursor` of the previous page."""
    account = get_account(session, actor, code)
    if cursor:
        try:
            day, _, last_id = cursor.partition("~")
            start = tuple_(Posting.effective_date, Posting.id) > tuple_(
                date.fromisoformat(day), int(last_id)
            )
        except ValueError:
            raise InvalidEntry(f"cursor {cursor!r} is not valid", field="cursor") from None
    elif date_from:
        start = Posting.effective_date >= date_from
    else:
        start = None
    mine = Posting.account_id == account["id"]
    # Opening = now minus everything from the start of the page onwards.
    after_start = session.scalar(
        select(func.coalesce(func.sum(Posting.amount), 0)).where(
            mine, start if start is not None else True
        )
    )
    opening = account["balance"] - int(after_start)
    stmt = (
        select(
            Posting.id,
            Posting.entry_id,
            Posting.effective_date,
            Posting.amount,
            JournalEntry.kind,
            JournalEntry.memo,
            JournalEntry.refs,
            JournalEntry.created_at,
        )
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(mine)
        .order_by(Posting.effective_date, Posting.id)
        .limit(limit + 1)
    )
    if start is not None:
        stmt = stmt.where(start)
    if date_to:
        stmt = stmt.where(Posting.effective_date <= date_to)
    rows = session.execute(stmt).all()
    page = StatementPage(account=account, opening_balance=opening)
    running = opening
    for row in rows[:limit]:
        running += row.amount
        page.lines.append(
            {
                "entry_id": row.entry_id,
                "effective_date": row.effective_date,
                "kind": row.kind,
                "memo": row.memo,
                "refs": row.refs,
                "amount": row.amount,
                "balance": running,
                "created_at": row.created_at,
            }
        )
    page.closing_balance = running
    if len(rows) > limit:
        last = rows[limit - 1]
        page.next_cursor = f"{last.effective_date.isoformat()}~{last.id}"
    return page


def get_entry(session: Session, actor: Actor, entry_id: uuid.UUID) -> dict[str, Any]:
    entry = session.get(JournalEntry, entry_id)
    lines = session.execute(
        select(
            Posting.line_no,
            Posting.amount,
            Posting.account_id,
            Account.code,
            Account.holder_id,
            Holder.kind,
            Commodity.code.label("commodity"),
        )
        .join(Account, Account.id == Posting.account_id)
        .join(Holder, Holder.id == Account.holder_id)
        .join(Commodity, Commodity.id == Posting.commodity_id)
        .where(Posting.entry_id == entry_id)
        .order_by(Posting.line_no)
    ).all()
    if entry is None or not (
        actor.sees_everything or any(line.holder_id == actor.holder_id for line in lines)
    ):
        raise NotFound(f"entry {entry_id} does not exist", entry_id=str(entry_id))
    serials: dict[tuple[str, int], list[str]] = defaultdict(list)
    for serial, src, dst in session.execute(
        select(SerialMove.serial, SerialMove.from_account_id, SerialMove.to_account_id).where(
            SerialMove.entry_id == entry_id
        )
    ):
        serials[("out", src)].append(serial)
        serials[("in", dst)].append(serial)
    postings = []
    for line in lines:
        if _hidden(actor, line.kind, line.holder_id):
            continue
        postings.append(
            {
                "line_no": line.line_no,
                "account": line.code,
                "commodity": line.commodity,
                "amount": line.amount,
                "serials": sorted(
                    serials.get(("in" if line.amount > 0 else "out", line.account_id), [])
                ),
            }
        )
    reversed_by = session.scalar(
        select(JournalEntry.id).where(JournalEntry.reverses_entry_id == entry_id)
    )
    return {
        "id": entry.id,
        "kind": entry.kind,
        "effective_date": entry.effective_date,
        "created_at": entry.created_at,
        "actor": entry.actor,
        "idempotency_key": entry.idempotency_key,
        "memo": entry.memo,
        "refs": entry.refs,
        "reverses_entry_id": entry.reverses_entry_id,
        "reversed_by_entry_id": reversed_by,
        "postings": postings,
    }


def posted_entry(
    session: Session, actor: Actor, entry: EntryIn, result: PostResult
) -> dict[str, Any]:
    """What `get_entry` would show of an entry this request has just posted,
    built from the request and the account facts instead of read back (a
    replay is read back: its first request may have differed in defaults)."""
    if not result.created:
        return get_entry(session, actor, result.entry_id)
    accounts = resolve_accounts(session, {p.account for p in entry.postings})
    postings = []
    for line, posting in enumerate(entry.postings):
        info = accounts[posting.account]
        if _hidden(actor, info.holder_kind, info.holder_id):
            continue
        postings.append(
            {
                "line_no": line,
                "account": info.code,
                "commodity": info.commodity_code,
                "amount": posting.amount,
                "serials": sorted(s if isinstance(s, str) else s.serial for s in posting.serials),
            }
        )
    return {
        "id": result.entry_id,
        "kind": entry.kind,
        "effective_date": result.effective_date,
        "created_at": result.created_at,
        "actor": actor.username,
        "idempotency_key": entry.idempotency_key,
        "memo": entry.memo,
        "refs": entry.refs,
        "reverses_entry_id": None,
        "reversed_by_entry_id": None,
        "postings": postings,
    }


def _hidden(actor: Actor, holder_kind: str, holder_id: int) -> bool:
    """A service point sees its own lines and the brand's, never another point's."""
    return (
        not actor.sees_everything
        and holder_kind == HolderKind.SERVICE_POINT
        and holder_id != actor.holder_id
    )


def serial_history(session: Session, actor: Actor, serial: str) -> dict[str, Any]:
    unit = session.execute(
        select(SerialUnit, Account.code, Account.holder_id, Commodity.code)
        .join(Account, Account.id == SerialUnit.account_id)
        .join(Commodity, Commodity.id == SerialUnit.commodity_id)
        .where(SerialUnit.serial == serial)
    ).one_or_none()
    if unit is None or not (actor.sees_everything or unit[2] == actor.holder_id):
        raise NotFound(f"serial {serial!r} is not known", serial=serial)
    source = Account.__table__.alias("source")
    target = Account.__table__.alias("target")
    moves = session.execute(
        select(
            SerialMove.entry_id,
            JournalEntry.kind,
            JournalEntry.effective_date,
            JournalEntry.created_at,
            source.c.code,
            target.c.code,
        )
        .join(JournalEntry, JournalEntry.id == SerialMove.entry_id)
        .join(source, source.c.id == SerialMove.from_account_id)
        .join(target, target.c.id == SerialMove.to_account_id)
        .where(SerialMove.serial == serial)
        .order_by(SerialMove.id)
    ).all()
    return {
        "serial": serial,
        "commodity": unit[3],
        "colour": unit[0].colour,
        "account": unit[1],
        "history": [
            {
                "entry_id": m[0],
                "kind": m[1],
                "effective_date": m[2],
                "created_at": m[3],
                "from_account": m[4],
                "to_account": m[5],
            }
            for m in moves
        ],
    }


def trial_balance(session: Session) -> list[dict[str, Any]]:
    """Per commodity: what is held, what is owed, and their sum, which a sound
    ledger keeps at exactly zero."""
    rows = session.execute(
        select(
            Commodity.code,
            Commodity.decimals,
            func.count(Account.id),
            func.coalesce(func.sum(Account.balance).filter(Account.balance > 0), 0),
            func.coalesce(func.sum(Account.balance).filter(Account.balance < 0), 0),
        )
        .join(Account, Account.commodity_id == Commodity.id)
        .group_by(Commodity.code, Commodity.decimals)
        .order_by(Commodity.code)
    )
    return [
        {
            "commodity": code,
            "decimals": decimals,
            "accounts": count,
            "debit_balances": int(debit),
            "credit_balances": int(credit),
            "net": int(debit) + int(credit),
        }
        for code, decimals, count, debit, credit in rows
    ]


def verify(session: Session) -> list[str]:
    """Check the whole ledger against its history; an empty list means sound.

    Every entry balances per commodity; every stored balance equals the sum
    of its postings and lies within the bounds; no guarded account is past
    zero on the wrong side; every serial is where its last move put it.
    """
    problems: list[str] = []
    for entry_id, commodity, total in session.execute(
        select(Posting.entry_id, Posting.commodity_id, func.sum(Posting.amount))
        .group_by(Posting.entry_id, Posting.commodity_id)
        .having(func.sum(Posting.amount) != 0)
    ):
        problems.append(f"entry {entry_id} commodity {commodity} is off by {total}")
    sums = (
        select(Posting.account_id, func.sum(Posting.amount).label("total"))
        .group_by(Posting.account_id)
        .subquery()
    )
    for code, stored, summed in session.execute(
        select(Account.code, Account.balance, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance != func.coalesce(sums.c.total, 0))
    ):
        problems.append(f"account {code}: balance {stored} but its postings sum to {summed}")
    for (code,) in session.execute(
        select(Account.code).where(
            Account.guarded,
            or_(
                and_(Account.side == Side.DEBIT, Account.balance < 0),
                and_(Account.side == Side.CREDIT, Account.balance > 0),
            ),
        )
    ):
        problems.append(f"account {code} is past zero on the wrong side of its guard")
    for (code,) in session.execute(
        select(Account.code).where(func.abs(Account.balance) > MAX_BALANCE)
    ):
        problems.append(f"account {code} is beyond the ledger's balance bound")

    last = (
        select(SerialMove.serial, func.max(SerialMove.id).label("last_id"))
        .group_by(SerialMove.serial)
        .subquery()
    )
    for serial, held, moved_to in session.execute(
        select(SerialUnit.serial, SerialUnit.account_id, SerialMove.to_account_id)
        .join(last, last.c.serial == SerialUnit.serial)
        .join(SerialMove, SerialMove.id == last.c.last_id)
        .where(SerialUnit.account_id != SerialMove.to_account_id)
    ):
        problems.append(f"serial {serial} is at account {held} but was last moved to {moved_to}")
    held = dict(
        session.execute(
            select(SerialUnit.account_id, func.count()).group_by(SerialUnit.account_id)
        ).all()
    )
    for account_id, code, stored in session.execute(
        select(Account.id, Account.code, Account.balance)
        .join(Commodity, Commodity.id == Account.commodity_id)
        .where(Commodity.serialized, Account.guarded)
    ):
        if held.get(account_id, 0) != stored:
            problems.append(
                f"account {code} holds {held.get(account_id, 0)} serial(s) but balance {stored}"
            )
    return problems
