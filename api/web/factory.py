"""The console's factory-return pages (返厂): a warehouse clerk ships the
defective parts and handsets back to the factory, downloads the packing
list, and enters the factory's count.

- `/ui/factory-returns`: the returns, by state and sender, paged on the server.
- `/ui/factory-returns/new`: ship a warehouse's defective stock (lines by SKU
  and quantity, handsets by serial); "fill with the defective stock" puts
  every defective line of the warehouse in the form, to edit before sending.
- `/ui/factory-returns/{number}`: the return, its packing list (and the same
  xlsx the API gives), its differences, history, and the factory's count.
- `/ui/defective-stock`: a location's defective stock awaiting a return.

The console calls `ledger.parts.factory` as api/routes/factory.py does and
shows what it answers; the xlsx comes from the shared builder api/packing.py.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from api import packing
from api.web import forms, i18n, render
from api.web.forms import FormProblem
from api.web.i18n import N_
from api.web.pages import page
from api.web.problems import Problem, explain, message
from api.web.route import console_router, refusal_page
from api.web.signin import Form, Me
from ledger.errors import LedgerError
from ledger.parts import factory
from ledger.parts.factory import CountLineIn, ReturnLineIn
from ledger.parts.shipments import ShipmentState

router = console_router()

PAGE = 50
NEW_LINES = 4
LINE_FIELDS = ("sku", "quantity", "model", "colour", "serials")
_SERIALS = re.compile(r"[\s,，;；]+")

WORDS = (
    N_("in_transit"),
    N_("received"),
    N_("part"),
    N_("handset"),
    N_("shipped"),
    N_("counted"),
    N_("missing"),
    N_("over"),
    N_("short"),
    N_("open"),
    N_("found"),
    N_("lost"),
    N_("factory_ship"),
    N_("factory_confirm"),
)


def _serials(raw: str) -> tuple[str, ...] | None:
    """Serials as typed: one a line, or separated by spaces or commas."""
    found = tuple(s for s in _SERIALS.split(raw or "") if s)
    return found or None


# -- the list -----------------------------------------------------------------------


@router.get("/ui/factory-returns")
def returns_page(
    request: Request,
    me: Me,
    state: str | None = None,
    sender: str | None = None,
    older_than_days: str | None = None,
    after: str | None = None,
):
    problem, status, items = None, 200, []
    filters = {
        "state": (state or "").strip(),
        "sender": (sender or "").strip().upper(),
        "older_than_days": (older_than_days or "").strip(),
    }
    with i18n.speaking(me.locale), request.app.state.db.reading() as session:
        try:
            chosen = None
            if filters["state"]:
                try:
                    chosen = ShipmentState(filters["state"])
                except ValueError:
                    raise FormProblem(
                        message(i18n._("“%(value)s” is not one of the choices.")
                                % {"value": filters["state"][:40]}, field="state")
                    ) from None  # fmt: skip
            days = forms.whole_number(
                FormData([("older_than_days", filters["older_than_days"])]),
                "older_than_days", required=False,
            )  # fmt: skip
            items = factory.list_returns(
                session, me.actor, state=chosen, sender=filters["sender"] or None,
                older_than_days=days, after=after or None, limit=PAGE,
            )  # fmt: skip
        except FormProblem as refused:
            problem, status = refused.problem, 422
        except LedgerError as error:
            problem, status = explain(error), forms.status_of(error)
    next_url = None
    if len(items) == PAGE:
        query = {k: v for k, v in filters.items() if v} | {"after": items[-1].number}
        next_url = "/ui/factory-returns?" + urlencode(query)
    template = "factory/_results.html" if render.is_htmx(request) else "factory/list.html"
    return page(
        request, me, template, items=items, filters=filters, next_url=next_url,
        states=list(ShipmentState), problem=problem, status_code=status,
    )  # fmt: skip


# -- shipping a return --------------------------------------------------------------


def _rows(form: FormData) -> list[dict[str, str]]:
    """The lines typed, empty ones left out, so that a problem on line n is
    shown on the n-th line."""
    columns = [form.getlist(name) for name in LINE_FIELDS]
    rows = []
    for values in zip(*columns, strict=False):
        row = {name: str(v).strip() for name, v in zip(LINE_FIELDS, values, strict=True)}
        if any(row.values()):
            rows.append(row)
    return rows


def _lines(rows: list[dict[str, str]]) -> list[ReturnLineIn]:
    lines = []
    for n, row in enumerate(rows, start=1):
        quantity = forms.whole_number(
            FormData([("quantity", row["quantity"])]), "quantity", line=n, required=False
        )
        lines.append(
            ReturnLineIn(
                sku=row["sku"],
                quantity=quantity,
                serials=_serials(row["serials"]),
                model=row["model"] or None,
                colour=row["colour"] or None,
            )
        )
    return lines


def _filled(session, me, sender: str) -> list[dict[str, Any]]:
    """Every defective line the warehouse holds, as lines of the form."""
    held = factory.defective_stock(session, me.actor, sender)
    return [
        {
            "sku": line.sku,
            "quantity": "" if line.serials is not None else str(line.quantity),
            "model": line.models[0] if len(line.models) == 1 else "",
            "colour": "",
            "serials": "\n".join(s.serial for s in line.serials or []),
            "models": line.models,
            "serialized": line.serials is not None,
        }
        for line in held.lines
    ]


def _new_page(request, me, *, values: dict, rows: list[dict], problem=None, status=200):
    blank = {name: "" for name in LINE_FIELDS} | {"models": [], "serialized": False}
    rows = rows + [blank] * max(1, NEW_LINES - len(rows))
    template = "factory/_new_form.html" if render.is_htmx(request) else "factory/new.html"
    return page(
        request, me, template, values=values, rows=rows, problem=problem, status_code=status
    )


@router.get("/ui/factory-returns/new")
def new_return(request: Request, me: Me, sender: str | None = None, fill: bool = False):
    values = {"sender": (sender or "").strip().upper(), "courier": "", "tracking_number": ""}
    rows, problem, status = [], None, 200
    if fill and values["sender"]:
        try:
            with i18n.speaking(me.locale), request.app.state.db.reading() as session:
                rows = _filled(session, me, values["sender"])
        except LedgerError as error:
            with i18n.speaking(me.locale):
                problem, status = explain(error), forms.status_of(error)
            if problem.field is None:
                problem = Problem(problem.title, problem.detail, field="sender")
    return _new_page(request, me, values=values, rows=rows, problem=problem, status=status)


@router.get("/ui/factory-returns/new/line")
def new_return_line(request: Request, me: Me):
    """One more empty line (the form's "Add a line" button)."""
    row = {name: "" for name in LINE_FIELDS} | {"models": [], "serialized": False}
    return page(request, me, "factory/_line.html", row=row, n=0)


@router.post("/ui/factory-returns/new")
def ship(request: Request, me: Me, form: Form):
    def work(session):
        return factory.ship(
            session,
            me.actor,
            sender=(forms.text(form, "sender") or "").upper(),
            lines=_lines(_rows(form)),
            courier=forms.text(form, "courier"),
            tracking_number=forms.text(form, "tracking_number"),
            key=forms.key_of(form),
        )

    def failed(problem: Problem, status: int):
        values = {name: forms.text(form, name) or "" for name in ("sender", "courier",
                                                                  "tracking_number")}  # fmt: skip
        rows = [row | {"models": [], "serialized": bool(row["serials"])} for row in _rows(form)]
        return _new_page(request, me, values=values, rows=rows, problem=problem, status=status)

    return forms.act(
        request, me, work, done=lambda shipped: f"/ui/factory-returns/{shipped.number}",
        failed=failed,
    )  # fmt: skip


# -- one return ---------------------------------------------------------------------


def _return_page(request, me, number: str, *, problem=None, status=200, typed=None):
    try:
        with request.app.state.db.reading() as session:
            shipped = factory.get(session, me.actor, number)
            packed = factory.packing_list(session, me.actor, number)
    except LedgerError as error:
        return refusal_page(request, me, error)
    return page(
        request, me, "factory/return.html", shipped=shipped, packed=packed, problem=problem,
        typed=typed or {}, status_code=status,
    )  # fmt: skip


@router.get("/ui/factory-returns/{number}")
def return_page(request: Request, me: Me, number: str):
    return _return_page(request, me, number)


@router.get("/ui/factory-returns/{number}/packing-list.xlsx")
def packing_list_xlsx(request: Request, me: Me, number: str):
    """The packing list as the API gives it (api/packing.py), to print and pack."""
    try:
        with request.app.state.db.reading() as session:
            listed = factory.packing_list(session, me.actor, number)
    except LedgerError as error:
        return refusal_page(request, me, error)
    return Response(
        content=packing.workbook(listed),
        media_type=packing.MEDIA_TYPE,
        headers={"Content-Disposition": packing.content_disposition(listed)},
    )


def _counts(form: FormData, number_of_lines: int) -> list[CountLineIn] | None:
    """The factory's count as typed: a line left empty was counted as shipped."""
    lines = []
    for n in range(1, number_of_lines + 1):
        counted = forms.whole_number(form, f"counted_{n}", line=n, required=False)
        serials = _serials(forms.text(form, f"serials_{n}") or "")
        if counted is not None or serials is not None:
            lines.append(CountLineIn(line_no=n, quantity=counted, serials=serials))
    return lines or None


@router.post("/ui/factory-returns/{number}/confirm")
def confirm(request: Request, me: Me, number: str, form: Form):
    def work(session):
        size = forms.whole_number(form, "lines", required=False) or 0
        return factory.confirm(
            session, me.actor, number, lines=_counts(form, min(size, 1000)),
            key=forms.key_of(form),
        )  # fmt: skip

    typed = {name: str(value) for name, value in form.items() if name.startswith(("counted_",
             "serials_"))}  # fmt: skip
    return forms.act(
        request, me, work, done=lambda shipped: f"/ui/factory-returns/{shipped.number}",
        failed=lambda problem, status: _return_page(
            request, me, number, problem=problem, status=status, typed=typed
        ),
    )  # fmt: skip


# -- defective stock ----------------------------------------------------------------


@router.get("/ui/defective-stock")
def defective_stock_page(request: Request, me: Me, location: str | None = None):
    code = (location or "").strip().upper()
    held, problem, status = None, None, 200
    if code:
        try:
            with request.app.state.db.reading() as session:
                held = factory.defective_stock(session, me.actor, code)
        except LedgerError as error:
            with i18n.speaking(me.locale):
                problem, status = explain(error), forms.status_of(error)
    template = "factory/_defective.html" if render.is_htmx(request) else "factory/defective.html"
    return page(
        request, me, template, held=held, location=code, problem=problem, status_code=status
    )
