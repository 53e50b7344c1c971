from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import DB, CurrentActor
from api.schemas import Me, Token
from api.security import issue_token
from ledger import queries
from ledger.logins import log_in

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/token",
    response_model=Token,
    summary="Log in: username and password",
    description="Five failed logins of one user from one client lock that pair: 429 with "
    "Retry-After (60 s, doubling with every further failure, at most 15 minutes).",
    responses={
        401: {"description": "Wrong username or password"},
        429: {"description": "Too many failed logins: retry after the Retry-After seconds"},
    },
)
def login(request: Request, db: DB, form: Annotated[OAuth2PasswordRequestForm, Depends()]):
    client = request.client.host if request.client else "unknown"
    done = log_in(db, form.username, form.password, client, now=request.app.state.clock())
    if done is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    settings = request.app.state.settings
    return Token(
        access_token=issue_token(
            done.actor,
            request.app.state.signing_key,
            settings.token_ttl_minutes,
            version=done.token_version,
        )
    )


@router.get("/me", response_model=Me, summary="Who am I")
def me(actor: CurrentActor, db: DB):
    point = None
    if actor.holder_id is not None:
        with db.reading() as session:
            point = queries.holder_code(session, actor.holder_id)
    return Me(username=actor.username, role=actor.role, service_point=point)
