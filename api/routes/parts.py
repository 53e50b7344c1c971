"""The parts cycle over HTTP: requisitions, shipments (issues, transfers,
returns), receipts and discrepancies.

Every action takes an `Idempotency-Key`: a retry with the same key replays
the first answer. An action from the wrong state is a 409 naming the
document's state; a service point sees and acts on its own documents only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.deps import DB, CurrentActor
from api.documents import (
    TEXT,
    LineQuantity,
    PartLine,
    Reason,
    ReasonIn,
    RejectIn,
    after_query,
    by_line,
    number_path,
    part_lines,
)
from api.params import HOLDER_CODE, HolderFilter, IdempotencyKey, Limit
from ledger.amounts import MAX_AMOUNT
from ledger.parts import receiving, requisitions, shipments
from ledger.parts.requisitions import (
    MAX_LINES,
    Awaiting,
    RequisitionSummary,
    RequisitionView,
    State,
)
from ledger.parts.shipments import (
    DiscrepancyState,
    DiscrepancyView,
    ShipmentKind,
    ShipmentState,
    ShipmentSummary,
    ShipmentView,
)

router = APIRouter(tags=["parts cycle"])

_LINE_TEXT = r"^[^\x00-\x1f\x7f]*$"


_number = number_path
_after = after_query
RequisitionNumber = _number("RQ", "RQ-000001")
ShipmentNumber = _number("SH", "SH-000001")
DiscrepancyNumber = _number("DS", "DS-000001")


Courier = Annotated[str | None, Field(default=None, max_length=80, pattern=_LINE_TEXT)]


_part_lines = part_lines


class RequisitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requester: str | None = Field(
        default=None,
        max_length=40,
        pattern=HOLDER_CODE,
        description="The requesting point or regional warehouse; a service point's own by default",
    )
    lines: list[PartLine] = Field(min_length=1, max_length=MAX_LINES)
    note: Reason = None
    submit: StrictBool = Field(default=False, description="Submit at once instead of a draft")


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[LineQuantity] | None = Field(
        default=None,
        max_length=MAX_LINES,
        description="Approve in part: units per line; a line left out is approved in full",
    )
    reason: Reason = None


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[LineQuantity] | None = Field(
        default=None,
        max_length=MAX_LINES,
        description="Units per line to ship now; by default everything approved and unshipped",
    )
    courier: Courier = None
    tracking_number: Courier = None


class ReceiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[LineQuantity] | None = Field(
        default=None,
        max_length=MAX_LINES,
        description="Units that arrived per line; a line left out arrived in full; "
        "what is missing opens a discrepancy",
    )


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["found", "lost"]
    reason: str = Field(min_length=1, max_length=500, pattern=TEXT)
    charge: bool = Field(
        default=False,
        description="Lost: charge the service point on the shipment for the units (finance)",
    )
    unit_price: StrictInt | None = Field(
        default=None, ge=1, le=MAX_AMOUNT, description="Fen per unit; the list price by default"
    )


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender: str = Field(max_length=40, pattern=HOLDER_CODE)
    receiver: str = Field(max_length=40, pattern=HOLDER_CODE)
    lines: list[PartLine] = Field(min_length=1, max_length=MAX_LINES)
    courier: Courier = None
    tracking_number: Courier = None


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    point: str | None = Field(
        default=None,
        max_length=40,
        pattern=HOLDER_CODE,
        description="The returning service point; a service point's own by default",
    )
    lines: list[PartLine] = Field(min_length=1, max_length=MAX_LINES)
    defective: StrictBool = Field(
        default=False,
        description="Return the defective parts in-warranty repairs replaced (from the "
        "point's defective stock, into the warehouse's) instead of unused parts",
    )
    courier: Courier = None
    tracking_number: Courier = None


class RequisitionPage(BaseModel):
    items: list[RequisitionSummary]
    next_after: str | None = Field(description="Pass as `after` for the next page")


class ShipmentPage(BaseModel):
    items: list[ShipmentSummary]
    next_after: str | None = Field(description="Pass as `after` for the next page")


class DiscrepancyPage(BaseModel):
    items: list[DiscrepancyView]
    next_after: str | None = Field(description="Pass as `after` for the next page")


# -- requisitions ------------------------------------------------------------------


@router.post(
    "/requisitions",
    response_model=RequisitionView,
    status_code=status.HTTP_201_CREATED,
    summary="Raise a requisition (a draft, or submitted at once)",
)
def create_requisition(
    body: RequisitionIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    return db.transact(
        lambda s: requisitions.create(
            s,
            actor,
            requester=body.requester,
            lines=_part_lines(body.lines),
            note=body.note,
            submit=body.submit,
            key=key,
        )
    )


@router.get(
    "/requisitions",
    response_model=RequisitionPage,
    summary="Requisitions, oldest first; `awaiting` is my approval queue",
)
def list_requisitions(
    actor: CurrentActor,
    db: DB,
    state: State | None = None,
    requester: HolderFilter = None,
    warehouse: HolderFilter = None,
    awaiting: Awaiting | None = Query(
        default=None,
        description="within: submitted requisitions I may approve; above: beyond my limits",
    ),
    to_ship: bool = Query(
        default=False, description="Only those with approved units not shipped yet"
    ),
    after: _after("RQ") = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        items = requisitions.list_requisitions(
            session,
            actor,
            state=state,
            requester=requester,
            warehouse=warehouse,
            awaiting=awaiting,
            to_ship=to_ship,
            after=after,
            limit=limit,
        )
    return RequisitionPage(
        items=items, next_after=items[-1].number if len(items) == limit else None
    )


@router.get(
    "/requisitions/{number}",
    response_model=RequisitionView,
    summary="A requisition: its lines, shipments and every decision",
)
def get_requisition(number: RequisitionNumber, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return requisitions.get(session, actor, number)


@router.post(
    "/requisitions/{number}/submit", response_model=RequisitionView, summary="Submit a draft"
)
def submit_requisition(
    number: RequisitionNumber, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    return db.transact(lambda s: requisitions.submit(s, actor, number, key=key))


@router.post(
    "/requisitions/{number}/approve",
    response_model=RequisitionView,
    summary="Approve in full or in part, within my limits; reserves the units",
)
def approve_requisition(
    number: RequisitionNumber,
    actor: CurrentActor,
    db: DB,
    body: ApproveIn | None = None,
    key: IdempotencyKey = None,
):
    body = body or ApproveIn()
    lines = by_line(body.lines)
    return db.transact(
        lambda s: requisitions.approve(s, actor, number, lines=lines, reason=body.reason, key=key)
    )


@router.post(
    "/requisitions/{number}/reject", response_model=RequisitionView, summary="Reject, with a reason"
)
def reject_requisition(
    number: RequisitionNumber,
    body: RejectIn,
    actor: CurrentActor,
    db: DB,
    key: IdempotencyKey = None,
):
    return db.transact(lambda s: requisitions.reject(s, actor, number, reason=body.reason, key=key))


@router.post(
    "/requisitions/{number}/escalate",
    response_model=RequisitionView,
    summary="Pass a requisition beyond my limits to the next approval level",
)
def escalate_requisition(
    number: RequisitionNumber,
    actor: CurrentActor,
    db: DB,
    body: ReasonIn | None = None,
    key: IdempotencyKey = None,
):
    reason = body.reason if body else None
    return db.transact(lambda s: requisitions.escalate(s, actor, number, reason=reason, key=key))


@router.post(
    "/requisitions/{number}/cancel",
    response_model=RequisitionView,
    summary="Cancel a draft, a submitted requisition, or an approved one with nothing shipped",
)
def cancel_requisition(
    number: RequisitionNumber,
    actor: CurrentActor,
    db: DB,
    body: ReasonIn | None = None,
    key: IdempotencyKey = None,
):
    reason = body.reason if body else None
    return db.transact(lambda s: requisitions.cancel(s, actor, number, reason=reason, key=key))


@router.post(
    "/requisitions/{number}/issue",
    response_model=ShipmentView,
    status_code=status.HTTP_201_CREATED,
    summary="Ship approved units from the warehouse's reserved stock (one shipment)",
)
def issue_requisition(
    number: RequisitionNumber,
    actor: CurrentActor,
    db: DB,
    body: IssueIn | None = None,
    key: IdempotencyKey = None,
):
    body = body or IssueIn()
    lines = by_line(body.lines)
    return db.transact(
        lambda s: requisitions.issue(
            s,
            actor,
            number,
            lines=lines,
            courier=body.courier,
            tracking_number=body.tracking_number,
            key=key,
        )
    )


# -- shipments ---------------------------------------------------------------------


@router.get(
    "/shipments",
    response_model=ShipmentPage,
    summary="Shipments, newest first; `older_than_days` lists the late ones in transit",
)
def list_shipments(
    actor: CurrentActor,
    db: DB,
    state: ShipmentState | None = None,
    kind: ShipmentKind | None = None,
    holder: HolderFilter = None,
    older_than_days: int | None = Query(default=None, ge=0, le=3650),
    after: _after("SH") = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        items = shipments.list_shipments(
            session,
            actor,
            state=state,
            kind=kind,
            holder=holder,
            older_than_days=older_than_days,
            after=after,
            limit=limit,
        )
    return ShipmentPage(items=items, next_after=items[-1].number if len(items) == limit else None)


@router.get("/shipments/{number}", response_model=ShipmentView, summary="A shipment and its lines")
def get_shipment(number: ShipmentNumber, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return shipments.get(session, actor, number)


@router.post(
    "/shipments/{number}/receive",
    response_model=ShipmentView,
    summary="Confirm a receipt line by line; what is short opens a discrepancy",
)
def receive_shipment(
    number: ShipmentNumber,
    actor: CurrentActor,
    db: DB,
    body: ReceiveIn | None = None,
    key: IdempotencyKey = None,
):
    received = by_line(body.lines if body else None)
    return db.transact(lambda s: receiving.receive(s, actor, number, received=received, key=key))


@router.post(
    "/transfers",
    response_model=ShipmentView,
    status_code=status.HTTP_201_CREATED,
    summary="Ship stock from one warehouse to another",
)
def create_transfer(body: TransferIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None):
    return db.transact(
        lambda s: receiving.transfer(
            s,
            actor,
            sender=body.sender,
            receiver=body.receiver,
            lines=_part_lines(body.lines),
            courier=body.courier,
            tracking_number=body.tracking_number,
            key=key,
        )
    )


@router.post(
    "/returns",
    response_model=ShipmentView,
    status_code=status.HTTP_201_CREATED,
    summary="Return unused or defective parts from a service point to its warehouse",
)
def create_return(body: ReturnIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None):
    return db.transact(
        lambda s: receiving.return_parts(
            s,
            actor,
            point=body.point,
            lines=_part_lines(body.lines),
            defective=body.defective,
            courier=body.courier,
            tracking_number=body.tracking_number,
            key=key,
        )
    )


# -- discrepancies -----------------------------------------------------------------


@router.get("/discrepancies", response_model=DiscrepancyPage, summary="Shortages found on receipt")
def list_discrepancies(
    actor: CurrentActor,
    db: DB,
    state: DiscrepancyState | None = None,
    after: _after("DS") = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        items = shipments.list_discrepancies(session, actor, state=state, after=after, limit=limit)
    return DiscrepancyPage(
        items=items, next_after=items[-1].number if len(items) == limit else None
    )


@router.get("/discrepancies/{number}", response_model=DiscrepancyView, summary="One shortage")
def get_discrepancy(number: DiscrepancyNumber, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return shipments.get_discrepancy(session, actor, number)


@router.post(
    "/discrepancies/{number}/resolve",
    response_model=DiscrepancyView,
    summary="Resolve a shortage as found (into stock) or lost (written off, chargeable)",
)
def resolve_discrepancy(
    number: DiscrepancyNumber,
    body: ResolveIn,
    actor: CurrentActor,
    db: DB,
    key: IdempotencyKey = None,
):
    outcome = DiscrepancyState(body.outcome)
    return db.transact(
        lambda s: receiving.resolve(
            s,
            actor,
            number,
            outcome=outcome,
            reason=body.reason,
            key=key,
            charge=body.charge,
            unit_price=body.unit_price,
        )
    )
