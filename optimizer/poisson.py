"""Poisson demand: the few formulas every planning model here is built on.

Demand for one part at one place over the horizon is D ~ Poisson(λ). With x
units on the shelf the repairs that wait are (D − x)⁺, and

    E[(D − x)⁺] = λ·P(D ≥ x) − x·P(D ≥ x + 1)

so expected backorders never need a sum over the distribution. The gain of the
j-th unit is P(D ≥ j), decreasing in j: backorders are convex in x, which is
what makes prices (Lagrange multipliers) and greedy marginal analysis work.
"""

from __future__ import annotations

import numpy as np
from scipy.special import pdtr, pdtrc


def at_least(j: np.ndarray | int, lam: np.ndarray | float) -> np.ndarray:
    """P(D ≥ j) for D ~ Poisson(λ), elementwise; 1 for j ≤ 0, 0 where λ = 0 and j ≥ 1."""
    j = np.asarray(j, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    # pdtrc(k, λ) = P(D > k) = P(D ≥ k + 1); it is undefined for k < 0.
    out = pdtrc(np.maximum(j - 1.0, 0.0), lam)
    return np.where(j <= 0, 1.0, out)


def expected_backorders(lam: np.ndarray | float, x: np.ndarray | int) -> np.ndarray:
    """E[(D − x)⁺] elementwise, for x ≥ 0 units on hand."""
    lam = np.asarray(lam, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    ebo = lam * at_least(x, lam) - x * at_least(x + 1.0, lam)
    # The difference of two nearly equal terms can dip a hair below zero.
    return np.maximum(ebo, 0.0)


def fill_rate(lam: np.ndarray, x: np.ndarray) -> float:
    """The share of expected demand met from stock: 1 − Σ E[(D − x)⁺] / Σ λ (1 with no demand)."""
    lam = np.asarray(lam, dtype=np.float64)
    total = float(lam.sum())
    if total <= 0:
        return 1.0
    return 1.0 - float(expected_backorders(lam, x).sum()) / total


def critical_fractile(lam: np.ndarray | float, service: np.ndarray | float) -> np.ndarray:
    """The smallest x with P(D ≤ x) ≥ service: the newsvendor's answer for a
    critical ratio `service` in [0, 1). Exact, by stepping the CDF (no float ppf)."""
    lam = np.asarray(lam, dtype=np.float64)
    service = np.broadcast_to(np.asarray(service, dtype=np.float64), lam.shape)
    x = np.zeros(lam.shape, dtype=np.int64)
    todo = pdtr(x, lam) < service
    while todo.any():
        x[todo] += 1
        todo &= pdtr(x, lam) < service
    return x
