"""A location's stock view: per part, what is on hand, reserved, available,
on its way here and awaiting return, with its value at today's standard cost.

It reads balances, never history: the account rows of one holder, one row per
purpose and part, folded into one line per part by conditional sums in ONE
query driven by the account's holder index, joined to the part's name and to
the price in force today (a correlated look-up on the price's unique
(part, effective_from) index, made only for the lines of the page). Its cost
follows the accounts of that one location, not the size of the network.

Figures (units):
- `available` = STOCK (usable, not promised);
- `reserved` = RESERVED (set aside for approved requisitions; HQ and regional
  warehouses only);
- `on_hand` = STOCK + RESERVED;
- `in_transit` = TRANSIT at this holder: shipped toward it, not yet received;
- `defective` = DEFECTIVE: replaced parts awaiting return.

`value` is on_hand × the standard cost in force today (fen), worked out in
Python: the product of two in-bounds figures can pass 2**63, which SQLite
would turn into a float and PostgreSQL refuse.

Every staff role sees any location; a service point sees only its own, and
another location answers exactly like one that does not exist. A holder that
is not a location (a supplier, the factory, in transit) is not found either,
and the answer says it is not a location.
"""

from __future__ import annotations

import functools
import re

from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Date, bindparam, case, cast, func, literal_column, select
from sqlalchemy.orm import Session

from ledger.calendar import OpenWindow
from ledger.catalog.parts import Part, PartPrice
from ledger.errors import InvalidInput, NotFound
from ledger.models import Account, Commodity, CommodityKind, Holder, HolderKind, Purpose
from ledger.policy import Actor
from ledger.settings import get_settings

LOCATION_KINDS = frozenset(
    {HolderKind.HQ.value, HolderKind.REGIONAL_WAREHOUSE.value, HolderKind.SERVICE_POINT.value}
)
_GOODS = (CommodityKind.PART.value, CommodityKind.HANDSET.value)
_PURPOSES = (Purpose.STOCK, Purpose.RESERVED, Purpose.TRANSIT, Purpose.DEFECTIVE)
MAX_LIMIT = 1000
# A SKU prefix: one line of printable text, as long as a SKU at most.
SKU_PREFIX = r"[^\x00-\x1f\x7f]{1,24}"
_SKU_PREFIX_RE = re.compile(SKU_PREFIX)


class StockLine(BaseModel):
    sku: str
    name: str = Field(description="The part's English name, else the commodity's name")
    on_hand: int = Field(description="Units held here: available + reserved")
    reserved: int = Field(description="Units set aside for approved requisitions")
    available: int = Field(description="Units usable and not promised (STOCK)")
    in_transit: int = Field(description="Units shipped toward this location, not yet received")
    defective: int = Field(description="Replaced defective units awaiting return")
    unit_cost: int | None = Field(
        description="Standard cost in force today, fen; null if the part has no price yet"
    )
    value: int | None = Field(description="on_hand × unit_cost, fen; null if unpriced")


class StockPage(BaseModel):
    location: str
    items: list[StockLine]
    next_after: str | None = Field(description="Pass as `after` for the next page")


def _window(session: Session) -> OpenWindow:
    return session.info.get("window") or OpenWindow.from_settings(get_settings())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _not_found(code: str, detail: str | None = None) -> NotFound:
    return NotFound(
        detail or f"no location {code!r}; list locations to see which exist", location=code
    )


def _location_id(session: Session, actor: Actor, code: str) -> int:
    """The holder id of a location the actor may see. Another point's answers
    as an unknown one does, before its kind is looked at: nothing leaks."""
    row = session.connection().execute(_HOLDER, {"code": code}).one_or_none()
    if row is None or not (actor.sees_everything or row.id == actor.holder_id):
        raise _not_found(code)
    if row.kind not in LOCATION_KINDS:
        raise _not_found(
            code,
            f"{code!r} is a {row.kind} holder, not a location (HQ, a regional warehouse "
            "or a service point): it has no stock view; read its accounts instead",
        )
    return row.id


def _literal(word: str):
    """A constant of the query written into its text (a closed-list word),
    so that executing it binds and expands nothing but the real parameters."""
    assert word.isidentifier(), word
    return literal_column(f"'{word}'")


_ZERO = literal_column("0")


@functools.cache
def stock_query(*, sku: bool = False, after: bool = False, nonzero: bool = True):
    """The one SELECT of the view, built once per shape (SKU filter, `after`,
    zero lines left out) with bound parameters: `holder_id`, `today`,
    `limit`, and `after` and `sku_like` where used. Exposed for the benchmark
    and the tests."""

    def total(purpose: Purpose):
        # One account per purpose and part: the sum is that balance, cast
        # back to BIGINT (PostgreSQL sums BIGINT into NUMERIC).
        summed = func.sum(
            case((Account.purpose == _literal(purpose.value), Account.balance), else_=_ZERO)
        )
        return cast(summed, BigInteger)

    lines = (
        select(
            Commodity.id.label("commodity_id"),
            Commodity.code.label("sku"),
            func.coalesce(Part.name_en, Commodity.name).label("name"),
            total(Purpose.STOCK).label("stock"),
            total(Purpose.RESERVED).label("reserved"),
            total(Purpose.TRANSIT).label("transit"),
            total(Purpose.DEFECTIVE).label("defective"),
        )
        .select_from(Account)
        .join(Commodity, Commodity.id == Account.commodity_id)
        .outerjoin(Part, Part.commodity_id == Commodity.id)
        .where(
            Account.holder_id == bindparam("holder_id"),
            Account.purpose.in_([_literal(p.value) for p in _PURPOSES]),
            Commodity.kind.in_([_literal(k) for k in _GOODS]),
        )
        .group_by(Commodity.id, Commodity.code, Commodity.name, Part.name_en)
        .order_by(Commodity.code)
        .limit(bindparam("limit"))
    )
    if nonzero:
        # A zero balance adds nothing; a part whose every account is zero
        # has no row left to make a line of.
        lines = lines.where(Account.balance != _ZERO)
    if after:
        lines = lines.where(Commodity.code > bindparam("after"))
    if sku:
        lines = lines.where(Commodity.code.like(bindparam("sku_like"), escape="\\"))
    page = lines.subquery("lines")
    cost = (
        select(PartPrice.standard_cost)
        .where(
            PartPrice.part_id == page.c.commodity_id,
            PartPrice.effective_from <= bindparam("today", type_=Date),
        )
        .order_by(PartPrice.effective_from.desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(
        page.c.sku,
        page.c.name,
        page.c.stock,
        page.c.reserved,
        page.c.transit,
        page.c.defective,
        cost.label("unit_cost"),
    ).order_by(page.c.sku)


_HOLDER = select(Holder.id, Holder.kind).where(Holder.code == bindparam("code"))


def location_stock(
    session: Session,
    actor: Actor,
    holder_code: str,
    *,
    sku: str | None = None,
    after: str | None = None,
    limit: int = 100,
    include_zero: bool = False,
) -> StockPage:
    """One line per part or handset model the location holds, in SKU order,
    a page at a time (`after`: the `next_after` of the previous page).

    `sku` is a SKU prefix, any case (SKUs are upper case): `X1-` keeps the X1
    parts, an exact SKU keeps that part and any whose SKU extends it; `%` and
    `_` are plain characters, not wildcards. Lines whose every figure is zero
    are left out unless `include_zero` (then every part the location has an
    account for is listed)."""
    if sku is not None:
        if not isinstance(sku, str) or not _SKU_PREFIX_RE.fullmatch(sku):
            raise InvalidInput(
                "sku is a SKU prefix: one line of 1 to 24 printable characters", field="sku"
            )
        sku = sku.upper()
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit is 1 to {MAX_LIMIT}, not {limit}", field="limit")
    holder_id = _location_id(session, actor, holder_code)
    params = {"holder_id": holder_id, "today": _window(session).today(), "limit": limit}
    if after is not None:
        params["after"] = after
    if sku is not None:
        params["sku_like"] = f"{_escape_like(sku)}%"
    stmt = stock_query(sku=sku is not None, after=after is not None, nonzero=not include_zero)
    # Core, not the ORM: the rows are plain figures, and the page is
    # validated in one call (pydantic-core), not line by line: the view is
    # hot (bench/stock_view.py).
    items = []
    for sku_, name, stock, reserved, transit, defective, cost in session.connection().execute(
        stmt, params
    ):
        on_hand = stock + reserved
        items.append(
            {
                "sku": sku_,
                "name": name,
                "on_hand": on_hand,
                "reserved": reserved,
                "available": stock,
                "in_transit": transit,
                "defective": defective,
                "unit_cost": cost,
                "value": None if cost is None else on_hand * cost,
            }
        )
    return StockPage.model_validate(
        {
            "location": holder_code,
            "items": items,
            "next_after": items[-1]["sku"] if len(items) == limit else None,
        }
    )


__all__ = ["StockLine", "StockPage", "location_stock", "stock_query"]
