"""National allocation (optimizer/allocate.py): known answers, an independent
MIP and brute force on small instances, the bound's validity on larger ones,
credit and supply respected exactly, and instance files from plain numpy."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.linear_solver import pywraplp

from optimizer.allocate import (
    InstanceError,
    allocate,
    check_plan,
    instance_from_arrays,
    load_instance,
    load_plan,
    objective_of,
    region_fill,
    save_instance,
    save_plan,
    spreadsheet_method,
)
from optimizer.poisson import expected_backorders


def random_instance(P: int, K: int, R: int, seed: int, *, tight: float = 0.3, onhand=False):
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.7, 1.0, (P, K)) * rng.uniform(0.2, 2.0, (P, 1))
    cost = rng.integers(100, 50_000, K)
    demand = lam.sum(axis=0)
    total = np.floor(demand * rng.uniform(0.6, 1.0, K)).astype(np.int64)
    hq = np.floor(total * 0.4).astype(np.int64)
    reg = np.floor((total - hq)[None, :] * rng.dirichlet(np.ones(R), K).T).astype(np.int64)
    region = rng.integers(0, R, P)
    fair = (lam * cost).sum(axis=1) * 0.8
    headroom = np.floor(fair * np.where(rng.random(P) < tight, 0.4, 2.0)).astype(np.int64)
    arrays = dict(
        lam=lam,
        weight=rng.uniform(1.0, 3.0, K),
        cost=cost,
        hq=hq,
        reg=reg,
        region=region,
        headroom=headroom,
    )
    if onhand:
        arrays["onhand"] = rng.integers(0, 2, (P, K))
    return instance_from_arrays(arrays)


def independent_mip(instance) -> float:
    """The same problem written another way: integer x per point and part, and
    the backorders as the convex piecewise-linear function through their values
    at whole units (tangent cuts), solved by SCIP. Returns the optimum."""
    P, K, R = instance.P, instance.K, instance.R
    held = instance.held()
    solver = pywraplp.Solver.CreateSolver("SCIP")
    top = int(instance.hq.max() + instance.reg.max()) + 1
    x = [[solver.IntVar(0, top, f"x{p}_{k}") for k in range(K)] for p in range(P)]
    z = [[solver.NumVar(0, solver.infinity(), f"z{p}_{k}") for k in range(K)] for p in range(P)]
    ship = [
        [solver.NumVar(0, float(instance.hq[k]), f"s{r}_{k}") for k in range(K)] for r in range(R)
    ]
    for p in range(P):
        for k in range(K):
            values = expected_backorders(instance.lam[p, k], held[p, k] + np.arange(top + 2))
            for j in range(top + 1):
                slope = values[j + 1] - values[j]
                solver.Add(z[p][k] >= float(values[j]) + float(slope) * (x[p][k] - j))
        solver.Add(
            solver.Sum([float(instance.cost[k]) * x[p][k] for k in range(K)])
            <= float(instance.headroom[p])
        )
    for k in range(K):
        for r in range(R):
            members = [x[p][k] for p in range(P) if instance.region[p] == r]
            solver.Add(solver.Sum(members) <= float(instance.reg[r, k]) + ship[r][k])
        solver.Add(solver.Sum([ship[r][k] for r in range(R)]) <= float(instance.hq[k]))
    solver.Minimize(
        solver.Sum([float(instance.weight[k]) * z[p][k] for p in range(P) for k in range(K)])
    )
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, 1e-10)
    assert solver.Solve(params) == pywraplp.Solver.OPTIMAL
    return solver.Objective().Value()


def brute_force(instance) -> float:
    """Every whole allocation within supply and credit, tried one by one."""
    P, K = instance.P, instance.K
    limit = instance.hq + instance.reg.sum(axis=0)
    best = np.inf
    ranges = [range(int(limit[k]) + 1) for _ in range(P) for k in range(K)]
    for combo in itertools.product(*ranges):
        x = np.array(combo, dtype=np.int64).reshape(P, K)
        need = np.zeros_like(instance.reg)
        np.add.at(need, instance.region, x)
        if (np.maximum(need - instance.reg, 0).sum(axis=0) > instance.hq).any():
            continue
        if ((x @ instance.cost) > instance.headroom).any():
            continue
        best = min(best, objective_of(instance, x))
    return best


# --------------------------------------------------------------------------- known answers


def test_one_part_without_credit_goes_where_the_next_unit_is_likeliest_used():
    # One part, one warehouse, no credit limit: the optimum gives units in order
    # of P(D_p ≥ j), so every point sits at the same critical fractile.
    lam = np.array([[0.4], [2.0], [5.0]])
    instance = instance_from_arrays(
        dict(
            lam=lam,
            weight=[1.0],
            cost=[1000],
            hq=[0],
            reg=[[6]],
            region=[0, 0, 0],
            headroom=[10**9] * 3,
        )
    )
    plan = allocate(instance, min_gain=0)
    assert plan.x.sum() == 6
    # The brute-force answer over every split of six units.
    assert plan.objective == pytest.approx(brute_force(instance), abs=1e-12)
    assert plan.x[:, 0].tolist() == [0, 2, 4]


def test_warehouse_stock_serves_only_its_own_points_and_hq_serves_any():
    instance = instance_from_arrays(
        dict(
            lam=[[3.0], [3.0]],
            weight=[1.0],
            cost=[100],
            hq=[1],
            reg=[[4], [0]],
            region=[0, 1],
            headroom=[10**9, 10**9],
        )
    )
    plan = allocate(instance)
    # Point 1's warehouse holds nothing: it gets only what HQ ships there.
    assert plan.x[:, 0].tolist() == [4, 1]
    assert plan.ship[:, 0].tolist() == [0, 1]
    check_plan(instance, plan)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    P=st.integers(1, 3),
    K=st.integers(1, 2),
    R=st.integers(1, 2),
)
def test_tiny_instances_equal_brute_force(seed, P, K, R):
    rng = np.random.default_rng(seed)
    instance = instance_from_arrays(
        dict(
            lam=rng.uniform(0.0, 3.0, (P, K)),
            weight=rng.uniform(0.5, 3.0, K),
            cost=rng.integers(1, 500, K),
            hq=rng.integers(0, 3, K),
            reg=rng.integers(0, 2, (R, K)),
            region=rng.integers(0, R, P),
            headroom=rng.integers(0, 1200, P),
        )
    )
    plan = allocate(instance, min_gain=0)
    check_plan(instance, plan)
    assert plan.objective == pytest.approx(brute_force(instance), rel=1e-9, abs=1e-9)
    assert plan.bound <= plan.objective + 1e-9


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_small_instances_equal_an_independent_mip(seed):
    instance = random_instance(14, 10, 3, seed)
    plan = allocate(instance, min_gain=0)
    check_plan(instance, plan)
    optimum = independent_mip(instance)
    assert plan.objective == pytest.approx(optimum, rel=1e-7)
    assert plan.gap <= 1e-6
    assert plan.bound <= optimum + 1e-6


@pytest.mark.parametrize("seed", [4, 5])
def test_the_large_instance_method_reports_a_valid_bound_and_a_small_gap(seed):
    # The method for national instances, forced onto a small one, beside the
    # exact optimum: its bound is below the optimum, its plan above it.
    instance = random_instance(40, 30, 4, seed)
    fast = allocate(instance, exact=False, target_gap=0.0, time_limit=10, min_gain=0)
    exact = allocate(instance, exact=True, min_gain=0)
    check_plan(instance, fast)
    assert exact.method == "exact MIP"
    assert fast.bound <= exact.objective + 1e-7
    assert exact.objective <= fast.objective + 1e-7
    assert fast.gap == pytest.approx((fast.objective - fast.bound) / fast.objective)
    assert fast.gap < 0.01


def test_credit_that_binds_is_respected_exactly():
    instance = random_instance(60, 25, 3, seed=7, tight=0.6)
    free = instance_from_arrays(
        {
            **{f: getattr(instance, f) for f in ("lam", "weight", "cost", "hq", "reg", "region")},
            "headroom": np.full(instance.P, 10**12),
        }
    )
    unlimited = allocate(free, exact=False)
    capped = allocate(instance, exact=False)
    spend_free = unlimited.x @ instance.cost
    spend = capped.x @ instance.cost
    binds = spend_free > instance.headroom
    assert binds.sum() >= 10  # the instance is one where credit matters
    assert (spend <= instance.headroom).all()
    # Where credit binds, the point spends all but less than its dearest unit.
    assert (instance.headroom[binds] - spend[binds] < instance.cost.max()).all()
    assert capped.objective > unlimited.objective
    check_plan(instance, capped)


def test_a_unit_unlikely_to_be_used_stays_in_the_warehouse():
    # Far more stock than demand: without the rule every unit with any chance
    # of use goes out; with it, only those used with at least a 1 % chance.
    instance = instance_from_arrays(
        dict(lam=[[0.001], [0.5]], weight=[1.0], cost=[100], hq=[0], reg=[[100]], region=[0, 0])
        | {"headroom": [10**9, 10**9]}
    )
    everything = allocate(instance, min_gain=0)
    assert everything.x[:, 0].tolist()[1] >= 5
    kept = allocate(instance)
    # P(D ≥ 3 | λ = 0.5) = 0.014 ≥ 0.01 > P(D ≥ 4) = 0.0018; P(D ≥ 1 | λ = 0.001) = 0.001.
    assert kept.x[:, 0].tolist() == [0, 3]
    assert kept.bound <= kept.objective
    assert kept.objective - everything.objective < 0.01 + 0.002
    with pytest.raises(ValueError, match="min_gain"):
        allocate(instance, min_gain=float("nan"))
    with pytest.raises(ValueError, match="time_limit"):
        allocate(instance, time_limit=float("nan"))


def test_existing_stock_at_a_point_counts_before_anything_is_sent():
    base = dict(lam=[[2.0], [2.0]], weight=[1.0], cost=[10], hq=[2], reg=[[0]], region=[0, 0])
    base["headroom"] = [1000, 1000]
    without = allocate(instance_from_arrays(base))
    assert without.x[:, 0].tolist() == [1, 1]
    held = instance_from_arrays({**base, "onhand": [[2], [0]]})
    plan = allocate(held)
    assert plan.x[:, 0].tolist() == [0, 2]
    assert region_fill(held, plan.x)[0] > region_fill(held)[0]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), exact=st.booleans())
def test_every_plan_is_feasible_and_its_bound_below_it(seed, exact):
    instance = random_instance(12, 8, 2, seed, onhand=True)
    plan = allocate(instance, exact=exact, time_limit=10)
    check_plan(instance, plan)
    assert plan.x.dtype == np.int64 and plan.ship.dtype == np.int64
    assert plan.bound <= plan.objective + 1e-9
    assert plan.objective == pytest.approx(objective_of(instance, plan.x))


def test_the_optimiser_beats_the_spreadsheet_method_on_the_same_stock():
    instance = random_instance(80, 40, 4, seed=11)
    plan = allocate(instance)
    for refill in (False, True):
        sheet = spreadsheet_method(instance, refill=refill)
        check_plan(instance, sheet)
        assert plan.objective < sheet.objective


def test_nothing_to_allocate():
    instance = instance_from_arrays(
        dict(lam=np.zeros((2, 1)), weight=[1.0], cost=[5], hq=[3], reg=[[0]], region=[0, 0])
        | {"headroom": [0, 0]}
    )
    plan = allocate(instance)
    assert plan.x.sum() == 0 and plan.objective == 0 and plan.gap == 0


# --------------------------------------------------------------------------- files


def numpy_file(**overrides) -> io.BytesIO:
    """An instance file as another program writes it: plain np.savez."""
    arrays = dict(
        lam=np.array([[1.0, 0.5], [2.0, 0.0], [0.3, 4.0]]),
        weight=np.array([1.0, 2.0]),
        cost=np.array([1500, 300], dtype=np.int64),
        hq=np.array([2, 3], dtype=np.int64),
        reg=np.array([[1, 0], [0, 2]], dtype=np.int64),
        region=np.array([0, 1, 1]),
        headroom=np.array([5000, 10000, 2000], dtype=np.int64),
    )
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    return buffer


def test_an_instance_file_from_plain_numpy_round_trips_with_its_plan(tmp_path):
    instance = load_instance(numpy_file())
    plan = allocate(instance)
    check_plan(instance, plan)
    path = tmp_path / "plan.npz"
    save_plan(plan, path)
    back = load_plan(path)
    assert (back.x == plan.x).all() and (back.ship == plan.ship).all()
    assert back.objective == plan.objective and back.bound == plan.bound
    save_instance(instance, tmp_path / "again.npz")
    again = load_instance(tmp_path / "again.npz")
    assert (again.lam == instance.lam).all() and (again.region == instance.region).all()


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"lam": None}, "lam", "missing"),
        ({"cost": np.array([1500])}, "cost", "shape"),
        ({"hq": np.array([2.5, 3.0])}, "hq", "whole numbers"),
        ({"headroom": np.array([5000, -1, 0])}, "headroom", "negative"),
        ({"lam": np.array([[np.nan, 0.5], [2.0, 0.0], [0.3, 4.0]])}, "lam", "NaN"),
        ({"region": np.array([0, 1, 2])}, "region", "warehouse 2"),
        ({"reg": np.array([[2**60, 0], [0, 2]])}, "reg", "2^53"),
        ({"weight": np.array(["a", "b"])}, "weight", "numbers"),
        ({"lam": np.array([1.0, 2.0])}, "lam", "dimension"),
    ],
)
def test_a_bad_instance_file_is_refused_naming_the_array(overrides, field, words):
    with pytest.raises(InstanceError) as caught:
        load_instance(numpy_file(**overrides))
    assert caught.value.field == field
    assert words in str(caught.value)


def test_a_file_that_is_no_npz_is_refused():
    with pytest.raises(InstanceError) as caught:
        load_instance(io.BytesIO(b"lam,weight\n1,2\n\x00"))
    assert caught.value.field == "file"


def test_a_plan_that_breaks_supply_or_credit_is_refused():
    instance = load_instance(numpy_file())
    plan = allocate(instance)
    plan.x[0, 0] += 5
    with pytest.raises(InstanceError):
        check_plan(instance, plan)


def test_demand_or_stock_beyond_what_can_be_weighed_is_refused():
    with pytest.raises(InstanceError, match="shorten the horizon"):
        load_instance(numpy_file(lam=np.array([[1e9, 0.5], [2.0, 0.0], [0.3, 4.0]])))
    with pytest.raises(InstanceError, match="2\\^62"):
        load_instance(numpy_file(cost=np.array([2**52, 300]), hq=np.array([2**20, 3])))
    with pytest.raises(InstanceError, match="split the network"):
        instance_from_arrays(
            dict(
                lam=np.full((200, 200), 5000.0),
                weight=np.ones(200),
                cost=np.ones(200, dtype=np.int64),
                hq=np.zeros(200, dtype=np.int64),
                reg=np.zeros((1, 200), dtype=np.int64),
                region=np.zeros(200, dtype=np.int64),
                headroom=np.zeros(200, dtype=np.int64),
            )
        )
