"""Suppliers: payment terms, and the minimum order and pack size per part.

Reads are for every staff role, never a service point (403); writes are the
admin's, refused by the service before it looks anything up.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.deps import DB, CurrentActor
from api.params import COMMODITY_CODE, HOLDER_CODE, After, Limit
from ledger.catalog import suppliers
from ledger.catalog.history import ChangeView
from ledger.catalog.suppliers import (
    MAX_MINIMUM,
    MAX_PACK,
    MAX_TERMS_DAYS,
    SupplierPartView,
    SupplierView,
)
from ledger.codes import NAME_PATTERN

router = APIRouter(tags=["suppliers"])

CONTACT_PATTERN = f"^{suppliers.CONTACT}$"

SupplierCode = Annotated[
    str, Path(min_length=1, max_length=40, pattern=HOLDER_CODE, examples=["SUPPLIER"])
]
Sku = Annotated[str, Path(min_length=1, max_length=24, pattern=COMMODITY_CODE, examples=["X1-LCD"])]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NAME_PATTERN)]
Contact = Annotated[str, Field(min_length=1, max_length=200, pattern=CONTACT_PATTERN)]
Terms = Annotated[StrictInt, Field(ge=0, le=MAX_TERMS_DAYS, description="Days to pay an invoice")]


class SupplierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=40, pattern=HOLDER_CODE, examples=["SUP-BYD"])
    name: Name
    payment_terms_days: Terms
    contact: Contact | None = None
    active: StrictBool = True


class SupplierPatch(BaseModel):
    """What may change of a supplier; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    payment_terms_days: Terms | None = None
    contact: Contact | None = None
    active: StrictBool | None = None


class SupplierPartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minimum_order: StrictInt = Field(
        ge=1, le=MAX_MINIMUM, description="Units; a whole number of packs"
    )
    pack_size: StrictInt = Field(ge=1, le=MAX_PACK, description="Units per pack")


class SupplierPage(BaseModel):
    items: list[SupplierView]
    next_after: str | None = Field(description="Pass as `after` for the next page")


class ChangePage(BaseModel):
    items: list[ChangeView]
    next_after: int | None = Field(description="Pass as `after` for the next page")


@router.get("/suppliers", response_model=SupplierPage, summary="Suppliers, a page at a time")
def list_suppliers(
    actor: CurrentActor,
    db: DB,
    active: bool | None = Query(default=None, description="Only active (true) or inactive"),
    after: After = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        items = suppliers.list_suppliers(session, actor, active=active, after=after, limit=limit)
    return SupplierPage(items=items, next_after=items[-1].code if len(items) == limit else None)


@router.post(
    "/suppliers",
    response_model=SupplierView,
    status_code=status.HTTP_201_CREATED,
    summary="Add a supplier and its holder (admin)",
)
def create_supplier(body: SupplierIn, actor: CurrentActor, db: DB):
    return db.transact(
        lambda s: suppliers.create_supplier(
            s,
            actor,
            body.code,
            name=body.name,
            payment_terms_days=body.payment_terms_days,
            contact=body.contact,
            active=body.active,
        )
    )


@router.get("/suppliers/{code}", response_model=SupplierView, summary="One supplier, its parts")
def get_supplier(code: SupplierCode, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return suppliers.get_supplier(session, actor, code)


@router.patch("/suppliers/{code}", response_model=SupplierView, summary="Change a supplier")
def update_supplier(code: SupplierCode, body: SupplierPatch, actor: CurrentActor, db: DB):
    return db.transact(
        lambda s: suppliers.update_supplier(
            s,
            actor,
            code,
            name=body.name,
            payment_terms_days=body.payment_terms_days,
            contact=body.contact,
            active=body.active,
        )
    )


@router.put(
    "/suppliers/{code}/parts/{sku}",
    response_model=SupplierPartView,
    summary="Set a part's minimum order and pack size at a supplier (admin)",
)
def set_supplier_part(
    code: SupplierCode, sku: Sku, body: SupplierPartIn, actor: CurrentActor, db: DB
):
    return db.transact(
        lambda s: suppliers.set_supplier_part(
            s, actor, code, sku, minimum_order=body.minimum_order, pack_size=body.pack_size
        )
    )


@router.delete(
    "/suppliers/{code}/parts/{sku}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="The supplier no longer sells the part (admin)",
)
def remove_supplier_part(code: SupplierCode, sku: Sku, actor: CurrentActor, db: DB):
    db.transact(lambda s: suppliers.remove_supplier_part(s, actor, code, sku))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/suppliers/{code}/history",
    response_model=ChangePage,
    summary="Who changed the supplier, when, from what to what",
)
def supplier_history(
    code: SupplierCode,
    actor: CurrentActor,
    db: DB,
    after: int | None = Query(default=None, ge=0, le=2**62, description="`next_after` (paging)"),
    limit: Limit = 100,
):
    with db.reading() as session:
        items = suppliers.supplier_history(session, actor, code, after=after, limit=limit)
    return ChangePage(items=items, next_after=items[-1].id if len(items) == limit else None)
