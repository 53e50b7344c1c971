"""The one write path: `post_entries` is the only code that writes postings,
balances and serial custody.

A call posts one or many entries in the caller's transaction, all or nothing:

1. validate every entry in memory (accounts exist, or are opened on their
   first posting where the purpose fits; dates lie in the open window; each
   commodity balances; serials match the units they move);
2. insert the entries, each only if its idempotency key is still free (the
   unique index decides); an entry already posted under its key is returned,
   not posted again; the same key with another body, or from another user,
   is a conflict;
3. move balances with one guarded statement per call: an account is only
   updated if, at every entry of the call, it stays within the bounds and,
   if guarded, on its side of zero (stock never below, a deposit never
   refunded past what was paid in), and if no take from it is dated before
   its latest posting; so with many writers at once the database decides,
   race-free, who got the last part, and every as-of balance obeys the
   guard too;
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
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from ledger import masterdata
from ledger.amounts import MAX_AMOUNT, MAX_BALANCE, format_amount
from ledger.calendar import OpenWindow
from ledger.codes import ACCOUNT_PATTERN, REF_KEY_PATTERN, SERIAL_PATTERN
from ledger.driver_sql import CHUNK, ENTRY_COLUMNS, POSTING_COLUMNS, DriverSql, chunks
from ledger.errors import (
    BackDatedTake,
    IdempotencyConflict,
    IdempotencyKeyTaken,
    InsufficientBalance,
    InvalidEntry,
    OutOfBounds,
    RetryableConflict,
    SerialNotAtSource,
    Unbalanced,
    UnknownAccount,
)
from ledger.models import (
    Account,
    Commodity,
    Holder,
    Side,
    account_t,
    serial_move_t,
    serial_t,
)
from ledger.types import utcnow, uuid7_many

_NOT_HASHED = {"idempotency_key"}
# What a key may be: printable, no control characters. A client's key is at
# most MAX_KEY characters; a batch's derived keys ("<key>/<position>") fit
# the column's 255.
MAX_KEY = 200
_KEY = re.compile(r"[^\x00-\x1f\x7f]{1,255}")
_TEXT = r"^[^\x00]*$"  # PostgreSQL refuses NUL in text: refused here, on both databases
_LINE = r"^[^\x00-\x1f\x7f]*$"  # one line of printable text
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_HINT = "a date is written YYYY-MM-DD, e.g. 2026-11-30"

Serial = Annotated[str, Field(min_length=1, max_length=40, pattern=SERIAL_PATTERN)]
RefKey = Annotated[str, Field(min_length=1, max_length=40, pattern=REF_KEY_PATTERN)]
RefValue = Annotated[str, Field(min_length=1, max_length=200, pattern=_LINE)]
MAX_REFS = 32


class SerialIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    serial: Serial
    colour: str | None = Field(default=None, max_length=40, pattern=_LINE)


class PostingIn(BaseModel):
    """One line: `amount` in the commodity's smallest unit (units, or fen for CNY);
    positive is a debit (into the account), negative a credit (out of it)."""

    model_config = ConfigDict(extra="forbid")
    account: str = Field(
        min_length=5,
        max_length=120,
        pattern=ACCOUNT_PATTERN,
        description="HOLDER:PURPOSE:COMMODITY; an account not open yet is opened on "
        "its first posting when its holder and commodity exist and the purpose fits",
        examples=["HQ:STOCK:X1-LCD"],
    )
    amount: StrictInt = Field(
        ge=-MAX_AMOUNT,
        le=MAX_AMOUNT,
        description=f"A non-zero integer of at most {MAX_AMOUNT:,} either way",
        examples=[-2],
    )
    serials: list[Serial | SerialIn] = Field(
        default_factory=list,
        max_length=10_000,
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
    effective_date: date | None = Field(
        default=None,
        description="YYYY-MM-DD, from the first open day to today (the business day in the "
        "configured time zone); defaults to today",
    )
    memo: str = Field(default="", max_length=500, pattern=_TEXT)
    refs: dict[RefKey, RefValue] = Field(
        default_factory=dict,
        max_length=MAX_REFS,
        description=f"References to documents (requisition, repair, courier numbers…): at most "
        f"{MAX_REFS} keys of up to 40 characters, values of up to 200",
        examples=[{"requisition": "RQ-2026-000123"}],
    )
    postings: list[PostingIn] = Field(min_length=2, max_length=10_000)
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=MAX_KEY, pattern=_LINE
    )

    @field_validator("effective_date", mode="before")
    @classmethod
    def _iso_date(cls, v: Any) -> Any:
        # pydantic would also read 0 or "1700000000" as a date (Unix time).
        if isinstance(v, bool | int | float):
            raise ValueError(_DATE_HINT)
        if isinstance(v, str):
            try:
                if _ISO_DATE.fullmatch(v):
                    return date.fromisoformat(v)
            except ValueError:
                pass
            raise ValueError(f"{v!r} is not a date: {_DATE_HINT}")
        return v

    @field_validator("refs")
    @classmethod
    def _canonical_refs(cls, v: dict[str, str]) -> dict[str, str]:
        # Sorted, so the request hash does not depend on the order the client sent.
        return dict(sorted(v.items()))

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
    decimals: int
    side: str
    guarded: bool

    def takes(self, amount: int) -> bool:
        """Does a net `amount` move this guarded account toward its guard?"""
        return self.guarded and (amount < 0 if self.side == Side.DEBIT else amount > 0)

    def amount(self, value: int) -> str:
        return format_amount(value, self.decimals, self.commodity_code)


def resolve_accounts(
    session: Session, codes: Iterable[str], *, open_missing: bool = False
) -> dict[str, AccountInfo]:
    """Account facts by code, from the cache or in one query for the misses.
    With `open_missing`, an account not open yet is opened (in the caller's
    transaction) where its holder and commodity exist and the purpose fits."""
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
    if missing:
        found.update(_read_accounts(session, missing, fresh))
        unopened = [code for code in missing if code not in found]
        if open_missing and unopened and masterdata.open_on_demand(session, unopened):
            found.update(_read_accounts(session, unopened, fresh))
    return found


def _read_accounts(
    session: Session, codes: Sequence[str], fresh: dict[str, AccountInfo]
) -> dict[str, AccountInfo]:
    found = {}
    for chunk in chunks(sorted(codes), CHUNK):
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
                Commodity.decimals,
                Account.side,
                Account.guarded,
            )
            .join(Holder, Holder.id == Account.holder_id)
            .join(Commodity, Commodity.id == Account.commodity_id)
            .where(Account.code.in_(chunk))
        )
        for row in rows:
            info = AccountInfo(*row)
            fresh[info.code] = found[info.code] = info
    return found


def unknown_account(session: Session, code: str, line: int, where: dict) -> UnknownAccount:
    """The error for a posting to an account that is not open and cannot be."""
    why = masterdata.why_not_openable(session, code)
    return UnknownAccount(
        f"{_at(where)}posting {line}: account {code} does not exist and cannot be opened: "
        f"{why}; correct the code",
        **where,
        posting=line,
        account=code,
    )


def check_idempotency_key(key: str | None, where: dict[str, int] | None = None) -> None:
    """Refuse a key that is empty, too long or not printable text."""
    if key is not None and not _KEY.fullmatch(key):
        where = where or {}
        raise InvalidEntry(
            f"{_at(where)}an idempotency key is 1 to {MAX_KEY} printable characters; "
            "send a non-empty key or none",
            field="idempotency_key",
            **where,
        )


def _at(where: dict[str, int]) -> str:
    """ "entry 3 of the batch: " in front of a batch's messages."""
    return f"entry {where['entry']} of the batch: " if "entry" in where else ""


# --------------------------------------------------------------------------- the write path

# The guard, for every statement that moves balances. `v.low` and `v.high`
# are the lowest and highest points the account reaches across the entries
# being posted; `v.take_on` the date of the first of them that takes from a
# guarded account (NULL if none does). Every account stays within the bounds;
# a guarded one never passes zero on the wrong side of its normal side, and
# is never taken from before its latest posting, so that every as-of balance
# obeys the guard too.
_BALANCE_GUARD = (
    "account.balance + v.low >= "
    f"CASE WHEN account.guarded AND account.side = 'debit' THEN 0 ELSE {-MAX_BALANCE} END "
    "AND account.balance + v.high <= "
    f"CASE WHEN account.guarded AND account.side = 'credit' THEN 0 ELSE {MAX_BALANCE} END "
    "AND (v.take_on IS NULL OR account.last_posted_on IS NULL "
    "OR v.take_on >= account.last_posted_on)"
)
_BALANCE_SET = (
    "balance = account.balance + v.d, last_posted_on = CASE "
    "WHEN account.last_posted_on IS NULL OR account.last_posted_on < v.last_on THEN v.last_on "
    "ELSE account.last_posted_on END"
)


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
    settling: date | None = None,
) -> list[PostResult]:
    """Post entries in order, all or nothing, in the caller's transaction.

    `settling` is the last day of a closed month whose settlement is posting
    into it (ledger/money/settlement.py): entries dated that day pass the
    window, which is closed to everything else."""
    if not entries:
        return []
    conn = session.connection()
    sql = DriverSql.of(conn)
    now = utcnow()
    window: OpenWindow = session.info["window"]
    today = window.today()
    accounts = resolve_accounts(
        session, (p.account for e in entries for p in e.postings), open_missing=True
    )
    batch = len(entries) > 1
    ids = uuid7_many(len(entries))
    earliest = min((e.effective_date or today) for e in entries)
    first_open = window.first_open_on(session, earliest, today)
    if settling is not None:
        if any(e.effective_date != settling for e in entries):
            raise ValueError("a settlement's entries are dated its month's last day")
        first_open = min(first_open, settling)
    prepared = [
        _prepare(session, i, e, ids[i], accounts, window, first_open, today, reverses, batch)
        for i, e in enumerate(entries)
    ]

    # Idempotency keys first, then balances: every writer takes its locks in
    # that order (keys, then accounts by id), so two writers cannot deadlock.
    results: dict[int, PostResult] = {}
    if batch or sql.sqlite:
        new = _claim_entries(conn, sql, prepared, actor, now, results)
        _move_balances(conn, sql, new, {info.id: info for info in accounts.values()})
        _insert_postings(conn, sql, new)
    else:
        # On PostgreSQL a clerk's request is one round trip (and the commit).
        new = _post_one_statement(conn, sql, prepared[0], actor, now, results)
    _move_serials(session, sql, new)
    for p in new:
        results[p.index] = PostResult(
            p.entry_id, True, p.entry.idempotency_key, now, p.effective_date
        )
    return [results[i] for i in range(len(entries))]


def post_entry(session: Session, entry: EntryIn, *, actor: str) -> PostResult:
    return post_entries(session, [entry], actor=actor)[0]


def _prepare(
    session: Session,
    index: int,
    entry: EntryIn,
    entry_id: uuid.UUID,
    accounts: dict[str, AccountInfo],
    window: OpenWindow,
    first_open: date,
    today: date,
    reverses: Sequence[uuid.UUID | None] | None,
    batch: bool,
) -> _Prepared:
    """Validate one entry. The common case (known accounts, no serials,
    balanced) takes one pass; anything else goes to `_prepare_checked`, which
    names the problem or works out the serial moves."""
    where = {"entry": index} if batch else {}
    day = entry.effective_date or today
    window.check(day, today, first_open, **where)
    key = entry.idempotency_key
    check_idempotency_key(key, where)
    lines: list[tuple[AccountInfo, int]] = []
    net: dict[int, int] = {}
    by_commodity: dict[int, int] = {}
    for posting in entry.postings:
        info = accounts.get(posting.account)
        if info is None or info.serialized or posting.serials:
            return _prepare_checked(session, index, entry, entry_id, accounts, day, reverses, where)
        amount = posting.amount
        lines.append((info, amount))
        net[info.id] = net.get(info.id, 0) + amount
        by_commodity[info.commodity_id] = by_commodity.get(info.commodity_id, 0) + amount
    if any(by_commodity.values()):
        return _prepare_checked(session, index, entry, entry_id, accounts, day, reverses, where)
    return _Prepared(
        index=index,
        where=where,
        entry=entry,
        entry_id=entry_id,
        effective_date=day,
        # Only a keyed entry is ever compared with a retry.
        request_hash=entry.request_hash() if key else None,
        lines=lines,
        net={k: v for k, v in net.items() if v},
        moves={},
        reverses=reverses[index] if reverses else None,
    )


def _prepare_checked(
    session: Session,
    index: int,
    entry: EntryIn,
    entry_id: uuid.UUID,
    accounts: dict[str, AccountInfo],
    day: date,
    reverses: Sequence[uuid.UUID | None] | None,
    where: dict[str, int],
) -> _Prepared:
    at = _at(where)
    lines: list[tuple[AccountInfo, int]] = []
    net: dict[int, int] = defaultdict(int)
    by_commodity: dict[str, int] = defaultdict(int)
    infos: dict[str, AccountInfo] = {}
    # per serialized commodity: serial -> account on the credit and debit side
    out_of: dict[str, dict[str, AccountInfo]] = defaultdict(dict)
    into: dict[str, dict[str, AccountInfo]] = defaultdict(dict)
    colours: dict[str, str | None] = {}
    for line, posting in enumerate(entry.postings):
        info = accounts.get(posting.account)
        if info is None:
            raise unknown_account(session, posting.account, line, where)
        lines.append((info, posting.amount))
        net[info.id] += posting.amount
        by_commodity[info.commodity_code] += posting.amount
        infos[info.commodity_code] = info
        if not info.serialized:
            if posting.serials:
                raise InvalidEntry(
                    f"{at}posting {line}: {info.commodity_code} is not serialized; "
                    "remove the serials",
                    **where,
                    posting=line,
                    account=info.code,
                )
            continue
        if len(posting.serials) != abs(posting.amount):
            raise InvalidEntry(
                f"{at}posting {line}: moves {abs(posting.amount)} unit(s) of "
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
                    f"{at}posting {line}: serial {serial} appears twice on the same side",
                    **where,
                    posting=line,
                    serial=serial,
                )
            side[info.commodity_code][serial] = info
            if not isinstance(item, str) and item.colour:
                colours[serial] = item.colour

    for commodity, total in by_commodity.items():
        if total:
            more, less = ("debits", "credits") if total > 0 else ("credits", "debits")
            raise Unbalanced(
                f"{at}{commodity} does not balance: {more} exceed {less} by "
                f"{infos[commodity].amount(abs(total))}; every commodity's postings must sum "
                "to zero",
                **where,
                commodity=commodity,
            )

    moves: dict[str, tuple[AccountInfo, AccountInfo, int, str | None]] = {}
    for commodity, sources in out_of.items():
        targets = into[commodity]
        if sources.keys() != targets.keys():
            odd = sorted(sources.keys() ^ targets.keys())[0]
            raise InvalidEntry(
                f"{at}serial {odd} of {commodity} must leave one account and enter another "
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
        effective_date=day,
        request_hash=entry.request_hash() if entry.idempotency_key else None,
        lines=lines,
        net={k: v for k, v in net.items() if v},
        moves=moves,
        reverses=reverses[index] if reverses else None,
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
    results: dict[int, PostResult],
) -> list[_Prepared]:
    """Claim the key, insert the entry, move the guarded balances and insert
    the postings in one PostgreSQL statement (data-modifying CTEs); return
    [p] if posted. If the key was used, nothing else happens; if a balance
    is refused, the error rolls the whole transaction back."""
    changes = _balance_changes([p], {info.id: info for info, _ in p.lines}, sql)
    postings = [
        (line, info.id, info.commodity_id, amount) for line, (info, amount) in enumerate(p.lines)
    ]
    params = (
        *_entry_row(sql, p, sql.timestamp(now), actor),
        *_columns(changes.rows, len(_BALANCE_TYPES)),
        p.effective_date,
        *_columns(postings, 4),
    )
    entry_id, updated = conn.exec_driver_sql(_ONE_ENTRY_PG, params).one()
    if entry_id is None:
        key = p.entry.idempotency_key
        assert key is not None  # only a key can conflict
        _replay_or_refuse(p, _existing_keys(conn, sql, [key])[key], actor, results)
        return []
    _refuse_if_short(conn, changes, set(updated), [p])
    return [p]


def _columns(rows: Sequence[tuple], width: int) -> list[list]:
    """Rows as one list per column (empty lists for no rows)."""
    return [[row[i] for row in rows] for i in range(width)]


# Each part only acts if the entry was inserted (joined with `e`); postings
# are inserted whatever the guard says, since a refusal rolls everything back.
_ONE_ENTRY_PG = (
    "WITH e AS ("
    f"INSERT INTO journal_entry ({', '.join(ENTRY_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(ENTRY_COLUMNS))}) "
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
    "), moved AS ("
    f"UPDATE account SET {_BALANCE_SET} "
    "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::date[], "
    "%s::date[]) AS v(id, d, low, high, take_on, last_on), e "
    f"WHERE account.id = v.id AND {_BALANCE_GUARD} "
    "RETURNING account.id"
    "), lines AS ("
    f"INSERT INTO posting ({', '.join(POSTING_COLUMNS)}) "
    "SELECT e.id, l.line_no, l.account_id, l.commodity_id, l.amount, %s::date "
    "FROM e, unnest(%s::smallint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
    "AS l(line_no, account_id, commodity_id, amount)"
    ") SELECT (SELECT id FROM e), ARRAY(SELECT id FROM moved)"
)


@dataclass(frozen=True, slots=True)
class _Claimed:
    entry_id: uuid.UUID
    request_hash: str | None
    actor: str


def _existing_keys(conn: Connection, sql: DriverSql, keys: Sequence[str]) -> dict[str, _Claimed]:
    found: dict[str, _Claimed] = {}
    for statement, params in sql.select_keys(keys):
        rows = conn.exec_driver_sql(statement, params)
        found.update(
            {key: _Claimed(sql.entry_id(eid), digest, who) for key, eid, digest, who in rows}
        )
    return found


def _replay_or_refuse(
    p: _Prepared, hit: _Claimed, actor: str, results: dict[int, PostResult]
) -> None:
    key = p.entry.idempotency_key
    if hit.actor != actor:
        # Nothing of the first user's entry is shown, not even that it exists.
        raise IdempotencyKeyTaken(
            f"{_at(p.where)}idempotency key {key!r} is already taken; use a key of your own "
            "(a new random one per new request)",
            idempotency_key=key,
            **p.where,
        )
    if hit.request_hash != p.request_hash:
        raise IdempotencyConflict(
            f"{_at(p.where)}idempotency key {key!r} was first used for a different entry "
            f"({hit.entry_id}); use a new key for a new entry",
            idempotency_key=key,
            **p.where,
        )
    results[p.index] = PostResult(hit.entry_id, False, key)


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
        if hit is None or hit.entry_id == p.entry_id:
            fresh.append(p)
        else:
            _replay_or_refuse(p, hit, actor, results)
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


@dataclass(frozen=True, slots=True)
class _Changes:
    """What a call does to its accounts: a row per account for the guarded
    statement (`_BALANCE_TYPES`: id, net change, lowest and highest point,
    first take, latest date), in account order, and what explains a refusal."""

    rows: list[tuple]
    by_id: dict[int, AccountInfo]
    take_on: dict[int, date]  # the first take from each guarded account


def _balance_changes(
    new: list[_Prepared], by_id: dict[int, AccountInfo], sql: DriverSql
) -> _Changes:
    """The rows of the guarded statement for `new`.

    The lowest and highest points are reached entry by entry: an account must
    stay within its guard after every entry of a batch, not just at its end.
    Within the call, a take from a guarded account dated before an earlier
    entry's posting to it is refused here; against the stored history the
    guarded statement refuses it. Sorted, so that concurrent writers take row
    locks in one order. (The hot loop of a batch: kept to dict operations.)"""
    total: dict[int, int] = defaultdict(int)
    lowest: dict[int, int] = defaultdict(int)
    highest: dict[int, int] = defaultdict(int)
    down: set[int] = set()  # accounts some entry takes a debit-side amount from
    up: set[int] = set()  # … and a credit-side amount
    for p in new:
        for account_id, amount in p.net.items():
            running = total[account_id] + amount
            total[account_id] = running
            if amount < 0:
                down.add(account_id)
                if running < lowest[account_id]:
                    lowest[account_id] = running
            else:
                up.add(account_id)
                if running > highest[account_id]:
                    highest[account_id] = running
    first_day = new[0].effective_date
    one_day = all(p.effective_date == first_day for p in new)
    if one_day:
        latest: dict[int, date] = {}
        take_on = {
            a: first_day
            for a in total
            if by_id[a].guarded and a in (down if by_id[a].side == Side.DEBIT else up)
        }
    else:
        take_on, latest = _dated_takes(new, by_id)
    # Each date encoded once for the driver.
    encoded = {day: sql.date(day) for day in {first_day, *take_on.values(), *latest.values()}}
    last = encoded[first_day]
    rows = []
    for account_id in sorted(total):
        low, high = lowest[account_id], highest[account_id]
        # Past twice the bound no stored balance can take it: refused before
        # the sum could overflow a 64-bit column.
        if max(-low, high) > 2 * MAX_BALANCE:
            raise _out_of_bounds(by_id[account_id], 0, new)
        first_take = take_on.get(account_id)
        rows.append(
            (
                account_id,
                total[account_id],
                low,
                high,
                None if first_take is None else encoded[first_take],
                last if one_day else encoded[latest[account_id]],
            )
        )
    return _Changes(rows, by_id, take_on)


def _dated_takes(
    new: list[_Prepared], by_id: dict[int, AccountInfo]
) -> tuple[dict[int, date], dict[int, date]]:
    """For entries of several dates: per account the first take from it (if
    guarded) and the latest date posted, refusing a take dated before an
    earlier entry's posting to the same account."""
    take_on: dict[int, date] = {}
    latest: dict[int, date] = {}
    for p in new:
        day = p.effective_date
        for account_id, amount in p.net.items():
            info = by_id[account_id]
            if info.takes(amount):
                before = latest.get(account_id)
                if before is not None and day < before:
                    raise _back_dated(info, day, before, p)
                take_on.setdefault(account_id, day)
            if account_id not in latest or latest[account_id] < day:
                latest[account_id] = day
    return take_on, latest


def _move_balances(
    conn: Connection, sql: DriverSql, new: list[_Prepared], by_id: dict[int, AccountInfo]
) -> None:
    if not new:
        return
    changes = _balance_changes(new, by_id, sql)
    updated = set(
        _update_returning(conn, sql, _GUARDED_BALANCE_UPDATE, _BALANCE_TYPES, changes.rows)
    )
    _refuse_if_short(conn, changes, updated, new)


def _refuse_if_short(
    conn: Connection, changes: _Changes, updated: set[int], new: list[_Prepared]
) -> None:
    """Raise for the first account the guard refused: taken before its latest
    posting, past its guard (naming the entry at which it would pass), or out
    of bounds."""
    if len(updated) == len(changes.rows):
        return
    account_id, _, low, high, *_ = next(r for r in changes.rows if r[0] not in updated)
    info, take_on = changes.by_id[account_id], changes.take_on.get(account_id)
    balance, last_posted_on = conn.execute(
        select(account_t.c.balance, account_t.c.last_posted_on).where(account_t.c.id == info.id)
    ).one()
    if take_on is not None and last_posted_on and take_on < last_posted_on:
        culprit = next(
            p for p in new if p.effective_date == take_on and info.takes(p.net.get(info.id, 0))
        )
        raise _back_dated(info, take_on, last_posted_on, culprit)
    debit = info.side == Side.DEBIT
    if info.guarded and (balance + low < 0 if debit else balance + high > 0):
        running, culprit = balance, new[0]
        for p in new:
            running += p.net.get(info.id, 0)
            if running < 0 if debit else running > 0:
                culprit = p
                break
        if debit:
            needed = -low
            detail = (
                f"account {info.code} holds {info.amount(balance)} but the posting needs "
                f"{info.amount(needed)}; receive stock first or post less"
            )
        else:
            needed = high
            detail = (
                f"account {info.code} holds {info.amount(-balance)} paid in but the posting "
                f"takes {info.amount(needed)}; it may not give back more than was paid in"
            )
        raise InsufficientBalance(
            _at(culprit.where) + detail,
            account=info.code,
            available=abs(balance),
            requested=needed,
            **culprit.where,
        )
    if balance + low < -MAX_BALANCE or balance + high > MAX_BALANCE:
        raise _out_of_bounds(info, balance, new)
    # Passed on a second look: another writer moved the row meanwhile.
    raise RetryableConflict(f"account {info.code} changed while it was being posted")


def _back_dated(info: AccountInfo, day: date, latest: date, p: _Prepared) -> BackDatedTake:
    return BackDatedTake(
        f"{_at(p.where)}account {info.code} was last posted on {latest.isoformat()}; a posting "
        f"that takes from it may not be dated earlier ({day.isoformat()}); date it "
        f"{latest.isoformat()} or later (YYYY-MM-DD)",
        account=info.code,
        field="effective_date",
        last_posted_on=latest.isoformat(),
        **p.where,
    )


def _out_of_bounds(info: AccountInfo, balance: int, new: list[_Prepared]) -> OutOfBounds:
    running, culprit = balance, new[0]
    for p in new:
        running += p.net.get(info.id, 0)
        if abs(running) > MAX_BALANCE:
            culprit = p
            break
    return OutOfBounds(
        f"{_at(culprit.where)}account {info.code} would hold {info.amount(running)}, beyond "
        f"the ledger's bound of {info.amount(MAX_BALANCE)} either way; post less",
        account=info.code,
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
                f"{_at(p.where)}serial {serial} is registered for another model; check the serial",
                serial=serial,
                **p.where,
            )
        current = at.get(serial, known[0] if known else None)
        if current is None:
            if source.guarded:
                raise SerialNotAtSource(
                    f"{_at(p.where)}serial {serial} is unknown and cannot leave {source.code}; "
                    "a new serial enters from an outside party (supplier, factory, opening "
                    "balance)",
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
                f"{_at(p.where)}serial {serial} is not held by {source.code}; it cannot leave it",
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


# Move many balances at once; only accounts that pass the guard are updated,
# and their ids returned.
_GUARDED_BALANCE_UPDATE = (
    "WITH v(id, d, low, high, take_on, last_on) AS ({table}) "
    f"UPDATE account SET {_BALANCE_SET} FROM v "
    f"WHERE account.id = v.id AND {_BALANCE_GUARD} "
    "RETURNING account.id"
)
_BALANCE_TYPES = ("bigint", "bigint", "bigint", "bigint", "date", "date")

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
    "check_idempotency_key",
    "post_entries",
    "post_entry",
    "resolve_accounts",
]
