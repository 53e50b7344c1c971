"""National allocation: spread the stock on hand over the service points so
that the fewest repairs wait, within each point's credit.

The problem, per point p and part k with demand D_pk ~ Poisson(λ_pk):

    minimise   Σ_pk w_k · E[(D_pk − onhand_pk − x_pk)⁺]
    subject to Σ_{p in region r} x_pk ≤ reg_rk + ship_rk     (a warehouse serves its own points)
               Σ_r ship_rk ≤ hq_k                            (HQ may send to any warehouse)
               Σ_k cost_k · x_pk ≤ headroom_p                (credit)
               x, ship ≥ 0 integer

Write the j-th unit of (p, k) as an *increment* of value w_k · P(D ≥ onhand + j):
values fall with j, so backorders are the total demand's minus the values taken.

**Method, national instances.** Credit is priced out with a multiplier μ_p
per point (Lagrangian relaxation). For fixed μ every part is an exact,
integral problem: the units of one part form a transversal matroid (a unit
of region r may take a slot of r's own stock or one of HQ's), so taking
increments by value w·s − μ_p·cost, own stock first, is optimal
(`_parts_step`). Its value plus Σ μ_p·headroom_p bounds what any plan can
gain: that is the lower bound on backorders reported with every plan, and it
equals the LP relaxation's at the best μ. The multipliers come from a
best-response iteration: each point whose credit binds answers the warehouse
prices of the last step with the μ at which its knapsack just fits
(`_points_step`); it settles in a few rounds because each point is small
beside the market for any part.

Every few rounds the relaxed plan is made integral and feasible (`_round`):
each binding point solves its own 0-1 knapsack against the warehouse prices
exactly, with OR-Tools' knapsack solver (branch and bound; a few hundred
units per point, where greedy rounding leaves credit unused); the units the LP
would also take go first, the cheaper extras compete for stock at their true
value, and the freed stock and credit are filled greedily (`_repair`).

**Method, small instances** (up to `_EXACT_INCREMENTS` units in play): the
MIP over every unit, by OR-Tools' SCIP, to optimality, with SCIP's proof as
the bound. SCIP rather than CP-SAT because the objective is real-valued
(probabilities): CP-SAT would need it scaled to integers, and the optimum
could move with the scale.

Mid-sized instances get both: the Lagrangian plan, then SCIP in the time
left, the better plan and the higher bound kept.

Why not one solver for the national instance: its LP has ~19 million columns
(3,000 × 2,000 pairs × the units worth considering; an LP with rounding took
159 s on it), while the decomposition above solves each of its pieces
exactly in about a second per round, and its bound is the LP's.

Last, a unit that would most likely sit unused is kept back (`min_gain`,
`_worth_sending`); the bound stays that of the problem without this rule.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

import numpy as np
from ortools.algorithms.python import knapsack_solver
from ortools.linear_solver import pywraplp
from scipy.special import gammaln, pdtrc

from optimizer.poisson import expected_backorders

Progress = Callable[[int, int, str], None]

# An increment below this probability P(D ≥ j) is not generated; what all such
# increments could still gain is added to the bound, so it stays valid.
_EPS = 1e-7


class InstanceError(ValueError):
    """An instance or plan that cannot be used, naming the array at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Labels:
    """What the indices stand for, when the instance comes from the ledger."""

    point: tuple[str, ...]
    part: tuple[str, ...]
    warehouse: tuple[str, ...]
    hq: str


@dataclass(frozen=True)
class Instance:
    lam: np.ndarray  # (P, K) float64, expected demand over the horizon
    weight: np.ndarray  # (K,) float64, criticality
    cost: np.ndarray  # (K,) int64 fen per unit
    hq: np.ndarray  # (K,) int64 units available at HQ
    reg: np.ndarray  # (R, K) int64 units available at each regional warehouse
    region: np.ndarray  # (P,) int64, each point's warehouse
    headroom: np.ndarray  # (P,) int64 fen of credit left
    onhand: np.ndarray | None = None  # (P, K) int64 units already at the points
    labels: Labels | None = None

    @property
    def P(self) -> int:
        return int(self.lam.shape[0])

    @property
    def K(self) -> int:
        return int(self.lam.shape[1])

    @property
    def R(self) -> int:
        return int(self.reg.shape[0])

    def held(self) -> np.ndarray:
        """Units already at each point (zeros when the instance has none)."""
        if self.onhand is None:
            return np.zeros(self.lam.shape, dtype=np.int64)
        return self.onhand


@dataclass
class Plan:
    x: np.ndarray  # (P, K) int64 units to each point
    ship: np.ndarray  # (R, K) int64 units HQ → warehouse
    objective: float  # Σ w · E[(D − onhand − x)⁺]
    bound: float  # a valid lower bound on the objective of any plan
    gap: float  # (objective − bound) / objective
    seconds: float = 0.0
    solver: str = ""
    method: str = ""
    history: list[tuple[float, float, float]] = field(default_factory=list)  # (s, objective, bound)


# --------------------------------------------------------------------------- files

_REQUIRED = ("lam", "weight", "cost", "hq", "reg", "region", "headroom")
_LIMIT = 2**53  # integers beyond this lose exactness in the float arithmetic
MAX_DEMAND = 100_000  # expected units per point and part over the horizon
MAX_WEIGHT = 1_000_000
MAX_UNITS_WEIGHED = 100_000_000  # about 3 times a national network: ~5 GB at most


def _array(data, name: str, *, ndim: int, integer: bool) -> np.ndarray:
    if name not in data:
        raise InstanceError(name, f"missing; an instance needs {', '.join(_REQUIRED)}")
    a = np.asarray(data[name])
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise InstanceError(name, f"must be numbers, not {a.dtype}")
    if a.ndim != ndim:
        raise InstanceError(name, f"must have {ndim} dimension(s), has shape {a.shape}")
    if integer:
        if a.dtype.kind == "f" and (not np.all(np.isfinite(a)) or np.any(a != np.round(a))):
            raise InstanceError(name, "must hold whole numbers")
        if a.size and (np.abs(a.astype(np.float64)).max() >= _LIMIT):
            raise InstanceError(name, f"holds a number beyond ±2^53 (largest {a.max()})")
        a = a.astype(np.int64)
        if a.size and a.min() < 0:
            raise InstanceError(name, f"must not be negative (smallest {a.min()})")
    else:
        a = a.astype(np.float64)
        if a.size and not np.all(np.isfinite(a)):
            raise InstanceError(name, "holds NaN or infinity")
        if a.size and a.min() < 0:
            raise InstanceError(name, f"must not be negative (smallest {a.min()})")
    return a


def instance_from_arrays(data, labels: Labels | None = None) -> Instance:
    """Check and convert arrays (a dict or an open npz) into an Instance."""
    lam = _array(data, "lam", ndim=2, integer=False)
    P, K = lam.shape
    weight = _array(data, "weight", ndim=1, integer=False)
    cost = _array(data, "cost", ndim=1, integer=True)
    hq = _array(data, "hq", ndim=1, integer=True)
    reg = _array(data, "reg", ndim=2, integer=True)
    region = _array(data, "region", ndim=1, integer=True)
    headroom = _array(data, "headroom", ndim=1, integer=True)
    onhand = _array(data, "onhand", ndim=2, integer=True) if "onhand" in data else None
    for name, a, shape in (
        ("weight", weight, (K,)),
        ("cost", cost, (K,)),
        ("hq", hq, (K,)),
        ("region", region, (P,)),
        ("headroom", headroom, (P,)),
    ):
        if a.shape != shape:
            raise InstanceError(name, f"must have shape {shape} to match lam {lam.shape}")
    if reg.shape[1:] != (K,) or reg.shape[0] < 1:
        raise InstanceError("reg", f"must have shape (R, {K}) with R ≥ 1, has {reg.shape}")
    if P and region.max() >= reg.shape[0]:
        raise InstanceError(
            "region", f"names warehouse {region.max()} but reg has only {reg.shape[0]} rows"
        )
    if onhand is not None and onhand.shape != lam.shape:
        raise InstanceError("onhand", f"must have shape {lam.shape} like lam")
    if weight.size and weight.max() > MAX_WEIGHT:
        raise InstanceError(
            "weight", f"at most {MAX_WEIGHT:,}: weights compare parts, they are not money"
        )
    if lam.size and lam.max() > MAX_DEMAND:
        p, k = np.unravel_index(int(lam.argmax()), lam.shape)
        raise InstanceError(
            "lam",
            f"point {p}, part {k} expects {lam[p, k]:.3g} units; at most {MAX_DEMAND:,} "
            "per point and part over the horizon (shorten the horizon)",
        )
    # Every quantity of a plan is at most the stock, so if the stock's value fits
    # in int64 with room to spare, so does any point's spend.
    units = hq + reg.sum(axis=0) + (onhand.max(axis=0) if onhand is not None and P else 0)
    if float(units.astype(np.float64) @ cost.astype(np.float64)) >= 2.0**62:
        raise InstanceError("cost", "the stock's value (units × cost) is beyond 2^62 fen")
    # The units worth weighing are about λ + 6√λ + 4 per pair: bounded, so
    # that an instance cannot ask for more memory than the machine has.
    weigh = float(np.sum(lam + 6.0 * np.sqrt(lam) + 4.0 * (lam > 0)))
    if weigh > MAX_UNITS_WEIGHED:
        raise InstanceError(
            "lam",
            f"about {weigh:,.0f} units to weigh, more than {MAX_UNITS_WEIGHED:,}: split the "
            "network by region or shorten the horizon",
        )
    if labels is None and "point_code" in data:  # the labels an instance file may carry
        for name in ("sku", "warehouse_code", "hq_code"):
            if name not in data or np.asarray(data[name]).size == 0:
                raise InstanceError(
                    name, "missing: labels need point_code, sku, warehouse_code, hq_code"
                )
        labels = Labels(
            point=tuple(str(v) for v in data["point_code"]),
            part=tuple(str(v) for v in data["sku"]),
            warehouse=tuple(str(v) for v in data["warehouse_code"]),
            hq=str(np.asarray(data["hq_code"]).reshape(-1)[0]),
        )
        if (len(labels.point), len(labels.part), len(labels.warehouse)) != (P, K, reg.shape[0]):
            raise InstanceError("point_code", "labels do not match the arrays' shapes")
        for name, codes in (("point_code", labels.point), ("sku", labels.part),
                            ("warehouse_code", labels.warehouse)):  # fmt: skip
            if len(set(codes)) != len(codes):
                raise InstanceError(name, "names one code twice")
    return Instance(lam, weight, cost, hq, reg, region, headroom, onhand, labels)


_OPTIONAL = ("onhand", "point_code", "sku", "warehouse_code", "hq_code")
_MAX_FILE_BYTES = 2 * 1024**3  # what the arrays of an instance may unpack to, in all


def _members(source: str | IO[bytes], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named arrays of an .npz, each checked for its unpacked size before
    it is read (an archive can claim far more than it holds); others are not read."""
    try:
        data = np.load(source, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # not an npz, or a damaged one
        raise InstanceError("file", "not a readable numpy .npz file") from exc
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise InstanceError("file", "a single .npy array, not an .npz of named arrays")
    with data:
        sizes = {info.filename.removesuffix(".npy"): info.file_size for info in data.zip.infolist()}
        wanted = [name for name in names if name in sizes]
        if sum(sizes[name] for name in wanted) > _MAX_FILE_BYTES:
            raise InstanceError("file", "its arrays unpack to more than 2 GiB")
        try:
            return {name: data[name] for name in wanted}
        except (OSError, ValueError, EOFError, MemoryError) as exc:
            raise InstanceError("file", f"an array cannot be read ({exc})") from None


def load_instance(source: str | IO[bytes]) -> Instance:
    """Read an instance file (numpy .npz), refusing anything malformed by name."""
    return instance_from_arrays(_members(source, _REQUIRED + _OPTIONAL))


def save_instance(instance: Instance, target: str | IO[bytes]) -> None:
    arrays = {name: getattr(instance, name) for name in _REQUIRED}
    if instance.onhand is not None:
        arrays["onhand"] = instance.onhand
    if instance.labels is not None:
        arrays["point_code"] = np.array(instance.labels.point, dtype=str)
        arrays["sku"] = np.array(instance.labels.part, dtype=str)
        arrays["warehouse_code"] = np.array(instance.labels.warehouse, dtype=str)
        arrays["hq_code"] = np.array([instance.labels.hq], dtype=str)
    np.savez_compressed(target, **arrays)


def save_plan(plan: Plan, target: str | IO[bytes]) -> None:
    np.savez_compressed(
        target,
        x=plan.x,
        ship=plan.ship,
        objective=np.float64(plan.objective),
        bound=np.float64(plan.bound),
        gap=np.float64(plan.gap),
        seconds=np.float64(plan.seconds),
        solver=np.array(plan.solver),
        method=np.array(plan.method),
    )


def load_plan(source: str | IO[bytes]) -> Plan:
    d = _members(source, ("x", "ship", "objective", "bound", "gap", "seconds", "solver", "method"))
    try:
        return Plan(
            x=_array(d, "x", ndim=2, integer=True),
            ship=_array(d, "ship", ndim=2, integer=True),
            objective=float(d["objective"]),
            bound=float(d["bound"]),
            gap=float(d["gap"]),
            seconds=float(d["seconds"]) if "seconds" in d else 0.0,
            solver=str(d["solver"]) if "solver" in d else "",
            method=str(d["method"]) if "method" in d else "",
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise InstanceError("file", f"not a readable plan file ({exc})") from None


# --------------------------------------------------------------------------- measures


def objective_of(instance: Instance, x: np.ndarray) -> float:
    """Σ w · E[(D − onhand − x)⁺]: weighted expected backorders of a plan."""
    ebo = expected_backorders(instance.lam, instance.held() + x)
    return float(ebo.sum(axis=0) @ instance.weight)


def region_fill(instance: Instance, x: np.ndarray | None = None) -> np.ndarray:
    """Expected fill rate of each warehouse's points with onhand (+ x): (R,)."""
    held = instance.held() if x is None else instance.held() + x
    met = instance.lam - expected_backorders(instance.lam, held)
    demand = np.bincount(instance.region, instance.lam.sum(axis=1), minlength=instance.R)
    served = np.bincount(instance.region, met.sum(axis=1), minlength=instance.R)
    return np.divide(served, demand, out=np.ones(instance.R), where=demand > 0)


def ship_for(instance: Instance, x: np.ndarray) -> np.ndarray:
    """The least HQ → warehouse shipments that let the warehouses deliver x."""
    need = np.zeros((instance.R, instance.K), dtype=np.int64)
    np.add.at(need, instance.region, x)
    return np.maximum(need - instance.reg, 0)


def check_plan(instance: Instance, plan: Plan) -> None:
    """Refuse a plan that breaks supply or credit, naming what and where."""
    x, ship = plan.x, plan.ship
    if x.shape != instance.lam.shape:
        raise InstanceError("x", f"must have shape {instance.lam.shape}, has {x.shape}")
    if ship.shape != instance.reg.shape:
        raise InstanceError("ship", f"must have shape {instance.reg.shape}, has {ship.shape}")
    if x.min(initial=0) < 0 or ship.min(initial=0) < 0:
        raise InstanceError("x", "quantities must not be negative")
    # Coarsely in floats first, so that no integer sum below can overflow.
    stock = (instance.hq + instance.reg.sum(axis=0)).astype(np.float64)
    if (x.astype(np.float64).sum(axis=0) > stock + 0.5).any() or (
        ship.astype(np.float64).sum(axis=0) > instance.hq + 0.5
    ).any():
        raise InstanceError("x", "sends more of a part than HQ and the warehouses hold")
    over_hq = ship.sum(axis=0) - instance.hq
    if over_hq.max(initial=0) > 0:
        k = int(over_hq.argmax())
        raise InstanceError("ship", f"part {k} ships {over_hq[k]} more than HQ holds")
    need = np.zeros_like(instance.reg)
    np.add.at(need, instance.region, x)
    over = need - instance.reg - ship
    if over.max(initial=0) > 0:
        r, k = np.unravel_index(int(over.argmax()), over.shape)
        raise InstanceError("x", f"warehouse {r} is short of {over[r, k]} of part {k}")
    spend = x @ instance.cost
    over_credit = spend - instance.headroom
    if over_credit.max(initial=0) > 0:
        p = int(over_credit.argmax())
        raise InstanceError("x", f"point {p} exceeds its headroom by {over_credit[p]} fen")


def _plan(instance: Instance, x: np.ndarray, bound: float, started: float, **kw) -> Plan:
    objective = objective_of(instance, x)
    gap = (objective - bound) / objective if objective > 0 else 0.0
    return Plan(
        x=x,
        ship=ship_for(instance, x),
        objective=objective,
        bound=bound,
        gap=max(gap, 0.0),
        seconds=time.perf_counter() - started,
        **kw,
    )


# --------------------------------------------------------------------------- increments


@dataclass
class _Increments:
    """Every unit worth considering, part by part: the j-th unit of (p, k) has
    probability s = P(D ≥ onhand + j) and value w_k · s. Units of part k are
    `start[k]:start[k+1]`, point by point, j ascending."""

    s: np.ndarray  # (n,) float64
    point: np.ndarray  # (n,) int32
    part: np.ndarray  # (n,) int32
    start: np.ndarray  # (K + 1,) int64
    residual: float  # what every unit not generated could gain at most (weighted)


def _increments(instance: Instance, eps: float = _EPS) -> _Increments:
    P, K = instance.P, instance.K
    lam = np.ascontiguousarray(instance.lam.T).ravel()  # pair q = k·P + p
    held = np.ascontiguousarray(instance.held().T).ravel()
    weight = np.repeat(instance.weight, P)
    q = np.flatnonzero(lam > 0)
    lq = lam[q]
    n = held[q].astype(np.float64) + 1.0  # the demand D = n whose probability is `pmf`
    s = pdtrc(n - 1.0, lq)  # P(D ≥ held + 1)
    pmf = np.exp(-lq + n * np.log(lq) - gammaln(n + 1.0))  # P(D = held + 1)
    levels_q, levels_s = [], []
    residual = 0.0
    while q.size:
        keep = s > eps
        if not keep.all():
            # A pair's units stop here, after m = n − 1 units in all: what the
            # rest could still gain is E[(D − m)⁺] = (λ − m)·P(D ≥ m + 1) + (m + 1)·P(D = m + 1).
            gone = ~keep
            tail = (lam[q[gone]] - (n[gone] - 1.0)) * s[gone] + n[gone] * pmf[gone]
            residual += float(np.maximum(tail, 0.0) @ weight[q[gone]])
            q, s, pmf, n = q[keep], s[keep], pmf[keep], n[keep]
        if not q.size:
            break
        levels_q.append(q)
        levels_s.append(s)
        # Step down the distribution: P(D ≥ n + 1) = P(D ≥ n) − P(D = n).
        s = np.maximum(s - pmf, 0.0)
        n = n + 1.0
        pmf = pmf * lam[q] / n
        # Far in the left tail of a large λ, P(D = n) underflows (to 0, or to a
        # subnormal float with a few bits left) and the recursion would carry
        # that on: take it afresh from its logarithm until it is a normal float.
        lost = (pmf < 1e-280) & (n <= lam[q])
        if lost.any():
            lq, nl = lam[q[lost]], n[lost]
            pmf[lost] = np.exp(-lq + nl * np.log(lq) - gammaln(nl + 1.0))
    counts = np.zeros(P * K, dtype=np.int64)
    for level in levels_q:
        counts[level] += 1
    offset = np.concatenate(([0], np.cumsum(counts)))
    total = int(offset[-1])
    s_all = np.empty(total, dtype=np.float64)
    point = np.empty(total, dtype=np.int32)
    for j, (level, values) in enumerate(zip(levels_q, levels_s, strict=True)):
        at = offset[level] + j
        s_all[at] = values
        point[at] = level % P
    start = offset[np.arange(K + 1) * P]
    part = np.repeat(np.arange(K, dtype=np.int32), np.diff(start))
    # The float steps above are exact to ~1e-16 per unit; the margin keeps the
    # bound a bound whatever their rounding.
    residual += 1e-12 * total
    return _Increments(s_all, point, part, start, residual)


# --------------------------------------------------------------------------- the two steps


@dataclass
class _PartsResult:
    taken: np.ndarray  # (n,) bool: the increments taken
    alpha: np.ndarray  # (R, K) the value of one more unit at each warehouse
    value: float  # Σ (w·s − μ·cost) over the increments taken


def _parts_step(
    instance: Instance, inc: _Increments, mu: np.ndarray, bias: np.ndarray | None = None
) -> _PartsResult:
    """For fixed credit prices μ, the exact best use of every part's stock.
    `bias` (per increment) is added to the values: a large one makes a unit
    go first, a negative one keeps it out."""
    R, K = instance.R, instance.K
    region = instance.region
    taken = np.zeros(inc.s.size, dtype=bool)
    alpha = np.zeros((R, K))
    value = 0.0
    for k in range(K):
        a, b = int(inc.start[k]), int(inc.start[k + 1])
        if a == b:
            continue
        pts = inc.point[a:b]
        v = instance.weight[k] * inc.s[a:b] - mu[pts] * float(instance.cost[k])
        if bias is not None:
            v = v + bias[a:b]
        idx = np.flatnonzero(v > 0)
        if not idx.size:
            continue
        vv = v[idx]
        rr = region[pts[idx]]
        # Sort by warehouse, then by value, highest first, in one key in [r, r + 1).
        order = np.argsort(rr + (1.0 - vv / (vv.max() * (1.0 + 1e-9))))
        count = np.bincount(rr, minlength=R)
        first = np.cumsum(count) - count
        r_sorted = rr[order]
        own = (np.arange(order.size) - first[r_sorted]) < instance.reg[r_sorted, k]
        chosen = [order[own]]
        rest = order[~own]
        supply = int(instance.hq[k])
        if rest.size <= supply:
            chosen.append(rest)
            # Every unit that wants stock has it: one more is worth nothing.
        else:
            rv = vv[rest]
            part = np.argpartition(-rv, supply) if supply else np.arange(rest.size)
            chosen.append(rest[part[:supply]])
            left = rest[part[supply:]]
            beta = float(rv[part[supply:]].max())
            # One more unit at warehouse r goes to r's best unit left without,
            # or frees one of HQ's for the best unit anywhere (β) if r draws on HQ.
            best_left = np.zeros(R)
            np.maximum.at(best_left, rr[left], vv[left])
            draws = np.bincount(rr[rest[part[:supply]]], minlength=R) > 0
            alpha[:, k] = np.where(draws, beta, best_left)
        picked = idx[np.concatenate(chosen)]
        taken[a + picked] = True
        value += float(v[picked].sum())
    return _PartsResult(taken, alpha, value)


def _units_of(
    instance: Instance, inc: _Increments, alpha: np.ndarray, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The increments of the listed points worth more than the warehouse price
    α of their part: their indices, points, value less price, and cost (fen)."""
    inside = np.zeros(instance.P, dtype=bool)
    inside[points] = True
    sel = np.flatnonzero(inside[inc.point])
    pts = inc.point[sel]
    ks = inc.part[sel]
    u = instance.weight[ks] * inc.s[sel] - alpha[instance.region[pts], ks]
    keep = u > 0
    return sel[keep], pts[keep], u[keep], instance.cost[ks[keep]].astype(np.float64)


def _points_step(
    instance: Instance, inc: _Increments, alpha: np.ndarray, points: np.ndarray
) -> np.ndarray:
    """Each listed point's answer to the warehouse prices α: the credit price at
    which its knapsack (units by value less price, per fen) just fits."""
    P = instance.P
    mu = np.zeros(P)
    if not points.size:
        return mu
    _, pts, u, c = _units_of(instance, inc, alpha, points)
    ratio = np.divide(u, c, out=np.full(u.shape, np.inf), where=c > 0)
    finite = np.isfinite(ratio)
    top = ratio[finite].max() if finite.any() else 1.0
    rank = np.empty(P, dtype=np.int64)
    rank[points] = np.arange(points.size)
    key = rank[pts] + (1.0 - np.minimum(ratio, top) / (top * (1.0 + 1e-9)))
    order = np.argsort(key)
    pts, c, ratio = pts[order], c[order], ratio[order]
    spent = np.cumsum(c)
    before = np.concatenate(([0.0], spent[:-1]))
    first = np.searchsorted(rank[pts], np.arange(points.size))
    base = before[np.minimum(first, before.size - 1)] if before.size else np.zeros(points.size)
    within = spent - base[rank[pts]]
    over = within > instance.headroom[pts]
    # Within a point `over` turns true once and stays: its first unit that does
    # not fit sets μ, the value per fen that point can just afford.
    cut = np.flatnonzero(over & np.concatenate(([True], (pts[1:] != pts[:-1]) | ~over[:-1])))
    mu[pts[cut]] = np.where(np.isfinite(ratio[cut]), ratio[cut], 0.0)
    return mu


# --------------------------------------------------------------------------- an integral plan


def _units(instance: Instance, inc: _Increments, taken: np.ndarray) -> np.ndarray:
    """x (P, K) from the increments taken."""
    flat = np.bincount(
        inc.part[taken].astype(np.int64) * instance.P + inc.point[taken],
        minlength=instance.P * instance.K,
    )
    return flat.reshape(instance.K, instance.P).T.astype(np.int64)


def _repair(instance: Instance, inc: _Increments, taken: np.ndarray) -> np.ndarray:
    """Make the increments taken fit every point's credit, then give the stock
    and credit so freed to the best units that fit. Returns the new mask."""
    taken = taken.copy()
    P = instance.P
    k_of = inc.part
    cost = instance.cost.astype(np.int64)
    spend = np.rint(np.bincount(inc.point[taken], cost[k_of[taken]], minlength=P)).astype(np.int64)
    over = spend > instance.headroom
    if over.any():
        # At a point over its headroom, give back the units of least value per
        # fen (a pair's last unit first, as its value is the lowest) until it fits.
        sel = np.flatnonzero(taken & over[inc.point])
        pts = inc.point[sel]
        c = cost[k_of[sel]].astype(np.float64)
        ratio = instance.weight[k_of[sel]] * inc.s[sel] / np.maximum(c, 1e-300)
        order = np.lexsort((ratio, pts))
        sel, pts, c = sel[order], pts[order], c[order]
        cum = np.cumsum(c)
        start = np.searchsorted(pts, pts)  # first index of each unit's point
        before = np.concatenate(([0.0], cum))[start]
        given_before = cum - c - before  # cost given back before this unit
        excess = (spend - instance.headroom)[pts]
        drop = given_before < excess
        taken[sel[drop]] = False
        spend -= np.rint(np.bincount(pts[drop], c[drop], minlength=P)).astype(np.int64)
    return _fill(instance, inc, taken, spend)


def _fill(instance: Instance, inc: _Increments, taken: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """Greedy by value: each pair's next unit, while its warehouse (or HQ) has
    stock left and its point credit left."""
    K, R = instance.K, instance.R
    k_of = inc.part
    x = _units(instance, inc, taken)
    need = np.zeros((R, K), dtype=np.int64)
    np.add.at(need, instance.region, x)
    free_reg = np.maximum(instance.reg - need, 0)
    free_hq = instance.hq - np.maximum(need - instance.reg, 0).sum(axis=0)
    left = instance.headroom - spend
    cost = instance.cost
    for _ in range(4):
        open_k = (free_hq > 0) | (free_reg > 0).any(axis=0)
        cand = np.flatnonzero(~taken & open_k[k_of])
        if not cand.size:
            break
        # Only a pair's first unit not taken may be added.
        first = np.concatenate(([True], inc.point[cand[1:]] != inc.point[cand[:-1]]))
        first |= np.concatenate(([True], k_of[cand[1:]] != k_of[cand[:-1]]))
        cand = cand[first]
        pts = inc.point[cand]
        ks = k_of[cand]
        cand = cand[cost[ks] <= left[pts]]
        if not cand.size:
            break
        value = instance.weight[k_of[cand]] * inc.s[cand]
        cand = cand[np.argsort(-value, kind="stable")]
        added = 0
        region = instance.region
        for i in cand.tolist():
            p = int(inc.point[i])
            k = int(k_of[i])
            c = int(cost[k])
            if c > left[p]:
                continue
            r = int(region[p])
            if free_reg[r, k] > 0:
                free_reg[r, k] -= 1
            elif free_hq[k] > 0:
                free_hq[k] -= 1
            else:
                continue
            left[p] -= c
            taken[i] = True
            added += 1
        if not added:
            break
    return taken


def _point_knapsacks(
    instance: Instance,
    inc: _Increments,
    alpha: np.ndarray,
    points: np.ndarray,
    *,
    exact: bool = True,
) -> np.ndarray:
    """Each listed point's own choice against the warehouse prices α: its units
    by value less price per fen, taken greedily while they fit its headroom
    (skipping one that does not fit for cheaper ones after it). Returns the
    mask of increments chosen (other points' increments are all False)."""
    P = instance.P
    chosen = np.zeros(inc.s.size, dtype=bool)
    if not points.size:
        return chosen
    sel, pts, u, c = _units_of(instance, inc, alpha, points)
    ratio = u / np.maximum(c, 1e-9)
    order = np.lexsort((-ratio, pts))
    sel, pts, c = sel[order], pts[order], c[order]
    cum = np.cumsum(c)
    head = np.searchsorted(pts, pts)
    within = cum - np.concatenate(([0.0], cum))[head]
    room = instance.headroom[pts].astype(np.float64)
    fits = within <= room
    chosen[sel[fits]] = True
    # Past a point's first misfit only units cheaper than what is left can go in.
    spent = np.bincount(pts[fits], c[fits], minlength=P)
    left = instance.headroom - np.rint(spent).astype(np.int64)
    rest = np.flatnonzero(~fits & (c <= left[pts]))
    for i in rest.tolist():
        p = int(pts[i])
        if c[i] <= left[p]:
            left[p] -= int(c[i])
            chosen[sel[i]] = True
    if exact:
        _exact_knapsacks(instance, chosen, sel, pts, c, u[order])
    return chosen


def _exact_knapsacks(
    instance: Instance,
    chosen: np.ndarray,
    sel: np.ndarray,
    pts: np.ndarray,
    c: np.ndarray,
    u: np.ndarray,
) -> None:
    """Replace each point's greedy choice by the 0-1 knapsack's optimum (OR-Tools'
    branch and bound, a few hundred units each, a short time limit per point);
    kept only where it is worth more than the greedy choice. Units of a pair
    need no precedence: a pair's units cost the same and are worth less the
    later they come, so an optimum always takes a pair's first ones."""
    bounds = np.flatnonzero(np.concatenate(([True], pts[1:] != pts[:-1], [True])))
    scale = 1e9 / max(float(u.max(initial=0.0)), 1e-12)  # profits as int64, ~9 digits
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        p = int(pts[a])
        profits = np.rint(u[a:b] * scale).astype(np.int64)
        solver = knapsack_solver.KnapsackSolver(
            knapsack_solver.SolverType.KNAPSACK_MULTIDIMENSION_BRANCH_AND_BOUND_SOLVER, "point"
        )
        solver.set_time_limit(0.05)
        solver.init(
            profits.tolist(), [c[a:b].astype(np.int64).tolist()], [int(instance.headroom[p])]
        )
        solver.solve()
        picked = np.fromiter(
            (solver.best_solution_contains(i) for i in range(b - a)), dtype=bool, count=b - a
        )
        if u[a:b][picked].sum() > u[a:b][chosen[sel[a:b]]].sum():
            chosen[sel[a:b]] = picked


# --------------------------------------------------------------------------- the solvers

_EXACT_INCREMENTS = 12_000  # up to this many units in play, SCIP proves the optimum in seconds
_MIP_TRIES_INCREMENTS = 150_000  # up to this many, SCIP is also tried in the time left


def allocate(
    instance: Instance,
    *,
    time_limit: float = 30.0,
    target_gap: float = 1e-4,
    progress: Progress | None = None,
    exact: bool | None = None,
    min_gain: float = 0.01,
) -> Plan:
    """The plan of least weighted expected backorders found within `time_limit`
    seconds, with a valid lower bound and its gap. Small instances (or
    `exact=True`) are solved to optimality by a MIP; large ones by the
    Lagrangian method of this module's docstring, and mid-sized ones by both
    in the time given, the better kept.

    A unit that would most likely sit unused is not sent: the plan keeps a
    unit only where weight × P(D ≥ that unit) is at least `min_gain` (0.01:
    at weight 1, a unit with less than a 1-in-100 chance of being used within
    the horizon stays in the warehouse). The bound stays that of the problem
    without this rule, so the gap reported includes what the rule costs."""
    if not (np.isfinite(time_limit) and time_limit > 0):
        raise ValueError(f"time_limit must be a positive number of seconds, not {time_limit}")
    if not (np.isfinite(target_gap) and 0 <= target_gap < 1):
        raise ValueError(f"target_gap must be from 0 to below 1, not {target_gap}")
    if not (np.isfinite(min_gain) and 0 <= min_gain < 1):
        raise ValueError(f"min_gain must be from 0 to below 1, not {min_gain}")
    started = time.perf_counter()
    report = progress or (lambda done, total, note: None)
    inc = _increments(instance, eps=_EPS)
    if exact is None:
        exact = inc.s.size <= _EXACT_INCREMENTS
    if exact:
        plan = _exact(instance, time_limit, started, report)
    else:
        plan = _lagrangian(instance, inc, time_limit, target_gap, started, report)
        left = time_limit - (time.perf_counter() - started)
        if plan.gap > target_gap and inc.s.size <= _MIP_TRIES_INCREMENTS and left > 2.0:
            # Mid-sized: the integrality gap is larger than the Lagrangian
            # rounding closes; SCIP may improve on it in the time left.
            tried = _exact(instance, time_limit, started, report)
            bound = max(plan.bound, tried.bound)
            better = tried if tried.objective < plan.objective else plan
            plan = _plan(instance, better.x, bound, started, solver=better.solver,
                         method=better.method)  # fmt: skip
    if min_gain > 0:
        kept = _worth_sending(instance, inc, plan.x, min_gain)
        if (kept != plan.x).any():
            history = plan.history
            plan = _plan(
                instance, kept, plan.bound, started, solver=plan.solver,
                method=f"{plan.method}; units less likely used than {min_gain:g} kept back",
            )  # fmt: skip
            plan.history = history
    return plan


def _worth_sending(
    instance: Instance, inc: _Increments, x: np.ndarray, min_gain: float
) -> np.ndarray:
    """x less, per pair, the units whose value w·P(D ≥ j) is below `min_gain`
    (a pair's last units, as values fall with j)."""
    P, K = instance.P, instance.K
    pair = inc.part.astype(np.int64) * P + inc.point
    passes = instance.weight[inc.part] * inc.s >= min_gain
    keep = np.bincount(pair[passes], minlength=P * K)
    generated = np.bincount(pair, minlength=P * K)
    # Past the units generated the values are below ε; keep those as planned.
    keep = np.where(keep == generated, np.iinfo(np.int64).max, keep)
    return np.minimum(x, keep.reshape(K, P).T)


def _zero_plan(instance: Instance, started: float) -> Plan:
    x = np.zeros(instance.lam.shape, dtype=np.int64)
    objective = objective_of(instance, x)
    return _plan(instance, x, objective, started, solver="none", method="nothing to allocate")


def _lagrangian(
    instance: Instance,
    inc: _Increments,
    time_limit: float,
    target_gap: float,
    started: float,
    report: Progress,
) -> Plan:
    P = instance.P
    k_of = inc.part
    cost_inc = instance.cost[k_of].astype(np.float64)
    gain = instance.weight[k_of] * inc.s  # value of each increment
    # Backorders with nothing sent: every unit's value, plus what was never generated.
    nothing = float(gain.sum()) + inc.residual
    mu = np.zeros(P)
    bound = -np.inf
    best: np.ndarray | None = None
    best_objective = np.inf
    history: list[tuple[float, float, float]] = []
    rounds = 40
    step_seconds = 0.0
    round_seconds = 2.0  # a guess until the first rounding is timed
    for round_ in range(1, rounds + 1):
        tick = time.perf_counter()
        parts = _parts_step(instance, inc, mu)
        upper = parts.value + float(mu @ instance.headroom) + inc.residual
        bound = max(bound, nothing - upper)
        spend = np.bincount(inc.point[parts.taken], cost_inc[parts.taken], minlength=P)
        binding = np.flatnonzero((spend > instance.headroom) | (mu > 0))
        # A plan now and then, and always before time runs out.
        elapsed = time.perf_counter() - started
        # The last rounding must end within the limit: stop when one more
        # round and a rounding would not.
        last = elapsed + 2 * step_seconds + round_seconds > time_limit or round_ == rounds
        if round_ % 3 == 0 or last or not binding.size:
            tock = time.perf_counter()
            taken = _round(instance, inc, parts, binding)
            round_seconds = time.perf_counter() - tock
            objective = nothing - float(gain[taken].sum())
            if objective < best_objective:
                best, best_objective = taken, objective
        history.append((time.perf_counter() - started, best_objective, bound))
        if best is None:
            report(round_, rounds, f"round {round_}: bound {bound:,.1f}, no plan yet")
            gap = np.inf
        else:
            gap = (best_objective - bound) / best_objective if best_objective > 0 else 0.0
            report(
                round_,
                rounds,
                f"round {round_}: bound {bound:,.1f}, best plan {best_objective:,.1f}, "
                f"gap {100 * gap:.4f} %",
            )
        if best is not None and (gap <= target_gap or last or not binding.size):
            break
        mu = _points_step(instance, inc, parts.alpha, binding)
        step_seconds = time.perf_counter() - tick
    x = _units(instance, inc, best)  # the last round always makes a plan
    plan = _plan(
        instance,
        x,
        min(bound, objective_of(instance, x)),
        started,
        solver="Lagrangian decomposition, knapsacks by OR-Tools",
        method="Lagrangian relaxation of credit; exact greedy per part; "
        "rounding by each binding point's exact knapsack",
    )
    plan.history = history
    return plan


def _round(
    instance: Instance, inc: _Increments, parts: _PartsResult, binding: np.ndarray
) -> np.ndarray:
    """An integral, feasible plan near the Lagrangian one: each point whose
    credit binds keeps the units its knapsack takes before the first that does
    not fit (as the LP would); the cheaper ones that still fit compete for
    stock with everyone else at their true value; the rest of that point's
    units are out. Then any point still over its credit gives units back."""
    if not binding.size:
        return _repair(instance, inc, parts.taken)
    inside = np.zeros(instance.P, dtype=bool)
    inside[binding] = True
    chosen = _point_knapsacks(instance, inc, parts.alpha, binding)
    at_binding = inside[inc.point]
    lp_like = parts.taken & at_binding
    bias = np.zeros(inc.s.size)
    bias[at_binding] = -np.inf
    # Above every unit's value (w·P(D ≥ j) ≤ w), small enough to keep the order.
    bias[chosen & lp_like] = 2.0 * float(instance.weight.max()) + 1.0
    bias[chosen & ~lp_like] = 0.0
    again = _parts_step(instance, inc, np.zeros(instance.P), bias)
    return _repair(instance, inc, again.taken)


def _exact(instance: Instance, time_limit: float, started: float, report: Progress) -> Plan:
    """The MIP over every unit, by OR-Tools' SCIP: optimal on small instances
    (and the proof of it: SCIP's own bound), or the best it found in time."""
    inc = _increments(instance, eps=1e-12)
    n = inc.s.size
    if n == 0:
        return _zero_plan(instance, started)
    k_of = inc.part
    solver = pywraplp.Solver.CreateSolver("SCIP")
    y = [solver.BoolVar(f"y{i}") for i in range(n)]
    gain = instance.weight[k_of] * inc.s
    r_of = instance.region[inc.point]
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (r, k) in enumerate(zip(r_of.tolist(), k_of.tolist(), strict=True)):
        groups.setdefault((r, k), []).append(i)
    ships: dict[int, list] = {}
    for (r, k), members in groups.items():
        ship = solver.NumVar(0.0, float(instance.hq[k]), f"ship{r}_{k}")
        ships.setdefault(k, []).append(ship)
        solver.Add(solver.Sum([y[i] for i in members]) - ship <= float(instance.reg[r, k]))
    for k, rows in ships.items():
        solver.Add(solver.Sum(rows) <= float(instance.hq[k]))
    by_point: dict[int, list[int]] = {}
    for i, p in enumerate(inc.point.tolist()):
        by_point.setdefault(p, []).append(i)
    for p, members in by_point.items():
        solver.Add(
            solver.Sum([float(instance.cost[k_of[i]]) * y[i] for i in members])
            <= float(instance.headroom[p])
        )
    solver.Maximize(solver.Sum([float(g) * v for g, v in zip(gain, y, strict=True)]))
    solver.SetTimeLimit(max(1, int(1000 * (time_limit - (time.perf_counter() - started)))))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, 1e-9)
    report(0, 1, f"MIP over {n:,} units")
    status = solver.Solve(params)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        # Nothing found in time: allocating nothing is always feasible.
        return _zero_plan(instance, started)
    taken = np.array([v.solution_value() > 0.5 for v in y])
    x = _units(instance, inc, taken)
    nothing = objective_of(instance, np.zeros(instance.lam.shape, dtype=np.int64))
    best_gain = solver.Objective().BestBound() if status != pywraplp.Solver.OPTIMAL else None
    if best_gain is None:
        best_gain = float(gain[taken].sum())
    # SCIP's bound is on the units generated; the rest could gain at most `residual`.
    bound = nothing - best_gain - inc.residual - 1e-9 * nothing
    report(1, 1, "MIP solved" if status == pywraplp.Solver.OPTIMAL else "MIP stopped at its limit")
    return _plan(
        instance,
        x,
        min(bound, objective_of(instance, x)),
        started,
        solver="SCIP (OR-Tools)",
        method="exact MIP" if status == pywraplp.Solver.OPTIMAL else "MIP, time limit",
    )


# --------------------------------------------------------------------------- the planners' method


def _largest_remainder(exact: np.ndarray, region: np.ndarray, supply: np.ndarray) -> np.ndarray:
    """Whole units near `exact` (P, K) that use each warehouse's supply (R, K)
    as a spreadsheet's rounding would: floors, then one more to the largest
    remainders."""
    P, K = exact.shape
    x = np.floor(exact).astype(np.int64)
    placed = np.zeros(supply.shape, dtype=np.int64)
    np.add.at(placed, region, x)
    extra = np.maximum(np.floor(supply).astype(np.int64) - placed, 0)
    remainder = exact - x
    group = region[:, None] * K + np.arange(K)[None, :]  # (P, K): the (r, k) of each cell
    order = np.lexsort((-remainder.ravel(), group.ravel()))
    g_sorted = group.ravel()[order]
    first = np.searchsorted(g_sorted, g_sorted)
    rank = np.arange(order.size) - first
    give = (rank < extra.ravel()[g_sorted]) & (remainder.ravel()[order] > 0)
    flat = x.ravel()
    flat[order[give]] += 1
    return flat.reshape(P, K)


def spreadsheet_method(instance: Instance, *, refill: bool = False) -> Plan:
    """What planners do in a spreadsheet today, for comparison: every part's
    stock spread over the points in proportion to their demand (HQ's share
    split over the warehouses by their points' demand, a warehouse's own stock
    to its own points), then each point over its credit cut back in proportion.
    With `refill`, the stock so cut goes round again to the points with credit
    left, in proportion to their demand, until nothing more fits."""
    started = time.perf_counter()
    P, K, R = instance.P, instance.K, instance.R
    lam = instance.lam
    x = np.zeros((P, K), dtype=np.int64)
    cut = np.zeros(P, dtype=bool)
    free_reg = instance.reg.copy()
    free_hq = instance.hq.copy()
    for _ in range(6 if refill else 1):
        open_points = ~cut
        want = np.where(open_points[:, None], lam, 0.0)
        demand = np.zeros((R, K))
        np.add.at(demand, instance.region, want)
        national = demand.sum(axis=0)
        hq_share = free_hq[None, :] * np.divide(
            demand, national, out=np.zeros_like(demand), where=national > 0
        )
        supply = free_reg + np.floor(hq_share)
        share = np.divide(want, demand[instance.region], out=np.zeros_like(want), where=want > 0)
        add = _largest_remainder(share * supply[instance.region], instance.region, supply)
        # Credit: a point whose new stock is worth more than its headroom left
        # takes the same fraction of every part.
        left = instance.headroom - x @ instance.cost
        value = add @ instance.cost
        over = value > left
        factor = np.divide(left, value, out=np.ones(P), where=over)
        add = np.floor(add * np.clip(factor, 0.0, 1.0)[:, None]).astype(np.int64)
        cut |= over
        x += add
        need = np.zeros((R, K), dtype=np.int64)
        np.add.at(need, instance.region, add)
        from_hq = np.maximum(need - free_reg, 0)
        free_reg = np.maximum(free_reg - need, 0)
        free_hq = free_hq - from_hq.sum(axis=0)
        if not refill or not add.any():
            break
    objective = objective_of(instance, x)
    return Plan(
        x=x,
        ship=ship_for(instance, x),
        objective=objective,
        bound=float("nan"),
        gap=float("nan"),
        seconds=time.perf_counter() - started,
        solver="none",
        method="spread by demand, cut to credit" + (", cut stock refilled" if refill else ""),
    )
