"""What every document on the ledger shares (requisitions, shipments,
repairs, counts, credit overrides, settlements): its actions' record, and the
idempotency and state rules every action obeys.

An action is one unit of work: it claims its idempotency key first, then
locks the document, checks the state machine, posts its journal entry and
records itself (who, when, from which state to which, why, what), and stores
its answer. A retry with the same key replays that first answer; the same key
with another request is a conflict, another user's key is refused. Claiming
the key before the document lock gives every action the same lock order
(key, document, accounts), and makes a double-click wait for the first click
and then replay it instead of failing on the state it left behind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Uuid,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from ledger import journal
from ledger.errors import (
    Forbidden,
    IdempotencyConflict,
    IdempotencyKeyTaken,
    InvalidInput,
    InvalidState,
    NotFound,
)
from ledger.models import BigId, Role
from ledger.policy import Actor
from ledger.types import UTCDateTime, utcnow

V = TypeVar("V", bound=BaseModel)

REASON_MAX = 500


class DocumentAction(SQLModel, table=True):
    """One action on one document: the document's history and the record of
    its idempotency key."""

    __tablename__ = "document_action"
    __table_args__ = (Index("ix_document_action_document", "document", "document_id", "id"),)

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    document: str = Field(max_length=24)
    # 0 while a creating action runs; the new document's id once it has one.
    document_id: int
    action: str = Field(max_length=24)
    actor: str = Field(max_length=80)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(journal.MAX_KEY), unique=True)
    )
    request_hash: str | None = Field(default=None, max_length=64)
    state_before: str | None = Field(default=None, max_length=16)
    state_after: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, max_length=REASON_MAX)
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    entry_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("journal_entry.id"))
    )
    # The first answer, replayed to a retry of the same key.
    answer: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class ActionView(BaseModel):
    """One step of a document's history, as the doors show it."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    action: str
    state_before: str | None
    state_after: str | None
    reason: str | None
    detail: dict[str, Any] | None
    entry_id: uuid.UUID | None


action_t = DocumentAction.__table__
_HISTORY_COLUMNS = [action_t.c[name] for name in ActionView.model_fields]


def history(session: Session, document: str, document_id: int) -> list[ActionView]:
    rows = session.execute(
        select(*_HISTORY_COLUMNS)
        .where(action_t.c.document == document, action_t.c.document_id == document_id)
        .order_by(action_t.c.id)
    )
    return [ActionView.model_validate(row, from_attributes=True) for row in rows]


def step(
    session: Session,
    actor: Actor,
    document: str,
    document_id: int,
    action: str,
    state_before: str | None,
    state_after: str | None,
    *,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
    entry_id: uuid.UUID | None = None,
) -> None:
    """Record one step of a document's history (a step without a key of its
    own: a submit made with the create, a shipment made by an issue)."""
    session.execute(
        insert(action_t).values(
            document=document,
            document_id=document_id,
            action=action,
            actor=actor.username,
            at=utcnow(),
            state_before=state_before,
            state_after=state_after,
            reason=reason,
            detail=detail,
            entry_id=entry_id,
        )
    )


def _request_hash(request: dict[str, Any]) -> str:
    body = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


class Run:
    """One action in progress: `begin` claims its key, `record` writes the
    history step, `finish` stores and returns the answer. Rows are written
    with plain statements: an action is a handful of them, not an ORM flush."""

    def __init__(self, session: Session, actor: Actor, document: str, action: str) -> None:
        self.session = session
        self.actor = actor
        self.document = document
        self.action = action
        self.claimed: int | None = None  # the keyed row written by `begin`
        self.replay: dict[str, Any] | None = None

    def record(
        self,
        document_id: int,
        state_before: str | None,
        state_after: str | None,
        *,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
        entry_id: uuid.UUID | None = None,
    ) -> None:
        if self.claimed is None:
            step(
                self.session, self.actor, self.document, document_id, self.action,
                state_before, state_after, reason=reason, detail=detail, entry_id=entry_id,
            )  # fmt: skip
            return
        self.session.execute(
            update(action_t)
            .where(action_t.c.id == self.claimed)
            .values(
                document_id=document_id,
                state_before=state_before,
                state_after=state_after,
                reason=reason,
                detail=detail,
                entry_id=entry_id,
                at=utcnow(),
            )
        )

    def finish(self, view: V) -> V:
        if self.claimed is not None:
            self.session.execute(
                update(action_t)
                .where(action_t.c.id == self.claimed)
                .values(answer=view.model_dump(mode="json"))
            )
        return view


def begin(
    session: Session,
    actor: Actor,
    document: str,
    action: str,
    key: str | None,
    request: dict[str, Any],
) -> Run:
    """Start an action. With a key: the first use claims it (its row is
    written now and completed by `record`); a retry of the same request gets
    `run.replay`, the first answer; anything else with the key is refused."""
    journal.check_idempotency_key(key)
    if key is not None and len(key) > journal.MAX_KEY:
        raise InvalidInput(
            f"an idempotency key is 1 to {journal.MAX_KEY} printable characters",
            field="idempotency_key",
        )
    run = Run(session, actor, document, action)
    if key is None:
        return run
    digest = _request_hash({"document": document, "action": action, **request})
    existing = session.execute(
        select(
            action_t.c.actor, action_t.c.request_hash, action_t.c.answer,
            action_t.c.document, action_t.c.action,
        ).where(action_t.c.idempotency_key == key)
    ).one_or_none()  # fmt: skip
    if existing is None:
        # The unique index decides between two first uses at once: the loser
        # waits for the winner's commit, fails, and its retry replays.
        run.claimed = session.execute(
            insert(action_t)
            .values(
                document=document,
                document_id=0,
                action=action,
                actor=actor.username,
                at=utcnow(),
                idempotency_key=key,
                request_hash=digest,
            )
            .returning(action_t.c.id)
        ).scalar_one()
        return run
    if existing.actor != actor.username:
        raise IdempotencyKeyTaken(
            "this Idempotency-Key was already used by another user; use a key of your own",
            field="idempotency_key",
        )
    if existing.request_hash != digest or existing.answer is None:
        raise IdempotencyConflict(
            f"this Idempotency-Key was already used for another request ({existing.action} "
            f"of a {existing.document}); use a new key for a new action",
            field="idempotency_key",
        )
    run.replay = existing.answer
    return run


# -- shared rules ------------------------------------------------------------------


def document_number(prefix: str, document_id: int) -> str:
    return f"{prefix}-{document_id:06d}"


# Document ids are 32-bit integers on both databases.
MAX_ID = 2**31 - 1


def document_id(prefix: str, number: str, what: str) -> int:
    """The id in a number such as RQ-000042; NotFound for anything else."""
    match = re.fullmatch(rf"{prefix}-([0-9]{{6,12}})", number)
    if match is None or int(match.group(1)) > MAX_ID:
        raise NotFound(f"{what} {number} does not exist", number=number)
    return int(match.group(1))


def cursor_id(prefix: str, after: str, what: str) -> int:
    """The id a page starts after; a number past every id is the end."""
    match = re.fullmatch(rf"{prefix}-([0-9]{{6,12}})", after)
    if match is None:
        raise InvalidInput(
            f"after {after!r} is not a {what} number such as {prefix}-000001", field="after"
        )
    return min(int(match.group(1)), MAX_ID)


def refuse_state(what: str, number: str, state: str, action: str, allowed: Iterable[str]) -> None:
    raise InvalidState(
        f"{what} {number} is {state}; {action} is allowed only when it is " + " or ".join(allowed),
        number=number,
        state=state,
    )


def require_roles(actor: Actor, action: str, *roles: Role) -> None:
    if actor.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(f"role {actor.role.value} may not {action}; it needs one of: {allowed}")


def reason_text(value: str | None, *, required: bool = False, field: str = "reason") -> str | None:
    if value is not None:
        value = value.strip()
    if not value:
        if required:
            raise InvalidInput(f"give a {field} in words", field=field)
        return None
    # Printable text; tabs and new lines allowed (a reason may be a paragraph),
    # but no control, format or separator character (a zero-width space, a
    # right-to-left override).
    if (
        len(value) > REASON_MAX
        or not value.replace("\t", "").replace("\n", "").replace("\r", "").isprintable()
    ):
        raise InvalidInput(
            f"a {field} is at most {REASON_MAX} characters of printable text", field=field
        )
    return value


@functools.cache
def _line_update(table: Table, document_column: str, columns: tuple[str, ...]):
    return (
        update(table)
        .where(
            table.c[document_column] == bindparam("_document"),
            table.c.line_no == bindparam("_line"),
        )
        .values({column: bindparam(column) for column in columns})
    )


def update_lines(
    session: Session,
    table: Table,
    document_column: str,
    document_id: int,
    changes: dict[str, dict[int, int]],
) -> None:
    """Set per-line figures of one document (column → line no → value; every
    column for the same lines) in one executemany of one cached statement:
    the driver's loop, not an ORM object per line."""
    columns = tuple(sorted(changes))
    lines = sorted(next(iter(changes.values()), {}))
    if not lines:
        return
    if any(sorted(changes[c]) != lines for c in columns):
        raise ValueError("update_lines: every column must be given for the same lines")
    session.execute(
        _line_update(table, document_column, columns),
        [
            {"_document": document_id, "_line": n, **{c: changes[c][n] for c in columns}}
            for n in lines
        ],
    )
