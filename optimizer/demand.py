# STAND-IN: a plain stand-in for the "purchase" helper's module (dropped at merge).
"""Demand rates (stand-in). See /work/shared-briefs/contract.md."""

from __future__ import annotations

import numpy as np


def new_model_demand(sales, failure_rate, horizon_months) -> np.ndarray:
    sales = np.asarray(sales, dtype=np.float64)
    months = sales.shape[1]
    in_service = np.zeros(sales.shape[0])
    for m in range(months):
        in_service += sales[:, m] * max(0, months - m)
    return np.outer(in_service / max(months, 1) * horizon_months, np.asarray(failure_rate))


def in_service_rates(
    point_idx, part_idx, month_idx, count, *, P, K, months, region, horizon_months, **_
) -> np.ndarray:
    """The plain mean monthly rate of each (point, part) times the horizon."""
    total = np.zeros((P, K))
    np.add.at(total, (np.asarray(point_idx, int), np.asarray(part_idx, int)), np.asarray(count))
    return total / max(months, 1) * horizon_months
