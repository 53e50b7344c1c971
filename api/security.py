"""Identities → roles. OAuth2 password flow: a login checks the password once
and returns a signed token (JWT, HS256) that names the user, role, point and
the user's token version, and expires.

A token is honoured only while its user exists, is active and still has that
role, point and version. That is checked against a small per-process cache
of user states with a short TTL (`AFTERSALES_USER_CACHE_SECONDS`), so a
request costs a database look-up only once per user per TTL and worker; a
deactivation or role change reaches every worker within the TTL, at once on
the worker that made it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from ledger.db import Database
from ledger.models import Role
from ledger.policy import Actor
from ledger.types import utcnow
from ledger.users import TokenState, token_state

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token")
_ALGORITHM = "HS256"
_REQUIRED = ["exp", "sub", "role", "ver"]


def issue_token(actor: Actor, key: str, ttl_minutes: int, *, version: int = 0) -> str:
    claims = {
        "sub": actor.username,
        "role": actor.role.value,
        "ver": version,
        "exp": utcnow() + timedelta(minutes=ttl_minutes),
    }
    if actor.holder_id is not None:
        claims["point"] = actor.holder_id
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


class UserStateCache:
    """username → (TokenState or None, when read), trusted for `ttl` seconds.

    One per app (app.state.user_cache), so one per worker process. Bounded:
    when full, what has expired goes, and if nothing has, everything.
    """

    def __init__(
        self, ttl: float, *, clock: Callable[[], float] = time.monotonic, max_entries=10_000
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, TokenState | None]] = {}

    def get(self, username: str) -> tuple[bool, TokenState | None]:
        hit = self._entries.get(username)
        if hit is None or self.clock() - hit[0] >= self.ttl:
            return False, None
        return True, hit[1]

    def put(self, username: str, state: TokenState | None) -> None:
        if self.ttl <= 0:
            return
        now = self.clock()
        if len(self._entries) >= self.max_entries:
            self._entries = {u: e for u, e in self._entries.items() if now - e[0] < self.ttl}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[username] = (now, state)

    def forget(self, username: str) -> None:
        self._entries.pop(username, None)


def _read_state(db: Database, username: str) -> TokenState | None:
    with db.reading() as session:
        return token_state(session, username)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def current_actor(request: Request, token: Annotated[str, Depends(oauth2_scheme)]) -> Actor:
    # async: checking the signature is under 0.1 ms of CPU, less than handing
    # it to a worker thread and back on every request costs the event loop;
    # only a cache miss goes to a thread for its one database look-up.
    try:
        claims = jwt.decode(
            token,
            request.app.state.signing_key,
            algorithms=[_ALGORITHM],
            options={"require": _REQUIRED},
        )
        username, role, point, version = (
            claims["sub"],
            Role(claims["role"]),
            claims.get("point"),
            claims["ver"],
        )
        if type(version) is not int or (point is not None and type(point) is not int):
            raise ValueError("ver and point are integers")
    except jwt.ExpiredSignatureError:
        raise _unauthorized("the token has expired; log in again") from None
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise _unauthorized("the token is not valid; log in again") from None
    cache: UserStateCache = request.app.state.user_cache
    found, state = cache.get(username)
    if not found:
        state = await run_in_threadpool(_read_state, request.app.state.db, username)
        cache.put(username, state)
    if (
        state is None
        or not state.active
        or (state.role, state.holder_id, state.token_version) != (role, point, version)
    ):
        raise _unauthorized(
            "the token no longer matches the user (deactivated, role or password changed); "
            "log in again"
        )
    return Actor(username, role, point)


CurrentActor = Annotated[Actor, Depends(current_actor)]
