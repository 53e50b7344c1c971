"""Expected demand per part and place over a planning horizon, as Poisson rates.

Two sources:

- a **new model** has no history: its demand is the installed base (the sales
  plan by region and month) times the months each handset is in service
  within the horizon times the part's failure rate (`new_model_demand`);
- a **model in service** has the ledger's write-off history by point, part
  and month, smoothed toward the regional rate where a point's history is
  thin, by gamma–Poisson empirical Bayes (`in_service_rates`).

Pure numpy: no database code here (optimizer/adapter.py reads the ledger).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

# The least spread assumed between the true rates of a region's points (or of
# the regions), as a coefficient of variation. The method-of-moments estimate
# of the spread is noisy and often comes out at or below zero; without a floor
# the prior would become infinitely strong and a point's own history, however
# long, would count for nothing.
MIN_CV = 0.2
# The most months of a point's own history the prior is worth: for a rare part
# the spread the data can show is all Poisson noise, and the CV floor alone
# would let a region outweigh decades of a point's own write-offs.
MAX_PRIOR_MONTHS = 60.0


def _vector(name: str, a, *, ndim: int, integer: bool = False) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: must be numbers, not {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name}: must have {ndim} dimension(s), has shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: holds NaN or infinity; give finite numbers")
    if integer:
        if arr.dtype.kind == "f" and np.any(arr != np.round(arr)):
            raise ValueError(f"{name}: must hold whole numbers")
        arr = arr.astype(np.int64)
    else:
        arr = arr.astype(np.float64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name}: holds a negative number ({arr.min()}); give numbers ≥ 0")
    return arr


def _horizon(horizon_months) -> float:
    h = float(horizon_months)
    if not np.isfinite(h) or h < 0:
        raise ValueError(f"horizon_months: must be a finite number ≥ 0, not {horizon_months!r}")
    return h


def new_model_demand(sales, failure_rate, horizon_months) -> np.ndarray:
    """Expected failures per region and part over the horizon, (R, K) float64.

    `sales` (R, M) are handsets sold per region and month, month 0 being the
    launch; `failure_rate` (K,) failures per handset-month in service. A
    handset sold in month m is taken as sold mid-month, so within a horizon of
    H months from launch it is in service max(0, H − m − 0.5) months, and

        λ_rk = failure_rate_k × Σ_m sales_rm × max(0, H − m − 0.5).

    Raises ValueError naming the argument for negative numbers, NaN or
    infinity, or wrong shapes.
    """
    s = _vector("sales", sales, ndim=2)
    f = _vector("failure_rate", failure_rate, ndim=1)
    h = _horizon(horizon_months)
    months = np.arange(s.shape[1], dtype=np.float64)
    in_service = np.maximum(0.0, h - months - 0.5)
    handset_months = s @ in_service  # (R,)
    return np.outer(handset_months, f)


def _onehot(group: np.ndarray, groups: int) -> sparse.csr_array:
    """(G, U) sparse matrix with a 1 where unit u is in group g: sums per group."""
    u = group.size
    return sparse.csr_array(
        (np.ones(u), (group, np.arange(u))), shape=(groups, u), dtype=np.float64
    )


def _shrink(n, exposure, group, groups, prior_mean=None, prior_strength=None):
    """Gamma–Poisson posterior means of the units' rates, per group.

    n (U, K) counts, exposure (U,) months, group (U,) the group of each unit.
    Returns (posterior (U, K), group_rate (G, K)): the group rate is the pooled
    rate Σn / Σexposure, or `prior_mean` (G, K) when given (a smoothed rate)."""
    ex_g = np.bincount(group, weights=exposure, minlength=groups)  # (G,)
    onehot = _onehot(group, groups)
    n_g = onehot @ n
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.where(ex_g[:, None] > 0, n_g / ex_g[:, None], 0.0)
    m = pooled if prior_mean is None else prior_mean
    if prior_strength is None:
        # Marshall's (1991) moments: the exposure-weighted variance of the
        # units' raw rates about the group rate, less the Poisson noise
        # expected at the mean exposure, estimates the spread A of the true
        # rates; floored at (MIN_CV · m)².
        seen = exposure > 0
        units_g = np.bincount(group[seen], minlength=groups).astype(np.float64)
        inv = np.where(seen, 1.0 / np.where(seen, exposure, 1.0), 0.0)
        sq = onehot @ (n * n * inv[:, None])
        with np.errstate(invalid="ignore", divide="ignore"):
            s2 = np.where(ex_g[:, None] > 0, sq / ex_g[:, None] - 2 * m * pooled + m * m, 0.0)
            mean_ex = np.where(units_g > 0, ex_g / np.maximum(units_g, 1), 1.0)
            spread = s2 - m / mean_ex[:, None]
        spread = np.maximum(spread, (MIN_CV * m) ** 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            beta = np.where(m > 0, m / spread, 0.0)  # (G, K) months the prior is worth
        beta = np.minimum(beta, MAX_PRIOR_MONTHS)
    else:
        beta = np.full(m.shape, float(prior_strength))
    alpha = m * beta
    post = (alpha[group] + n) / np.maximum(beta[group] + exposure[:, None], 1e-300)
    # A group without any rate (m = 0, β = 0) and a unit without exposure: 0.
    post = np.where(beta[group] + exposure[:, None] > 0, post, 0.0)
    return post, m


def in_service_rates(
    point_idx,
    part_idx,
    month_idx,
    count,
    *,
    P: int,
    K: int,
    months: int,
    region,
    horizon_months,
    prior_strength=None,
    exposure=None,
) -> np.ndarray:
    """Expected demand per point and part over the horizon, (P, K) float64,
    from write-off history.

    History comes as sparse triples (point_idx, part_idx, month_idx) with
    `count` units written off, over `months` months; a triple may repeat (the
    counts add up). `region` (P,) is each point's regional warehouse;
    `exposure` (P,) the months of history each point has (default: `months`
    for every point; 0 for a point opened today). Months are pooled: rates
    are taken as constant over the history and the horizon.

    **Method: gamma–Poisson empirical Bayes, in two levels.** A point's
    write-offs of a part are Poisson(θ_pk · E_p) over its E_p months, and the
    true rates θ_pk of the points of region r are drawn from a gamma prior
    with mean m_rk and variance A_rk. The prior is fitted by the method of
    moments (Marshall 1991): m_rk is the region's rate and

        A_rk = Σ_p E_p (n_pk/E_p − m_rk)² / Σ_p E_p − m_rk / Ē_r,

    the spread of the points' raw rates less the Poisson noise expected at the
    region's mean exposure Ē_r, floored at (0.2 · m_rk)² (the estimate is
    noisy and often ≤ 0; without a floor a point's own history would count
    for nothing). As a gamma, β_rk = m_rk / A_rk (the months of history the
    prior is worth, at most 60: for a rare part the spread is all Poisson
    noise) and α_rk = m_rk β_rk; the posterior mean rate is

        θ̂_pk = (α_rk + n_pk) / (β_rk + E_p),

    a point's own rate n_pk / E_p weighted E_p / (β_rk + E_p) against the
    region's: a point with no history gets the regional rate, a long history
    dominates. `prior_strength` fixes β (in point-months) instead of
    estimating it. The regional rate m_rk is itself smoothed the same way
    toward the national rate (regions as the units, their points' months as
    exposure), so a small region with no write-off of a part yet does not get
    a rate of zero when the part fails elsewhere.

    Returns θ̂ × horizon_months. Vectorised over the sparse history: 3,000
    points × 2,000 parts × 12 months take a fraction of a second.
    """
    P, K, months = int(P), int(K), int(months)
    if P < 0 or K < 0 or months < 1:
        raise ValueError("P, K and months: P and K must be ≥ 0 and months ≥ 1")
    h = _horizon(horizon_months)
    pi = _vector("point_idx", point_idx, ndim=1, integer=True)
    ki = _vector("part_idx", part_idx, ndim=1, integer=True)
    mi = _vector("month_idx", month_idx, ndim=1, integer=True)
    c = _vector("count", count, ndim=1, integer=True)
    for name, a in (("part_idx", ki), ("month_idx", mi), ("count", c)):
        if a.shape != pi.shape:
            raise ValueError(
                f"{name}: has {a.size} entries, point_idx {pi.size}; give one per triple"
            )
    for name, a, top in (("point_idx", pi, P), ("part_idx", ki, K), ("month_idx", mi, months)):
        if a.size and a.max() >= top:
            raise ValueError(f"{name}: holds {a.max()}, beyond {top - 1}; indices run from 0")
    reg = _vector("region", region, ndim=1, integer=True)
    if reg.shape != (P,):
        raise ValueError(f"region: must have one entry per point ({P}), has {reg.size}")
    if exposure is None:
        ex = np.full(P, float(months))
    else:
        ex = _vector("exposure", exposure, ndim=1)
        if ex.shape != (P,):
            raise ValueError(f"exposure: must have one entry per point ({P}), has {ex.size}")
    if prior_strength is not None:
        ps = float(prior_strength)
        if not np.isfinite(ps) or ps < 0:
            raise ValueError(f"prior_strength: must be a finite number ≥ 0, not {prior_strength!r}")
    if P == 0 or K == 0:
        return np.zeros((P, K))
    n = np.bincount(pi * K + ki, weights=c.astype(np.float64), minlength=P * K).reshape(P, K)
    if np.any(n[ex == 0].sum(axis=1) > 0):
        bad = int(np.flatnonzero((ex == 0) & (n.sum(axis=1) > 0))[0])
        raise ValueError(f"exposure: point {bad} has write-offs but 0 months of history")
    R = int(reg.max()) + 1
    # Level 1: regions toward the nation (one group), exposures in point-months.
    ex_r = np.bincount(reg, weights=ex, minlength=R)
    n_r = _onehot(reg, R) @ n
    regional, _ = _shrink(n_r, ex_r, np.zeros(R, dtype=np.int64), 1)
    # Level 2: points toward their region's smoothed rate.
    rates, _ = _shrink(n, ex, reg, R, prior_mean=regional, prior_strength=prior_strength)
    return rates * h


__all__ = ["MAX_PRIOR_MONTHS", "MIN_CV", "in_service_rates", "new_model_demand"]
