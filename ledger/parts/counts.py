"""Stock counts (盘点): count what is on the shelf at one location, compare it
with the book, and post the difference.

    open ─enter counts (any number of batches)→ open ─submit→ submitted ─approve→ approved
      └────────────── cancel (from open or submitted) ──────────────┘→ cancelled

Opening takes a snapshot: the book quantity of the location's STOCK account
of every part that has one there (optionally only some SKUs or a category),
one line per part. Counts are entered by SKU, in batches (a later value for a
SKU replaces an earlier one); a catalog part not in the snapshot may be
counted too (its book at the snapshot is 0). A blind count hides the book
from every view and sheet until it is submitted. Submitting freezes the
counts; a line still uncounted is refused unless `uncounted_as_zero`.

Approving posts the variance of every line, counted − book at the snapshot,
between the location's STOCK:<sku> and the STOCK-COUNT holder (gains debit
the location's stock, losses credit it). The variance is a delta: what was
received or issued between the snapshot and the approval stays, so the
stock after approval is its balance then plus the variance, never the
count itself. A loss larger than the stock left now (parts issued since
the snapshot) is refused by the account's guard, naming the SKU.

Who: a warehouse clerk or an admin opens, counts, submits and cancels at any
location, a service point's user at its own (another point is not found);
an approver or an admin approves (the counter does not approve their own
count: a clerk or a point may not approve at all).

Only STOCK is counted: units a warehouse has reserved for approved
requisitions (RESERVED) are promised, kept apart, and not on the sheet.

Lines are written set-based: the snapshot is one INSERT … SELECT, counts
are one executemany per batch, and a count of up to 50,000 lines posts its
variances in one `post_entries` call of entries of at most 5,000 lines
(10,000 postings, the journal's bound per entry), all in one unit of work.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    UniqueConstraint,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from ledger import journal
from ledger.amounts import MAX_AMOUNT
from ledger.catalog.parts import Part, standard_costs_on
from ledger.codes import COMMODITY_RE, account_code
from ledger.driver_sql import DriverSql
from ledger.errors import InsufficientBalance, InvalidInput, InvalidState, NotFound
from ledger.journal import EntryIn, PostingIn
from ledger.models import Account, Commodity, CommodityKind, Holder, Purpose, Role
from ledger.parts import documents as docs
from ledger.parts import stock
from ledger.parts.documents import ActionView
from ledger.policy import Actor
from ledger.types import UTCDateTime, utcnow

PREFIX = "SC"
DOCUMENT = "stock_count"
# A count's own bounds: a warehouse holds thousands of parts, not 500.
MAX_COUNT_LINES = 50_000
MAX_COUNTED = 1_000_000_000
# Lines per variance entry: two postings a line, the journal's 10,000 per entry.
LINES_PER_ENTRY = 5_000
# Shown when a submit is refused for uncounted lines.
SHOWN_UNCOUNTED = 5
COUNTERS = (Role.WAREHOUSE_CLERK, Role.ADMIN, Role.SERVICE_POINT)
APPROVERS = (Role.APPROVER, Role.ADMIN)
# The system holder the differences go to (Income: gains credit it).
STOCK_COUNT = docs.STOCK_COUNT
_CHUNK = 5_000  # ids per IN (…) look-up: under every driver's parameter limit


class CountState(enum.StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    CANCELLED = "cancelled"


_STATES = ", ".join(f"'{s.value}'" for s in CountState)
_ACTIVE = (CountState.OPEN.value, CountState.SUBMITTED.value)


class StockCount(SQLModel, table=True):
    __tablename__ = "stock_count"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATES})", name="state"),
        Index("ix_stock_count_state", "state", "id"),
        Index("ix_stock_count_holder_id", "holder_id", "id"),
    )

    id: int | None = SQLField(default=None, sa_column=Column(Integer, primary_key=True))
    holder_id: int = SQLField(sa_column=Column(Integer, ForeignKey("holder.id"), nullable=False))
    # The location while the count is open or submitted, NULL after: its
    # unique index lets one count at a time be active per location, race-free.
    active_holder_id: int | None = SQLField(
        default=None, sa_column=Column(Integer, ForeignKey("holder.id"), unique=True)
    )
    state: str = SQLField(max_length=12)
    blind: bool = SQLField(sa_column=Column(Boolean, nullable=False))
    # What the snapshot was limited to: {"skus": [...]} or {"category": "..."}.
    scope: dict[str, Any] | None = SQLField(default=None, sa_column=Column(JSON))
    snapshot_on: date = SQLField(sa_column=Column(Date, nullable=False))
    snapshot_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))
    line_count: int = SQLField(sa_column=Column(Integer, nullable=False))
    note: str | None = SQLField(default=None, max_length=docs.REASON_MAX)
    created_by: str = SQLField(max_length=80)
    created_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))
    submitted_at: datetime | None = SQLField(default=None, sa_column=Column(UTCDateTime()))
    approved_at: datetime | None = SQLField(default=None, sa_column=Column(UTCDateTime()))
    updated_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))


class StockCountLine(SQLModel, table=True):
    __tablename__ = "stock_count_line"
    __table_args__ = (
        UniqueConstraint("count_id", "commodity_id"),
        CheckConstraint("book >= 0", name="book_not_negative"),
        CheckConstraint("counted IS NULL OR counted >= 0", name="counted_not_negative"),
    )

    count_id: int = SQLField(
        sa_column=Column(
            Integer, ForeignKey("stock_count.id"), primary_key=True, autoincrement=False
        )
    )
    # Integer, not SmallInteger: a count has up to 50,000 lines.
    line_no: int = SQLField(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    commodity_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("commodity.id"), nullable=False)
    )
    # The STOCK balance at the snapshot (0 for a part counted but not in it).
    book: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    counted: int | None = SQLField(default=None, sa_column=Column(BigInteger))


count_t = StockCount.__table__
line_t = StockCountLine.__table__


# -- views -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CountIn:
    """One counted figure: a SKU and the units found. `row` names it in
    errors (a sheet's row number; the position in the list otherwise). Not
    a pydantic model: nothing is coerced, `enter` checks every value."""

    sku: str
    counted: int
    row: int | None = None


class CountSummary(BaseModel):
    number: str
    location: str
    state: CountState
    blind: bool
    scope: dict[str, Any] | None
    snapshot_on: date
    snapshot_at: datetime
    lines: int = Field(description="Lines of the count (snapshot and parts counted beyond it)")
    counted: int = Field(description="Lines with a count entered")
    note: str | None
    created_by: str
    created_at: datetime
    submitted_at: datetime | None
    approved_at: datetime | None


class CountView(CountSummary):
    history: list[ActionView]


class CountLineView(BaseModel):
    line_no: int
    sku: str
    name_zh: str
    name_en: str
    book: int | None = Field(description="Book at the snapshot; null while a blind count is open")
    counted: int | None


class CountDetail(CountView):
    items: list[CountLineView]
    next_after: int | None = Field(description="Pass as `after` for the next page of lines")


class VarianceLine(BaseModel):
    line_no: int
    sku: str
    name_en: str
    book: int
    counted: int
    variance: int = Field(description="counted − book at the snapshot")
    unit_cost: int | None = Field(description="Standard cost (fen) on the snapshot date")
    value: int | None = Field(description="variance × unit_cost (fen); null if unpriced")


class VarianceReport(BaseModel):
    number: str
    location: str
    state: CountState
    snapshot_on: date
    lines: int
    differing: int = Field(description="Lines whose count differs from the book")
    gain_units: int
    gain_value: int
    loss_units: int = Field(description="Units short, as a positive number")
    loss_value: int = Field(description="Value short (fen), as a positive number")
    net_value: int
    unpriced: int = Field(description="Differing lines without a standard cost")
    items: list[VarianceLine]
    next_after: int | None


def number(count_id: int) -> str:
    return docs.document_number(PREFIX, count_id)


# -- reading -----------------------------------------------------------------------


def _not_found(count_number: str) -> NotFound:
    return NotFound(f"stock count {count_number} does not exist", count=count_number)


def _visible(actor: Actor, count: StockCount) -> bool:
    return actor.sees_everything or actor.holder_id == count.holder_id


def _load(session: Session, actor: Actor, count_number: str, *, lock: bool) -> StockCount:
    count_id = docs.document_id(PREFIX, count_number, "stock count")
    stmt = select(StockCount).where(StockCount.id == count_id)
    if lock:
        stmt = stmt.with_for_update()
    count = session.scalar(stmt)
    if count is None or not _visible(actor, count):
        raise _not_found(count_number)
    return count


def _counted(session: Session, count_id: int) -> int:
    return session.scalar(
        select(func.count())
        .select_from(line_t)
        .where(line_t.c.count_id == count_id, line_t.c.counted.is_not(None))
    )


def _summary(session: Session, count: StockCount) -> dict[str, Any]:
    location = session.scalar(select(Holder.code).where(Holder.id == count.holder_id))
    return {
        "number": number(count.id),
        "location": location,
        "state": CountState(count.state),
        "blind": count.blind,
        "scope": count.scope,
        "snapshot_on": count.snapshot_on,
        "snapshot_at": count.snapshot_at,
        "lines": count.line_count,
        "counted": _counted(session, count.id),
        "note": count.note,
        "created_by": count.created_by,
        "created_at": count.created_at,
        "submitted_at": count.submitted_at,
        "approved_at": count.approved_at,
    }


def view(session: Session, count: StockCount) -> CountView:
    return CountView(**_summary(session, count), history=docs.history(session, DOCUMENT, count.id))


def _book_hidden(count: StockCount) -> bool:
    # Until it is submitted: a blind count cancelled while open keeps its
    # book hidden too (else cancel and reopen would show it).
    return count.blind and count.submitted_at is None


def get(
    session: Session, actor: Actor, count_number: str, *, after: int = 0, limit: int = 1000
) -> CountDetail:
    """A count, its history and a page of its lines in line order."""
    if not 1 <= limit <= MAX_COUNT_LINES:
        raise InvalidInput(f"limit is 1 to {MAX_COUNT_LINES}, not {limit}", field="limit")
    after = min(max(after, 0), MAX_COUNT_LINES)  # no line lies past the last one
    count = _load(session, actor, count_number, lock=False)
    hidden = _book_hidden(count)
    rows = session.execute(
        select(
            line_t.c.line_no, Commodity.code, Part.name_zh, Part.name_en, line_t.c.book,
            line_t.c.counted,
        )
        .join(Commodity, Commodity.id == line_t.c.commodity_id)
        .join(Part, Part.commodity_id == line_t.c.commodity_id)
        .where(line_t.c.count_id == count.id, line_t.c.line_no > after)
        .order_by(line_t.c.line_no)
        .limit(limit)
    ).all()  # fmt: skip
    items = [
        {
            "line_no": n,
            "sku": sku,
            "name_zh": zh,
            "name_en": en,
            "book": None if hidden else book,
            "counted": counted,
        }
        for n, sku, zh, en, book, counted in rows
    ]
    return CountDetail.model_validate(
        {
            **view(session, count).model_dump(),
            "items": items,
            "next_after": items[-1]["line_no"] if len(items) == limit else None,
        }
    )


@dataclass(frozen=True, slots=True)
class SheetLine:
    sku: str
    name_zh: str
    name_en: str
    book: int | None  # None on a blind count's sheet
    counted: int | None


@dataclass(frozen=True, slots=True)
class Sheet:
    count: CountSummary
    filename: str
    lines: list[SheetLine]

    @property
    def blind(self) -> bool:
        """The book is hidden (see `_book_hidden`)."""
        return self.count.blind and self.count.submitted_at is None


def sheet(session: Session, actor: Actor, count_number: str) -> Sheet:
    """What the count sheet shows, in SKU order, and its file name
    (SC-000001_RW-S_20261201.xlsx: number, location, snapshot date)."""
    count = _load(session, actor, count_number, lock=False)
    hidden = _book_hidden(count)
    summary = CountSummary(**_summary(session, count))
    rows = session.execute(
        select(Commodity.code, Part.name_zh, Part.name_en, line_t.c.book, line_t.c.counted)
        .join(Commodity, Commodity.id == line_t.c.commodity_id)
        .join(Part, Part.commodity_id == line_t.c.commodity_id)
        .where(line_t.c.count_id == count.id)
        .order_by(Commodity.code)
    )
    lines = [
        SheetLine(sku, zh, en, None if hidden else book, counted)
        for sku, zh, en, book, counted in rows
    ]
    filename = f"{summary.number}_{summary.location}_{summary.snapshot_on:%Y%m%d}.xlsx"
    return Sheet(summary, filename, lines)


def list_counts(
    session: Session,
    actor: Actor,
    *,
    location: str | None = None,
    state: CountState | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[CountSummary]:
    """Counts, newest first; a service point sees its own only."""
    stmt = (
        select(StockCount)
        .join(Holder, Holder.id == StockCount.holder_id)
        .order_by(StockCount.id.desc())
        .limit(max(1, min(limit, 1000)))
    )
    if not actor.sees_everything:
        stmt = stmt.where(StockCount.holder_id == actor.holder_id)
    if location is not None:
        stmt = stmt.where(Holder.code == location)
    if state is not None:
        stmt = stmt.where(StockCount.state == state.value)
    if after is not None:
        stmt = stmt.where(StockCount.id < docs.cursor_id(PREFIX, after, "stock count"))
    return [CountSummary(**_summary(session, c)) for c in session.scalars(stmt)]


# -- opening -----------------------------------------------------------------------


def _location(session: Session, actor: Actor, code: str) -> Holder:
    """A location the actor may count: any for staff, its own for a point;
    another point answers as an unknown one does."""
    holder = session.scalar(select(Holder).where(Holder.code == code))
    if holder is None or not (actor.sees_everything or holder.id == actor.holder_id):
        raise NotFound(f"no location {code!r}; list locations to see which exist", location=code)
    if holder.kind not in stock.LOCATION_KINDS:
        raise InvalidInput(
            f"{code} is a {holder.kind} holder, not a location (HQ, a regional warehouse or a "
            "service point): only a location's stock is counted",
            field="location",
        )
    return holder


def _require_counter(actor: Actor, action: str) -> None:
    docs.require_roles(actor, action, *COUNTERS)


def _part_ids(session: Session, skus: Sequence[str]) -> dict[str, int]:
    """SKU → commodity id of the SKUs that are catalog parts (kind part)."""
    found: dict[str, int] = {}
    unique = sorted(set(skus))
    for start in range(0, len(unique), _CHUNK):
        rows = session.execute(
            select(Commodity.code, Commodity.id)
            .join(Part, Part.commodity_id == Commodity.id)
            .where(
                Commodity.code.in_(unique[start : start + _CHUNK]),
                Commodity.kind == CommodityKind.PART.value,
            )
        )
        found.update(dict(rows.all()))
    return found


def _scope(
    session: Session, skus: Sequence[str] | None, category: str | None
) -> dict[str, Any] | None:
    if skus is not None and category is not None:
        raise InvalidInput(
            "limit a count to a list of SKUs or to a category, not both", field="skus"
        )
    if category is not None:
        category = docs.reason_text(category, field="category")
        if category is None or len(category) > 40:
            raise InvalidInput("a category is 1 to 40 printable characters", field="category")
        return {"category": category}
    if skus is None:
        return None
    if not 1 <= len(skus) <= MAX_COUNT_LINES:
        raise InvalidInput(f"list 1 to {MAX_COUNT_LINES:,} SKUs", field="skus")
    known = _part_ids(session, [s for s in skus if _is_sku(s)])
    for i, sku in enumerate(skus):
        if sku not in known:
            raise InvalidInput(
                f"skus[{i}]: {sku!r} is not a part of the catalog; correct the SKU",
                field=f"skus[{i}]",
                sku=sku if isinstance(sku, str) else None,
            )
    return {"skus": sorted(set(skus))}


def open_count(
    session: Session,
    actor: Actor,
    *,
    location: str,
    blind: bool = False,
    skus: Sequence[str] | None = None,
    category: str | None = None,
    note: str | None = None,
    key: str | None = None,
) -> CountView:
    """Open a count at `location`: snapshot the STOCK balance of every part
    that has a STOCK account there (or of the listed SKUs, or the category)."""
    _require_counter(actor, "open a stock count")
    request = {
        "location": location,
        "blind": blind,
        "skus": list(skus) if skus is not None else None,
        "category": category,
        "note": note,
    }
    run = docs.begin(session, actor, DOCUMENT, "open", key, request)
    if run.replay is not None:
        return CountView.model_validate(run.replay)
    if not isinstance(blind, bool):
        raise InvalidInput("blind is true or false", field="blind")
    note = docs.reason_text(note, field="note")
    holder = _location(session, actor, location)
    scope = _scope(session, skus, category)
    active = session.scalar(
        select(StockCount.id).where(
            StockCount.holder_id == holder.id, StockCount.state.in_(_ACTIVE)
        )
    )
    if active is not None:
        raise InvalidState(
            f"{location} already has stock count {number(active)} open or submitted; finish "
            "or cancel it before opening another",
            count=number(active),
            location=location,
        )
    now = utcnow()
    count = StockCount(
        holder_id=holder.id,
        active_holder_id=holder.id,
        state=CountState.OPEN.value,
        blind=blind,
        scope=scope,
        snapshot_on=session.info["window"].today(),
        snapshot_at=now,
        line_count=0,
        note=note,
        created_by=actor.username,
        created_at=now,
        updated_at=now,
    )
    session.add(count)
    session.flush()
    # The snapshot: one INSERT … SELECT of the balances, numbered in SKU order.
    source = (
        select(
            literal(count.id).label("count_id"),
            func.row_number().over(order_by=Commodity.code).label("line_no"),
            Account.commodity_id,
            Account.balance,
        )
        .select_from(Account)
        .join(Commodity, Commodity.id == Account.commodity_id)
        .join(Part, Part.commodity_id == Account.commodity_id)
        .where(
            Account.holder_id == holder.id,
            Account.purpose == Purpose.STOCK.value,
            Commodity.kind == CommodityKind.PART.value,
        )
    )
    if scope and "category" in scope:
        source = source.where(Part.category == scope["category"])
    elif scope:
        ids = list(_part_ids(session, scope["skus"]).values())
        source = source.where(Account.commodity_id.in_(ids))
    session.execute(
        insert(line_t).from_select(["count_id", "line_no", "commodity_id", "book"], source)
    )
    # Counted, not the rowcount: not every driver reports one for INSERT … SELECT.
    lines = session.scalar(
        select(func.count()).select_from(line_t).where(line_t.c.count_id == count.id)
    )
    if lines > MAX_COUNT_LINES:
        raise InvalidInput(
            f"{location} holds {lines:,} parts, more than a count's {MAX_COUNT_LINES:,} lines; "
            "count it in parts (by category or a list of SKUs)",
            field="skus",
        )
    count.line_count = lines
    session.flush()
    run.record(count.id, None, CountState.OPEN.value, reason=note, detail={"lines": lines})
    return run.finish(view(session, count))


# -- counting ----------------------------------------------------------------------


def _require_state(count: StockCount, action: str, *allowed: CountState) -> None:
    if count.state not in allowed:
        docs.refuse_state(
            "stock count", number(count.id), count.state, action, [s.value for s in allowed]
        )


def _is_sku(value: object) -> bool:
    return isinstance(value, str) and COMMODITY_RE.fullmatch(value) is not None


def _where(line: CountIn, i: int) -> str:
    return f"row {line.row}" if line.row is not None else f"line {i + 1}"


def _shown(value: object) -> str:
    """A value as quoted in an error: never the whole of a huge one."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _check_counted(line: CountIn, i: int) -> None:
    value = line.counted
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNTED:
        raise InvalidInput(
            f"{_where(line, i)}, counted: {_shown(value)} is not a count; give a whole number of "
            f"units from 0 to {MAX_COUNTED:,}",
            field="counted",
            row=line.row if line.row is not None else i + 1,
            sku=line.sku if _is_sku(line.sku) else None,
        )


def enter(
    session: Session,
    actor: Actor,
    count_number: str,
    lines: Sequence[CountIn],
    *,
    key: str | None = None,
) -> CountView:
    """Enter counts while the count is open: SKU → units found, each SKU
    once a batch. A later batch's value for a SKU replaces the earlier one; a
    catalog part not in the snapshot of a whole-location count gets a line
    of its own (book 0: it had no stock account there at the snapshot); a
    count limited to some SKUs or a category counts those only. All or
    nothing: one wrong line refuses the batch, naming its row and SKU."""
    _require_counter(actor, "enter stock counts")
    if not 1 <= len(lines) <= MAX_COUNT_LINES:
        raise InvalidInput(f"enter 1 to {MAX_COUNT_LINES:,} counts at a time", field="lines")
    request = {
        "number": count_number,
        "lines": [[line.sku, line.counted, line.row] for line in lines],
    }
    run = docs.begin(session, actor, DOCUMENT, "count", key, request)
    if run.replay is not None:
        return CountView.model_validate(run.replay)
    for i, line in enumerate(lines):
        _check_counted(line, i)
    count = _load(session, actor, count_number, lock=True)
    _require_state(count, "entering counts", CountState.OPEN)
    # SKU -> (commodity, line no) of the count's lines: they are parts already;
    # only the SKUs beyond them are looked up in the catalog.
    in_count = {
        sku: (commodity_id, line_no)
        for sku, commodity_id, line_no in session.execute(
            select(Commodity.code, line_t.c.commodity_id, line_t.c.line_no)
            .join(Commodity, Commodity.id == line_t.c.commodity_id)
            .where(line_t.c.count_id == count.id)
        )
    }
    beyond = {line.sku for line in lines if _is_sku(line.sku) and line.sku not in in_count}
    parts = _part_ids(session, sorted(beyond)) if beyond else {}
    within = _within_scope(session, count.scope, parts) if count.scope and parts else set()
    seen: dict[str, int] = {}
    for i, line in enumerate(lines):
        if not _is_sku(line.sku) or (line.sku not in in_count and line.sku not in parts):
            raise InvalidInput(
                f"{_where(line, i)}: {_shown(line.sku)} is not a part of the catalog; correct "
                "the SKU (nothing of this batch was entered)",
                field="sku",
                row=line.row if line.row is not None else i + 1,
                sku=line.sku if _is_sku(line.sku) else None,
            )
        if count.scope and line.sku not in in_count and line.sku not in within:
            # Its book at the snapshot was never taken: "book 0" would be wrong
            # for a part on the shelf, and approving would double it.
            raise InvalidInput(
                f"{_where(line, i)}: {line.sku} is not in stock count {count_number}, which "
                f"counts {_scope_text(count.scope)} only; count it in a count of its own "
                "(nothing of this batch was entered)",
                field="sku",
                row=line.row if line.row is not None else i + 1,
                sku=line.sku,
            )
        if line.sku in seen:
            raise InvalidInput(
                f"{_where(line, i)}: {line.sku} is counted in this batch already "
                f"({_where(lines[seen[line.sku]], seen[line.sku])}); give each part once, with "
                "the total found (nothing of this batch was entered)",
                field="sku",
                row=line.row if line.row is not None else i + 1,
                sku=line.sku,
            )
        seen[line.sku] = i
    counted: dict[int, int] = {}  # line no -> units; the last value for a SKU wins
    new: dict[int, int] = {}  # commodity id -> line no, for parts beyond the snapshot
    next_line = count.line_count
    for line in lines:
        known = in_count.get(line.sku)
        if known is not None:
            line_no = known[1]
        else:
            commodity_id = parts[line.sku]
            line_no = new.get(commodity_id)
            if line_no is None:
                next_line += 1
                line_no = new[commodity_id] = next_line
        counted[line_no] = line.counted
    if next_line > MAX_COUNT_LINES:
        raise InvalidInput(
            f"stock count {count_number} would have {next_line:,} lines, more than "
            f"{MAX_COUNT_LINES:,}; count the rest in another count",
            field="lines",
        )
    if new:
        session.execute(
            insert(line_t),
            [
                {"count_id": count.id, "line_no": n, "commodity_id": c, "book": 0}
                for c, n in new.items()
            ],
        )
    _set_counted(session, count.id, counted)
    count.line_count = next_line
    count.updated_at = utcnow()
    session.flush()
    run.record(
        count.id,
        count.state,
        count.state,
        detail={"counted": len(counted), **({"added": len(new)} if new else {})},
    )
    return run.finish(view(session, count))


def _within_scope(session: Session, scope: dict[str, Any], parts: dict[str, int]) -> set[str]:
    """Of parts beyond a limited count's snapshot, those its scope names:
    they had no stock account there at the snapshot (book 0)."""
    if "category" in scope:
        rows = session.execute(
            select(Commodity.code)
            .join(Part, Part.commodity_id == Commodity.id)
            .where(Commodity.id.in_(list(parts.values())), Part.category == scope["category"])
        )
        return set(rows.scalars())
    return set(parts) & set(scope.get("skus", []))


def _scope_text(scope: dict[str, Any]) -> str:
    if "category" in scope:
        return f"category {scope['category']!r}"
    skus = list(scope.get("skus", []))
    return "SKUs " + ", ".join(skus[:5]) + (f" and {len(skus) - 5} more" if len(skus) > 5 else "")


def _set_counted(session: Session, count_id: int, counted: dict[int, int]) -> None:
    """Set the counted figure of many lines in one UPDATE
    fed by a table of (line no, units): one statement on PostgreSQL (arrays,
    `unnest`), a few on SQLite (VALUES lists within its parameter limit),
    not a statement per line: 20,000 lines took 1 s as an executemany on
    PostgreSQL."""
    conn = session.connection()
    sql = DriverSql.of(conn)
    rows = sorted(counted.items())
    for table, params in sql.table_of(("integer", "bigint"), rows):
        conn.exec_driver_sql(
            f"WITH v(line_no, counted) AS ({table}) "
            "UPDATE stock_count_line SET counted = v.counted FROM v "
            f"WHERE stock_count_line.count_id = {int(count_id)} "
            "AND stock_count_line.line_no = v.line_no",
            params,
        )


def submit(
    session: Session,
    actor: Actor,
    count_number: str,
    *,
    uncounted_as_zero: bool = False,
    key: str | None = None,
) -> CountView:
    """Freeze the counts. A line not counted is refused, naming how many and
    the first few SKUs, unless `uncounted_as_zero` (then it counts 0)."""
    _require_counter(actor, "submit a stock count")
    request = {"number": count_number, "uncounted_as_zero": uncounted_as_zero}
    run = docs.begin(session, actor, DOCUMENT, "submit", key, request)
    if run.replay is not None:
        return CountView.model_validate(run.replay)
    count = _load(session, actor, count_number, lock=True)
    _require_state(count, "submitting", CountState.OPEN)
    missing = line_t.c.count_id == count.id, line_t.c.counted.is_(None)
    uncounted = session.scalar(select(func.count()).select_from(line_t).where(*missing))
    if uncounted and not uncounted_as_zero:
        first = session.scalars(
            select(Commodity.code)
            .join(line_t, line_t.c.commodity_id == Commodity.id)
            .where(*missing)
            .order_by(line_t.c.line_no)
            .limit(SHOWN_UNCOUNTED)
        ).all()
        more = ", …" if uncounted > len(first) else ""
        raise InvalidState(
            f"stock count {count_number} has {uncounted:,} line(s) not counted "
            f"({', '.join(first)}{more}); count them, or submit with uncounted_as_zero "
            "to count them as 0",
            number=count_number,
            state=count.state,
            uncounted=uncounted,
        )
    if uncounted:
        session.execute(update(line_t).where(*missing).values(counted=0))
    count.state = CountState.SUBMITTED.value
    count.submitted_at = count.updated_at = utcnow()
    session.flush()
    run.record(
        count.id,
        CountState.OPEN.value,
        CountState.SUBMITTED.value,
        detail={"uncounted_as_zero": uncounted} if uncounted else None,
    )
    return run.finish(view(session, count))


# -- variances ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Diff:
    line_no: int
    commodity_id: int
    sku: str
    name_en: str
    book: int
    counted: int

    @property
    def variance(self) -> int:
        return self.counted - self.book


def _differences(session: Session, count: StockCount) -> list[_Diff]:
    rows = session.execute(
        select(
            line_t.c.line_no, line_t.c.commodity_id, Commodity.code, Part.name_en,
            line_t.c.book, line_t.c.counted,
        )
        .join(Commodity, Commodity.id == line_t.c.commodity_id)
        .join(Part, Part.commodity_id == line_t.c.commodity_id)
        .where(
            line_t.c.count_id == count.id,
            line_t.c.counted.is_not(None),
            line_t.c.counted != line_t.c.book,
        )
        .order_by(line_t.c.line_no)
    )  # fmt: skip
    return [_Diff(*row) for row in rows]


def _costs(session: Session, commodity_ids: Sequence[int], day: date) -> dict[int, int]:
    costs: dict[int, int] = {}
    for start in range(0, len(commodity_ids), _CHUNK):
        costs.update(standard_costs_on(session, commodity_ids[start : start + _CHUNK], day))
    return costs


def variances(
    session: Session, actor: Actor, count_number: str, *, after: int = 0, limit: int | None = None
) -> VarianceReport:
    """Per line that differs: counted − book at the snapshot, valued at the
    standard cost in force on the snapshot date; totals over every line.
    A blind count shows none while it is open (the book is hidden)."""
    count = _load(session, actor, count_number, lock=False)
    if _book_hidden(count) or count.state == CountState.CANCELLED:
        reason = (
            "it was cancelled"
            if count.state == CountState.CANCELLED
            else "it is blind and not submitted yet"
        )
        raise InvalidState(
            f"stock count {count_number} has no variances to show: {reason}",
            number=count_number,
            state=count.state,
        )
    diffs = _differences(session, count)
    costs = _costs(session, [d.commodity_id for d in diffs], count.snapshot_on)
    totals = {"gain_units": 0, "gain_value": 0, "loss_units": 0, "loss_value": 0, "unpriced": 0}
    items = []
    for d in diffs:
        cost = costs.get(d.commodity_id)
        value = None if cost is None else d.variance * cost
        if cost is None:
            totals["unpriced"] += 1
        side = "gain" if d.variance > 0 else "loss"
        totals[f"{side}_units"] += abs(d.variance)
        totals[f"{side}_value"] += abs(value or 0)
        if d.line_no > after and (limit is None or len(items) < limit):
            items.append(
                {
                    "line_no": d.line_no,
                    "sku": d.sku,
                    "name_en": d.name_en,
                    "book": d.book,
                    "counted": d.counted,
                    "variance": d.variance,
                    "unit_cost": cost,
                    "value": value,
                }
            )
    return VarianceReport.model_validate(
        {
            "number": count_number,
            "location": session.scalar(select(Holder.code).where(Holder.id == count.holder_id)),
            "state": count.state,
            "snapshot_on": count.snapshot_on,
            "lines": count.line_count,
            "differing": len(diffs),
            **totals,
            "net_value": totals["gain_value"] - totals["loss_value"],
            "items": items,
            "next_after": items[-1]["line_no"]
            if limit is not None and len(items) == limit
            else None,
        }
    )


# -- approving and cancelling --------------------------------------------------------


def _posting(account: str, amount: int) -> PostingIn:
    """A posting built from codes the ledger holds (a location's, a part's)
    and a non-zero amount within the bound is built as is, without
    re-validating its pattern (a third of the approval's time at 20,000
    lines); anything else is validated as every posting is."""
    if amount and -MAX_AMOUNT <= amount <= MAX_AMOUNT and len(account) <= 120:
        return PostingIn.model_construct(account=account, amount=amount, serials=[])
    return PostingIn(account=account, amount=amount)


def variance_entries(
    location: str, count_number: str, lines: Sequence[tuple[str, int]]
) -> list[EntryIn]:
    """The entries that post `lines` (SKU, variance) at `location`: between its
    STOCK:<sku> and STOCK-COUNT:STOCK:<sku>, at most LINES_PER_ENTRY lines an
    entry, each naming the count. Exposed for the benchmark."""
    entries = []
    parts = (len(lines) + LINES_PER_ENTRY - 1) // LINES_PER_ENTRY
    for i, start in enumerate(range(0, len(lines), LINES_PER_ENTRY), start=1):
        postings = []
        for sku, variance in lines[start : start + LINES_PER_ENTRY]:
            postings.append(_posting(account_code(location, "STOCK", sku), variance))
            postings.append(_posting(account_code(STOCK_COUNT, "STOCK", sku), -variance))
        refs = {"stock_count": count_number}
        if parts > 1:
            refs["part"] = f"{i}/{parts}"
        entries.append(
            EntryIn(
                kind="stock_count",
                refs=refs,
                postings=postings,
                memo=f"stock count {count_number} at {location}",
            )
        )
    return entries


def approve(
    session: Session,
    actor: Actor,
    count_number: str,
    *,
    reason: str | None = None,
    key: str | None = None,
) -> CountView:
    """Post the variances of a submitted count, as deltas against the snapshot."""
    docs.require_roles(actor, "approve a stock count", *APPROVERS)
    request = {"number": count_number, "reason": reason}
    run = docs.begin(session, actor, DOCUMENT, "approve", key, request)
    if run.replay is not None:
        return CountView.model_validate(run.replay)
    reason = docs.reason_text(reason)
    count = _load(session, actor, count_number, lock=True)
    _require_state(count, "approving", CountState.SUBMITTED)
    location = session.scalar(select(Holder.code).where(Holder.id == count.holder_id))
    diffs = _differences(session, count)
    entry_ids: list[str] = []
    results: list[journal.PostResult] = []
    if diffs:
        docs.system_holder(session, STOCK_COUNT)
        entries = variance_entries(location, count_number, [(d.sku, d.variance) for d in diffs])
        codes = [p.account for e in entries for p in e.postings]
        # Opened ahead in bounded look-ups (the first count opens STOCK-COUNT's).
        for start in range(0, len(codes), _CHUNK):
            journal.resolve_accounts(session, codes[start : start + _CHUNK], open_missing=True)
        try:
            results = journal.post_entries(session, entries, actor=actor.username)
        except InsufficientBalance as exc:
            raise _short(exc, location, count_number, diffs) from exc
        entry_ids = [str(r.entry_id) for r in results]
    gain = sum(d.variance for d in diffs if d.variance > 0)
    loss = -sum(d.variance for d in diffs if d.variance < 0)
    count.state = CountState.APPROVED.value
    count.active_holder_id = None
    count.approved_at = count.updated_at = utcnow()
    session.flush()
    run.record(
        count.id,
        CountState.SUBMITTED.value,
        CountState.APPROVED.value,
        reason=reason,
        detail={
            "differing": len(diffs),
            "gain_units": gain,
            "loss_units": loss,
            **({"entries": entry_ids} if len(entry_ids) > 1 else {}),
        },
        entry_id=results[0].entry_id if results else None,
    )
    return run.finish(view(session, count))


def _short(
    exc: InsufficientBalance, location: str, count_number: str, diffs: Sequence[_Diff]
) -> InsufficientBalance:
    account = exc.where.get("account", "")
    sku = account.rsplit(":", 1)[-1]
    diff = next((d for d in diffs if d.sku == sku), None)
    if diff is None:
        return exc
    available = exc.where.get("available")
    return InsufficientBalance(
        f"stock count {count_number} finds {-diff.variance:,} {sku} fewer than the book at the "
        f"snapshot ({diff.book:,}), but {account} holds only {available:,} now: parts left "
        f"{location} after the snapshot. Recount {sku} in a new count (cancel this one), or "
        "return the parts first",
        account=account,
        sku=sku,
        available=available,
        requested=-diff.variance,
    )


def cancel(
    session: Session,
    actor: Actor,
    count_number: str,
    *,
    reason: str | None = None,
    key: str | None = None,
) -> CountView:
    """Cancel an open or submitted count: nothing is posted."""
    _require_counter(actor, "cancel a stock count")
    request = {"number": count_number, "reason": reason}
    run = docs.begin(session, actor, DOCUMENT, "cancel", key, request)
    if run.replay is not None:
        return CountView.model_validate(run.replay)
    reason = docs.reason_text(reason)
    count = _load(session, actor, count_number, lock=True)
    _require_state(count, "cancelling", CountState.OPEN, CountState.SUBMITTED)
    before = count.state
    count.state = CountState.CANCELLED.value
    count.active_holder_id = None
    count.updated_at = utcnow()
    session.flush()
    run.record(count.id, before, CountState.CANCELLED.value, reason=reason)
    return run.finish(view(session, count))


__all__ = [
    "APPROVERS",
    "COUNTERS",
    "MAX_COUNTED",
    "MAX_COUNT_LINES",
    "CountDetail",
    "CountIn",
    "CountState",
    "CountSummary",
    "CountView",
    "Sheet",
    "SheetLine",
    "StockCount",
    "StockCountLine",
    "VarianceReport",
    "approve",
    "cancel",
    "enter",
    "get",
    "list_counts",
    "open_count",
    "sheet",
    "submit",
    "variance_entries",
    "variances",
]
