"""National allocation on a generated network of 3,000 points × 2,000 parts over
30 regional warehouses (bench/plan_instances.py), beside the planners'
spreadsheet method measured in the same run.

For each seed the instance is written as an .npz file and solved in a child
process of its own (`optimizer.allocate.allocate` on `load_instance`), so its
wall time and peak memory (ru_maxrss) are the solver's alone. Reported:
seconds, peak MB, weighted expected backorders (the objective), the lower bound
and the gap; then the spreadsheet method (stock spread in proportion to
demand, cut to credit) and that method with the cut stock refilled (same
stock value), as objectives and as ratios to the optimised plan.

    .venv/bin/python bench/plan_allocate.py [--seeds 19,20,21] [--time-limit 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from plan_instances import national

from optimizer.allocate import (
    check_plan,
    instance_from_arrays,
    load_plan,
    save_instance,
    spreadsheet_method,
)

CHILD = """
import json, resource, sys, time
from optimizer.allocate import allocate, check_plan, load_instance, save_plan
instance = load_instance(sys.argv[1])
started = time.perf_counter()
plan = allocate(instance, time_limit=float(sys.argv[3]), target_gap=float(sys.argv[4]))
seconds = time.perf_counter() - started
check_plan(instance, plan)
save_plan(plan, sys.argv[2])
print(json.dumps({
    "seconds": seconds,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "objective": plan.objective, "bound": plan.bound, "gap": plan.gap,
    "history": plan.history,
}))
"""


def solve_in_child(instance_path: Path, plan_path: Path, time_limit: float, gap: float) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(instance_path),
            str(plan_path),
            str(time_limit),
            str(gap),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="19,20,21")
    parser.add_argument("--points", type=int, default=3000)
    parser.add_argument("--parts", type=int, default=2000)
    parser.add_argument("--regions", type=int, default=30)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--target-gap", type=float, default=1e-4)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    print(
        f"allocation: {args.points:,} points × {args.parts:,} parts × {args.regions} "
        f"warehouses, time limit {args.time_limit:g} s, target gap {100 * args.target_gap:g} %"
    )
    header = (
        f"{'seed':>4} {'s':>6} {'peak MB':>8} {'objective':>12} {'bound':>12} {'gap %':>8} "
        f"{'spread+cut':>12} {'ratio':>6} {'+refill':>12} {'ratio':>6}"
    )
    print(header)
    worst = 0.0
    slowest = 0.0
    heaviest = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            data = national(args.points, args.parts, args.regions, seed=seed)
            instance = instance_from_arrays(data)
            instance_path = Path(tmp) / f"national-{seed}.npz"
            plan_path = Path(tmp) / f"plan-{seed}.npz"
            save_instance(instance, instance_path)
            got = solve_in_child(instance_path, plan_path, args.time_limit, args.target_gap)
            plan = load_plan(plan_path)
            check_plan(instance, plan)
            sheet = spreadsheet_method(instance)
            refill = spreadsheet_method(instance, refill=True)
            check_plan(instance, sheet)
            check_plan(instance, refill)
            worst = max(worst, got["gap"])
            slowest = max(slowest, got["seconds"])
            heaviest = max(heaviest, got["peak_mb"])
            print(
                f"{seed:>4} {got['seconds']:>6.1f} {got['peak_mb']:>8.0f} "
                f"{got['objective']:>12,.1f} {got['bound']:>12,.1f} {100 * got['gap']:>8.4f} "
                f"{sheet.objective:>12,.1f} {sheet.objective / got['objective']:>6.3f} "
                f"{refill.objective:>12,.1f} {refill.objective / got['objective']:>6.3f}"
            )
            stock_value = float(
                (instance.hq + instance.reg.sum(axis=0)) @ instance.cost.astype(np.float64)
            )
            used = {
                "optimised": float((plan.x @ instance.cost).sum()),
                "spread+cut": float((sheet.x @ instance.cost).sum()),
                "+refill": float((refill.x @ instance.cost).sum()),
            }
            print(
                "     stock value sent out: "
                + ", ".join(f"{k} {100 * v / stock_value:.1f} %" for k, v in used.items())
                + "; progress (s, objective, bound): "
                + "; ".join(f"{s:.1f} {o:,.0f} {b:,.0f}" for s, o, b in got["history"][-3:])
            )
    print(
        f"worst gap {100 * worst:.4f} % (target ≤ 0.02 %), slowest {slowest:.1f} s "
        f"(target ≤ 30 s), peak {heaviest:.0f} MB (target ≤ 2,048 MB)"
    )
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"bench/plan_allocate.py took {time.perf_counter() - started:.0f} s")
    sys.exit(code)
