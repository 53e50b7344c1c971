"""The console's warehouse pages: receiving purchase orders from suppliers,
and stock counts (盘点) from opening to the posted variances.

The pages call the same services as api/routes/purchasing.py and
api/routes/counts.py, with the same arguments; the count sheet is the same
xlsx the API gives (importers/count_sheet.py). What may be received, counted,
submitted or approved is the services' rule: the pages show their answers.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import Response

from api.web import forms, render
from api.web.home import own_point
from api.web.i18n import N_, NC_, gettext
from api.web.pages import page
from api.web.problems import explain, message
from api.web.route import console_router, refusal_page
from api.web.signin import Form, Me
from importers import count_sheet
from ledger.errors import InvalidInput, LedgerError
from ledger.parts import counts, purchasing
from ledger.parts.counts import CountIn, CountState
from ledger.parts.purchasing import State

if TYPE_CHECKING:
    from api.web.problems import Problem

router = console_router()

PAGE = 50
# Lines of a count shown (and counted) on one page; a larger count pages on.
COUNT_LINES = 200

# Enum values and actions shown with `| word`.
# A count that is open is under way (shown with `| word("count")`).
COUNT_WORDS = (NC_("count", "open"),)
WORDS = (
    N_("draft"), N_("submitted"), N_("approved"), N_("partly_received"), N_("received"),
    N_("rejected"), N_("cancelled"), N_("open"),
    N_("create"), N_("submit"), N_("approve"), N_("reject"), N_("escalate"), N_("cancel"),
    N_("receive"), N_("enter"), N_("count"), N_("opened"),
)  # fmt: skip


def _history(events):
    """A count's history: its first step reads "opened" (its state is "open")."""
    return [e.model_copy(update={"action": "opened"}) if e.action == "open" else e for e in events]


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _code(value: str | None) -> str | None:
    value = _clean(value)
    return value.upper() if value else None


def _query_url(path: str, filters: dict, after: str | None) -> str:
    query = {k: v for k, v in filters.items() if v} | {"after": after}
    return path + "?" + urlencode(query)


# -- purchase orders -----------------------------------------------------------------


@router.get("/ui/purchase-orders")
def purchase_orders(
    request: Request,
    me: Me,
    state: str | None = None,
    supplier: str | None = None,
    open_only: bool = Query(default=False, alias="open"),
    late_only: bool = Query(default=False, alias="late"),
    after: str | None = None,
):
    problem, status = None, 200
    items = []
    filters = {"state": _clean(state) or "", "supplier": _code(supplier) or "",
               "open": open_only, "late": late_only}  # fmt: skip
    with request.app.state.db.reading() as session:
        try:
            chosen = State(filters["state"]) if filters["state"] else None
        except ValueError:
            chosen = None
        try:
            items = purchasing.list_purchase_orders(
                session, me.actor, state=chosen, supplier=filters["supplier"] or None,
                open_only=open_only, late_only=late_only, after=_clean(after), limit=PAGE,
            )  # fmt: skip
        except LedgerError as error:
            problem, status = explain(error), forms.status_of(error)
    next_url = None
    if len(items) == PAGE:
        next_url = _query_url("/ui/purchase-orders", filters, items[-1].number)
    template = "warehouse/_po_table.html" if render.is_htmx(request) else "warehouse/po_list.html"
    return page(
        request, me, template, items=items, filters=filters, states=list(State),
        next_url=next_url, problem=problem, status_code=status,
    )  # fmt: skip


NEW_ROWS = 8  # blank lines on the new order form
_ROW_FIELD = re.compile(r"(sku|quantity|price)_([0-9]+)")


def _new_po_page(request: Request, me, *, typed=None, problem=None, status: int = 200):
    return page(
        request, me, "warehouse/po_new.html", typed=typed or {}, rows=range(1, NEW_ROWS + 1),
        problem=problem, status_code=status,
    )  # fmt: skip


@router.get("/ui/purchase-orders/new")
def new_purchase_order(request: Request, me: Me):
    return _new_po_page(request, me)


@router.post("/ui/purchase-orders")
def create_purchase_order(request: Request, me: Me, form: Form):
    typed = {name: value for name, value in form.items() if isinstance(value, str)}
    # The filled rows, in order, become lines 1, 2, …: the service names its lines so.
    rows = [n for n in range(1, NEW_ROWS + 1) if forms.text(form, f"sku_{n}")]
    line_of = {n: i for i, n in enumerate(rows, start=1)}

    def work(session):
        raw = forms.text(form, "expected_on")
        try:
            expected_on = date.fromisoformat(raw or "")
        except ValueError:
            raise forms.FormProblem(
                message(gettext("Enter the date as YYYY-MM-DD."), field="expected_on")
            ) from None
        lines = [
            purchasing.LineIn(
                sku=forms.text(form, f"sku_{n}").upper(),
                quantity=forms.whole_number(form, f"quantity_{n}", line=line_of[n]),
                unit_price=forms.money_fen(form, f"price_{n}"),
            )
            for n in rows
        ]
        return purchasing.create(
            session, me.actor, supplier=(forms.text(form, "supplier") or "").upper(),
            expected_on=expected_on, lines=lines, note=forms.text(form, "note"),
            submit=form.get("submit") == "true", key=forms.key_of(form),
        )  # fmt: skip

    def failed(problem, status):
        # Shown again with the filled rows closed up, so row n is the service's line n.
        shown = {k: v for k, v in typed.items() if not _ROW_FIELD.fullmatch(k)}
        for n, i in line_of.items():
            for name in ("sku", "quantity", "price"):
                shown[f"{name}_{i}"] = typed.get(f"{name}_{n}", "")
        found = _ROW_FIELD.fullmatch(problem.field or "")
        if found and int(found.group(2)) in line_of:
            field = f"{found.group(1)}_{line_of[int(found.group(2))]}"
            problem = dataclasses.replace(problem, field=field)
        return _new_po_page(request, me, typed=shown, problem=problem, status=status)

    return forms.act(
        request, me, work, done=lambda order: f"/ui/purchase-orders/{order.number}", failed=failed
    )


def _po_page(request: Request, me, number: str, *, problem=None, status: int = 200, typed=None):
    try:
        with request.app.state.db.reading() as session:
            order = purchasing.get(session, me.actor, number)
    except LedgerError as error:
        return refusal_page(request, me, error)
    template = (
        "warehouse/_receive_form.html"
        if problem is not None and render.is_htmx(request)
        else "warehouse/po.html"
    )
    return page(
        request, me, template, order=order, typed=typed or {}, problem=problem, status_code=status
    )


@router.get("/ui/purchase-orders/{number}")
def purchase_order(request: Request, me: Me, number: str):
    return _po_page(request, me, number)


@router.post("/ui/purchase-orders/{number}/receive")
def receive(request: Request, me: Me, form: Form, number: str):
    typed = {name: value for name, value in form.items() if name.startswith("received_")}

    def work(session):
        lines: dict[int, int] = {}
        for name in sorted(typed, key=lambda n: (len(n), n)):
            line_no = name.removeprefix("received_")
            if not forms.is_number(line_no, digits=9):
                continue
            units = forms.whole_number(form, name, line=int(line_no), required=False)
            if units is not None:
                lines[int(line_no)] = units
        return purchasing.receive(session, me.actor, number, lines=lines, key=forms.key_of(form))

    return forms.act(
        request, me, work,
        done=lambda order: f"/ui/purchase-orders/{order.number}",
        failed=lambda problem, status: _po_page(
            request, me, number, problem=problem, status=status, typed=typed
        ),
    )  # fmt: skip


def _po_action(request: Request, me, form, number: str, work):
    return forms.act(
        request, me, work,
        done=lambda order: f"/ui/purchase-orders/{order.number}",
        failed=lambda problem, status: _po_page(
            request, me, number, problem=problem, status=status
        ),
    )  # fmt: skip


@router.post("/ui/purchase-orders/{number}/submit")
def submit_purchase_order(request: Request, me: Me, form: Form, number: str):
    return _po_action(
        request, me, form, number,
        lambda s: purchasing.submit(s, me.actor, number, key=forms.key_of(form)),
    )  # fmt: skip


@router.post("/ui/purchase-orders/{number}/approve")
def approve_purchase_order(request: Request, me: Me, form: Form, number: str):
    reason = forms.text(form, "reason")
    return _po_action(
        request, me, form, number,
        lambda s: purchasing.approve(s, me.actor, number, reason=reason, key=forms.key_of(form)),
    )  # fmt: skip


@router.post("/ui/purchase-orders/{number}/escalate")
def escalate_purchase_order(request: Request, me: Me, form: Form, number: str):
    reason = forms.text(form, "reason")
    return _po_action(
        request, me, form, number,
        lambda s: purchasing.escalate(s, me.actor, number, reason=reason, key=forms.key_of(form)),
    )  # fmt: skip


@router.post("/ui/purchase-orders/{number}/reject")
def reject_purchase_order(request: Request, me: Me, form: Form, number: str):
    reason = forms.text(form, "reason")
    return _po_action(
        request, me, form, number,
        lambda s: purchasing.reject(s, me.actor, number, reason=reason, key=forms.key_of(form)),
    )  # fmt: skip


@router.post("/ui/purchase-orders/{number}/cancel")
def cancel_purchase_order(request: Request, me: Me, form: Form, number: str):
    reason = forms.text(form, "reason")
    return _po_action(
        request, me, form, number,
        lambda s: purchasing.cancel(s, me.actor, number, reason=reason, key=forms.key_of(form)),
    )  # fmt: skip


# -- stock counts --------------------------------------------------------------------


@router.get("/ui/counts")
def count_list(
    request: Request,
    me: Me,
    location: str | None = None,
    state: str | None = None,
    after: str | None = None,
):
    problem, status = None, 200
    items = []
    with request.app.state.db.reading() as session:
        point = own_point(session, me.actor)
        filters = {"location": point or _code(location) or "", "state": _clean(state) or ""}
        try:
            chosen = CountState(filters["state"]) if filters["state"] else None
        except ValueError:
            chosen = None
        try:
            items = counts.list_counts(
                session, me.actor, location=filters["location"] or None, state=chosen,
                after=_clean(after), limit=PAGE,
            )  # fmt: skip
        except LedgerError as error:
            problem, status = explain(error), forms.status_of(error)
    next_url = None
    if len(items) == PAGE:
        next_url = _query_url("/ui/counts", filters, items[-1].number)
    template = (
        "warehouse/_count_table.html" if render.is_htmx(request) else "warehouse/count_list.html"
    )
    return page(
        request, me, template, items=items, filters=filters, states=list(CountState),
        fixed_location=point, next_url=next_url, problem=problem,
        status_code=status,
    )  # fmt: skip


def _new_count_page(request: Request, me, *, typed=None, problem=None, status: int = 200):
    with request.app.state.db.reading() as session:
        point = own_point(session, me.actor)
    return page(
        request, me, "warehouse/count_new.html", fixed_location=point, typed=typed or {},
        problem=problem, status_code=status,
    )  # fmt: skip


@router.get("/ui/counts/new")
def new_count(request: Request, me: Me, location: str | None = None):
    return _new_count_page(request, me, typed={"location": _code(location) or ""})


@router.post("/ui/counts")
def open_count(request: Request, me: Me, form: Form):
    typed = {
        "location": forms.text(form, "location") or "",
        "blind": form.get("blind") == "true",
        "note": forms.text(form, "note") or "",
    }

    def work(session):
        location = own_point(session, me.actor) or (typed["location"].upper() or None)
        if location is None:
            raise InvalidInput(gettext("Choose the location to count."), field="location")
        return counts.open_count(
            session, me.actor, location=location, blind=typed["blind"],
            note=typed["note"] or None, key=forms.key_of(form),
        )  # fmt: skip

    return forms.act(
        request, me, work,
        done=lambda count: f"/ui/counts/{count.number}",
        failed=lambda problem, status: _new_count_page(
            request, me, typed=typed, problem=problem, status=status
        ),
    )  # fmt: skip


def _count_page(
    request: Request, me, number: str, *, after: int = 0, problem: Problem | None = None,
    status: int = 200, typed=None,
):  # fmt: skip
    try:
        with request.app.state.db.reading() as session:
            count = counts.get(session, me.actor, number, after=after, limit=COUNT_LINES)
            report = None
            try:
                report = counts.variances(session, me.actor, number, limit=COUNT_LINES)
            except LedgerError as error:  # blind and open, or cancelled: the service says why
                no_report = explain(error).detail
            else:
                no_report = None
    except LedgerError as error:
        return refusal_page(request, me, error)
    next_url = None
    if count.next_after is not None:
        next_url = f"/ui/counts/{count.number}?after={count.next_after}"
    return page(
        request, me, "warehouse/count.html", count=count, events=_history(count.history),
        report=report, no_report=no_report,
        next_url=next_url, first_url=f"/ui/counts/{count.number}" if after else None,
        typed=typed or {}, problem=problem, status_code=status,
    )  # fmt: skip


@router.get("/ui/counts/{number}")
def count_page(request: Request, me: Me, number: str, after: int = 0):
    return _count_page(request, me, number, after=max(0, after))


def _download(body: bytes, filename: str) -> Response:
    return Response(
        content=body,
        media_type=count_sheet.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/ui/counts/{number}/sheet.xlsx")
def download_sheet(request: Request, me: Me, number: str):
    try:
        with request.app.state.db.reading() as session:
            sheet = counts.sheet(session, me.actor, number)
    except LedgerError as error:
        return refusal_page(request, me, error)
    return _download(count_sheet.write_sheet(sheet), sheet.filename)


@router.get("/ui/counts/{number}/variances.xlsx")
def download_variances(request: Request, me: Me, number: str):
    try:
        with request.app.state.db.reading() as session:
            report = counts.variances(session, me.actor, number)
    except LedgerError as error:
        return refusal_page(request, me, error)
    return _download(count_sheet.write_variances(report), count_sheet.variances_filename(report))


def _count_action(request: Request, me, form, number: str, work, *, typed=None):
    return forms.act(
        request, me, work,
        done=lambda count: f"/ui/counts/{count.number}",
        failed=lambda problem, status: _count_page(
            request, me, number, problem=problem, status=status, typed=typed
        ),
    )  # fmt: skip


@router.post("/ui/counts/{number}/sheet")
def upload_sheet(request: Request, me: Me, form: Form, number: str):
    upload = form.get("file")

    def work(session):
        data = b""
        if upload is not None and not isinstance(upload, str):
            data = upload.file.read(count_sheet.MAX_SHEET_BYTES + 1)
        if not data:
            raise InvalidInput(gettext("Choose the filled count sheet to upload."), field="file")
        lines = count_sheet.read_sheet(data)
        if not lines:
            raise InvalidInput(
                "the sheet has no counts; fill in the counted column before uploading",
                field="file",
            )
        return counts.enter(session, me.actor, number, lines, key=forms.key_of(form))

    return _count_action(request, me, form, number, work)


@router.post("/ui/counts/{number}/lines")
def enter_counts(request: Request, me: Me, form: Form, number: str):
    typed = {name: value for name, value in form.items() if name.startswith("counted_")}

    def work(session):
        lines: list[CountIn] = []
        for name in sorted(typed, key=lambda n: (len(n), n)):
            line_no = name.removeprefix("counted_")
            sku = forms.text(form, f"sku_{line_no}")
            if not forms.is_number(line_no, digits=9) or sku is None:
                continue
            units = forms.whole_number(form, name, line=int(line_no), required=False)
            if units is not None:
                lines.append(CountIn(sku=sku, counted=units))
        if not lines:
            raise InvalidInput(gettext("Enter at least one count."), field="counted")
        return counts.enter(session, me.actor, number, lines, key=forms.key_of(form))

    return _count_action(request, me, form, number, work, typed=typed)


@router.post("/ui/counts/{number}/submit")
def submit_count(request: Request, me: Me, form: Form, number: str):
    zero = form.get("uncounted_as_zero") == "true"
    return _count_action(
        request, me, form, number,
        lambda s: counts.submit(s, me.actor, number, uncounted_as_zero=zero,
                                key=forms.key_of(form)),
    )  # fmt: skip


@router.post("/ui/counts/{number}/approve")
def approve_count(request: Request, me: Me, form: Form, number: str):
    reason = forms.text(form, "reason")
    return _count_action(
        request, me, form, number,
        lambda s: counts.approve(s, me.actor, number, reason=reason, key=forms.key_of(form)),
    )  # fmt: skip


@router.post("/ui/counts/{number}/cancel")
def cancel_count(request: Request, me: Me, form: Form, number: str):
    reason = forms.text(form, "reason")
    return _count_action(
        request, me, form, number,
        lambda s: counts.cancel(s, me.actor, number, reason=reason, key=forms.key_of(form)),
    )  # fmt: skip
