"""Long jobs over HTTP: start one, follow its progress, resume it.

A job runs in a worker process (`aftersales worker`), never in the request:
`POST /jobs` records it and answers 202 at once; `GET /jobs/{number}` shows
its status, progress, result or error. Admins and finance see every job,
anyone else the jobs they started (another's answers 404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import DB, CurrentActor
from api.params import IdempotencyKey, Limit
from ledger import jobs
from ledger.jobs import JobStatus, JobView

router = APIRouter(tags=["jobs"])

JobNumber = Annotated[
    str,
    Path(min_length=9, max_length=15, pattern=r"^JB-[0-9]{6,12}$", examples=["JB-000001"]),
]
AfterJob = Annotated[
    str | None,
    Query(max_length=15, pattern=r"^JB-[0-9]{6,12}$", description="The last number of the page"),
]
KindFilter = Annotated[
    str | None, Query(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_.-]{0,59}$")
]


class JobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_.-]{0,59}$")
    params: dict[str, Any] = Field(default_factory=dict)


class JobPage(BaseModel):
    items: list[JobView]
    next_after: str | None = Field(description="Pass as `after` for the next page")


def _settings(request: Request):
    return request.app.state.settings


def queue_of(request: Request) -> str:
    """The job queue the app was configured with (its settings' jobs_url)."""
    return _settings(request).jobs_url


def _timeout(request: Request) -> float:
    return _settings(request).job_heartbeat_timeout


@router.post(
    "/jobs",
    response_model=JobView,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a job of a registered kind (a worker runs it)",
)
def start_job(
    body: JobIn,
    actor: CurrentActor,
    db: DB,
    request: Request,
    response: Response,
    key: IdempotencyKey = None,
):
    view = jobs.enqueue(
        db, body.kind, body.params, actor=actor, idempotency_key=key, queue=queue_of(request)
    )
    response.headers["Location"] = f"/jobs/{view.number}"
    return view


@router.get("/jobs", response_model=JobPage, summary="Jobs, newest first")
def list_jobs(
    actor: CurrentActor,
    db: DB,
    request: Request,
    kind: KindFilter = None,
    status: JobStatus | None = None,
    after: AfterJob = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        items = jobs.list_jobs(
            session,
            actor,
            kind=kind,
            status=status,
            after=after,
            limit=limit,
            stale_after=_timeout(request),
        )
    return JobPage(items=items, next_after=items[-1].number if len(items) == limit else None)


@router.get(
    "/jobs/{number}",
    response_model=JobView,
    summary="A job: status, progress, result or error, timestamps",
)
def get_job(number: JobNumber, actor: CurrentActor, db: DB, request: Request):
    with db.reading() as session:
        return jobs.get_job(session, number, actor, stale_after=_timeout(request))


@router.post(
    "/jobs/{number}/resume",
    response_model=JobView,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Queue an interrupted or failed job again (409 when running or succeeded)",
)
def resume_job(
    number: JobNumber, actor: CurrentActor, db: DB, request: Request, key: IdempotencyKey = None
):
    return jobs.resume(
        db, number, actor, key=key, queue=queue_of(request), stale_after=_timeout(request)
    )
