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
    """The error as a page; to htmx, as a card in place of the page's main
    part (never a whole page swapped into a form)."""
    me = getattr(request.state, "me", None)
    context = {"title": title, "detail": detail, "status": status}
    template, headers = "error.html", None
    if render.is_htmx(request):
        template, headers = "_error.html", {"HX-Retarget": "main", "HX-Reswap": "innerHTML"}
    if me is not None:
        return pages.page(request, me, template, status_code=status, headers=headers, **context)
    return render.html(
        request,
        template,
        {"me": None, "locale": reader_locale(request), **context},
        status_code=status,
        headers=headers,
    )


NOT_A_PAGE = N_("There is no such page in the console.")
NOT_VALID = N_("The address is not valid: %(problem)s")


def install_error_pages(app) -> None:
    """A console address the router does not know, or whose query the
    framework refuses, answers with a page too; the API's stay problems."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    api_http_error = app.exception_handlers[HTTPException]
    api_invalid = app.exception_handlers[RequestValidationError]

    def console(request: Request) -> bool:
        path = request.url.path
        return path in ("/", "/ui") or path.startswith("/ui/")

    async def http_error(request: Request, exc: HTTPException):
        if not console(request) or exc.status_code not in (404, 405):
            return await api_http_error(request, exc)
        with i18n.speaking(reader_locale(request)):
            return error_page(request, 404, i18n._("Not found"), i18n.gettext(NOT_A_PAGE))

    async def invalid(request: Request, exc: RequestValidationError):
        if not console(request):
            return await api_invalid(request, exc)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": ""}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "query"
        with i18n.speaking(reader_locale(request)):
            detail = i18n.gettext(NOT_VALID) % {"problem": f"{where}: {first.get('msg', '')}"}
            return error_page(request, 422, i18n._("Please check what you entered"), detail)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)


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
