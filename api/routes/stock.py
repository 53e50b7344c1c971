"""A location's stock view: per part, on hand, reserved, available, in
transit toward it and defective, valued at today's standard cost. Staff see
any location; a service point only its own (another's answers 404, like one
that does not exist)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import DB, CurrentActor
from api.params import After, HolderCode, Limit
from ledger.parts import stock
from ledger.parts.stock import StockPage

router = APIRouter(tags=["stock"])

SkuPrefix = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=24,
        pattern=f"^{stock.SKU_PREFIX}$",
        description="A SKU prefix, any case (`X1-`; an exact SKU also keeps SKUs extending it); "
        "`%` and `_` are plain characters",
        examples=["X1-"],
    ),
]


@router.get(
    "/locations/{code}/stock",
    response_model=StockPage,
    summary="A location's stock per part: on hand, reserved, available, in transit, defective, "
    "value at today's standard cost (fen)",
)
def location_stock(
    code: HolderCode,
    actor: CurrentActor,
    db: DB,
    sku: SkuPrefix = None,
    after: After = None,
    limit: Limit = 100,
    include_zero: Annotated[
        bool, Query(description="Also list parts whose every figure is zero")
    ] = False,
):
    with db.reading() as session:
        return stock.location_stock(
            session, actor, code, sku=sku, after=after, limit=limit, include_zero=include_zero
        )
