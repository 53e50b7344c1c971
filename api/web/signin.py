"""Signing in and out of the console, and what every console request checks.

- The session cookie is HttpOnly, SameSite=Lax and (by default) Secure; it
  holds a random token, the server the session (ledger/browser_sessions.py).
- Every POST carries the session's CSRF token (a hidden `csrf_token` field, or
  the `X-CSRF-Token` header htmx sends): a synchronizer token, checked before
  the form is read any further. The sign-in form, before there is a session,
  uses a double-submit cookie instead.
- Sign-in goes through the API's own throttled `logins.log_in`.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from api.web import i18n, render
from api.web.route import (
    LANGUAGE_COOKIE,
    SIGN_IN_PATH,
    CsrfRefused,
    SignInRequired,
    console_router,
    reader_locale,
    safe_next,
)
from ledger import browser_sessions
from ledger.browser_sessions import LOCALES, SignedIn
from ledger.errors import InvalidInput, TooManyAttempts
from ledger.logins import log_in

SESSION_COOKIE = "aftersales_session"
SIGN_IN_COOKIE = "aftersales_sign_in"  # the sign-in form's double-submit CSRF token
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def _settings(request: Request):
    return request.app.state.settings


def _set_cookie(request: Request, response: Response, name: str, value: str, **kwargs) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=_settings(request).console_secure_cookies,
        path="/",
        **kwargs,
    )


def _find(request: Request, token: str) -> SignedIn | None:
    settings = _settings(request)
    db = request.app.state.db
    idle = timedelta(minutes=settings.console_idle_minutes)
    now = request.app.state.clock()
    with db.reading() as session:
        found, due = browser_sessions.find(session, token, idle=idle, now=now)
    if found is not None and due:
        db.transact(lambda s: browser_sessions.touch(s, token, now=now))
    return found


async def current_user(request: Request) -> SignedIn:
    token = request.cookies.get(SESSION_COOKIE)
    found = await run_in_threadpool(_find, request, token) if token else None
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target if request.method == "GET" else "/")
    request.state.me = found  # for the error pages of ConsoleRoute
    return found


Me = Annotated[SignedIn, Depends(current_user)]


async def checked_form(request: Request, me: Me) -> FormData:
    """The posted form, once its CSRF token proved it came from this session's page."""
    form = await request.form()
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not browser_sessions.csrf_matches(me, sent if isinstance(sent, str) else None):
        raise CsrfRefused()
    return form


Form = Annotated[FormData, Depends(checked_form)]

router = console_router()


_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def cookies_would_be_dropped(request: Request) -> bool:
    """Secure cookies over plain HTTP to a host other than this machine: the
    browser keeps none, and signing in would seem to do nothing."""
    return (
        _settings(request).console_secure_cookies
        and request.url.scheme == "http"
        and (request.url.hostname or "") not in _LOOPBACK
    )


def _sign_in_page(
    request: Request, *, next_url: str, username: str = "", problem: str | None = None, status=200
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render.html(
        request,
        "sign_in.html",
        {
            "me": None,
            "locale": reader_locale(request),
            "sign_in_token": token,
            "next_url": safe_next(next_url),
            "username": username,
            "problem": problem,
            "insecure": cookies_would_be_dropped(request),
        },
        status_code=status,
    )
    _set_cookie(request, response, SIGN_IN_COOKIE, token, max_age=3600)
    return response


@router.get(SIGN_IN_PATH)
def sign_in_page(request: Request, next: str = "/"):
    return _sign_in_page(request, next_url=next)


@router.post(SIGN_IN_PATH)
async def sign_in(request: Request):
    form = await request.form()
    username = str(form.get("username") or "")
    password = str(form.get("password") or "")
    next_url = safe_next(str(form.get("next") or "/"))
    sent = form.get(CSRF_FIELD)
    expected = request.cookies.get(SIGN_IN_COOKIE)
    locale = reader_locale(request)
    with i18n.speaking(locale):
        if not browser_sessions.tokens_match(expected, sent if isinstance(sent, str) else None):
            return _sign_in_page(
                request,
                next_url=next_url,
                username=username,
                problem=i18n._("The sign-in form had expired. Please sign in again."),
                status=403,
            )
        client = request.client.host if request.client else "unknown"
        try:
            done = await run_in_threadpool(
                log_in,
                request.app.state.db,
                username,
                password,
                client,
                now=request.app.state.clock(),
            )
        except TooManyAttempts as refused:
            message = i18n._(
                "Too many failed sign-ins. Try again in %(seconds)s seconds, "
                "or ask an administrator to reset your password."
            ) % {"seconds": refused.retry_after}
            return _sign_in_page(
                request, next_url=next_url, username=username, problem=message, status=429
            )
        except InvalidInput:
            done = None
        if done is None:
            return _sign_in_page(
                request,
                next_url=next_url,
                username=username,
                problem=i18n._("Wrong username or password."),
                status=401,
            )
    settings = _settings(request)
    lifetime = timedelta(hours=settings.console_session_hours)
    now = request.app.state.clock()
    db = request.app.state.db

    previous = request.cookies.get(SESSION_COOKIE)

    def _open(session):
        browser_sessions.close(session, previous)  # a sign-in replaces this browser's session
        token = browser_sessions.open_session(
            session, done.actor.username, done.token_version, lifetime=lifetime, now=now
        )
        # A language picked on the sign-in page becomes the user's own.
        if request.cookies.get(LANGUAGE_COOKIE) in LOCALES:
            browser_sessions.set_locale(session, done.actor, request.cookies[LANGUAGE_COOKIE])
        return token

    token = await run_in_threadpool(db.transact, _open)
    response = RedirectResponse(next_url, status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, token, max_age=int(lifetime.total_seconds()))
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return response


@router.post("/ui/sign-out")
async def sign_out(request: Request, form: Form):
    token = request.cookies.get(SESSION_COOKIE)
    await run_in_threadpool(
        request.app.state.db.transact, lambda s: browser_sessions.close(s, token)
    )
    response = RedirectResponse(SIGN_IN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/ui/language")
async def choose_language(request: Request):
    """Switch the console's language: remembered on the user when signed in,
    in a cookie on the sign-in page."""
    form = await request.form()
    locale = str(form.get("locale") or "")
    back = safe_next(str(form.get("back") or "/"))
    if locale not in LOCALES:
        locale = i18n.DEFAULT_LOCALE
    token = request.cookies.get(SESSION_COOKIE)
    me = await run_in_threadpool(_find, request, token) if token else None
    if me is not None:
        sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
        if not browser_sessions.csrf_matches(me, sent if isinstance(sent, str) else None):
            raise CsrfRefused()
        await run_in_threadpool(
            request.app.state.db.transact,
            lambda s: browser_sessions.set_locale(s, me.actor, locale),
        )
    response = RedirectResponse(back, status_code=303)
    _set_cookie(request, response, LANGUAGE_COOKIE, locale, max_age=365 * 24 * 3600)
    return response
