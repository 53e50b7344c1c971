"""The web console: a third door beside HTTP and the CLI, server-rendered
(Jinja2 + htmx) from the same app, calling the same services. No business
rule lives here: an import contract keeps these modules off the journal's
write path and away from SQL (pyproject.toml)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_URL = "/ui/static"
STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    from api.web import home, route, signin

    app.state.business_zone = ZoneInfo(app.state.settings.time_zone)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="console-static")
    app.include_router(signin.router)
    for module in _page_modules():
        app.include_router(module.router)
    app.include_router(home.router)
    route.install_error_pages(app)


def _page_modules():
    from api.web import (
        admin,
        factory,
        money,
        planning,
        repairs,
        requisitions,
        shipments,
        stock,
        warehouse,
    )

    return (requisitions, shipments, stock, repairs, factory, warehouse, money, planning, admin)
