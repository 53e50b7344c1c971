"""Planning over HTTP (ledger/planning.py, optimizer/): start an allocation
or a purchase sizing (a job on the job runner: the answer is the job to
watch at GET /jobs/{number}, whose result names the plan), list and read
plans (JSON, xlsx, PNG), and release an allocation as requisitions.

Planners and admins run and release plans; finance reads them."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from api import plan_sheets
from api.deps import DB, CurrentActor
from api.params import IdempotencyKey, Limit
from api.routes.jobs import queue_of
from ledger import jobs, planning
from ledger.errors import InvalidInput, NotFound
from ledger.jobs import JobView
from ledger.planning import PlanKind, PlanView
from optimizer import adapter, allocate, plots
from optimizer import jobs as plan_jobs

router = APIRouter(tags=["planning"])

PLAN_NUMBER = r"^PL-[0-9]{6,12}$"
PlanNumber = Annotated[
    str, Path(min_length=9, max_length=15, pattern=PLAN_NUMBER, examples=["PL-000001"])
]
AfterPlan = Annotated[
    str | None,
    Query(max_length=15, pattern=PLAN_NUMBER, description="The last number of the page"),
]
Top = Annotated[int, Query(ge=1, le=1000, description="Lines per table")]
PLOTS = {"allocation": ("region-fill",), "purchase": ("frontier",)}
PlotName = Annotated[str, Path(pattern=r"^(region-fill|frontier)$")]


def _queue(request: Request):
    return getattr(request.app.state, "job_queue", None) or queue_of(request)


class AllocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    horizon_months: int = Field(default=3, ge=1, le=24)
    time_limit: float = Field(default=30.0, ge=1, le=600, allow_inf_nan=False)
    target_gap: float = Field(default=1e-4, ge=0, le=0.5, allow_inf_nan=False)


@router.post(
    "/plans/allocations",
    response_model=JobView,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Allocate the stock on hand over the network (a job; its result names the plan)",
)
def start_allocation(
    actor: CurrentActor,
    db: DB,
    request: Request,
    response: Response,
    body: AllocationIn | None = None,
    key: IdempotencyKey = None,
):
    params = (body or AllocationIn()).model_dump()
    view = jobs.enqueue(
        db, plan_jobs.ALLOCATION, params, actor=actor, idempotency_key=key, queue=_queue(request)
    )
    response.headers["Location"] = f"/jobs/{view.number}"
    return view


@router.post(
    "/plans/purchases",
    response_model=JobView,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Size a new model's first purchase from a workbook (multipart `file`; a job)",
)
def start_purchase(
    actor: CurrentActor,
    db: DB,
    request: Request,
    response: Response,
    file: Annotated[UploadFile, File(description="The purchase workbook (sheets parts, sales)")],
    budget: Annotated[
        int | None, Form(ge=0, le=10**15, description="Budget in fen (or give target_fill)")
    ] = None,
    target_fill: Annotated[
        float | None, Form(gt=0, lt=1, description="Target fill rate, 0 to 1 (or give budget)")
    ] = None,
    horizon_months: Annotated[int, Form(ge=1, le=60)] = 12,
    key: IdempotencyKey = None,
):
    data = file.file.read(planning.MAX_UPLOAD_BYTES + 1)
    if len(data) > planning.MAX_UPLOAD_BYTES:
        raise InvalidInput(
            f"the workbook is larger than {planning.MAX_UPLOAD_BYTES // (1024 * 1024)} MB",
            field="file",
        )
    view = plan_jobs.start_purchase(
        db, actor, data, budget=budget, target_fill=target_fill, horizon_months=horizon_months,
        key=key, queue=_queue(request),
    )  # fmt: skip
    response.headers["Location"] = f"/jobs/{view.number}"
    return view


class PlanPage(BaseModel):
    items: list[PlanView]
    next_after: str | None = Field(description="Pass as `after` for the next page")


@router.get("/plans", response_model=PlanPage, summary="Plans, newest first")
def list_plans(
    actor: CurrentActor,
    db: DB,
    kind: PlanKind | None = None,
    after: AfterPlan = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        items = planning.list_plans(session, actor, kind=kind, cursor=after, limit=limit)
    return PlanPage(items=items, next_after=items[-1].number if len(items) == limit else None)


class PlanDetail(BaseModel):
    plan: PlanView
    parts: list[dict[str, Any]] = Field(description="Per part, largest quantities first")
    points: list[dict[str, Any]] = Field(
        description="Per point (allocation), largest value first; empty for a purchase"
    )


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _allocation_lines(instance, plan, top: int) -> tuple[list, list]:
    labels = instance.labels
    skus = labels.part if labels else tuple(f"part {k}" for k in range(instance.K))
    codes = labels.point if labels else tuple(f"point {p}" for p in range(instance.P))
    units_k = plan.x.sum(axis=0)
    ship_k = plan.ship.sum(axis=0)
    demand_k = instance.lam.sum(axis=0)
    value_p = plan.x @ instance.cost
    parts = [
        {"sku": skus[k], "units": int(units_k[k]), "from_hq": int(ship_k[k]),
         "hq": int(instance.hq[k]), "warehouses": int(instance.reg[:, k].sum()),
         "demand": _finite(demand_k[k]), "cost": int(instance.cost[k])}
        for k in np.argsort(-units_k, kind="stable")[:top]
    ]  # fmt: skip
    points = [
        {"point": codes[p], "units": int(plan.x[p].sum()), "value": int(value_p[p]),
         "headroom": int(instance.headroom[p]), "demand": _finite(instance.lam[p].sum())}
        for p in np.argsort(-value_p, kind="stable")[:top]
    ]  # fmt: skip
    return parts, points


def _purchase_lines(input_, purchase, lam, top: int) -> list:
    qty = np.asarray(purchase.qty)
    return [
        {"sku": input_.sku[k], "name": input_.name[k], "qty": int(qty[k]),
         "spend": int(qty[k] * input_.cost[k]), "demand": _finite(lam[k]),
         "moq": int(input_.moq[k]), "pack": int(input_.pack[k])}
        for k in np.argsort(-qty, kind="stable")[:top]
    ]  # fmt: skip


def _read(db, actor, number: str) -> tuple[PlanView, bytes]:
    with db.reading() as session:
        view = planning.get_plan(session, actor, number)
        return view, planning.plan_data(session, actor, number)


# Before GET /plans/{number}, whose path would otherwise take "PL-000001.xlsx".
@router.get(
    "/plans/{number}.xlsx",
    summary="A plan as a spreadsheet (per part, per point, summary)",
    response_class=Response,
    responses={200: {"content": {plan_sheets.MEDIA_TYPE: {}}}},
)
def download_plan(number: PlanNumber, actor: CurrentActor, db: DB):
    view, data = _read(db, actor, number)
    if view.kind is PlanKind.ALLOCATION:
        body = plan_sheets.allocation_xlsx(*adapter.unpack_allocation(data))
    else:
        input_, purchase, frontier, lam = adapter.unpack_purchase(data)
        body = plan_sheets.purchase_xlsx(input_, purchase, frontier, lam=lam)
    return Response(
        content=body,
        media_type=plan_sheets.MEDIA_TYPE,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(view.number)}.xlsx"},
    )


@router.get("/plans/{number}", response_model=PlanDetail, summary="A plan: summary and top lines")
def get_plan(number: PlanNumber, actor: CurrentActor, db: DB, top: Top = 50):
    view, data = _read(db, actor, number)
    if view.kind is PlanKind.ALLOCATION:
        parts, points = _allocation_lines(*adapter.unpack_allocation(data), top)
    else:
        input_, purchase, _frontier, lam = adapter.unpack_purchase(data)
        parts, points = _purchase_lines(input_, purchase, lam, top), []
    return PlanDetail(plan=view, parts=parts, points=points)


@router.get(
    "/plans/{number}/plots/{name}.png",
    summary="A plan's picture: region-fill (an allocation), frontier (a purchase)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def plan_plot(
    number: PlanNumber,
    name: PlotName,
    actor: CurrentActor,
    db: DB,
    lang: Annotated[str, Query(pattern=r"^(zh_CN|en)$")] = "zh_CN",
):
    view, data = _read(db, actor, number)
    if name not in PLOTS[view.kind.value]:
        raise NotFound(
            f"plan {view.number} ({view.kind.value}) has no picture {name!r}; it has "
            + ", ".join(PLOTS[view.kind.value]),
            field="name",
        )
    if name == "region-fill":
        instance, plan = adapter.unpack_allocation(data)
        names = (
            list(instance.labels.warehouse)
            if instance.labels
            else [f"R{r + 1}" for r in range(instance.R)]
        )
        png = plots.region_fill_png(
            names, allocate.region_fill(instance, np.zeros_like(plan.x)),
            allocate.region_fill(instance, plan.x),
            title="各区域满足率" if lang == "zh_CN" else "Fill rate by region", lang=lang,
        )  # fmt: skip
    else:
        _input, purchase, frontier, _lam = adapter.unpack_purchase(data)
        png = plots.frontier_png(
            frontier, chosen=purchase, title="预算与满足率" if lang == "zh_CN" else
            "Budget and fill rate", lang=lang,
        )  # fmt: skip
    return Response(content=png, media_type="image/png")


class ReleaseOut(BaseModel):
    plan: str
    requisitions: list[str] = Field(description="Every requisition the release raised")
    created: int = Field(description="Raised by this request (0: released before)")
    awaiting: list[str] = Field(
        description="Of them, those submitted to wait for the HQ shipment they depend on"
    )


@router.post(
    "/plans/{number}/release",
    response_model=ReleaseOut,
    summary="Release an allocation as requisitions, approved under your approval level (once)",
)
def release_plan(number: PlanNumber, actor: CurrentActor, db: DB, key: IdempotencyKey = None):
    done = db.transact(lambda s: adapter.release(s, actor, number, key=key))
    return ReleaseOut(
        plan=done.plan, requisitions=list(done.requisitions), created=done.created,
        awaiting=list(done.awaiting),
    )  # fmt: skip
