"""Planning on the job runner (ledger/jobs.py): the job kinds
"plan_allocation" (a snapshot of the ledger, allocated, recorded as a plan)
and "plan_purchase" (an uploaded workbook sized for a budget or a target
fill rate, with the budget ↔ fill-rate frontier, recorded as a plan).

Each job records one plan, whose idempotency key is derived from the job's
number: a job run again (resumed after a crash) finds the plan it recorded
and records nothing twice. Listed in ledger.jobs.KIND_MODULES, so every
door and the worker know the kinds.
"""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from ledger import jobs, planning
from ledger.db import Database
from ledger.errors import InvalidInput, LedgerError
from ledger.jobs import JobContext, job_kind
from ledger.models import Role, User
from ledger.policy import SYSTEM, Actor
from ledger.users import actor_of
from optimizer import adapter, allocate
from optimizer.poisson import expected_backorders

ALLOCATION = "plan_allocation"
PURCHASE = "plan_purchase"
ROLES = (Role.PLANNER,)  # and admins, who may start any job


class AllocationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    horizon_months: int = Field(default=3, ge=1, le=24)
    time_limit: float = Field(default=30.0, ge=1, le=600, allow_inf_nan=False)
    target_gap: float = Field(default=1e-4, ge=0, le=0.5, allow_inf_nan=False)


class PurchaseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upload: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the uploaded workbook")
    budget: int | None = Field(default=None, ge=0, le=10**15, description="Fen")
    target_fill: float | None = Field(default=None, gt=0, lt=1, allow_inf_nan=False)
    horizon_months: int = Field(default=12, ge=1, le=60)
    steps: int = Field(default=60, ge=2, le=400)

    @model_validator(mode="after")
    def _one_goal(self):
        if (self.budget is None) == (self.target_fill is None):
            raise ValueError("give exactly one of budget (fen) and target_fill (0 to 1)")
        return self


def _starter(ctx: JobContext) -> Actor:
    """Who started the job (the command line's system administrator, or a user)."""
    with ctx.db.reading() as session:
        username = jobs.get_job(session, ctx.job_id).created_by
        who = session.scalar(select(User).where(User.username == username))
        if who is None and username == SYSTEM.username:
            return SYSTEM
        if who is None or not who.active:
            raise InvalidInput(f"{username}, who started the job, is no active user", field="user")
        return actor_of(who)


def fill_rate(lam: np.ndarray, held: np.ndarray) -> float:
    """Expected share of demand met from stock: 1 − Σ EBO / Σ λ."""
    total = float(np.asarray(lam).sum())
    if total <= 0:
        return 1.0
    return 1.0 - float(expected_backorders(lam, held).sum()) / total


def allocation_summary(instance: allocate.Instance, plan: allocate.Plan) -> dict[str, Any]:
    held = instance.held()
    spend = plan.x @ instance.cost
    return {
        "objective": plan.objective,
        "bound": plan.bound if np.isfinite(plan.bound) else None,
        "gap": plan.gap if np.isfinite(plan.gap) else None,
        "seconds": round(plan.seconds, 3),
        "solver": plan.solver,
        "method": plan.method,
        "points": instance.P,
        "parts": instance.K,
        "warehouses": instance.R,
        "demand": float(instance.lam.sum()),
        "fill_before": fill_rate(instance.lam, held),
        "fill_after": fill_rate(instance.lam, held + plan.x),
        "units": int(plan.x.sum()),
        "shipped": int(plan.ship.sum()),
        "value": int(spend.sum()),
        "points_supplied": int((plan.x.sum(axis=1) > 0).sum()),
        "weight": adapter.WEIGHT_SOURCE,
    }


def run_allocation(
    db: Database,
    actor: Actor,
    params: dict[str, Any],
    *,
    job: str | None = None,
    key: str | None = None,
    progress=None,
) -> planning.PlanView:
    """Snapshot, allocate, record: the work of a plan_allocation job (also
    run in-process by the CLI)."""
    report = progress or (lambda done, total, note: None)
    report(0, None, "reading the ledger")
    with db.reading() as session:
        instance = adapter.snapshot(session, horizon_months=params["horizon_months"])
    report(0, None, f"{instance.P:,} points × {instance.K:,} parts")
    plan = allocate.allocate(
        instance,
        time_limit=params["time_limit"],
        target_gap=params["target_gap"],
        progress=report,
    )
    data = adapter.pack_allocation(instance, plan)
    summary = allocation_summary(instance, plan)
    return db.transact(
        lambda s: planning.record_plan(
            s, actor, kind=planning.PlanKind.ALLOCATION, params=params, summary=summary,
            data=data, job=job, key=key,
        )
    )  # fmt: skip


@job_kind(ALLOCATION, roles=ROLES, params=AllocationParams)
def allocation_job(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    actor = _starter(ctx)
    key = f"{ctx.number}/plan"

    last = [0.0]

    def progress(done, total, note):
        # The solver reports every round; the job's row is written a few times a second.
        now = time.monotonic()
        if now - last[0] >= 0.25 or (total is not None and done >= total):
            last[0] = now
            ctx.progress(done, total, note)

    view = run_allocation(ctx.db, actor, params, job=ctx.number, key=key, progress=progress)
    return {"plan": view.number, **{k: view.summary.get(k) for k in ("objective", "bound", "gap",
                                                                     "seconds")}}  # fmt: skip


# -- purchase ----------------------------------------------------------------------------


def purchase_demand(input_, horizon_months: int) -> np.ndarray:
    """Expected failures per part over the horizon, all regions: (K,)."""
    from optimizer import demand

    by_region = demand.new_model_demand(input_.sales, input_.failure_rate, horizon_months)
    return np.asarray(by_region, dtype=np.float64).sum(axis=0)


def size(input_, *, budget=None, target_fill=None, horizon_months=12, steps=60):
    """(purchase, frontier, lam) of a workbook's input."""
    from optimizer import purchase

    lam = purchase_demand(input_, horizon_months)
    chosen = purchase.size_purchase(
        input_.cost, lam, input_.weight, input_.moq, input_.pack,
        budget=budget, target_fill=target_fill,
    )  # fmt: skip
    curve = purchase.frontier(input_.cost, lam, input_.weight, input_.moq, input_.pack, steps=steps)
    return chosen, curve, lam


def purchase_summary(input_, chosen, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "parts": len(input_.sku),
        "regions": len(input_.regions),
        "months": len(input_.months),
        "budget": params.get("budget"),
        "target_fill": params.get("target_fill"),
        "spend": int(chosen.spend),
        "units": int(np.asarray(chosen.qty).sum()),
        "fill_rate": float(chosen.fill_rate),
        "backorders": float(chosen.backorders),
        "weighted_backorders": float(chosen.weighted_backorders),
        "bound": float(chosen.bound) if np.isfinite(chosen.bound) else None,
        "optimal": bool(chosen.optimal),
    }


def read_workbook(data: bytes):
    """The workbook's input; a problem names its sheet, row and column."""
    from importers.purchase_sheet import read_purchase_workbook

    try:
        return read_purchase_workbook(io.BytesIO(data))
    except LedgerError:
        raise
    except (ValueError, KeyError, TypeError, OSError, zipfile.BadZipFile) as exc:
        raise InvalidInput(
            f"the purchase workbook cannot be read: {exc}; start from the template "
            "(sheets parts and sales)",
            field="file",
        ) from None


@job_kind(PURCHASE, roles=ROLES, params=PurchaseParams)
def purchase_job(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    actor = _starter(ctx)
    with ctx.db.reading() as session:
        data = planning.upload_data(session, params["upload"])
    ctx.progress(0, 3, "reading the workbook")
    input_ = read_workbook(data)
    ctx.progress(1, 3, f"sizing {len(input_.sku):,} parts")
    chosen, curve, lam = size(
        input_, budget=params.get("budget"), target_fill=params.get("target_fill"),
        horizon_months=params["horizon_months"], steps=params["steps"],
    )  # fmt: skip
    ctx.progress(2, 3, "recording the plan")
    packed = adapter.pack_purchase(input_, chosen, curve, lam)
    summary = purchase_summary(input_, chosen, params)
    view = ctx.db.transact(
        lambda s: planning.record_plan(
            s, actor, kind=planning.PlanKind.PURCHASE, params=params, summary=summary,
            data=packed, job=ctx.number, key=f"{ctx.number}/plan",
        )
    )  # fmt: skip
    ctx.progress(3, 3, f"plan {view.number}")
    return {"plan": view.number, "spend": summary["spend"], "fill_rate": summary["fill_rate"]}


def start_purchase(
    db: Database,
    actor: Actor,
    data: bytes,
    *,
    budget: int | None = None,
    target_fill: float | None = None,
    horizon_months: int = 12,
    key: str | None = None,
    queue=None,
) -> jobs.JobView:
    """Check an uploaded workbook (a problem names its sheet, row and
    column at once), keep it, and start the plan_purchase job on it."""
    if (budget is None) == (target_fill is None):
        raise InvalidInput("give exactly one of a budget and a target fill rate", field="budget")
    read_workbook(data)
    digest = db.transact(lambda s: planning.store_upload(s, actor, data))
    params = {"upload": digest, "budget": budget, "target_fill": target_fill,
              "horizon_months": horizon_months}  # fmt: skip
    return jobs.enqueue(db, PURCHASE, params, actor=actor, idempotency_key=key, queue=queue)
