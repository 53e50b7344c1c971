"""Credit limits: how much brand stock a service point may hold at once.

limit    = deposit × leverage ratio (the grade's, or the point's own)
exposure = the brand's parts at the point, at the standard cost in force:
           its stock, what is in transit to it, its defective parts not yet
           shipped back
headroom = limit − exposure

An issue to a point is checked here in the unit of work that posts it: the
point's DEPOSIT account row is locked first (the same row every deposit
receipt and refund moves), then exposure is read from the point's balances,
so that clerks issuing to one point at once are checked one after another
and exposure never passes the limit. Exposure is read from balances × the
day's standard costs, not kept as a running account: a price change then
moves every point's exposure at once, with nothing to revalue.

Finance may let one shipment of one requisition past the limit with a
reason (a credit override); the first issue that needs it spends it.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import documents as docs
from ledger import masterdata as md
from ledger.catalog.locations import Location, LocationStatus
from ledger.catalog.parts import PartPrice, standard_costs_on
from ledger.errors import CreditLimitExceeded, InvalidInput, InvalidState, NotFound
from ledger.models import Commodity, CommodityKind, Holder, HolderKind, Role, account_t
from ledger.money import rules
from ledger.money.tables import CreditOverride, LeverageRule
from ledger.policy import SYSTEM, Actor
from ledger.types import utcnow

MONEY = "CNY"
price_t = PartPrice.__table__  # the prices in force value a point's exposure
OVERRIDE_PREFIX = "CO"
FINANCE = (Role.FINANCE, Role.ADMIN)
# Whoever works with a point's stock may read its credit; a point reads its own.
READERS = (Role.FINANCE, Role.ADMIN, Role.WAREHOUSE_CLERK, Role.APPROVER, Role.PLANNER)
LEVERAGE_MAX = 1000  # 10.00×, in hundredths
_EXPOSED = ("STOCK", "TRANSIT", "DEFECTIVE")


def deposit_account(point_code: str) -> str:
    return md.account_code(point_code, "DEPOSIT", MONEY)


def ratio_text(hundredths: int) -> str:
    return f"{Decimal(hundredths) / 100:.2f}"


def parse_ratio(value: str | Decimal | int | float, field: str = "ratio") -> int:
    """A leverage ratio such as "2.5" in hundredths (250): 0 to 10, at most
    two decimals."""
    if isinstance(value, bool | float):
        raise InvalidInput(f'write the {field} as a decimal string such as "2.5"', field=field)
    try:
        ratio = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput(
            f'{field} {value!r} is not a number; write it such as "2.5"', field=field
        ) from None
    if not ratio.is_finite() or not 0 <= ratio <= LEVERAGE_MAX / 100:
        raise InvalidInput(f"a {field} lies between 0 and 10", field=field)
    hundredths = ratio * 100
    if hundredths != hundredths.to_integral_value():
        raise InvalidInput(f"a {field} has at most two decimals, such as 2.25", field=field)
    return int(hundredths)


def limit_of(deposit: int, leverage: int) -> int:
    """deposit × leverage in fen, rounded down: the limit never exceeds it."""
    return deposit * leverage // 100


# -- leverage --------------------------------------------------------------------------


def grade_scope(grade: str) -> str:
    return f"grade:{grade}"


def point_scope(code: str) -> str:
    return f"point:{code}"


def leverages_on(session: Session, points: Sequence[Holder], day: date) -> dict[int, int]:
    """Each point's leverage ratio (hundredths) in force on `day`: its own
    rule's, else its grade's, else 0 (a point without one may hold nothing)."""
    scopes = {grade_scope(p.grade) for p in points if p.grade}
    if len(points) <= 100:
        scopes |= {point_scope(p.code) for p in points}
        wanted = LeverageRule.scope.in_(scopes)
    else:  # the whole network: every rule is fewer rows than the IN list
        wanted = LeverageRule.scope.is_not(None)
    rows = session.execute(
        select(LeverageRule.scope, LeverageRule.ratio)
        .where(wanted, LeverageRule.effective_from <= day)
        .order_by(LeverageRule.scope, LeverageRule.effective_from)
    )
    latest: dict[str, int | None] = {}
    for scope, ratio in rows:
        latest[scope] = ratio  # ordered by date: the last one is in force
    result = {}
    for p in points:
        own = latest.get(point_scope(p.code))
        if own is None:
            own = latest.get(grade_scope(p.grade)) if p.grade else None
        result[p.id] = own or 0
    return result


class LeverageView(BaseModel):
    scope: str
    grade: str | None
    point: str | None
    ratio: str | None
    effective_from: date
    reason: str | None
    set_by: str
    set_at: datetime


def _leverage_view(rule: LeverageRule) -> LeverageView:
    kind, _, name = rule.scope.partition(":")
    return LeverageView(
        scope=rule.scope,
        grade=name if kind == "grade" else None,
        point=name if kind == "point" else None,
        ratio=None if rule.ratio is None else ratio_text(rule.ratio),
        effective_from=rule.effective_from,
        reason=rule.reason,
        set_by=rule.set_by,
        set_at=rule.set_at,
    )


def set_leverage(
    session: Session,
    actor: Actor,
    *,
    grade: str | None = None,
    point: str | None = None,
    ratio: str | Decimal | None,
    effective_from: date | None = None,
    reason: str | None = None,
) -> LeverageView:
    """Set a grade's leverage ratio, or one point's, from `effective_from`
    (today by default; never in the past, which would rewrite limits already
    relied on). A rule for the same scope and day is replaced. A point's rule
    with no ratio returns it to its grade's."""
    docs.require_roles(actor, "set leverage ratios", *FINANCE)
    if (grade is None) == (point is None):
        raise InvalidInput("name either a grade or a point", field="grade")
    if grade is not None:
        if grade not in ("A", "B", "C"):
            raise InvalidInput(f"grade {grade!r} is not valid: use A, B or C", field="grade")
        if ratio is None:
            raise InvalidInput('a grade\'s leverage needs a ratio, such as "2.5"', field="ratio")
        scope = grade_scope(grade)
    else:
        _service_point(session, point, field="point")
        scope = point_scope(point)
    hundredths = None if ratio is None else parse_ratio(ratio)
    rule = rules.set_rule(
        session, actor, LeverageRule, scope=scope,
        day=rules.effective_day(session, effective_from, "a leverage ratio"),
        field="ratio", value=hundredths, reason=reason, document="leverage_rule",
        shown=ratio_text,
    )  # fmt: skip
    return _leverage_view(rule)


def list_leverage(session: Session, actor: Actor) -> list[LeverageView]:
    """Every leverage rule, by scope and date: those in force and those to come."""
    docs.require_roles(actor, "read leverage ratios", *READERS)
    rules = session.scalars(
        select(LeverageRule).order_by(LeverageRule.scope, LeverageRule.effective_from)
    )
    return [_leverage_view(rule) for rule in rules]


# -- exposure and positions ------------------------------------------------------------


@dataclass(slots=True)
class Exposure:
    stock: int = 0
    in_transit: int = 0
    defective: int = 0
    # Units of parts with no standard cost on the day: not valued.
    unpriced_units: int = 0

    @property
    def total(self) -> int:
        return self.stock + self.in_transit + self.defective


def _exposure_rows(session: Session, day: date, holder_id: int | None = None) -> list:
    """(point, purpose, units, standard cost in force on `day` or None) of
    the brand's parts at service points: one statement, each part's price
    found through the (part, effective_from) index."""
    cost = (
        select(price_t.c.standard_cost)
        .where(price_t.c.part_id == account_t.c.commodity_id, price_t.c.effective_from <= day)
        .order_by(price_t.c.effective_from.desc())
        .limit(1)
        .correlate(account_t)
        .scalar_subquery()
    )
    stmt = (
        select(account_t.c.holder_id, account_t.c.purpose, account_t.c.balance, cost)
        .join(Holder, Holder.id == account_t.c.holder_id)
        .join(Commodity, Commodity.id == account_t.c.commodity_id)
        .where(
            Holder.kind == HolderKind.SERVICE_POINT.value,
            account_t.c.purpose.in_(_EXPOSED),
            Commodity.kind == CommodityKind.PART.value,
            account_t.c.balance != 0,
        )
    )
    if holder_id is not None:
        stmt = stmt.where(account_t.c.holder_id == holder_id)
    return session.execute(stmt).all()


def _valued(rows: list) -> dict[int, Exposure]:
    """Exposures from `_exposure_rows`, in Python integers (units × fen may
    pass 64 bits in a hostile ledger; SQL sums would overflow or turn REAL)."""
    result: dict[int, Exposure] = defaultdict(Exposure)
    for holder, purpose, balance, cost in rows:
        exposure = result[holder]
        if cost is None:
            exposure.unpriced_units += balance
        elif purpose == "STOCK":
            exposure.stock += balance * cost
        elif purpose == "TRANSIT":
            exposure.in_transit += balance * cost
        else:
            exposure.defective += balance * cost
    return result


def exposures(session: Session, day: date, holder_id: int | None = None) -> dict[int, Exposure]:
    """Each service point's exposure (or one point's), from its balances: one
    query, whatever the size of the network."""
    return _valued(_exposure_rows(session, day, holder_id))


def deposits_held(session: Session, holder_id: int | None = None) -> dict[int, int]:
    """What each point has paid in and not been refunded, in fen."""
    stmt = (
        select(account_t.c.holder_id, account_t.c.balance)
        .join(Commodity, Commodity.id == account_t.c.commodity_id)
        .where(account_t.c.purpose == "DEPOSIT", Commodity.code == MONEY)
    )
    if holder_id is not None:
        stmt = stmt.where(account_t.c.holder_id == holder_id)
    # Credit-normal: the balance is negative while the brand owes it back.
    return {holder: -balance for holder, balance in session.execute(stmt)}


class CreditPosition(BaseModel):
    point: str
    name: str
    region: str | None
    warehouse: str | None
    grade: str | None
    status: str
    deposit: int
    leverage: str
    limit: int
    stock: int
    in_transit: int
    defective: int
    exposure: int
    headroom: int
    unpriced_units: int


def _position(holder: Holder, location, warehouse, deposit, leverage, exposure) -> CreditPosition:
    limit = limit_of(deposit, leverage)
    return CreditPosition(
        point=holder.code,
        name=holder.name,
        region=None if location is None else location.region,
        warehouse=warehouse,
        grade=holder.grade,
        status=LocationStatus.ACTIVE.value if location is None else location.status,
        deposit=deposit,
        leverage=ratio_text(leverage),
        limit=limit,
        stock=exposure.stock,
        in_transit=exposure.in_transit,
        defective=exposure.defective,
        exposure=exposure.total,
        headroom=limit - exposure.total,
        unpriced_units=exposure.unpriced_units,
    )


def positions(session: Session, day: date, point: Holder | None = None) -> list[CreditPosition]:
    """Every service point's credit position on `day` (or one point's), by code."""
    stmt = (
        select(Holder, Location)
        .outerjoin(Location, Location.holder_id == Holder.id)
        .where(Holder.kind == HolderKind.SERVICE_POINT.value)
        .order_by(Holder.code)
    )
    if point is not None:
        stmt = stmt.where(Holder.id == point.id)
    rows = session.execute(stmt).all()
    holders = [h for h, _ in rows]
    served = {loc.served_by_holder_id for _, loc in rows if loc and loc.served_by_holder_id}
    warehouse_rows = session.execute(select(Holder.id, Holder.code).where(Holder.id.in_(served)))
    warehouses = {holder_id: code for holder_id, code in warehouse_rows}
    one = None if point is None else point.id
    held = deposits_held(session, one)
    leverage = leverages_on(session, holders, day)
    exposed = exposures(session, day, one)
    return [
        _position(
            h,
            loc,
            warehouses.get(loc.served_by_holder_id) if loc else None,
            held.get(h.id, 0),
            leverage[h.id],
            exposed.get(h.id, Exposure()),
        )
        for h, loc in rows
    ]


def _service_point(session: Session, code: str | None, *, field: str = "point") -> Holder:
    holder = session.scalar(select(Holder).where(Holder.code == code))
    if holder is None or holder.kind != HolderKind.SERVICE_POINT.value:
        raise NotFound(f"no service point {code!r}", location=code, field=field)
    return holder


def visible_point(session: Session, actor: Actor, code: str) -> Holder:
    """A point whose money the actor may read: a point user's own only
    (another point answers as unknown)."""
    holder = _service_point(session, code)
    if actor.role is Role.SERVICE_POINT:
        if holder.id != actor.holder_id:
            raise NotFound(f"no service point {code!r}", location=code, field="point")
    else:
        docs.require_roles(actor, "read a point's credit", *READERS)
    return holder


def position(session: Session, actor: Actor, code: str) -> CreditPosition:
    holder = visible_point(session, actor, code)
    return positions(session, session.info["window"].today(), holder)[0]


# -- the check at issue ------------------------------------------------------------------


def lock_point(session: Session, point: Holder) -> int:
    """Take the point's credit lock: its DEPOSIT account row. Every issue to
    the point and every deposit movement takes it before anything else of
    the point's, so they are checked one after another. (SQLite's writers
    are serialised by BEGIN IMMEDIATE already.) The deposit held, in fen."""
    balance = session.scalar(
        select(account_t.c.balance).where(account_t.c.code == deposit_account(point.code))
        .with_for_update()
    )  # fmt: skip
    return -(balance or 0)


@dataclass(frozen=True, slots=True)
class CreditCheck:
    value: int  # what the shipment adds to the point's exposure, in fen
    headroom: int  # before it
    override: CreditOverride | None = None


def _line_value(lines: list[tuple[int, str, int]], costs: dict[int, int], day: date) -> int:
    value = 0
    for commodity_id, sku, units in lines:
        if commodity_id not in costs:
            raise InvalidInput(
                f"part {sku} has no standard cost on {day.isoformat()}; set its price before "
                "issuing it to a service point (its value counts against the point's credit "
                "limit)",
                field="lines",
                sku=sku,
            )
        value += units * costs[commodity_id]
    return value


def require_headroom(
    session: Session, point: Holder, lines: Iterable[tuple[int, str, int]], *, document: str
) -> CreditCheck:
    """Check a shipment of `lines` to `point` against its credit limit, under
    the point's credit lock (held until the unit of work ends). Beyond the
    limit it passes only on an open override for `document`, which the caller
    spends once the shipment exists (`spend_override`). Four queries: the
    lock (and deposit), the leverage, the point's exposure, the lines' costs."""
    day = session.info["window"].today()
    lines = list(lines)
    deposit = lock_point(session, point)
    leverage = leverages_on(session, [point], day)[point.id]
    exposure = exposures(session, day, point.id).get(point.id, Exposure()).total
    costs = standard_costs_on(session, {c for c, _, _ in lines}, day)
    value = _line_value(lines, costs, day)
    limit = limit_of(deposit, leverage)
    headroom = limit - exposure
    check = CreditCheck(value=value, headroom=headroom)
    if value <= headroom:
        return check
    override = session.scalar(
        select(CreditOverride)
        .where(
            CreditOverride.holder_id == point.id,
            CreditOverride.document == document,
            CreditOverride.state == OverrideState.OPEN.value,
        )
        .order_by(CreditOverride.id)
        .limit(1)
        .with_for_update()
    )
    if override is not None:
        return CreditCheck(value=value, headroom=headroom, override=override)
    raise CreditLimitExceeded(
        f"{point.code}'s credit limit is {cny(limit)} (deposit {cny(deposit)} × "
        f"{ratio_text(leverage)}); its exposure is {cny(exposure)}, leaving {cny(headroom)} "
        f"of headroom, but this shipment is worth {cny(value)} at standard cost. Ship less, "
        "wait for the point to return or use stock, or ask finance for a credit override",
        point=point.code,
        limit=limit,
        exposure=exposure,
        headroom=headroom,
        requested=value,
    )


def spend_override(session: Session, check: CreditCheck, shipment: str) -> str | None:
    """Mark the override a shipment passed on as used by it; its number."""
    override = check.override
    if override is None:
        return None
    override.state = OverrideState.USED.value
    override.used_by = shipment
    override.used_at = utcnow()
    override.over_by = check.value - check.headroom
    session.flush()
    return override_number(override.id)


def cny(fen: int) -> str:
    """Fen as finance reads them: ¥12,345.67 (-¥5.00 below zero)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


# -- overrides ---------------------------------------------------------------------------


class OverrideState(enum.StrEnum):
    OPEN = "open"
    USED = "used"
    WITHDRAWN = "withdrawn"


class OverrideView(BaseModel):
    number: str
    point: str
    document: str
    state: OverrideState
    reason: str
    granted_by: str
    granted_at: datetime
    used_by: str | None
    used_at: datetime | None
    over_by: int | None


def override_number(override_id: int) -> str:
    return docs.document_number(OVERRIDE_PREFIX, override_id)


def _override_view(session: Session, row: CreditOverride) -> OverrideView:
    return OverrideView(
        number=override_number(row.id),
        point=session.get(Holder, row.holder_id).code,
        document=row.document,
        state=OverrideState(row.state),
        reason=row.reason,
        granted_by=row.granted_by,
        granted_at=row.granted_at,
        used_by=row.used_by,
        used_at=row.used_at,
        over_by=row.over_by,
    )


def grant_override(
    session: Session,
    actor: Actor,
    point: Holder,
    document: str,
    reason: str,
    key: str | None = None,
) -> OverrideView:
    """Let the next shipment of `document` to `point` pass its credit limit.
    One open override per document at a time; the caller has checked that
    the document is the point's and may still ship."""
    docs.require_roles(actor, "override a credit limit", *FINANCE)
    request = {"point": point.code, "document": document, "reason": reason}
    run = docs.begin(session, actor, "credit_override", "grant", key, request)
    if run.replay is not None:
        return OverrideView.model_validate(run.replay)
    reason = docs.reason_text(reason, required=True)
    open_ = session.scalar(
        select(CreditOverride.id).where(
            CreditOverride.document == document,
            CreditOverride.state == OverrideState.OPEN.value,
        )
    )
    if open_ is not None:
        raise InvalidState(
            f"{document} already has an open credit override ({override_number(open_)}); its "
            "next shipment may pass already",
            number=override_number(open_),
        )
    row = CreditOverride(
        holder_id=point.id,
        document=document,
        state=OverrideState.OPEN.value,
        reason=reason,
        granted_by=actor.username,
        granted_at=utcnow(),
    )
    session.add(row)
    session.flush()
    run.record(row.id, None, OverrideState.OPEN.value, reason=reason, detail={"document": document})
    return run.finish(_override_view(session, row))


def withdraw_override(
    session: Session, actor: Actor, number: str, reason: str, key: str | None = None
) -> OverrideView:
    docs.require_roles(actor, "withdraw a credit override", *FINANCE)
    run = docs.begin(
        session, actor, "credit_override", "withdraw", key, {"number": number, "reason": reason}
    )
    if run.replay is not None:
        return OverrideView.model_validate(run.replay)
    reason = docs.reason_text(reason, required=True)
    row = session.scalar(
        select(CreditOverride)
        .where(CreditOverride.id == docs.document_id(OVERRIDE_PREFIX, number, "credit override"))
        .with_for_update()
    )
    if row is None:
        raise NotFound(f"credit override {number} does not exist", number=number)
    if row.state != OverrideState.OPEN:
        docs.refuse_state("credit override", number, row.state, "withdrawing", ["open"])
    row.state = OverrideState.WITHDRAWN.value
    session.flush()
    run.record(row.id, OverrideState.OPEN.value, row.state, reason=reason)
    return run.finish(_override_view(session, row))


def withdraw_open_overrides(session: Session, point: Holder, *, reason: str) -> list[str]:
    """Withdraw every open override of a point (its termination): their numbers."""
    rows = list(
        session.scalars(
            select(CreditOverride)
            .where(CreditOverride.holder_id == point.id,
                   CreditOverride.state == OverrideState.OPEN.value)
            .with_for_update()
        )
    )  # fmt: skip
    for row in rows:
        row.state = OverrideState.WITHDRAWN.value
        docs.step(session, SYSTEM, "credit_override", row.id, "withdraw",
                  OverrideState.OPEN.value, row.state, reason=reason)  # fmt: skip
    session.flush()
    return [override_number(row.id) for row in rows]


def list_overrides(
    session: Session, actor: Actor, *, point: str | None = None, document: str | None = None,
    state: OverrideState | None = None, limit: int = 100,
) -> list[OverrideView]:  # fmt: skip
    """Overrides, newest first: finance's record of every limit let pass."""
    stmt = select(CreditOverride).order_by(CreditOverride.id.desc()).limit(limit)
    if actor.role is Role.SERVICE_POINT:
        stmt = stmt.where(CreditOverride.holder_id == actor.holder_id)
    else:
        docs.require_roles(actor, "read credit overrides", *READERS)
    if point is not None:
        stmt = stmt.where(CreditOverride.holder_id == visible_point(session, actor, point).id)
    if document is not None:
        stmt = stmt.where(CreditOverride.document == document)
    if state is not None:
        stmt = stmt.where(CreditOverride.state == state.value)
    return [_override_view(session, row) for row in session.scalars(stmt)]


def require_not_terminated(session: Session, point: Holder) -> None:
    """Refuse a terminated point. A statement of its own (not the session's
    cached row), so that under the point's lock it sees a termination that
    committed while this unit of work waited for it."""
    status = session.scalar(select(Location.status).where(Location.holder_id == point.id))
    if status == LocationStatus.TERMINATED:
        raise InvalidState(
            f"{point.code} is terminated; its money can no longer move", location=point.code
        )


__all__ = [
    "CreditCheck",
    "CreditPosition",
    "Exposure",
    "LeverageView",
    "OverrideState",
    "OverrideView",
    "exposures",
    "grant_override",
    "list_leverage",
    "list_overrides",
    "position",
    "positions",
    "require_headroom",
    "set_leverage",
    "spend_override",
    "withdraw_override",
]


# -- the network report ------------------------------------------------------------------


class ReportSort(enum.StrEnum):
    POINT = "point"
    DEPOSIT = "deposit"
    LIMIT = "limit"
    EXPOSURE = "exposure"
    HEADROOM = "headroom"
    # exposure as a share of the limit: who is closest to it
    USE = "use"


class NetworkReport(BaseModel):
    day: date
    total: int  # points matching the filters
    deposit: int  # their totals, in fen
    limit: int
    exposure: int
    headroom: int
    over_limit: int  # points whose exposure exceeds their limit
    items: list[CreditPosition]


def _use(p: CreditPosition) -> float:
    if p.limit <= 0:
        return float("inf") if p.exposure > 0 else 0.0
    return p.exposure / p.limit


def network_report(
    session: Session,
    actor: Actor,
    *,
    region: str | None = None,
    warehouse: str | None = None,
    grade: str | None = None,
    status: LocationStatus | None = None,
    over_limit: bool | None = None,
    at_least_use: float | None = None,
    sort: ReportSort = ReportSort.POINT,
    descending: bool = False,
    offset: int = 0,
    limit: int | None = 100,
) -> NetworkReport:
    """Every point's deposit, limit, exposure and headroom today, filtered
    and sorted; the totals are of every matching point, the items one page
    (`limit` None: all of them, for the spreadsheet)."""
    docs.require_roles(actor, "read the network credit report", *READERS)
    day = session.info["window"].today()
    rows = positions(session, day)
    if region is not None:
        rows = [p for p in rows if p.region == region]
    if warehouse is not None:
        rows = [p for p in rows if p.warehouse == warehouse]
    if grade is not None:
        rows = [p for p in rows if p.grade == grade]
    if status is not None:
        rows = [p for p in rows if p.status == status.value]
    if over_limit is not None:
        rows = [p for p in rows if (p.headroom < 0) is over_limit]
    if at_least_use is not None:
        rows = [p for p in rows if _use(p) >= at_least_use]
    key = {
        ReportSort.POINT: lambda p: p.point,
        ReportSort.DEPOSIT: lambda p: (p.deposit, p.point),
        ReportSort.LIMIT: lambda p: (p.limit, p.point),
        ReportSort.EXPOSURE: lambda p: (p.exposure, p.point),
        ReportSort.HEADROOM: lambda p: (p.headroom, p.point),
        ReportSort.USE: lambda p: (_use(p), p.point),
    }[sort]
    rows.sort(key=key, reverse=descending)
    page = rows[offset:] if limit is None else rows[offset : offset + limit]
    return NetworkReport(
        day=day,
        total=len(rows),
        deposit=sum(p.deposit for p in rows),
        limit=sum(p.limit for p in rows),
        exposure=sum(p.exposure for p in rows),
        headroom=sum(p.headroom for p in rows),
        over_limit=sum(1 for p in rows if p.headroom < 0),
        items=page,
    )
