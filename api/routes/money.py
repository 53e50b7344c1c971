"""Deposits and credit over HTTP (ledger/money/): finance records deposit
instalments and refunds, sets leverage ratios and lets one shipment past a
point's limit; everyone who works with a point's stock reads its credit, a
point its own (another point answers as unknown)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api import money_sheets, packing
from api.deps import DB, CurrentActor
from api.documents import RejectIn, number_path
from api.params import HOLDER_CODE, HolderCode, IdempotencyKey, IsoDate
from ledger.amounts import MAX_AMOUNT
from ledger.catalog.locations import PLACE_PATTERN, LocationStatus
from ledger.money import accruals, credit, deposits, payments
from ledger.money.accruals import MoneyBalances, SubsidyView
from ledger.money.credit import (
    CreditPosition,
    LeverageView,
    NetworkReport,
    OverrideState,
    OverrideView,
    ReportSort,
)
from ledger.money.deposits import DepositLedger, DepositMovement, Method
from ledger.parts import requisitions

router = APIRouter(tags=["deposits and credit"])

RequisitionNumber = number_path("RQ", "RQ-000001")
OverrideNumber = number_path("CO", "CO-000001")
_ONE_LINE = r"^[^\x00-\x1f\x7f]+$"


class DepositIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: StrictInt = Field(ge=1, le=MAX_AMOUNT, description="Fen: 500000 is ¥5,000.00")
    method: Method
    reference: str | None = Field(
        default=None,
        max_length=deposits.REFERENCE_MAX,
        pattern=_ONE_LINE,
        description="Bank slip, cheque or transaction number",
    )
    on: IsoDate | None = Field(default=None, description="The day it was paid; today by default")


@router.post(
    "/deposits/{point}/receipts",
    response_model=DepositMovement,
    status_code=status.HTTP_201_CREATED,
    summary="Record a deposit instalment paid in by a point",
)
def receive_deposit(
    point: HolderCode, body: DepositIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    return db.transact(
        lambda s: deposits.receive(
            s,
            actor,
            point,
            body.amount,
            method=body.method,
            reference=body.reference,
            on=body.on,
            key=key,
        )
    )


@router.post(
    "/deposits/{point}/refunds",
    response_model=DepositMovement,
    status_code=status.HTTP_201_CREATED,
    summary="Refund part of a point's deposit (never beyond what was paid in, nor below "
    "what the point holds)",
)
def refund_deposit(
    point: HolderCode, body: DepositIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    return db.transact(
        lambda s: deposits.refund(
            s,
            actor,
            point,
            body.amount,
            method=body.method,
            reference=body.reference,
            on=body.on,
            key=key,
        )
    )


@router.get(
    "/deposits/{point}",
    response_model=DepositLedger,
    summary="A point's deposit ledger: its credit position and every movement, newest first",
)
def deposit_ledger(
    point: HolderCode,
    actor: CurrentActor,
    db: DB,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
):
    with db.reading() as session:
        return deposits.deposit_ledger(session, actor, point, limit=limit)


@router.get(
    "/credit/points/{point}",
    response_model=CreditPosition,
    summary="A point's deposit, leverage, limit, exposure and headroom today",
)
def credit_position(point: HolderCode, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return credit.position(session, actor, point)


Place = Annotated[str | None, Query(min_length=1, max_length=40, pattern=PLACE_PATTERN)]
Warehouse = Annotated[str | None, Query(min_length=1, max_length=40, pattern=HOLDER_CODE)]
Grade = Annotated[str | None, Query(pattern=r"^[ABC]$")]


def _filters(
    region: Place = None,
    warehouse: Warehouse = None,
    grade: Grade = None,
    status: LocationStatus | None = None,
    over_limit: Annotated[
        bool | None, Query(description="true: only points past their limit; false: only within")
    ] = None,
    at_least_use: Annotated[
        float | None,
        Query(ge=0, le=1000, description="Only points whose exposure is at least this share "
              "of their limit (0.9: 90 %)"),
    ] = None,
    sort: ReportSort = ReportSort.POINT,
    descending: bool = False,
) -> dict:  # fmt: skip
    return dict(
        region=region, warehouse=warehouse, grade=grade, status=status, over_limit=over_limit,
        at_least_use=at_least_use, sort=sort, descending=descending,
    )  # fmt: skip


# The report's filters and order, shared by its JSON and its spreadsheet.
ReportFilters = Annotated[dict, Depends(_filters)]


@router.get(
    "/credit/report",
    response_model=NetworkReport,
    summary="Every point's deposit, limit, exposure and headroom: filtered, sorted, paged",
)
def network_report(
    actor: CurrentActor,
    db: DB,
    filters: ReportFilters,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    with db.reading() as session:
        return credit.network_report(session, actor, **filters, offset=offset, limit=limit)


@router.get(
    "/credit/report.xlsx",
    summary="The network credit report as xlsx: every matching point, with totals",
    response_class=Response,
    responses={200: {"content": {packing.MEDIA_TYPE: {}}}},
)
def network_report_xlsx(actor: CurrentActor, db: DB, filters: ReportFilters):
    with db.reading() as session:
        report = credit.network_report(session, actor, **filters, limit=None)
    name = f"credit_report_{report.day.strftime('%Y%m%d')}.xlsx"
    return Response(
        content=money_sheets.credit_report(report),
        media_type=packing.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class LeverageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grade: str | None = Field(default=None, pattern=r"^[ABC]$")
    point: str | None = Field(default=None, max_length=40, pattern=HOLDER_CODE)
    ratio: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,2}(\.[0-9]{1,2})?$",
        description='Such as "2.5"; for a point, null returns it to its grade\'s ratio',
        examples=["2.5"],
    )
    effective_from: IsoDate | None = Field(default=None, description="Today by default")
    reason: str | None = Field(default=None, max_length=500)


@router.get("/credit/leverage", response_model=list[LeverageView], summary="Leverage ratios")
def list_leverage(actor: CurrentActor, db: DB):
    with db.reading() as session:
        return credit.list_leverage(session, actor)


@router.put(
    "/credit/leverage",
    response_model=LeverageView,
    summary="Set a grade's or a point's leverage ratio from a day on (today or later)",
)
def set_leverage(body: LeverageIn, actor: CurrentActor, db: DB):
    return db.transact(
        lambda s: credit.set_leverage(
            s,
            actor,
            grade=body.grade,
            point=body.point,
            ratio=body.ratio,
            effective_from=body.effective_from,
            reason=body.reason,
        )
    )


@router.post(
    "/requisitions/{number}/credit-override",
    response_model=OverrideView,
    status_code=status.HTTP_201_CREATED,
    summary="Let the requisition's next shipment pass the point's credit limit (finance)",
)
def grant_override(
    number: RequisitionNumber,
    body: RejectIn,
    actor: CurrentActor,
    db: DB,
    key: IdempotencyKey = None,
):
    return db.transact(
        lambda s: requisitions.grant_credit_override(s, actor, number, body.reason, key)
    )


@router.get("/credit/overrides", response_model=list[OverrideView], summary="Credit overrides")
def list_overrides(
    actor: CurrentActor,
    db: DB,
    point: Annotated[str | None, Query(max_length=40, pattern=HOLDER_CODE)] = None,
    document: Annotated[str | None, Query(pattern=r"^RQ-[0-9]{6,12}$")] = None,
    state: OverrideState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    with db.reading() as session:
        return credit.list_overrides(
            session, actor, point=point, document=document, state=state, limit=limit
        )


@router.post(
    "/credit/overrides/{number}/withdraw",
    response_model=OverrideView,
    summary="Withdraw an override not yet used",
)
def withdraw_override(
    number: OverrideNumber, body: RejectIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    return db.transact(lambda s: credit.withdraw_override(s, actor, number, body.reason, key))


class SubsidyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grade: str = Field(pattern=r"^[ABC]$")
    category: str | None = Field(
        default=None,
        pattern=r"^(DOA|DAP|WH|F)$",
        description="Per repair of this service category; omitted: the monthly subsidy",
    )
    amount: StrictInt = Field(ge=0, le=accruals.SUBSIDY_MAX, description="Fen")
    effective_from: IsoDate | None = Field(default=None, description="Today by default")
    reason: str | None = Field(default=None, max_length=500)


@router.get("/subsidies/rules", response_model=list[SubsidyView], summary="Subsidy rules")
def list_subsidies(actor: CurrentActor, db: DB):
    with db.reading() as session:
        return accruals.list_subsidies(session, actor)


@router.put(
    "/subsidies/rules",
    response_model=SubsidyView,
    summary="Set a subsidy per repair (category × grade) or per month (grade), from a day on",
)
def set_subsidy(body: SubsidyIn, actor: CurrentActor, db: DB):
    return db.transact(
        lambda s: accruals.set_subsidy(
            s,
            actor,
            grade=body.grade,
            category=body.category,
            amount=body.amount,
            effective_from=body.effective_from,
            reason=body.reason,
        )
    )


@router.get(
    "/money/points/{point}",
    response_model=MoneyBalances,
    summary="What stands between a point and the brand: deposit, charges and subsidies unsettled",
)
def money_balances(point: HolderCode, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return accruals.balances(session, actor, point)


@router.post(
    "/money/points/{point}/payments",
    response_model=DepositMovement,
    status_code=status.HTTP_201_CREATED,
    summary="Pay a point (part of) what its settled months owe it (never more)",
)
def pay(
    point: HolderCode, body: DepositIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    return db.transact(
        lambda s: payments.pay(
            s,
            actor,
            point,
            body.amount,
            method=body.method,
            reference=body.reference,
            on=body.on,
            key=key,
        )
    )


@router.post(
    "/money/points/{point}/collections",
    response_model=DepositMovement,
    status_code=status.HTTP_201_CREATED,
    summary="Record a point paying (part of) what its settled months owe the brand",
)
def collect(
    point: HolderCode, body: DepositIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    return db.transact(
        lambda s: payments.collect(
            s,
            actor,
            point,
            body.amount,
            method=body.method,
            reference=body.reference,
            on=body.on,
            key=key,
        )
    )
