"""The console's requisitions pages: a service point raises and submits, an
approver decides (in full, in part, rejects, escalates), the warehouse clerk
issues; everyone reads the list and the document with its history.

Every action calls ledger/parts/requisitions.py exactly as api/routes/parts.py
does, with the form's key as the idempotency key. The pages decide nothing:
the buttons follow the reader's role and the document's state, and the
service answers whether the action may be done.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from api import pick_lists
from api.web import forms, render
from api.web.home import own_point
from api.web.i18n import N_
from api.web.pages import page
from api.web.problems import Problem, explain
from api.web.route import console_router, refusal_page
from api.web.signin import Form, Me
from ledger.catalog import parts
from ledger.errors import LedgerError
from ledger.models import Role
from ledger.parts import requisitions, stock
from ledger.parts.requisitions import MAX_LINES, Awaiting, LineIn, State

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from starlette.datastructures import FormData

    from ledger.browser_sessions import SignedIn

router = console_router()

PAGE = 50
NEW_ROWS = 8  # empty lines on a new requisition; "add a line" gives more
SEARCH_LIMIT = 10
RECENT = 5  # the point's recent requisitions beside the document
POINT_STOCK = 30  # lines of the point's stock beside the document

# Enum values and history actions shown with `| word`.
WORDS = (
    N_("draft"),
    N_("submitted"),
    N_("approved"),
    N_("rejected"),
    N_("issued"),
    N_("received"),
    N_("closed"),
    N_("cancelled"),
    N_("create"),
    N_("submit"),
    N_("approve"),
    N_("reject"),
    N_("escalate"),
    N_("cancel"),
    N_("issue"),
    N_("receive"),
    N_("close"),
    N_("within"),
    N_("above"),
)

REQUESTERS = frozenset(requisitions.REQUESTERS)
ISSUERS = frozenset((Role.WAREHOUSE_CLERK, Role.ADMIN))
_LINE_FIELD = re.compile(r"^lines\[(\d{1,6})\]\.(sku|quantity)$")


def _enum(kind, value: str | None):
    """A filter's value, or None when empty or not one of the kind's values."""
    try:
        return kind(value) if value else None
    except ValueError:
        return None


def _code(value: str | None) -> str | None:
    value = (value or "").strip().upper()
    return value or None


def _fragment(request: Request) -> bool:
    """htmx asked for a piece of the page (not a boosted link: a whole page)."""
    return render.is_htmx(request) and request.headers.get("HX-Boosted") != "true"


# -- the list ----------------------------------------------------------------------


def _listing(
    request: Request,
    me: SignedIn,
    *,
    path: str,
    template: str,
    filters: dict[str, str],
    to_ship: bool = False,
    after: str | None = None,
):
    problem = None
    items: list = []
    with request.app.state.db.reading() as session:
        point = own_point(session, me.actor)
        try:
            items = requisitions.list_requisitions(
                session, me.actor,
                state=_enum(State, filters.get("state")),
                requester=point or _code(filters.get("requester")),
                warehouse=_code(filters.get("warehouse")),
                awaiting=_enum(Awaiting, filters.get("awaiting")),
                to_ship=to_ship, after=after or None, limit=PAGE,
                descending=filters.get("order") == "newest",
            )  # fmt: skip
        except LedgerError as error:
            problem = explain(error)
    query = {k: v for k, v in filters.items() if v}
    next_url = None
    if len(items) == PAGE:
        next_url = f"{path}?" + urlencode(query | {"after": items[-1].number})
    first_url = f"{path}?{urlencode(query)}" if after else None
    return page(
        request, me, "requisitions/_table.html" if _fragment(request) else template,
        items=items, filters=filters, fixed_point=point, next_url=next_url,
        first_url=first_url, problem=problem, states=list(State), path=path,
        may_raise=me.actor.role in REQUESTERS,
        status_code=422 if problem else 200,
    )  # fmt: skip


@router.get("/ui/requisitions")
def list_page(
    request: Request,
    me: Me,
    state: str | None = None,
    awaiting: str | None = None,
    requester: str | None = None,
    warehouse: str | None = None,
    order: str | None = None,
    after: str | None = None,
):
    filters = {
        "state": state or "",
        "awaiting": awaiting or "",
        "requester": requester or "",
        "warehouse": warehouse or "",
        # A queue is worked from its oldest; "newest" turns the list around.
        "order": "newest" if order == "newest" else "",
    }
    return _listing(
        request, me, path="/ui/requisitions", template="requisitions/list.html",
        filters=filters, after=after,
    )  # fmt: skip


@router.get("/ui/to-ship")
def to_ship_page(request: Request, me: Me, warehouse: str | None = None, after: str | None = None):
    """The clerk's queue: approved requisitions with units not shipped yet."""
    return _listing(
        request, me, path="/ui/to-ship", template="requisitions/to_ship.html",
        filters={"warehouse": warehouse or ""}, to_ship=True, after=after,
    )  # fmt: skip


# -- raising one -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the new-requisition form, as typed."""

    index: int
    sku: str = ""
    quantity: str = ""
    available: int | None = None  # at the supplying warehouse, when known
    known: bool = True  # the SKU is a part


def _typed_rows(form: FormData) -> list[tuple[str, str]]:
    """(SKU, quantity) of each line typed, in the form's order, empty lines left out."""
    found: dict[int, dict[str, str]] = {}
    for name, value in form.multi_items():
        match = _LINE_FIELD.match(name)
        if match and isinstance(value, str):
            found.setdefault(int(match.group(1)), {})[match.group(2)] = value.strip()
    rows = [(v.get("sku", ""), v.get("quantity", "")) for _, v in sorted(found.items())]
    return [(sku, qty) for sku, qty in rows if sku or qty]


def _rows(
    typed: list[tuple[str, str]], shown: dict[str, int] | None = None, count: int = NEW_ROWS
) -> list[Row]:
    rows = [
        Row(i, sku, qty, (shown or {}).get(sku), shown is None or not sku or sku in shown)
        for i, (sku, qty) in enumerate(typed)
    ]
    total = max(count, len(rows) + 2) if rows else count
    return rows + [Row(i) for i in range(len(rows), total)]


def _available(
    session: Session, me: SignedIn, skus: list[str], requester: str | None
) -> tuple[str | None, dict[str, int] | None]:
    """(warehouse, available per SKU) for the requester, or (None, None)
    when the requester is not known yet or may not be asked about."""
    if me.actor.role is not Role.SERVICE_POINT and not requester:
        return None, None
    try:
        found = requisitions.availability(session, me.actor, skus, requester=requester)
    except LedgerError:
        return None, None
    return found.warehouse, found.available


def _new_page(
    request: Request,
    me: SignedIn,
    *,
    typed: list[tuple[str, str]] | None = None,
    requester: str = "",
    note: str = "",
    problem: Problem | None = None,
    status_code: int = 200,
    count: int = NEW_ROWS,
):
    typed = typed or []
    with request.app.state.db.reading() as session:
        point = own_point(session, me.actor)
        warehouse, shown = _available(
            session, me, [sku for sku, _ in typed if sku], point or _code(requester)
        )
    fragment = problem is not None and _fragment(request)
    return page(
        request, me, "requisitions/_new_form.html" if fragment else "requisitions/new.html",
        rows=_rows(typed, shown, count), more=max(count, len(typed) + 2) + NEW_ROWS,
        requester=requester, note=note,
        fixed_point=point, warehouse=warehouse, problem=problem, status_code=status_code,
    )  # fmt: skip


@router.get("/ui/requisitions/new")
def new_page(request: Request, me: Me, rows: str = ""):
    count = int(rows) if forms.is_number(rows, digits=4) else NEW_ROWS
    return _new_page(request, me, count=max(1, min(count, MAX_LINES)))


@router.post("/ui/requisitions/new")
def create(request: Request, me: Me, form: Form):
    typed = _typed_rows(form)
    requester = forms.text(form, "requester")
    note = forms.text(form, "note")
    submit = form.get("action") == "submit"

    def work(session):
        lines = []
        for i, (sku, _) in enumerate(typed):
            quantity = forms.whole_number(_Typed(typed), f"lines[{i}].quantity", line=i + 1)
            lines.append(LineIn(sku=sku.upper(), quantity=quantity))  # SKUs are upper case
        return requisitions.create(
            session, me.actor, requester=requester, lines=lines, note=note, submit=submit,
            key=forms.key_of(form),
        )  # fmt: skip

    return forms.act(
        request, me, work,
        done=lambda rq: f"/ui/requisitions/{rq.number}",
        failed=lambda problem, status: _new_page(
            request, me, typed=typed, requester=requester or "", note=note or "",
            problem=problem, status_code=status,
        ),
    )  # fmt: skip


class _Typed:
    """The typed lines, renumbered without the empty ones, read like a form."""

    def __init__(self, typed: list[tuple[str, str]]) -> None:
        self._values = {f"lines[{i}].quantity": qty for i, (_, qty) in enumerate(typed)}

    def get(self, name: str):
        return self._values.get(name)


@router.get("/ui/requisitions/new-line")
def new_line(request: Request, me: Me, sku: str = "", requester: str = ""):
    """One more line for the form (htmx appends it), a found part's SKU filled in."""
    sku = sku.strip()
    available = None
    known = True
    if sku:
        with request.app.state.db.reading() as session:
            point = own_point(session, me.actor)
            _, shown = _available(session, me, [sku], point or _code(requester))
        if shown is not None:
            available, known = shown.get(sku), sku in shown
    row = Row(1000 + secrets.randbelow(10**5), sku, "", available, known)  # shown as +
    return page(request, me, "requisitions/_line.html", row=row)


@router.get("/ui/requisitions/availability")
def line_availability(request: Request, me: Me):
    """What the supplying warehouse has of the SKU typed on a line (htmx)."""
    sku = next(
        (
            v.strip().upper()
            for k, v in request.query_params.multi_items()
            if k == "sku" or k.endswith(".sku")
        ),
        "",
    )
    warehouse = shown = None
    if sku:
        with request.app.state.db.reading() as session:
            point = own_point(session, me.actor)
            warehouse, shown = _available(
                session, me, [sku], point or _code(request.query_params.get("requester"))
            )
    row = Row(0, sku, "", shown.get(sku) if shown else None, shown is None or sku in shown)
    return page(request, me, "requisitions/_available.html", row=row, warehouse=warehouse)


@router.get("/ui/requisitions/part-search")
def part_search(request: Request, me: Me, q: str = "", requester: str = ""):
    """Parts whose SKU starts with, or whose name holds, what was typed, with
    what the supplying warehouse has available of each (htmx)."""
    q = q.strip()[:40]
    found: list = []
    warehouse = shown = None
    if q:
        with request.app.state.db.reading() as session:
            found = parts.list_parts(session, me.actor, q=q, active=True, limit=SEARCH_LIMIT)
            point = own_point(session, me.actor)
            warehouse, shown = _available(
                session, me, [p.sku for p in found], point or _code(requester)
            )
    return page(
        request, me, "requisitions/_search.html",
        found=found, q=q, warehouse=warehouse, shown=shown or {},
        known=shown is not None, requester=requester,
    )  # fmt: skip


# -- the document ------------------------------------------------------------------


def _document(
    request: Request,
    me: SignedIn,
    number: str,
    *,
    problem: Problem | None = None,
    acted: str | None = None,
    typed: FormData | None = None,
    status_code: int = 200,
):
    role = me.actor.role
    point_stock = recent = None
    with request.app.state.db.reading() as session:
        try:
            rq = requisitions.get(session, me.actor, number)
        except LedgerError as error:  # another point's number: as if it did not exist
            return refusal_page(request, me, error)
        if role is Role.APPROVER:
            try:
                point_stock = stock.location_stock(
                    session, me.actor, rq.requester, limit=POINT_STOCK
                )
            except LedgerError:
                point_stock = None
            recent = requisitions.list_requisitions(
                session, me.actor, requester=rq.requester, descending=True, limit=RECENT + 1
            )
            recent = [r for r in recent if r.number != rq.number][:RECENT]
    left = {line.line_no: (line.approved or 0) - line.shipped for line in rq.lines}
    may = {
        "submit": role in REQUESTERS and rq.state is State.DRAFT,
        "cancel": role in REQUESTERS
        and (
            rq.state in (State.DRAFT, State.SUBMITTED)
            or (rq.state is State.APPROVED and not any(line.shipped for line in rq.lines))
        ),
        "decide": role is Role.APPROVER and rq.state is State.SUBMITTED,
        "issue": role in ISSUERS
        and rq.state in (State.APPROVED, State.ISSUED)
        and any(v > 0 for v in left.values()),
    }

    def typed_value(name: str, default) -> str:
        if typed is not None and isinstance(typed.get(name), str):
            return typed.get(name)
        return "" if default is None else str(default)

    return page(
        request, me, "requisitions/document.html",
        rq=rq, may=may, left=left, point_stock=point_stock, recent=recent,
        problem=problem, acted=acted, typed=typed_value, status_code=status_code,
    )  # fmt: skip


@router.get("/ui/requisitions/{number}")
def document(request: Request, me: Me, number: str):
    return _document(request, me, number.strip().upper())


def _act(request: Request, me: SignedIn, form: FormData, number: str, acted: str, work):
    return forms.act(
        request, me, work,
        done=lambda _: f"/ui/requisitions/{number}",
        failed=lambda problem, status: _document(
            request, me, number, problem=problem, acted=acted, typed=form, status_code=status
        ),
    )  # fmt: skip


def _per_line(form: FormData, number: str) -> dict[int, int] | None:
    """Units per line typed in a document's form (`lines[i].quantity`, line i+1);
    a line left empty is left out (the service's default for it)."""
    out = {}
    for name, _ in form.multi_items():
        match = _LINE_FIELD.match(name)
        if match and match.group(2) == "quantity":
            line_no = int(match.group(1)) + 1
            units = forms.whole_number(form, name, line=line_no, required=False)
            if units is not None:
                out[line_no] = units
    return out or None


@router.post("/ui/requisitions/{number}/submit")
def submit(request: Request, me: Me, form: Form, number: str):
    return _act(request, me, form, number, "submit",
        lambda s: requisitions.submit(s, me.actor, number, key=forms.key_of(form)))  # fmt: skip


@router.post("/ui/requisitions/{number}/cancel")
def cancel(request: Request, me: Me, form: Form, number: str):
    return _act(request, me, form, number, "cancel",
        lambda s: requisitions.cancel(
            s, me.actor, number, reason=forms.text(form, "reason"), key=forms.key_of(form)
        ),
    )  # fmt: skip


@router.post("/ui/requisitions/{number}/approve")
def approve(request: Request, me: Me, form: Form, number: str):
    def work(session):
        lines = _per_line(form, number)
        return requisitions.approve(
            session, me.actor, number, lines=lines, reason=forms.text(form, "reason"),
            key=forms.key_of(form),
        )  # fmt: skip

    return _act(request, me, form, number, "approve", work)


@router.post("/ui/requisitions/{number}/reject")
def reject(request: Request, me: Me, form: Form, number: str):
    return _act(request, me, form, number, "reject",
        lambda s: requisitions.reject(
            s, me.actor, number, reason=forms.text(form, "reason"), key=forms.key_of(form)
        ),
    )  # fmt: skip


@router.post("/ui/requisitions/{number}/escalate")
def escalate(request: Request, me: Me, form: Form, number: str):
    return _act(request, me, form, number, "escalate",
        lambda s: requisitions.escalate(
            s, me.actor, number, reason=forms.text(form, "reason"), key=forms.key_of(form)
        ),
    )  # fmt: skip


@router.post("/ui/requisitions/{number}/issue")
def issue(request: Request, me: Me, form: Form, number: str):
    def work(session):
        lines = _per_line(form, number)
        return requisitions.issue(
            session, me.actor, number, lines=lines, courier=forms.text(form, "courier"),
            tracking_number=forms.text(form, "tracking_number"), key=forms.key_of(form),
        )  # fmt: skip

    return _act(request, me, form, number, "issue", work)


@router.get("/ui/requisitions/{number}/pick-list")
def pick_list(request: Request, me: Me, number: str) -> Response:
    """A printable list of what to pick at the warehouse: approved, not shipped."""
    with request.app.state.db.reading() as session:
        try:
            rq = requisitions.get(session, me.actor, number.strip().upper())
        except LedgerError as error:
            return refusal_page(request, me, error)
    by_no = {line.line_no: line for line in rq.lines}
    lines = [(by_no[line_no], units) for line_no, _, _, units in pick_lists.to_pick(rq)]
    return page(request, me, "requisitions/pick_list.html", rq=rq, lines=lines)


@router.get("/ui/requisitions/{number}/pick-list.xlsx")
def pick_list_xlsx(request: Request, me: Me, number: str) -> Response:
    """The same pick list as a spreadsheet to download."""
    with request.app.state.db.reading() as session:
        try:
            rq = requisitions.get(session, me.actor, number.strip().upper())
        except LedgerError as error:
            return refusal_page(request, me, error)
    return Response(
        pick_lists.workbook(rq),
        media_type=pick_lists.MEDIA_TYPE,
        headers={"Content-Disposition": pick_lists.content_disposition(rq)},
    )
