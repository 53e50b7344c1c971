"""Initial purchase sizing: how many of each part to buy for a new model.

Part k has demand D_k ~ Poisson(λ_k) over the horizon, unit cost c_k (fen),
criticality weight w_k, a supplier minimum order quantity moq_k and a pack
size pack_k. **A quantity is 0, or at least moq_k and a multiple of pack_k.**

    budget mode:  minimise Σ_k w_k · E[(D_k − q_k)⁺]  subject to Σ_k c_k q_k ≤ budget
    target mode:  minimise Σ_k c_k q_k  subject to 1 − Σ_k E[(D_k − q_k)⁺] / Σ_k λ_k ≥ target

**Why greedy is not enough.** Without an MOQ each unit is an item whose gain
P(D ≥ j) falls with j, and marginal analysis (buy the unit of most gain per
fen next) is optimal at the budgets it exactly spends. With MOQs the first
order of a part is one lumpy item of moq units: a knapsack.

**The method (exact).** Part k's options are q = 0 and q_1 < q_2 < …, its
valid quantities. E[min(D, q)] is concave in q with value 0 at 0, so its
gain per fen from 0 falls with q, and past q_1 each further pack gains less
than the one before: the points (c·q, w·EBO(q)) of a part are already on
their lower convex hull. The LP relaxation of the multiple-choice knapsack
is then solved by taking hull segments in order of gain per fen (Sinha and
Zoltners), at most one segment fractional; its value is the Lagrangian bound
L(μ*) = Σ_k min_j (f_kj + μ* g_kj) − μ* cap at the critical segment's slope
μ*, a valid lower bound. An incumbent comes from the LP's whole segments
plus a greedy fill of what the budget leaves. Then:

1. *Reduction.* Forcing option j of part k raises the bound by its reduced
   cost rc_kj = f_kj + μ* g_kj − min_j' (f_kj' + μ* g_kj'); an option with
   L + rc_kj > UB (the incumbent's value, plus a tolerance of 1e-9 relative,
   so only options that cannot be optimal are dropped) is dropped. Every
   option of the incumbent survives (its value ≥ L + Σ_k rc_k), so the
   optimum does. Most parts are left with one option.
2. *Exact search* over the parts left with several: a dynamic programme over
   Pareto-optimal (resource, objective) states, part by part (Nemhauser–
   Ullmann), a state dropped only when dominated (no more resource and no
   more objective than another) or when its Lagrangian bound over the parts
   still to come exceeds UB, or when the rest cannot fit the cap. Every
   comparison is on float64 sums of the same values brute force sums, with
   integer resources (fen) exact below 2⁵³; so the optimum found is the
   optimum, up to float rounding (1e-12 relative).

If the search would exceed its state or time limit, the incumbent is
returned with `optimal=False` and the LP bound. Quantities whose expected
backorders are below 1e-15 of λ (q beyond λ + 12√λ + 30) are not considered.

In target mode the roles swap: spend is the objective and unweighted
expected backorders the resource, capped at (1 − target)·Σλ.

The frontier (`frontier`) puts its rows at the breakpoints of marginal
analysis nearest below evenly spaced budgets: at a breakpoint the LP spends
the budget exactly with every part on a valid quantity, so the LP bound is
met and the row is the exact optimum at its budget, at no cost beyond the
sort. Where a lumpy first order leaves no breakpoint near a budget, the
exact search above answers that budget. Each row says whether it is proven.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.poisson import expected_backorders

_LIMIT = 2**53  # fen and products beyond this lose exactness in float64
_MAX_OPTIONS = 8_000_000  # options over all parts: about 0.5 GB of working arrays
_MAX_STATES = 1_500_000  # states of one layer of the exact search
_REL_TOL = 1e-9


@dataclass(frozen=True)
class Purchase:
    qty: np.ndarray  # (K,) int64 units to buy per part
    spend: int  # fen, Σ cost·qty
    fill_rate: float  # 1 − Σ EBO / Σ λ
    backorders: float  # Σ E[(D − q)⁺]
    weighted_backorders: float  # Σ w·E[(D − q)⁺]
    bound: float  # a valid lower bound on weighted backorders at a budget of `spend` (or `budget`)
    optimal: bool  # proven optimal for the question asked (budget: backorders; target: spend)
    spend_bound: int = 0  # target mode: a valid lower bound on the spend that reaches the target


@dataclass(frozen=True)
class Frontier:
    budget: np.ndarray  # (N,) int64 fen, ascending
    spend: np.ndarray  # (N,) int64 fen
    fill_rate: np.ndarray  # (N,) float64
    backorders: np.ndarray  # (N,) float64
    weighted_backorders: np.ndarray  # (N,) float64
    optimal: np.ndarray  # (N,) bool: the row is the exact optimum at its budget
    bound: np.ndarray | None = None  # (N,) float64, a valid lower bound on weighted backorders
    qty: np.ndarray | None = None  # (N, K) int64, the purchase of each row
    seconds: float = 0.0


# --------------------------------------------------------------------------- inputs


def _ints(name: str, a, K: int | None, low: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: must be numbers, not {arr.dtype}")
    if arr.ndim != 1 or (K is not None and arr.shape[0] != K):
        want = f"({K},)" if K is not None else "one dimension"
        raise ValueError(f"{name}: must have shape {want}, has shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: holds NaN or infinity; give whole numbers")
        if np.any(arr != np.round(arr)):
            raise ValueError(f"{name}: must hold whole numbers")
    if arr.size and np.abs(arr.astype(np.float64)).max() >= _LIMIT:
        raise ValueError(f"{name}: holds a number beyond 2^53 ({arr.max()})")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < low:
        raise ValueError(f"{name}: holds {arr.min()}; every entry must be at least {low}")
    return arr


def _floats(name: str, a, K: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: must be numbers, not {arr.dtype}")
    if arr.shape != (K,):
        raise ValueError(f"{name}: must have shape ({K},), has shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: holds NaN or infinity; give finite numbers ≥ 0")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name}: holds {arr.min()}; every entry must be ≥ 0")
    return arr


def _inputs(cost, lam, weight, moq, pack):
    cost = _ints("cost", cost, None, 1)
    K = cost.shape[0]
    lam = _floats("lam", lam, K)
    weight = _floats("weight", weight, K)
    moq = _ints("moq", moq, K, 0)
    pack = _ints("pack", pack, K, 1)
    if lam.size and lam.max() > 1e9:
        raise ValueError(f"lam: demand of {lam.max():g} units is beyond what a purchase sizes")
    return cost, lam, weight, moq, pack


def _budget(name: str, value) -> int:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name}: give a whole number of fen ≥ 0")
    v = float(value)
    if not np.isfinite(v) or v != round(v):
        raise ValueError(f"{name}: must be a whole number of fen, not {value!r}")
    if v < 0:
        raise ValueError(f"{name}: must be ≥ 0 fen, not {value!r}")
    if v >= _LIMIT:
        raise ValueError(f"{name}: {value!r} fen is beyond 2^53")
    return int(value)


# --------------------------------------------------------------------------- options


@dataclass
class _Options:
    """Every part's valid quantities, flattened: option 0 of each part is q = 0."""

    start: np.ndarray  # (K,) index of each part's option 0
    count: np.ndarray  # (K,) options per part (≥ 1)
    part: np.ndarray  # (N,) the part of each option
    q: np.ndarray  # (N,) int64 units
    spend: np.ndarray  # (N,) float64 fen (exact integers)
    ebo: np.ndarray  # (N,) float64 E[(D − q)⁺]
    wbo: np.ndarray  # (N,) float64 w·E[(D − q)⁺]
    # segments: option i (not an option 0) reached from option i − 1
    seg: np.ndarray  # (S,) the option each segment reaches
    seg_cost: np.ndarray  # (S,) float64 fen
    seg_gain_w: np.ndarray  # (S,) weighted backorders saved
    seg_gain_u: np.ndarray  # (S,) backorders saved


def _options(cost, lam, weight, moq, pack, cap: int | None = None) -> _Options:
    K = cost.shape[0]
    first = pack * -(-np.maximum(moq, 1) // pack)  # the least valid quantity > 0
    top = np.ceil(lam + 12.0 * np.sqrt(lam) + 30.0).astype(np.int64)
    if cap is not None:
        top = np.minimum(top, cap // cost)
    active = (lam > 0) & (weight > 0)
    if cap is not None:
        active &= first <= cap // cost
    # A part's first order is kept even when it is past `top`.
    n_pos = np.where(active, 1 + np.maximum(0, (top - first) // pack), 0)
    count = 1 + n_pos
    total = int(count.sum())
    if total > _MAX_OPTIONS:
        raise ValueError(
            f"lam: {total:,} candidate quantities over all parts, more than {_MAX_OPTIONS:,}; "
            "give larger pack sizes for the parts of largest demand"
        )
    start = np.zeros(K, dtype=np.int64)
    if K:
        start[1:] = np.cumsum(count)[:-1]
    part = np.repeat(np.arange(K), count)
    j = np.arange(total) - start[part]  # index within the part
    q = np.where(j == 0, 0, first[part] + (j - 1) * pack[part])
    ebo = expected_backorders(lam[part], q)
    # E[(D − q)⁺] falls with q; keep it so in floats.
    ebo = np.minimum(ebo, lam[part])
    spend = (q * cost[part]).astype(np.float64)
    if total and spend.max() >= _LIMIT:
        raise ValueError("cost: a purchase of these quantities would be beyond 2^53 fen")
    wbo = weight[part] * ebo
    seg = np.flatnonzero(j > 0)
    gain_u = np.maximum(ebo[seg - 1] - ebo[seg], 0.0)
    gain_w = weight[part[seg]] * gain_u
    seg_cost = spend[seg] - spend[seg - 1]
    return _Options(start, count, part, q, spend, ebo, wbo, seg, seg_cost, gain_w, gain_u)


def _order(opt: _Options, gain: np.ndarray) -> np.ndarray:
    """Segments by gain per fen, most first; within a part in their own order
    (the slopes fall along a part; float noise is ironed out first)."""
    slope = gain / opt.seg_cost
    part = opt.part[opt.seg]
    for _ in range(64):
        bad = np.flatnonzero((part[1:] == part[:-1]) & (slope[1:] > slope[:-1]))
        if bad.size == 0:
            break
        slope[bad + 1] = slope[bad]
    # Ties: the flat order (a part's own segments in order) decides.
    return np.argsort(-slope, kind="stable"), slope


# --------------------------------------------------------------------------- exact search


def _suffix_bounds(groups, f, g, limit: int = 30_000_000):
    """bound(i, room) -> the LP value of min Σ f over groups i.. with Σ g ≤ room
    (vectorised over `room`), a lower bound on any completion of a state: each
    group's options as a chain from its least-g option, the improving
    segments taken in order of slope (a rearrangement that can only be lower
    than the chain's own LP, so the bound stays valid under float noise)."""
    n = len(groups)
    start_f = np.zeros(n)
    dgs, dfs, owner = [], [], []
    for i, opts in enumerate(groups):
        og = opts[np.argsort(g[opts], kind="stable")]
        start_f[i] = f[og[0]]
        dg, df = np.diff(g[og]), np.diff(f[og])
        use = df < 0
        dgs.append(dg[use])
        dfs.append(df[use])
        owner.append(np.full(int(use.sum()), i))
    dg = np.concatenate(dgs) if dgs else np.zeros(0)
    if dg.size * n > limit:
        return None
    df = np.concatenate(dfs)
    owner = np.concatenate(owner)
    with np.errstate(divide="ignore"):
        slope = np.where(dg > 0, df / np.where(dg > 0, dg, 1.0), -np.inf)
    order = np.argsort(slope, kind="stable")
    dg, df, owner = dg[order], df[order], owner[order]
    rest_f = np.r_[np.cumsum(start_f[::-1])[::-1], 0.0]
    tables = {}

    def bound(i: int, room: np.ndarray) -> np.ndarray:
        if i >= n:
            return np.zeros(room.shape)
        if i not in tables:  # the layers ask in turn: keep the last table only
            tables.clear()
            sel = owner >= i
            tables[i] = (np.cumsum(dg[sel]), np.cumsum(df[sel]), dg[sel], df[sel])
        cdg, cdf, sdg, sdf = tables[i]
        if cdg.size == 0:
            return np.full(room.shape, rest_f[i])
        j = np.searchsorted(cdg, room, side="right")
        full = np.where(j > 0, cdf[np.maximum(j - 1, 0)], 0.0)
        before = np.where(j > 0, cdg[np.maximum(j - 1, 0)], 0.0)
        jj = np.minimum(j, cdg.size - 1)
        part = np.where(
            (j < cdg.size) & (sdg[jj] > 0),
            (room - before) / np.where(sdg[jj] > 0, sdg[jj], 1.0),
            0.0,
        )
        return rest_f[i] + full + np.clip(part, 0.0, 1.0) * np.where(j < cdg.size, sdf[jj], 0.0)

    return bound


def _exact(f, g, part_of, K, cap, mu, ub, ub_choice, deadline):
    """Minimise Σ f over one option per part with Σ g ≤ cap, exactly.

    f, g (N,) per option; part_of (N,) sorted; `ub_choice` (K,) flat indices of
    a feasible solution of value `ub`. Returns (choice (K,), value, proven)."""
    h = f + mu * g
    starts = np.flatnonzero(np.r_[True, part_of[1:] != part_of[:-1]])
    m = np.minimum.reduceat(h, starts)  # (K,)
    lower = float(m.sum() - mu * cap)
    tol = _REL_TOL * max(1.0, abs(ub))
    keep = lower + (h - m[part_of]) <= ub + tol
    keep[ub_choice] = True
    kept_per = np.add.reduceat(keep.astype(np.int64), starts)
    fixed = kept_per == 1
    idx = np.flatnonzero(keep)
    kp = part_of[idx]
    choice = np.array(ub_choice, copy=True)
    fixed_opts = idx[fixed[kp]]
    choice[part_of[fixed_opts]] = fixed_opts
    free = np.flatnonzero(~fixed)
    if free.size == 0:
        return choice, float(f[choice].sum()), True
    base_f = float(f[fixed_opts].sum())
    base_g = float(g[fixed_opts].sum())
    sel = idx[~fixed[kp]]
    psel = part_of[sel]
    groups = np.split(sel, np.flatnonzero(psel[1:] != psel[:-1]) + 1)
    groups.sort(key=len)
    m_g = np.array([h[o].min() for o in groups])
    min_g = np.array([g[o].min() for o in groups])
    rest_m = np.r_[np.cumsum(m_g[::-1])[::-1], 0.0]
    rest_g = np.r_[np.cumsum(min_g[::-1])[::-1], 0.0]
    suffix = _suffix_bounds(groups, f, g)
    G = np.array([base_g])
    F = np.array([base_f])
    parents, picks = [], []
    for i, opts in enumerate(groups):
        if time.perf_counter() > deadline or G.size * opts.size > 4 * _MAX_STATES:
            return ub_choice, ub, False
        nG = (G[:, None] + g[opts][None, :]).ravel()
        nF = (F[:, None] + f[opts][None, :]).ravel()
        par = np.repeat(np.arange(G.size), opts.size)
        pick = np.tile(opts, G.size)
        ok = nG + rest_g[i + 1] <= cap
        ok &= nF + rest_m[i + 1] - mu * (cap - nG) <= ub + tol
        if suffix is not None and ok.any():
            ok[ok] = nF[ok] + suffix(i + 1, cap - nG[ok]) <= ub + tol
        if not ok.any():
            return ub_choice, ub, True  # nothing beats the incumbent
        nG, nF, par, pick = nG[ok], nF[ok], par[ok], pick[ok]
        order = np.lexsort((nF, nG))
        nG, nF, par, pick = nG[order], nF[order], par[order], pick[order]
        best_before = np.r_[np.inf, np.minimum.accumulate(nF)[:-1]]
        front = nF < best_before
        G, F = nG[front], nF[front]
        parents.append(par[front])
        picks.append(pick[front])
        if G.size > _MAX_STATES:
            return ub_choice, ub, False
    final = np.flatnonzero(cap >= G)
    # Exactly feasible (integers in budget mode; within float rounding otherwise).
    if final.size == 0:
        return ub_choice, ub, True
    s = int(final[np.argmin(F[final])])
    if F[s] >= ub:
        return ub_choice, ub, True
    for i in range(len(groups) - 1, -1, -1):
        opt = picks[i][s]
        choice[part_of[opt]] = opt
        s = parents[i][s]
    return choice, float(f[choice].sum()), True


# --------------------------------------------------------------------------- budget mode


@dataclass
class _Prepared:
    cost: np.ndarray
    lam: np.ndarray
    weight: np.ndarray
    opt: _Options
    order: np.ndarray  # segments in greedy order (weighted)
    slope: np.ndarray
    cum_cost: np.ndarray
    cum_gain: np.ndarray
    total_w: float


def _prepare(cost, lam, weight, moq, pack, cap=None) -> _Prepared:
    opt = _options(cost, lam, weight, moq, pack, cap)
    order, slope = _order(opt, opt.seg_gain_w)
    cum_cost = np.cumsum(opt.seg_cost[order])
    cum_gain = np.cumsum(opt.seg_gain_w[order])
    return _Prepared(
        cost, lam, weight, opt, order, slope, cum_cost, cum_gain, float((weight * lam).sum())
    )


def _levels(pr: _Prepared, taken: np.ndarray) -> np.ndarray:
    """The flat option index of each part after taking the segments `taken`."""
    opt = pr.opt
    per = np.bincount(opt.part[opt.seg[taken]], minlength=opt.count.size)
    return opt.start + per


def _solve_budget(pr: _Prepared, budget: int, deadline: float):
    opt = pr.opt
    S = pr.order.size
    t = int(np.searchsorted(pr.cum_cost, budget, side="right"))
    spent = float(pr.cum_cost[t - 1]) if t else 0.0
    gained = float(pr.cum_gain[t - 1]) if t else 0.0
    if t < S:
        crit = pr.order[t]
        mu = float(pr.slope[crit])
        lp_gain = gained + (budget - spent) / opt.seg_cost[crit] * opt.seg_gain_w[crit]
    else:
        mu, lp_gain = 0.0, gained
    lp_bound = max(0.0, pr.total_w - lp_gain)
    choice = _levels(pr, pr.order[:t])
    # Greedy fill of what is left, in slope order, each part's segments in turn.
    left = budget - spent
    nxt = {}
    for s in pr.order[t : t + 4000].tolist():
        if left <= 0:
            break
        o = int(opt.seg[s])
        k = int(opt.part[o])
        if nxt.get(k, int(choice[k])) + 1 != o:
            continue
        c = float(opt.seg_cost[s])
        if c <= left:
            left -= c
            choice[k] = o
            nxt[k] = o
        else:
            nxt[k] = -10  # a part skipped once takes nothing more
    ub = float(opt.wbo[choice].sum())
    if t >= S or ub <= lp_bound:
        return choice, ub, lp_bound, True
    choice, value, proven = _exact(
        opt.wbo, opt.spend, opt.part, opt.count.size, float(budget), mu, ub, choice, deadline
    )
    return choice, value, (value if proven else lp_bound), proven


def _result(pr: _Prepared, choice, bound, optimal, spend_bound=0) -> Purchase:
    opt = pr.opt
    qty = opt.q[choice].astype(np.int64)
    ebo = float(opt.ebo[choice].sum())
    total = float(pr.lam.sum())
    return Purchase(
        qty=qty,
        spend=int((qty * pr.cost).sum()),
        fill_rate=1.0 if total <= 0 else 1.0 - ebo / total,
        backorders=ebo,
        weighted_backorders=float(opt.wbo[choice].sum()),
        bound=float(bound),
        optimal=bool(optimal),
        spend_bound=int(spend_bound),
    )


def size_purchase(
    cost, lam, weight, moq, pack, *, budget=None, target_fill=None, time_limit: float = 10.0
) -> Purchase:
    """The purchase per part for a budget or a target fill rate, solved exactly.

    cost (K,) int fen per unit (≥ 1); lam (K,) expected demand over the
    horizon; weight (K,) criticality (≥ 0); moq (K,) minimum order quantity
    (0 or 1: none); pack (K,) pack size (≥ 1). **Each quantity is 0, or at
    least moq and a multiple of pack.** Give exactly one of `budget` (int fen:
    minimise Σ weight·E[(D − q)⁺] within it) or `target_fill` (0 ≤ t < 1: the
    least spend whose unweighted fill rate 1 − ΣE[(D − q)⁺]/Σλ is at least t).
    The method and why it is exact: the module's docstring. `optimal` is True
    when the answer is proven optimal; `bound` is a valid lower bound on
    weighted backorders at the budget (target mode: at the spend).
    Raises ValueError naming the argument at fault.
    """
    cost, lam, weight, moq, pack = _inputs(cost, lam, weight, moq, pack)
    if (budget is None) == (target_fill is None):
        raise ValueError("budget/target_fill: give exactly one of them")
    deadline = time.perf_counter() + float(time_limit)
    if budget is not None:
        b = _budget("budget", budget)
        pr = _prepare(cost, lam, weight, moq, pack, cap=b)
        choice, _, bound, proven = _solve_budget(pr, b, deadline)
        return _result(pr, choice, bound, proven)
    if isinstance(target_fill, bool):
        raise ValueError("target_fill: give a number from 0 to below 1")
    t = float(target_fill)
    if not np.isfinite(t) or not 0 <= t < 1:
        raise ValueError(
            f"target_fill: must be from 0 to below 1, not {target_fill!r} "
            "(Poisson demand can always exceed the stock)"
        )
    return _solve_target(cost, lam, weight, moq, pack, t, deadline)


def _solve_target(cost, lam, weight, moq, pack, target, deadline) -> Purchase:
    pr = _prepare(cost, lam, weight, moq, pack)
    opt = pr.opt
    total = float(lam.sum())
    cap = (1.0 - target) * total  # Σ EBO allowed: the most with 1 − cap/Σλ ≥ target in floats
    while total > 0 and cap > 0 and 1.0 - cap / total < target:
        cap = float(np.nextafter(cap, 0.0))
    need = total - cap  # backorders to save
    order, _ = _order(opt, opt.seg_gain_u)
    cum_gain = np.cumsum(opt.seg_gain_u[order])
    cum_cost = np.cumsum(opt.seg_cost[order])
    if need <= 0 or total <= 0:
        return _result(pr, opt.start.copy(), _lp_budget_bound(pr, 0), True, 0)
    if cum_gain.size == 0 or cum_gain[-1] < need:
        raise ValueError(
            f"target_fill: {target:g} cannot be reached with these parts (the most is "
            f"{1 - (total - (cum_gain[-1] if cum_gain.size else 0)) / total:.12f})"
        )
    t = int(np.searchsorted(cum_gain, need, side="left"))
    before_g = float(cum_gain[t - 1]) if t else 0.0
    before_c = float(cum_cost[t - 1]) if t else 0.0
    crit = order[t]
    frac = (need - before_g) / opt.seg_gain_u[crit]
    lp_spend = before_c + frac * opt.seg_cost[crit]
    mu = float(opt.seg_cost[crit] / opt.seg_gain_u[crit])  # fen per backorder saved

    def reaches(c) -> bool:  # the test the result's fill rate is computed by
        return 1.0 - float(opt.ebo[c].sum()) / total >= target

    plain = _levels(pr, order[: t + 1])
    while not reaches(plain) and t + 1 < order.size:  # float rounding at the edge
        t += 1
        plain = _levels(pr, order[: t + 1])
    choice = plain.copy()
    # Taking the critical segment whole overshoots: give back the least
    # efficient segments (each the last of its part) while the target holds.
    surplus = float(cum_gain[t]) - need
    for s in order[max(0, t - 20_000) : t + 1][::-1].tolist():
        o = int(opt.seg[s])
        k = int(opt.part[o])
        gain = float(opt.seg_gain_u[s])
        if choice[k] == o and gain <= surplus:
            choice[k] = o - 1
            surplus -= gain
    if not reaches(choice):
        choice = plain
    ub = float(opt.spend[choice].sum())
    proven = ub <= lp_spend
    if not proven:
        # Less the rounding error a sum of K terms can carry, so that what the
        # search finds within its cap also passes `reaches`, summed otherwise.
        margin = 2.0 * opt.count.size * np.finfo(np.float64).eps * total
        found, value, proven = _exact(
            opt.spend, opt.ebo, opt.part, opt.count.size, cap - margin, mu, ub, choice, deadline
        )
        if reaches(found):
            choice, ub = found, value
        else:
            proven = False
    spend = round(ub)
    spend_bound = spend if proven else int(np.ceil(lp_spend - 1e-9 * max(1.0, lp_spend)))
    return _result(pr, choice, _lp_budget_bound(pr, spend), proven, spend_bound)


def _lp_budget_bound(pr: _Prepared, budget: int) -> float:
    t = int(np.searchsorted(pr.cum_cost, budget, side="right"))
    gained = float(pr.cum_gain[t - 1]) if t else 0.0
    if t < pr.order.size:
        crit = pr.order[t]
        spent = float(pr.cum_cost[t - 1]) if t else 0.0
        gained += (budget - spent) / pr.opt.seg_cost[crit] * pr.opt.seg_gain_w[crit]
    return max(0.0, pr.total_w - gained)


# --------------------------------------------------------------------------- frontier


def default_max_budget(pr: _Prepared, fill: float = 0.999) -> int:
    """The spend along the greedy path at which the fill rate reaches `fill`."""
    total = float(pr.lam.sum())
    if total <= 0 or pr.order.size == 0:
        return 0
    saved = np.cumsum(pr.opt.seg_gain_u[pr.order])
    t = int(np.searchsorted(saved, fill * total, side="left"))
    return int(pr.cum_cost[min(t, pr.cum_cost.size - 1)])


def frontier(
    cost,
    lam,
    weight,
    moq,
    pack,
    *,
    steps: int = 60,
    max_budget=None,
    exact_budgets: bool = False,
    time_limit: float = 4.0,
) -> Frontier:
    """The budget ↔ fill-rate frontier of the budget problem (see
    `size_purchase`; quantities 0 or ≥ moq in multiples of pack), `steps` rows
    from 0 to `max_budget` (default: the spend at which marginal analysis
    reaches a fill rate of 99.9 %), ascending by budget.

    By default each row's budget is the breakpoint of marginal analysis at or
    below an evenly spaced budget: the greedy over hull segments (module
    docstring) spends such a budget exactly with every part on a valid
    quantity, so the LP bound is met and the row is the exact optimum at its
    budget (`optimal` True, `bound` equal to the objective). Where a lumpy
    first order leaves no breakpoint within half a step below a budget, that
    budget gets a row of its own from the exact search. With
    `exact_budgets=True` the rows are at the evenly spaced budgets themselves,
    each solved by the exact search within its share of `time_limit`;
    `optimal[i]` then says whether row i was proven (a row not proven keeps
    the best purchase found, never worse than the row before it).
    """
    started = time.perf_counter()
    cost, lam, weight, moq, pack = _inputs(cost, lam, weight, moq, pack)
    if isinstance(steps, bool) or int(steps) != steps or not 2 <= int(steps) <= 10_000:
        raise ValueError(f"steps: must be a whole number from 2 to 10,000, not {steps!r}")
    steps = int(steps)
    cap = None if max_budget is None else _budget("max_budget", max_budget)
    pr = _prepare(cost, lam, weight, moq, pack, cap=cap)
    top = default_max_budget(pr) if cap is None else cap
    grid = np.round(np.linspace(0, top, steps)).astype(np.int64)
    K = cost.size
    padded = np.r_[0, pr.cum_cost].astype(np.int64)  # spend after t whole segments
    rows: dict[int, tuple] = {}  # budget -> (choice, value, bound, proven)
    todo = []  # budgets for the exact search
    if not exact_budgets:
        # The breakpoint at or below each budget: exact, for free. Where a
        # lumpy segment (a large MOQ) leaves no breakpoint within half a step
        # below a budget, that budget is searched exactly as well.
        half = top / (steps - 1) / 2 if steps > 1 else 0
        t = np.searchsorted(pr.cum_cost, grid, side="right")
        for g, ti in zip(grid.tolist(), t.tolist(), strict=True):
            b = int(padded[ti])
            if b not in rows:
                choice = _levels(pr, pr.order[:ti])
                value = float(pr.opt.wbo[choice].sum())
                rows[b] = (choice, value, value, True)
            if g - b > half:
                todo.append(g)
    else:
        todo = np.unique(grid).tolist()
    todo = [g for g in dict.fromkeys(todo) if g not in rows]
    share = float(time_limit) / max(1, len(todo))
    for g in todo:
        deadline = min(time.perf_counter() + 3 * share, started + float(time_limit))
        rows[g] = _solve_budget(pr, g, deadline)
    budgets = np.array(sorted(rows), dtype=np.int64)
    N = budgets.size
    qty = np.zeros((N, K), dtype=np.int64)
    wbo = np.zeros(N)
    bound = np.zeros(N)
    optimal = np.zeros(N, dtype=bool)
    prev = None
    for i, b in enumerate(budgets.tolist()):
        choice, value, lb, proven = rows[b]
        if prev is not None and value > prev[1]:
            choice, value = prev  # the row before is feasible here too
        qty[i] = pr.opt.q[choice]
        wbo[i] = value
        bound[i] = lb
        optimal[i] = proven
        prev = (choice, value)
    ebo = np.array([float(expected_backorders(lam, q).sum()) for q in qty]) if N else np.zeros(0)
    total = float(lam.sum())
    fill = np.ones(N) if total <= 0 else 1.0 - ebo / total
    return Frontier(
        budget=budgets,
        spend=qty @ cost,
        fill_rate=fill,
        backorders=ebo,
        weighted_backorders=wbo,
        optimal=optimal,
        bound=bound,
        qty=qty,
        seconds=time.perf_counter() - started,
    )


__all__ = ["Frontier", "Purchase", "frontier", "size_purchase"]
