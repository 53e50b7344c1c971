# STAND-IN: the contract's dataclasses, until the real module lands.
"""Initial purchase sizing (stand-in). See /work/shared-briefs/contract.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
