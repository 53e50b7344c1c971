"""Repairs and their write-off over HTTP (ledger/parts/repairs.py): a point
records a repair and the parts it used leave its stock in one entry; the
category is the warranty rules' answer (POST /warranty/decide checks a case
first). A point sees and writes only its own repairs; another point's
repair answers as unknown."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import DB, CurrentActor
from api.documents import TEXT, PartLine, RejectIn, after_query, number_path, part_lines
from api.params import HOLDER_CODE, HolderFilter, IdempotencyKey, Limit
from ledger.parts import repairs
from ledger.parts.repairs import (
    MAX_PARTS,
    MODEL_MAX,
    NUMBER_MAX,
    SERIAL_MAX,
    MonthSummary,
    RepairState,
    RepairSummary,
    RepairView,
)
from ledger.parts.warranty import Case, Category

router = APIRouter(tags=["repairs"])

RepairNumber = number_path("RP", "RP-000001")
_ONE_LINE = r"^[^\x00-\x1f\x7f]+$"
Month = Annotated[
    str | None,
    Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2026-11"], description="YYYY-MM"),
]


class RepairIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    point: str | None = Field(
        default=None,
        max_length=40,
        pattern=HOLDER_CODE,
        description="The repairing service point; a service point's own by default",
    )
    repair_number: str = Field(
        min_length=1, max_length=NUMBER_MAX, pattern=_ONE_LINE, description="Unique at the point"
    )
    customer_serial: str = Field(
        min_length=1, max_length=SERIAL_MAX, pattern=_ONE_LINE, description="IMEI or serial"
    )
    handset_model: str = Field(
        min_length=1,
        max_length=MODEL_MAX,
        pattern=_ONE_LINE,
        description="The customer's handset model (need not be one of ours)",
    )
    fault: str = Field(min_length=1, max_length=500, pattern=TEXT)
    case: Case
    category: Category | None = Field(
        default=None,
        description="The category the point claims; refused with the rules' reason if they "
        "decide otherwise",
    )
    parts: list[PartLine] = Field(min_length=1, max_length=MAX_PARTS)


class RepairPage(BaseModel):
    items: list[RepairSummary]
    next_after: str | None = Field(description="Pass as `after` for the next page")


@router.post(
    "/repairs",
    response_model=RepairView,
    status_code=status.HTTP_201_CREATED,
    summary="Record a repair and write off the parts it used",
)
def write_off(body: RepairIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None):
    return db.transact(
        lambda s: repairs.write_off(
            s,
            actor,
            point=body.point,
            repair_number=body.repair_number,
            customer_serial=body.customer_serial,
            handset_model=body.handset_model,
            fault=body.fault,
            case=body.case,
            category=body.category,
            parts=part_lines(body.parts),
            key=key,
        )
    )


@router.get("/repairs", response_model=RepairPage, summary="Repairs, newest first")
def list_repairs(
    actor: CurrentActor,
    db: DB,
    point: HolderFilter = None,
    month: Month = None,
    category: Category | None = None,
    state: RepairState | None = None,
    after: after_query("RP") = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        items = repairs.list_repairs(
            session, actor, point=point, month=month, category=category, state=state,
            after=after, limit=limit,
        )  # fmt: skip
    return RepairPage(items=items, next_after=items[-1].number if len(items) == limit else None)


@router.get(
    "/repairs/summary",
    response_model=MonthSummary,
    summary="A month's standing repairs per category: count, parts, cost, chargeable",
)
def month_summary(
    actor: CurrentActor,
    db: DB,
    month: Annotated[str, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])],
    point: HolderFilter = None,
):
    with db.reading() as session:
        return repairs.month_summary(session, actor, month, point=point)


@router.get(
    "/repairs/{number}", response_model=RepairView, summary="A repair, its parts and history"
)
def get_repair(number: RepairNumber, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return repairs.get(session, actor, number)


@router.post(
    "/repairs/{number}/reverse",
    response_model=RepairView,
    summary="Reverse a write-off: the parts back into stock, the defective units out",
)
def reverse(
    number: RepairNumber, body: RejectIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    return db.transact(lambda s: repairs.reverse(s, actor, number, reason=body.reason, key=key))
