"""A signed-in page: the template with the reader, their menu and their forms' tokens."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.web import nav, render
from ledger.browser_sessions import SignedIn


def page(
    request: Request,
    me: SignedIn,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("problem", None)
    return render.html(
        request,
        template,
        {
            "me": me,
            "menu": nav.menu(me.actor.role),
            "role_name": nav.ROLE_NAMES.get(me.actor.role, me.actor.role.value),
            **context,
        },
        status_code=status_code,
        headers=headers,
    )
