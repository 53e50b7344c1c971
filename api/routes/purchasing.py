"""Purchase orders over HTTP: raise, decide, receive.

Every action takes an `Idempotency-Key`: a retry with the same key replays
the first answer. An action from the wrong state is a 409 naming the order's
state; a service point is refused everything here (403).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.deps import DB, CurrentActor
from api.documents import LineQuantity, Reason, ReasonIn, RejectIn, by_line
from api.params import COMMODITY_CODE, HOLDER_CODE, HolderFilter, IdempotencyKey, IsoDate, Limit
from ledger.amounts import MAX_AMOUNT
from ledger.parts import purchasing
from ledger.parts.purchasing import (
    MAX_LINE_QUANTITY,
    MAX_LINES,
    LineIn,
    PurchaseOrderSummary,
    PurchaseOrderView,
    State,
)

router = APIRouter(tags=["purchase orders"])

_NUMBER = r"^PO-[0-9]{6,12}$"

PONumber = Annotated[
    str, Path(min_length=9, max_length=15, pattern=_NUMBER, examples=["PO-000001"])
]


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(max_length=24, pattern=COMMODITY_CODE, examples=["X1-LCD"])
    quantity: StrictInt = Field(ge=1, le=MAX_LINE_QUANTITY)
    unit_price: StrictInt = Field(ge=1, le=MAX_AMOUNT, description="Agreed fen per unit")


class PurchaseOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    supplier: str = Field(max_length=40, pattern=HOLDER_CODE, examples=["SUPPLIER"])
    expected_on: IsoDate = Field(description="Expected delivery, YYYY-MM-DD: today or later")
    lines: list[OrderLine] = Field(min_length=1, max_length=MAX_LINES)
    note: Reason = None
    submit: StrictBool = Field(default=False, description="Submit at once instead of a draft")


class ReceiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[LineQuantity] = Field(
        min_length=1, max_length=MAX_LINES, description="Units that arrived, per line"
    )


class PurchaseOrderPage(BaseModel):
    items: list[PurchaseOrderSummary]
    next_after: str | None = Field(description="Pass as `after` for the next page")


@router.post(
    "/purchase-orders",
    response_model=PurchaseOrderView,
    status_code=status.HTTP_201_CREATED,
    summary="Raise a purchase order to a supplier (a draft, or submitted at once)",
)
def create_purchase_order(
    body: PurchaseOrderIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    lines = [LineIn(sku=x.sku, quantity=x.quantity, unit_price=x.unit_price) for x in body.lines]
    expected_on: date = body.expected_on
    return db.transact(
        lambda s: purchasing.create(
            s,
            actor,
            supplier=body.supplier,
            expected_on=expected_on,
            lines=lines,
            note=body.note,
            submit=body.submit,
            key=key,
        )
    )


@router.get(
    "/purchase-orders",
    response_model=PurchaseOrderPage,
    summary="Purchase orders, oldest first; `open` still expect goods, `late` are overdue",
)
def list_purchase_orders(
    actor: CurrentActor,
    db: DB,
    state: State | None = None,
    supplier: HolderFilter = None,
    open_only: bool = Query(default=False, alias="open", description="Approved or partly received"),
    late_only: bool = Query(
        default=False, alias="late", description="Open and expected before today"
    ),
    awaiting: Literal["within", "above"] | None = Query(
        default=None,
        description="within: submitted orders I may approve; above: beyond my amount limit",
    ),
    after: Annotated[
        str | None,
        Query(max_length=15, pattern=_NUMBER, description="The last number of the previous page"),
    ] = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        items = purchasing.list_purchase_orders(
            session,
            actor,
            state=state,
            supplier=supplier,
            open_only=open_only,
            late_only=late_only,
            awaiting=awaiting,
            after=after,
            limit=limit,
        )
    return PurchaseOrderPage(
        items=items, next_after=items[-1].number if len(items) == limit else None
    )


@router.get(
    "/purchase-orders/{number}",
    response_model=PurchaseOrderView,
    summary="A purchase order: its lines, receipts and every decision",
)
def get_purchase_order(number: PONumber, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return purchasing.get(session, actor, number)


@router.post(
    "/purchase-orders/{number}/submit", response_model=PurchaseOrderView, summary="Submit a draft"
)
def submit_purchase_order(
    number: PONumber, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    return db.transact(lambda s: purchasing.submit(s, actor, number, key=key))


@router.post(
    "/purchase-orders/{number}/approve",
    response_model=PurchaseOrderView,
    summary="Approve, within my amount limit",
)
def approve_purchase_order(
    number: PONumber,
    actor: CurrentActor,
    db: DB,
    body: ReasonIn | None = None,
    key: IdempotencyKey = None,
):
    reason = body.reason if body else None
    return db.transact(lambda s: purchasing.approve(s, actor, number, reason=reason, key=key))


@router.post(
    "/purchase-orders/{number}/reject",
    response_model=PurchaseOrderView,
    summary="Reject, with a reason",
)
def reject_purchase_order(
    number: PONumber, body: RejectIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    return db.transact(lambda s: purchasing.reject(s, actor, number, reason=body.reason, key=key))


@router.post(
    "/purchase-orders/{number}/escalate",
    response_model=PurchaseOrderView,
    summary="Pass an order beyond my amount limit to the next approval level",
)
def escalate_purchase_order(
    number: PONumber,
    actor: CurrentActor,
    db: DB,
    body: ReasonIn | None = None,
    key: IdempotencyKey = None,
):
    reason = body.reason if body else None
    return db.transact(lambda s: purchasing.escalate(s, actor, number, reason=reason, key=key))


@router.post(
    "/purchase-orders/{number}/cancel",
    response_model=PurchaseOrderView,
    summary="Cancel a draft, a submitted order, or an approved one with nothing received",
)
def cancel_purchase_order(
    number: PONumber,
    actor: CurrentActor,
    db: DB,
    body: ReasonIn | None = None,
    key: IdempotencyKey = None,
):
    reason = body.reason if body else None
    return db.transact(lambda s: purchasing.cancel(s, actor, number, reason=reason, key=key))


@router.post(
    "/purchase-orders/{number}/receive",
    response_model=PurchaseOrderView,
    summary="Receive units at HQ, in one or more parts; one journal entry per receipt",
)
def receive_purchase_order(
    number: PONumber, body: ReceiveIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    lines = by_line(body.lines)
    return db.transact(lambda s: purchasing.receive(s, actor, number, lines=lines, key=key))
