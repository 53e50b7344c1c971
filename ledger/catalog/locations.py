"""Locations and approval levels: where stock lives, and who may approve how much.

A location IS a holder of the book (HQ, a regional warehouse, a service
point): creating one creates the holder in the same unit of work, and the
location row adds what the network needs to know of it: region, province,
city, the regional warehouse that serves a point (kept equal to the holder's
parent), and a point's status (active, suspended, terminated). A suspended or
terminated point may requisition nothing (`require_may_requisition`).

An approval level has a rank (higher = more authority), a quantity limit
(units per requisition) and an amount limit (fen at standard cost per
requisition); a higher rank never has lower limits than a lower one, so
escalating always goes up. An approver is given one level.

Writes are admin only, checked before any look-up; every change is recorded in
the master-data history (ledger.catalog.history) in the same unit of work.
Services take a Session and an Actor and never commit.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    select,
    text,
)
from sqlalchemy.orm import Session, aliased
from sqlmodel import Field, SQLModel

from ledger.amounts import MAX_AMOUNT, format_amount
from ledger.catalog.history import ChangeView, changes_of, record_change
from ledger.codes import HOLDER, HOLDER_RE
from ledger.errors import Duplicate, InvalidInput, InvalidState, NotFound
from ledger.masterdata import create_holder
from ledger.models import Holder, HolderKind, Role, User
from ledger.policy import Actor, require_role
from ledger.types import UTCDateTime, utcnow


class LocationKind(enum.StrEnum):
    """The holders that are locations of the network."""

    HQ = HolderKind.HQ.value
    REGIONAL_WAREHOUSE = HolderKind.REGIONAL_WAREHOUSE.value
    SERVICE_POINT = HolderKind.SERVICE_POINT.value


class LocationStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


GRADES = ("A", "B", "C")
PLACE_MAX = 40
REASON_MAX = 500
RANK_MAX = 1000
# A region, province or city: one line of printable text, no space at either end.
PLACE = r"[^\x00-\x1f\x7f\s](?:[^\x00-\x1f\x7f]{0,38}[^\x00-\x1f\x7f\s])?"
PLACE_PATTERN = f"^{PLACE}$"
REASON = r"[^\x00-\x1f\x7f]{1,500}"
REASON_PATTERN = f"^{REASON}$"
LEVEL_CODE_PATTERN = f"^{HOLDER}$"
_PLACE_RE = re.compile(PLACE)
_REASON_RE = re.compile(REASON)
_NAME_RE = re.compile(r"[^\x00-\x1f\x7f]{1,200}")

_STATUSES = ", ".join(f"'{s.value}'" for s in LocationStatus)


# -- tables ----------------------------------------------------------------------


class Location(SQLModel, table=True):
    __tablename__ = "location"
    __table_args__ = (CheckConstraint(f"status IN ({_STATUSES})", name="status"),)

    holder_id: int = Field(
        sa_column=Column(Integer, ForeignKey("holder.id"), primary_key=True, autoincrement=False)
    )
    region: str = Field(max_length=PLACE_MAX, index=True)
    province: str = Field(max_length=PLACE_MAX)
    city: str | None = Field(default=None, max_length=PLACE_MAX)
    # A point: the regional warehouse serving it; a regional warehouse: HQ or none.
    served_by_holder_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("holder.id"), index=True)
    )
    status: str = Field(sa_column=Column(String(12), nullable=False, index=True))
    status_reason: str | None = Field(default=None, max_length=REASON_MAX)
    status_changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ApprovalLevel(SQLModel, table=True):
    __tablename__ = "approval_level"
    __table_args__ = (
        CheckConstraint("rank > 0", name="rank_positive"),
        CheckConstraint("quantity_limit > 0 AND amount_limit > 0", name="limits_positive"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    rank: int = Field(sa_column=Column(Integer, nullable=False, unique=True))
    quantity_limit: int = Field(sa_column=Column(BigInteger, nullable=False))
    amount_limit: int = Field(sa_column=Column(BigInteger, nullable=False))
    active: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class UserApprovalLevel(SQLModel, table=True):
    __tablename__ = "user_approval_level"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("app_user.id"), primary_key=True, autoincrement=False)
    )
    level_id: int = Field(
        sa_column=Column(Integer, ForeignKey("approval_level.id"), nullable=False, index=True)
    )
    assigned_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# -- views -----------------------------------------------------------------------


class LocationOut(BaseModel):
    code: str
    name: str
    kind: LocationKind
    grade: str | None
    region: str
    province: str
    city: str | None
    served_by: str | None
    status: LocationStatus
    status_reason: str | None
    status_changed_at: datetime
    created_at: datetime
    updated_at: datetime


class LevelOut(BaseModel):
    code: str
    name: str
    rank: int
    quantity_limit: int
    amount_limit: int
    active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Limits:
    """What an approver may approve in one requisition."""

    code: str
    rank: int
    quantity_limit: int
    amount_limit: int


# For the history: what a record is, without its timestamps (the change has its own).
NOT_RECORDED = {"created_at", "updated_at", "status_changed_at"}


def _snapshot(view: BaseModel) -> dict[str, Any]:
    return view.model_dump(mode="json", exclude=NOT_RECORDED)


# -- checks ----------------------------------------------------------------------


def _place(value: Any, field: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not _PLACE_RE.fullmatch(value):
        raise InvalidInput(
            f"{field} must be one line of 1 to {PLACE_MAX} printable characters, "
            "without a space at either end",
            field=field,
        )
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise InvalidInput("name must be one line of 1 to 200 printable characters", field="name")
    return value


def _code(value: Any, field: str = "code") -> str:
    if not isinstance(value, str) or not HOLDER_RE.fullmatch(value):
        raise InvalidInput(
            f"{field} must be 1 to 40 characters of A-Z, 0-9 and '-', starting with a letter "
            "or digit",
            field=field,
        )
    return value


def _kind(value: Any) -> LocationKind:
    try:
        return LocationKind(value)
    except ValueError:
        kinds = ", ".join(k.value for k in LocationKind)
        raise InvalidInput(f"a location's kind is one of: {kinds}", field="kind") from None


def _status(value: Any) -> LocationStatus:
    try:
        return LocationStatus(value)
    except ValueError:
        raise InvalidInput(
            f"a location's status is one of: {', '.join(s.value for s in LocationStatus)}",
            field="status",
        ) from None


def _grade(kind: LocationKind, grade: Any) -> str | None:
    if kind is LocationKind.SERVICE_POINT:
        if grade not in GRADES:
            raise InvalidInput("a service point needs a grade: A, B or C", field="grade")
        return grade
    if grade is not None:
        raise InvalidInput(f"only a service point has a grade, not a {kind.value}", field="grade")
    return None


def _server(session: Session, kind: LocationKind, served_by: Any) -> Holder | None:
    """The holder serving a location of `kind`: a regional warehouse for a
    point (required), HQ or none for a regional warehouse, none for HQ."""
    if kind is LocationKind.HQ:
        if served_by is not None:
            raise InvalidInput("HQ is served by no one: leave served_by empty", field="served_by")
        return None
    if served_by is None:
        if kind is LocationKind.SERVICE_POINT:
            raise InvalidInput(
                "a service point needs served_by: the regional warehouse that serves it",
                field="served_by",
            )
        return None
    _code(served_by, "served_by")
    holder = session.scalar(select(Holder).where(Holder.code == served_by))
    if holder is None:
        raise NotFound(
            f"served_by {served_by!r} does not exist; list locations to see the warehouses",
            field="served_by",
        )
    wanted = HolderKind.REGIONAL_WAREHOUSE if kind is LocationKind.SERVICE_POINT else HolderKind.HQ
    if holder.kind != wanted:
        what = "a regional warehouse" if wanted is HolderKind.REGIONAL_WAREHOUSE else "HQ"
        raise InvalidInput(
            f"a {kind.value} is served by {what}; {served_by} is a {holder.kind}",
            field="served_by",
        )
    return holder


def _strict_int(value: Any, field: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(f"{field} must be a whole number from {low:,} to {high:,}", field=field)
    return value


def _reason(value: Any) -> str:
    if not isinstance(value, str) or not _REASON_RE.fullmatch(value) or not value.strip():
        raise InvalidInput(
            f"give a reason: one line of 1 to {REASON_MAX} printable characters", field="reason"
        )
    return value


# -- locations -------------------------------------------------------------------

_Server = aliased(Holder)


def _located():
    return (
        select(Location, Holder, _Server.code)
        .join(Holder, Holder.id == Location.holder_id)
        .outerjoin(_Server, _Server.id == Location.served_by_holder_id)
    )


def _view(location: Location, holder: Holder, served_by: str | None) -> LocationOut:
    return LocationOut(
        code=holder.code,
        name=holder.name,
        kind=LocationKind(holder.kind),
        grade=holder.grade,
        region=location.region,
        province=location.province,
        city=location.city,
        served_by=served_by,
        status=LocationStatus(location.status),
        status_reason=location.status_reason,
        status_changed_at=location.status_changed_at,
        created_at=location.created_at,
        updated_at=location.updated_at,
    )


def _not_found(code: str) -> NotFound:
    return NotFound(f"no location {code!r}; list locations to see which exist", location=code)


def _find(session: Session, actor: Actor, code: str, *, for_update: bool = False):
    """(location, holder, served_by code) of a location the actor may see;
    another point's answers exactly like an unknown one."""
    stmt = _located().where(Holder.code == code)
    if not actor.sees_everything:
        stmt = stmt.where(Holder.id == actor.holder_id)
    if for_update:
        stmt = stmt.with_for_update(of=Location)
    row = session.execute(stmt).one_or_none()
    if row is None:
        raise _not_found(code)
    return row


def create_location(
    session: Session,
    actor: Actor,
    *,
    kind: LocationKind | str,
    code: str,
    name: str,
    region: str,
    province: str,
    city: str | None = None,
    grade: str | None = None,
    served_by: str | None = None,
) -> LocationOut:
    """A new HQ, regional warehouse or service point (active), with its holder."""
    require_role(actor, Role.ADMIN)
    kind = _kind(kind)
    _code(code)
    _name(name)
    region = _place(region, "region")
    province = _place(province, "province")
    city = _place(city, "city", required=kind is not LocationKind.HQ)
    grade = _grade(kind, grade)
    server = _server(session, kind, served_by)
    if session.scalar(select(Holder.id).where(Holder.code == code)):
        raise Duplicate(
            f"{code} already exists; choose another code, or change it with PATCH",
            field="code",
        )
    holder = create_holder(
        session, code, name, kind.value, parent=server.code if server else None, grade=grade
    )
    now = utcnow()
    location = Location(
        holder_id=holder.id,
        region=region,
        province=province,
        city=city,
        served_by_holder_id=server.id if server else None,
        status=LocationStatus.ACTIVE.value,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(location)
    session.flush()
    view = _view(location, holder, server.code if server else None)
    record_change(session, actor.username, "location", code, None, _snapshot(view))
    return view


_UNSET: Any = object()


def update_location(
    session: Session,
    actor: Actor,
    code: str,
    *,
    name: str = _UNSET,
    region: str = _UNSET,
    province: str = _UNSET,
    city: str | None = _UNSET,
    grade: str | None = _UNSET,
    served_by: str | None = _UNSET,
) -> LocationOut:
    """Change what was given (the code and kind never change); the whole
    record is checked again as if it were new."""
    require_role(actor, Role.ADMIN)
    location, holder, server_code = _find(session, actor, code, for_update=True)
    before = _view(location, holder, server_code)
    kind = LocationKind(holder.kind)
    new_name = _name(name) if name is not _UNSET else holder.name
    new_region = _place(region, "region") if region is not _UNSET else location.region
    new_province = _place(province, "province") if province is not _UNSET else location.province
    new_city = (
        _place(city, "city", required=kind is not LocationKind.HQ)
        if city is not _UNSET
        else location.city
    )
    new_grade = _grade(kind, grade) if grade is not _UNSET else holder.grade
    if served_by is not _UNSET:
        server = _server(session, kind, served_by)
        new_server = (server.id, server.code) if server else (None, None)
    else:
        new_server = (location.served_by_holder_id, server_code)
    holder.name = new_name
    holder.grade = new_grade
    holder.parent_id = new_server[0]
    location.region, location.province, location.city = new_region, new_province, new_city
    location.served_by_holder_id = new_server[0]
    after = _view(location, holder, new_server[1])
    if _snapshot(after) == _snapshot(before):
        return before
    location.updated_at = utcnow()
    session.flush()
    after = _view(location, holder, new_server[1])
    record_change(session, actor.username, "location", code, _snapshot(before), _snapshot(after))
    return after


def set_status(
    session: Session,
    actor: Actor,
    code: str,
    status: LocationStatus | str,
    reason: str,
    *,
    terminating: bool = False,
) -> LocationOut:
    """Suspend or reactivate a service point, with a reason. Only a point has
    a status other than active. Termination is final, and only the
    termination (ledger/money/termination.py, `terminating`) sets it: once
    the point holds nothing of the brand's and its deposit is refunded."""
    if not terminating:
        require_role(actor, Role.ADMIN)
    status = _status(status)
    reason = _reason(reason)
    if status is LocationStatus.TERMINATED and not terminating:
        raise InvalidState(
            f"a point is terminated by its termination (POST /points/{code}/terminate), which "
            "refunds its deposit once it holds no stock and owes nothing; suspend it meanwhile",
            location=code,
            field="status",
        )
    location, holder, server_code = _find(session, actor, code, for_update=True)
    current = LocationStatus(location.status)
    if status is current:
        return _view(location, holder, server_code)
    if holder.kind != HolderKind.SERVICE_POINT:
        raise InvalidState(
            f"only a service point may be suspended or terminated; {code} is a {holder.kind}",
            location=code,
            location_status=current.value,
        )
    if current is LocationStatus.TERMINATED:
        raise InvalidState(
            f"{code} is terminated and cannot be {status.value}; open a new point instead",
            location=code,
            location_status=current.value,
        )
    before = _view(location, holder, server_code)
    now = utcnow()
    location.status = status.value
    location.status_reason = reason
    location.status_changed_at = now
    location.updated_at = now
    session.flush()
    after = _view(location, holder, server_code)
    record_change(session, actor.username, "location", code, _snapshot(before), _snapshot(after))
    return after


def get_location(session: Session, actor: Actor, code: str) -> LocationOut:
    return _view(*_find(session, actor, code))


def list_locations(
    session: Session,
    actor: Actor,
    *,
    kind: LocationKind | str | None = None,
    region: str | None = None,
    province: str | None = None,
    city: str | None = None,
    status: LocationStatus | str | None = None,
    grade: str | None = None,
    served_by: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[LocationOut]:
    """Locations in code order, filtered; pass the last code as `after` for
    the next page. A service point sees only its own location."""
    stmt = _located().order_by(Holder.code).limit(limit)
    if not actor.sees_everything:
        stmt = stmt.where(Holder.id == actor.holder_id)
    if kind is not None:
        stmt = stmt.where(Holder.kind == _kind(kind).value)
    if status is not None:
        stmt = stmt.where(Location.status == _status(status).value)
    for column, value in (
        (Location.region, region),
        (Location.province, province),
        (Location.city, city),
        (Holder.grade, grade),
        (_Server.code, served_by),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if after is not None:
        stmt = stmt.where(Holder.code > after)
    return [_view(*row) for row in session.execute(stmt)]


def location_history(
    session: Session, actor: Actor, code: str, *, after: int | None = None, limit: int = 100
) -> list[ChangeView]:
    """The recorded changes of a location the actor may see, oldest first."""
    _find(session, actor, code)
    return changes_of(session, "location", code, after=after, limit=limit)


def require_may_requisition(session: Session, holder_code: str) -> LocationOut:
    """The location of `holder_code`, if it may requisition parts now; a
    suspended or terminated point may not (InvalidState, naming the status)."""
    row = session.execute(_located().where(Holder.code == holder_code)).one_or_none()
    if row is None:
        raise _not_found(holder_code)
    view = _view(*row)
    if view.status is not LocationStatus.ACTIVE:
        why = f" ({view.status_reason})" if view.status_reason else ""
        raise InvalidState(
            f"{holder_code} is {view.status.value}{why} and may requisition nothing; "
            "an admin must reactivate it first"
            if view.status is LocationStatus.SUSPENDED
            else f"{holder_code} is {view.status.value}{why} and may requisition nothing",
            location=holder_code,
            location_status=view.status.value,
        )
    return view


# -- approval levels -------------------------------------------------------------


def _level_view(level: ApprovalLevel) -> LevelOut:
    return LevelOut.model_validate(level, from_attributes=True)


def _serialize_levels(session: Session) -> None:
    """One writer of levels at a time, so two changes cannot each pass the
    rank/limit rule against the other's old state (SQLite's BEGIN IMMEDIATE
    already serializes writers)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE approval_level IN SHARE ROW EXCLUSIVE MODE"))


def _money(fen: int) -> str:
    return format_amount(fen, 2, "CNY")


def _check_order(session: Session, level: ApprovalLevel) -> None:
    """A higher rank never has a lower limit than a lower rank."""
    others = session.scalars(select(ApprovalLevel).where(ApprovalLevel.code != level.code))
    for other in others:
        low, high = (other, level) if other.rank < level.rank else (level, other)
        for field, shown in (
            ("quantity_limit", lambda v: f"{format_amount(v)} units"),
            ("amount_limit", _money),
        ):
            if getattr(high, field) < getattr(low, field):
                raise InvalidState(
                    f"{high.code} (rank {high.rank}) would have a lower {field.replace('_', ' ')} "
                    f"({shown(getattr(high, field))}) than {low.code} (rank {low.rank}, "
                    f"{shown(getattr(low, field))}); a higher rank needs limits at least as "
                    "high, so that escalation always goes up",
                    field=field,
                    level=other.code,
                )


def _get_level(session: Session, code: str, *, for_update: bool = False) -> ApprovalLevel:
    stmt = select(ApprovalLevel).where(ApprovalLevel.code == code)
    if for_update:
        stmt = stmt.with_for_update()
    level = session.scalar(stmt)
    if level is None:
        raise NotFound(
            f"no approval level {code!r}; list approval levels to see which exist", level=code
        )
    return level


def _rank_free(session: Session, rank: int, code: str) -> None:
    holder = session.scalar(
        select(ApprovalLevel.code).where(ApprovalLevel.rank == rank, ApprovalLevel.code != code)
    )
    if holder is not None:
        raise Duplicate(f"rank {rank} is {holder}'s; give each level its own rank", field="rank")


def create_level(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    rank: int,
    quantity_limit: int,
    amount_limit: int,
    active: bool = True,
) -> LevelOut:
    require_role(actor, Role.ADMIN)
    _code(code)
    _name(name)
    _strict_int(rank, "rank", 1, RANK_MAX)
    _strict_int(quantity_limit, "quantity_limit", 1, MAX_AMOUNT)
    _strict_int(amount_limit, "amount_limit", 1, MAX_AMOUNT)
    if type(active) is not bool:
        raise InvalidInput("active is true or false", field="active")
    _serialize_levels(session)
    if session.scalar(select(ApprovalLevel.id).where(ApprovalLevel.code == code)):
        raise Duplicate(f"approval level {code} already exists", field="code")
    _rank_free(session, rank, code)
    now = utcnow()
    level = ApprovalLevel(
        code=code,
        name=name,
        rank=rank,
        quantity_limit=quantity_limit,
        amount_limit=amount_limit,
        active=active,
        created_at=now,
        updated_at=now,
    )
    _check_order(session, level)
    session.add(level)
    session.flush()
    view = _level_view(level)
    record_change(session, actor.username, "approval_level", code, None, _snapshot(view))
    return view


def update_level(
    session: Session,
    actor: Actor,
    code: str,
    *,
    name: str = _UNSET,
    rank: int = _UNSET,
    quantity_limit: int = _UNSET,
    amount_limit: int = _UNSET,
    active: bool = _UNSET,
) -> LevelOut:
    """Change what was given (not the code); the rank/limit rule holds after."""
    require_role(actor, Role.ADMIN)
    _serialize_levels(session)
    level = _get_level(session, code, for_update=True)
    before = _level_view(level)
    with session.no_autoflush:  # checked before the changed level is written
        _change_level(session, level, name, rank, quantity_limit, amount_limit, active)
    if _snapshot(_level_view(level)) == _snapshot(before):
        return before
    level.updated_at = utcnow()
    session.flush()
    after = _level_view(level)
    record_change(
        session, actor.username, "approval_level", code, _snapshot(before), _snapshot(after)
    )
    return after


def _change_level(session, level, name, rank, quantity_limit, amount_limit, active) -> None:
    if name is not _UNSET:
        level.name = _name(name)
    if rank is not _UNSET:
        level.rank = _strict_int(rank, "rank", 1, RANK_MAX)
        _rank_free(session, rank, level.code)
    if quantity_limit is not _UNSET:
        level.quantity_limit = _strict_int(quantity_limit, "quantity_limit", 1, MAX_AMOUNT)
    if amount_limit is not _UNSET:
        level.amount_limit = _strict_int(amount_limit, "amount_limit", 1, MAX_AMOUNT)
    if active is not _UNSET:
        if type(active) is not bool:
            raise InvalidInput("active is true or false", field="active")
        level.active = active
    _check_order(session, level)


def list_levels(session: Session, actor: Actor) -> list[LevelOut]:
    """Every approval level, lowest rank first (staff roles, not a service point)."""
    if not actor.sees_everything:
        require_role(actor, *(r for r in Role if r is not Role.SERVICE_POINT))
    levels = session.scalars(select(ApprovalLevel).order_by(ApprovalLevel.rank))
    return [_level_view(level) for level in levels]


# Who holds an approval level: approvers, and planners and admins, who approve
# the requisitions they raise when they release a plan (ledger/planning.py).
LEVEL_ROLES = (Role.APPROVER, Role.PLANNER, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class Assignment:
    username: str
    level: LevelOut


def assign_level(session: Session, actor: Actor, username: str, level_code: str) -> Assignment:
    """Give an approver their (one) approval level."""
    require_role(actor, Role.ADMIN)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username}; list users to see who exists", username=username)
    if user.role not in LEVEL_ROLES:
        raise InvalidState(
            f"{username} is a {user.role}; only an approver is given an approval level, or a "
            "planner or an admin to release plans (change their role first)",
            username=username,
        )
    level = _get_level(session, level_code)
    if not level.active:
        raise InvalidState(
            f"approval level {level_code} is inactive; activate it or choose another",
            level=level_code,
        )
    row = session.get(UserApprovalLevel, user.id, with_for_update=True)
    before_code = None
    if row is None:
        row = UserApprovalLevel(user_id=user.id, level_id=level.id, assigned_at=utcnow())
        session.add(row)
    else:
        before_code = session.scalar(
            select(ApprovalLevel.code).where(ApprovalLevel.id == row.level_id)
        )
        if row.level_id == level.id:
            return Assignment(username, _level_view(level))
        row.level_id = level.id
        row.assigned_at = utcnow()
    session.flush()
    record_change(
        session,
        actor.username,
        "user_approval_level",
        username,
        None if before_code is None else {"username": username, "level": before_code},
        {"username": username, "level": level.code},
    )
    return Assignment(username, _level_view(level))


def limits_of(session: Session, username: str) -> Limits | None:
    """What `username` may approve per requisition: their level's limits, or
    None if they are not an active approver (or planner, or admin) with an
    active level."""
    row = session.execute(
        select(ApprovalLevel)
        .join(UserApprovalLevel, UserApprovalLevel.level_id == ApprovalLevel.id)
        .join(User, User.id == UserApprovalLevel.user_id)
        .where(
            User.username == username,
            User.role.in_([r.value for r in LEVEL_ROLES]),
            User.active.is_(True),
            ApprovalLevel.active.is_(True),
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    return Limits(row.code, row.rank, row.quantity_limit, row.amount_limit)


def next_level_above(session: Session, rank: int) -> Limits | None:
    """The active level a requisition escalates to from `rank`, or None at the top."""
    level = session.scalar(
        select(ApprovalLevel)
        .where(ApprovalLevel.rank > rank, ApprovalLevel.active.is_(True))
        .order_by(ApprovalLevel.rank)
        .limit(1)
    )
    if level is None:
        return None
    return Limits(level.code, level.rank, level.quantity_limit, level.amount_limit)
