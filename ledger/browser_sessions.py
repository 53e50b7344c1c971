"""Signed-in browsers of the web console, kept server-side.

A sign-in (through the same throttled `logins.log_in` as the API) opens a row
here; the browser's cookie holds a random token whose SHA-256 is the row's
key. A session ends on sign-out, after `idle` without a request, at its
absolute expiry, or when its user changes (deactivated, role or password
changed: the token version moves on). Each session carries the CSRF token
that every form it posts must echo back.

`last_seen_at` is written at most once a minute per session, so reading
pages costs no write lock on SQLite.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ledger.errors import InvalidInput
from ledger.models import BrowserSession, User
from ledger.policy import Actor
from ledger.types import utcnow
from ledger.users import actor_of

TOUCH_EVERY = timedelta(minutes=1)
# Languages the console speaks (gettext locales); the first is the default.
LOCALES = ("zh_CN", "en")
TOKEN_MAX = 128


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a browser session is, as of this request."""

    actor: Actor
    csrf_token: str
    locale: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    session: Session,
    username: str,
    token_version: int,
    *,
    lifetime: timedelta,
    now: datetime | None = None,
) -> str:
    """A new session for a user just signed in; returns the cookie's token."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        BrowserSession(
            token_hash=_hash(token),
            username=username,
            token_version=token_version,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    # Sessions that ended long ago go with any sign-in: the table stays small.
    session.execute(delete(BrowserSession).where(BrowserSession.expires_at < now))
    return token


def find(
    session: Session, token: str | None, *, idle: timedelta, now: datetime | None = None
) -> tuple[SignedIn | None, bool]:
    """(the session's user, whether its last-seen time is due to be written),
    or (None, False) when the token names no live session of an active user."""
    if not token or len(token) > TOKEN_MAX:
        return None, False
    now = now or utcnow()
    row = session.execute(
        select(BrowserSession, User)
        .join(User, User.username == BrowserSession.username)
        .where(BrowserSession.token_hash == _hash(token))
    ).one_or_none()
    if row is None:
        return None, False
    browser, user = row
    if (
        browser.expires_at <= now
        or now - browser.last_seen_at >= idle
        or not user.active
        or user.token_version != browser.token_version
    ):
        return None, False
    signed_in = SignedIn(
        actor=actor_of(user),
        csrf_token=browser.csrf_token,
        locale=user.locale if user.locale in LOCALES else LOCALES[0],
    )
    return signed_in, now - browser.last_seen_at >= TOUCH_EVERY


def touch(session: Session, token: str, *, now: datetime | None = None) -> None:
    session.execute(
        update(BrowserSession)
        .where(BrowserSession.token_hash == _hash(token))
        .values(last_seen_at=now or utcnow())
    )


def close(session: Session, token: str | None) -> None:
    """Sign out: the session is gone, its cookie worth nothing (twice is harmless)."""
    if token and len(token) <= TOKEN_MAX:
        session.execute(delete(BrowserSession).where(BrowserSession.token_hash == _hash(token)))


def tokens_match(expected: str | None, sent: str | None) -> bool:
    """A constant-time comparison that any text may be fed (bytes: compare_digest
    refuses non-ASCII str)."""
    if not expected or not sent:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode("utf-8", "surrogatepass"))


def csrf_matches(signed_in: SignedIn, sent: str | None) -> bool:
    return tokens_match(signed_in.csrf_token, sent)


def set_locale(session: Session, actor: Actor, locale: str) -> str:
    """The console's language for the signed-in user, remembered on their user."""
    if locale not in LOCALES:
        raise InvalidInput(
            f"unknown language {locale!r}: one of {', '.join(LOCALES)}", field="locale"
        )
    session.execute(update(User).where(User.username == actor.username).values(locale=locale))
    return locale
