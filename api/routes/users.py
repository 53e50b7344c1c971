"""Users: admins list them, add them, deactivate and reactivate them, change
their role and reset their passwords. Each change ends the user's tokens so
far (their token version moves); this worker forgets them at once, the others
within AFTERSALES_USER_CACHE_SECONDS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from api.deps import DB, CurrentActor
from api.schemas import PasswordIn, RoleIn, UserIn, UserOut, UserPage
from ledger import users
from ledger.models import Role
from ledger.users import USERNAME_MAX, USERNAME_PATTERN

router = APIRouter(tags=["users"])

Username = Annotated[
    str,
    Path(max_length=USERNAME_MAX, pattern=USERNAME_PATTERN, description="Letters, digits, . _ -"),
]


def _out(info: users.UserInfo) -> UserOut:
    return UserOut.model_validate(info, from_attributes=True)


def _changed(request: Request, info: users.UserInfo) -> UserOut:
    request.app.state.user_cache.forget(info.username)
    return _out(info)


@router.get("/users", response_model=UserPage, summary="List users (admin)")
def list_users(
    actor: CurrentActor,
    db: DB,
    role: Role | None = None,
    active: bool | None = Query(default=None, description="Only active (true) or inactive users"),
    after: str | None = Query(
        default=None, max_length=USERNAME_MAX, description="Username to start after (paging)"
    ),
    limit: int = Query(default=100, ge=1, le=1000),
):
    with db.reading() as session:
        rows = users.list_users(session, actor, role=role, active=active, after=after, limit=limit)
    return UserPage(
        items=[_out(r) for r in rows],
        next_after=rows[-1].username if len(rows) == limit else None,
    )


@router.post(
    "/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="Add a user"
)
def create_user(body: UserIn, actor: CurrentActor, db: DB):
    info = db.transact(
        lambda s: users.add_user(
            s, actor, body.username, body.password, body.role, service_point=body.service_point
        )
    )
    return _out(info)


@router.get("/users/{username}", response_model=UserOut, summary="One user (admin)")
def get_user(username: Username, actor: CurrentActor, db: DB):
    with db.reading() as session:
        return _out(users.get_user(session, actor, username))


@router.post(
    "/users/{username}/deactivate", response_model=UserOut, summary="Deactivate a user (admin)"
)
def deactivate(username: Username, request: Request, actor: CurrentActor, db: DB):
    return _changed(request, db.transact(lambda s: users.deactivate(s, actor, username)))


@router.post(
    "/users/{username}/reactivate", response_model=UserOut, summary="Reactivate a user (admin)"
)
def reactivate(username: Username, request: Request, actor: CurrentActor, db: DB):
    return _changed(request, db.transact(lambda s: users.reactivate(s, actor, username)))


@router.patch(
    "/users/{username}",
    response_model=UserOut,
    summary="Change a user's role and point binding (admin)",
)
def change_role(username: Username, body: RoleIn, request: Request, actor: CurrentActor, db: DB):
    info = db.transact(
        lambda s: users.change_role(s, actor, username, body.role, service_point=body.service_point)
    )
    return _changed(request, info)


@router.post(
    "/users/{username}/password", response_model=UserOut, summary="Reset a password (admin)"
)
def reset_password(
    username: Username, body: PasswordIn, request: Request, actor: CurrentActor, db: DB
):
    info = db.transact(lambda s: users.reset_password(s, actor, username, body.password))
    return _changed(request, info)
