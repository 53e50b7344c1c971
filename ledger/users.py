"""Users and their roles. Passwords are hashed with Argon2 (pwdlib); only a
login verifies one, so requests carrying a token pay nothing for it.

A token names its user, role, point and the user's `token_version`; the
version is bumped whenever what a token stands for ends (deactivate,
reactivate, role change, password reset), so every older token is refused.

The admin services take the acting user and check the role themselves; like
every service they take a Session and never commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pwdlib import PasswordHash
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ledger.errors import Duplicate, InvalidInput, NotFound, SelfLockout
from ledger.masterdata import get_holder
from ledger.models import Holder, HolderKind, LoginFailure, Role, User
from ledger.policy import SYSTEM, Actor, require_role
from ledger.types import utcnow

_hasher = PasswordHash.recommended()

USERNAME_MAX = 80
# For OpenAPI and pydantic; the ledger itself checks with re.fullmatch (a `$`
# would also match before a final newline).
USERNAME_PATTERN = r"^[A-Za-z0-9._-]{1,80}$"
_USERNAME = re.compile(r"[A-Za-z0-9._-]{1,80}")
PASSWORD_MIN = 8
PASSWORD_MAX = 1024


def check_username(username: str) -> str:
    # "." and ".." would be path segments in every URL that names the user.
    if (
        not isinstance(username, str)
        or not _USERNAME.fullmatch(username)
        or not username.strip(".")
    ):
        raise InvalidInput(
            f"a username has 1 to {USERNAME_MAX} characters, each a letter, digit, "
            "dot, underscore or hyphen",
            field="username",
        )
    return username


def _check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise InvalidInput(f"a password needs at least {PASSWORD_MIN} characters", field="password")
    if len(password) > PASSWORD_MAX or "\x00" in password:
        raise InvalidInput(
            f"a password has at most {PASSWORD_MAX} characters and no NUL byte",
            field="password",
        )


def _point_binding(session: Session, role: Role, service_point: str | None) -> int | None:
    """The holder a user of `role` is bound to: a point for service_point, none otherwise."""
    if role is Role.SERVICE_POINT:
        if not service_point:
            raise InvalidInput(
                "a service-point user must be bound to a point", field="service_point"
            )
        holder = get_holder(session, service_point)
        if holder.kind != HolderKind.SERVICE_POINT:
            raise InvalidInput(f"{service_point} is not a service point", field="service_point")
        return holder.id
    if service_point:
        raise InvalidInput("only a service-point user is bound to a point", field="service_point")
    return None


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role | str,
    *,
    service_point: str | None = None,
) -> User:
    """Add a user (trusted callers: the demo, the CLI; HTTP goes through add_user)."""
    check_username(username)
    role = Role(role)
    _check_password(password)
    if session.scalar(select(User.id).where(User.username == username)):
        raise Duplicate(f"user {username} already exists", field="username")
    user = User(
        username=username,
        password_hash=_hasher.hash(password),
        role=role,
        holder_id=_point_binding(session, role, service_point),
        active=True,
        created_at=utcnow(),
        token_version=0,
    )
    session.add(user)
    session.flush()
    return user


def verify_password(session: Session, username: str, password: str) -> User | None:
    """The active user with this password, or None (in the same time either way).

    Unthrottled: logins go through ledger.logins.log_in."""
    user = session.scalar(select(User).where(User.username == username, User.active))
    if user is None:
        _hasher.hash(password)  # same time whether or not the user exists
        return None
    if not _hasher.verify(password, user.password_hash):
        return None
    return user


def actor_of(user: User) -> Actor:
    return Actor(user.username, Role(user.role), user.holder_id)


@dataclass(frozen=True, slots=True)
class TokenState:
    """What a token is checked against: the user as they are now."""

    role: Role
    holder_id: int | None
    token_version: int
    active: bool


def token_state(session: Session, username: str) -> TokenState | None:
    """One look-up by the unique username; None for an unknown user."""
    row = session.execute(
        select(User.role, User.holder_id, User.token_version, User.active).where(
            User.username == username
        )
    ).one_or_none()
    if row is None:
        return None
    return TokenState(Role(row.role), row.holder_id, row.token_version, bool(row.active))


# -- administration: admin only -------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as an admin sees them (never the password hash)."""

    username: str
    role: Role
    service_point: str | None
    active: bool
    created_at: datetime


def _info(user: User, point: str | None) -> UserInfo:
    return UserInfo(user.username, Role(user.role), point, bool(user.active), user.created_at)


def _point_code(session: Session, holder_id: int | None) -> str | None:
    if holder_id is None:
        return None
    return session.scalar(select(Holder.code).where(Holder.id == holder_id))


def _get_for_update(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username).with_for_update())
    if user is None:
        raise NotFound(f"no user {username}; list users to see who exists", username=username)
    return user


def _refuse_self(actor: Actor, username: str, what: str) -> None:
    # The CLI (SYSTEM) is the way back in, so it may do anything.
    if actor is not SYSTEM and actor.username == username:
        raise SelfLockout(f"an admin may not {what} themself; ask another admin", username=username)


def add_user(
    session: Session,
    actor: Actor,
    username: str,
    password: str,
    role: Role | str,
    *,
    service_point: str | None = None,
) -> UserInfo:
    require_role(actor, Role.ADMIN)
    user = create_user(session, username, password, role, service_point=service_point)
    return _info(user, service_point if user.holder_id is not None else None)


def list_users(
    session: Session,
    actor: Actor,
    *,
    role: Role | str | None = None,
    active: bool | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[UserInfo]:
    """Users in username order; pass the last username as `after` for the next page."""
    require_role(actor, Role.ADMIN)
    stmt = (
        select(User, Holder.code)
        .outerjoin(Holder, Holder.id == User.holder_id)
        .order_by(User.username)
        .limit(limit)
    )
    if role is not None:
        stmt = stmt.where(User.role == Role(role))
    if active is not None:
        stmt = stmt.where(User.active == active)
    if after:
        stmt = stmt.where(User.username > after)
    return [_info(user, point) for user, point in session.execute(stmt)]


def get_user(session: Session, actor: Actor, username: str) -> UserInfo:
    require_role(actor, Role.ADMIN)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username}; list users to see who exists", username=username)
    return _info(user, _point_code(session, user.holder_id))


def set_active(session: Session, actor: Actor, username: str, active: bool) -> UserInfo:
    """Deactivate or reactivate a user; either way their tokens so far stop counting."""
    require_role(actor, Role.ADMIN)
    if not active:
        _refuse_self(actor, username, "deactivate")
    user = _get_for_update(session, username)
    if bool(user.active) != active:
        user.active = active
        user.token_version += 1
        session.flush()
    return _info(user, _point_code(session, user.holder_id))


def deactivate(session: Session, actor: Actor, username: str) -> UserInfo:
    return set_active(session, actor, username, False)


def reactivate(session: Session, actor: Actor, username: str) -> UserInfo:
    return set_active(session, actor, username, True)


def change_role(
    session: Session,
    actor: Actor,
    username: str,
    role: Role | str,
    *,
    service_point: str | None = None,
) -> UserInfo:
    """A new role (and point binding: a service-point user has exactly one point)."""
    require_role(actor, Role.ADMIN)
    role = Role(role)
    if role is not Role.ADMIN:
        _refuse_self(actor, username, "remove the admin role from")
    user = _get_for_update(session, username)
    holder_id = _point_binding(session, role, service_point)
    if (Role(user.role), user.holder_id) != (role, holder_id):
        user.role = role
        user.holder_id = holder_id
        user.token_version += 1
        session.flush()
    return _info(user, _point_code(session, holder_id))


def reset_password(session: Session, actor: Actor, username: str, password: str) -> UserInfo:
    """A new password; the user's tokens so far and their login throttle end."""
    require_role(actor, Role.ADMIN)
    _check_password(password)
    user = _get_for_update(session, username)
    user.password_hash = _hasher.hash(password)
    user.token_version += 1
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    session.flush()
    return _info(user, _point_code(session, user.holder_id))
