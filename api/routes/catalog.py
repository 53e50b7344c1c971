"""The parts catalog: parts, their prices and history, handset models.

Reads are open to every logged-in role (a service point searches parts for
its requisitions); writes are the admin's, refused by the service before it
looks anything up. Money is in fen.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.deps import DB, CurrentActor
from api.params import COMMODITY_CODE, After, IsoDate, Limit
from ledger.amounts import MAX_AMOUNT
from ledger.catalog import parts
from ledger.catalog.history import ChangeView
from ledger.catalog.parts import (
    MAX_COLOURS,
    MAX_MODELS,
    ModelView,
    PartView,
    PriceView,
    WarrantyClass,
)
from ledger.codes import NAME_PATTERN

router = APIRouter(tags=["parts catalog"])

CATEGORY_PATTERN = f"^{parts.CATEGORY}$"
COLOUR_PATTERN = f"^{parts.COLOUR}$"

Sku = Annotated[
    str,
    Path(min_length=1, max_length=24, pattern=COMMODITY_CODE, examples=["X1-LCD"]),
]
ModelCodePath = Annotated[
    str,
    Path(min_length=1, max_length=24, pattern=COMMODITY_CODE, examples=["H-X1"]),
]
ModelCode = Annotated[str, Field(min_length=1, max_length=24, pattern=COMMODITY_CODE)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NAME_PATTERN)]
Category = Annotated[
    str, Field(min_length=1, max_length=40, pattern=CATEGORY_PATTERN, examples=["screen"])
]
Colour = Annotated[str, Field(min_length=1, max_length=40, pattern=COLOUR_PATTERN)]
Fen = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT, description="Fen (1250 is 12.50 CNY)")]


class PartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(max_length=24, pattern=COMMODITY_CODE, examples=["X1-LCD"])
    name_zh: Name = Field(examples=["X1 屏幕"])
    name_en: Name = Field(examples=["X1 LCD"])
    category: Category
    warranty_class: WarrantyClass
    models: list[ModelCode] = Field(
        default_factory=list, max_length=MAX_MODELS, description="Handset models it fits"
    )
    serialized: StrictBool = False
    returnable: StrictBool = Field(
        default=False,
        description="A unit replaced in warranty goes back to the factory (boards, screens, "
        "electronic parts, batteries); housings and the like do not",
    )
    active: StrictBool = True


class PartPatch(BaseModel):
    """What may change of a part; a field left out stays as it is. The SKU
    and the serialized flag never change."""

    model_config = ConfigDict(extra="forbid")

    name_zh: Name | None = None
    name_en: Name | None = None
    category: Category | None = None
    warranty_class: WarrantyClass | None = None
    returnable: StrictBool | None = None
    active: StrictBool | None = None
    models: list[ModelCode] | None = Field(
        default=None, max_length=MAX_MODELS, description="Replaces the list"
    )


class PriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effective_from: IsoDate = Field(description="YYYY-MM-DD; a future day plans a change")
    standard_cost: Fen
    list_price: Fen = Field(description="Out-of-warranty list price, fen")


class ModelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=24, pattern=COMMODITY_CODE, examples=["H-X1"])
    name: Name
    colours: list[Colour] = Field(default_factory=list, max_length=MAX_COLOURS)
    active: StrictBool = True


class ModelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    colours: list[Colour] | None = Field(
        default=None, max_length=MAX_COLOURS, description="Replaces the list"
    )
    active: StrictBool | None = None


class PartPage(BaseModel):
    items: list[PartView]
    next_after: str | None = Field(description="Pass as `after` for the next page")


class ModelPage(BaseModel):
    items: list[ModelView]
    next_after: str | None = Field(description="Pass as `after` for the next page")


class ChangePage(BaseModel):
    items: list[ChangeView]
    next_after: int | None = Field(description="Pass as `after` for the next page")


@router.get("/parts", response_model=PartPage, summary="Find parts, a page at a time")
def list_parts(
    actor: CurrentActor,
    db: DB,
    q: str | None = Query(
        default=None,
        min_length=1,
        max_length=200,
        pattern=NAME_PATTERN,
        description="SKU prefix, or part of the Chinese or English name (any case)",
    ),
    category: str | None = Query(
        default=None, min_length=1, max_length=40, pattern=CATEGORY_PATTERN
    ),
    warranty_class: WarrantyClass | None = None,
    model: str | None = Query(
        default=None,
        min_length=1,
        max_length=24,
        pattern=COMMODITY_CODE,
        description="Only parts that fit this handset model",
        examples=["H-X1"],
    ),
    active: bool | None = Query(default=None, description="Only active (true) or inactive parts"),
    after: After = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        items = parts.list_parts(
            session,
            actor,
            q=q,
            category=category,
            warranty_class=warranty_class,
            model=model,
            active=active,
            after=after,
            limit=limit,
        )
    return PartPage(items=items, next_after=items[-1].sku if len(items) == limit else None)


@router.post(
    "/parts",
    response_model=PartView,
    status_code=status.HTTP_201_CREATED,
    summary="Add a part and its SKU (admin)",
)
def create_part(body: PartIn, actor: CurrentActor, db: DB):
    return db.transact(
        lambda s: parts.create_part(
            s,
            actor,
            body.sku,
            name_zh=body.name_zh,
            name_en=body.name_en,
            category=body.category,
            warranty_class=body.warranty_class,
            models=body.models,
            serialized=body.serialized,
            returnable=body.returnable,
            active=body.active,
        )
    )


@router.get("/parts/{sku}", response_model=PartView, summary="One part, its models and price")
def get_part(sku: Sku, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return parts.get_part(session, actor, sku)


@router.patch("/parts/{sku}", response_model=PartView, summary="Change a part (admin)")
def update_part(sku: Sku, body: PartPatch, actor: CurrentActor, db: DB):
    return db.transact(
        lambda s: parts.update_part(
            s,
            actor,
            sku,
            name_zh=body.name_zh,
            name_en=body.name_en,
            category=body.category,
            warranty_class=body.warranty_class,
            returnable=body.returnable,
            active=body.active,
            models=body.models,
        )
    )


@router.get(
    "/parts/{sku}/prices",
    response_model=list[PriceView],
    summary="Every price of a part, oldest first (planned ones too)",
)
def part_prices(sku: Sku, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return parts.part_prices(session, actor, sku)


@router.post(
    "/parts/{sku}/prices",
    response_model=PriceView,
    status_code=status.HTTP_201_CREATED,
    summary="Set a part's price from a day on (admin); a day already priced is a 409",
)
def set_price(sku: Sku, body: PriceIn, actor: CurrentActor, db: DB):
    return db.transact(
        lambda s: parts.set_price(
            s,
            actor,
            sku,
            effective_from=body.effective_from,
            standard_cost=body.standard_cost,
            list_price=body.list_price,
        )
    )


@router.get("/parts/{sku}/price", response_model=PriceView, summary="The price in force on a day")
def price_on(
    sku: Sku,
    actor: CurrentActor,
    db: DB,
    on: IsoDate | None = Query(default=None, description="YYYY-MM-DD; default today"),
):
    with db.reading() as session:
        day = on or db.window.today()
        return parts.price_on(session, actor, sku, day)


@router.get(
    "/parts/{sku}/history",
    response_model=ChangePage,
    summary="Who changed the part and its prices, when, from what to what",
)
def part_history(
    sku: Sku,
    actor: CurrentActor,
    db: DB,
    after: int | None = Query(default=None, ge=0, le=2**62, description="`next_after` (paging)"),
    limit: Limit = 100,
):
    with db.reading() as session:
        items = parts.part_history(session, actor, sku, after=after, limit=limit)
    return ChangePage(items=items, next_after=items[-1].id if len(items) == limit else None)


@router.get("/models", response_model=ModelPage, summary="Handset models, a page at a time")
def list_models(
    actor: CurrentActor,
    db: DB,
    active: bool | None = Query(default=None, description="Only active (true) or inactive models"),
    after: After = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        items = parts.list_models(session, actor, active=active, after=after, limit=limit)
    return ModelPage(items=items, next_after=items[-1].code if len(items) == limit else None)


@router.post(
    "/models",
    response_model=ModelView,
    status_code=status.HTTP_201_CREATED,
    summary="Add a handset model and its serialized commodity (admin)",
)
def create_model(body: ModelIn, actor: CurrentActor, db: DB):
    return db.transact(
        lambda s: parts.create_model(
            s, actor, body.code, name=body.name, colours=body.colours, active=body.active
        )
    )


@router.patch("/models/{code}", response_model=ModelView, summary="Change a handset model (admin)")
def update_model(code: ModelCodePath, body: ModelPatch, actor: CurrentActor, db: DB):
    return db.transact(
        lambda s: parts.update_model(
            s, actor, code, name=body.name, colours=body.colours, active=body.active
        )
    )
