"""The console's shipments pages: what a point has to receive, the
shipments list and page (with the receipt, line by line), returns from a
point to its warehouse, the clerk's inbound returns and transfers, transfers
between warehouses, and the shortages found on receipt.

The pages call the same services as the HTTP routes (api/routes/parts.py),
with the same arguments: `receiving.receive/return_parts/transfer/resolve`,
`shipments.list_shipments/get/list_discrepancies/get_discrepancy`. What may
be received, returned or charged is the services' decision; a page only
shows a form to whom it concerns and what the service answered.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import Request

from api.web import forms, i18n, render
from api.web.home import INBOUND_KINDS, own_point
from api.web.i18n import N_
from api.web.pages import page
from api.web.problems import Problem, explain, message
from api.web.route import console_router, refusal_page
from api.web.signin import Form, Me
from ledger.errors import LedgerError
from ledger.models import Role
from ledger.parts import receiving, shipments, stock
from ledger.parts.requisitions import LineIn
from ledger.parts.shipments import DiscrepancyState, ShipmentKind, ShipmentState

if TYPE_CHECKING:
    from starlette.datastructures import FormData

router = console_router()

PAGE = 50
RECENT = 10  # received shipments shown under those still to receive
ROWS = 6  # empty lines a return or transfer form offers
MAX_ROWS = 50  # lines read back from a posted form
STOCK_SHOWN = 100  # the point's parts shown beside a return form

# Enum values and history actions shown with `| word`.
WORDS = (
    N_("issue"), N_("transfer"), N_("return"), N_("defective"), N_("factory"),
    N_("in_transit"), N_("received"), N_("open"), N_("found"), N_("lost"),
    N_("short"), N_("over"), N_("receive"), N_("resolve"), N_("factory_ship"),
    N_("factory_confirm"), N_("ship"),
)  # fmt: skip

STAFF = (Role.WAREHOUSE_CLERK, Role.ADMIN)


def _template(request: Request, full: str, partial: str) -> str:
    """The form alone for htmx (it swaps the form), the whole page otherwise."""
    return partial if render.is_htmx(request) else full


def _code(value: str | None) -> str | None:
    value = (value or "").strip().upper()
    return value or None


def _enum(kind, value: str | None):
    try:
        return kind(value) if value else None
    except ValueError:
        return None


def _next_url(path: str, filters: dict, items: list, limit: int) -> str | None:
    if len(items) < limit:
        return None
    query = {k: v for k, v in filters.items() if v} | {"after": items[-1].number}
    return f"{path}?{urlencode(query)}"


def _list_page(request, me, full, partial, **context):
    template = partial if render.is_htmx(request) else full
    status = 422 if context.get("problem") else 200  # a filter the service refused
    return page(request, me, template, status_code=status, **context)


# -- 1. what a point has to receive ------------------------------------------------


@router.get("/ui/receipts")
def receipts(request: Request, me: Me, point: str | None = None):
    """Shipments in transit to a point (its own; staff name one), and the
    ones it received lately."""
    problem = None
    incoming, received = [], []
    with request.app.state.db.reading() as session:
        code = own_point(session, me.actor) or _code(point)
        if code:
            try:
                incoming = [
                    s for s in shipments.list_shipments(
                        session, me.actor, state=ShipmentState.IN_TRANSIT, holder=code,
                        limit=PAGE * 2,
                    )
                    if s.receiver == code
                ]  # fmt: skip
                received = [
                    s for s in shipments.list_shipments(
                        session, me.actor, state=ShipmentState.RECEIVED, holder=code,
                        limit=RECENT * 2,
                    )
                    if s.receiver == code
                ][:RECENT]  # fmt: skip
            except LedgerError as error:
                problem = explain(error)
    return page(
        request, me, "shipments/receipts.html", point=code,
        fixed_point=me.actor.role is Role.SERVICE_POINT, incoming=incoming, received=received,
        problem=problem,
    )  # fmt: skip


# -- 2. shipments: the list and one shipment ---------------------------------------


@router.get("/ui/shipments")
def shipment_list(
    request: Request,
    me: Me,
    state: str | None = None,
    kind: str | None = None,
    holder: str | None = None,
    after: str | None = None,
):
    filters = {
        "state": state if _enum(ShipmentState, state) else "",
        "kind": kind if _enum(ShipmentKind, kind) else "",
        "holder": _code(holder) or "",
    }
    problem = None
    items = []
    with request.app.state.db.reading() as session:
        try:
            items = shipments.list_shipments(
                session, me.actor, state=_enum(ShipmentState, state),
                kind=_enum(ShipmentKind, kind), holder=filters["holder"] or None,
                after=after or None, limit=PAGE,
            )  # fmt: skip
        except LedgerError as error:
            problem = explain(error)
    return _list_page(
        request, me, "shipments/list.html", "shipments/_table.html", items=items,
        filters=filters, next_url=_next_url("/ui/shipments", filters, items, PAGE),
        problem=problem, states=list(ShipmentState), kinds=list(ShipmentKind),
    )  # fmt: skip


def _receiver_may_act(me, view, point: str | None) -> bool:
    """Whether to offer the receipt form: to the receiving point's own user;
    to staff for what comes to a warehouse (returns, transfers). The
    service decides whether the receipt stands."""
    if view.state != ShipmentState.IN_TRANSIT or view.kind == ShipmentKind.FACTORY:
        return False
    if me.actor.role is Role.SERVICE_POINT:
        return point == view.receiver
    return me.actor.role in STAFF and view.kind != ShipmentKind.ISSUE


def _shipment_context(session, me, number: str) -> dict:
    view = shipments.get(session, me.actor, number)
    # The list's own figure for days in transit: its page of one ending at this number.
    after = shipments.number(int(view.number.split("-")[1]) + 1)
    summary = shipments.list_shipments(session, me.actor, after=after, limit=1)
    days = summary[0].days_in_transit if summary and summary[0].number == view.number else None
    point = own_point(session, me.actor)
    return {
        "shipment": view,
        "days_in_transit": days,
        "may_receive": _receiver_may_act(me, view, point),
    }


def _shipment_page(request, me, number: str, *, problem=None, status=200, typed=None):
    try:
        with request.app.state.db.reading() as session:
            context = _shipment_context(session, me, number)
    except LedgerError as error:
        return refusal_page(request, me, error)
    template = _template(request, "shipments/detail.html", "shipments/_receive_form.html")
    return page(
        request, me, template, status_code=status, problem=problem, typed=typed or {}, **context
    )


@router.get("/ui/shipments/{number}")
def shipment_page(request: Request, me: Me, number: str):
    return _shipment_page(request, me, number)


@router.post("/ui/shipments/{number}/receive")
def receive(request: Request, me: Me, form: Form, number: str):
    """The receipt, line by line: each line's units that arrived (what is
    less than shipped is short: the service opens a discrepancy)."""
    typed = {k: v for k, v in form.items() if k.startswith("received_")}

    def work(session):
        view = shipments.get(session, me.actor, number)
        received = {
            line.line_no: forms.whole_number(form, f"received_{line.line_no}", line=line.line_no)
            for line in view.lines
        }
        return receiving.receive(
            session, me.actor, number, received=received, key=forms.key_of(form)
        )

    return forms.act(
        request, me, work,
        done=lambda view: f"/ui/shipments/{view.number}",
        failed=lambda problem, status: _shipment_page(
            request, me, number, problem=problem, status=status, typed=typed
        ),
    )  # fmt: skip


# -- lines of SKU + quantity (returns, transfers) ------------------------------------


def _typed_rows(form: FormData | None) -> list[dict]:
    """The rows as typed (to show them again), at least ROWS of them."""
    rows = []
    for n in range(1, MAX_ROWS + 1):
        if form is None or (f"sku_{n}" not in form and f"quantity_{n}" not in form):
            break
        rows.append(
            {
                "sku": str(form.get(f"sku_{n}") or ""),
                "quantity": str(form.get(f"quantity_{n}") or ""),
            }
        )
    while len(rows) < ROWS:
        rows.append({"sku": "", "quantity": ""})
    return rows


def _part_lines(form: FormData) -> tuple[list[LineIn], list[int]]:
    """The filled rows as service lines, and the row each line came from
    (a problem the service names on its line k belongs beside row rows[k-1])."""
    lines, rows = [], []
    for n in range(1, MAX_ROWS + 1):
        if f"sku_{n}" not in form and f"quantity_{n}" not in form:
            break
        sku = _code(forms.text(form, f"sku_{n}"))
        if sku is None and forms.text(form, f"quantity_{n}") is None:
            continue  # an empty row
        quantity = forms.whole_number(form, f"quantity_{n}", line=n)
        lines.append(LineIn(sku=sku or "", quantity=quantity))
        rows.append(n)
    return lines, rows


def _on_row(problem: Problem, rows: list[int], lines: list[LineIn]) -> Problem:
    """A service's problem placed beside the row it is about: its line k is
    row rows[k-1]; an account (stock too short) names the SKU's row."""
    if problem.line is not None and 1 <= problem.line <= len(rows):
        return replace(problem, line=rows[problem.line - 1])
    if problem.account:
        sku = problem.account.rsplit(":", 1)[-1]
        for line, row in zip(lines, rows, strict=True):
            if line.sku == sku:
                return replace(problem, line=row)
    return problem


class _Lines:
    """What a form's rows became, kept for placing the service's problem."""

    def __init__(self) -> None:
        self.lines: list[LineIn] = []
        self.rows: list[int] = []


def _ship_form(request, me, form, call, *, failed):
    """Parse the rows and call the service; a problem goes beside its row."""
    parsed = _Lines()

    def work(session):
        parsed.lines, parsed.rows = _part_lines(form)
        return call(session, parsed.lines)

    return forms.act(
        request, me, work,
        done=lambda view: f"/ui/shipments/{view.number}",
        failed=lambda problem, status: failed(
            _on_row(problem, parsed.rows, parsed.lines), status
        ),
    )  # fmt: skip


# -- 3. returns from a point to its warehouse --------------------------------------


def _return_page(request, me, *, form=None, problem=None, status=200):
    chosen = {
        "defective": bool(form is not None and form.get("defective") == "yes"),
        "courier": str(form.get("courier") or "") if form is not None else "",
        "tracking_number": str(form.get("tracking_number") or "") if form is not None else "",
        "point": str(form.get("point") or "") if form is not None else "",
    }
    held = None
    with request.app.state.db.reading() as session:
        point = own_point(session, me.actor)
        code = point or _code(chosen["point"])
        if code:
            try:
                held = stock.location_stock(session, me.actor, code, limit=STOCK_SHOWN)
            except LedgerError:
                held = None  # a staff member's unknown point: the service says so on sending
    template = _template(request, "shipments/returns.html", "shipments/_return_form.html")
    return page(
        request, me, template, status_code=status, problem=problem, rows=_typed_rows(form),
        chosen=chosen, point=point, held=held,
    )  # fmt: skip


@router.get("/ui/returns")
def returns_page(request: Request, me: Me):
    return _return_page(request, me)


@router.post("/ui/returns")
def create_return(request: Request, me: Me, form: Form):
    def call(session, lines):
        return receiving.return_parts(
            session, me.actor, point=_code(forms.text(form, "point")), lines=lines,
            defective=form.get("defective") == "yes", courier=forms.text(form, "courier"),
            tracking_number=forms.text(form, "tracking_number"), key=forms.key_of(form),
        )  # fmt: skip

    return _ship_form(
        request, me, form, call,
        failed=lambda problem, status: _return_page(
            request, me, form=form, problem=problem, status=status
        ),
    )  # fmt: skip


# -- 4. the clerk's inbound returns and transfers ----------------------------------


@router.get("/ui/inbound")
def inbound(
    request: Request,
    me: Me,
    warehouse: str | None = None,
    kind: str | None = None,
    after: str | None = None,
):
    chosen = _enum(ShipmentKind, kind)
    if chosen not in INBOUND_KINDS:
        chosen = None
    filters = {"warehouse": _code(warehouse) or "", "kind": chosen.value if chosen else ""}
    problem = None
    page_items, items = [], []
    with request.app.state.db.reading() as session:
        try:
            page_items = shipments.list_shipments(
                session, me.actor, state=ShipmentState.IN_TRANSIT, kind=chosen,
                holder=filters["warehouse"] or None, after=after or None, limit=PAGE,
            )  # fmt: skip
        except LedgerError as error:
            problem = explain(error)
    items = [
        s
        for s in page_items
        if s.kind in INBOUND_KINDS
        and (not filters["warehouse"] or s.receiver == filters["warehouse"])
    ]
    return _list_page(
        request, me, "shipments/inbound.html", "shipments/_inbound_table.html", items=items,
        filters=filters, next_url=_next_url("/ui/inbound", filters, page_items, PAGE),
        problem=problem, kinds=INBOUND_KINDS,
    )  # fmt: skip


# -- 5. transfers between warehouses -------------------------------------------------


def _transfer_page(request, me, *, form=None, problem=None, status=200):
    def typed(name):
        return str(form.get(name) or "") if form is not None else ""

    chosen = {n: typed(n) for n in ("sender", "receiver", "courier", "tracking_number")}
    template = _template(request, "shipments/transfer.html", "shipments/_transfer_form.html")
    return page(
        request, me, template, status_code=status, problem=problem, rows=_typed_rows(form),
        chosen=chosen,
    )  # fmt: skip


@router.get("/ui/transfers/new")
def transfer_page(request: Request, me: Me):
    return _transfer_page(request, me)


@router.post("/ui/transfers/new")
def create_transfer(request: Request, me: Me, form: Form):
    def call(session, lines):
        return receiving.transfer(
            session, me.actor, sender=_code(forms.text(form, "sender")) or "",
            receiver=_code(forms.text(form, "receiver")) or "", lines=lines,
            courier=forms.text(form, "courier"),
            tracking_number=forms.text(form, "tracking_number"), key=forms.key_of(form),
        )  # fmt: skip

    return _ship_form(
        request, me, form, call,
        failed=lambda problem, status: _transfer_page(
            request, me, form=form, problem=problem, status=status
        ),
    )  # fmt: skip


# -- 6. discrepancies ------------------------------------------------------------------


@router.get("/ui/discrepancies")
def discrepancy_list(request: Request, me: Me, state: str | None = None, after: str | None = None):
    chosen = _enum(DiscrepancyState, state)
    filters = {"state": chosen.value if chosen else ""}
    problem = None
    items = []
    with request.app.state.db.reading() as session:
        try:
            items = shipments.list_discrepancies(
                session, me.actor, state=chosen, after=after or None, limit=PAGE
            )
        except LedgerError as error:
            problem = explain(error)
    return _list_page(
        request, me, "shipments/discrepancies.html", "shipments/_discrepancies_table.html",
        items=items, filters=filters, states=list(DiscrepancyState),
        next_url=_next_url("/ui/discrepancies", filters, items, PAGE), problem=problem,
    )  # fmt: skip


def _discrepancy_page(request, me, number: str, *, form=None, problem=None, status=200):
    try:
        with request.app.state.db.reading() as session:
            view = shipments.get_discrepancy(session, me.actor, number)
    except LedgerError as error:
        return refusal_page(request, me, error)
    role = me.actor.role
    typed = {
        "outcome": str(form.get("outcome") or "") if form is not None else "",
        "reason": str(form.get("reason") or "") if form is not None else "",
        "charge": bool(form is not None and form.get("charge") == "yes"),
        "unit_price": str(form.get("unit_price") or "") if form is not None else "",
    }
    template = _template(request, "shipments/discrepancy.html", "shipments/_resolve_form.html")
    return page(
        request, me, template, status_code=status, problem=problem, discrepancy=view,
        typed=typed, may_resolve=view.state == DiscrepancyState.OPEN
        and (role in STAFF or role is Role.FINANCE),
        may_charge=role is Role.FINANCE,
    )  # fmt: skip


@router.get("/ui/discrepancies/{number}")
def discrepancy_page(request: Request, me: Me, number: str):
    return _discrepancy_page(request, me, number)


@router.post("/ui/discrepancies/{number}/resolve")
def resolve(request: Request, me: Me, form: Form, number: str):
    def work(session):
        outcome = _enum(DiscrepancyState, forms.text(form, "outcome"))
        if outcome is None:
            raise forms.FormProblem(message(i18n._("Choose found or lost."), field="outcome"))
        return receiving.resolve(
            session, me.actor, number, outcome=outcome, reason=forms.text(form, "reason") or "",
            key=forms.key_of(form), charge=form.get("charge") == "yes",
            unit_price=forms.money_fen(form, "unit_price", required=False),
        )  # fmt: skip

    return forms.act(
        request, me, work,
        done=lambda view: f"/ui/discrepancies/{view.number}",
        failed=lambda problem, status: _discrepancy_page(
            request, me, number, form=form, problem=problem, status=status
        ),
    )  # fmt: skip
