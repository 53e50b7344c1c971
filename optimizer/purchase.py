# STAND-IN: a plain stand-in for the "purchase" helper's module (dropped at merge).
"""Initial purchase sizing (stand-in). See /work/shared-briefs/contract.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.poisson import expected_backorders


@dataclass
class Purchase:
    qty: np.ndarray
    spend: int
    fill_rate: float
    backorders: float
    weighted_backorders: float
    bound: float
    optimal: bool


@dataclass
class Frontier:
    budget: np.ndarray
    spend: np.ndarray
    fill_rate: np.ndarray
    backorders: np.ndarray
    weighted_backorders: np.ndarray
    optimal: np.ndarray


def _measure(cost, lam, weight, qty):
    ebo = expected_backorders(lam, qty)
    total = float(lam.sum())
    fill = 1.0 - float(ebo.sum()) / total if total > 0 else 1.0
    return int(qty @ cost), fill, float(ebo.sum()), float(ebo @ weight)


def size_purchase(cost, lam, weight, moq, pack, *, budget=None, target_fill=None) -> Purchase:
    cost, lam, weight = np.asarray(cost), np.asarray(lam, float), np.asarray(weight, float)
    moq, pack = np.asarray(moq), np.asarray(pack)
    qty = np.zeros(len(cost), dtype=np.int64)
    while True:
        spend, fill, _, _ = _measure(cost, lam, weight, qty)
        if target_fill is not None and fill >= target_fill:
            break
        step = np.where(qty == 0, np.maximum(moq, pack), pack).astype(np.int64)
        gain = (
            weight
            * (expected_backorders(lam, qty) - expected_backorders(lam, qty + step))
            / np.maximum(cost * step, 1)
        )
        if budget is not None:
            gain[spend + cost * step > budget] = -1
        k = int(np.argmax(gain))
        if gain[k] <= 1e-12:
            break
        qty[k] += step[k]
    spend, fill, ebo, webo = _measure(cost, lam, weight, qty)
    return Purchase(qty, spend, fill, ebo, webo, webo, False)


def frontier(cost, lam, weight, moq, pack, *, steps=60, max_budget=None) -> Frontier:
    cost = np.asarray(cost)
    top = max_budget or int(np.asarray(lam).sum() * 3 * max(int(cost.max(initial=1)), 1))
    budgets = np.linspace(0, top, steps).astype(np.int64)
    rows = [size_purchase(cost, lam, weight, moq, pack, budget=int(b)) for b in budgets]
    return Frontier(
        budgets, np.array([r.spend for r in rows], dtype=np.int64),
        np.array([r.fill_rate for r in rows]), np.array([r.backorders for r in rows]),
        np.array([r.weighted_backorders for r in rows]), np.zeros(steps, dtype=bool),
    )  # fmt: skip
