"""Users and their roles. Passwords are hashed with Argon2 (pwdlib); only a
login verifies one, so requests carrying a token pay nothing for it."""

from __future__ import annotations

from pwdlib import PasswordHash
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import Duplicate, InvalidEntry
from ledger.masterdata import get_holder
from ledger.models import HolderKind, Role, User
from ledger.policy import Actor
from ledger.types import utcnow

_hasher = PasswordHash.recommended()


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role | str,
    *,
    service_point: str | None = None,
) -> User:
    role = Role(role)
    if len(password) < 8:
        raise InvalidEntry("a password needs at least 8 characters", field="password")
    if session.scalar(select(User.id).where(User.username == username)):
        raise Duplicate(f"user {username} already exists", field="username")
    holder_id = None
    if role is Role.SERVICE_POINT:
        if not service_point:
            raise InvalidEntry(
                "a service-point user must be bound to a point", field="service_point"
            )
        holder = get_holder(session, service_point)
        if holder.kind != HolderKind.SERVICE_POINT:
            raise InvalidEntry(f"{service_point} is not a service point", field="service_point")
        holder_id = holder.id
    elif service_point:
        raise InvalidEntry("only a service-point user is bound to a point", field="service_point")
    user = User(
        username=username,
        password_hash=_hasher.hash(password),
        role=role,
        holder_id=holder_id,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> Actor | None:
    user = session.scalar(select(User).where(User.username == username, User.active))
    if user is None:
        _hasher.hash(password)  # same time whether or not the user exists
        return None
    if not _hasher.verify(password, user.password_hash):
        return None
    return Actor(user.username, Role(user.role), user.holder_id)
