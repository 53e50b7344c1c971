"""The read side: balances, statements, entries, serial histories, the trial
balance and a full self-check. Reading a balance never sums history: the
current balance is a primary-key read; an as-of balance subtracts only the
postings dated after that day."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from ledger.amounts import MAX_BALANCE
from ledger.codes import REF_KEY_RE
from ledger.errors import InvalidInput, NotFound
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


def _holders():
    parent = aliased(Holder)
    return select(
        Holder.code, Holder.name, Holder.kind, Holder.grade, parent.code.label("parent")
    ).outerjoin(parent, parent.id == Holder.parent_id)


def list_holders(
    session: Session, actor: Actor, *, kind: str | None = None, after=None, limit: int = 100
) -> list[dict[str, Any]]:
    """Holders in code order, each with the code of its parent (region or
    warehouse above it); a service point sees only itself."""
    stmt = _page(_holders(), Holder.code, after, limit)
    if not actor.sees_everything:
        stmt = stmt.where(Holder.id == actor.holder_id)
    if kind:
        stmt = stmt.where(Holder.kind == kind)
    return [dict(r._mapping) for r in session.execute(stmt)]


def get_holder(session: Session, actor: Actor, code: str) -> dict[str, Any]:
    stmt = _holders().where(Holder.code == code)
    if not actor.sees_everything:
        stmt = stmt.where(Holder.id == actor.holder_id)
    row = session.execute(stmt).one_or_none()
    if row is None:
        raise NotFound(f"holder {code!r} does not exist", holder=code)
    return dict(row._mapping)


def _holder_id(session: Session, actor: Actor, code: str) -> int:
    """The id of a holder the actor may see; "not yours" answers as "no such holder"."""
    holder_id = session.scalar(select(Holder.id).where(Holder.code == code))
    if holder_id is None or not (actor.sees_everything or holder_id == actor.holder_id):
        raise NotFound(f"holder {code!r} does not exist", holder=code)
    return holder_id


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
    # The account's balance at the end of the statement's period (`date_to`,
    # or now), whatever page this is; `page_closing_balance` is the running
    # balance after this page's last line.
    closing_balance: int = 0
    page_closing_balance: int = 0
    next_cursor: str | None = None


_STATEMENT_CURSOR = re.compile(r"(\d{4}-\d{2}-\d{2})~(\d{1,19})")
_ENTRY_CURSOR = re.compile(r"(\d{4}-\d{2}-\d{2})~([0-9a-f]{32})")
_MAX_ID = 2**63 - 1  # the largest BIGINT on PostgreSQL


def _bad_cursor(cursor: str) -> InvalidInput:
    return InvalidInput(
        f"cursor {cursor!r} is not valid; pass the `next_cursor` of the previous page as it is",
        field="cursor",
    )


def _statement_cursor(cursor: str) -> tuple[date, int]:
    """`YYYY-MM-DD~posting id`, the id a non-negative integer below 2**63."""
    match = _STATEMENT_CURSOR.fullmatch(cursor)
    if match is None or int(match[2]) > _MAX_ID:
        raise _bad_cursor(cursor)
    try:
        return date.fromisoformat(match[1]), int(match[2])
    except ValueError:
        raise _bad_cursor(cursor) from None


def _entry_cursor(cursor: str) -> tuple[date, uuid.UUID]:
    """`YYYY-MM-DD~entry id` (32 lowercase hex digits)."""
    match = _ENTRY_CURSOR.fullmatch(cursor)
    if match is None:
        raise _bad_cursor(cursor)
    try:
        return date.fromisoformat(match[1]), uuid.UUID(hex=match[2])
    except ValueError:
        raise _bad_cursor(cursor) from None


def _sum_after(session: Session, account_id: int, start) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Posting.amount), 0)).where(
                Posting.account_id == account_id, start if start is not None else True
            )
        )
    )


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
    a page at a time; `cursor` is the `next_cursor` of the previous page.

    Each line names its counter-accounts (the entry's other accounts, without
    another service point's) and the serials the posting moved."""
    account = get_account(session, actor, code)
    if cursor:
        day, last_id = _statement_cursor(cursor)
        start = tuple_(Posting.effective_date, Posting.id) > tuple_(day, last_id)
    elif date_from:
        start = Posting.effective_date >= date_from
    else:
        start = None
    mine = Posting.account_id == account["id"]
    # Opening = now minus everything from the start of the page onwards.
    opening = account["balance"] - _sum_after(session, account["id"], start)
    closing = account["balance"]
    if date_to:
        closing -= _sum_after(session, account["id"], Posting.effective_date > date_to)
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
    shown = rows[:limit]
    counter, moved = _counterparts(session, actor, account, {r.entry_id for r in shown})
    page = StatementPage(account=account, opening_balance=opening, closing_balance=closing)
    running = opening
    for row in shown:
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
                "counter_accounts": counter.get(row.entry_id, []),
                "serials": sorted(moved.get((row.entry_id, row.amount > 0), [])),
            }
        )
    page.page_closing_balance = running
    if len(rows) > limit:
        last = rows[limit - 1]
        page.next_cursor = f"{last.effective_date.isoformat()}~{last.id}"
    return page


def _counterparts(
    session: Session, actor: Actor, account: dict[str, Any], entry_ids: set[uuid.UUID]
) -> tuple[dict[uuid.UUID, list[str]], dict[tuple[uuid.UUID, bool], list[str]]]:
    """Of these entries: the counter-accounts, i.e. the other accounts of the
    same commodity (each commodity balances on its own, so these are the other
    side of the posting), in line order and without another service point's;
    and the serials each entry moved into (True) or out of (False) `account`."""
    account_id = account["id"]
    counter: dict[uuid.UUID, list[str]] = defaultdict(list)
    moved: dict[tuple[uuid.UUID, bool], list[str]] = defaultdict(list)
    if not entry_ids:
        return counter, moved
    ids = sorted(entry_ids)
    for entry_id, code, holder_id, kind in session.execute(
        select(Posting.entry_id, Account.code, Account.holder_id, Holder.kind)
        .join(Account, Account.id == Posting.account_id)
        .join(Holder, Holder.id == Account.holder_id)
        .join(Commodity, Commodity.id == Posting.commodity_id)
        .where(
            Posting.entry_id.in_(ids),
            Posting.account_id != account_id,
            Commodity.code == account["commodity"],
        )
        .order_by(Posting.entry_id, Posting.line_no)
    ):
        if not _hidden(actor, kind, holder_id) and code not in counter[entry_id]:
            counter[entry_id].append(code)
    for entry_id, serial, src, dst in session.execute(
        select(
            SerialMove.entry_id,
            SerialMove.serial,
            SerialMove.from_account_id,
            SerialMove.to_account_id,
        ).where(
            SerialMove.entry_id.in_(ids),
            or_(SerialMove.from_account_id == account_id, SerialMove.to_account_id == account_id),
        )
    ):
        if dst == account_id:
            moved[(entry_id, True)].append(serial)
        if src == account_id:
            moved[(entry_id, False)].append(serial)
    return counter, moved


def entry_touches(session: Session, entry_id: uuid.UUID, holder_id: int | None) -> bool:
    """Has the entry a posting on an account of this holder?"""
    return (
        session.scalar(
            select(Posting.id)
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.entry_id == entry_id, Account.holder_id == holder_id)
            .limit(1)
        )
        is not None
    )


def get_entry(session: Session, actor: Actor, entry_id: uuid.UUID) -> dict[str, Any]:
    """One entry with its postings and serials; for a service point, only an
    entry touching its own point, without other points' lines (another
    point's entry answers as one that does not exist)."""
    entry = session.get(JournalEntry, entry_id)
    if entry is None or not (
        actor.sees_everything or entry_touches(session, entry_id, actor.holder_id)
    ):
        raise NotFound(f"entry {entry_id} does not exist", entry_id=str(entry_id))
    return _entry_views(session, actor, [entry])[0]


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


@dataclass
class EntryPage:
    items: list[dict[str, Any]]
    next_cursor: str | None = None


def list_entries(
    session: Session,
    actor: Actor,
    *,
    ref_key: str | None = None,
    ref_value: str | None = None,
    kind: str | None = None,
    account: str | None = None,
    holder: str | None = None,
    actor_name: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> EntryPage:
    """Entries matching every filter given, newest first: by (effective date,
    id) descending, the id being a UUIDv7, so within a day in posting order.
    `cursor` is the `next_cursor` of the previous page.

    `ref_key` alone: entries whose refs have that key; with `ref_value`: with
    that value (a JSON path read, `JSON_EXTRACT` on SQLite, `->>` on
    PostgreSQL). A service point sees only entries touching its own point,
    shown as `get_entry` shows them; an account or holder it may not see
    answers as one that does not exist."""
    if ref_value is not None and ref_key is None:
        raise InvalidInput(
            "ref_value needs ref_key: say which reference to match", field="ref_value"
        )
    if ref_key is not None and not REF_KEY_RE.fullmatch(ref_key):
        # It becomes a JSON path on SQLite: keep to characters that need no quoting.
        raise InvalidInput(
            f"ref_key {ref_key!r} is not a reference name: up to 40 printable characters, "
            "no quote or backslash",
            field="ref_key",
        )
    stmt = select(JournalEntry)
    if ref_key is not None:
        value = JournalEntry.refs[ref_key].as_string()
        stmt = stmt.where(value.is_not(None) if ref_value is None else value == ref_value)
    if kind is not None:
        stmt = stmt.where(JournalEntry.kind == kind)
    if actor_name is not None:
        stmt = stmt.where(JournalEntry.actor == actor_name)
    if date_from is not None:
        stmt = stmt.where(JournalEntry.effective_date >= date_from)
    if date_to is not None:
        stmt = stmt.where(JournalEntry.effective_date <= date_to)
    if account is not None:
        account_id = get_account(session, actor, account)["id"]
        stmt = stmt.where(
            JournalEntry.id.in_(select(Posting.entry_id).where(Posting.account_id == account_id))
        )
    holders = []
    if holder is not None:
        holders.append(_holder_id(session, actor, holder))
    if not actor.sees_everything:
        holders.append(actor.holder_id)
    for holder_id in set(holders):
        stmt = stmt.where(
            JournalEntry.id.in_(
                select(Posting.entry_id)
                .join(Account, Account.id == Posting.account_id)
                .where(Account.holder_id == holder_id)
            )
        )
    if cursor:
        day, last_id = _entry_cursor(cursor)
        stmt = stmt.where(
            or_(
                JournalEntry.effective_date < day,
                and_(JournalEntry.effective_date == day, JournalEntry.id < last_id),
            )
        )
    stmt = stmt.order_by(JournalEntry.effective_date.desc(), JournalEntry.id.desc())
    entries = list(session.scalars(stmt.limit(limit + 1)))
    page = EntryPage(items=_entry_views(session, actor, entries[:limit]))
    if len(entries) > limit:
        last = entries[limit - 1]
        page.next_cursor = f"{last.effective_date.isoformat()}~{last.id.hex}"
    return page


def _entry_views(
    session: Session, actor: Actor, entries: list[JournalEntry]
) -> list[dict[str, Any]]:
    """What `get_entry` shows of each of these entries, in a few queries for all."""
    if not entries:
        return []
    ids = [e.id for e in entries]
    lines: dict[uuid.UUID, list] = defaultdict(list)
    for line in session.execute(
        select(
            Posting.entry_id,
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
        .where(Posting.entry_id.in_(ids))
        .order_by(Posting.entry_id, Posting.line_no)
    ):
        lines[line.entry_id].append(line)
    serials: dict[tuple[uuid.UUID, str, int], list[str]] = defaultdict(list)
    for entry_id, serial, src, dst in session.execute(
        select(
            SerialMove.entry_id,
            SerialMove.serial,
            SerialMove.from_account_id,
            SerialMove.to_account_id,
        ).where(SerialMove.entry_id.in_(ids))
    ):
        serials[(entry_id, "out", src)].append(serial)
        serials[(entry_id, "in", dst)].append(serial)
    reversed_by = dict(
        session.execute(
            select(JournalEntry.reverses_entry_id, JournalEntry.id).where(
                JournalEntry.reverses_entry_id.in_(ids)
            )
        ).all()
    )
    views = []
    for entry in entries:
        postings = [
            {
                "line_no": line.line_no,
                "account": line.code,
                "commodity": line.commodity,
                "amount": line.amount,
                "serials": sorted(
                    serials.get((entry.id, "in" if line.amount > 0 else "out", line.account_id), [])
                ),
            }
            for line in lines[entry.id]
            if not _hidden(actor, line.kind, line.holder_id)
        ]
        views.append(
            {
                "id": entry.id,
                "kind": entry.kind,
                "effective_date": entry.effective_date,
                "created_at": entry.created_at,
                "actor": entry.actor,
                "idempotency_key": entry.idempotency_key,
                "memo": entry.memo,
                "refs": entry.refs,
                "reverses_entry_id": entry.reverses_entry_id,
                "reversed_by_entry_id": reversed_by.get(entry.id),
                "postings": postings,
            }
        )
    return views


def commodity_decimals(session: Session, codes: Iterable[str]) -> dict[str, int]:
    """Decimals of these commodities by code (for showing amounts as money)."""
    return dict(
        session.execute(
            select(Commodity.code, Commodity.decimals).where(Commodity.code.in_(sorted(set(codes))))
        ).all()
    )


def _hidden(actor: Actor, holder_kind: str, holder_id: int) -> bool:
    """A service point sees its own lines and the brand's, never another point's."""
    return (
        not actor.sees_everything
        and holder_kind == HolderKind.SERVICE_POINT
        and holder_id != actor.holder_id
    )


def serial_history(session: Session, actor: Actor, serial: str) -> dict[str, Any]:
    """Where a serial is and every move it made.

    A service point sees a serial only if it was ever in its custody, and
    then only the moves into or out of its own accounts. It sees where the
    serial is now while it holds it, or when its own move put it there (a
    handset lent to a customer); otherwise `account` is None. Another
    point's account codes are never shown. Anything else answers as an
    unknown serial."""
    unit = session.execute(
        select(SerialUnit, Account.code, Account.holder_id, Commodity.code, Holder.kind)
        .join(Account, Account.id == SerialUnit.account_id)
        .join(Holder, Holder.id == Account.holder_id)
        .join(Commodity, Commodity.id == SerialUnit.commodity_id)
        .where(SerialUnit.serial == serial)
    ).one_or_none()
    if unit is None:
        raise NotFound(f"serial {serial!r} is not known", serial=serial)
    source = aliased(Account)
    target = aliased(Account)
    source_holder = aliased(Holder)
    target_holder = aliased(Holder)
    moves = session.execute(
        select(
            SerialMove.entry_id,
            JournalEntry.kind,
            JournalEntry.effective_date,
            JournalEntry.created_at,
            source.code.label("from_account"),
            target.code.label("to_account"),
            source.holder_id.label("from_holder"),
            target.holder_id.label("to_holder"),
            source_holder.kind.label("from_kind"),
            target_holder.kind.label("to_kind"),
        )
        .join(JournalEntry, JournalEntry.id == SerialMove.entry_id)
        .join(source, source.id == SerialMove.from_account_id)
        .join(target, target.id == SerialMove.to_account_id)
        .join(source_holder, source_holder.id == source.holder_id)
        .join(target_holder, target_holder.id == target.holder_id)
        .where(SerialMove.serial == serial)
        .order_by(SerialMove.id)
    ).all()
    account: str | None = unit[1]
    if not actor.sees_everything:
        point = actor.holder_id
        held_now = unit[2] == point
        own = [m for m in moves if point in (m.from_holder, m.to_holder)]
        if not (held_now or own):
            raise NotFound(f"serial {serial!r} is not known", serial=serial)
        put_there = bool(moves) and moves[-1].from_holder == point
        if not (held_now or put_there) or _hidden(actor, unit[4], unit[2]):
            account = None
        moves = own
    return {
        "serial": serial,
        "commodity": unit[3],
        "colour": unit[0].colour,
        "account": account,
        "history": [
            {
                "entry_id": m.entry_id,
                "kind": m.kind,
                "effective_date": m.effective_date,
                "created_at": m.created_at,
                "from_account": None
                if _hidden(actor, m.from_kind, m.from_holder)
                else m.from_account,
                "to_account": None if _hidden(actor, m.to_kind, m.to_holder) else m.to_account,
            }
            for m in moves
        ],
    }


def trial_balance(session: Session, as_of: date | None = None) -> list[dict[str, Any]]:
    """Per commodity: what is held, what is owed, and their sum, which a sound
    ledger keeps at exactly zero; now, or at the end of `as_of`.

    As of a day, each account's balance is its stored balance minus the
    postings dated after that day, found through the entries' date index: the
    history up to the day is not read."""
    amount = Account.balance
    stmt = select(Commodity.code, Commodity.decimals, Account.id.label("account_id"))
    if as_of is not None:
        later = (
            select(Posting.account_id, func.sum(Posting.amount).label("total"))
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(JournalEntry.effective_date > as_of)
            .group_by(Posting.account_id)
            .subquery()
        )
        amount = Account.balance - func.coalesce(later.c.total, 0)
    per_account = stmt.add_columns(amount.label("amount")).join(
        Account, Account.commodity_id == Commodity.id
    )
    if as_of is not None:
        per_account = per_account.outerjoin(later, later.c.account_id == Account.id)
    balances = per_account.subquery()
    rows = session.execute(
        select(
            balances.c.code,
            balances.c.decimals,
            func.count(balances.c.account_id),
            func.coalesce(func.sum(balances.c.amount).filter(balances.c.amount > 0), 0),
            func.coalesce(func.sum(balances.c.amount).filter(balances.c.amount < 0), 0),
        )
        .group_by(balances.c.code, balances.c.decimals)
        .order_by(balances.c.code)
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
