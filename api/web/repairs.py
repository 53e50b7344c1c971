"""The console's repairs pages: a service point's repairs and their write-off.

- `/ui/repairs`: the point's repairs by month, category and state, paged on
  the server, with the month's standing repairs per category
  (`repairs.month_summary`).
- `/ui/repairs/new`: write off the parts a repair used. The warranty
  category is the rules' answer (`warranty.decide`), shown live as the case
  is filled in (`/ui/repairs/warranty`, which writes nothing); a category the
  point claims and the rules refuse comes back with their reason.
- `/ui/repairs/{number}`: the repair, its parts, entry, charge and subsidy,
  its history, and the reversal (with a reason).

The services decide everything: the console reads what was typed, calls
`ledger.parts.repairs` and `ledger.parts.warranty` as api/routes/repairs.py
and api/routes/warranty.py do, and shows their answer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.web import forms, i18n, render
from api.web.forms import FormProblem
from api.web.home import own_point
from api.web.i18n import N_
from api.web.pages import page
from api.web.problems import Problem, explain, message
from api.web.route import console_router, refusal_page
from api.web.signin import Form, Me
from ledger.errors import LedgerError
from ledger.parts import repairs, warranty
from ledger.parts.repairs import RepairState
from ledger.parts.requisitions import LineIn
from ledger.parts.warranty import Case, Category, PartClass

router = console_router()

PAGE = 50
NEW_LINES = 5  # empty part lines on a fresh form
DATES = ("reported_on", "manufactured_on", "purchased_on")
FLAGS = ("proof_of_purchase", "sold", "man_made_damage", "cosmetic_ok")
NUMBERS = ("talk_minutes", "extended_months")

# Enum values shown with `| word`.
WORDS = (
    N_("written_off"),
    N_("reversed"),
    N_("handset"),
    N_("charger"),
    N_("battery"),
    N_("accessory"),
    N_("write_off"),
    N_("reverse"),
)
CATEGORY_NAMES = {
    Category.DOA: N_("DOA: dead on arrival"),
    Category.DAP: N_("DAP: swap after test"),
    Category.WH: N_("WH: in warranty"),
    Category.F: N_("F: out of warranty"),
}
PART_CLASS_NAMES = {
    PartClass.HANDSET: N_("Handset and its internal parts"),
    PartClass.CHARGER: N_("Charger"),
    PartClass.BATTERY: N_("Battery"),
    PartClass.ACCESSORY: N_("Other accessory"),
}


def _choices() -> dict[str, Any]:
    return {
        "categories": list(Category),
        "category_names": CATEGORY_NAMES,
        "states": list(RepairState),
        "part_classes": list(PartClass),
        "part_class_names": PART_CLASS_NAMES,
    }


# -- the list -----------------------------------------------------------------------


def _enum(kind, value: str | None, field: str):
    """A filter's value as the service's enum; a value that is none of them is
    a problem next to the filter (what the HTTP door answers 422)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise FormProblem(
            message(i18n._("“%(value)s” is not one of the choices.") % {"value": value[:40]},
                    field=field)
        ) from None  # fmt: skip


@router.get("/ui/repairs")
def repairs_page(
    request: Request,
    me: Me,
    month: str | None = None,
    category: str | None = None,
    state: str | None = None,
    point: str | None = None,
    after: str | None = None,
):
    if month is None:  # the page opens on this month; an empty month is every month
        month = request.app.state.db.window.today().strftime("%Y-%m")
    month = month.strip()
    problem, status = None, 200
    items, summary = [], None
    with i18n.speaking(me.locale), request.app.state.db.reading() as session:
        fixed = own_point(session, me.actor)
        code = fixed or (point or "").strip().upper() or None
        try:
            chosen_category = _enum(Category, category, "category")
            chosen_state = _enum(RepairState, state, "state")
            items = repairs.list_repairs(
                session, me.actor, point=code, month=month or None, category=chosen_category,
                state=chosen_state, after=after or None, limit=PAGE,
            )  # fmt: skip
            if month:
                summary = repairs.month_summary(session, me.actor, month, point=code)
        except FormProblem as refused:
            problem, status = refused.problem, 422
        except LedgerError as error:
            problem, status = explain(error), forms.status_of(error)
    filters = {
        "month": month,
        "category": (category or "").strip(),
        "state": (state or "").strip(),
        "point": code or "",
    }
    next_url = None
    if len(items) == PAGE:
        query = {k: v for k, v in filters.items() if v or k == "month"} | {
            "after": items[-1].number
        }
        next_url = "/ui/repairs?" + urlencode(query)
    template = "repairs/_results.html" if render.is_htmx(request) else "repairs/list.html"
    return page(
        request, me, template, items=items, summary=summary, filters=filters,
        fixed_point=fixed, next_url=next_url, problem=problem, status_code=status,
        **_choices(),
    )  # fmt: skip


# -- writing off a repair -----------------------------------------------------------


def _case_values(form: FormData | None) -> dict[str, Any]:
    """The case fields as typed (for re-showing the form); a fresh form has
    the Case's defaults."""
    if form is None:
        return {
            "part_class": PartClass.HANDSET.value,
            **{name: "" for name in DATES},
            "proof_of_purchase": False,
            "sold": True,
            "man_made_damage": False,
            "cosmetic_ok": True,
            "talk_minutes": "0",
            "extended_months": "0",
        }
    return {
        "part_class": forms.text(form, "part_class") or "",
        **{name: forms.text(form, name) or "" for name in DATES},
        **{name: form.get(name) is not None for name in FLAGS},
        **{name: forms.text(form, name) or "" for name in NUMBERS},
    }


def _case(form: FormData) -> Case:
    """The warranty case from the form. The console checks only that the
    dates are there and the numbers are numbers; the rules check the rest."""
    for name in ("reported_on", "manufactured_on"):
        if forms.text(form, name) is None:
            raise FormProblem(message(i18n._("Enter a date."), field=name))
    values: dict[str, Any] = {
        "part_class": forms.text(form, "part_class") or "",
        **{name: form.get(name) is not None for name in FLAGS},
    }
    for name in DATES:
        values[name] = forms.text(form, name)
    for name in NUMBERS:
        values[name] = forms.whole_number(form, name, required=False) or 0
    try:
        return Case(**values)
    except ValidationError as refused:
        first = refused.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else None
        detail = str(first.get("msg", "")).removeprefix("Value error, ")
        raise FormProblem(message(detail, field=field)) from None


def _part_rows(form: FormData | None) -> list[dict[str, str]]:
    """The part lines typed, empty ones left out, so that a problem on line n
    is shown on the n-th line."""
    if form is None:
        return []
    rows = []
    for sku, quantity in zip(form.getlist("sku"), form.getlist("quantity"), strict=False):
        sku, quantity = str(sku).strip(), str(quantity).strip()
        if sku or quantity:
            rows.append({"sku": sku, "quantity": quantity})
    return rows


def _parts(rows: list[dict[str, str]]) -> list[LineIn]:
    lines = []
    for n, row in enumerate(rows, start=1):
        quantity = forms.whole_number(FormData([("quantity", row["quantity"])]), "quantity", line=n)
        lines.append(LineIn(sku=row["sku"], quantity=quantity))
    return lines


def _new_page(request: Request, me, *, form: FormData | None = None, problem=None, status=200):
    rows = _part_rows(form)
    rows += [{"sku": "", "quantity": ""}] * max(2, NEW_LINES - len(rows))
    values = {
        "repair_number": "",
        "customer_serial": "",
        "handset_model": "",
        "fault": "",
        "category": "",
        "point": "",
        **_case_values(form),
    }
    if form is not None:
        for name in ("repair_number", "customer_serial", "handset_model", "fault", "category",
                     "point"):  # fmt: skip
            values[name] = forms.text(form, name) or ""
    with request.app.state.db.reading() as session:
        fixed = own_point(session, me.actor)
    template = "repairs/_new_form.html" if render.is_htmx(request) else "repairs/new.html"
    return page(
        request, me, template, values=values, rows=rows, fixed_point=fixed, problem=problem,
        decision=None, status_code=status, **_choices(),
    )  # fmt: skip


@router.get("/ui/repairs/new")
def new_repair(request: Request, me: Me):
    return _new_page(request, me)


@router.get("/ui/repairs/new/line")
def new_part_line(request: Request, me: Me):
    """One more empty part line (the form's "Add a line" button)."""
    return page(request, me, "repairs/_part_line.html", row={"sku": "", "quantity": ""}, n=0)


@router.post("/ui/repairs/new")
def write_off(request: Request, me: Me, form: Form):
    def work(session):
        case = _case(form)
        claimed = _enum(Category, forms.text(form, "category"), "category")
        parts = _parts(_part_rows(form))
        return repairs.write_off(
            session,
            me.actor,
            point=forms.text(form, "point"),
            repair_number=forms.text(form, "repair_number") or "",
            customer_serial=forms.text(form, "customer_serial") or "",
            handset_model=forms.text(form, "handset_model") or "",
            fault=forms.text(form, "fault") or "",
            case=case,
            category=claimed,
            parts=parts,
            key=forms.key_of(form),
        )

    return forms.act(
        request,
        me,
        work,
        done=lambda repair: f"/ui/repairs/{repair.number}",
        failed=lambda problem, status: _new_page(
            request, me, form=form, problem=problem, status=status
        ),
    )


@router.post("/ui/repairs/warranty")
def warranty_decision(request: Request, me: Me, form: Form):
    """The rules' decision for the case as filled in so far: the category,
    its warranty end and why. Reads nothing, writes nothing."""
    decision, problem, status = None, None, 200
    with i18n.speaking(me.locale):
        if all(forms.text(form, name) for name in ("reported_on", "manufactured_on")):
            try:
                decision = warranty.decide(_case(form))
            except FormProblem as refused:
                problem, status = refused.problem, 422
            except LedgerError as error:
                problem, status = explain(error), 422
    return page(
        request, me, "repairs/_decision.html", decision=decision, warranty_problem=problem,
        status_code=status, **_choices(),
    )  # fmt: skip


# -- one repair ---------------------------------------------------------------------


def _repair_page(request: Request, me, number: str, *, problem: Problem | None = None,
                 status: int = 200, reason: str = ""):  # fmt: skip
    try:
        with request.app.state.db.reading() as session:
            repair = repairs.get(session, me.actor, number)
    except LedgerError as error:
        return refusal_page(request, me, error)
    return page(
        request, me, "repairs/repair.html", repair=repair, problem=problem, reason=reason,
        status_code=status, **_choices(),
    )  # fmt: skip


@router.get("/ui/repairs/{number}")
def repair_page(request: Request, me: Me, number: str):
    return _repair_page(request, me, number)


@router.post("/ui/repairs/{number}/reverse")
def reverse(request: Request, me: Me, number: str, form: Form):
    def work(session):
        return repairs.reverse(
            session, me.actor, number, reason=forms.text(form, "reason") or "",
            key=forms.key_of(form),
        )  # fmt: skip

    return forms.act(
        request,
        me,
        work,
        done=lambda repair: f"/ui/repairs/{repair.number}",
        failed=lambda problem, status: _repair_page(
            request,
            me,
            number,
            problem=problem,
            status=status,
            reason=forms.text(form, "reason") or "",
        ),
    )
