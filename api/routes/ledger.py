"""The journal: post, batch, reverse; balances, statements, serials, trial balance."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import DB, CurrentActor
from api.params import (
    ACCOUNT_CODE,
    AccountCode,
    Cursor,
    HolderFilter,
    IdempotencyKey,
    IsoDate,
    Limit,
    SerialNumber,
)
from api.schemas import (
    BalanceOut,
    EntryOut,
    EntryPage,
    PostResultOut,
    ReverseIn,
    SerialOut,
    StatementOut,
    TrialBalanceRow,
)
from ledger import queries, services
from ledger.codes import REF_KEY_PATTERN
from ledger.errors import InvalidEntry
from ledger.journal import EntryIn
from ledger.models import Role
from ledger.policy import require_role

router = APIRouter(tags=["ledger"])

READERS = (Role.ADMIN, Role.WAREHOUSE_CLERK, Role.APPROVER, Role.FINANCE, Role.PLANNER)

# POST /entries and /entries/batch read their body themselves and validate it
# in a worker thread: a 20,000-line stock count takes a while to validate and
# must not stall the event loop (every other client) meanwhile. Validation is
# strict (an amount is a JSON integer: `true`, `"5"` and `5.0` are refused).
# Their OpenAPI request bodies are documented exactly as FastAPI would.
_ENTRY = TypeAdapter(EntryIn)
_BATCH = TypeAdapter(Annotated[list[EntryIn], Field(min_length=1, max_length=10_000)])
_ENTRY_REF = {"$ref": "#/components/schemas/EntryIn"}


def _json_body(schema: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _validated(adapter: TypeAdapter, raw: bytes):
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        return adapter.validate_json(raw, strict=True)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


def _with_key(entry: EntryIn, key: str | None) -> EntryIn:
    if key is None:
        return entry
    if entry.idempotency_key not in (None, key):
        raise InvalidEntry(
            "the Idempotency-Key header and the body's idempotency_key differ; send one",
            field="idempotency_key",
        )
    return entry.model_copy(update={"idempotency_key": key})


def _replayed(response: Response, created: bool) -> None:
    if not created:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"


@router.post(
    "/entries",
    response_model=EntryOut,
    status_code=status.HTTP_201_CREATED,
    summary="Post a journal entry",
    responses={200: {"description": "Replay of an idempotency key: the first result"}},
    openapi_extra=_json_body(_ENTRY_REF),
)
async def post_entry(
    request: Request, actor: CurrentActor, db: DB, response: Response, key: IdempotencyKey = None
):
    raw = await request.body()

    def work():
        entry = _with_key(_validated(_ENTRY, raw), key)
        result = db.transact(lambda session: services.post(session, actor, [entry])[0])
        _replayed(response, result.created)
        # Shown after the commit, so the balance rows are not held meanwhile; a
        # new entry is shown from the request and the account cache, no query.
        with db.reading() as session:
            return queries.posted_entry(session, actor, entry, result)

    return await run_in_threadpool(work)


@router.post(
    "/entries/batch",
    response_model=list[PostResultOut],
    status_code=status.HTTP_201_CREATED,
    summary="Post many entries in one transaction, all or nothing",
    responses={200: {"description": "Replay of an idempotency key: the first results"}},
    openapi_extra=_json_body(
        {"type": "array", "items": _ENTRY_REF, "minItems": 1, "maxItems": 10000, "title": "Entries"}
    ),
)
async def post_batch(
    request: Request,
    actor: CurrentActor,
    db: DB,
    response: Response,
    key: IdempotencyKey = None,
):
    raw = await request.body()

    def work():
        entries = services.keyed_batch(_validated(_BATCH, raw), key)
        results = db.transact(lambda s: services.post(s, actor, entries))
        _replayed(response, any(r.created for r in results))
        return results

    return await run_in_threadpool(work)


@router.get("/entries/{entry_id}", response_model=EntryOut, summary="One entry")
def get_entry(entry_id: uuid.UUID, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return queries.get_entry(session, actor, entry_id)


@router.get(
    "/entries",
    response_model=EntryPage,
    summary="Find entries by reference, kind, account, holder, actor and date, newest first",
    responses={404: {"description": "The account or holder filtered by does not exist"}},
)
def list_entries(
    actor: CurrentActor,
    db: DB,
    ref_key: str | None = Query(
        default=None,
        max_length=40,
        pattern=REF_KEY_PATTERN,
        description="Entries whose `refs` have this key",
        examples=["requisition"],
    ),
    ref_value: str | None = Query(
        default=None, max_length=200, description="…with this value (needs `ref_key`)"
    ),
    kind: str | None = Query(default=None, max_length=40, pattern=r"^[a-z][a-z0-9_]{0,39}$"),
    account: str | None = Query(
        default=None,
        max_length=120,
        pattern=ACCOUNT_CODE,
        description="Entries with a posting on this account",
    ),
    holder: HolderFilter = None,
    actor_name: str | None = Query(
        default=None, alias="actor", max_length=80, description="Posted by this user"
    ),
    date_from: IsoDate | None = Query(
        default=None, alias="from", description="Effective on or after"
    ),
    date_to: IsoDate | None = Query(default=None, alias="to", description="Effective on or before"),
    cursor: Cursor = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        page = queries.list_entries(
            session,
            actor,
            ref_key=ref_key,
            ref_value=ref_value,
            kind=kind,
            account=account,
            holder=holder,
            actor_name=actor_name,
            date_from=date_from,
            date_to=date_to,
            cursor=cursor,
            limit=limit,
        )
    return EntryPage(items=page.items, next_cursor=page.next_cursor)


@router.post(
    "/entries/{entry_id}/reverse",
    response_model=EntryOut,
    status_code=status.HTTP_201_CREATED,
    summary="Reverse an entry by posting its mirror image",
    responses={200: {"description": "Replay of an idempotency key: the first result"}},
)
def reverse_entry(
    entry_id: uuid.UUID,
    actor: CurrentActor,
    db: DB,
    response: Response,
    body: ReverseIn | None = None,
    key: IdempotencyKey = None,
):
    body = body or ReverseIn()

    def work(session):
        result = services.reverse(
            session,
            actor,
            entry_id,
            idempotency_key=key,
            memo=body.memo,
            effective_date=body.effective_date,
        )
        return result, queries.get_entry(session, actor, result.entry_id)

    result, view = db.transact(work)
    _replayed(response, result.created)
    return view


@router.get("/accounts/{code}/balance", response_model=BalanceOut, summary="Balance, now or as of")
def balance(
    code: AccountCode,
    actor: CurrentActor,
    db: DB,
    as_of: IsoDate | None = Query(default=None, description="End of this day, by effective date"),
):
    with db.reading() as session:
        return queries.balance(session, actor, code, as_of)


@router.get(
    "/accounts/{code}/statement",
    response_model=StatementOut,
    summary="Account statement with running balance, a page at a time",
)
def statement(
    code: AccountCode,
    actor: CurrentActor,
    db: DB,
    date_from: IsoDate | None = Query(default=None, alias="from"),
    date_to: IsoDate | None = Query(default=None, alias="to"),
    cursor: Cursor = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        page = queries.statement(
            session, actor, code, date_from=date_from, date_to=date_to, cursor=cursor, limit=limit
        )
    return StatementOut(
        account=code,
        commodity=page.account["commodity"],
        decimals=page.account["decimals"],
        opening_balance=page.opening_balance,
        closing_balance=page.closing_balance,
        page_closing_balance=page.page_closing_balance,
        lines=page.lines,
        next_cursor=page.next_cursor,
    )


@router.get("/serials/{serial}", response_model=SerialOut, summary="Where a serial is, and was")
def serial_history(serial: SerialNumber, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return queries.serial_history(session, actor, serial)


@router.get(
    "/trial-balance",
    response_model=list[TrialBalanceRow],
    summary="Per commodity, all balances sum to zero",
)
def trial_balance(
    actor: CurrentActor,
    db: DB,
    as_of: IsoDate | None = Query(default=None, description="End of this day, by effective date"),
):
    require_role(actor, *READERS)
    with db.reading() as session:
        return queries.trial_balance(session, as_of)
