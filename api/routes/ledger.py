"""The journal: post, batch, reverse; balances, statements, serials, trial balance."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Response, status

from api.deps import DB, CurrentActor
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

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Retrying with the same key posts nothing new and returns the first result",
    ),
]
READERS = (Role.ADMIN, Role.WAREHOUSE_CLERK, Role.APPROVER, Role.FINANCE, Role.PLANNER)


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
)
def post_entry(
    entry: EntryIn, actor: CurrentActor, db: DB, response: Response, key: IdempotencyKey = None
):
    entry = _with_key(entry, key)
    result = db.transact(lambda session: services.post(session, actor, [entry])[0])
    _replayed(response, result.created)
    # Shown after the commit, so the balance rows are not held meanwhile; a
    # new entry is shown from the request and the account cache, no query.
    with db.reading() as session:
        return queries.posted_entry(session, actor, entry, result)


@router.post(
    "/entries/batch",
    response_model=list[PostResultOut],
    status_code=status.HTTP_201_CREATED,
    summary="Post many entries in one transaction, all or nothing",
)
def post_batch(
    entries: Annotated[list[EntryIn], Body(min_length=1, max_length=10_000)],
    actor: CurrentActor,
    db: DB,
    response: Response,
    key: IdempotencyKey = None,
):
    entries = services.keyed_batch(entries, key)
    results = db.transact(lambda s: services.post(s, actor, entries))
    _replayed(response, any(r.created for r in results))
    return results


@router.get("/entries/{entry_id}", response_model=EntryOut, summary="One entry")
def get_entry(entry_id: uuid.UUID, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return queries.get_entry(session, actor, entry_id)


@router.get(
    "/entries",
    response_model=EntryPage,
    summary="Find entries by reference, kind, account, holder, actor and date, newest first",
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
        default=None, max_length=120, description="Entries with a posting on this account"
    ),
    holder: str | None = Query(
        default=None, max_length=40, description="Entries with a posting on this holder's accounts"
    ),
    actor_name: str | None = Query(
        default=None, alias="actor", max_length=80, description="Posted by this user"
    ),
    date_from: date | None = Query(default=None, alias="from", description="Effective on or after"),
    date_to: date | None = Query(default=None, alias="to", description="Effective on or before"),
    cursor: str | None = Query(
        default=None, max_length=64, description="`next_cursor` of the previous page"
    ),
    limit: int = Query(default=100, ge=1, le=1000),
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
    code: str,
    actor: CurrentActor,
    db: DB,
    as_of: date | None = Query(default=None, description="End of this day, by effective date"),
):
    with db.reading() as session:
        return queries.balance(session, actor, code, as_of)


@router.get(
    "/accounts/{code}/statement",
    response_model=StatementOut,
    summary="Account statement with running balance, a page at a time",
)
def statement(
    code: str,
    actor: CurrentActor,
    db: DB,
    date_from: date | None = Query(default=None, alias="from"),
    date_to: date | None = Query(default=None, alias="to"),
    cursor: str | None = Query(
        default=None, max_length=64, description="`next_cursor` of the previous page"
    ),
    limit: int = Query(default=100, ge=1, le=1000),
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
def serial_history(serial: str, actor: CurrentActor, db: DB):
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
    as_of: date | None = Query(default=None, description="End of this day, by effective date"),
):
    require_role(actor, *READERS)
    with db.reading() as session:
        return queries.trial_balance(session, as_of)
