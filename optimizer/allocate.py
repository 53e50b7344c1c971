# STAND-IN: the contract's dataclasses and a trivial allocate, until the real module lands.
"""National allocation (stand-in). See /work/shared-briefs/contract.md."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer import poisson


class InstanceError(ValueError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Labels:
    point: tuple[str, ...]
    part: tuple[str, ...]
    warehouse: tuple[str, ...]
    hq: str = "HQ"


@dataclass(frozen=True)
class Instance:
    lam: np.ndarray
    weight: np.ndarray
    cost: np.ndarray
    hq: np.ndarray
    reg: np.ndarray
    region: np.ndarray
    headroom: np.ndarray
    onhand: np.ndarray | None = None
    labels: Labels | None = None

    def __post_init__(self) -> None:
        if self.onhand is None:
            object.__setattr__(self, "onhand", np.zeros(self.lam.shape, dtype=np.int64))

    @property
    def P(self) -> int:
        return int(self.lam.shape[0])

    @property
    def K(self) -> int:
        return int(self.lam.shape[1])

    @property
    def R(self) -> int:
        return int(self.reg.shape[0])


@dataclass
class Plan:
    x: np.ndarray
    ship: np.ndarray
    objective: float
    bound: float
    gap: float
    seconds: float = 0.0
    solver: str = "greedy"
    method: str = "greedy"
    extra: dict = field(default_factory=dict)


def _objective(instance: Instance, x: np.ndarray) -> float:
    ebo = poisson.expected_backorders(instance.lam, instance.onhand + x)
    return float((ebo * instance.weight[None, :]).sum())


def allocate(instance: Instance, *, time_limit=30.0, target_gap=2e-4, progress=None) -> Plan:
    """Greedy marginal analysis, one unit at a time (small instances only)."""
    P, K = instance.P, instance.K
    x = np.zeros((P, K), dtype=np.int64)
    ship = np.zeros((instance.R, K), dtype=np.int64)
    hq = instance.hq.astype(np.int64).copy()
    reg = instance.reg.astype(np.int64).copy()
    room = instance.headroom.astype(np.int64).copy()
    while True:
        gain = instance.weight[None, :] * poisson.at_least(instance.onhand + x + 1, instance.lam)
        supply = reg[instance.region] + hq[None, :]
        ok = (supply > 0) & (instance.cost[None, :] <= room[:, None]) & (gain > 1e-12)
        if not ok.any():
            break
        p, k = np.unravel_index(int(np.argmax(np.where(ok, gain, -1.0))), (P, K))
        r = instance.region[p]
        if reg[r, k] > 0:
            reg[r, k] -= 1
        else:
            hq[k] -= 1
            ship[r, k] += 1
        x[p, k] += 1
        room[p] -= instance.cost[k]
    if progress:
        progress(1, 1, "done")
    value = _objective(instance, x)
    return Plan(x, ship, value, value, 0.0, 0.0, "greedy", "greedy")


def region_fill(instance: Instance, x) -> np.ndarray:
    x = np.zeros_like(instance.onhand) if x is None or np.isscalar(x) else np.asarray(x)
    out = np.ones(instance.R)
    for r in range(instance.R):
        rows = instance.region == r
        out[r] = poisson.fill_rate(instance.lam[rows], (instance.onhand + x)[rows])
    return out


def check_plan(instance: Instance, plan: Plan) -> None:
    if (plan.x < 0).any() or (plan.ship < 0).any():
        raise InstanceError("negative quantities", field="x")
    if ((plan.x * instance.cost[None, :]).sum(axis=1) > instance.headroom).any():
        raise InstanceError("credit broken", field="x")
