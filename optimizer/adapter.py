"""The optimiser's thin adapter to the ledger: a snapshot of the network as
arrays in, a plan's requisitions out.

**Snapshot** (`snapshot`): the arrays of optimizer.allocate.Instance, read
through the ledger's own read services, never by re-deriving their rules:

- points: the active service points with a regional warehouse serving them
  (those that may raise a requisition now), by code; `region[p]` is the
  warehouse that serves p, the one its requisitions are issued from;
- warehouses: the regional warehouses, by code; HQ the central warehouse;
- parts: the active, unserialized parts with a standard cost in force on the
  day (those a requisition can carry and credit can value), by SKU;
- `hq`, `reg`: units available (STOCK: usable and not promised, so net of
  the reservations of approved requisitions), from the stock view
  (ledger.parts.stock.location_stock);
- `onhand`: units at each point, on its shelf or on their way to it
  (available + in transit in the point's stock view);
- `headroom`: each point's credit headroom, deposit × leverage − exposure,
  from ledger.money.credit.positions, floored at 0 (a point over its limit
  may take nothing);
- `cost`: the standard cost in force on the day (fen), as credit values stock;
- `weight`: 1.0 for every part: the catalogue has no criticality field;
- `lam`: expected demand over the horizon, from the write-offs of the last
  HISTORY_MONTHS months up to the day (repairs standing, not reversed), by
  point, part and month (rolling months back from the day, so the latest
  repairs count at once), through optimizer.demand.in_service_rates.

**Release** (`release`): a proposed allocation becomes ordinary requisitions,
through the parts cycle's services (ledger.parts.requisitions), all in the
caller's one unit of work: all or nothing.

- each regional warehouse with units to come from HQ (`ship`) raises one
  requisition from HQ, approved at once (HQ's units are reserved for it);
- each point with units planned (`x`) raises one requisition from its
  warehouse for the units the warehouse holds now, approved at once (they
  are reserved at the warehouse); the units that wait for the HQ shipment go
  in a second requisition of the point, submitted, to be approved when that
  shipment is received (the warehouse cannot reserve units it does not hold);
- they are raised and approved under the releasing planner's own approval
  level (ledger.catalog.locations.assign_level), with idempotency keys
  derived from the plan, a seal of its data and the location
  (`PL-000001/<seal>/SP-0001`: only who may read the plan can know them); a plan is
  released once: a second release raises nothing and answers the same numbers.

If the stock moved since the snapshot, the services' own checks refuse the
lines that no longer fit, and the release fails as a whole, naming the
location and the part.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import planning
from ledger.catalog.locations import Location, LocationStatus
from ledger.catalog.parts import Part, standard_costs_on
from ledger.errors import (
    BeyondApprovalLimit,
    Forbidden,
    InsufficientBalance,
    InvalidInput,
    InvalidState,
    LedgerError,
)
from ledger.models import Commodity, CommodityKind, Holder, HolderKind
from ledger.money import credit
from ledger.parts import repairs, requisitions
from ledger.parts.requisitions import LineIn
from ledger.parts.stock import MAX_LIMIT, location_stock
from ledger.policy import SYSTEM, Actor
from optimizer import demand
from optimizer.allocate import Instance, InstanceError, Labels, Plan, instance_from_arrays

HISTORY_MONTHS = 12
WEIGHT_SOURCE = "1.0 for every part (the catalogue has no criticality field)"


# -- snapshot ----------------------------------------------------------------------------


def _today(session: Session) -> date:
    return session.info["window"].today()


def _available(session: Session, code: str, index: dict[str, int], *, transit: bool = False):
    """Units per part (in `index` order) of one location's stock view."""
    out = np.zeros(len(index), dtype=np.int64)
    after = None
    while True:
        page = location_stock(session, SYSTEM, code, after=after, limit=MAX_LIMIT)
        for line in page.items:
            k = index.get(line.sku)
            if k is not None:
                out[k] = line.available + (line.in_transit if transit else 0)
        if page.next_after is None:
            return out
        after = page.next_after


def snapshot(
    session: Session,
    *,
    day: date | None = None,
    horizon_months: int = 3,
    history_months: int = HISTORY_MONTHS,
) -> Instance:
    """The network as an allocation instance (see the module's docstring).
    Stock is as it stands now; `day` (default today) dates the prices, the
    credit positions and the end of the demand history."""
    if not (isinstance(horizon_months, int) and 1 <= horizon_months <= 60):
        raise InvalidInput("horizon_months is 1 to 60", field="horizon_months")
    day = day or _today(session)
    hq = session.scalar(
        select(Holder).where(Holder.kind == HolderKind.HQ.value).order_by(Holder.id).limit(1)
    )
    if hq is None:
        raise InvalidState("there is no HQ warehouse; an admin creates the locations first")
    warehouses = list(
        session.scalars(
            select(Holder)
            .where(Holder.kind == HolderKind.REGIONAL_WAREHOUSE.value)
            .order_by(Holder.code)
        )
    )
    if not warehouses:
        raise InvalidState("there is no regional warehouse to allocate through")
    w_index = {w.id: r for r, w in enumerate(warehouses)}
    point_rows = session.execute(
        select(Holder, Location.served_by_holder_id)
        .join(Location, Location.holder_id == Holder.id)
        .where(
            Holder.kind == HolderKind.SERVICE_POINT.value,
            Location.status == LocationStatus.ACTIVE.value,
            Location.served_by_holder_id.in_(list(w_index)),
        )
        .order_by(Holder.code)
    ).all()
    points = [h for h, _ in point_rows]
    region = np.array([w_index[w] for _, w in point_rows], dtype=np.int64)
    part_rows = session.execute(
        select(Commodity.id, Commodity.code)
        .join(Part, Part.commodity_id == Commodity.id)
        .where(
            Commodity.kind == CommodityKind.PART.value,
            Commodity.serialized.is_(False),
            Part.active.is_(True),
        )
        .order_by(Commodity.code)
    ).all()
    costs = standard_costs_on(session, [cid for cid, _ in part_rows], day)
    part_rows = [(cid, sku) for cid, sku in part_rows if costs.get(cid) is not None]
    skus = [sku for _, sku in part_rows]
    index = {sku: k for k, sku in enumerate(skus)}
    P, K, R = len(points), len(skus), len(warehouses)
    cost = np.array([costs[cid] for cid, _ in part_rows], dtype=np.int64)

    hq_units = _available(session, hq.code, index)
    reg = np.zeros((R, K), dtype=np.int64)
    for r, w in enumerate(warehouses):
        reg[r] = _available(session, w.code, index)
    onhand = np.zeros((P, K), dtype=np.int64)
    for p, h in enumerate(points):
        onhand[p] = _available(session, h.code, index, transit=True)

    headroom_by_code = {pos.point: pos.headroom for pos in credit.positions(session, day)}
    headroom = np.array([max(0, headroom_by_code.get(h.code, 0)) for h in points], dtype=np.int64)

    lam = _demand(session, points, part_rows, region, day, horizon_months, history_months)
    return Instance(
        lam=lam,
        weight=np.ones(K, dtype=np.float64),
        cost=cost,
        hq=hq_units,
        reg=reg,
        region=region,
        headroom=headroom,
        onhand=onhand,
        labels=Labels(
            point=tuple(h.code for h in points),
            part=tuple(skus),
            warehouse=tuple(w.code for w in warehouses),
            hq=hq.code,
        ),
    )


def _demand(session, points, part_rows, region, day, horizon_months, history_months):
    """Write-offs of the `history_months` months up to `day` (rolling months
    of 365.25 / 12 days back from it: the latest repairs count at once), as
    (point, part, month, units) triples for demand.in_service_rates."""
    P, K = len(points), len(part_rows)
    if P == 0 or K == 0:
        return np.zeros((P, K), dtype=np.float64)
    month_days = 365.25 / 12
    first = day - timedelta(days=int(history_months * month_days))
    p_index = {h.id: p for p, h in enumerate(points)}
    k_index = {cid: k for k, (cid, _) in enumerate(part_rows)}
    rt, pt = repairs.repair_t, repairs.part_t
    rows = session.execute(
        select(rt.c.holder_id, pt.c.commodity_id, rt.c.written_off_on, func.sum(pt.c.quantity))
        .join(pt, pt.c.repair_id == rt.c.id)
        .where(
            rt.c.state == repairs.RepairState.WRITTEN_OFF.value,
            rt.c.written_off_on > first,
            rt.c.written_off_on <= day,
        )
        .group_by(rt.c.holder_id, pt.c.commodity_id, rt.c.written_off_on)
    ).all()
    triples: dict[tuple[int, int, int], int] = {}
    for holder_id, commodity_id, on, quantity in rows:
        p, k = p_index.get(holder_id), k_index.get(commodity_id)
        if p is None or k is None:
            continue
        back = min(history_months - 1, int((day - on).days / month_days))
        key = (p, k, history_months - 1 - back)
        triples[key] = triples.get(key, 0) + int(quantity)
    idx = np.array(list(triples), dtype=np.int64).reshape(-1, 3)
    lam = demand.in_service_rates(
        idx[:, 0],
        idx[:, 1],
        idx[:, 2],
        np.array(list(triples.values()), dtype=np.int64),
        P=P,
        K=K,
        months=history_months,
        region=region,
        horizon_months=horizon_months,
    )
    return np.asarray(lam, dtype=np.float64)


# -- a plan's data -----------------------------------------------------------------------

_PLAN_KEYS = ("x", "ship", "objective", "bound", "gap", "seconds", "solver", "method")


def pack_allocation(instance: Instance, plan: Plan) -> bytes:
    """One npz holding the instance (its file's keys, labels included) and the plan."""
    arrays = {
        name: getattr(instance, name)
        for name in ("lam", "weight", "cost", "hq", "reg", "region", "headroom")
    }
    arrays["onhand"] = instance.held()
    if instance.labels is not None:
        arrays["point_code"] = np.array(instance.labels.point, dtype=str)
        arrays["sku"] = np.array(instance.labels.part, dtype=str)
        arrays["warehouse_code"] = np.array(instance.labels.warehouse, dtype=str)
        arrays["hq_code"] = np.array([instance.labels.hq], dtype=str)
    arrays.update(
        x=plan.x, ship=plan.ship, objective=np.float64(plan.objective),
        bound=np.float64(plan.bound), gap=np.float64(plan.gap),
        seconds=np.float64(plan.seconds), solver=np.array(plan.solver),
        method=np.array(plan.method),
    )  # fmt: skip
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


def unpack_allocation(data: bytes) -> tuple[Instance, Plan]:
    with np.load(io.BytesIO(data), allow_pickle=False) as d:
        arrays = {name: d[name] for name in d.files}
    instance = instance_from_arrays({k: v for k, v in arrays.items() if k not in _PLAN_KEYS})
    plan = Plan(
        x=arrays["x"].astype(np.int64),
        ship=arrays["ship"].astype(np.int64),
        objective=float(arrays["objective"]),
        bound=float(arrays["bound"]),
        gap=float(arrays["gap"]),
        seconds=float(arrays["seconds"]),
        solver=str(arrays["solver"]),
        method=str(arrays["method"]),
    )
    return instance, plan


_INPUT_FIELDS = ("cost", "failure_rate", "weight", "moq", "pack", "lead_time_days", "sales")
_INPUT_TEXTS = ("sku", "name", "regions", "months")
_PURCHASE_FIELDS = ("qty", "spend", "fill_rate", "backorders", "weighted_backorders", "bound",
                    "optimal")  # fmt: skip
_FRONTIER_FIELDS = ("budget", "spend", "fill_rate", "backorders", "weighted_backorders",
                    "optimal")  # fmt: skip


def pack_purchase(input_, purchase, frontier, lam) -> bytes:
    """One npz of a purchase: its input, the sizing, the frontier and the demand."""
    arrays = {}
    for name in _INPUT_FIELDS:
        arrays[f"in_{name}"] = np.asarray(getattr(input_, name))
    for name in _INPUT_TEXTS:
        arrays[f"in_{name}"] = np.array(list(getattr(input_, name)), dtype=str)
    for name in _PURCHASE_FIELDS:
        arrays[f"pu_{name}"] = np.asarray(getattr(purchase, name))
    if frontier is not None:
        for name in _FRONTIER_FIELDS:
            arrays[f"fr_{name}"] = np.asarray(getattr(frontier, name))
    arrays["lam"] = np.asarray(lam, dtype=np.float64)
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


def unpack_purchase(data: bytes):
    """(input, purchase, frontier or None, lam (K,)) of a purchase plan's data."""
    from importers.purchase_sheet import PurchaseInput
    from optimizer.purchase import Frontier, Purchase

    with np.load(io.BytesIO(data), allow_pickle=False) as d:
        a = {name: d[name] for name in d.files}
    input_ = PurchaseInput(
        **{name: a[f"in_{name}"] for name in _INPUT_FIELDS},
        **{name: tuple(str(v) for v in a[f"in_{name}"]) for name in _INPUT_TEXTS},
    )
    scalars = {"spend": int, "fill_rate": float, "backorders": float,
               "weighted_backorders": float, "bound": float, "optimal": bool}  # fmt: skip
    purchase = Purchase(
        **{
            name: (scalars[name](a[f"pu_{name}"]) if name in scalars else a[f"pu_{name}"])
            for name in _PURCHASE_FIELDS
        }
    )
    frontier = None
    if "fr_budget" in a:
        frontier = Frontier(**{name: a[f"fr_{name}"] for name in _FRONTIER_FIELDS})
    return input_, purchase, frontier, a["lam"]


# -- release -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseResult:
    plan: str
    requisitions: tuple[str, ...]  # every requisition the release raised
    created: int  # how many this call raised (0: released before)
    # Of them, those submitted to wait for the HQ shipment they depend on.
    awaiting: tuple[str, ...] = ()
    released_before: bool = False  # True when an earlier release did it


def _lines(skus, row) -> list[list[LineIn]]:
    lines = [LineIn(sku=skus[k], quantity=int(q)) for k, q in enumerate(row) if q > 0]
    size = requisitions.MAX_LINES
    return [lines[i : i + size] for i in range(0, len(lines), size)]


def _refusal(plan_number: str, location: str, error: LedgerError, actor: Actor) -> LedgerError:
    """The service's refusal, said as the plan's."""
    if isinstance(error, InsufficientBalance):
        account = str(error.where.get("account", ""))
        sku = account.rsplit(":", 1)[-1] if account else "?"
        return InvalidState(
            f"plan {plan_number} no longer fits the stock: {location}'s requisition of {sku} "
            f"cannot be reserved ({error.detail}); the stock moved since the plan was made. "
            "Run a new allocation and release that one",
            plan=plan_number,
            location=location,
            sku=sku,
        )
    if isinstance(error, BeyondApprovalLimit):
        return Forbidden(
            f"plan {plan_number}: {location}'s requisition is beyond {actor.username}'s approval "
            f"level ({error.detail}); an admin gives {actor.username} a higher approval level "
            "(PUT /users/{username}/approval-level), then release again",
            plan=plan_number,
            location=location,
        )
    if isinstance(error, Forbidden) and "approval level" in error.detail:
        return Forbidden(
            f"releasing plan {plan_number} approves its requisitions under your own authority, "
            f"but {actor.username} has no active approval level; an admin gives the planner one "
            f"(PUT /users/{actor.username}/approval-level), then release again",
            plan=plan_number,
        )
    detail = f"plan {plan_number}, {location}: {error.detail}"
    return type(error)(detail, **{**error.where, "plan": plan_number, "location": location})


def release(session: Session, actor: Actor, plan_number: str, *, key: str | None) -> ReleaseResult:
    """Release a proposed allocation as requisitions (see the module's docstring)."""
    from ledger.journal import check_idempotency_key

    check_idempotency_key(key)
    view = planning.lock_for_release(session, actor, plan_number)
    if view.status is planning.PlanStatus.RELEASED:
        awaiting = tuple(view.summary.get("awaiting", ()))
        return ReleaseResult(view.number, tuple(view.requisitions), 0, awaiting, True)
    if view.kind is not planning.PlanKind.ALLOCATION:
        raise InvalidState(
            f"plan {view.number} is a {view.kind.value} plan; only an allocation is released as "
            "requisitions",
            plan=view.number,
        )
    data = planning.plan_data(session, actor, view.number)
    # The requisitions' idempotency keys carry a seal of the plan's data: only
    # who may read the plan can know them, so no one else can take one first.
    seal = hashlib.sha256(data).hexdigest()[:20]
    try:
        instance, plan = unpack_allocation(data)
    except (InstanceError, KeyError, ValueError, OSError) as exc:
        raise InvalidState(f"plan {view.number}'s data cannot be read: {exc}") from None
    if instance.labels is None:
        raise InvalidState(
            f"plan {view.number} was made from a file without location and part codes; "
            "only a plan from the ledger's snapshot can be released",
            plan=view.number,
        )
    labels = instance.labels
    numbers: list[str] = []
    awaiting: list[str] = []

    def raise_(location: str, lines: list[LineIn], suffix: str, approve: bool, note: str) -> str:
        base = f"{view.number}/{seal}/{location}{suffix}"
        try:
            rq = requisitions.create(
                session, actor, lines=lines, requester=location, note=note, submit=True, key=base
            )
            if approve:
                requisitions.approve(session, actor, rq.number, key=f"{base}/approve")
        except LedgerError as error:
            raise _refusal(view.number, location, error, actor) from None
        return rq.number

    # HQ → warehouse first: its reservation at HQ, before the points' at the warehouses.
    ship = np.asarray(plan.ship)
    x = np.asarray(plan.x)
    hq_requisition: dict[int, list[str]] = {}
    for r, code in enumerate(labels.warehouse):
        for n, lines in enumerate(_lines(labels.part, ship[r])):
            suffix = "" if n == 0 else f"/{n + 1}"
            made = raise_(code, lines, suffix, True, f"plan {view.number}: from {labels.hq}")
            numbers.append(made)
            hq_requisition.setdefault(r, []).append(made)
    # Each point: what its warehouse holds now, approved; the rest waits for HQ's units.
    left = np.asarray(instance.reg).copy()
    for p, code in enumerate(labels.point):
        r = int(instance.region[p])
        now = np.minimum(x[p], left[r])
        left[r] -= now
        later = x[p] - now
        for n, lines in enumerate(_lines(labels.part, now)):
            suffix = "" if n == 0 else f"/{n + 1}"
            numbers.append(raise_(code, lines, suffix, True, f"plan {view.number}"))
        waits = ", ".join(hq_requisition.get(r, [])) or labels.hq
        for n, lines in enumerate(_lines(labels.part, later)):
            made = raise_(
                code, lines, f"/after-hq/{n + 1}", False,
                f"plan {view.number}: approve once {waits} from {labels.hq} is received",
            )  # fmt: skip
            numbers.append(made)
            awaiting.append(made)
    _record_release(session, actor, view.number, numbers, awaiting)
    return ReleaseResult(view.number, tuple(numbers), len(numbers), tuple(awaiting))


def _record_release(session, actor, plan_number, numbers, awaiting) -> None:
    planning.mark_released(session, actor, plan_number, numbers)
    if awaiting:
        planning.note_summary(session, plan_number, {"awaiting": list(awaiting)})
