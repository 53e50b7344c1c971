"""The console's routes: what any page does when something stands in its way.

`ConsoleRoute` turns what a page handler did not handle itself into a page a
person can read, instead of the API's JSON problems: no session → the
sign-in page (and back), a form without its CSRF token → refused, a domain
error (say a document number of another point: not found) → an error page
with the service's words and the right status.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from api.web import i18n, pages, render
from api.web.i18n import N_
from api.web.problems import explain, status_of
from ledger.browser_sessions import LOCALES, SignedIn
from ledger.errors import LedgerError

SIGN_IN_PATH = "/ui/sign-in"
LANGUAGE_COOKIE = "aftersales_language"  # the language chosen before signing in

EXPIRED_FORM = N_(
    "This form was not sent from your current session (it may have expired, or come from "
    "another site). Nothing was changed: reload the page and try again."
)


class SignInRequired(Exception):
    """No live session: the reader is sent to the sign-in page (and back after)."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class CsrfRefused(Exception):
    """A POST without this session's CSRF token: forged, or from a stale page."""


def safe_next(target: str | None) -> str:
    """Only a path of this console: never another site after signing in."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return "/"
    return target


def sign_in_redirect(request: Request, next_url: str) -> Response:
    target = f"{SIGN_IN_PATH}?next={quote(safe_next(next_url))}"
    if render.is_htmx(request):  # htmx follows this header with a full page load
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def reader_locale(request: Request) -> str:
    me = getattr(request.state, "me", None)
    if me is not None:
        return me.locale
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LOCALES else i18n.DEFAULT_LOCALE


def refusal_page(request: Request, me: SignedIn | None, error: LedgerError) -> Response:
    """A service's refusal of a page (another point's document: not found; a
    role's: forbidden) as an error page with the service's words."""
    with i18n.speaking(me.locale if me is not None else reader_locale(request)):
        problem = explain(error)
        return error_page(request, status_of(error), problem.title, problem.detail)


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    me = getattr(request.state, "me", None)
    context = {"title": title, "detail": detail, "status": status}
    if me is not None:
        return pages.page(request, me, "error.html", status_code=status, **context)
    return render.html(
        request,
        "error.html",
        {"me": None, "locale": reader_locale(request), **context},
        status_code=status,
    )


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as missing:
                return sign_in_redirect(request, missing.next_url)
            except CsrfRefused:
                with i18n.speaking(reader_locale(request)):
                    return error_page(request, 403, i18n._("Refused"), i18n.gettext(EXPIRED_FORM))
            except LedgerError as error:
                return refusal_page(request, getattr(request.state, "me", None), error)

        return console_handler


def console_router(**kwargs) -> APIRouter:
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False, **kwargs)
