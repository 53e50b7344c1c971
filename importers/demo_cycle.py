"""The demo's parts cycle: requisitions in every state, shipments in transit
and a shortage to resolve, made through the parts-cycle services by the demo
users who would really act (the point's own user for SP-0001, the clerk for
other points and for the warehouse, the approver for decisions).

Everything is dated the day the demo loads: a shipment "in transit for days"
would need a faked date, so there is none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.catalog import locations
from ledger.models import Role, User
from ledger.parts import receiving, requisitions, shipments
from ledger.parts.requisitions import LineIn
from ledger.parts.shipments import DiscrepancyState, ShipmentState
from ledger.policy import Actor

# The point whose user logs in as `sp0001`: it gets most of the documents.
HOME = "SP-0001"
CHEAP = 10_000  # fen: parts at most 100 CNY keep a requisition well within RM's amount limit


@dataclass
class CycleSummary:
    requisitions: int
    in_transit: int
    open_discrepancies: int


def actor(session: Session, username: str) -> Actor:
    role, holder_id = session.execute(
        select(User.role, User.holder_id).where(User.username == username)
    ).one()
    return Actor(username, Role(role), holder_id)


class _Picker:
    """Parts a holder actually has, cheapest-first candidates in SKU order,
    each handed out once so that no two documents compete for one part."""

    def __init__(self, stocked: dict[str, dict[str, int]], costs: dict[str, int]) -> None:
        self.stocked = stocked
        self.costs = costs
        self.used: set[tuple[str, str]] = set()

    def take(self, holder: str, at_least: int, fits: Callable[[int], bool]) -> str:
        for sku, qty in sorted(self.stocked[holder].items()):
            if (holder, sku) not in self.used and qty >= at_least and fits(self.costs[sku]):
                self.used.add((holder, sku))
                return sku
        raise LookupError(f"the demo stocks no part at {holder} fit for the parts cycle")

    def cheap(self, holder: str, *quantities: int) -> list[LineIn]:
        """One line per quantity, each a cheap part the holder has 30 of."""
        return [
            LineIn(sku=self.take(holder, max(q, 30), lambda c: c <= CHEAP), quantity=q)
            for q in quantities
        ]


def parts_cycle(
    session: Session,
    stocked: dict[str, dict[str, int]],
    costs: dict[str, int],
    points: list[str],
) -> CycleSummary:
    """`stocked`: each holder's opening stock (holder → SKU → units); `costs`:
    standard cost per SKU in fen; `points`: active service points, HOME first."""
    home = actor(session, "sp0001")
    clerk = actor(session, "clerk")
    approver = actor(session, "approver")
    pick = _Picker(stocked, costs)
    limits = locations.limits_of(session, approver.username)
    served = {p: locations.get_location(session, clerk, p).served_by for p in points}
    others = [p for p in points if p != HOME][:4] or [HOME]
    # Documents for other points go round them, raised by the clerk.
    rotation: Iterator[str] = iter(others * 8)
    tracking = iter(range(1, 100))

    def courier() -> dict[str, str]:
        return {"courier": "SF Express", "tracking_number": f"SF7{next(tracking):09d}"}

    def raise_(point: str, lines: list[LineIn], note: str, submit: bool = True):
        who = home if point == HOME else clerk
        return requisitions.create(
            session, who, lines=lines, requester=point, note=note, submit=submit
        ).number

    def approved(point: str, lines: list[LineIn], note: str) -> str:
        number = raise_(point, lines, note)
        requisitions.approve(session, approver, number)
        return number

    def receiver(shipment: shipments.ShipmentView) -> Actor:
        return home if shipment.receiver == HOME else clerk

    w = served[HOME]
    # SP-0001: a draft, one waiting for the approver, one approved and
    # reserved, one on its way, one received short, one closed, one withdrawn.
    raise_(HOME, pick.cheap(w, 2, 3), "screens for next week's repairs", submit=False)
    raise_(HOME, pick.cheap(w, 4), "batteries running low")
    approved(HOME, pick.cheap(w, 3, 2), "walk-in repairs")
    requisitions.issue(session, clerk, approved(HOME, pick.cheap(w, 5), "restock"), **courier())
    short = requisitions.issue(
        session, clerk, approved(HOME, pick.cheap(w, 4, 6), "warranty repairs"), **courier()
    )
    receiving.receive(session, home, short.number, received={2: 5})
    done = requisitions.issue(
        session, clerk, approved(HOME, pick.cheap(w, 2), "customer booking"), **courier()
    )
    receiving.receive(session, home, done.number)
    withdrawn = raise_(HOME, pick.cheap(w, 1), "one camera for a repair")
    requisitions.cancel(session, home, withdrawn, reason="the customer took the phone back")
    # A return of a part SP-0001 holds, on its way back to its warehouse.
    spare = pick.take(HOME, 2, lambda _: True)
    receiving.return_parts(session, home, lines=[LineIn(sku=spare, quantity=1)], **courier())

    # Other points, raised by the clerk: waiting within limits; beyond RM's
    # quantity limit; beyond its amount limit, escalated; rejected; approved;
    # issued in part (the rest still to ship); received short and written off.
    p = next(rotation)
    raise_(p, pick.cheap(served[p], 3, 3), "stock for a new technician")
    p = next(rotation)
    beyond = limits.quantity_limit + 10
    many = pick.take(served[p], beyond, lambda c: c <= CHEAP)
    raise_(p, [LineIn(sku=many, quantity=beyond)], "a campus repair drive")
    p = next(rotation)
    units = min(30, limits.quantity_limit)
    dear = pick.take(served[p], units, lambda c: c * units > limits.amount_limit)
    big = raise_(p, [LineIn(sku=dear, quantity=units)], "a corporate fleet's repairs")
    requisitions.escalate(session, approver, big, reason="beyond the regional amount limit")
    p = next(rotation)
    refused = raise_(p, pick.cheap(served[p], 8), "extra stock")
    requisitions.reject(
        session, approver, refused, reason="not needed now; order it with the monthly restock"
    )
    p = next(rotation)
    approved(p, pick.cheap(served[p], 2, 2), "weekend repairs")
    p = next(rotation)
    part = approved(p, pick.cheap(served[p], 3, 4), "repairs booked this week")
    requisitions.issue(session, clerk, part, lines={1: 3}, **courier())
    p = next(rotation)
    lost = requisitions.issue(
        session, clerk, approved(p, pick.cheap(served[p], 3), "restock"), **courier()
    )
    got = receiving.receive(session, receiver(lost), lost.number, received={1: 2})
    [missing] = got.discrepancies
    receiving.resolve(
        session, clerk, missing, outcome=DiscrepancyState.LOST,
        reason="the courier confirms the parcel arrived opened; claim filed",
    )  # fmt: skip

    # A transfer between two regional warehouses, in transit.
    source = (sorted(set(served.values()) - {w}) or ["HQ"])[0]
    moved = pick.take(source, 40, lambda _: True)
    receiving.transfer(
        session, clerk, sender=source, receiver=w, lines=[LineIn(sku=moved, quantity=20)],
        **courier(),
    )  # fmt: skip

    return CycleSummary(
        requisitions=session.scalar(select(func.count()).select_from(requisitions.Requisition)),
        in_transit=session.scalar(
            select(func.count())
            .select_from(shipments.Shipment)
            .where(shipments.Shipment.state == ShipmentState.IN_TRANSIT.value)
        ),
        open_discrepancies=session.scalar(
            select(func.count())
            .select_from(shipments.Discrepancy)
            .where(shipments.Discrepancy.state == DiscrepancyState.OPEN.value)
        ),
    )
