"""A seeded national allocation instance, the shape of the real network.

- 30 regional warehouses whose sizes differ by an order of magnitude (Zipf);
- service points graded A (busy, 15 %), B (35 %) and C (50 %);
- parts of four families: screens and batteries fail far more often than
  boards and cameras, and those far more often than the many small parts;
  criticality weights follow the family;
- stock a little short of demand (85–100 % by part), spread unevenly: a share
  at HQ, the rest over the regions in proportions that ignore demand;
- credit headroom below the value of a point's fair share at about a quarter of
  the points, well above it elsewhere.

`national(points, parts, regions, seed)` returns the arrays of an instance
file (see optimizer/allocate.py): lam, weight, cost, hq, reg, region, headroom.
"""

from __future__ import annotations

import numpy as np

FAMILIES = (
    # name, share of parts, failures per A point over the horizon (lognormal
    # median), weight, cost range in ¥
    ("screen", 0.04, 2.0, 3.0, (300, 2000)),
    ("battery", 0.04, 1.5, 2.0, (60, 300)),
    ("board", 0.12, 0.25, 2.0, (100, 900)),
    ("small", 0.80, 0.03, 1.0, (1, 60)),
)
GRADES = (("A", 0.15, 1.0), ("B", 0.35, 0.4), ("C", 0.50, 0.12))


def national(
    points: int = 3000, parts: int = 2000, regions: int = 30, seed: int = 19
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    # Regions of very different sizes; every region keeps at least a few points.
    size = 1.0 / np.arange(1, regions + 1) ** 0.9
    counts = np.maximum(3, np.floor(size / size.sum() * points)).astype(np.int64)
    counts[0] += points - counts.sum()
    region = np.repeat(np.arange(regions), counts)
    rng.shuffle(region)

    grade = rng.choice(len(GRADES), size=points, p=[g[1] for g in GRADES])
    volume = np.array([g[2] for g in GRADES])[grade] * rng.lognormal(0.0, 0.35, points)

    family = rng.choice(len(FAMILIES), size=parts, p=[f[1] for f in FAMILIES])
    base = np.array([f[2] for f in FAMILIES])[family] * rng.lognormal(0.0, 0.6, parts)
    weight = np.array([f[3] for f in FAMILIES])[family] * rng.uniform(0.8, 1.2, parts)
    low = np.array([f[4][0] for f in FAMILIES])[family]
    high = np.array([f[4][1] for f in FAMILIES])[family]
    cost = np.round(np.exp(rng.uniform(np.log(low), np.log(high))) * 100).astype(np.int64)

    # Regional taste: a model sells better in some regions than others.
    taste = rng.lognormal(0.0, 0.25, (regions, parts))
    lam = volume[:, None] * base[None, :] * taste[region]

    # Stock a little short of demand, unevenly spread.
    demand = lam.sum(axis=0)
    total = np.floor(demand * rng.uniform(0.85, 1.0, parts)).astype(np.int64)
    at_hq = rng.uniform(0.2, 0.6, parts)
    hq = np.floor(total * at_hq).astype(np.int64)
    spread = rng.dirichlet(np.full(regions, 0.7), size=parts).T  # (R, K), blind to demand
    reg = np.floor((total - hq)[None, :] * spread).astype(np.int64)

    # Credit: the value of a point's fair share of the stock, times a factor
    # below one at about a quarter of the points.
    fair = (lam * (total / np.maximum(demand, 1e-9))[None, :] * cost[None, :]).sum(axis=1)
    tight = rng.random(points) < 0.27
    factor = np.where(tight, rng.uniform(0.35, 0.9, points), rng.uniform(1.6, 3.0, points))
    headroom = np.floor(fair * factor).astype(np.int64)

    return {
        "lam": lam,
        "weight": weight,
        "cost": cost,
        "hq": hq,
        "reg": reg,
        "region": region.astype(np.int64),
        "headroom": headroom,
    }
