"""The planner's pages: plans listed, an allocation run (a job on the job
runner, followed live), a purchase workbook sized, a plan's summary, its
pictures and tables, its spreadsheet, and its release as requisitions.

Every figure comes from the planning services (ledger/planning.py: the plan
as recorded; optimizer/adapter.py: the release) and the optimiser's own
arrays; the spreadsheets and pictures from the same builders as the API's
downloads (api/plan_sheets.py, optimizer/plots.py). Planners and
administrators run and release plans; finance reads them. Who may do what
is the services' decision: a page only leaves out the forms a role has no
use for.
"""

from __future__ import annotations

import functools
import io
import json
import threading
from collections import OrderedDict
from types import SimpleNamespace
from urllib.parse import quote, urlencode

import numpy as np
from fastapi import Request
from fastapi.responses import Response

from api import plan_sheets
from api.web import forms, i18n, render
from api.web.forms import FormProblem
from api.web.i18n import N_
from api.web.pages import page
from api.web.problems import Problem, explain, message
from api.web.route import console_router, refusal_page
from api.web.signin import Form, Me
from importers import purchase_sheet
from ledger import jobs
from ledger import planning as plans
from ledger.errors import InvalidInput, LedgerError, NotFound
from ledger.models import Role
from optimizer import adapter, allocate, plots
from optimizer import jobs as plan_jobs

router = console_router()

PAGE = 50  # plans per page
ROWS = 50  # rows of a plan's tables per page
WRITERS = (Role.PLANNER, Role.ADMIN)
JOB_KINDS = {"allocation": "plan_allocation", "purchase": "plan_purchase"}
KINDS = ("allocation", "purchase")
PLOTS = {"allocation": ("region-fill",), "purchase": ("frontier",)}
HORIZON_DEFAULT, TIME_LIMIT_DEFAULT = 3, 30
MAX_UPLOAD_BYTES = plans.MAX_UPLOAD_BYTES  # the service refuses more

# Enum values and code words shown with `| word` (translated in planning.po).
WORDS = (
    N_("allocation"), N_("purchase"), N_("proposed"), N_("released"),
    N_("plan_allocation"), N_("plan_purchase"),
)  # fmt: skip
TITLES = {
    "region-fill": N_("Fill rate by regional warehouse, before and after"),
    "frontier": N_("Budget and fill rate"),
}


def _error_pages(handler):
    """A refusal the page does not show beside a form (a plan of no such
    number: not found; a role's: forbidden) as an error page."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except LedgerError as error:
            return refusal_page(kwargs["request"], kwargs["me"], error)

    return wrapper


def _get(path: str):
    return lambda handler: router.get(path)(_error_pages(handler))


def _post(path: str):
    return lambda handler: router.post(path)(_error_pages(handler))


def _queue(request: Request):
    """The job queue: one the app was given (app.state.job_queue, say an
    immediate one in tests), else the one its settings name."""
    return getattr(request.app.state, "job_queue", None) or request.app.state.settings.jobs_url


def _stale_after(request: Request) -> float:
    return request.app.state.settings.job_heartbeat_timeout


def _offset(value: str | None) -> int:
    return int(value) if forms.is_number(value, digits=9) else 0


def _can_write(me) -> bool:
    return me.actor.role in WRITERS


def _code(value: str | None) -> str:
    return (value or "").strip().upper()


def _xlsx(content: bytes, name: str) -> Response:
    return Response(
        content=content,
        media_type=plan_sheets.MEDIA_TYPE,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


def _on_db(request: Request, me, call, *, done, failed) -> Response:
    """Like forms.act, for a service that runs its own units of work on the
    database (jobs.enqueue)."""
    with i18n.speaking(me.locale):
        try:
            result = call(request.app.state.db)
        except FormProblem as refused:
            return failed(refused.problem, 422)
        except LedgerError as error:
            return failed(explain(error), forms.status_of(error))
    return forms.redirect(request, done(result))


# -- the plans and the forms that start one ------------------------------------------------


def _list_page(
    request: Request, me, *, kind: str | None = None, after: str | None = None,
    job: str | None = None, problem: Problem | None = None, failed_form: str | None = None,
    values: dict | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    chosen = kind if kind in KINDS else None
    running = None
    with request.app.state.db.reading() as session:
        items = plans.list_plans(session, me.actor, kind=chosen, cursor=after, limit=PAGE)
        if job:
            try:
                running = jobs.get_job(session, job, me.actor, stale_after=_stale_after(request))
            except LedgerError:
                running = None  # another's job, or none: the list alone
    if running is not None and running.kind not in JOB_KINDS.values():
        running = None
    query = {"kind": chosen} if chosen else {}
    here = "/ui/plans" + ("?" + urlencode(query) if query else "")
    next_url = None
    if len(items) == PAGE:
        next_url = "/ui/plans?" + urlencode(query | {"after": items[-1].number})
    defaults = {"horizon_months": str(HORIZON_DEFAULT), "time_limit": str(TIME_LIMIT_DEFAULT),
                "budget": "", "target_fill": ""}  # fmt: skip
    context = dict(
        items=items, kind=chosen, kinds=KINDS, next_url=next_url,
        first_url=here if after else None, job=running, reload_when_done=True,
        can_write=_can_write(me), problem=problem, failed_form=failed_form,
        values=defaults | (values or {}),
    )  # fmt: skip
    if render.is_htmx(request) and not problem:
        return page(request, me, "planning/_plans_table.html", **context)
    return page(request, me, "planning/list.html", status_code=status_code, **context)


@_get("/ui/plans")
def plans_page(
    request: Request, me: Me, kind: str | None = None, after: str | None = None,
    job: str | None = None,
):  # fmt: skip
    return _list_page(request, me, kind=kind, after=_code(after) or None, job=job)


def _bounded(form, name: str, low: int, high: int) -> int:
    value = forms.whole_number(form, name)
    if not low <= value <= high:
        raise FormProblem(message(
            i18n._("Enter a whole number from %(low)s to %(high)s.") % {"low": low, "high": high},
            field=name,
        ))  # fmt: skip
    return value


@_post("/ui/plans/allocations")
def run_allocation(request: Request, me: Me, form: Form):
    values = {name: forms.text(form, name) or "" for name in ("horizon_months", "time_limit")}

    def call(db):
        params = {
            "horizon_months": _bounded(form, "horizon_months", 1, 24),
            "time_limit": _bounded(form, "time_limit", 1, 600),
        }
        return jobs.enqueue(db, JOB_KINDS["allocation"], params, actor=me.actor,
                            idempotency_key=forms.key_of(form), queue=_queue(request))  # fmt: skip

    return _on_db(
        request, me, call,
        done=lambda job: "/ui/plans?" + urlencode({"job": job.number}),
        failed=lambda problem, status: _list_page(
            request, me, problem=problem, failed_form="allocation", values=values,
            status_code=status,
        ),
    )  # fmt: skip


def _fraction(form, name: str) -> float | None:
    """A target fill rate typed as a percentage (95, 95.5, 95%) as a fraction."""
    raw = forms.text(form, name)
    if raw is None:
        return None
    try:
        value = float(raw.rstrip("%％").strip())
    except ValueError:
        value = float("nan")
    if not (0 < value < 100):
        raise FormProblem(message(
            i18n._("“%(value)s” is not a fill rate: enter a percentage above 0 and below 100.")
            % {"value": raw[:40]}, field=name,
        ))  # fmt: skip
    return value / 100


@_post("/ui/plans/purchases")
def run_purchase(request: Request, me: Me, form: Form):
    values = {name: forms.text(form, name) or "" for name in ("budget", "target_fill")}
    upload = form.get("file")

    def call(db):
        data = b""
        if upload is not None and not isinstance(upload, str):
            data = upload.file.read(MAX_UPLOAD_BYTES + 1)
        if not data:
            raise FormProblem(message(i18n._("Choose the filled purchase workbook to upload."),
                                      field="file"))  # fmt: skip
        if len(data) > MAX_UPLOAD_BYTES:
            raise FormProblem(message(
                i18n._("The workbook is larger than %(size)s MB.")
                % {"size": MAX_UPLOAD_BYTES // (1024 * 1024)}, field="file",
            ))  # fmt: skip
        budget = forms.money_fen(form, "budget", required=False)
        target = _fraction(form, "target_fill")
        if (budget is None) == (target is None):
            raise FormProblem(message(i18n._("Enter either a budget or a target fill rate."),
                                      field="budget"))  # fmt: skip
        return plan_jobs.start_purchase(
            db, me.actor, data, budget=budget, target_fill=target,
            key=forms.key_of(form), queue=_queue(request),
        )  # fmt: skip

    return _on_db(
        request, me, call,
        done=lambda job: "/ui/plans?" + urlencode({"job": job.number}),
        failed=lambda problem, status: _list_page(
            request, me, problem=problem, failed_form="purchase", values=values,
            status_code=status,
        ),
    )  # fmt: skip


@_get("/ui/plans/purchase-template.xlsx")
def purchase_template(request: Request, me: Me):
    out = io.BytesIO()
    purchase_sheet.write_purchase_template(out)
    return _xlsx(out.getvalue(), "purchase_template.xlsx")


# -- one plan ------------------------------------------------------------------------------


def _plan(session, me, number: str):
    view = plans.get_plan(session, me.actor, _code(number))
    return view


def _pager(number: str, table: str, offset: int, count: int, others: dict) -> dict:
    def url(at: int) -> str:
        query = {k: v for k, v in others.items() if v} | ({table: at} if at else {})
        return f"/ui/plans/{number}" + ("?" + urlencode(query) if query else "") + f"#{table}"

    return {
        "prev_url": url(max(0, offset - ROWS)) if offset > 0 else None,
        "next_url": url(offset + ROWS) if offset + ROWS < count else None,
        "first": offset + 1 if count else 0,
        "last": min(count, offset + ROWS),
        "count": count,
    }


class _Digest:
    """What an allocation's page and picture show, computed once from the
    plan's arrays: per part and per point (small beside the arrays: a
    national plan's data is tens of MB, its digest a few hundred KB)."""

    def __init__(self, instance, plan) -> None:
        figures = plan_sheets.allocation_figures(instance, plan)
        self.points, self.skus, self.warehouses, self.hq_code = plan_sheets._labels(instance)
        self.P, self.K = instance.P, instance.K
        self.plan = SimpleNamespace(
            objective=plan.objective, bound=plan.bound, gap=plan.gap, seconds=plan.seconds,
            solver=plan.solver, method=plan.method,
        )  # fmt: skip
        self.figures = {name: figures[name] for name in (
            "fill_before", "fill_after", "weighted_before", "weighted_after", "value")}  # fmt: skip
        self.parts = {
            "hq": np.asarray(instance.hq), "warehouses": np.asarray(instance.reg).sum(0),
            "shipped": np.asarray(plan.ship).sum(0), "to_points": figures["units_k"],
            "demand": figures["demand_k"], "ebo_before": figures["ebo_before_k"],
            "ebo_after": figures["ebo_after_k"], "fill_before": figures["fill_before_k"],
            "fill_after": figures["fill_after_k"],
        }  # fmt: skip
        self.region = np.asarray(instance.region)
        self.by_point = {
            "units": figures["units_p"], "value": figures["value_p"],
            "headroom": np.asarray(instance.headroom), "used": figures["headroom_used_p"],
            "fill_before": figures["fill_before_p"], "fill_after": figures["fill_after_p"],
        }  # fmt: skip
        self.units = int(np.asarray(plan.x).sum())
        self.shipped = int(np.asarray(plan.ship).sum())
        # A region whose points expect no demand has no fill rate to draw.
        demand = np.bincount(self.region, np.asarray(instance.lam).sum(1), minlength=instance.R)
        none = demand <= 0
        self.region_before = np.where(none, np.nan, allocate.region_fill(instance, None))
        self.region_after = np.where(none, np.nan, allocate.region_fill(instance, plan.x))


_DIGESTS: OrderedDict[tuple, _Digest] = OrderedDict()
_DIGESTS_KEPT = 8
_DIGESTS_LOCK = threading.Lock()


def _digest(request: Request, session, me, view) -> _Digest:
    """The allocation's digest: kept in this process for the plans read last
    (a plan's data never changes once recorded), so paging its tables or
    drawing its picture does not read and unpack its arrays again."""
    figures = {k: v for k, v in view.summary.items() if k not in ("awaiting",)}
    key = (id(request.app.state.db), view.number, view.created_at, view.data_bytes,
           json.dumps(figures, sort_keys=True, default=str))  # fmt: skip
    with _DIGESTS_LOCK:
        found = _DIGESTS.get(key)
        if found is not None:
            _DIGESTS.move_to_end(key)
            return found
    made = _Digest(*adapter.unpack_allocation(plans.plan_data(session, me.actor, view.number)))
    with _DIGESTS_LOCK:
        _DIGESTS[key] = made
        while len(_DIGESTS) > _DIGESTS_KEPT:
            _DIGESTS.popitem(last=False)
    return made


def _allocation_tables(digest: _Digest, parts_at: int, points_at: int, number: str) -> dict:
    parts_at = min(parts_at, max(digest.K - 1, 0)) // ROWS * ROWS
    points_at = min(points_at, max(digest.P - 1, 0)) // ROWS * ROWS
    part_rows = []
    for k in range(parts_at, min(digest.K, parts_at + ROWS)):
        row = {name: values[k].item() for name, values in digest.parts.items()}
        part_rows.append({"sku": digest.skus[k], **row})
    point_rows = []
    for p in range(points_at, min(digest.P, points_at + ROWS)):
        row = {name: values[p].item() for name, values in digest.by_point.items()}
        if not np.isfinite(row["used"]):
            row["used"] = None
        warehouse = digest.warehouses[int(digest.region[p])]
        point_rows.append({"code": digest.points[p], "warehouse": warehouse, **row})
    return {
        "plan": digest.plan, "figures": digest.figures, "hq_code": digest.hq_code,
        "part_rows": part_rows, "point_rows": point_rows,
        "parts_pager": _pager(number, "parts", parts_at, digest.K, {"points": points_at}),
        "points_pager": _pager(number, "points", points_at, digest.P, {"parts": parts_at}),
        "units": digest.units, "shipped": digest.shipped,
    }  # fmt: skip


def _purchase_tables(result, parts_at: int, number: str) -> dict:
    input_, purchase, frontier, lam = result
    K = len(input_.sku)
    figures = plan_sheets.purchase_figures(input_.cost, lam, purchase.qty)
    parts_at = min(parts_at, max(K - 1, 0)) // ROWS * ROWS
    rows = []
    for k in range(parts_at, min(K, parts_at + ROWS)):
        rows.append({
            "sku": input_.sku[k], "name": input_.name[k], "cost": int(input_.cost[k]),
            "moq": int(input_.moq[k]), "pack": int(input_.pack[k]),
            "qty": int(purchase.qty[k]), "spend": int(figures["spend"][k]),
            "demand": float(figures["demand"][k]) if lam is not None else None,
            "fill": float(figures["fill"][k]) if lam is not None else None,
        })  # fmt: skip
    frontier_rows = []
    if frontier is not None:
        optimal = getattr(frontier, "optimal", None)
        for i in range(len(frontier.budget)):
            frontier_rows.append({
                "budget": int(frontier.budget[i]), "spend": int(frontier.spend[i]),
                "fill_rate": float(frontier.fill_rate[i]),
                "backorders": float(frontier.backorders[i]),
                "optimal": True if optimal is None else bool(optimal[i]),
            })  # fmt: skip
    return {
        "purchase": purchase, "part_rows": rows, "frontier_rows": frontier_rows,
        "parts_pager": _pager(number, "parts", parts_at, K, {}),
        "units": int(np.asarray(purchase.qty).sum()),
    }  # fmt: skip


def _plan_page(
    request: Request, me, number: str, *, parts: int = 0, points: int = 0,
    problem: Problem | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    with request.app.state.db.reading() as session:
        view = _plan(session, me, number)
        job = None
        if view.job:
            try:
                job = jobs.get_job(session, view.job, me.actor, stale_after=_stale_after(request))
            except LedgerError:
                job = None
        if view.kind == "allocation":
            tables = _allocation_tables(_digest(request, session, me, view), parts, points,
                                        view.number)  # fmt: skip
        else:
            result = adapter.unpack_purchase(plans.plan_data(session, me.actor, view.number))
            tables = _purchase_tables(result, parts, view.number)
    return page(
        request, me, "planning/plan.html", view=view, job=job, summary=view.summary or {},
        params=view.params or {}, plots=PLOTS.get(view.kind, ()), titles=TITLES,
        can_write=_can_write(me), problem=problem, status_code=status_code, **tables,
    )  # fmt: skip


@_get("/ui/plans/{number}")
def plan_page(
    request: Request, me: Me, number: str, parts: str | None = None, points: str | None = None
):
    return _plan_page(request, me, number, parts=_offset(parts), points=_offset(points))


@_get("/ui/plans/{number}/plan.xlsx")
def plan_xlsx(request: Request, me: Me, number: str):
    with request.app.state.db.reading() as session:
        view = _plan(session, me, number)
        data = plans.plan_data(session, me.actor, view.number)
    if view.kind == "allocation":
        content = plan_sheets.allocation_xlsx(*adapter.unpack_allocation(data))
    else:
        input_, purchase, frontier, lam = adapter.unpack_purchase(data)
        content = plan_sheets.purchase_xlsx(input_, purchase, frontier, lam=lam)
    return _xlsx(content, f"{view.number}.xlsx")


@_get("/ui/plans/{number}/plots/{name}.png")
def plan_plot(request: Request, me: Me, number: str, name: str):
    digest = data = None
    with request.app.state.db.reading() as session:
        view = _plan(session, me, number)
        if name not in PLOTS.get(view.kind, ()):
            raise NotFound(f"plan {view.number} ({view.kind}) has no picture {name!r}",
                           field="name")  # fmt: skip
        if name == "region-fill":
            digest = _digest(request, session, me, view)
        else:
            data = plans.plan_data(session, me.actor, view.number)
    with i18n.speaking(me.locale):
        title = i18n.gettext(TITLES[name])
        if digest is not None:
            png = plots.region_fill_png(
                digest.warehouses,
                digest.region_before,
                digest.region_after,
                title=title,
                lang=me.locale,
            )
        else:
            _input, purchase, frontier, _lam = adapter.unpack_purchase(data)
            png = plots.frontier_png(frontier, chosen=purchase, title=title, lang=me.locale)
    return Response(content=png, media_type="image/png",
                    headers={"Cache-Control": "private, max-age=300"})  # fmt: skip


@_post("/ui/plans/{number}/release")
def release_plan(request: Request, me: Me, form: Form, number: str):
    code = _code(number)

    def work(session):
        key = forms.key_of(form)
        if key is None:
            raise InvalidInput("the form has no key; reload the page and try again", field="key")
        return adapter.release(session, me.actor, code, key=key)

    return forms.act(
        request, me, work,
        done=lambda result: f"/ui/plans/{result.plan}",
        failed=lambda problem, status: _plan_page(
            request, me, code, problem=problem, status_code=status
        ),
    )  # fmt: skip
