"""Actions on shipments and what follows from them: confirming a receipt
(and bringing its requisition up to date), resolving a shortage, and the
shipments that need no requisition: transfers between warehouses and returns
of unused parts from a point to its warehouse."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.amounts import MAX_AMOUNT
from ledger.catalog import locations
from ledger.catalog.parts import prices_on
from ledger.errors import InsufficientBalance, InvalidInput, NotFound
from ledger.models import Holder, HolderKind, Role
from ledger.money import credit
from ledger.parts import documents as docs
from ledger.parts import requisitions, shipments
from ledger.parts.requisitions import LineIn
from ledger.parts.shipments import DiscrepancyState, ShipmentKind, ShipmentState, ShipmentView
from ledger.policy import Actor


def receive(
    session: Session,
    actor: Actor,
    shipment_number: str,
    *,
    received: dict[int, int] | None = None,
    key: str | None = None,
) -> ShipmentView:
    """Confirm a shipment line by line (`received`: line no → units that
    arrived; a line left out arrived in full); what is short opens a
    discrepancy."""
    docs.require_roles(actor, "receive a shipment", Role.SERVICE_POINT, *shipments.STAFF)
    request = {"number": shipment_number, "received": received}
    run = docs.begin(session, actor, "shipment", "receive", key, request)
    if run.replay is not None:
        return ShipmentView.model_validate(run.replay)
    shipment = shipments.lock(session, actor, shipment_number)
    shipments.require_receiver(actor, shipment)
    if shipment.requisition_id is not None:
        requisitions.lock_by_id(session, shipment.requisition_id)
    receipt = shipments.receive(session, actor, shipment, received)
    short = {str(line.line_no): line.short for line in receipt.lines if line.short}
    run.record(
        shipment.id,
        ShipmentState.IN_TRANSIT.value,
        ShipmentState.RECEIVED.value,
        detail={
            "received": sum(line.received for line in receipt.lines),
            **({"short": short} if short else {}),
        },
        entry_id=receipt.entry_id,
    )
    if shipment.requisition_id is not None:
        requisitions.after_receipt(session, actor, shipment.requisition_id, receipt.lines)
    return run.finish(shipments.view(session, shipment))


def resolve(
    session: Session,
    actor: Actor,
    discrepancy_number: str,
    *,
    outcome: DiscrepancyState,
    reason: str,
    key: str | None = None,
    charge: bool = False,
    unit_price: int | None = None,
) -> shipments.DiscrepancyView:
    """Resolve a shortage: found (into the receiver's stock) or lost. Lost
    with `charge`, finance charges the service point on the shipment for the
    units, at `unit_price` fen (by default the list price), in the same entry."""
    if charge:
        docs.require_roles(actor, "charge a point for lost parts", *credit.FINANCE)
    else:
        docs.require_roles(actor, "resolve a discrepancy", *shipments.STAFF)
    if outcome not in (DiscrepancyState.FOUND, DiscrepancyState.LOST):
        raise InvalidInput("a discrepancy is resolved as found or lost", field="outcome")
    if charge and outcome is not DiscrepancyState.LOST:
        raise InvalidInput("only units lost are charged", field="charge")
    if unit_price is not None and (
        not charge or type(unit_price) is not int or not 0 < unit_price <= MAX_AMOUNT
    ):
        raise InvalidInput(
            f"unit_price goes with charge: a whole number of fen from 1 to {MAX_AMOUNT:,}",
            field="unit_price",
        )
    request = {"number": discrepancy_number, "outcome": outcome.value, "reason": reason,
               "charge": charge, "unit_price": unit_price}  # fmt: skip
    run = docs.begin(session, actor, "discrepancy", "resolve", key, request)
    if run.replay is not None:
        return shipments.DiscrepancyView.model_validate(run.replay)
    reason = docs.reason_text(reason, required=True)
    row = shipments.lock_discrepancy(session, actor, discrepancy_number)
    shipment = session.get(shipments.Shipment, row.shipment_id)
    if shipment.requisition_id is not None:
        requisitions.lock_by_id(session, shipment.requisition_id)
    charged = _charge(session, row, shipment, unit_price) if charge else None
    result = shipments.resolve(session, actor, row, outcome, reason, charge=charged)
    run.record(
        row.id, DiscrepancyState.OPEN.value, outcome.value, reason=reason, entry_id=result.entry_id,
        detail=None if charged is None else {"charged": charged[0], "amount": charged[1]},
    )  # fmt: skip
    if shipment.requisition_id is not None:
        requisitions.after_receipt(session, actor, shipment.requisition_id)
    return run.finish(shipments.discrepancy_view(session, row))


def _charge(session: Session, row, shipment, unit_price: int | None) -> tuple[str, int]:
    """Who is charged for lost units, and how much: the service point on the
    shipment (the receiver of an issue, the sender of a return), at the price
    given or the list price in force."""
    if row.direction != shipments.Direction.SHORT:
        raise InvalidInput("only a shortage is charged", field="charge")
    ends = [
        session.get(Holder, shipment.to_holder_id),
        session.get(Holder, shipment.from_holder_id),
    ]
    point = next((h for h in ends if h.kind == HolderKind.SERVICE_POINT), None)
    if point is None:
        raise InvalidInput(
            "no service point sent or received this shipment: there is no one to charge",
            field="charge",
        )
    if unit_price is None:
        prices = prices_on(session, [row.commodity_id], session.info["window"].today())
        if row.commodity_id not in prices:
            raise InvalidInput("the part has no list price today: give unit_price",
                               field="unit_price")  # fmt: skip
        unit_price = prices[row.commodity_id][1]
    amount = unit_price * row.quantity
    if amount > MAX_AMOUNT:
        raise InvalidInput("the charge is beyond the ledger's bound", field="unit_price")
    return point.code, amount


def _location(session: Session, code: str, field: str) -> Holder:
    holder = session.scalar(select(Holder).where(Holder.code == code))
    if holder is None:
        raise InvalidInput(f"{field} {code!r} is not a location", field=field)
    return holder


def _ship_lines(session: Session, lines: Sequence[LineIn], what: str) -> list[shipments.Line]:
    checked = requisitions.check_lines(session, lines, active_only=False, what=what)
    return [shipments.Line(cid, sku, quantity) for cid, sku, quantity in checked]


def transfer(
    session: Session,
    actor: Actor,
    *,
    sender: str,
    receiver: str,
    lines: Sequence[LineIn],
    courier: str | None = None,
    tracking_number: str | None = None,
    key: str | None = None,
) -> ShipmentView:
    """Ship stock from one warehouse to another (HQ or regional)."""
    docs.require_roles(actor, "transfer stock", *shipments.STAFF)
    request = {
        "sender": sender,
        "receiver": receiver,
        "lines": [line.model_dump() for line in lines],
        "courier": courier,
        "tracking_number": tracking_number,
    }
    run = docs.begin(session, actor, "shipment", "transfer", key, request)
    if run.replay is not None:
        return ShipmentView.model_validate(run.replay)
    courier = shipments.courier_text(courier, "courier")
    tracking_number = shipments.courier_text(tracking_number, "tracking_number")
    source = _location(session, sender, "sender")
    target = _location(session, receiver, "receiver")
    for holder, field in ((source, "sender"), (target, "receiver")):
        if not shipments.is_warehouse(holder):
            raise InvalidInput(
                f"{field} {holder.code} is not a warehouse; transfers run between HQ and "
                "regional warehouses (a point returns its parts with a return)",
                field=field,
            )
    if source.id == target.id:
        raise InvalidInput("a transfer needs two different warehouses", field="receiver")
    return _ship(
        session, actor, run, ShipmentKind.TRANSFER, source, target, lines, courier, tracking_number
    )


def return_parts(
    session: Session,
    actor: Actor,
    *,
    lines: Sequence[LineIn],
    point: str | None = None,
    defective: bool = False,
    courier: str | None = None,
    tracking_number: str | None = None,
    key: str | None = None,
) -> ShipmentView:
    """Send parts from a service point back to the warehouse serving it:
    unused parts from its stock, or (`defective`) the defective parts its
    in-warranty repairs replaced, which arrive in the warehouse's defective
    stock on their way to the factory."""
    docs.require_roles(actor, "return parts", Role.SERVICE_POINT, *shipments.STAFF)
    request = {
        "point": point,
        "defective": defective,
        "lines": [line.model_dump() for line in lines],
        "courier": courier,
        "tracking_number": tracking_number,
    }
    run = docs.begin(session, actor, "shipment", "return", key, request)
    if run.replay is not None:
        return ShipmentView.model_validate(run.replay)
    courier = shipments.courier_text(courier, "courier")
    tracking_number = shipments.courier_text(tracking_number, "tracking_number")
    if actor.role is Role.SERVICE_POINT:
        own = session.get(Holder, actor.holder_id)
        if point not in (None, own.code):
            raise NotFound(f"no location {point!r}", location=point)
        point = own.code
    if point is None:
        raise InvalidInput("name the returning service point", field="point")
    source = _location(session, point, "point")
    if source.kind != HolderKind.SERVICE_POINT:
        raise InvalidInput(
            f"{point} is not a service point; warehouses move stock with transfers",
            field="point",
        )
    located = locations.get_location(session, actor, point)
    if located.served_by is None:
        raise InvalidInput(f"{point} has no warehouse serving it to return to", field="point")
    target = _location(session, located.served_by, "served_by")
    kind = ShipmentKind.DEFECTIVE if defective else ShipmentKind.RETURN
    return _ship(session, actor, run, kind, source, target, lines, courier, tracking_number)


_WHAT = {
    ShipmentKind.TRANSFER: "a transfer",
    ShipmentKind.RETURN: "a return",
    ShipmentKind.DEFECTIVE: "a return of defective parts",
}


def _ship(session, actor, run, kind, source, target, lines, courier, tracking_number):
    try:
        shipment, result = shipments.ship(
            session,
            actor,
            kind=kind,
            sender=source,
            receiver=target,
            lines=_ship_lines(session, lines, _WHAT[kind]),
            refs={},
            courier=courier,
            tracking_number=tracking_number,
        )
    except InsufficientBalance as exc:
        if kind is not ShipmentKind.DEFECTIVE:
            raise
        raise InsufficientBalance(
            f"{source.code} does not hold these defective parts: {exc.detail.split(';')[0]}; "
            "return at most what its in-warranty repairs put in its defective stock "
            f"(see GET /locations/{source.code}/stock)",
            **exc.where,
        ) from None
    run.record(
        shipment.id,
        None,
        ShipmentState.IN_TRANSIT.value,
        detail={"courier": courier, "tracking_number": tracking_number},
        entry_id=result.entry_id,
    )
    return run.finish(shipments.view(session, shipment))
