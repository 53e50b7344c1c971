"""Logging in, throttled per (username, client).

Five failed logins of one username from one client within 15 minutes lock
that pair: for 60 seconds, doubling with every further failure, at most 15
minutes. While locked, a login is refused without looking at the password,
even the right one; a successful login clears the pair. The count lives in the
database (`login_failure`), so every worker process sees the same one.

An attempt is counted *before* its password is checked and uncounted when it
proves right: a burst of parallel guesses cannot slip past the lock while the
(slow, Argon2) checks run, and the check itself holds no write lock.
Unknown usernames are counted like known ones, so the throttle does not tell
which users exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_
from sqlalchemy.orm import Session

from ledger.db import Database
from ledger.errors import InvalidInput, TooManyAttempts
from ledger.models import LoginFailure
from ledger.policy import Actor
from ledger.types import utcnow
from ledger.users import USERNAME_MAX, actor_of, verify_password

THRESHOLD = 5
WINDOW = timedelta(minutes=15)
FIRST_LOCK_SECONDS = 60
MAX_LOCK_SECONDS = 15 * 60
CLIENT_MAX = 64


@dataclass(frozen=True, slots=True)
class Login:
    actor: Actor
    token_version: int


def lock_seconds(failures: int) -> int:
    """How long the `failures`-th failure locks the pair (0 below the threshold)."""
    if failures < THRESHOLD:
        return 0
    doublings = min(failures - THRESHOLD, 16)
    return min(FIRST_LOCK_SECONDS * 2**doublings, MAX_LOCK_SECONDS)


def _stale(row: LoginFailure, now: datetime) -> bool:
    # Unlocked: the 15 minutes since the first failure have passed. Locked: 15
    # quiet minutes since the lock ended (until then, a failure locks longer).
    return now - (row.locked_until or row.first_failed_at) > WINDOW


def _purge(session: Session, now: datetime) -> None:
    """Forget pairs that would start from zero anyway."""
    cutoff = now - WINDOW
    session.execute(
        delete(LoginFailure).where(
            or_(
                and_(LoginFailure.locked_until.is_(None), LoginFailure.first_failed_at < cutoff),
                LoginFailure.locked_until < cutoff,
            )
        )
    )


def begin_attempt(session: Session, username: str, client: str, now: datetime) -> None:
    """Refuse a locked pair (TooManyAttempts), else count this attempt as failed."""
    row = session.get(LoginFailure, (username, client), with_for_update=True)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        wait = max(1, math.ceil((row.locked_until - now).total_seconds()))
        raise TooManyAttempts(
            f"too many failed logins for {username} from this client; "
            f"try again in {wait} seconds or ask an admin to reset the password",
            retry_after=wait,
        )
    if row is None:
        _purge(session, now)
        row = LoginFailure(username=username, client=client, failures=0, first_failed_at=now)
        session.add(row)
    elif _stale(row, now):
        row.failures, row.first_failed_at, row.locked_until = 0, now, None
    row.failures += 1
    if row.failures >= THRESHOLD:
        row.locked_until = now + timedelta(seconds=lock_seconds(row.failures))
    session.flush()


def clear(session: Session, username: str, client: str) -> None:
    session.execute(
        delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.client == client)
    )


def check_login_name(username: str) -> None:
    """What any stored username fits: refused before the database sees it."""
    if not 1 <= len(username) <= USERNAME_MAX or "\x00" in username:
        raise InvalidInput(
            f"a username has 1 to {USERNAME_MAX} characters and no NUL byte", field="username"
        )


def log_in(
    db: Database, username: str, password: str, client: str, *, now: datetime | None = None
) -> Login | None:
    """The login for this password, None when wrong; TooManyAttempts while locked.

    Three short units of work, not one: the Argon2 check (tens of ms) must not
    hold SQLite's write lock.
    """
    check_login_name(username)
    client = (client or "unknown")[:CLIENT_MAX]
    now = now or utcnow()
    db.transact(lambda s: begin_attempt(s, username, client, now))
    with db.reading() as session:
        user = verify_password(session, username, password)
        login = Login(actor_of(user), user.token_version) if user is not None else None
    if login is not None:
        db.transact(lambda s: clear(s, username, client))
    return login
