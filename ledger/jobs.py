"""Long jobs: settlement of every point, statements, planning… run by a
worker process (huey), never in a web request or a thread of the web process.

A job is a row of the `job` table (JB-000001): its kind, parameters,
idempotency key, status, progress, result or error. The doors enqueue it
(`enqueue`: the row is committed, then its id is handed to the queue) and
read it back (`get_job`, `list_jobs`); a worker (`aftersales worker`) takes
the id from the queue and runs it (`run_job`).

    queued ─worker takes it→ running ─→ succeeded
                               │    └──→ failed ─resume→ queued
                               └─ no heartbeat for the timeout → interrupted ─resume→ queued

Where the ids wait is huey's storage, `AFTERSALES_JOBS_URL`: a SQLite file
under var/ by default, PostgreSQL or Redis in production. The queue only
carries the id: everything a job is lives in the ledger's own database.
For unit tests, `JobQueue("memory://", immediate=True, database=db)` runs a
job inside `enqueue` itself (no worker, no heartbeat thread).

**Writing a job kind.** Define the work where its business lives (the
settlement in ledger/money/settlement.py, not here) and register it:

    @job_kind("settlement", roles=(Role.FINANCE,), params=SettlementParams)
    def settle(ctx: JobContext, params: dict) -> dict:
        points = ...
        for n, chunk in enumerate(chunks(points, 100)):
            ctx.db.transact(lambda s: post_chunk(s, chunk, key=f"{ctx.number}/{n}"))
            ctx.progress(n * 100 + len(chunk), len(points), f"{chunk[-1]} settled")
        return {"points": len(points)}

The contract:

- The work commits its own units of work, in chunks: each chunk is one
  `ctx.db.transact(...)`, small enough to take seconds, never the whole job.
- Every chunk is idempotent: its journal entries (or document actions) carry
  idempotency keys derived from the job and the chunk (`f"{ctx.number}/{n}"`,
  never from the attempt or the clock), so a job killed mid-way and run
  again (`ctx.rerun`: attempts > 1) replays the chunks it had committed and
  posts nothing twice. Whatever the work decides must depend on `params` and
  the book only, so a re-run makes the same chunks.
- `ctx.progress(done, total, note)` after each chunk: it commits the progress
  in its own short transaction and beats the heartbeat. A run that was
  declared interrupted and resumed elsewhere is told so here
  (`JobSuperseded`) and must let it propagate.
- The work returns a small JSON-able dict, the job's result; an exception
  fails the job: a domain error's detail (or the exception's first line)
  becomes its `error`, the traceback goes only to the worker's log.
- A module defining kinds is imported by the web process (to validate what
  is enqueued) and by the worker (to run it): list it in `KIND_MODULES`
  (the ledger's own) or `AFTERSALES_JOB_MODULES` (`aftersales worker
  --import MODULE` adds one for a worker).

While the work runs the worker also beats the heartbeat from a thread of its
own, so a slow chunk is not taken for a dead worker; a killed worker stops
beating, and after `AFTERSALES_JOB_HEARTBEAT_TIMEOUT` seconds its job reads
as `interrupted` (workers also write that status in a periodic sweep).
`resume` puts an interrupted or failed job back in the queue, same row,
same parameters; the next run counts one more attempt. A succeeded job never
runs again. Every write of a run is fenced by its attempt number, so a run
that was given up on cannot overwrite the status of the run after it.
"""

from __future__ import annotations

import enum
import importlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Text,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from ledger.db import Database
from ledger.errors import (
    Forbidden,
    IdempotencyConflict,
    IdempotencyKeyTaken,
    InvalidInput,
    InvalidState,
    LedgerError,
    NotFound,
)
from ledger.journal import check_idempotency_key
from ledger.models import Role
from ledger.policy import Actor
from ledger.settings import Settings, get_settings
from ledger.types import UTCDateTime, utcnow

log = logging.getLogger("aftersales.jobs")

PREFIX = "JB"
# The product's modules that define job kinds, by name (the ledger imports
# none of them itself: they are imported wherever jobs are enqueued or run).
KIND_MODULES: tuple[str, ...] = (
    "ledger.money.settlement",
    "importers.statement_sheets",
    "optimizer.jobs",
)
# Who sees every job; anyone else sees the jobs they started.
SEE_ALL = (Role.ADMIN, Role.FINANCE)
MAX_KEY = 200
MAX_PARAMS_BYTES = 64 * 1024
MAX_RESULT_BYTES = 256 * 1024
NOTE_MAX = 200
ERROR_MAX = 2000
MAX_ID = 2**31 - 1
_KIND = re.compile(r"[a-z][a-z0-9_.-]{0,59}")


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


_STATUSES = ", ".join(f"'{s.value}'" for s in JobStatus)
RESUMABLE = (JobStatus.FAILED, JobStatus.INTERRUPTED)


class Job(SQLModel, table=True):
    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        Index("ix_job_kind", "kind", "id"),
        Index("ix_job_status", "status", "id"),
        Index("ix_job_created_by", "created_by", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    kind: str = Field(max_length=60)
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(MAX_KEY), unique=True)
    )
    # The key of the latest resume: its retry replays instead of refusing.
    resume_key: str | None = Field(default=None, max_length=MAX_KEY)
    status: str = Field(max_length=12)
    progress_done: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    progress_total: int | None = Field(default=None, sa_column=Column(BigInteger))
    progress_note: str | None = Field(default=None, max_length=NOTE_MAX)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_by: str = Field(max_length=80)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    heartbeat_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))


job_t = Job.__table__


class JobView(BaseModel):
    """A job as the doors show it."""

    number: str
    kind: str
    params: dict[str, Any]
    status: JobStatus
    progress_done: int
    progress_total: int | None
    progress_note: str | None
    result: dict[str, Any] | None
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    attempts: int

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.INTERRUPTED)


class JobSuperseded(Exception):
    """This run was given up on (interrupted, then resumed): stop quietly."""


# -- numbers -------------------------------------------------------------------------


def number(job_id: int) -> str:
    return f"{PREFIX}-{job_id:06d}"


def job_id(value: str | int) -> int:
    """The id in JB-000042 (or the id itself); NotFound for anything else."""
    if isinstance(value, int):
        if 0 < value <= MAX_ID:
            return value
        raise NotFound(f"job {value} does not exist", number=str(value))
    match = re.fullmatch(rf"{PREFIX}-([0-9]{{6,12}})", value) or re.fullmatch(
        r"([0-9]{1,10})", value
    )
    if match is None or not 0 < int(match.group(1)) <= MAX_ID:
        raise NotFound(f"job {value} does not exist", number=value)
    return int(match.group(1))


# -- kinds -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobKind:
    name: str
    work: Callable[[JobContext, dict[str, Any]], dict[str, Any] | None]
    # Who may start it (an admin always may).
    roles: tuple[Role, ...] = (Role.ADMIN,)
    # Validates and normalises the parameters when the job is enqueued.
    params: type[BaseModel] | None = None


_KINDS: dict[str, JobKind] = {}


def job_kind(
    name: str, *, roles: Iterable[Role] = (Role.ADMIN,), params: type[BaseModel] | None = None
):
    """Register `work(ctx, params) -> dict` as the job kind `name`."""
    if not _KIND.fullmatch(name):
        raise ValueError(f"job kind {name!r}: lower-case letters, digits, '.', '_', '-'")

    def register(work):
        existing = _KINDS.get(name)
        if existing is not None and existing.work.__qualname__ != work.__qualname__:
            raise ValueError(f"job kind {name!r} is already registered by {existing.work!r}")
        _KINDS[name] = JobKind(name, work, tuple(roles), params)
        return work

    return register


def kinds() -> dict[str, JobKind]:
    return dict(_KINDS)


def load_kinds(extra: Iterable[str] = (), *, settings: Settings | None = None) -> None:
    """Import every module that defines job kinds: the ledger's own, those of
    AFTERSALES_JOB_MODULES and `extra`."""
    settings = settings or get_settings()
    configured = [m.strip() for m in settings.job_modules.split(",") if m.strip()]
    for module in (*KIND_MODULES, *configured, *extra):
        importlib.import_module(module)


def _kind(name: str) -> JobKind:
    found = _KINDS.get(name)
    if found is None:
        known = ", ".join(sorted(_KINDS)) or "none is registered"
        raise InvalidInput(f"no job kind {name!r}; known kinds: {known}", field="kind")
    return found


# -- the queue (huey) ------------------------------------------------------------------


def make_huey(url: str, *, name: str = "aftersales", immediate: bool = False):
    """huey on the storage the URL names: sqlite:///file, postgresql://…,
    redis://… (needs the `redis` package: pip install 'aftersales[redis]'),
    or memory:// (one process only: tests)."""
    import huey

    common = {"results": False, "utc": True, "immediate": immediate}
    if url.startswith("memory:"):
        return huey.MemoryHuey(name, **common)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return huey.RedisHuey(name, url=url, **common)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise InvalidInput(
                "AFTERSALES_JOBS_URL: a SQLite queue needs a file (sqlite:///var/jobs.db)",
                field="jobs_url",
            )
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return huey.SqliteHuey(name, filename=parsed.database, **common)
    if backend == "postgresql":
        dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        return huey.PostgresHuey(name, dsn=dsn, **common)
    raise InvalidInput(
        f"AFTERSALES_JOBS_URL {url.split('@')[-1]!r}: use sqlite:///…, postgresql://… or redis://…",
        field="jobs_url",
    )


class JobQueue:
    """Where job ids wait for a worker. The web process only submits; a
    worker gives it the ledger database its runs use (`database`)."""

    def __init__(
        self, url: str, *, database: Database | None = None, immediate: bool = False
    ) -> None:
        self.url = url
        self.huey = make_huey(url, immediate=immediate)
        self.database = database
        self.stale_after: float | None = None

        @self.huey.task(name="aftersales.run_job")
        def run(job_id: int) -> None:
            # In immediate mode (tests) the job runs in the caller, maybe on a
            # test's one connection: no heartbeat thread beside it.
            run_job(self._database(), job_id, stale_after=self.stale_after, beat=not immediate)

        self._task = run

    def _database(self) -> Database:
        if self.database is None:
            self.database = Database.from_url(get_settings().database_url)
        return self.database

    def submit(self, job_id: int) -> None:
        self._task(job_id)


@lru_cache
def queue_for(url: str) -> JobQueue:
    """One queue per URL and process."""
    return JobQueue(url)


def default_queue() -> JobQueue:
    return queue_for(get_settings().jobs_url)


# -- reading ---------------------------------------------------------------------------


def _stale_after(value: float | None) -> float:
    return get_settings().job_heartbeat_timeout if value is None else value


def _view(row: Any, stale_after: float) -> JobView:
    status = JobStatus(row.status)
    if status is JobStatus.RUNNING and _stale(row.heartbeat_at, stale_after):
        status = JobStatus.INTERRUPTED
    return JobView(
        number=number(row.id),
        kind=row.kind,
        params=row.params,
        status=status,
        progress_done=row.progress_done,
        progress_total=row.progress_total,
        progress_note=row.progress_note,
        result=row.result,
        error=row.error,
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        finished_at=row.finished_at,
        attempts=row.attempts,
    )


def _stale(heartbeat: datetime | None, stale_after: float) -> bool:
    return heartbeat is None or heartbeat < utcnow() - timedelta(seconds=stale_after)


def _visible(actor: Actor | None):
    if actor is None or actor.role in SEE_ALL:
        return True
    return job_t.c.created_by == actor.username


def _row(session: Session, value: str | int, actor: Actor | None, *, lock: bool = False):
    ident = job_id(value)
    stmt = select(job_t).where(job_t.c.id == ident).where(_visible(actor))
    if lock:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).one_or_none()
    if row is None:
        raise NotFound(f"job {number(ident)} does not exist", number=number(ident))
    return row


def get_job(
    session: Session,
    number_or_id: str | int,
    actor: Actor | None = None,
    *,
    stale_after: float | None = None,
) -> JobView:
    """A job; for an actor who may not see it, as if it did not exist."""
    return _view(_row(session, number_or_id, actor), _stale_after(stale_after))


def list_jobs(
    session: Session,
    actor: Actor | None = None,
    *,
    kind: str | None = None,
    status: JobStatus | None = None,
    after: str | None = None,
    limit: int = 100,
    stale_after: float | None = None,
) -> list[JobView]:
    """Jobs, newest first; `after` is the last number of the previous page."""
    timeout = _stale_after(stale_after)
    stmt = select(job_t).where(_visible(actor)).order_by(job_t.c.id.desc()).limit(limit)
    if kind is not None:
        stmt = stmt.where(job_t.c.kind == kind)
    if status is not None:
        cutoff = utcnow() - timedelta(seconds=timeout)
        beating = and_(job_t.c.heartbeat_at.is_not(None), job_t.c.heartbeat_at >= cutoff)
        running = job_t.c.status == JobStatus.RUNNING.value
        if status is JobStatus.RUNNING:
            stmt = stmt.where(running, beating)
        elif status is JobStatus.INTERRUPTED:
            stmt = stmt.where(or_(job_t.c.status == status.value, and_(running, ~beating)))
        else:
            stmt = stmt.where(job_t.c.status == status.value)
    if after is not None:
        match = re.fullmatch(rf"{PREFIX}-([0-9]{{6,12}})", after)
        if match is None:
            raise InvalidInput(
                f"after {after!r} is not a job number such as {PREFIX}-000001", field="after"
            )
        stmt = stmt.where(job_t.c.id < min(int(match.group(1)), MAX_ID))
    return [_view(row, timeout) for row in session.execute(stmt)]


# -- enqueue and resume ----------------------------------------------------------------


def _json(value: Any, what: str, limit: int) -> Any:
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"the {what} are not JSON: {exc}", field=what) from None
    if len(text.encode()) > limit:
        raise InvalidInput(f"the {what} take more than {limit:,} bytes as JSON", field=what)
    return json.loads(text)


def _check_params(kind: JobKind, params: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise InvalidInput("a job's params are a JSON object", field="params")
    if kind.params is not None:
        try:
            params = kind.params.model_validate(params).model_dump(mode="json")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in ("params", *first["loc"]))
            raise InvalidInput(f"{where}: {first['msg']}", field=where) from None
    return _json(params, "params", MAX_PARAMS_BYTES)


def enqueue(
    db: Database,
    kind: str,
    params: dict[str, Any],
    *,
    actor: Actor,
    idempotency_key: str | None = None,
    queue: JobQueue | str | None = None,
) -> JobView:
    """Record a job (committed), then hand its id to the queue.

    The same key with the same kind and parameters is the same job: its row
    is returned and nothing runs again; the same key for anything else is a
    conflict, another user's key is refused. `queue`: a JobQueue or its URL
    (default: AFTERSALES_JOBS_URL)."""
    job_kind_ = _kind(kind)
    if actor.role is not Role.ADMIN and actor.role not in job_kind_.roles:
        allowed = ", ".join(r.value for r in (Role.ADMIN, *job_kind_.roles))
        raise Forbidden(f"role {actor.role.value} may not start {kind} jobs; it needs: {allowed}")
    params = _check_params(job_kind_, params)
    check_idempotency_key(idempotency_key)
    if idempotency_key is not None and len(idempotency_key) > MAX_KEY:
        raise InvalidInput(
            f"an idempotency key is 1 to {MAX_KEY} printable characters", field="idempotency_key"
        )

    def write(session: Session) -> tuple[int, bool]:
        if idempotency_key is not None:
            existing = session.execute(
                select(job_t.c.id, job_t.c.kind, job_t.c.params, job_t.c.created_by).where(
                    job_t.c.idempotency_key == idempotency_key
                )
            ).one_or_none()
            if existing is not None:
                if existing.created_by != actor.username:
                    raise IdempotencyKeyTaken(
                        "this Idempotency-Key was already used by another user; use a key of "
                        "your own",
                        field="idempotency_key",
                    )
                if existing.kind != kind or _json(existing.params, "params", 1 << 30) != params:
                    raise IdempotencyConflict(
                        f"this Idempotency-Key already started job {number(existing.id)} "
                        f"({existing.kind}) with other params; use a new key for a new job",
                        field="idempotency_key",
                        job=number(existing.id),
                    )
                return existing.id, False
        # The unique key decides between two first uses at once: the loser's
        # retry (Database.transact) finds the winner's job.
        new_id = session.execute(
            job_t.insert()
            .values(
                kind=kind,
                params=params,
                idempotency_key=idempotency_key,
                status=JobStatus.QUEUED.value,
                progress_done=0,
                created_by=actor.username,
                created_at=utcnow(),
                attempts=0,
            )
            .returning(job_t.c.id)
        ).scalar_one()
        return new_id, True

    ident, created = db.transact(write)
    if created:
        _submit(db, queue, ident)
    with db.reading() as session:
        return get_job(session, ident)


def _submit(db: Database, queue: JobQueue | str | None, ident: int) -> None:
    """Hand a committed job to the queue. If the queue cannot take it, the
    job is failed with that reason (resume it when the queue is back), never
    left queued with no message to run it."""
    try:
        if queue is None:
            queue = default_queue()
        elif isinstance(queue, str):
            queue = queue_for(queue)
        queue.submit(ident)
    except Exception as exc:
        log.exception("job %s could not be queued", number(ident))
        error = (
            f"the job queue could not take the job ({_error_text(exc)}); check "
            "AFTERSALES_JOBS_URL and resume the job when the queue is back"
        )
        db.transact(
            lambda s: s.execute(
                update(job_t)
                .where(job_t.c.id == ident, job_t.c.status == JobStatus.QUEUED.value)
                .values(
                    status=JobStatus.FAILED.value, error=error[:ERROR_MAX], finished_at=utcnow()
                )
            )
        )


def resume(
    db: Database,
    number_or_id: str | int,
    actor: Actor,
    *,
    key: str | None = None,
    queue: JobQueue | str | None = None,
    stale_after: float | None = None,
) -> JobView:
    """Put an interrupted or failed job back in the queue: same row, same
    parameters; its chunks already committed replay. A retry with the key of
    the latest resume returns the job as it is now."""
    check_idempotency_key(key)
    timeout = _stale_after(stale_after)

    def work(session: Session) -> bool:
        row = _row(session, number_or_id, actor, lock=True)
        if key is not None and row.resume_key == key:
            return False
        status = _view(row, timeout).status
        if status not in RESUMABLE:
            raise InvalidState(
                f"job {number(row.id)} is {status.value}; resume is allowed only when it is "
                + " or ".join(s.value for s in RESUMABLE),
                number=number(row.id),
                state=status.value,
            )
        session.execute(
            update(job_t)
            .where(job_t.c.id == row.id, job_t.c.attempts == row.attempts)
            .values(status=JobStatus.QUEUED.value, resume_key=key, finished_at=None)
        )
        return True

    ident = job_id(number_or_id)
    if db.transact(work):
        _submit(db, queue, ident)
    with db.reading() as session:
        return get_job(session, ident, stale_after=timeout)


def sweep(db: Database, *, stale_after: float | None = None) -> list[str]:
    """Write `interrupted` on every running job whose heartbeat stopped."""
    cutoff = utcnow() - timedelta(seconds=_stale_after(stale_after))

    def work(session: Session) -> list[str]:
        ids = session.scalars(
            update(job_t)
            .where(
                job_t.c.status == JobStatus.RUNNING.value,
                or_(job_t.c.heartbeat_at.is_(None), job_t.c.heartbeat_at < cutoff),
            )
            .values(status=JobStatus.INTERRUPTED.value)
            .returning(job_t.c.id)
        ).all()
        return [number(i) for i in ids]

    return db.transact(work)


# -- running ---------------------------------------------------------------------------


@dataclass
class JobContext:
    """What a job's work is given: the database, its job, and progress."""

    db: Database
    job_id: int
    kind: str
    attempt: int
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def number(self) -> str:
        return number(self.job_id)

    @property
    def rerun(self) -> bool:
        """True when an earlier attempt ran (part of) this job."""
        return self.attempt > 1

    def progress(self, done: int, total: int | None = None, note: str = "") -> None:
        """Record progress (committed now, in its own transaction) and beat."""
        values: dict[str, Any] = {"progress_done": int(done), "progress_note": note[:NOTE_MAX]}
        if total is not None:
            values["progress_total"] = int(total)
        if not self._beat(**values):
            raise JobSuperseded(self.number)

    def _beat(self, **values: Any) -> bool:
        """Heartbeat (and `values`) if this run is still the job's run."""
        stmt = (
            update(job_t)
            .where(
                job_t.c.id == self.job_id,
                job_t.c.attempts == self.attempt,
                job_t.c.status.in_([JobStatus.RUNNING.value, JobStatus.INTERRUPTED.value]),
            )
            .values(status=JobStatus.RUNNING.value, heartbeat_at=utcnow(), **values)
        )
        with self._lock:
            return self.db.transact(lambda s: s.execute(stmt).rowcount) == 1


def _heartbeat(ctx: JobContext, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            ctx._beat()
        except Exception:  # the next beat may succeed; the work goes on
            log.warning("heartbeat of %s failed", ctx.number, exc_info=True)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, LedgerError):
        where = ", ".join(f"{k}={v}" for k, v in exc.where.items())
        text = f"{exc.detail} ({where})" if where else exc.detail
    else:
        first = (str(exc).strip().splitlines() or [""])[0]
        text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text[:ERROR_MAX]


def _finish(ctx: JobContext, status: JobStatus, **values: Any) -> None:
    now = utcnow()
    stmt = (
        update(job_t)
        .where(
            job_t.c.id == ctx.job_id,
            job_t.c.attempts == ctx.attempt,
            job_t.c.status.in_([JobStatus.RUNNING.value, JobStatus.INTERRUPTED.value]),
        )
        .values(status=status.value, finished_at=now, heartbeat_at=now, **values)
    )
    with ctx._lock:
        ctx.db.transact(lambda s: s.execute(stmt))


def run_job(
    db: Database, job_id_: int, *, stale_after: float | None = None, beat: bool = True
) -> JobStatus | None:
    """Run one queued job (in a worker): claim it, run its kind's work,
    store the result or the error. A job not queued (running elsewhere,
    succeeded) is left alone: None. `beat`: a heartbeat thread beside the
    work (off only where the work runs on a connection not to be shared)."""
    now = utcnow()

    def claim(session: Session):
        claimed = session.execute(
            update(job_t)
            .where(job_t.c.id == job_id_, job_t.c.status == JobStatus.QUEUED.value)
            .values(
                status=JobStatus.RUNNING.value,
                attempts=job_t.c.attempts + 1,
                started_at=now,
                heartbeat_at=now,
                finished_at=None,
                error=None,
            )
            .returning(job_t.c.kind, job_t.c.params, job_t.c.attempts)
        ).one_or_none()
        return None if claimed is None else tuple(claimed)

    claimed = db.transact(claim)
    if claimed is None:
        log.info("job %s is not queued: left alone", number(job_id_))
        return None
    kind_name, params, attempt = claimed
    ctx = JobContext(db, job_id_, kind_name, attempt)
    log.info("job %s (%s) attempt %d started", ctx.number, kind_name, attempt)
    kind = _KINDS.get(kind_name)
    if kind is None:
        _finish(
            ctx,
            JobStatus.FAILED,
            error=f"job kind {kind_name!r} is not known to this worker: start it with "
            f"--import MODULE or AFTERSALES_JOB_MODULES naming the module that defines it",
        )
        return JobStatus.FAILED
    stop = threading.Event()
    every = max(_stale_after(stale_after) / 4, 0.05)
    beater = threading.Thread(
        target=_heartbeat, args=(ctx, stop, every), name=f"heartbeat-{ctx.number}", daemon=True
    )
    if beat:
        beater.start()
    try:
        result = kind.work(ctx, dict(params)) or {}
        result = _json(result, "result", MAX_RESULT_BYTES)
    except JobSuperseded:
        log.warning("job %s attempt %d was given up on; stopped", ctx.number, attempt)
        return None
    except Exception as exc:
        log.exception("job %s attempt %d failed", ctx.number, attempt)
        stop.set()
        if beat:
            beater.join()
        _finish(ctx, JobStatus.FAILED, error=_error_text(exc))
        return JobStatus.FAILED
    finally:
        stop.set()
    if beat:
        beater.join()
    _finish(ctx, JobStatus.SUCCEEDED, result=result)
    log.info("job %s succeeded", ctx.number)
    return JobStatus.SUCCEEDED
