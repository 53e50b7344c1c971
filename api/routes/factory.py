"""Returns to the factory (返厂) over HTTP: ship a warehouse's defective parts
and handsets, download the packing list, enter the factory's count; and the
defective stock awaiting a return.

Every action takes an `Idempotency-Key`; a count entered twice is a 409
naming the return's state.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api import packing
from api.deps import DB, CurrentActor
from api.params import COMMODITY_CODE, HOLDER_CODE, SERIAL, HolderFilter, IdempotencyKey, Limit
from ledger.parts import factory
from ledger.parts.documents import MAX_LINE_QUANTITY, MAX_LINES
from ledger.parts.factory import (
    MAX_SERIALS,
    CountLineIn,
    DefectiveStock,
    FactoryReturnView,
    PackingList,
    ReturnLineIn,
)
from ledger.parts.shipments import ShipmentState, ShipmentSummary

router = APIRouter(tags=["returns to the factory"])

_LINE_TEXT = r"^[^\x00-\x1f\x7f]*$"

ReturnNumber = Annotated[
    str, Path(min_length=9, max_length=15, pattern="^SH-[0-9]{6,12}$", examples=["SH-000001"])
]
Serial = Annotated[str, Field(min_length=1, max_length=40, pattern=SERIAL)]
Courier = Annotated[str, Field(min_length=1, max_length=80, pattern=_LINE_TEXT)]


class ReturnLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(max_length=24, pattern=COMMODITY_CODE, examples=["X1-LCD"])
    quantity: StrictInt | None = Field(
        default=None, ge=1, le=MAX_LINE_QUANTITY, description="Units of a part (handsets: serials)"
    )
    serials: list[Serial] | None = Field(
        default=None, max_length=MAX_SERIALS, description="A handset model's serials, one a unit"
    )
    model: str | None = Field(
        default=None,
        max_length=24,
        pattern=COMMODITY_CODE,
        description="The handset model a part is returned under; by default the one it fits",
    )
    colour: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        pattern=_LINE_TEXT,
        description="A part's colour as packed (one of the model's); a handset's is its serial's",
    )


class ShipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender: str = Field(
        max_length=40, pattern=HOLDER_CODE, description="HQ or a regional warehouse"
    )
    lines: list[ReturnLine] = Field(min_length=1, max_length=MAX_LINES)
    courier: Courier
    tracking_number: Courier = Field(description="The courier number")


class CountLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_no: StrictInt = Field(ge=1, le=MAX_LINES)
    quantity: StrictInt | None = Field(default=None, ge=0, le=MAX_LINE_QUANTITY)
    serials: list[Serial] | None = Field(
        default=None, max_length=MAX_SERIALS, description="The serials the factory counted"
    )


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[CountLine] | None = Field(
        default=None,
        max_length=MAX_LINES,
        description="The factory's count per line; a line left out was counted as shipped. "
        "Fewer than shipped opens a shortage; more, an over count (nothing posted)",
    )


class ReturnPage(BaseModel):
    items: list[ShipmentSummary]
    next_after: str | None = Field(description="Pass as `after` for the next page")


def _return_lines(lines: list[ReturnLine]) -> list[ReturnLineIn]:
    return [
        ReturnLineIn(
            sku=line.sku,
            quantity=line.quantity,
            serials=None if line.serials is None else tuple(line.serials),
            model=line.model,
            colour=line.colour,
        )
        for line in lines
    ]


def _count_lines(lines: list[CountLine] | None) -> list[CountLineIn] | None:
    if lines is None:
        return None
    return [
        CountLineIn(
            line_no=line.line_no,
            quantity=line.quantity,
            serials=None if line.serials is None else tuple(line.serials),
        )
        for line in lines
    ]


@router.post(
    "/factory-returns",
    response_model=FactoryReturnView,
    status_code=status.HTTP_201_CREATED,
    summary="Ship a warehouse's defective parts and handsets to the factory",
)
def ship_return(body: ShipIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None):
    return db.transact(
        lambda s: factory.ship(
            s,
            actor,
            sender=body.sender,
            lines=_return_lines(body.lines),
            courier=body.courier,
            tracking_number=body.tracking_number,
            key=key,
        )
    )


@router.get(
    "/factory-returns",
    response_model=ReturnPage,
    summary="Returns to the factory, newest first; `state=in_transit` awaits the factory's count",
)
def list_returns(
    actor: CurrentActor,
    db: DB,
    state: ShipmentState | None = None,
    sender: HolderFilter = None,
    older_than_days: int | None = Query(
        default=None, ge=0, le=3650, description="Awaiting the count longer than this"
    ),
    after: Annotated[
        str | None, Query(max_length=15, pattern="^SH-[0-9]{6,12}$", description="Last number")
    ] = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        items = factory.list_returns(
            session, actor, state=state, sender=sender, older_than_days=older_than_days,
            after=after, limit=limit,
        )  # fmt: skip
    return ReturnPage(items=items, next_after=items[-1].number if len(items) == limit else None)


@router.get(
    "/factory-returns/{number}",
    response_model=FactoryReturnView,
    summary="A return to the factory: lines, serials, differences and history",
)
def get_return(number: ReturnNumber, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return factory.get(session, actor, number)


@router.get(
    "/factory-returns/{number}/packing-list",
    response_model=PackingList,
    summary="The packing list: units by model and colour, subtotals and total",
)
def get_packing_list(number: ReturnNumber, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return factory.packing_list(session, actor, number)


@router.get(
    "/factory-returns/{number}/packing-list.xlsx",
    summary="The packing list as xlsx, named centre_YYYYMMDD_courier-number.xlsx",
    response_class=Response,
    responses={200: {"content": {packing.MEDIA_TYPE: {}}}},
)
def get_packing_list_xlsx(number: ReturnNumber, actor: CurrentActor, db: DB):
    with db.reading() as session:
        listed = factory.packing_list(session, actor, number)
    return Response(
        content=packing.workbook(listed),
        media_type=packing.MEDIA_TYPE,
        headers={"Content-Disposition": packing.content_disposition(listed)},
    )


@router.post(
    "/factory-returns/{number}/confirm",
    response_model=FactoryReturnView,
    summary="Enter the factory's count; closes the return, differences open discrepancies",
)
def confirm_return(
    number: ReturnNumber,
    actor: CurrentActor,
    db: DB,
    body: ConfirmIn | None = None,
    key: IdempotencyKey = None,
):
    lines = _count_lines(body.lines if body else None)
    return db.transact(lambda s: factory.confirm(s, actor, number, lines=lines, key=key))


@router.get(
    "/defective-stock",
    response_model=DefectiveStock,
    summary="A location's defective stock awaiting return, by SKU with its models",
)
def defective_stock(
    actor: CurrentActor,
    db: DB,
    location: Annotated[str, Query(min_length=1, max_length=40, pattern=HOLDER_CODE)],
):
    with db.reading() as session:
        return factory.defective_stock(session, actor, location)
