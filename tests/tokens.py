"""Tokens for tests: a user in the database and a token for them, without a
login (and without hashing a password), as a logged-in user would hold."""

from __future__ import annotations

from sqlalchemy import select

from api.security import issue_token
from ledger.db import Database
from ledger.models import Holder, Role, User
from ledger.policy import Actor
from ledger.types import utcnow

SECRET = "test-signing-key-of-sufficient-length"


def ensure_user(db: Database, username: str, role: Role, point: str | None = None) -> Actor:
    """The user, added if missing (with a password hash that matches none)."""

    def work(session) -> Actor:
        holder_id = None
        if point:
            holder_id = session.scalar(select(Holder.id).where(Holder.code == point))
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(
                username=username,
                password_hash="!",
                role=role,
                holder_id=holder_id,
                active=True,
                created_at=utcnow(),
                token_version=0,
            )
            session.add(user)
            session.flush()
        return Actor(user.username, Role(user.role), user.holder_id)

    return db.transact(work)


def bearer(
    db: Database, role: Role, point: str | None = None, *, username: str | None = None
) -> dict[str, str]:
    """Authorization header of a user of `role` (bound to `point`), who exists."""
    username = username or (f"{role.value}-{point}" if point else f"{role.value}-user")
    actor = ensure_user(db, username, role, point)
    with db.reading() as session:
        version = session.scalar(select(User.token_version).where(User.username == username))
    token = issue_token(actor, SECRET, 5, version=version)
    return {"Authorization": f"Bearer {token}"}
