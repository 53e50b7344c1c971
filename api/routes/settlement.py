"""Monthly settlement, statements, closing and termination over HTTP
(ledger/money/): finance settles a month (a job on the job runner: the
answer is the job to watch at GET /jobs/{number}), reads and downloads
statements and marks them signed back; an admin reopens a month; finance
terminates a point. A point reads its own statements."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import DB, CurrentActor
from api.documents import RejectIn
from api.params import HOLDER_CODE, HolderCode, IdempotencyKey
from api.routes.jobs import queue_of
from importers import statement_sheets
from ledger import jobs
from ledger.jobs import JobView
from ledger.money import deposits, periods, settlement, statements
from ledger.money.periods import PeriodView
from ledger.money.settlement import SettlementView
from ledger.money.statements import StatementView
from ledger.money.termination import TerminationView
from ledger.parts import requisitions

router = APIRouter(tags=["settlement"])

Month = Annotated[
    str, Path(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2026-11"], description="YYYY-MM")
]


@router.get("/periods", response_model=PeriodView, summary="The months closed, the first open day")
def get_periods(actor: CurrentActor, db: DB):
    with db.reading() as session:
        return periods.view(session)


@router.get(
    "/settlements/{month}",
    response_model=SettlementView,
    summary="A month's settlement: its state, run and totals",
)
def get_settlement(month: Month, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return settlement.get(session, actor, month)


class StartedSettlement(BaseModel):
    settlement: SettlementView
    job: JobView = Field(description="Watch it at GET /jobs/{number}")


@router.post(
    "/settlements/{month}",
    response_model=StartedSettlement,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Settle a month for every point and close it (a job: watch it at GET /jobs/{number})",
)
def start_settlement(
    month: Month,
    actor: CurrentActor,
    db: DB,
    request: Request,
    chunk: Annotated[int, Query(ge=1, le=1000, description="Points per unit of work")] = (
        settlement.CHUNK
    ),
):
    view, job = settlement.start(db, actor, month, chunk=chunk, queue=queue_of(request))
    return StartedSettlement(settlement=view, job=job)


@router.post(
    "/statements/{month}/write",
    response_model=JobView,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Write every statement of the month as xlsx under var/statements/ (a job)",
)
def write_statements(
    month: Month, actor: CurrentActor, db: DB, request: Request, key: IdempotencyKey = None
):
    periods.parse_month(month)  # a month the ledger can hold, or a 422
    return jobs.enqueue(db, statement_sheets.JOB_KIND, {"month": month}, actor=actor,
                        idempotency_key=key, queue=queue_of(request))  # fmt: skip


@router.post(
    "/settlements/{month}/reopen",
    response_model=SettlementView,
    summary="Reopen a settled month (admin): entries may be dated into it again",
)
def reopen(month: Month, body: RejectIn, actor: CurrentActor, db: DB):
    return db.transact(lambda s: settlement.reopen(s, actor, month, body.reason))


class StatementPage(BaseModel):
    items: list[StatementView]
    next_after: str | None = Field(description="Pass as `after` for the next page")


@router.get(
    "/statements/{month}",
    response_model=StatementPage,
    summary="A month's statements by point; late=true: not signed back within 48 hours",
)
def list_statements(
    month: Month,
    actor: CurrentActor,
    db: DB,
    late: bool | None = None,
    signed_back: bool | None = None,
    after: Annotated[str | None, Query(max_length=40, pattern=HOLDER_CODE)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    with db.reading() as session:
        items = statements.list_statements(
            session, actor, month, late=late, signed_back=signed_back, after=after, limit=limit
        )
    return StatementPage(items=items, next_after=items[-1].point if len(items) == limit else None)


@router.get(
    "/statements/{month}/summary.xlsx",
    summary="The month's settlement summary, every point, as xlsx",
    response_class=Response,
    responses={200: {"content": {statement_sheets.MEDIA_TYPE: {}}}},
)
def summary_xlsx(month: Month, actor: CurrentActor, db: DB):
    with db.reading() as session:
        views = statements.list_statements(session, actor, month, limit=1_000_000)
    return _xlsx(statement_sheets.summary(month, views), f"summary_{month}.xlsx")


@router.get(
    "/statements/{month}/{point}",
    response_model=StatementView,
    summary="A point's statement of the month, with its lines",
)
def get_statement(month: Month, point: HolderCode, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return statements.get(session, actor, month, point)


@router.get(
    "/statements/{month}/{point}/xlsx",
    summary="A point's statement as xlsx, headers in Chinese and English",
    response_class=Response,
    responses={200: {"content": {statement_sheets.MEDIA_TYPE: {}}}},
)
def get_statement_xlsx(month: Month, point: HolderCode, actor: CurrentActor, db: DB):
    with db.reading() as session:
        view = statements.get(session, actor, month, point)
    return _xlsx(statement_sheets.statement(view, view.lines or []),
                 statement_sheets.file_name(view))  # fmt: skip


@router.post(
    "/statements/{month}/{point}/signed-back",
    response_model=StatementView,
    summary="Record that the point's signed statement came back",
)
def signed_back(
    month: Month, point: HolderCode, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    return db.transact(lambda s: statements.mark_signed_back(s, actor, month, point, key))


class TerminateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    method: deposits.Method = deposits.Method.BANK_TRANSFER
    reference: str | None = Field(
        default=None, max_length=deposits.REFERENCE_MAX, pattern=r"^[^\x00-\x1f\x7f]+$"
    )


@router.post(
    "/points/{point}/terminate",
    response_model=TerminationView,
    status_code=status.HTTP_201_CREATED,
    summary="Terminate a point: its deposit refunded once it holds nothing and owes nothing",
)
def terminate(point: HolderCode, body: TerminateIn, actor: CurrentActor, db: DB):
    return db.transact(
        lambda s: requisitions.terminate_point(
            s, actor, point, reason=body.reason, method=body.method, reference=body.reference
        )
    )


def _xlsx(content: bytes, name: str) -> Response:
    return Response(
        content=content,
        media_type=statement_sheets.MEDIA_TYPE,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )
