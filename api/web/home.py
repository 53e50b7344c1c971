"""Each role's start page: what needs doing today, each figure a link to its list.

The figures come from the same list services as the pages they link to,
read in one unit of work; a list longer than a page shows as "100+".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from api.web.i18n import N_
from api.web.pages import page
from api.web.route import console_router
from api.web.signin import Me
from ledger import queries
from ledger.models import Role
from ledger.money import credit, periods, statements
from ledger.parts import counts, purchasing, requisitions, shipments
from ledger.parts.requisitions import State as RequisitionState
from ledger.parts.shipments import DiscrepancyState, ShipmentKind, ShipmentState
from ledger.policy import Actor

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = console_router()

PAGE = 100
# What a warehouse receives besides its purchase orders (factory returns go out).
INBOUND_KINDS = (ShipmentKind.RETURN, ShipmentKind.DEFECTIVE, ShipmentKind.TRANSFER)


@dataclass(frozen=True, slots=True)
class Tile:
    caption: str  # English, translated where shown
    count: int
    href: str
    attention: bool = False  # something is waiting for this reader

    @property
    def figure(self) -> str:
        return f"{PAGE}+" if self.count >= PAGE else str(self.count)


def _tile(caption: str, items: list, href: str, *, attention: bool = True) -> Tile:
    return Tile(caption, len(items), href, attention=attention and bool(items))


def own_point(session: Session, actor: Actor) -> str | None:
    return queries.holder_code(session, actor.holder_id) if actor.holder_id else None


def _point_tiles(session: Session, actor: Actor) -> tuple[list[Tile], dict]:
    point = own_point(session, actor)
    incoming = shipments.list_shipments(
        session, actor, state=ShipmentState.IN_TRANSIT, holder=point, limit=PAGE
    )
    to_receive = [s for s in incoming if s.receiver == point]
    drafts = requisitions.list_requisitions(
        session, actor, state=RequisitionState.DRAFT, limit=PAGE
    )
    waiting = requisitions.list_requisitions(
        session, actor, state=RequisitionState.SUBMITTED, limit=PAGE
    )
    open_shortages = shipments.list_discrepancies(
        session, actor, state=DiscrepancyState.OPEN, limit=PAGE
    )
    tiles = [
        _tile(N_("Shipments to receive"), to_receive, "/ui/receipts"),
        _tile(N_("Drafts to submit"), drafts, "/ui/requisitions?state=draft"),
        _tile(
            N_("Waiting for approval"),
            waiting,
            "/ui/requisitions?state=submitted",
            attention=False,
        ),
        _tile(N_("Open shortages"), open_shortages, "/ui/discrepancies", attention=False),
    ]
    position = credit.position(session, actor, point) if point else None
    return tiles, {"point": point, "position": position}


def _clerk_tiles(session: Session, actor: Actor) -> tuple[list[Tile], dict]:
    to_ship = requisitions.list_requisitions(session, actor, to_ship=True, limit=PAGE)
    in_transit = shipments.list_shipments(
        session, actor, state=ShipmentState.IN_TRANSIT, limit=PAGE
    )
    inbound = [s for s in in_transit if s.kind in INBOUND_KINDS]
    open_orders = purchasing.list_purchase_orders(session, actor, open_only=True, limit=PAGE)
    open_shortages = shipments.list_discrepancies(
        session, actor, state=DiscrepancyState.OPEN, limit=PAGE
    )
    open_counts = [c for c in counts.list_counts(session, actor, limit=PAGE) if c.state.value in (
        "open", "submitted")]  # fmt: skip
    return [
        _tile(N_("Approved requisitions to ship"), to_ship, "/ui/to-ship"),
        _tile(N_("Returns and transfers to receive"), inbound, "/ui/inbound"),
        _tile(N_("Purchase orders to receive"), open_orders, "/ui/purchase-orders"),
        _tile(N_("Open shortages"), open_shortages, "/ui/discrepancies"),
        _tile(N_("Stock counts under way"), open_counts, "/ui/counts"),
    ], {}


def _approver_tiles(session: Session, actor: Actor) -> tuple[list[Tile], dict]:
    within = requisitions.list_requisitions(session, actor, awaiting="within", limit=PAGE)
    above = requisitions.list_requisitions(session, actor, awaiting="above", limit=PAGE)
    return [
        _tile(N_("Within my limits"), within, "/ui/requisitions?awaiting=within"),
        _tile(N_("Above my limits"), above, "/ui/requisitions?awaiting=above", attention=False),
    ], {}


def _finance_tiles(session: Session, actor: Actor) -> tuple[list[Tile], dict]:
    calendar = periods.view(session)
    last_closed = periods.month_text(calendar.closed_through) if calendar.closed_through else None
    unsigned = (
        statements.list_statements(session, actor, last_closed, signed_back=False, limit=PAGE)
        if last_closed
        else []
    )
    over = credit.network_report(session, actor, over_limit=True, limit=PAGE).items
    shortages = shipments.list_discrepancies(
        session, actor, state=DiscrepancyState.OPEN, limit=PAGE
    )
    return [
        _tile(N_("Statements not signed back"), unsigned, "/ui/statements"),
        _tile(N_("Points over their credit limit"), over, "/ui/credit?over_limit=true"),
        _tile(N_("Shortages to resolve"), shortages, "/ui/discrepancies"),
    ], {"calendar": calendar, "last_closed": last_closed}


_TILES = {
    Role.SERVICE_POINT: _point_tiles,
    Role.WAREHOUSE_CLERK: _clerk_tiles,
    Role.APPROVER: _approver_tiles,
    Role.FINANCE: _finance_tiles,
}


@router.get("/")
@router.get("/ui")
def today(request: Request, me: Me):
    tiles, extra = [], {}
    build = _TILES.get(me.actor.role)
    if build is not None:
        with request.app.state.db.reading() as session:
            tiles, extra = build(session, me.actor)
    return page(request, me, "home.html", tiles=tiles, **extra)
