"""The one write path: `post_entries` is the only code that writes postings,
balances and serial custody.

A call posts one or many entries in the caller's transaction, all or nothing:

1. validate every entry in memory (accounts exist, each commodity balances,
   serials match the units they move);
2. insert the entries, each only if its idempotency key is still free (the
   unique index decides); an entry already posted under its key is returned,
   not posted again, and the same key with another body is a conflict;
3. move balances with one guarded statement per call: a non-negative account
   is only updated if it stays >= 0 at every entry of the call, so with many
   writers at once the database decides, race-free, who got the last part;
4. insert the postings;
5. move serials with one guarded statement: a serial only leaves the account
   that holds it.

Rows go to the driver as tuples (`ledger/driver_sql.py`), not through the
ORM or per-value type processing. Statements per call do not grow with the
number of entries, and on PostgreSQL a clerk's single entry is steps 2 to 4
in one statement (figures against raw inserts: bench/README.md).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from ledger.driver_sql import CHUNK, ENTRY_COLUMNS, POSTING_COLUMNS, DriverSql, chunks
from ledger.errors import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidEntry,
    RetryableConflict,
    SerialNotAtSource,
    Unbalanced,
    UnknownAccount,
)
from ledger.models import (
    Account,
    Commodity,
    Holder,
    account_t,
    serial_move_t,
    serial_t,
)
from ledger.types import utcnow, uuid7_many

MAX_AMOUNT = 10**15  # far above any real quantity or fen amount; sums stay in BIGINT

_NOT_HASHED = {"idempotency_key"}

Serial = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._/-]+$")]


class SerialIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    serial: Serial
    colour: str | None = Field(default=None, max_length=40)


class PostingIn(BaseModel):
    """One line: `amount` in the commodity's smallest unit (units, or fen for CNY);
    positive is a debit (into the account), negative a credit (out of it)."""

    model_config = ConfigDict(extra="forbid")
    account: str = Field(min_length=1, max_length=120, examples=["HQ:STOCK:X1-LCD"])
    amount: int = Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, examples=[-2])
    serials: list[Serial | SerialIn] = Field(
        default_factory=list,
        description="For serialized commodities: one serial per unit moved (optionally "
        "with its colour, recorded when the serial is first registered).",
    )

    @field_validator("amount")
    @classmethod
    def _nonzero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("a posting must move something: amount may not be 0")
        return v


class EntryIn(BaseModel):
    """A journal entry: two or more postings; each commodity sums to zero."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(default="adjustment", pattern=r"^[a-z][a-z0-9_]{0,39}$")
    effective_date: date | None = Field(default=None, description="Defaults to today (UTC).")
    memo: str = Field(default="", max_length=500)
    refs: dict[str, str] = Field(
        default_factory=dict,
        description="References to documents: requisition, repair, courier numbers…",
        examples=[{"requisition": "RQ-2026-000123"}],
    )
    postings: list[PostingIn] = Field(min_length=2, max_length=10_000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)

    def request_hash(self) -> str:
        """sha-256 of the body as JSON (the key excluded): what a retry must repeat."""
        body = self.__pydantic_serializer__.to_json(self, exclude=_NOT_HASHED)
        return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class PostResult:
    entry_id: uuid.UUID
    created: bool  # False: the idempotency key was already used; nothing new posted
    idempotency_key: str | None
    # Of a new entry (None on a replay): what a caller needs to show it
    # without reading it back.
    created_at: datetime | None = None
    effective_date: date | None = None


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """What the write path needs of an account; immutable once opened."""

    id: int
    code: str
    holder_id: int
    holder_kind: str
    commodity_id: int
    commodity_code: str
    commodity_kind: str
    serialized: bool
    allow_negative: bool


def resolve_accounts(session: Session, codes: Iterable[str]) -> dict[str, AccountInfo]:
    """Account facts by code, from the cache or in one query for the misses."""
    committed: dict[str, AccountInfo] = session.info.get("account_cache", {})
    fresh: dict[str, AccountInfo] = session.info.setdefault("account_cache_new", {})
    found: dict[str, AccountInfo] = {}
    missing = []
    for code in set(codes):
        info = committed.get(code) or fresh.get(code)
        if info is None:
            missing.append(code)
        else:
            found[code] = info
    for chunk in chunks(missing, CHUNK):
        rows = session.execute(
            select(
                Account.id,
                Account.code,
                Account.holder_id,
                Holder.kind,
                Account.commodity_id,
                Commodity.code,
                Commodity.kind,
                Commodity.serialized,
                Account.allow_negative,
            )
            .join(Holder, Holder.id == Account.holder_id)
            .join(Commodity, Commodity.id == Account.commodity_id)
            .where(Account.code.in_(chunk))
        )
        for row in rows:
            info = AccountInfo(*row)
            fresh[info.code] = found[info.code] = info
    return found


# --------------------------------------------------------------------------- the write path

# The non-negative rule, for every statement that moves balances: `v.low` is
# the lowest point the account reaches across the entries being posted.
_BALANCE_GUARD = "(account.allow_negative OR account.balance + v.low >= 0)"


@dataclass(slots=True)
class _Prepared:
    index: int
    where: dict[str, int]  # names the entry in errors, when the call is a batch
    entry: EntryIn
    entry_id: uuid.UUID
    effective_date: date
    request_hash: str | None
    # the postings in order: (account, amount)
    lines: list[tuple[AccountInfo, int]]
    # per account id: net amount of this entry
    net: dict[int, int]
    # serial -> (from account, to account, commodity id, colour)
    moves: dict[str, tuple[AccountInfo, AccountInfo, int, str | None]]
    reverses: uuid.UUID | None = None


def post_entries(
    session: Session,
    entries: Sequence[EntryIn],
    *,
    actor: str,
    reverses: Sequence[uuid.UUID | None] | None = None,
) -> list[PostResult]:
    """Post entries in order, all or nothing, in the caller's transaction."""
    if not entries:
        return []
    conn = session.connection()
    sql = DriverSql.of(conn)
    now = utcnow()
    today = now.date()
    accounts = resolve_accounts(session, (p.account for e in entries for p in e.postings))
    batch = len(entries) > 1
    ids = uuid7_many(len(entries))
    prepared = [
        _prepare(i, e, ids[i], accounts, today, reverses[i] if reverses else None, batch)
        for i, e in enumerate(entries)
    ]

    # Idempotency keys first, then balances: every writer takes its locks in
    # that order (keys, then accounts by id), so two writers cannot deadlock.
    results: dict[int, PostResult] = {}
    if batch or sql.sqlite:
        new = _claim_entries(conn, sql, prepared, actor, now, results)
        _move_balances(conn, sql, new, accounts)
        _insert_postings(conn, sql, new)
    else:
        # On PostgreSQL a clerk's request is one round trip (and the commit).
        new = _post_one_statement(conn, sql, prepared[0], actor, now, accounts, results)
    _move_serials(session, sql, new)
    for p in new:
        results[p.index] = PostResult(
            p.entry_id, True, p.entry.idempotency_key, now, p.effective_date
        )
    return [results[i] for i in range(len(entries))]


def post_entry(session: Session, entry: EntryIn, *, actor: str) -> PostResult:
    return post_entries(session, [entry], actor=actor)[0]


def _prepare(
    index: int,
    entry: EntryIn,
    entry_id: uuid.UUID,
    accounts: dict[str, AccountInfo],
    today: date,
    reverses: uuid.UUID | None,
    batch: bool,
) -> _Prepared:
    """Validate one entry. The common case (known accounts, no serials,
    balanced) takes one pass; anything else goes to `_prepare_checked`, which
    names the problem or works out the serial moves."""
    lines: list[tuple[AccountInfo, int]] = []
    net: dict[int, int] = {}
    by_commodity: dict[int, int] = {}
    for posting in entry.postings:
        info = accounts.get(posting.account)
        if info is None or info.serialized or posting.serials:
            return _prepare_checked(index, entry, entry_id, accounts, today, reverses, batch)
        amount = posting.amount
        lines.append((info, amount))
        net[info.id] = net.get(info.id, 0) + amount
        by_commodity[info.commodity_id] = by_commodity.get(info.commodity_id, 0) + amount
    if any(by_commodity.values()):
        return _prepare_checked(index, entry, entry_id, accounts, today, reverses, batch)
    return _Prepared(
        index=index,
        where={"entry": index} if batch else {},
        entry=entry,
        entry_id=entry_id,
        effective_date=entry.effective_date or today,
        # Only a keyed entry is ever compared with a retry.
        request_hash=entry.request_hash() if entry.idempotency_key else None,
        lines=lines,
        net={k: v for k, v in net.items() if v},
        moves={},
        reverses=reverses,
    )


def _prepare_checked(
    index: int,
    entry: EntryIn,
    entry_id: uuid.UUID,
    accounts: dict[str, AccountInfo],
    today: date,
    reverses: uuid.UUID | None,
    batch: bool,
) -> _Prepared:
    where = {"entry": index} if batch else {}
    lines: list[tuple[AccountInfo, int]] = []
    net: dict[int, int] = defaultdict(int)
    by_commodity: dict[str, int] = defaultdict(int)
    # per serialized commodity: serial -> account on the credit and debit side
    out_of: dict[str, dict[str, AccountInfo]] = defaultdict(dict)
    into: dict[str, dict[str, AccountInfo]] = defaultdict(dict)
    colours: dict[str, str | None] = {}
    for line, posting in enumerate(entry.postings):
        info = accounts.get(posting.account)
        if info is None:
            raise UnknownAccount(
                f"posting {line}: account {posting.account!r} does not exist; "
                "open it first (POST /accounts) or correct the code",
                **where,
                posting=line,
                account=posting.account,
            )
        lines.append((info, posting.amount))
        net[info.id] += posting.amount
        by_commodity[info.commodity_code] += posting.amount
        if not info.serialized:
            if posting.serials:
                raise InvalidEntry(
                    f"posting {line}: {info.commodity_code} is not serialized; remove the serials",
                    **where,
                    posting=line,
                    account=info.code,
                )
            continue
        if len(posting.serials) != abs(posting.amount):
            raise InvalidEntry(
                f"posting {line}: moves {abs(posting.amount)} unit(s) of "
                f"{info.commodity_code} but names {len(posting.serials)} serial(s); "
                "name one serial per unit",
                **where,
                posting=line,
                account=info.code,
            )
        side = into if posting.amount > 0 else out_of
        for item in posting.serials:
            serial = item if isinstance(item, str) else item.serial
            if serial in side[info.commodity_code]:
                raise InvalidEntry(
                    f"posting {line}: serial {serial} appears twice on the same side",
                    **where,
                    posting=line,
                    serial=serial,
                )
            side[info.commodity_code][serial] = info
            if not isinstance(item, str) and item.colour:
                colours[serial] = item.colour

    for commodity, total in by_commodity.items():
        if total:
            raise Unbalanced(
                f"{commodity} does not balance: debits exceed credits by {total}; "
                "every commodity's postings must sum to zero",
                **where,
                commodity=commodity,
            )

    moves: dict[str, tuple[AccountInfo, AccountInfo, int, str | None]] = {}
    for commodity, sources in out_of.items():
        targets = into[commodity]
        if sources.keys() != targets.keys():
            odd = sorted(sources.keys() ^ targets.keys())[0]
            raise InvalidEntry(
                f"serial {odd} of {commodity} must leave one account and enter another "
                "in the same entry",
                **where,
                serial=odd,
            )
        for serial, source in sources.items():
            target = targets[serial]
            moves[serial] = (source, target, source.commodity_id, colours.get(serial))

    return _Prepared(
        index=index,
        where=where,
        entry=entry,
        entry_id=entry_id,
        effective_date=entry.effective_date or today,
        request_hash=entry.request_hash() if entry.idempotency_key else None,
        lines=lines,
        net={k: v for k, v in net.items() if v},
        moves=moves,
        reverses=reverses,
    )


def _entry_row(sql: DriverSql, p: _Prepared, now: Any, actor: str) -> tuple:
    e = p.entry
    return (
        sql.uuid(p.entry_id),
        e.kind,
        sql.date(p.effective_date),
        now,
        actor,
        e.idempotency_key,
        p.request_hash,
        e.memo,
        sql.json(e.refs),
        sql.uuid(p.reverses),
    )


def _post_one_statement(
    conn: Connection,
    sql: DriverSql,
    p: _Prepared,
    actor: str,
    now: datetime,
    accounts: dict[str, AccountInfo],
    results: dict[int, PostResult],
) -> list[_Prepared]:
    """Claim the key, insert the entry, move the guarded balances and insert
    the postings in one PostgreSQL statement (data-modifying CTEs); return
    [p] if posted. If the key was used, nothing else happens; if a balance
    is refused, the error rolls the whole transaction back."""
    changes = _balance_changes([p])
    postings = [
        (line, info.id, info.commodity_id, amount) for line, (info, amount) in enumerate(p.lines)
    ]
    params = (
        *_entry_row(sql, p, sql.timestamp(now), actor),
        *(list(col) for col in zip(*changes, strict=True)),
        p.effective_date,
        *(list(col) for col in zip(*postings, strict=True)),
    )
    entry_id, updated = conn.exec_driver_sql(_ONE_ENTRY_PG, params).one()
    if entry_id is None:
        key = p.entry.idempotency_key
        assert key is not None  # only a key can conflict
        _replay_or_refuse(p, _existing_keys(conn, sql, [key])[key], results)
        return []
    _refuse_if_short(conn, changes, set(updated), [p], accounts)
    return [p]


# Each part only acts if the entry was inserted (joined with `e`); postings
# are inserted whatever the guard says, since a refusal rolls everything back.
_ONE_ENTRY_PG = (
    "WITH e AS ("
    f"INSERT INTO journal_entry ({', '.join(ENTRY_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(ENTRY_COLUMNS))}) "
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
    "), moved AS ("
    "UPDATE account SET balance = account.balance + v.d "
    "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS v(id, d, low), e "
    f"WHERE account.id = v.id AND {_BALANCE_GUARD} "
    "RETURNING account.id"
    "), lines AS ("
    f"INSERT INTO posting ({', '.join(POSTING_COLUMNS)}) "
    "SELECT e.id, l.line_no, l.account_id, l.commodity_id, l.amount, %s::date "
    "FROM e, unnest(%s::smallint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
    "AS l(line_no, account_id, commodity_id, amount)"
    ") SELECT (SELECT id FROM e), ARRAY(SELECT id FROM moved)"
)


def _existing_keys(
    conn: Connection, sql: DriverSql, keys: Sequence[str]
) -> dict[str, tuple[uuid.UUID, str | None]]:
    found: dict[str, tuple[uuid.UUID, str | None]] = {}
    for statement, params in sql.select_keys(keys):
        rows = conn.exec_driver_sql(statement, params)
        found.update({key: (sql.entry_id(eid), digest) for key, eid, digest in rows})
    return found


def _replay_or_refuse(
    p: _Prepared, hit: tuple[uuid.UUID, str | None], results: dict[int, PostResult]
) -> None:
    if hit[1] != p.request_hash:
        raise IdempotencyConflict(
            f"idempotency key {p.entry.idempotency_key!r} was first used for a different "
            f"entry ({hit[0]}); use a new key for a new entry",
            idempotency_key=p.entry.idempotency_key,
            **p.where,
        )
    results[p.index] = PostResult(hit[0], False, p.entry.idempotency_key)


def _claim_entries(
    conn: Connection,
    sql: DriverSql,
    prepared: list[_Prepared],
    actor: str,
    now: datetime,
    results: dict[int, PostResult],
) -> list[_Prepared]:
    """Insert the entries whose idempotency key is still free and return them;
    the others are replays (or conflicts, refused).

    The unique index on the key does the look-up as part of the insert
    (`ON CONFLICT DO NOTHING`); only when fewer rows went in than were sent
    are the keys read back, to tell the replays apart. A writer holding one
    of the keys in an open transaction makes this one wait for its outcome,
    so a retry racing its first request still posts once.
    """
    seen: dict[str, int] = {}
    for p in prepared:
        key = p.entry.idempotency_key
        if key is None:
            continue
        if key in seen:
            raise InvalidEntry(
                f"idempotency key {key!r} is used by entries {seen[key]} and {p.index} "
                "of the same batch; give each entry its own key",
                **p.where,
            )
        seen[key] = p.index
    stamp = sql.timestamp(now)
    # In key order: two batches sharing keys wait on the unique index in one
    # order, and cannot deadlock on it.
    ordered = sorted(prepared, key=lambda p: p.entry.idempotency_key or "")
    rows = [_entry_row(sql, p, stamp, actor) for p in ordered]
    inserted = conn.exec_driver_sql(sql.claim_entry, rows if len(rows) > 1 else rows[0]).rowcount
    if inserted == len(prepared):
        return prepared
    existing = _existing_keys(conn, sql, list(seen))
    fresh = []
    for p in prepared:
        hit = existing.get(p.entry.idempotency_key) if p.entry.idempotency_key else None
        if hit is None or hit[0] == p.entry_id:
            fresh.append(p)
        else:
            _replay_or_refuse(p, hit, results)
    return fresh


def _insert_postings(conn: Connection, sql: DriverSql, new: list[_Prepared]) -> None:
    if not new:
        return
    rows = []
    for p in new:
        entry_id, day = sql.uuid(p.entry_id), sql.date(p.effective_date)
        rows.extend(
            (entry_id, line, info.id, info.commodity_id, amount, day)
            for line, (info, amount) in enumerate(p.lines)
        )
    conn.exec_driver_sql(sql.insert_posting, rows)


def _balance_changes(new: list[_Prepared]) -> list[tuple[int, int, int]]:
    """(account id, net change, lowest point) per account, in account order.

    The lowest point is reached entry by entry: a stock account must stay
    >= 0 after every entry of a batch, not just at its end. Sorted, so that
    concurrent writers take row locks in one order."""
    total: dict[int, int] = defaultdict(int)
    lowest: dict[int, int] = defaultdict(int)
    for p in new:
        for account_id, amount in p.net.items():
            total[account_id] += amount
            lowest[account_id] = min(lowest[account_id], total[account_id])
    return sorted((a, total[a], lowest[a]) for a in total)


def _move_balances(
    conn: Connection, sql: DriverSql, new: list[_Prepared], accounts: dict[str, AccountInfo]
) -> None:
    if not new:
        return
    changes = _balance_changes(new)
    updated = set(_update_returning(conn, sql, _GUARDED_BALANCE_UPDATE, _BALANCE_TYPES, changes))
    _refuse_if_short(conn, changes, updated, new, accounts)


def _refuse_if_short(
    conn: Connection,
    changes: list[tuple[int, int, int]],
    updated: set[int],
    new: list[_Prepared],
    accounts: dict[str, AccountInfo],
) -> None:
    """Raise for the first account the guard refused, naming the entry at
    which it would dip below zero."""
    if len(updated) == len(changes):
        return
    refused = next(r for r in changes if r[0] not in updated)
    code = next(i.code for i in accounts.values() if i.id == refused[0])
    available = conn.execute(
        select(account_t.c.balance).where(account_t.c.id == refused[0])
    ).scalar_one()
    running, culprit = 0, new[0]
    for p in new:
        running += p.net.get(refused[0], 0)
        if available + running < 0:
            culprit = p
            break
    raise InsufficientBalance(
        f"account {code} holds {available} but the posting needs {-refused[2]}; "
        "receive stock first or post less",
        account=code,
        available=available,
        requested=-refused[2],
        **culprit.where,
    )


def _move_serials(session: Session, sql: DriverSql, new: list[_Prepared]) -> None:
    moves = [(p, serial, move) for p in new for serial, move in p.moves.items()]
    if not moves:
        return
    # Where every serial is now, and the first account each one must leave.
    serials = {serial for _, serial, _ in moves}
    holders: dict[str, tuple[int, int]] = {}
    for chunk in chunks(sorted(serials), CHUNK):
        rows = session.execute(
            select(serial_t.c.serial, serial_t.c.account_id, serial_t.c.commodity_id).where(
                serial_t.c.serial.in_(chunk)
            )
        )
        holders.update({s: (account_id, commodity_id) for s, account_id, commodity_id in rows})

    at: dict[str, int] = {}  # where each serial is as the entries are applied in order
    first_source: dict[str, int] = {}
    register: list[dict[str, Any]] = []
    for p, serial, (source, target, commodity_id, colour) in moves:
        known = holders.get(serial)
        if known and known[1] != commodity_id:
            raise InvalidEntry(
                f"serial {serial} is registered for another model; check the serial",
                serial=serial,
                **p.where,
            )
        current = at.get(serial, known[0] if known else None)
        if current is None:
            if not source.allow_negative:
                raise SerialNotAtSource(
                    f"serial {serial} is unknown and cannot leave {source.code}; a new serial "
                    "enters from an outside party (supplier, factory, opening balance)",
                    serial=serial,
                    account=source.code,
                    **p.where,
                )
            register.append(
                {
                    "serial": serial,
                    "commodity_id": commodity_id,
                    "colour": colour,
                    "account_id": source.id,
                }
            )
        elif current != source.id:
            raise SerialNotAtSource(
                f"serial {serial} is not held by {source.code}; it cannot leave it",
                serial=serial,
                account=source.code,
                **p.where,
            )
        first_source.setdefault(serial, source.id)
        at[serial] = target.id

    if register:
        session.execute(insert(serial_t), register)
    # One guarded statement: each serial moves only if still where we found it
    # (another clerk may have moved it since the read above).
    rows = sorted((s, first_source[s], at[s]) for s in at)
    moved = _update_returning(session.connection(), sql, _GUARDED_SERIAL_MOVE, _SERIAL_TYPES, rows)
    if len(moved) != len(rows):
        raise RetryableConflict("a serial was moved by another writer meanwhile")
    session.execute(
        insert(serial_move_t),
        [
            {
                "serial": serial,
                "entry_id": p.entry_id,
                "from_account_id": source.id,
                "to_account_id": target.id,
            }
            for p, serial, (source, target, _, _) in moves
        ],
    )


def _update_returning(
    conn: Connection, sql: DriverSql, statement: str, types: tuple[str, ...], rows: Sequence[tuple]
) -> list:
    """Run a guarded UPDATE fed by `rows` (the CTE `v`); return what it RETURNS:
    the rows that passed the guard."""
    passed: list = []
    for table, params in sql.table_of(types, rows):
        passed += conn.exec_driver_sql(statement.format(table=table), params).scalars()
    return passed


# Move many balances at once; only accounts that stay >= 0 at their lowest
# point (or may go negative) are updated, and their ids returned.
_GUARDED_BALANCE_UPDATE = (
    "WITH v(id, d, low) AS ({table}) "
    "UPDATE account SET balance = account.balance + v.d FROM v "
    f"WHERE account.id = v.id AND {_BALANCE_GUARD} "
    "RETURNING account.id"
)
_BALANCE_TYPES = ("bigint", "bigint", "bigint")

# Move many serials at once, each only if still at its expected source.
_GUARDED_SERIAL_MOVE = (
    "WITH v(serial, src, dst) AS ({table}) "
    "UPDATE serial_unit SET account_id = v.dst FROM v "
    "WHERE serial_unit.serial = v.serial AND serial_unit.account_id = v.src "
    "RETURNING serial_unit.serial"
)
_SERIAL_TYPES = ("text", "bigint", "bigint")


__all__ = [
    "AccountInfo",
    "EntryIn",
    "PostResult",
    "PostingIn",
    "SerialIn",
    "post_entries",
    "post_entry",
    "resolve_accounts",
]
