"""Plans (计划): what the optimiser proposed, kept as it was proposed.

A plan (PL-000001) is an allocation of the stock on hand over the network,
or a purchase for a new model. It records who ran it, the job that ran it,
its parameters, a small JSON summary (objective, bound, gap, fill rates…)
and its data: the numpy file of the instance and the plan (or of the
purchase input and its result), so that it can be studied again offline and
shows, later, exactly what was proposed.

    proposed ─release→ released   (an allocation only: its requisitions recorded)

The ledger stores plans and knows nothing of how they are made: the
optimiser's adapter (optimizer/adapter.py) builds the arrays, records the
plan here and releases it through the parts cycle's own services.

Planners and administrators record and release plans; finance reads them.
Services never commit.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from ledger.documents import cursor_id, document_id, document_number, require_roles
from ledger.errors import (
    IdempotencyConflict,
    IdempotencyKeyTaken,
    InvalidInput,
    InvalidState,
    NotFound,
)
from ledger.journal import MAX_KEY, check_idempotency_key
from ledger.models import Role
from ledger.policy import Actor
from ledger.types import UTCDateTime, utcnow

PREFIX = "PL"
WRITERS = (Role.PLANNER, Role.ADMIN)
READERS = (Role.PLANNER, Role.ADMIN, Role.FINANCE)
MAX_DATA_BYTES = 512 * 1024 * 1024
MAX_LIMIT = 1000


class PlanKind(enum.StrEnum):
    ALLOCATION = "allocation"
    PURCHASE = "purchase"


class PlanStatus(enum.StrEnum):
    PROPOSED = "proposed"
    RELEASED = "released"


def _one_of(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Plan(SQLModel, table=True):
    __tablename__ = "plan"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_one_of(PlanKind)})", name="kind"),
        CheckConstraint(f"status IN ({_one_of(PlanStatus)})", name="status"),
        Index("ix_plan_kind", "kind", "id"),
    )

    id: int | None = SQLField(default=None, sa_column=Column(Integer, primary_key=True))
    kind: str = SQLField(max_length=12)
    status: str = SQLField(max_length=12)
    # A job's plan is recorded once: a re-run of the job finds it by this key.
    idempotency_key: str | None = SQLField(
        default=None, sa_column=Column(String(MAX_KEY), unique=True)
    )
    job: str | None = SQLField(default=None, max_length=24)
    params: dict[str, Any] = SQLField(sa_column=Column(JSON, nullable=False))
    summary: dict[str, Any] = SQLField(sa_column=Column(JSON, nullable=False))
    # The npz of the instance and the plan (or the purchase input and result).
    data: bytes = SQLField(sa_column=Column(LargeBinary, nullable=False))
    created_by: str = SQLField(max_length=80)
    created_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))
    released_by: str | None = SQLField(default=None, max_length=80)
    released_at: datetime | None = SQLField(default=None, sa_column=Column(UTCDateTime()))
    # The requisition numbers its release raised.
    requisitions: list[str] | None = SQLField(default=None, sa_column=Column(JSON))


plan_t = Plan.__table__


class PlanUpload(SQLModel, table=True):
    """A workbook uploaded for a purchase plan, kept by its SHA-256 for the
    job that reads it (a job's parameters carry the digest, not the file)."""

    __tablename__ = "plan_upload"

    id: int | None = SQLField(default=None, sa_column=Column(Integer, primary_key=True))
    sha256: str = SQLField(sa_column=Column(String(64), nullable=False, unique=True))
    data: bytes = SQLField(sa_column=Column(LargeBinary, nullable=False))
    uploaded_by: str = SQLField(max_length=80)
    uploaded_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))


upload_t = PlanUpload.__table__
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class PlanView(BaseModel):
    number: str
    kind: PlanKind
    status: PlanStatus
    job: str | None = Field(description="The job that ran it (JB-…), if it ran as one")
    params: dict[str, Any]
    summary: dict[str, Any] = Field(
        description="Objective, bound, gap, fill rates before and after, seconds…"
    )
    data_bytes: int = Field(description="Size of the plan's numpy file")
    created_by: str
    created_at: datetime
    released_by: str | None
    released_at: datetime | None
    requisitions: list[str] = Field(description="Requisitions raised by its release")


def number(plan_id: int) -> str:
    return document_number(PREFIX, plan_id)


_COLUMNS = [c for c in plan_t.c if c.name != "data"]


def _view(row: Any, size: int) -> PlanView:
    return PlanView(
        number=number(row.id),
        kind=PlanKind(row.kind),
        status=PlanStatus(row.status),
        job=row.job,
        params=row.params or {},
        summary=row.summary or {},
        data_bytes=size,
        created_by=row.created_by,
        created_at=row.created_at,
        released_by=row.released_by,
        released_at=row.released_at,
        requisitions=list(row.requisitions or []),
    )


def _size():
    return func.length(plan_t.c.data).label("size")


def _not_found(value: str) -> NotFound:
    return NotFound(f"plan {value} does not exist; list plans under /plans", plan=value)


def _row(session: Session, plan_number: str, *, lock: bool = False):
    try:
        ident = document_id(PREFIX, plan_number, "plan")
    except NotFound:
        raise _not_found(plan_number) from None
    stmt = select(*_COLUMNS, _size()).where(plan_t.c.id == ident)
    if lock:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).one_or_none()
    if row is None:
        raise _not_found(plan_number)
    return row


def _json(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False, sort_keys=True))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"the plan's {what} are not JSON: {exc}", field=what) from None


def record_plan(
    session: Session,
    actor: Actor,
    *,
    kind: PlanKind | str,
    params: dict[str, Any],
    summary: dict[str, Any],
    data: bytes,
    job: str | None = None,
    key: str | None = None,
) -> PlanView:
    """Record a proposed plan. With a key (a job passes one derived from its
    number), the same key returns the plan first recorded and writes nothing."""
    require_roles(actor, "record a plan", *WRITERS)
    try:
        kind = PlanKind(kind)
    except ValueError:
        raise InvalidInput(
            f"plan kind {kind!r} is not one of {_one_of(PlanKind)}", field="kind"
        ) from None
    check_idempotency_key(key)
    if key is not None and len(key) > MAX_KEY:
        raise InvalidInput(
            f"an idempotency key is 1 to {MAX_KEY} printable characters", field="idempotency_key"
        )
    if not isinstance(data, bytes | bytearray) or not data:
        raise InvalidInput("a plan needs its data (the numpy file)", field="data")
    if len(data) > MAX_DATA_BYTES:
        raise InvalidInput(f"a plan's data is at most {MAX_DATA_BYTES:,} bytes", field="data")
    params, summary = _json(params, "params"), _json(summary, "summary")
    if key is not None:
        existing = session.execute(
            select(*_COLUMNS, _size()).where(plan_t.c.idempotency_key == key)
        ).one_or_none()
        if existing is not None:
            if existing.created_by != actor.username:
                raise IdempotencyKeyTaken(
                    "this Idempotency-Key was already used by another user; use a key of your own",
                    field="idempotency_key",
                )
            if existing.kind != kind.value:
                raise IdempotencyConflict(
                    f"this Idempotency-Key already recorded plan {number(existing.id)} "
                    f"({existing.kind}); use a new key for a new plan",
                    field="idempotency_key",
                    plan=number(existing.id),
                )
            return _view(existing, existing.size)
    new_id = session.execute(
        plan_t.insert()
        .values(
            kind=kind.value,
            status=PlanStatus.PROPOSED.value,
            idempotency_key=key,
            job=job,
            params=params,
            summary=summary,
            data=bytes(data),
            created_by=actor.username,
            created_at=utcnow(),
        )
        .returning(plan_t.c.id)
    ).scalar_one()
    return _view(_row(session, number(new_id)), len(data))


def get_plan(session: Session, actor: Actor, plan_number: str) -> PlanView:
    require_roles(actor, "read plans", *READERS)
    row = _row(session, plan_number)
    return _view(row, row.size)


def plan_data(session: Session, actor: Actor, plan_number: str) -> bytes:
    """The plan's numpy file, as recorded."""
    require_roles(actor, "read plans", *READERS)
    ident = _row(session, plan_number).id
    return bytes(session.scalar(select(plan_t.c.data).where(plan_t.c.id == ident)))


def list_plans(
    session: Session,
    actor: Actor,
    *,
    kind: PlanKind | str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> list[PlanView]:
    """Plans, newest first; `cursor` is the last number of the previous page."""
    require_roles(actor, "read plans", *READERS)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit is 1 to {MAX_LIMIT}, not {limit}", field="limit")
    stmt = select(*_COLUMNS, _size()).order_by(plan_t.c.id.desc()).limit(limit)
    if kind is not None:
        try:
            stmt = stmt.where(plan_t.c.kind == PlanKind(kind).value)
        except ValueError:
            raise InvalidInput(
                f"plan kind {kind!r} is not one of {_one_of(PlanKind)}", field="kind"
            ) from None
    if cursor is not None:
        stmt = stmt.where(plan_t.c.id < cursor_id(PREFIX, cursor, "plan"))
    return [_view(row, row.size) for row in session.execute(stmt)]


def lock_for_release(session: Session, actor: Actor, plan_number: str) -> PlanView:
    """The plan, row-locked until the commit: one release at a time."""
    require_roles(actor, "release a plan", *WRITERS)
    row = _row(session, plan_number, lock=True)
    return _view(row, row.size)


def mark_released(
    session: Session, actor: Actor, plan_number: str, requisitions: list[str]
) -> PlanView:
    """Record the release of a proposed allocation (the caller holds its lock)."""
    require_roles(actor, "release a plan", *WRITERS)
    row = _row(session, plan_number, lock=True)
    if row.kind != PlanKind.ALLOCATION.value:
        raise InvalidState(
            f"plan {plan_number} is a {row.kind} plan; only an allocation is released as "
            "requisitions (a purchase becomes purchase orders)",
            plan=plan_number,
            state=row.status,
        )
    if row.status != PlanStatus.PROPOSED.value:
        raise InvalidState(
            f"plan {plan_number} is {row.status}; it is released once",
            plan=plan_number,
            state=row.status,
        )
    session.execute(
        update(plan_t)
        .where(plan_t.c.id == row.id)
        .values(
            status=PlanStatus.RELEASED.value,
            released_by=actor.username,
            released_at=utcnow(),
            requisitions=list(requisitions),
        )
    )
    return get_plan(session, actor, plan_number)


def note_summary(session: Session, plan_number: str, values: dict[str, Any]) -> None:
    """Add `values` to a plan's summary (the release notes what waits for HQ)."""
    row = _row(session, plan_number, lock=True)
    summary = dict(row.summary or {}) | _json(values, "summary")
    session.execute(update(plan_t).where(plan_t.c.id == row.id).values(summary=summary))


def store_upload(session: Session, actor: Actor, data: bytes) -> str:
    """Keep an uploaded workbook (once per content); its SHA-256 names it."""
    require_roles(actor, "upload a planning workbook", *WRITERS)
    if not isinstance(data, bytes | bytearray) or not data:
        raise InvalidInput("the upload is empty; choose the filled workbook", field="file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(
            f"the upload is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", field="file"
        )
    digest = hashlib.sha256(data).hexdigest()
    if session.scalar(select(upload_t.c.id).where(upload_t.c.sha256 == digest)) is None:
        # Two uploads of one file at once: the unique digest decides, the
        # loser's retry (Database.transact) finds the winner's row.
        session.execute(
            upload_t.insert().values(
                sha256=digest, data=bytes(data), uploaded_by=actor.username, uploaded_at=utcnow()
            )
        )
    return digest


def upload_data(session: Session, digest: str) -> bytes:
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise InvalidInput("an upload is named by its SHA-256, 64 hex digits", field="upload")
    data = session.scalar(select(upload_t.c.data).where(upload_t.c.sha256 == digest))
    if data is None:
        raise NotFound(f"no uploaded workbook {digest[:12]}…; upload it again", upload=digest)
    return bytes(data)
