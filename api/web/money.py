"""The console's money pages: a service point's own money, finance's deposits,
the network credit report and its overrides, monthly settlement (a job on the
job runner, followed live) and the month's statements.

Every figure comes from the services of ledger/money (the same calls as
api/routes/money.py and api/routes/settlement.py); the spreadsheets from the
same builders as the API's downloads (api/money_sheets.py,
importers/statement_sheets.py).
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import Response

from api import money_sheets, packing
from api.web import forms, i18n, render
from api.web.forms import FormProblem
from api.web.home import own_point
from api.web.i18n import N_, NC_
from api.web.pages import page
from api.web.problems import Problem, explain, message
from api.web.route import console_router, refusal_page, safe_next
from api.web.signin import Form, Me
from importers import statement_sheets
from ledger import jobs
from ledger.catalog.locations import LocationStatus
from ledger.errors import LedgerError, NotFound
from ledger.money import accruals, credit, deposits, periods, settlement, statements
from ledger.money.credit import OverrideState, ReportSort
from ledger.money.deposits import Method
from ledger.parts import requisitions

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from starlette.datastructures import FormData

router = console_router()


def _error_pages(handler):
    """A refusal the page does not show beside a form (another point's
    statement: not found; a role's: forbidden) as an error page."""

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


PAGE = 50
MONTHS_SHOWN = 12

# Enum values and code words shown with `| word` (translated in money.po).
# Words that read otherwise for an override (`open`: still good) and a month.
CONTEXT_WORDS = (
    NC_("override", "open"),
    NC_("period", "close"),
    NC_("period", "reopen"),
)
WORDS = (
    N_("bank_transfer"), N_("cash"), N_("cheque"), N_("online"),
    N_("receipt"), N_("refund"), N_("opening"), N_("payment"), N_("collection"),
    N_("termination"), N_("correction"),
    N_("active"), N_("suspended"), N_("terminated"),
    N_("open"), N_("used"), N_("withdrawn"),
    N_("running"), N_("settled"), N_("reopened"),
    N_("queued"), N_("succeeded"), N_("failed"), N_("interrupted"),
    N_("close"), N_("reopen"), N_("start"),
    N_("settlement"), N_("statements"),
)  # fmt: skip

METHODS = [m.value for m in Method]
LIVE = (jobs.JobStatus.QUEUED, jobs.JobStatus.RUNNING)  # a job still to be polled
SORTS = [
    (ReportSort.POINT, N_("Point")),
    (ReportSort.DEPOSIT, N_("Deposit")),
    (ReportSort.LIMIT, N_("Credit limit")),
    (ReportSort.EXPOSURE, N_("Exposure")),
    (ReportSort.HEADROOM, N_("Headroom")),
    (ReportSort.USE, N_("Use of limit")),
]


# -- small helpers ---------------------------------------------------------------------


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _code(value: str | None) -> str | None:
    value = _clean(value)
    return value.upper() if value else None


def _month_of(first: date) -> str:
    return periods.month_text(first)


def _last_month(session: Session) -> date:
    today = session.info["window"].today()
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


FIRST_MONTH = date(2000, 1, 1)  # the calendar's first month (periods.parse_month)


def _months_back(last: date, count: int) -> list[date]:
    out, first = [], last
    for _ in range(count):
        if first < FIRST_MONTH:
            break
        out.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    return out


def _earlier(last: date) -> str | None:
    """The month the "earlier" link starts from; None at the calendar's start."""
    months = _months_back(last, MONTHS_SHOWN + 1)
    return _month_of(months[-1]) if len(months) > MONTHS_SHOWN else None


def _month_or_none(text: str | None) -> date | None:
    """A month typed into a filter; None when empty or not a month."""
    text = _clean(text)
    if text is None:
        return None
    try:
        return periods.parse_month(text)
    except LedgerError:
        return None


def _day(form: FormData, name: str) -> date | None:
    """A day typed as YYYY-MM-DD (the date input's value); None when empty."""
    raw = forms.text(form, name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FormProblem(
            message(i18n._("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": raw[:40]},
                    field=name)
        ) from None  # fmt: skip


def _bool(value: str | None) -> bool | None:
    value = (value or "").strip().lower()
    return {"true": True, "1": True, "false": False, "0": False}.get(value)


def _xlsx(content: bytes, name: str) -> Response:
    return Response(
        content=content,
        media_type=statement_sheets.MEDIA_TYPE,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


def _queue(request: Request) -> str:
    """The job queue the app was configured with (as api/routes/jobs.py: queue_of)."""
    return request.app.state.settings.jobs_url


def _stale_after(request: Request) -> float:
    return request.app.state.settings.job_heartbeat_timeout


def _on_db(request: Request, me, call, *, done, failed) -> Response:
    """Like forms.act, for a service that runs its own units of work on the
    database (settlement.start, jobs.enqueue/resume)."""
    with i18n.speaking(me.locale):
        try:
            result = call(request.app.state.db)
        except FormProblem as refused:
            return failed(refused.problem, 422)
        except LedgerError as error:
            return failed(explain(error), forms.status_of(error))
    return forms.redirect(request, done(result))


# -- 1. a point's own money ------------------------------------------------------------


def _statements_by_month(session: Session, actor, code: str, until: date) -> list[dict]:
    rows = []
    for first in _months_back(until, MONTHS_SHOWN):
        month = _month_of(first)
        try:
            found = statements.get(session, actor, month, code)
        except NotFound:
            found = None
        rows.append({"month": month, "statement": found})
    return rows


@_get("/ui/money")
def money_page(request: Request, me: Me, point: str | None = None, until: str | None = None):
    with request.app.state.db.reading() as session:
        own = own_point(session, me.actor)
        code = _code(point) or own
        context: dict[str, Any] = {"point": code, "own": own}
        if code:
            last = _month_or_none(until) or _last_month(session)
            context.update(
                position=credit.position(session, me.actor, code),
                balances=accruals.balances(session, me.actor, code),
                ledger=deposits.deposit_ledger(session, me.actor, code, limit=PAGE),
                months=_statements_by_month(session, me.actor, code, last),
                earlier=_earlier(last),
            )
    return page(request, me, "money/page.html", **context)


# -- 2. finance's deposits ---------------------------------------------------------------


def _deposits_page(
    request: Request, me, code: str | None, *, problem: Problem | None = None,
    failed_form: str | None = None, values: dict | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    context: dict[str, Any] = {"point": code, "ledger": None}
    with request.app.state.db.reading() as session:
        own = own_point(session, me.actor)
        code = code or own
        context["point"] = code
        if code:
            context["ledger"] = deposits.deposit_ledger(session, me.actor, code, limit=PAGE)
            context["today"] = session.info["window"].today()
    context.update(problem=problem, failed_form=failed_form, values=values or {},
                   methods=METHODS, own=own)  # fmt: skip
    if failed_form and render.is_htmx(request):
        return page(request, me, "money/_deposit_form.html", kind=failed_form,
                    status_code=status_code, **context)  # fmt: skip
    return page(request, me, "money/deposits.html", status_code=status_code, **context)


@_get("/ui/deposits")
def deposits_page(request: Request, me: Me, point: str | None = None):
    return _deposits_page(request, me, _code(point))


def _beside_amount(problem: Problem) -> Problem:
    """A refusal about the deposit's account (refund beyond what was paid
    in) belongs beside the amount typed."""
    if problem.field is None and problem.account is not None:
        return dataclasses.replace(problem, field="amount")
    return problem


def _deposit_action(request: Request, me, form: FormData, point: str, kind: str) -> Response:
    code = _code(point) or ""
    move = deposits.receive if kind == "receipt" else deposits.refund

    def work(session):
        amount = forms.money_fen(form, "amount")
        on = _day(form, "on")
        method = forms.text(form, "method") or ""
        reference = forms.text(form, "reference")
        return move(session, me.actor, code, amount, method=method, reference=reference, on=on,
                    key=forms.key_of(form))  # fmt: skip

    values = {name: forms.text(form, name) or "" for name in ("amount", "method", "reference")}
    values["on"] = forms.text(form, "on") or ""
    return forms.act(
        request, me, work,
        done=lambda _: f"/ui/deposits?{urlencode({'point': code})}",
        failed=lambda problem, status: _deposits_page(
            request, me, code, problem=_beside_amount(problem), failed_form=kind, values=values,
            status_code=status,
        ),
    )  # fmt: skip


@_post("/ui/deposits/{point}/receipts")
def receive_deposit(request: Request, me: Me, form: Form, point: str):
    return _deposit_action(request, me, form, point, "receipt")


@_post("/ui/deposits/{point}/refunds")
def refund_deposit(request: Request, me: Me, form: Form, point: str):
    return _deposit_action(request, me, form, point, "refund")


# -- 3. the network credit report and overrides ------------------------------------------


def _report_filters(region, warehouse, grade, status, over_limit, sort, descending) -> dict:
    chosen = {s.value for s, _ in SORTS}
    return {
        "region": _clean(region),
        "warehouse": _code(warehouse),
        "grade": _code(grade),
        "status": LocationStatus(status) if status in {s.value for s in LocationStatus} else None,
        "over_limit": _bool(over_limit),
        "sort": ReportSort(sort) if sort in chosen else ReportSort.POINT,
        "descending": bool(_bool(descending)),
    }


def _query(filters: dict, **change) -> str:
    values = {**filters, **change}
    out = {}
    for name, value in values.items():
        if value is None or value == "" or value is False:
            continue
        if name == "sort" and value == ReportSort.POINT:
            continue
        if name == "offset" and value == 0:
            continue
        out[name] = "true" if value is True else str(value)
    return urlencode(out)


@_get("/ui/credit")
def credit_page(
    request: Request, me: Me, region: str | None = None, warehouse: str | None = None,
    grade: str | None = None, status: str | None = None, over_limit: str | None = None,
    sort: str | None = None, descending: str | None = None, offset: str | None = None,
):  # fmt: skip
    filters = _report_filters(region, warehouse, grade, status, over_limit, sort, descending)
    try:
        start = max(0, int(offset or 0))
    except ValueError:
        start = 0
    with request.app.state.db.reading() as session:
        report = credit.network_report(session, me.actor, **filters, offset=start, limit=PAGE)
    plain = {k: v for k, v in filters.items() if k not in ("sort", "descending")}
    columns = []
    for column, label in SORTS:
        is_current = filters["sort"] == column
        flip = (not filters["descending"]) if is_current else column != ReportSort.POINT
        columns.append({
            "column": column.value, "label": label, "current": is_current,
            "descending": filters["descending"],
            "href": "/ui/credit?" + _query(plain, sort=column, descending=flip),
        })  # fmt: skip
    next_url = prev_url = None
    if start + PAGE < report.total:
        next_url = "/ui/credit?" + _query(filters, offset=start + PAGE)
    if start > 0:
        prev_url = "/ui/credit?" + _query(filters, offset=max(0, start - PAGE))
    template = "money/_credit_table.html" if render.is_htmx(request) else "money/credit.html"
    return page(
        request, me, template, report=report, filters=filters, columns=columns, offset=start,
        next_url=next_url, prev_url=prev_url, statuses=[s.value for s in LocationStatus],
        sheet_url="/ui/credit/report.xlsx?" + _query(filters),
    )  # fmt: skip


@_get("/ui/credit/report.xlsx")
def credit_report_xlsx(
    request: Request, me: Me, region: str | None = None, warehouse: str | None = None,
    grade: str | None = None, status: str | None = None, over_limit: str | None = None,
    sort: str | None = None, descending: str | None = None,
):  # fmt: skip
    filters = _report_filters(region, warehouse, grade, status, over_limit, sort, descending)
    with request.app.state.db.reading() as session:
        report = credit.network_report(session, me.actor, **filters, limit=None)
    name = f"credit_report_{report.day.strftime('%Y%m%d')}.xlsx"
    return Response(
        content=money_sheets.credit_report(report),
        media_type=packing.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _overrides_page(
    request: Request, me, *, point: str | None = None, state: str | None = None,
    problem: Problem | None = None, failed_form: str | None = None, values: dict | None = None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    chosen = OverrideState(state) if state in {s.value for s in OverrideState} else None
    with request.app.state.db.reading() as session:
        items = credit.list_overrides(session, me.actor, point=point, state=chosen, limit=PAGE)
    return page(
        request, me, "money/overrides.html", items=items, problem=problem,
        failed_form=failed_form, values=values or {}, status_code=status_code,
        filters={"point": point or "", "state": chosen.value if chosen else ""},
        states=[s.value for s in OverrideState],
    )  # fmt: skip


@_get("/ui/credit/overrides")
def overrides_page(request: Request, me: Me, point: str | None = None, state: str | None = None):
    return _overrides_page(request, me, point=_code(point), state=_clean(state))


@_post("/ui/credit/overrides")
def grant_override(request: Request, me: Me, form: Form):
    number = _code(forms.text(form, "number")) or ""
    values = {"number": number, "reason": forms.text(form, "reason") or ""}

    def work(session):
        return requisitions.grant_credit_override(
            session, me.actor, number, forms.text(form, "reason") or "", forms.key_of(form)
        )

    return forms.act(
        request, me, work,
        done=lambda _: "/ui/credit/overrides",
        failed=lambda problem, status: _overrides_page(
            request, me, problem=problem, failed_form="grant", values=values, status_code=status
        ),
    )  # fmt: skip


@_post("/ui/credit/overrides/{number}/withdraw")
def withdraw_override(request: Request, me: Me, form: Form, number: str):
    def work(session):
        return credit.withdraw_override(
            session, me.actor, number, forms.text(form, "reason") or "", forms.key_of(form)
        )

    return forms.act(
        request, me, work,
        done=lambda _: "/ui/credit/overrides",
        failed=lambda problem, status: _overrides_page(
            request, me, problem=problem, failed_form=number, status_code=status
        ),
    )  # fmt: skip


# -- 4. settlement: the months, a run followed live, reopening -----------------------------


def _settlement_or_none(session: Session, actor, month: str):
    try:
        return settlement.get(session, actor, month)
    except NotFound:
        return None


def _settlement_rows(session: Session, actor, last: date) -> list[dict]:
    rows = []
    for first in _months_back(last, MONTHS_SHOWN):
        month = _month_of(first)
        rows.append({"month": month, "settlement": _settlement_or_none(session, actor, month)})
    return rows


@_get("/ui/settlement")
def settlement_page(request: Request, me: Me, until: str | None = None):
    with request.app.state.db.reading() as session:
        calendar = periods.view(session)
        last = _month_or_none(until) or _last_month(session)
        rows = _settlement_rows(session, me.actor, last)
    earlier = _earlier(last)
    return page(request, me, "money/settlement.html", calendar=calendar, rows=rows,
                earlier=earlier, suggested=rows[0]["month"])  # fmt: skip


def _month_page(
    request: Request, me, month: str, *, problem: Problem | None = None,
    failed_form: str | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    with request.app.state.db.reading() as session:
        first = periods.parse_month(month)
        month = _month_of(first)
        view = _settlement_or_none(session, me.actor, month)
        job = None
        if view is not None and view.job:
            job = jobs.get_job(session, view.job, me.actor, stale_after=_stale_after(request))
        history = periods.history(session, first)
        calendar = periods.view(session)
    return page(
        request, me, "money/month.html", month=month, view=view, job=job, history=history,
        reload_when_done=True,
        calendar=calendar, problem=problem, failed_form=failed_form, status_code=status_code,
    )  # fmt: skip


@_get("/ui/settlement/{month}")
def month_page(request: Request, me: Me, month: str):
    return _month_page(request, me, month)


@_post("/ui/settlement/{month}/run")
def run_settlement(request: Request, me: Me, form: Form, month: str):
    def call(db):
        return settlement.start(db, me.actor, month, queue=_queue(request))

    return _on_db(
        request, me, call,
        done=lambda started: f"/ui/settlement/{started[0].month}",
        failed=lambda problem, status: _month_or_list_failed(request, me, month, problem, status),
    )  # fmt: skip


def _month_or_list_failed(request, me, month, problem, status) -> Response:
    if _month_or_none(month) is None:  # no month at all: the months' page says so
        with request.app.state.db.reading() as session:
            calendar = periods.view(session)
            last = _last_month(session)
            rows = _settlement_rows(session, me.actor, last)
        return page(request, me, "money/settlement.html", calendar=calendar, rows=rows,
                    earlier=None, suggested=month, problem=problem, status_code=status)  # fmt: skip
    return _month_page(request, me, month, problem=problem, failed_form="run", status_code=status)


@_post("/ui/settlement")
def run_settlement_typed(request: Request, me: Me, form: Form):
    """The months' page's form: a month typed (YYYY-MM) to settle."""
    month = forms.text(form, "month") or ""
    return run_settlement(request=request, me=me, form=form, month=month)


@_post("/ui/settlement/{month}/reopen")
def reopen_month(request: Request, me: Me, form: Form, month: str):
    return forms.act(
        request, me,
        lambda s: settlement.reopen(s, me.actor, month, forms.text(form, "reason") or ""),
        done=lambda view: f"/ui/settlement/{view.month}",
        failed=lambda problem, status: _month_page(
            request, me, month, problem=problem, failed_form="reopen", status_code=status
        ),
    )  # fmt: skip


# -- jobs: progress polled by htmx ---------------------------------------------------------


@_get("/ui/jobs/{number}")
def job_view(request: Request, me: Me, number: str, reload: str | None = None):
    """A job's progress; polled by htmx. `reload`: the page around the
    fragment (a month's settlement) reloads once the job has ended, so its
    figures show the result."""
    with request.app.state.db.reading() as session:
        job = jobs.get_job(session, number, me.actor, stale_after=_stale_after(request))
    if not render.is_htmx(request):
        return page(request, me, "money/job.html", job=job)
    ended = job.status not in LIVE
    headers = {"HX-Refresh": "true"} if ended and _bool(reload) else None
    return page(request, me, "money/_job.html", job=job, headers=headers)


@_post("/ui/jobs/{number}/resume")
def resume_job(request: Request, me: Me, form: Form, number: str):
    def call(db):
        return jobs.resume(db, number, me.actor, key=forms.key_of(form), queue=_queue(request),
                           stale_after=_stale_after(request))  # fmt: skip

    def failed(problem, status):
        with request.app.state.db.reading() as session:
            job = jobs.get_job(session, number, me.actor, stale_after=_stale_after(request))
        return page(request, me, "money/job.html", job=job, problem=problem, status_code=status)

    return _on_db(request, me, call, done=lambda job: f"/ui/jobs/{job.number}", failed=failed)


# -- 5. statements ---------------------------------------------------------------------


def _statements_page(
    request: Request, me, month: str | None, *, late: str | None = None,
    signed_back: str | None = None, after: str | None = None,
    problem: Problem | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    with request.app.state.db.reading() as session:
        first = _month_or_none(month)
        if first is None:
            closed = periods.view(session).closed_through
            first = closed.replace(day=1) if closed else _last_month(session)
        chosen = _month_of(first)
        own = own_point(session, me.actor)
        filters = {"month": chosen, "late": _bool(late), "signed_back": _bool(signed_back)}
        items = statements.list_statements(
            session, me.actor, chosen, late=filters["late"], signed_back=filters["signed_back"],
            after=_code(after), limit=PAGE,
        )  # fmt: skip
    query = {"month": chosen}
    for name in ("late", "signed_back"):
        if filters[name] is not None:
            query[name] = "true" if filters[name] else "false"
    here = "/ui/statements?" + urlencode(query)
    next_url = here + "&" + urlencode({"after": items[-1].point}) if len(items) == PAGE else None
    template = "money/_statements_table.html" if render.is_htmx(request) and not problem else (
        "money/statements.html")  # fmt: skip
    return page(
        request, me, template, items=items, filters=filters, month=chosen, here=here, own=own,
        next_url=next_url, first_url=here if after else None, problem=problem,
        status_code=status_code,
    )  # fmt: skip


@_get("/ui/statements")
def statements_page(
    request: Request, me: Me, month: str | None = None, late: str | None = None,
    signed_back: str | None = None, after: str | None = None,
):  # fmt: skip
    return _statements_page(request, me, month, late=late, signed_back=signed_back, after=after)


@_get("/ui/statements/{month}/summary.xlsx")
def statements_summary_xlsx(request: Request, me: Me, month: str):
    with request.app.state.db.reading() as session:
        views = statements.list_statements(session, me.actor, month, limit=1_000_000)
    return _xlsx(statement_sheets.summary(month, views), f"summary_{month}.xlsx")


@_post("/ui/statements/{month}/write")
def write_statements(request: Request, me: Me, form: Form, month: str):
    def call(db):
        periods.parse_month(month)  # a month the ledger can hold, or a 422
        return jobs.enqueue(db, statement_sheets.JOB_KIND, {"month": month}, actor=me.actor,
                            idempotency_key=forms.key_of(form), queue=_queue(request))  # fmt: skip

    return _on_db(
        request, me, call,
        done=lambda job: f"/ui/jobs/{job.number}",
        failed=lambda problem, status: _statements_page(
            request, me, month, problem=problem, status_code=status
        ),
    )  # fmt: skip


@_get("/ui/statements/{month}/{point}")
def statement_page(request: Request, me: Me, month: str, point: str):
    with request.app.state.db.reading() as session:
        view = statements.get(session, me.actor, month, _code(point) or "")
    return page(request, me, "money/statement.html", view=view)


@_get("/ui/statements/{month}/{point}/xlsx")
def statement_xlsx(request: Request, me: Me, month: str, point: str):
    with request.app.state.db.reading() as session:
        view = statements.get(session, me.actor, month, _code(point) or "")
    return _xlsx(statement_sheets.statement(view, view.lines or []),
                 statement_sheets.file_name(view))  # fmt: skip


@_post("/ui/statements/{month}/{point}/signed-back")
def mark_signed_back(request: Request, me: Me, form: Form, month: str, point: str):
    code = _code(point) or ""
    back = safe_next(forms.text(form, "back") or f"/ui/statements?{urlencode({'month': month})}")
    return forms.act(
        request, me,
        lambda s: statements.mark_signed_back(s, me.actor, month, code, forms.key_of(form)),
        done=lambda _: back,
        failed=lambda problem, status: _statements_page(
            request, me, month, problem=problem, status_code=status
        ),
    )  # fmt: skip
