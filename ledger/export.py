"""The whole journal as a Beancount v3 file.

`bean-check` re-adds every posting by itself and compares the result with the
balances we store (one `balance` assertion per account), so our books are
verified by an independent tool, not only by our own code.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import groupby
from typing import TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.models import Account, Commodity, Holder, JournalEntry, Posting, SerialMove, book_root

_CHUNK = 2000  # rows fetched at a time: memory stays flat however long the journal
_EPOCH = date(1970, 1, 1)
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_COMPONENT = re.compile(r"[A-Z0-9][A-Za-z0-9-]*")  # a Beancount account component (ASCII)
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_ACCOUNT_COLUMNS = (
    Holder.kind.label("holder_kind"),
    Holder.code.label("holder"),
    Account.purpose,
    Commodity.code.label("commodity"),
    Commodity.decimals,
)
# Beancount sorts by date itself; this order only makes the file stable and readable.
_ENTRY_ORDER = (JournalEntry.effective_date, JournalEntry.created_at, JournalEntry.id)


@lru_cache(maxsize=65_536)
def account_name(holder_kind: str, holder: str, purpose: str, commodity: str) -> str:
    """Beancount's name for an account: Assets:HQ:STOCK:X1-LCD,
    Liabilities:SP-0001:DEPOSIT:CNY (the root comes from the purpose).

    A character Beancount forbids in an account name (the ' . _ a commodity code
    may hold, or any lower-case letter) becomes "x" and two lower-case hex digits:
    X1.LCD -> X1x2eLCD. Our codes are upper case, so no two accounts can meet.
    """
    parts = [book_root(purpose, holder_kind)]
    for code in (holder, purpose, commodity):
        part = "".join(c if c in _PLAIN else f"x{ord(c):02x}" for c in code)
        if not code.isascii() or not _COMPONENT.fullmatch(part):
            raise ValueError(f"{code!r} cannot be made a Beancount account component")
        parts.append(part)
    return ":".join(parts)


def write_beancount(session: Session, out: TextIO) -> dict:
    """Write the whole journal to `out` and return how much was written.

    If others may write meanwhile, run it in one snapshot (REPEATABLE READ on
    PostgreSQL) so that the stored balances match the postings exported.
    """
    first, last = session.execute(
        select(func.min(JournalEntry.effective_date), func.max(JournalEntry.effective_date))
    ).one()
    opened = first or _EPOCH
    checked = (last or _EPOCH) + timedelta(days=1)  # a balance is asserted at start of day
    accounts = (
        select(*_ACCOUNT_COLUMNS, Account.balance)
        .select_from(Account)
        .join(Holder, Holder.id == Account.holder_id)
        .join(Commodity, Commodity.id == Account.commodity_id)
        .order_by(Account.code)
    )

    out.write('option "title" "aftersales ledger"\noption "operating_currency" "CNY"\n\n')
    for code, name in session.execute(
        select(Commodity.code, Commodity.name).order_by(Commodity.code)
    ):
        out.write(f"{opened} commodity {code}\n  name: {_string(name)}\n")
    n_accounts = 0
    for a in _stream(session, accounts):
        out.write(f"{opened} open {_name(a)} {a.commodity}\n")
        n_accounts += 1
    n_entries, n_postings = _write_transactions(session, out)
    out.write("\n")
    for a in _stream(session, accounts):
        # "~ 0": without it Beancount would let a CNY balance be off by 0.01.
        number = _number(a.balance, a.decimals)
        out.write(f"{checked} balance {_name(a)} {number} ~ 0 {a.commodity}\n")
    return {"accounts": n_accounts, "entries": n_entries, "postings": n_postings}


def _write_transactions(session: Session, out: TextIO) -> tuple[int, int]:
    rows = _stream(
        session,
        select(
            JournalEntry.id.label("entry_id"),
            JournalEntry.effective_date,
            JournalEntry.kind,
            JournalEntry.actor,
            JournalEntry.memo,
            JournalEntry.refs,
            JournalEntry.reverses_entry_id,
            Posting.account_id,
            Posting.amount,
            *_ACCOUNT_COLUMNS,
        )
        .select_from(JournalEntry)
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .join(Account, Account.id == Posting.account_id)
        .join(Holder, Holder.id == Account.holder_id)
        .join(Commodity, Commodity.id == Account.commodity_id)
        .order_by(*_ENTRY_ORDER, Posting.line_no),
    )
    # Serial moves in the same entry order, read alongside (a merge, not a lookup).
    moves = _stream(
        session,
        select(
            SerialMove.entry_id,
            SerialMove.serial,
            SerialMove.from_account_id,
            SerialMove.to_account_id,
        )
        .join(JournalEntry, JournalEntry.id == SerialMove.entry_id)
        .order_by(*_ENTRY_ORDER, SerialMove.id),
    )
    move = next(moves, None)
    entries = postings = 0
    for entry_id, group in groupby(rows, key=lambda r: r.entry_id):
        lines = list(group)
        serials: dict[tuple[bool, int], list[str]] = defaultdict(list)  # (debit?, account)
        while move is not None and move.entry_id == entry_id:
            serials[True, move.to_account_id].append(move.serial)
            serials[False, move.from_account_id].append(move.serial)
            move = next(moves, None)

        e = lines[0]
        meta = {"id": str(entry_id), "kind": e.kind, "actor": e.actor}
        if e.reverses_entry_id is not None:
            meta["reverses"] = str(e.reverses_entry_id)
        for key, value in (e.refs or {}).items():
            meta[_ref_key(key, meta)] = value if isinstance(value, str) else json.dumps(value)
        out.write(f"\n{e.effective_date} * {_string(e.memo or e.kind)}\n")
        out.writelines(f"  {key}: {_string(value)}\n" for key, value in meta.items())
        for p in lines:
            out.write(f"  {_name(p)} {_number(p.amount, p.decimals)} {p.commodity}\n")
            pool = serials[p.amount > 0, p.account_id]
            if pool:  # one serial per unit, even if an account appears twice on a side
                taken = pool[: abs(p.amount)]
                del pool[: abs(p.amount)]
                out.write(f"    serials: {_string(','.join(taken))}\n")
        entries += 1
        postings += len(lines)
    if move is not None:
        raise RuntimeError(f"serial move of entry {move.entry_id} found no entry to go with")
    return entries, postings


def _stream(session: Session, stmt):
    return iter(session.execute(stmt, execution_options={"yield_per": _CHUNK}))


def _name(row) -> str:
    return account_name(row.holder_kind, row.holder, row.purpose, row.commodity)


def _number(amount: int, decimals: int) -> str:
    """Exact: fen 12345 -> 123.45; no float ever touches an amount."""
    return str(amount) if decimals == 0 else f"{Decimal(amount).scaleb(-decimals):f}"


def _string(value: str) -> str:
    # Escaped newlines keep a long memo on one line (Beancount refuses 64+ line strings).
    return '"' + value.translate(_ESCAPES) + '"'


def _ref_key(key: str, taken: dict) -> str:
    """A metadata key Beancount accepts ([a-z][a-z0-9_-]+), unique in the entry."""
    base = "ref-" + re.sub(r"[^a-z0-9_-]", "_", key.lower())
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name
