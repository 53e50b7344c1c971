"""The purchase frontier for a new model of 5,000 parts (seeded generator
below), timed: wall time, peak memory (ru_maxrss of the process and the
frontier's own peak by tracemalloc, in a second run), rows proven optimal and
the largest gap of a row to its bound; then one `size_purchase` at a budget
and one at a target fill rate.

The model: 1,000,000 handsets sold over 6 months in 30 regions of very
different sizes, a horizon of 6 months from launch; screens and batteries
(1 % of the parts each) fail about 100 times as often as small parts
(screws, clips, labels: two thirds of the parts); prices from ¥1 to ¥2,000,
MOQs and packs by kind.

    .venv/bin/python bench/plan_purchase.py [--parts 5000] [--seeds 19,20,21] [--steps 60]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from optimizer.demand import new_model_demand
from optimizer.purchase import frontier, size_purchase

# kind: share of parts, failures per handset-month (median), price ¥ (low, high),
# moq (low, high), pack choices, weight
KINDS = {
    "screen": (0.01, 1e-3, (300, 2000), (50, 300), (10, 20, 50), 3.0),
    "battery": (0.01, 6e-4, (80, 300), (100, 500), (20, 50), 2.5),
    "camera": (0.04, 1e-4, (50, 600), (50, 200), (10, 20), 1.5),
    "board": (0.08, 3e-5, (20, 400), (20, 100), (5, 10), 1.0),
    "flex": (0.20, 1.5e-5, (5, 80), (100, 500), (50, 100), 1.0),
    "small": (0.66, 5e-6, (1, 20), (200, 2000), (100, 200, 500), 0.5),
}


def model(parts: int, seed: int, regions: int = 30, months: int = 6):
    """cost (K,) fen, lam (K,), weight (K,), moq (K,), pack (K,), kind (K,)."""
    rng = np.random.default_rng(seed)
    names = list(KINDS)
    shares = np.array([KINDS[n][0] for n in names])
    kind = rng.choice(len(names), size=parts, p=shares / shares.sum())
    rate = np.empty(parts)
    cost = np.empty(parts, dtype=np.int64)
    moq = np.empty(parts, dtype=np.int64)
    pack = np.empty(parts, dtype=np.int64)
    weight = np.empty(parts)
    for i, n in enumerate(names):
        _, fr, (lo, hi), (mlo, mhi), packs, w = KINDS[n]
        sel = kind == i
        m = int(sel.sum())
        rate[sel] = fr * rng.lognormal(0.0, 0.6, m)
        cost[sel] = np.round(100 * np.exp(rng.uniform(np.log(lo), np.log(hi), m))).astype(np.int64)
        pack[sel] = rng.choice(packs, m)
        moq[sel] = pack[sel] * np.maximum(1, rng.integers(mlo, mhi + 1, m) // pack[sel])
        weight[sel] = w
    size = rng.pareto(1.2, regions) + 0.2  # regions of very different sizes
    ramp = np.array([0.25, 0.22, 0.18, 0.14, 0.11, 0.10])[:months]
    sales = np.round(1_000_000 * np.outer(size / size.sum(), ramp / ramp.sum())).astype(np.int64)
    lam = new_model_demand(sales, rate, months).sum(axis=0)
    return cost, lam, weight, moq, pack, kind


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", type=int, default=5000)
    parser.add_argument("--seeds", default="19,20,21")
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    print(
        f"purchase frontier: {args.parts:,} parts, {args.steps} budgets; target ≤ 5 s. "
        "Breakpoints: rows at the breakpoints of marginal analysis (exact); even: rows at "
        "evenly spaced budgets, each searched exactly within 4 s in all"
    )
    print(
        f"{'seed':>4} {'Σλ':>9} {'max ¥':>12} | {'bp s':>5} {'MB':>4} {'exact':>6} | "
        f"{'even s':>6} {'proven':>6} {'worst gap':>9} | {'½ budget s':>10} {'opt':>3} "
        f"{'gap':>8} | {'95% fill ¥':>12} {'s':>5} {'opt':>3} {'gap':>8}"
    )
    slowest = 0.0
    for seed in seeds:
        cost, lam, weight, moq, pack, _ = model(args.parts, seed)
        started = time.perf_counter()
        fr = frontier(cost, lam, weight, moq, pack, steps=args.steps)
        seconds = time.perf_counter() - started
        slowest = max(slowest, seconds)
        tracemalloc.start()
        frontier(cost, lam, weight, moq, pack, steps=args.steps)
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        assert np.all(np.diff(fr.weighted_backorders) <= 1e-9), "frontier not monotone"
        assert fr.optimal.all() and np.all(fr.spend <= fr.budget)
        t0 = time.perf_counter()
        ev = frontier(cost, lam, weight, moq, pack, steps=args.steps, exact_budgets=True)
        even_s = time.perf_counter() - t0
        assert np.all(np.diff(ev.weighted_backorders) <= 1e-9)
        gaps = (ev.weighted_backorders - ev.bound) / np.maximum(ev.weighted_backorders, 1e-300)
        half = int(fr.budget[-1] // 2)
        t0 = time.perf_counter()
        mid = size_purchase(cost, lam, weight, moq, pack, budget=half)
        size_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        tf = size_purchase(cost, lam, weight, moq, pack, target_fill=0.95)
        t_s = time.perf_counter() - t0
        assert mid.spend <= half and tf.fill_rate >= 0.95
        mid_gap = (mid.weighted_backorders - mid.bound) / mid.weighted_backorders
        tf_gap = (tf.spend - tf.spend_bound) / tf.spend
        print(
            f"{seed:>4} {lam.sum():>9,.0f} {fr.budget[-1] / 100:>12,.0f} | {seconds:>5.2f} "
            f"{traced:>4.0f} {int(fr.optimal.sum()):>3}/{fr.optimal.size:<2} | {even_s:>6.2f} "
            f"{int(ev.optimal.sum()):>3}/{ev.optimal.size:<2} {gaps.max():>9.1e} | "
            f"{size_s:>10.2f} {'yes' if mid.optimal else 'no':>3} {mid_gap:>8.1e} | "
            f"{tf.spend / 100:>12,.0f} {t_s:>5.2f} {'yes' if tf.optimal else 'no':>3} "
            f"{tf_gap:>8.1e}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"slowest frontier {slowest:.2f} s (target ≤ 5 s); process peak {peak:.0f} MB "
        "(ru_maxrss, Python and numpy included); MB: the frontier's own peak (tracemalloc); "
        "gap: (objective − bound)/objective, spend for the target fill"
    )
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"bench/plan_purchase.py took {time.perf_counter() - started:.0f} s")
    sys.exit(code)
