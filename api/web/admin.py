"""The console's admin pages: the master data an administrator keeps.

Parts (names, category, warranty class, models, prices from a day on),
locations (place, grade, the warehouse serving a point, a point's status),
approval levels and who holds them, users, and the change history of it all.
They call the same catalogue, location and user services as the HTTP API;
every rule (who may, what is valid, what a status may become) is theirs.

Master data has natural keys (a SKU, a location's code, a username, a price's
day): a form sent twice makes the record once, the second send answers that
it exists already.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from starlette.datastructures import FormData

from api.web import forms, i18n, render
from api.web.forms import FormProblem
from api.web.i18n import N_
from api.web.pages import page
from api.web.problems import Problem, message
from api.web.route import console_router, refusal_page
from api.web.signin import Form, Me
from ledger import users
from ledger.catalog import history as changes
from ledger.catalog import locations as loc
from ledger.catalog import parts
from ledger.catalog.history import ChangeView
from ledger.errors import Forbidden, LedgerError, NotFound
from ledger.models import Role


async def administrators_only(me: Me) -> None:
    """The master-data pages are the administrator's: another role's reader
    gets the refusal page (the services refuse their writes in any case)."""
    if me.actor.role is not Role.ADMIN:
        raise Forbidden("the master-data pages are for administrators")


router = console_router(dependencies=[Depends(administrators_only)])

PAGE = 50
HISTORY_PAGE = 100

# Enum values and codes shown with `| word` (translated in admin.po).
WORDS = (
    N_("handset"), N_("charger"), N_("battery"), N_("accessory"),
    N_("hq"), N_("regional_warehouse"), N_("service_point"),
    N_("active"), N_("suspended"), N_("terminated"),
    N_("admin"), N_("warehouse_clerk"), N_("approver"), N_("finance"), N_("planner"),
    N_("part"), N_("part_price"), N_("location"), N_("approval_level"),
    N_("user_approval_level"), N_("handset_model"), N_("supplier"), N_("supplier_part"),
)  # fmt: skip

# The kinds of record the change history keeps.
KINDS = (
    "part", "part_price", "location", "approval_level", "user_approval_level",
    "handset_model", "supplier", "supplier_part",
)  # fmt: skip

# What a recorded field is called on the page.
FIELDS = {
    "sku": N_("SKU"),
    "code": N_("Code"),
    "name": N_("Name"),
    "name_zh": N_("Chinese name"),
    "name_en": N_("English name"),
    "category": N_("Category"),
    "warranty_class": N_("Warranty class"),
    "returnable": N_("Returned to the factory"),
    "serialized": N_("Serialized"),
    "active": N_("Active"),
    "models": N_("Fits models"),
    "colours": N_("Colours"),
    "effective_from": N_("Effective from"),
    "standard_cost": N_("Standard cost"),
    "list_price": N_("List price"),
    "kind": N_("Kind"),
    "grade": N_("Grade"),
    "region": N_("Region"),
    "province": N_("Province"),
    "city": N_("City"),
    "served_by": N_("Served by"),
    "status": N_("Status"),
    "status_reason": N_("Reason"),
    "rank": N_("Rank"),
    "quantity_limit": N_("Quantity limit"),
    "amount_limit": N_("Amount limit"),
    "username": N_("Username"),
    "level": N_("Approval level"),
}
MONEY_FIELDS = frozenset({"standard_cost", "list_price", "amount_limit"})

ROLES = tuple(r.value for r in Role)
WARRANTY_CLASSES = tuple(w.value for w in parts.WarrantyClass)
LOCATION_KINDS = tuple(k.value for k in loc.LocationKind)
STATUSES = tuple(s.value for s in loc.LocationStatus)
GRADES = loc.GRADES


# -- what the pages share -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    label: str  # English, translated where shown
    before: Any
    after: Any
    money: bool


@dataclass(frozen=True, slots=True)
class Change:
    """A recorded change as the page shows it: who, when, what, old → new."""

    id: int
    at: Any
    actor: str
    entity: str
    key: str
    created: bool
    fields: list[FieldChange]


def _change(view: ChangeView) -> Change:
    before, after = view.before or {}, view.after or {}
    names = list(after) + [name for name in before if name not in after]
    fields = [
        FieldChange(name, FIELDS.get(name, name), before.get(name), after.get(name),
                    name in MONEY_FIELDS)
        for name in names
        if view.before is None or before.get(name) != after.get(name)
    ]  # fmt: skip
    return Change(view.id, view.at, view.actor, view.entity, view.key, view.before is None, fields)


def _db(request: Request):
    return request.app.state.db


def _flag(form: FormData, name: str) -> bool:
    """A checkbox: sent when ticked."""
    return form.get(name) in ("true", "on", "1", "yes")


def _codes(form: FormData, name: str) -> list[str]:
    """A list of codes typed with spaces or commas between them."""
    raw = forms.text(form, name) or ""
    return [c.upper() for c in raw.replace(",", " ").replace("，", " ").split() if c]


def _day(form: FormData, name: str) -> date:
    raw = forms.text(form, name)
    if raw is None:
        raise FormProblem(message(i18n._("Enter a date."), field=name))
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FormProblem(
            message(i18n._("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": raw[:40]},
                    field=name)
        ) from None  # fmt: skip


def _role(form: FormData, name: str = "role") -> Role:
    raw = forms.text(form, name)
    try:
        return Role(raw or "")
    except ValueError:
        raise FormProblem(message(i18n._("Choose a role."), field=name)) from None


def _yes_no(value: str | None) -> bool | None:
    return {"true": True, "false": False}.get(value or "")


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _next_url(path: str, filters: dict, cursor_name: str, cursor: Any) -> str:
    query = {k: v for k, v in filters.items() if v not in (None, "")} | {cursor_name: cursor}
    return f"{path}?{urlencode(query)}"


def _failed(show):
    """`failed` for forms.act: the same page again, the problem beside its field."""

    def failed(problem: Problem, status: int):
        return show(problem, status)

    return failed


def _shown(request: Request, me, show):
    """A page, or the error page with the service's words (a part that does not
    exist, a role that may not see users), with the reader's menu."""
    try:
        return show()
    except LedgerError as error:
        return refusal_page(request, me, error)


def _safe(build):
    """`build(request, me, ...)` as `_shown` shows it."""

    @functools.wraps(build)
    def shown(request: Request, me, *args, **kwargs):
        return _shown(request, me, lambda: build(request, me, *args, **kwargs))

    return shown


def _values(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str) and k not in ("csrf_token",)}


# -- parts ------------------------------------------------------------------------------


@router.get("/ui/admin/parts")
@_safe
def parts_page(
    request: Request,
    me: Me,
    q: str | None = None,
    category: str | None = None,
    active: str | None = None,
    after: str | None = None,
):
    filters = {"q": _clean(q) or "", "category": _clean(category) or "", "active": active or ""}
    with _db(request).reading() as session:
        items = parts.list_parts(
            session, me.actor, q=filters["q"] or None, category=filters["category"] or None,
            active=_yes_no(active), after=_clean(after), limit=PAGE,
        )  # fmt: skip
    next_url = (
        _next_url("/ui/admin/parts", filters, "after", items[-1].sku)
        if len(items) == PAGE
        else None
    )
    template = "admin/_parts_table.html" if render.is_htmx(request) else "admin/parts.html"
    return page(request, me, template, items=items, filters=filters, next_url=next_url)


def _new_part_page(request, me, values, problem=None, status=200):
    return page(
        request, me, "admin/part_new.html", v=values, problem=problem, status_code=status,
        warranty_classes=WARRANTY_CLASSES,
    )  # fmt: skip


@router.get("/ui/admin/parts/new")
def new_part(request: Request, me: Me):
    return _new_part_page(request, me, {"warranty_class": "handset", "active": "true"})


@router.post("/ui/admin/parts")
def create_part(request: Request, me: Me, form: Form):
    def work(session):
        return parts.create_part(
            session, me.actor, (forms.text(form, "sku") or "").upper(),
            name_zh=forms.text(form, "name_zh") or "", name_en=forms.text(form, "name_en") or "",
            category=forms.text(form, "category") or "",
            warranty_class=forms.text(form, "warranty_class") or "",
            models=_codes(form, "models"), serialized=_flag(form, "serialized"),
            returnable=_flag(form, "returnable"), active=_flag(form, "active"),
        )  # fmt: skip

    return forms.act(
        request, me, work,
        done=lambda part: f"/ui/admin/parts/{part.sku}",
        failed=_failed(lambda p, s: _new_part_page(request, me, _values(form), p, s)),
    )  # fmt: skip


def _part_values(part: parts.PartView) -> dict[str, str]:
    return {
        "name_zh": part.name_zh,
        "name_en": part.name_en,
        "category": part.category,
        "warranty_class": part.warranty_class.value,
        "models": " ".join(part.models),
        "returnable": "true" if part.returnable else "",
        "active": "true" if part.active else "",
    }


@_safe
def _part_page(request, me, sku, *, problem=None, status=200, failed=None, values=None):
    db = _db(request)
    with db.reading() as session:
        part = parts.get_part(session, me.actor, sku)
        prices = parts.part_prices(session, me.actor, sku)
        recorded = parts.part_history(session, me.actor, sku, limit=HISTORY_PAGE)
    edit = values if failed == "edit" else _part_values(part)
    price = values if failed == "price" else {"effective_from": db.window.today().isoformat()}
    return page(
        request, me, "admin/part.html", part=part, prices=prices,
        changes=[_change(c) for c in recorded], edit=edit, price=price, failed=failed,
        problem=problem, status_code=status, warranty_classes=WARRANTY_CLASSES,
    )  # fmt: skip


@router.get("/ui/admin/parts/{sku}")
def part_page(request: Request, me: Me, sku: str):
    return _part_page(request, me, sku)


@router.post("/ui/admin/parts/{sku}")
def update_part(request: Request, me: Me, sku: str, form: Form):
    def work(session):
        return parts.update_part(
            session, me.actor, sku,
            name_zh=forms.text(form, "name_zh") or "", name_en=forms.text(form, "name_en") or "",
            category=forms.text(form, "category") or "",
            warranty_class=forms.text(form, "warranty_class") or "",
            returnable=_flag(form, "returnable"), active=_flag(form, "active"),
            models=_codes(form, "models"),
        )  # fmt: skip

    return forms.act(
        request, me, work,
        done=lambda part: f"/ui/admin/parts/{part.sku}",
        failed=_failed(lambda p, s: _part_page(
            request, me, sku, problem=p, status=s, failed="edit", values=_values(form))),
    )  # fmt: skip


@router.post("/ui/admin/parts/{sku}/prices")
def set_price(request: Request, me: Me, sku: str, form: Form):
    def work(session):
        return parts.set_price(
            session, me.actor, sku, effective_from=_day(form, "effective_from"),
            standard_cost=forms.money_fen(form, "standard_cost"),
            list_price=forms.money_fen(form, "list_price"),
        )  # fmt: skip

    return forms.act(
        request, me, work,
        done=lambda price: f"/ui/admin/parts/{price.sku}",
        failed=_failed(lambda p, s: _part_page(
            request, me, sku, problem=p, status=s, failed="price", values=_values(form))),
    )  # fmt: skip


# -- locations --------------------------------------------------------------------------


@router.get("/ui/admin/locations")
@_safe
def locations_page(
    request: Request,
    me: Me,
    kind: str | None = None,
    region: str | None = None,
    status: str | None = None,
    grade: str | None = None,
    after: str | None = None,
):
    filters = {
        "kind": _clean(kind) or "", "region": _clean(region) or "",
        "status": _clean(status) or "", "grade": _clean(grade) or "",
    }  # fmt: skip
    with _db(request).reading() as session:
        items = loc.list_locations(
            session, me.actor, kind=filters["kind"] or None, region=filters["region"] or None,
            status=filters["status"] or None, grade=filters["grade"] or None,
            after=_clean(after), limit=PAGE,
        )  # fmt: skip
    next_url = (
        _next_url("/ui/admin/locations", filters, "after", items[-1].code)
        if len(items) == PAGE
        else None
    )
    template = "admin/_locations_table.html" if render.is_htmx(request) else "admin/locations.html"
    return page(
        request, me, template, items=items, filters=filters, next_url=next_url,
        kinds=LOCATION_KINDS, statuses=STATUSES, grades=GRADES,
    )  # fmt: skip


def _new_location_page(request, me, values, problem=None, status=200):
    return page(
        request, me, "admin/location_new.html", v=values, problem=problem, status_code=status,
        kinds=LOCATION_KINDS, grades=GRADES,
    )  # fmt: skip


@router.get("/ui/admin/locations/new")
def new_location(request: Request, me: Me):
    return _new_location_page(request, me, {"kind": "service_point"})


def _place(form: FormData) -> dict[str, str | None]:
    return {
        "name": forms.text(form, "name") or "",
        "region": forms.text(form, "region") or "",
        "province": forms.text(form, "province") or "",
        "city": forms.text(form, "city"),
        "grade": forms.text(form, "grade"),
        "served_by": (forms.text(form, "served_by") or "").upper() or None,
    }


@router.post("/ui/admin/locations")
def create_location(request: Request, me: Me, form: Form):
    def work(session):
        return loc.create_location(
            session, me.actor, kind=forms.text(form, "kind") or "",
            code=(forms.text(form, "code") or "").upper(), **_place(form),
        )  # fmt: skip

    return forms.act(
        request, me, work,
        done=lambda location: f"/ui/admin/locations/{location.code}",
        failed=_failed(lambda p, s: _new_location_page(request, me, _values(form), p, s)),
    )  # fmt: skip


def _location_values(location: loc.LocationOut) -> dict[str, str]:
    return {
        "name": location.name,
        "region": location.region,
        "province": location.province,
        "city": location.city or "",
        "grade": location.grade or "",
        "served_by": location.served_by or "",
    }


@_safe
def _location_page(request, me, code, *, problem=None, status=200, failed=None, values=None):
    with _db(request).reading() as session:
        location = loc.get_location(session, me.actor, code)
        recorded = loc.location_history(session, me.actor, code, limit=HISTORY_PAGE)
    edit = values if failed == "edit" else _location_values(location)
    state = values if failed == "status" else {}
    return page(
        request, me, "admin/location.html", location=location, edit=edit, state=state,
        changes=[_change(c) for c in recorded], failed=failed, problem=problem,
        status_code=status, grades=GRADES, statuses=STATUSES,
    )  # fmt: skip


@router.get("/ui/admin/locations/{code}")
def location_page(request: Request, me: Me, code: str):
    return _location_page(request, me, code)


@router.post("/ui/admin/locations/{code}")
def update_location(request: Request, me: Me, code: str, form: Form):
    def work(session):
        return loc.update_location(session, me.actor, code, **_place(form))

    return forms.act(
        request, me, work,
        done=lambda location: f"/ui/admin/locations/{location.code}",
        failed=_failed(lambda p, s: _location_page(
            request, me, code, problem=p, status=s, failed="edit", values=_values(form))),
    )  # fmt: skip


@router.post("/ui/admin/locations/{code}/status")
def set_location_status(request: Request, me: Me, code: str, form: Form):
    def work(session):
        return loc.set_status(
            session, me.actor, code, forms.text(form, "status") or "",
            forms.text(form, "reason") or "",
        )  # fmt: skip

    return forms.act(
        request, me, work,
        done=lambda location: f"/ui/admin/locations/{location.code}",
        failed=_failed(lambda p, s: _location_page(
            request, me, code, problem=p, status=s, failed="status", values=_values(form))),
    )  # fmt: skip


# -- approval levels --------------------------------------------------------------------


@_safe
def _levels_page(request, me, *, problem=None, status=200, failed=None, values=None):
    with _db(request).reading() as session:
        levels = loc.list_levels(session, me.actor)
    return page(
        request, me, "admin/levels.html", levels=levels, failed=failed, problem=problem,
        status_code=status, new=values if failed == "new" else {},
        assign=values if failed == "assign" else {},
    )  # fmt: skip


@router.get("/ui/admin/approval-levels")
def levels_page(request: Request, me: Me):
    return _levels_page(request, me)


def _limits(form: FormData) -> dict[str, Any]:
    return {
        "name": forms.text(form, "name") or "",
        "rank": forms.whole_number(form, "rank"),
        "quantity_limit": forms.whole_number(form, "quantity_limit"),
        "amount_limit": forms.money_fen(form, "amount_limit"),
    }


@router.post("/ui/admin/approval-levels")
def create_level(request: Request, me: Me, form: Form):
    def work(session):
        return loc.create_level(
            session, me.actor, code=(forms.text(form, "code") or "").upper(), **_limits(form)
        )

    return forms.act(
        request, me, work,
        done=lambda level: "/ui/admin/approval-levels",
        failed=_failed(lambda p, s: _levels_page(
            request, me, problem=p, status=s, failed="new", values=_values(form))),
    )  # fmt: skip


@router.post("/ui/admin/approval-levels/assign")
def assign_level(request: Request, me: Me, form: Form):
    def work(session):
        return loc.assign_level(
            session, me.actor, forms.text(form, "username") or "",
            (forms.text(form, "level") or "").upper(),
        )  # fmt: skip

    return forms.act(
        request, me, work,
        done=lambda done: f"/ui/admin/users/{done.username}",
        failed=_failed(lambda p, s: _levels_page(
            request, me, problem=p, status=s, failed="assign", values=_values(form))),
    )  # fmt: skip


@_safe
def _level_page(request, me, code, *, problem=None, status=200, values=None):
    with _db(request).reading() as session:
        levels = loc.list_levels(session, me.actor)
        recorded = changes.changes_of(session, "approval_level", code, limit=HISTORY_PAGE)
    level = next((lv for lv in levels if lv.code == code), None)
    if level is None:
        raise NotFound(f"no approval level {code!r}; list approval levels to see which exist")
    edit = values or {
        "name": level.name,
        "rank": str(level.rank),
        "quantity_limit": str(level.quantity_limit),
        "amount_limit": f"{level.amount_limit / 100:.2f}",
        "active": "true" if level.active else "",
    }
    return page(
        request, me, "admin/level.html", level=level, edit=edit, problem=problem,
        status_code=status, changes=[_change(c) for c in recorded],
    )  # fmt: skip


@router.get("/ui/admin/approval-levels/{code}")
def level_page(request: Request, me: Me, code: str):
    return _level_page(request, me, code)


@router.post("/ui/admin/approval-levels/{code}")
def update_level(request: Request, me: Me, code: str, form: Form):
    def work(session):
        return loc.update_level(
            session, me.actor, code, active=_flag(form, "active"), **_limits(form)
        )

    return forms.act(
        request, me, work,
        done=lambda level: f"/ui/admin/approval-levels/{level.code}",
        failed=_failed(lambda p, s: _level_page(
            request, me, code, problem=p, status=s, values=_values(form))),
    )  # fmt: skip


# -- users ------------------------------------------------------------------------------


@router.get("/ui/admin/users")
@_safe
def users_page(
    request: Request,
    me: Me,
    role: str | None = None,
    active: str | None = None,
    after: str | None = None,
):
    chosen = role if role in ROLES else None
    filters = {"role": chosen or "", "active": active or ""}
    with _db(request).reading() as session:
        items = users.list_users(
            session, me.actor, role=chosen, active=_yes_no(active), after=_clean(after),
            limit=PAGE,
        )  # fmt: skip
    next_url = (
        _next_url("/ui/admin/users", filters, "after", items[-1].username)
        if len(items) == PAGE
        else None
    )
    template = "admin/_users_table.html" if render.is_htmx(request) else "admin/users.html"
    return page(request, me, template, items=items, filters=filters, next_url=next_url, roles=ROLES)


def _new_user_page(request, me, values, problem=None, status=200):
    values = {k: v for k, v in values.items() if k != "password"}  # never shown again
    return page(
        request, me, "admin/user_new.html", v=values, problem=problem, status_code=status,
        roles=ROLES,
    )  # fmt: skip


@router.get("/ui/admin/users/new")
def new_user(request: Request, me: Me):
    return _new_user_page(request, me, {"role": Role.SERVICE_POINT.value})


def _forget(request: Request, info: users.UserInfo) -> str:
    """The API's tokens of a changed user end on this worker at once too."""
    cache = getattr(request.app.state, "user_cache", None)
    if cache is not None:
        cache.forget(info.username)
    return f"/ui/admin/users/{info.username}"


@router.post("/ui/admin/users")
def create_user(request: Request, me: Me, form: Form):
    def work(session):
        role = _role(form)
        return users.add_user(
            session, me.actor, forms.text(form, "username") or "",
            str(form.get("password") or ""), role,
            service_point=(forms.text(form, "service_point") or "").upper() or None,
        )  # fmt: skip

    return forms.act(
        request, me, work,
        done=lambda info: f"/ui/admin/users/{info.username}",
        failed=_failed(lambda p, s: _new_user_page(request, me, _values(form), p, s)),
    )  # fmt: skip


@_safe
def _user_page(request, me, username, *, problem=None, status=200, failed=None, values=None):
    with _db(request).reading() as session:
        user = users.get_user(session, me.actor, username)
        limits = loc.limits_of(session, username) if user.role is Role.APPROVER else None
        levels = loc.list_levels(session, me.actor) if user.role is Role.APPROVER else []
    values = {k: v for k, v in (values or {}).items() if k != "password"}
    role = values if failed == "role" else {
        "role": user.role.value, "service_point": user.service_point or ""}  # fmt: skip
    return page(
        request, me, "admin/user.html", user=user, limits=limits, levels=levels,
        role=role, failed=failed, problem=problem, status_code=status, roles=ROLES,
    )  # fmt: skip


@router.get("/ui/admin/users/{username}")
def user_page(request: Request, me: Me, username: str):
    return _user_page(request, me, username)


@router.post("/ui/admin/users/{username}/active")
def set_user_active(request: Request, me: Me, username: str, form: Form):
    def work(session):
        return users.set_active(session, me.actor, username, _flag(form, "active"))

    return forms.act(
        request, me, work,
        done=lambda info: _forget(request, info),
        failed=_failed(lambda p, s: _user_page(
            request, me, username, problem=p, status=s, failed="active")),
    )  # fmt: skip


@router.post("/ui/admin/users/{username}/role")
def change_role(request: Request, me: Me, username: str, form: Form):
    def work(session):
        return users.change_role(
            session, me.actor, username, _role(form),
            service_point=(forms.text(form, "service_point") or "").upper() or None,
        )  # fmt: skip

    return forms.act(
        request, me, work,
        done=lambda info: _forget(request, info),
        failed=_failed(lambda p, s: _user_page(
            request, me, username, problem=p, status=s, failed="role", values=_values(form))),
    )  # fmt: skip


@router.post("/ui/admin/users/{username}/password")
def reset_password(request: Request, me: Me, username: str, form: Form):
    def work(session):
        return users.reset_password(session, me.actor, username, str(form.get("password") or ""))

    return forms.act(
        request, me, work,
        done=lambda info: _forget(request, info),
        failed=_failed(lambda p, s: _user_page(
            request, me, username, problem=p, status=s, failed="password")),
    )  # fmt: skip


# -- change history ---------------------------------------------------------------------


@router.get("/ui/admin/history")
@_safe
def history_page(
    request: Request,
    me: Me,
    kind: str | None = None,
    code: str | None = None,
    before: str | None = None,
):
    chosen = kind if kind in KINDS else None
    cursor = int(before) if forms.is_number(before) else None
    filters = {"kind": chosen or "", "code": _clean(code) or ""}
    with _db(request).reading() as session:
        recorded = changes.list_changes(
            session, me.actor, entity=chosen, key=filters["code"] or None, before=cursor,
            limit=PAGE,
        )  # fmt: skip
    next_url = (
        _next_url("/ui/admin/history", filters, "before", recorded[-1].id)
        if len(recorded) == PAGE
        else None
    )
    template = "admin/_history_table.html" if render.is_htmx(request) else "admin/history.html"
    return page(
        request, me, template, changes=[_change(c) for c in recorded], filters=filters,
        next_url=next_url, kinds=KINDS,
    )  # fmt: skip
