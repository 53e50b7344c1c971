"""Demand rates (optimizer.demand): the new model's installed base, and
write-off history smoothed toward the regional rate."""

from __future__ import annotations

import time

import numpy as np
import pytest

from optimizer.demand import in_service_rates, new_model_demand


def test_new_model_demand_counts_months_in_service_from_mid_month():
    sales = np.array([[100, 0, 50], [0, 10, 0]])
    rate = np.array([0.01, 0.002])
    got = new_model_demand(sales, rate, 3)
    # month 0: 2.5 months in service, month 1: 1.5, month 2: 0.5
    handset_months = np.array([100 * 2.5 + 50 * 0.5, 10 * 1.5])
    assert got.shape == (2, 2)
    assert np.allclose(got, np.outer(handset_months, rate))
    # Sales after the horizon add nothing.
    assert np.allclose(new_model_demand(sales, rate, 1), np.outer([50.0, 0.0], rate))


@pytest.mark.parametrize(
    ("sales", "rate", "horizon", "field"),
    [
        ([[1, -1]], [0.1], 3, "sales"),
        ([[1, float("nan")]], [0.1], 3, "sales"),
        ([1, 2], [0.1], 3, "sales"),
        ([[1, 2]], [-0.1], 3, "failure_rate"),
        ([[1, 2]], [[0.1]], 3, "failure_rate"),
        ([[1, 2]], [0.1], -1, "horizon_months"),
        ([[1, 2]], [0.1], float("inf"), "horizon_months"),
    ],
)
def test_new_model_demand_refuses_bad_inputs(sales, rate, horizon, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        new_model_demand(sales, rate, horizon)


def _history(rng, P, K, months, region, base):
    """Sparse triples drawn from Poisson rates `base` (P, K) per point-month."""
    counts = rng.poisson(np.repeat(base[:, :, None], months, axis=2))
    p, k, m = np.nonzero(counts)
    return p, k, m, counts[p, k, m]


def test_no_history_gets_the_regional_rate_and_a_long_history_its_own():
    rng = np.random.default_rng(5)
    P, K, months = 401, 3, 12
    region = np.zeros(P, dtype=np.int64)
    base = np.tile([0.5, 0.1, 0.02], (P, 1))
    base[0] = [5.0, 1.0, 0.2]  # one point fails ten times as often
    p, k, m, c = _history(rng, P, K, months, region, base)
    exposure = np.full(P, 12.0)
    exposure[1] = 0.0  # opened today: no history
    keep = p != 1
    p, k, m, c = p[keep], k[keep], m[keep], c[keep]
    # The busy point has a hundred years of history.
    p = np.r_[p, np.zeros(3, dtype=np.int64)]
    k = np.r_[k, [0, 1, 2]]
    m = np.r_[m, [0, 0, 0]]
    extra = rng.poisson(np.array([5.0, 1.0, 0.2]) * 1188)
    c = np.r_[c, extra]
    exposure[0] = 1200.0
    got = in_service_rates(
        p, k, m, c, P=P, K=K, months=months, region=region, horizon_months=3, exposure=exposure
    )
    assert got.shape == (P, K)
    assert np.all(got >= 0)
    regional = np.bincount(k, weights=c, minlength=K) / exposure.sum()  # pooled
    # No history: the regional rate (the region's write-offs over its point-months).
    assert got[1] == pytest.approx(3 * regional, rel=0.05)
    # A long history: about its own rate, far from the region's.
    own = np.bincount(k[p == 0], weights=c[p == 0], minlength=K) / 1200.0
    assert got[0] == pytest.approx(3 * own, rel=0.1)
    # A quiet point is pulled toward the region, not left at its own count.
    quiet = int(np.argmin(np.bincount(p[k == 0], weights=c[k == 0], minlength=P)[2:])) + 2
    raw = np.bincount(p[k == 0], weights=c[k == 0], minlength=P)[quiet] / 12.0
    assert raw < got[quiet, 0] / 3 < regional[0]


def test_regions_keep_their_own_rates_and_a_silent_region_borrows_the_nations():
    rng = np.random.default_rng(2)
    P, K, months = 300, 1, 12
    region = np.repeat([0, 1, 2], [150, 148, 2])
    base = np.where(region == 0, 1.0, 0.2)[:, None]
    base[region == 2] = 0.0
    p, k, m, c = _history(rng, P, K, months, region, base)
    got = in_service_rates(p, k, m, c, P=P, K=K, months=months, region=region, horizon_months=1)
    assert got[region == 0].mean() == pytest.approx(1.0, rel=0.1)
    assert got[region == 1].mean() == pytest.approx(0.2, rel=0.15)
    # Two points with 24 quiet months in all: shrunk toward the nation, not 0.
    assert np.all(got[region == 2] > 0.01)


def test_prior_strength_fixes_how_much_the_region_counts():
    p, k, m, c = np.array([0, 1]), np.array([0, 0]), np.array([0, 0]), np.array([12, 0])
    region = np.array([0, 0])
    got = in_service_rates(
        p, k, m, c, P=2, K=1, months=12, region=region, horizon_months=1, prior_strength=12
    )
    # National = regional rate 0.5 per month; β = 12: (0.5·12 + 12)/(12 + 12) = 0.75.
    assert got[0, 0] == pytest.approx(0.75, rel=0.02)
    assert got[1, 0] < got[0, 0]


def test_no_history_at_all_is_zero():
    got = in_service_rates(
        [], [], [], [], P=4, K=3, months=6, region=[0, 0, 1, 1], horizon_months=3
    )
    assert got.shape == (4, 3) and not got.any()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"point_idx": [5]}, "point_idx"),
        ({"part_idx": [-1]}, "part_idx"),
        ({"month_idx": [12]}, "month_idx"),
        ({"count": [-2]}, "count"),
        ({"count": [1.5]}, "count"),
        ({"count": [1, 2]}, "count"),
        ({"region": [0, 0]}, "region"),
        ({"horizon_months": float("nan")}, "horizon_months"),
        ({"exposure": [12.0, 12.0, -1.0]}, "exposure"),
        ({"exposure": [0.0, 12.0, 12.0]}, "exposure"),
        ({"prior_strength": -1}, "prior_strength"),
    ],
)
def test_in_service_rates_refuses_bad_inputs(change, field):
    args = dict(
        point_idx=[0], part_idx=[1], month_idx=[3], count=[2],
        P=3, K=2, months=12, region=[0, 0, 1], horizon_months=3,
    )  # fmt: skip
    args.update(change)
    with pytest.raises(ValueError, match=f"^{field}:"):
        in_service_rates(**args)


def test_national_history_is_fast():
    rng = np.random.default_rng(9)
    P, K, months = 3000, 2000, 12
    region = rng.integers(0, 30, P)
    n = 800_000
    p = rng.integers(0, P, n)
    k = (rng.pareto(1.0, n) * 20).astype(np.int64) % K  # popular parts dominate
    m = rng.integers(0, months, n)
    c = rng.integers(1, 4, n)
    started = time.perf_counter()
    got = in_service_rates(p, k, m, c, P=P, K=K, months=months, region=region, horizon_months=3)
    assert time.perf_counter() - started < 3
    assert got.shape == (P, K) and np.all(np.isfinite(got)) and got.min() >= 0
    assert got.sum() == pytest.approx(c.sum() / 12 * 3, rel=0.05)
