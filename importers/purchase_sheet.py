# STAND-IN: the contract's dataclass, until the real module lands.
"""The purchase workbook (stand-in). See /work/shared-briefs/contract.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PurchaseInput:
    sku: tuple[str, ...]
    name: tuple[str, ...]
    cost: np.ndarray
    failure_rate: np.ndarray
    weight: np.ndarray
    moq: np.ndarray
    pack: np.ndarray
    lead_time_days: np.ndarray
    regions: tuple[str, ...]
    months: tuple[str, ...]
    sales: np.ndarray
