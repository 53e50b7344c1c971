"""Who changed which master data, when, from what to what.

Every change of master data (a part, a price, a location, an approval level)
is recorded in the same unit of work as the change itself: the entity, its
code, the actor, the time, and the record before and after (JSON; `None`
before a creation). Append-only, like the journal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Column, Index, select
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from ledger.models import BigId, Role
from ledger.policy import Actor, require_role
from ledger.types import UTCDateTime, utcnow


class MasterDataChange(SQLModel, table=True):
    __tablename__ = "master_data_change"
    __table_args__ = (Index("ix_master_data_change_entity_key", "entity", "key", "id"),)

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    entity: str = Field(max_length=40)
    key: str = Field(max_length=80)
    actor: str = Field(max_length=80)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


def snapshot(record: BaseModel | SQLModel | None, exclude: set[str] | None = None) -> dict | None:
    """A record as JSON-ready values, for `before` and `after`."""
    if record is None:
        return None
    return record.model_dump(mode="json", exclude=exclude)


def record_change(
    session: Session,
    actor: str,
    entity: str,
    key: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> MasterDataChange:
    """Record one change in the caller's unit of work. Callers skip it when
    nothing changed (an update that leaves the record as it was)."""
    change = MasterDataChange(
        entity=entity, key=key, actor=actor, at=utcnow(), before=before, after=after
    )
    session.add(change)
    session.flush()
    return change


class ChangeView(BaseModel):
    """One recorded change, as the doors show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    entity: str
    key: str
    actor: str
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def changes_of(
    session: Session,
    entity: str | Sequence[str],
    key: str,
    *,
    after: int | None = None,
    limit: int = 100,
) -> list[ChangeView]:
    """The changes of one record (of one entity, or of several kept under the
    same key, such as a part and its prices), oldest first, a page at a time
    (`after`: the last id of the previous page; `limit` at most 1,000)."""
    entities = [entity] if isinstance(entity, str) else list(entity)
    stmt = (
        select(MasterDataChange)
        .where(MasterDataChange.entity.in_(entities), MasterDataChange.key == key)
        .order_by(MasterDataChange.id)
        .limit(max(1, min(limit, 1000)))
    )
    if after is not None:
        stmt = stmt.where(MasterDataChange.id > after)
    return [ChangeView.model_validate(c) for c in session.scalars(stmt)]


def list_changes(
    session: Session,
    actor: Actor,
    *,
    entity: str | Sequence[str] | None = None,
    key: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[ChangeView]:
    """Every recorded change of master data, newest first, a page at a time
    (`before`: the last id of the previous page), optionally of some entities
    and of one code (admin)."""
    require_role(actor, Role.ADMIN)
    stmt = (
        select(MasterDataChange)
        .order_by(MasterDataChange.id.desc())
        .limit(max(1, min(limit, 1000)))
    )
    if entity is not None:
        entities = [entity] if isinstance(entity, str) else list(entity)
        stmt = stmt.where(MasterDataChange.entity.in_(entities))
    if key is not None:
        stmt = stmt.where(MasterDataChange.key == key)
    if before is not None:
        stmt = stmt.where(MasterDataChange.id < before)
    return [ChangeView.model_validate(c) for c in session.scalars(stmt)]
