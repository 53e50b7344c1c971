"""Stock counts (盘点) over HTTP: open a count at a location, download its
sheet, enter counts (JSON or the filled sheet), submit, read the variances,
approve (posts them) or cancel.

Every action takes an `Idempotency-Key`; an action from the wrong state is a
409 naming the count's state; a service point counts its own stock only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Query, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.deps import DB, CurrentActor
from api.documents import Reason, ReasonIn
from api.params import COMMODITY_CODE, HOLDER_CODE, HolderFilter, IdempotencyKey, Limit
from importers import count_sheet
from ledger.errors import InvalidInput
from ledger.parts import counts
from ledger.parts.counts import (
    MAX_COUNT_LINES,
    MAX_COUNTED,
    CountDetail,
    CountIn,
    CountState,
    CountSummary,
    CountView,
    VarianceReport,
)

router = APIRouter(tags=["stock counts"])

CountNumber = Annotated[
    str,
    Path(min_length=9, max_length=15, pattern=r"^SC-[0-9]{6,12}$", examples=["SC-000001"]),
]
AfterCount = Annotated[
    str | None,
    Query(max_length=15, pattern=r"^SC-[0-9]{6,12}$", description="The last number of the page"),
]
AfterLine = Annotated[
    int, Query(ge=0, le=MAX_COUNT_LINES, description="The `next_after` of the previous page")
]
LineLimit = Annotated[int, Query(ge=1, le=10_000, description="Lines a page")]
Sku = Annotated[str, Field(min_length=1, max_length=24, pattern=COMMODITY_CODE)]


class OpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location: str = Field(max_length=40, pattern=HOLDER_CODE, examples=["RW-S"])
    blind: StrictBool = Field(
        default=False, description="Hide the book from the sheet and the views until submitted"
    )
    skus: list[Sku] | None = Field(
        default=None, min_length=1, max_length=MAX_COUNT_LINES, description="Count only these"
    )
    category: str | None = Field(
        default=None, min_length=1, max_length=40, pattern=r"^[^\x00-\x1f\x7f]+$"
    )
    note: Reason = None


class CountLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    counted: StrictInt = Field(ge=0, le=MAX_COUNTED, description="Units found")


class LinesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[CountLineIn] = Field(min_length=1, max_length=MAX_COUNT_LINES)


class SubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uncounted_as_zero: StrictBool = Field(
        default=False, description="Count every line not counted yet as 0 instead of refusing"
    )


class CountPage(BaseModel):
    items: list[CountSummary]
    next_after: str | None = Field(description="Pass as `after` for the next page")


def _download(body: bytes, filename: str) -> Response:
    return Response(
        content=body,
        media_type=count_sheet.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "/counts",
    response_model=CountView,
    status_code=status.HTTP_201_CREATED,
    summary="Open a stock count at a location: snapshot of its book",
)
def open_count(body: OpenIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None):
    return db.transact(
        lambda s: counts.open_count(
            s,
            actor,
            location=body.location,
            blind=body.blind,
            skus=body.skus,
            category=body.category,
            note=body.note,
            key=key,
        )
    )


@router.get("/counts", response_model=CountPage, summary="Stock counts, newest first")
def list_counts(
    actor: CurrentActor,
    db: DB,
    location: HolderFilter = None,
    state: CountState | None = None,
    after: AfterCount = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        items = counts.list_counts(
            session, actor, location=location, state=state, after=after, limit=limit
        )
    return CountPage(items=items, next_after=items[-1].number if len(items) == limit else None)


@router.get(
    "/counts/{number}",
    response_model=CountDetail,
    summary="A stock count, its history and a page of its lines",
)
def get_count(
    number: CountNumber,
    actor: CurrentActor,
    db: DB,
    after: AfterLine = 0,
    limit: LineLimit = 1000,
):
    with db.reading() as session:
        return counts.get(session, actor, number, after=after, limit=limit)


@router.get(
    "/counts/{number}/sheet.xlsx",
    summary="The count sheet to fill in (xlsx; no book column while a blind count is open)",
    response_class=Response,
    responses={200: {"content": {count_sheet.MEDIA_TYPE: {}}}},
)
def download_sheet(number: CountNumber, actor: CurrentActor, db: DB):
    with db.reading() as session:
        sheet = counts.sheet(session, actor, number)
    return _download(count_sheet.write_sheet(sheet), sheet.filename)


@router.post(
    "/counts/{number}/lines",
    response_model=CountView,
    summary="Enter counts by SKU (a later value for a SKU replaces an earlier one)",
)
def enter_lines(
    number: CountNumber, body: LinesIn, actor: CurrentActor, db: DB, key: IdempotencyKey = None
):
    lines = [CountIn(sku=line.sku, counted=line.counted) for line in body.lines]
    return db.transact(lambda s: counts.enter(s, actor, number, lines, key=key))


@router.post(
    "/counts/{number}/sheet",
    response_model=CountView,
    summary="Upload the filled count sheet (xlsx, multipart field `file`)",
)
def upload_sheet(
    number: CountNumber,
    actor: CurrentActor,
    db: DB,
    file: Annotated[UploadFile, File(description="The count sheet, filled in")],
    key: IdempotencyKey = None,
):
    data = file.file.read(count_sheet.MAX_SHEET_BYTES + 1)
    lines = count_sheet.read_sheet(data)
    if not lines:
        raise InvalidInput(
            "the sheet has no counts; fill in the counted column before uploading", field="file"
        )
    return db.transact(lambda s: counts.enter(s, actor, number, lines, key=key))


@router.post("/counts/{number}/submit", response_model=CountView, summary="Freeze the counts")
def submit_count(
    number: CountNumber,
    actor: CurrentActor,
    db: DB,
    body: SubmitIn | None = None,
    key: IdempotencyKey = None,
):
    zero = body.uncounted_as_zero if body else False
    return db.transact(lambda s: counts.submit(s, actor, number, uncounted_as_zero=zero, key=key))


@router.get(
    "/counts/{number}/variances",
    response_model=VarianceReport,
    summary="Counted − book per line that differs, at standard cost, with totals",
)
def get_variances(
    number: CountNumber,
    actor: CurrentActor,
    db: DB,
    after: AfterLine = 0,
    limit: LineLimit = 1000,
):
    with db.reading() as session:
        return counts.variances(session, actor, number, after=after, limit=limit)


@router.get(
    "/counts/{number}/variances.xlsx",
    summary="The variance report as xlsx",
    response_class=Response,
    responses={200: {"content": {count_sheet.MEDIA_TYPE: {}}}},
)
def download_variances(number: CountNumber, actor: CurrentActor, db: DB):
    with db.reading() as session:
        report = counts.variances(session, actor, number)
    return _download(count_sheet.write_variances(report), count_sheet.variances_filename(report))


@router.post(
    "/counts/{number}/approve",
    response_model=CountView,
    summary="Approve a submitted count: posts its variances against the snapshot",
)
def approve_count(
    number: CountNumber,
    actor: CurrentActor,
    db: DB,
    body: ReasonIn | None = None,
    key: IdempotencyKey = None,
):
    reason = body.reason if body else None
    return db.transact(lambda s: counts.approve(s, actor, number, reason=reason, key=key))


@router.post(
    "/counts/{number}/cancel",
    response_model=CountView,
    summary="Cancel an open or submitted count (nothing is posted)",
)
def cancel_count(
    number: CountNumber,
    actor: CurrentActor,
    db: DB,
    body: ReasonIn | None = None,
    key: IdempotencyKey = None,
):
    reason = body.reason if body else None
    return db.transact(lambda s: counts.cancel(s, actor, number, reason=reason, key=key))
