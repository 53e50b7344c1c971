"""Identities → roles. OAuth2 password flow: a login checks the password once
and returns a signed token (JWT, HS256); every request then only verifies the
signature, so no password hashing happens on the hot path."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from ledger.models import Role
from ledger.policy import Actor
from ledger.types import utcnow

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token")
_ALGORITHM = "HS256"


def issue_token(actor: Actor, key: str, ttl_minutes: int) -> str:
    claims = {
        "sub": actor.username,
        "role": actor.role.value,
        "exp": utcnow() + timedelta(minutes=ttl_minutes),
    }
    if actor.holder_id is not None:
        claims["point"] = actor.holder_id
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def current_actor(request: Request, token: Annotated[str, Depends(oauth2_scheme)]) -> Actor:
    # async: checking the signature is under 0.1 ms of CPU, less than handing
    # it to a worker thread and back on every request costs the event loop.
    try:
        claims = jwt.decode(token, request.app.state.signing_key, algorithms=[_ALGORITHM])
        return Actor(claims["sub"], Role(claims["role"]), claims.get("point"))
    except jwt.ExpiredSignatureError:
        raise _unauthorized("the token has expired; log in again") from None
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise _unauthorized("the token is not valid; log in again") from None


CurrentActor = Annotated[Actor, Depends(current_actor)]
