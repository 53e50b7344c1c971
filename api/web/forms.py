"""Forms: reading what was typed, doing the action once, showing what went wrong.

The conventions every page follows:

- A form carries `csrf_token` and `key` (`_macros.html: form_tokens`). The key
  is the service's idempotency key: a double-clicked button or a retry after
  a timeout does the action once and shows its first result.
- `act(...)` runs the service in one unit of work. Success redirects (303, or
  `HX-Redirect` for htmx) to the document; a domain error re-renders the form
  with the problem next to the field or line it names, with the error's
  status (htmx swaps these: base.html's `responseHandling`). Nothing is
  half-written: the unit of work rolls back.
- The console checks only that a typed number is a number; every business
  rule (limits, states, stock) is the service's.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.web import i18n, render
from api.web.problems import Problem, explain, message, status_of
from ledger.browser_sessions import SignedIn
from ledger.errors import LedgerError

T = TypeVar("T")

KEY_MAX = 200
CENT = Decimal("0.01")


class FormProblem(Exception):
    """What the console itself found wrong in a form (a number that is no number)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def is_number(text: str | None, *, digits: int = 18) -> bool:
    """Plain ASCII digits, not too many: a line number, a row count, a cursor
    (`str.isdigit` also takes "²", which `int` refuses)."""
    return bool(text) and len(text) <= digits and text.isascii() and text.isdigit()


def key_of(form: FormData) -> str | None:
    key = form.get("key")
    if not isinstance(key, str) or not key or len(key) > KEY_MAX or not key.isprintable():
        return None
    return key


def text(form: FormData, name: str) -> str | None:
    """A text field, stripped; None when empty. The service checks the rest."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def whole_number(
    form: FormData, name: str, *, line: int | None = None, required: bool = True
) -> int | None:
    """A field that must be a whole number (units, fen): the console only
    checks it is one; its range is the service's rule."""
    raw = text(form, name)
    if raw is None:
        if required:
            raise FormProblem(message(i18n._("Enter a whole number."), field=name, line=line))
        return None
    try:
        return int(raw.replace(",", "").replace("，", ""))
    except ValueError:
        raise FormProblem(
            message(i18n._("“%(value)s” is not a whole number.") % {"value": raw[:40]},
                    field=name, line=line)
        ) from None  # fmt: skip


def money_fen(form: FormData, name: str, *, required: bool = True) -> int | None:
    """An amount typed in yuan (12,345.67) as integer fen."""
    raw = text(form, name)
    if raw is None:
        if required:
            raise FormProblem(message(i18n._("Enter an amount."), field=name))
        return None
    cleaned = raw.replace(",", "").replace("，", "").replace("¥", "").strip()
    try:
        amount = Decimal(cleaned) if len(cleaned) <= 40 else None
        exact = amount is not None and amount.is_finite() and amount == amount.quantize(CENT)
    except InvalidOperation:  # past Decimal's precision (1e27 yuan and beyond)
        exact = False
    if not exact:
        raise FormProblem(
            message(
                i18n._("“%(value)s” is not an amount in yuan with at most two decimals.")
                % {"value": raw[:40]},
                field=name,
            )
        )
    return int(amount * 100)


def redirect(request: Request, url: str) -> Response:
    if render.is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def act(
    request: Request,
    me: SignedIn,
    work: Callable[[Any], T],
    *,
    done: Callable[[T], str],
    failed: Callable[[Problem, int], Response],
) -> Response:
    """Do `work(session)` once, in one unit of work; then go to `done(result)`,
    or show `failed(problem, status)` with nothing changed."""
    with i18n.speaking(me.locale):
        try:
            result = request.app.state.db.transact(work)
        except FormProblem as refused:
            return failed(refused.problem, 422)
        except LedgerError as error:
            return failed(explain(error), status_of(error))
    return redirect(request, done(result))
