"""Stock: a location's parts with on hand, reserved, available, in transit,
defective and value. A service point sees its own; staff pick a location.

The pattern of every list page: filters are a GET form whose fields are the
query string, the service pages on the server (`after`), and htmx swaps only
the table (`#results`) as the filters change.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

from api.web import render
from api.web.home import own_point
from api.web.pages import page
from api.web.problems import explain
from api.web.route import console_router
from api.web.signin import Me
from ledger.errors import LedgerError
from ledger.parts import stock

router = console_router()

PAGE = 50


@router.get("/ui/stock")
def stock_page(
    request: Request,
    me: Me,
    location: str | None = None,
    sku: str | None = None,
    after: str | None = None,
    include_zero: bool = False,
):
    problem = None
    result = None
    with request.app.state.db.reading() as session:
        point = own_point(session, me.actor)
        code = point or (location or "").strip().upper() or None
        if code:
            try:
                result = stock.location_stock(
                    session, me.actor, code, sku=(sku or "").strip() or None, after=after,
                    limit=PAGE, include_zero=include_zero,
                )  # fmt: skip
            except LedgerError as error:
                problem = explain(error)
    filters = {"location": code or "", "sku": sku or "", "include_zero": include_zero}
    next_url = None
    if result is not None and result.next_after:
        query = {k: v for k, v in filters.items() if v} | {"after": result.next_after}
        next_url = "/ui/stock?" + urlencode(query)
    template = "stock/_table.html" if render.is_htmx(request) else "stock/page.html"
    return page(
        request, me, template, result=result, filters=filters, fixed_location=point,
        next_url=next_url, problem=problem, status_code=404 if problem else 200,
    )  # fmt: skip
