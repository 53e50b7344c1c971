"""Locations (HQ, regional warehouses, service points) and approval levels:
admins write them, staff read them, a service point sees only its own
location (another's answers like one that does not exist)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.deps import DB, CurrentActor
from api.params import HolderCode, HolderFilter, Limit, PlaceFilter
from api.routes.users import Username
from ledger.amounts import MAX_AMOUNT
from ledger.catalog import locations as loc
from ledger.catalog.history import ChangeView
from ledger.catalog.locations import (
    LEVEL_CODE_PATTERN,
    PLACE_PATTERN,
    RANK_MAX,
    REASON_MAX,
    REASON_PATTERN,
    LevelOut,
    LocationKind,
    LocationOut,
    LocationStatus,
)
from ledger.codes import HOLDER, NAME_PATTERN
from ledger.models import Role
from ledger.policy import require_role

router = APIRouter(tags=["locations and approval levels"])

Code = Annotated[str, Field(min_length=1, max_length=40, pattern=f"^{HOLDER}$")]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NAME_PATTERN)]
Place = Annotated[str, Field(min_length=1, max_length=40, pattern=PLACE_PATTERN)]
Grade = Literal["A", "B", "C"]
Units = Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT, description="Units per requisition")]
Fen = Annotated[
    StrictInt,
    Field(ge=1, le=MAX_AMOUNT, description="Fen at standard cost per requisition"),
]
Rank = Annotated[StrictInt, Field(ge=1, le=RANK_MAX, description="Higher = more authority")]
LevelCode = Annotated[str, Field(min_length=1, max_length=40, pattern=LEVEL_CODE_PATTERN)]
LevelPath = Annotated[
    str, Path(min_length=1, max_length=40, pattern=LEVEL_CODE_PATTERN, examples=["RM"])
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationIn(_Body):
    kind: LocationKind
    code: Code = Field(examples=["SP-0451"])
    name: Name
    region: Place = Field(examples=["South China"])
    province: Place = Field(examples=["Guangdong"])
    city: Place | None = Field(default=None, description="Required but for HQ")
    grade: Grade | None = Field(default=None, description="A service point's grade")
    served_by: Code | None = Field(
        default=None,
        description="A point: its regional warehouse (required); a regional warehouse: HQ or none",
    )


class LocationPatch(_Body):
    name: Name | None = None
    region: Place | None = None
    province: Place | None = None
    city: Place | None = None
    grade: Grade | None = None
    served_by: Code | None = None


class StatusIn(_Body):
    status: LocationStatus
    reason: str = Field(min_length=1, max_length=REASON_MAX, pattern=REASON_PATTERN)


class LocationPage(BaseModel):
    items: list[LocationOut]
    next_after: str | None = Field(description="Pass as `after` for the next page")


class LevelIn(_Body):
    code: LevelCode = Field(examples=["RM"])
    name: Name
    rank: Rank
    quantity_limit: Units
    amount_limit: Fen
    active: StrictBool = True


class LevelPatch(_Body):
    name: Name | None = None
    rank: Rank | None = None
    quantity_limit: Units | None = None
    amount_limit: Fen | None = None
    active: StrictBool | None = None


class AssignIn(_Body):
    level: LevelCode


class AssignmentOut(BaseModel):
    username: str
    level: LevelOut


def _given(body: BaseModel) -> dict:
    """The fields a PATCH sent (a null means "clear", where a field may be empty)."""
    return body.model_dump(exclude_unset=True)


@router.get("/locations", response_model=LocationPage, summary="List locations, a page at a time")
def list_locations(
    actor: CurrentActor,
    db: DB,
    kind: LocationKind | None = None,
    region: PlaceFilter = None,
    province: PlaceFilter = None,
    city: PlaceFilter = None,
    status: LocationStatus | None = None,
    grade: Grade | None = None,
    served_by: HolderFilter = None,
    after: Annotated[
        str | None, Query(min_length=1, max_length=40, description="Code to start after")
    ] = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        rows = loc.list_locations(
            session,
            actor,
            kind=kind,
            region=region,
            province=province,
            city=city,
            status=status,
            grade=grade,
            served_by=served_by,
            after=after,
            limit=limit,
        )
    return LocationPage(items=rows, next_after=rows[-1].code if len(rows) == limit else None)


@router.post(
    "/locations",
    response_model=LocationOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add HQ, a regional warehouse or a service point (admin)",
)
def create_location(body: LocationIn, actor: CurrentActor, db: DB):
    require_role(actor, Role.ADMIN)
    return db.transact(lambda s: loc.create_location(s, actor, **body.model_dump()))


@router.get("/locations/{code}", response_model=LocationOut, summary="One location")
def get_location(code: HolderCode, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return loc.get_location(session, actor, code)


@router.patch(
    "/locations/{code}",
    response_model=LocationOut,
    summary="Change a location's name, place, grade or warehouse (admin; not its code or kind)",
)
def update_location(code: HolderCode, body: LocationPatch, actor: CurrentActor, db: DB):
    require_role(actor, Role.ADMIN)
    return db.transact(lambda s: loc.update_location(s, actor, code, **_given(body)))


@router.post(
    "/locations/{code}/status",
    response_model=LocationOut,
    summary="Suspend, reactivate or terminate a service point, with a reason (admin)",
)
def set_status(code: HolderCode, body: StatusIn, actor: CurrentActor, db: DB):
    require_role(actor, Role.ADMIN)
    return db.transact(lambda s: loc.set_status(s, actor, code, body.status, body.reason))


@router.get(
    "/locations/{code}/history",
    response_model=list[ChangeView],
    summary="Who changed a location, when, from what to what (oldest first)",
)
def location_history(
    code: HolderCode,
    actor: CurrentActor,
    db: DB,
    after: Annotated[
        int | None, Query(ge=0, le=2**62, description="Last change id of the previous page")
    ] = None,
    limit: Limit = 100,
):
    with db.reading() as session:
        return loc.location_history(session, actor, code, after=after, limit=limit)


@router.get(
    "/approval-levels",
    response_model=list[LevelOut],
    summary="Approval levels, lowest rank first (staff)",
)
def list_levels(actor: CurrentActor, db: DB):
    with db.reading() as session:
        return loc.list_levels(session, actor)


@router.post(
    "/approval-levels",
    response_model=LevelOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add an approval level (admin)",
)
def create_level(body: LevelIn, actor: CurrentActor, db: DB):
    require_role(actor, Role.ADMIN)
    return db.transact(lambda s: loc.create_level(s, actor, **body.model_dump()))


@router.patch(
    "/approval-levels/{code}",
    response_model=LevelOut,
    summary="Change an approval level's name, rank, limits or activity (admin)",
)
def update_level(code: LevelPath, body: LevelPatch, actor: CurrentActor, db: DB):
    require_role(actor, Role.ADMIN)
    return db.transact(lambda s: loc.update_level(s, actor, code, **_given(body)))


@router.put(
    "/users/{username}/approval-level",
    response_model=AssignmentOut,
    summary="Give an approver their approval level (admin)",
)
def assign_level(username: Username, body: AssignIn, actor: CurrentActor, db: DB):
    require_role(actor, Role.ADMIN)
    done = db.transact(lambda s: loc.assign_level(s, actor, username, body.level))
    return AssignmentOut(username=done.username, level=done.level)
