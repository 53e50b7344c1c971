"""What each role sees in the console's menu. The menu only links pages: what
a role may do is decided by the services, whatever a page shows."""

from __future__ import annotations

from dataclasses import dataclass

from api.web.i18n import N_
from ledger.models import Role


@dataclass(frozen=True, slots=True)
class Link:
    label: str  # English, translated where shown
    href: str


MENUS: dict[Role, tuple[Link, ...]] = {
    Role.SERVICE_POINT: (
        Link(N_("Today"), "/"),
        Link(N_("Stock"), "/ui/stock"),
        Link(N_("Requisitions"), "/ui/requisitions"),
        Link(N_("Receipts"), "/ui/receipts"),
        Link(N_("Returns"), "/ui/returns"),
        Link(N_("Repairs"), "/ui/repairs"),
        Link(N_("Money"), "/ui/money"),
    ),
    Role.WAREHOUSE_CLERK: (
        Link(N_("Today"), "/"),
        Link(N_("To ship"), "/ui/to-ship"),
        Link(N_("Purchase orders"), "/ui/purchase-orders"),
        Link(N_("Inbound"), "/ui/inbound"),
        Link(N_("Discrepancies"), "/ui/discrepancies"),
        Link(N_("Factory returns"), "/ui/factory-returns"),
        Link(N_("Defective stock"), "/ui/defective-stock"),
        Link(N_("Stock counts"), "/ui/counts"),
        Link(N_("Stock"), "/ui/stock"),
    ),
    Role.APPROVER: (
        Link(N_("Today"), "/"),
        Link(N_("Requisitions"), "/ui/requisitions"),
    ),
    Role.FINANCE: (
        Link(N_("Today"), "/"),
        Link(N_("Deposits"), "/ui/deposits"),
        Link(N_("Credit"), "/ui/credit"),
        Link(N_("Settlement"), "/ui/settlement"),
        Link(N_("Statements"), "/ui/statements"),
        Link(N_("Discrepancies"), "/ui/discrepancies"),
    ),
    Role.ADMIN: (
        Link(N_("Today"), "/"),
        Link(N_("Parts"), "/ui/admin/parts"),
        Link(N_("Locations"), "/ui/admin/locations"),
        Link(N_("Approval levels"), "/ui/admin/approval-levels"),
        Link(N_("Users"), "/ui/admin/users"),
        Link(N_("Settlement"), "/ui/settlement"),
        Link(N_("Change history"), "/ui/admin/history"),
    ),
    Role.PLANNER: (
        Link(N_("Today"), "/"),
        Link(N_("Plans"), "/ui/plans"),
        Link(N_("Stock"), "/ui/stock"),
        Link(N_("Credit"), "/ui/credit"),
    ),
}

ROLE_NAMES = {
    Role.ADMIN: N_("Administrator"),
    Role.WAREHOUSE_CLERK: N_("Warehouse clerk"),
    Role.APPROVER: N_("Approver"),
    Role.SERVICE_POINT: N_("Service point"),
    Role.FINANCE: N_("Finance"),
    Role.PLANNER: N_("Planner"),
}


def menu(role: Role) -> tuple[Link, ...]:
    return MENUS.get(role, (Link(N_("Today"), "/"),))
