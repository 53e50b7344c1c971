"""Initial purchase sizing (optimizer.purchase): known answers, brute force on
small instances with minimum order and pack sizes, the frontier, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from optimizer.poisson import critical_fractile, expected_backorders, fill_rate
from optimizer.purchase import frontier, size_purchase


def _options(lam: float, moq: int, pack: int, cap: int) -> np.ndarray:
    """Every quantity brute force tries: 0, then ≥ moq in multiples of pack,
    up to the budget's reach or far into the tail of the demand."""
    first = pack * -(-max(moq, 1) // pack)
    top = max(first, int(np.ceil(lam + 12 * np.sqrt(lam) + 30)))
    q = np.arange(first, min(top, cap) + 1, pack)
    return np.r_[0, q].astype(np.int64)


def _brute(cost, lam, weight, moq, pack, *, budget=None, target=None):
    """Enumerate every combination of quantities; the best value."""
    S, E, W = np.zeros(1), np.zeros(1), np.zeros(1)
    for k in range(len(cost)):
        cap = budget // cost[k] if budget is not None else 10**9
        q = _options(lam[k], moq[k], pack[k], cap)
        e = expected_backorders(lam[k], q)
        S = (S[:, None] + q * cost[k]).ravel()
        E = (E[:, None] + e).ravel()
        W = (W[:, None] + weight[k] * e).ravel()
    if budget is not None:
        return float(W[budget >= S].min())
    total = lam.sum()
    ok = 1 - E / total >= target if total > 0 else np.ones(E.shape, bool)
    return int(S[ok].min())


@st.composite
def instances(draw):
    K = draw(st.integers(2, 4))
    cost = np.array(draw(st.lists(st.integers(1, 60), min_size=K, max_size=K)))
    lam = np.array(draw(st.lists(st.floats(0, 6), min_size=K, max_size=K)))
    weight = np.array(draw(st.lists(st.floats(0.1, 3), min_size=K, max_size=K)))
    moq = np.array(draw(st.lists(st.integers(2, 9), min_size=K, max_size=K)))
    pack = np.array(draw(st.lists(st.integers(2, 4), min_size=K, max_size=K)))
    return cost, lam, weight, moq, pack


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(instances(), st.integers(0, 500))
def test_budget_equals_brute_force(inst, budget):
    cost, lam, weight, moq, pack = inst
    got = size_purchase(cost, lam, weight, moq, pack, budget=budget)
    best = _brute(cost, lam, weight, moq, pack, budget=budget)
    assert got.optimal
    assert got.spend <= budget
    assert got.weighted_backorders == pytest.approx(best, rel=1e-9, abs=1e-12)
    assert got.bound <= got.weighted_backorders + 1e-9
    # Every quantity is 0 or at least the MOQ and a multiple of the pack.
    q = got.qty
    assert np.all((q == 0) | ((q >= moq) & (q % pack == 0)))
    assert got.spend == int(q @ cost)


@FAST
@given(instances(), st.floats(0, 0.99))
@example((np.array([1, 9]), np.ones(2), np.ones(2), np.array([2, 2]), np.array([2, 2])), 0.5)
def test_target_fill_equals_brute_force(inst, target):
    cost, lam, weight, moq, pack = inst
    got = size_purchase(cost, lam, weight, moq, pack, target_fill=target)
    assert got.optimal
    # A fill rate equal to the target to the last bit is left to float rounding
    # (a quantity deep in the tail saves 1e-17, which a sum of 1.0 loses): the
    # answer lies between brute force a hair below and a hair above the target.
    low = _brute(cost, lam, weight, moq, pack, target=target - 1e-12)
    high = _brute(cost, lam, weight, moq, pack, target=min(target + 1e-12, 0.999))
    assert low <= got.spend <= high
    assert got.fill_rate >= target
    assert got.fill_rate == pytest.approx(fill_rate(lam, got.qty))
    assert got.spend_bound <= got.spend


def test_single_part_without_moq_spends_its_budget_in_whole_units():
    got = size_purchase([250], [4.0], [1.0], [0], [1], budget=1999)
    assert got.qty.tolist() == [7]
    assert got.optimal


def test_without_moq_the_optimum_is_the_newsvendor_critical_fractile():
    """Without MOQs, at a price μ per fen a unit j of part k is worth buying
    when w_k·P(D ≥ j) ≥ μ·c_k: the newsvendor's x_k, the smallest x with
    P(D ≤ x) ≥ 1 − μ·c_k/w_k. At the budget Σ c_k x_k those quantities are
    the optimum (Everett: a Lagrangian solution is optimal for what it spends)."""
    rng = np.random.default_rng(7)
    for _ in range(20):
        K = int(rng.integers(1, 8))
        cost = rng.integers(100, 5000, K)
        lam = rng.uniform(0.5, 40, K)
        weight = rng.uniform(0.5, 3, K)
        mu = rng.uniform(0.05, 0.9) * (weight / cost).min()
        x = critical_fractile(lam, 1 - mu * cost / weight)
        budget = int(x @ cost)
        got = size_purchase(cost, lam, weight, np.zeros(K), np.ones(K), budget=budget)
        assert got.qty.tolist() == x.tolist()
        assert got.optimal
        assert got.bound == pytest.approx(got.weighted_backorders)


def test_moq_changes_the_answer_from_greedy():
    """A part whose MOQ does not fit the budget left is skipped, and the money
    goes to the next part: the brute force optimum, not marginal analysis."""
    cost = np.array([100, 10])
    lam = np.array([5.0, 5.0])
    weight = np.array([1.0, 1.0])
    moq = np.array([10, 1])
    pack = np.array([5, 1])
    got = size_purchase(cost, lam, weight, moq, pack, budget=900)
    assert got.qty[0] == 0  # 10 units at 100 fen do not fit 900
    assert got.weighted_backorders == pytest.approx(
        _brute(cost, lam, weight, moq, pack, budget=900)
    )


def test_frontier_is_monotone_and_every_row_exact():
    rng = np.random.default_rng(3)
    K = 3
    cost = rng.integers(1, 40, K)
    lam = rng.uniform(0, 5, K)
    weight = rng.uniform(0.2, 2, K)
    moq = rng.integers(2, 8, K)
    pack = rng.integers(2, 4, K)
    for exact_budgets in (False, True):
        fr = frontier(cost, lam, weight, moq, pack, steps=25, exact_budgets=exact_budgets)
        assert np.all(np.diff(fr.budget) > 0)
        assert np.all(fr.spend <= fr.budget)
        assert np.all(np.diff(fr.weighted_backorders) <= 1e-12)
        assert np.all(np.diff(fr.fill_rate) >= -0.05)  # unweighted: nearly monotone
        assert fr.optimal.all()
        for b, w in zip(fr.budget.tolist(), fr.weighted_backorders, strict=True):
            assert w == pytest.approx(_brute(cost, lam, weight, moq, pack, budget=b), abs=1e-12)
        assert fr.fill_rate[-1] >= 0.99 if not exact_budgets else True


def test_frontier_of_5000_parts_within_the_time_target():
    rng = np.random.default_rng(1)
    K = 5000
    cost = np.round(100 * np.exp(rng.uniform(0, np.log(2000), K))).astype(np.int64)
    lam = rng.lognormal(2, 1.5, K)
    pack = rng.choice([1, 5, 10, 50], K)
    moq = pack * rng.integers(1, 20, K)
    weight = rng.uniform(0.5, 3, K)
    fr = frontier(cost, lam, weight, moq, pack, steps=60)
    assert fr.seconds < 5
    assert fr.budget.size >= 50
    assert np.all(np.diff(fr.weighted_backorders) <= 0)
    assert fr.fill_rate[-1] >= 0.999
    assert fr.optimal.all()


def test_no_demand_buys_nothing():
    got = size_purchase([100, 200], [0.0, 0.0], [1.0, 1.0], [5, 5], [1, 1], target_fill=0.95)
    assert got.qty.tolist() == [0, 0] and got.spend == 0 and got.fill_rate == 1.0
    got = size_purchase([100, 200], [3.0, 0.0], [0.0, 1.0], [5, 5], [1, 1], budget=10_000)
    assert got.qty.tolist() == [0, 0]  # no weight, no demand: nothing worth buying


GOOD = dict(cost=[100, 200], lam=[2.0, 3.0], weight=[1.0, 1.0], moq=[1, 1], pack=[1, 1])


@pytest.mark.parametrize(
    ("change", "kwargs", "field"),
    [
        ({"cost": [-1, 200]}, {"budget": 1000}, "cost"),
        ({"cost": [0, 200]}, {"budget": 1000}, "cost"),
        ({"cost": [1.5, 200]}, {"budget": 1000}, "cost"),
        ({"pack": [0, 1]}, {"budget": 1000}, "pack"),
        ({"moq": [-3, 1]}, {"budget": 1000}, "moq"),
        ({"lam": [float("nan"), 1.0]}, {"budget": 1000}, "lam"),
        ({"lam": [float("inf"), 1.0]}, {"budget": 1000}, "lam"),
        ({"lam": [-1.0, 1.0]}, {"budget": 1000}, "lam"),
        ({"lam": [1.0]}, {"budget": 1000}, "lam"),
        ({"weight": [1.0, float("nan")]}, {"budget": 1000}, "weight"),
        ({}, {"budget": -1}, "budget"),
        ({}, {"budget": 10.5}, "budget"),
        ({}, {"budget": float("nan")}, "budget"),
        ({}, {"target_fill": 1.0}, "target_fill"),
        ({}, {"target_fill": -0.1}, "target_fill"),
        ({}, {"target_fill": float("nan")}, "target_fill"),
        ({}, {}, "budget/target_fill"),
        ({}, {"budget": 10, "target_fill": 0.5}, "budget/target_fill"),
    ],
)
def test_bad_inputs_name_the_argument(change, kwargs, field):
    args = {**GOOD, **change}
    with pytest.raises(ValueError, match=f"^{field}:"):
        size_purchase(**args, **kwargs)


def test_bad_frontier_inputs():
    with pytest.raises(ValueError, match=r"^max_budget:"):
        frontier(**GOOD, max_budget=-5)
    with pytest.raises(ValueError, match=r"^steps:"):
        frontier(**GOOD, steps=1)
    with pytest.raises(ValueError, match=r"^pack:"):
        frontier(**{**GOOD, "pack": [1, 0]})


def test_a_lumpy_moq_gets_rows_between_its_breakpoints():
    """One part's first order (1,000 units) is most of the range: marginal
    analysis has no breakpoint inside it, so the rows there come from the
    exact search, and each equals brute force at its budget."""
    cost, lam, weight = np.array([100, 3]), np.array([50.0, 40.0]), np.array([1.0, 1.0])
    moq, pack = np.array([1000, 5]), np.array([1, 5])
    fr = frontier(cost, lam, weight, moq, pack, steps=10)
    assert fr.budget.size >= 10
    assert np.all(np.diff(fr.budget) > 0) and np.all(np.diff(fr.weighted_backorders) <= 0)
    for b, w, ok in zip(fr.budget.tolist(), fr.weighted_backorders, fr.optimal, strict=True):
        assert ok
        assert w == pytest.approx(_brute(cost, lam, weight, moq, pack, budget=b), abs=1e-12)


def test_the_exact_search_agrees_with_and_without_its_lp_bound(monkeypatch):
    """Medium instances (10–40 parts, too many for brute force): the search
    pruned by the suffix LP bound finds what the search without it finds; a
    bound that cut off an optimum would show here."""
    import optimizer.purchase as purchase

    rng = np.random.default_rng(11)
    with_bound = purchase._suffix_bounds
    for _ in range(40):
        K = int(rng.integers(10, 40))
        cost = rng.integers(1, 300, K)
        lam = rng.uniform(0, 30, K)
        weight = rng.uniform(0.2, 3, K)
        pack = rng.integers(1, 6, K)
        moq = pack * rng.integers(1, 8, K)
        budget = int(rng.uniform(0.2, 1.0) * (cost * lam).sum())
        target = float(rng.uniform(0.5, 0.99))
        got = []
        for bound in (with_bound, lambda *a, **k: None):
            monkeypatch.setattr(purchase, "_suffix_bounds", bound)
            got.append(
                (
                    size_purchase(cost, lam, weight, moq, pack, budget=budget),
                    size_purchase(cost, lam, weight, moq, pack, target_fill=target),
                )
            )
        (a, c), (b, d) = got
        assert a.optimal and b.optimal and c.optimal and d.optimal
        assert a.weighted_backorders == pytest.approx(b.weighted_backorders, rel=1e-12)
        assert c.spend == d.spend
