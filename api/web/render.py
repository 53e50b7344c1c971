"""Templates: one Jinja2 environment, pages rendered in the reader's language.

`page(...)` renders a whole page, or only a fragment when htmx asked for one
(a table refreshed, a form re-shown with its problems). Every console
response carries a strict Content-Security-Policy: scripts and styles come
from the console's own static files, never inline and never from elsewhere.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.web import i18n

TEMPLATES = Path(__file__).parent / "templates"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _word(value, context: str | None = None) -> str:
    """An enum value (a state, a kind) in the reader's language, in the
    context of what it describes where that matters (`| word("count")`,
    marked with `NC_`); untranslated (English), its words: `partly_received`
    reads "partly received"."""
    if value is None:
        return ""
    text = str(value)
    said = i18n.pgettext(context, text) if context else text
    if said == text:
        said = i18n.gettext(text)
    return said.replace("_", " ") if said == text else said


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
environment.filters.update(
    money=i18n.money,
    number=i18n.number,
    day=i18n.day,
    moment=i18n.moment,
    percent=i18n.percent,
    word=_word,
)


def is_htmx(request: Request) -> bool:
    """htmx asked for a fragment; a boosted link or form (hx-boost) asks for
    the whole page, which htmx swaps in itself."""
    headers = request.headers
    return headers.get("HX-Request") == "true" and headers.get("HX-Boosted") != "true"


def new_form_key() -> str:
    """The idempotency key a rendered form carries: submitting it twice (a
    double click, a retry after a timeout) does the action once."""
    return "web-" + secrets.token_urlsafe(18)


def html(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    signed_in = context.get("me")
    locale = signed_in.locale if signed_in is not None else context.get("locale")
    zone = getattr(request.app.state, "business_zone", None)
    with i18n.speaking(locale or i18n.DEFAULT_LOCALE, zone):
        values = {**context, "locale": i18n.current_locale()}
        body = environment.get_template(template).render(
            request=request, new_form_key=new_form_key, **values
        )
    response = HTMLResponse(body, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    if headers:
        response.headers.update(headers)
    return response
