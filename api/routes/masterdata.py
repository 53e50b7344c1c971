"""Holders, commodities and accounts: the ledger's master data."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from api.deps import DB, CurrentActor
from api.params import AccountCode, After, CommodityFilter, HolderFilter, Limit, PurposeFilter
from api.schemas import (
    AccountIn,
    AccountOut,
    AccountPage,
    CommodityIn,
    CommodityOut,
    HolderIn,
    HolderOut,
    HolderPage,
)
from ledger import masterdata, queries
from ledger.models import CommodityKind, HolderKind, Role
from ledger.policy import require_role

router = APIRouter(tags=["master data"])


@router.get("/holders", response_model=HolderPage, summary="List holders, a page at a time")
def list_holders(
    actor: CurrentActor,
    db: DB,
    kind: HolderKind | None = None,
    after: After = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        rows = queries.list_holders(session, actor, kind=kind, after=after, limit=limit)
    return HolderPage(items=rows, next_after=rows[-1]["code"] if len(rows) == limit else None)


@router.post(
    "/holders",
    response_model=HolderOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a holder",
)
def create_holder(body: HolderIn, actor: CurrentActor, db: DB):
    require_role(actor, Role.ADMIN)

    def work(session):
        holder = masterdata.create_holder(
            session, body.code, body.name, body.kind, parent=body.parent, grade=body.grade
        )
        return queries.get_holder(session, actor, holder.code)

    return db.transact(work)


@router.get("/commodities", response_model=list[CommodityOut], summary="List commodities")
def list_commodities(
    actor: CurrentActor,
    db: DB,
    kind: CommodityKind | None = None,
    after: After = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        items = queries.list_commodities(session, kind=kind, after=after, limit=limit)
        return [CommodityOut.model_validate(c, from_attributes=True) for c in items]


@router.post(
    "/commodities",
    response_model=CommodityOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a commodity (a part SKU, a handset model, a currency)",
)
def create_commodity(body: CommodityIn, actor: CurrentActor, db: DB):
    require_role(actor, Role.ADMIN)
    commodity = db.transact(
        lambda s: masterdata.create_commodity(
            s, body.code, body.name, body.kind, serialized=body.serialized
        )
    )
    return CommodityOut.model_validate(commodity, from_attributes=True)


@router.get("/accounts", response_model=AccountPage, summary="List accounts")
def list_accounts(
    actor: CurrentActor,
    db: DB,
    holder: HolderFilter = None,
    commodity: CommodityFilter = None,
    purpose: PurposeFilter = None,
    nonzero: bool = Query(default=False, description="Only accounts with a balance"),
    after: After = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        rows = queries.list_accounts(
            session,
            actor,
            holder=holder,
            commodity=commodity,
            purpose=purpose,
            nonzero=nonzero,
            after=after,
            limit=limit,
        )
    return AccountPage(items=rows, next_after=rows[-1]["code"] if len(rows) == limit else None)


@router.post(
    "/accounts",
    response_model=AccountOut,
    status_code=status.HTTP_201_CREATED,
    summary="Open an account: holder × purpose × commodity",
)
def open_account(body: AccountIn, actor: CurrentActor, db: DB):
    require_role(actor, Role.ADMIN)

    def work(session):
        account = masterdata.open_account(
            session,
            body.holder,
            body.commodity,
            purpose=body.purpose,
        )
        return queries.get_account(session, actor, account.code)

    return db.transact(work)


@router.get("/accounts/{code}", response_model=AccountOut, summary="One account")
def get_account(code: AccountCode, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return queries.get_account(session, actor, code)
