"""The HTTP door: FastAPI app with OpenAPI docs at /docs and /redoc.

The docs pages load Swagger UI and ReDoc from the installed `fastapi-offline`
package, never from a CDN: users sit on intranets without internet.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api import openapi, problems, web
from api.hygiene import Hygiene
from api.routes import (
    auth,
    catalog,
    counts,
    factory,
    jobs,
    ledger,
    locations,
    masterdata,
    money,
    parts,
    planning,
    purchasing,
    repairs,
    settlement,
    stock,
    suppliers,
    users,
    warranty,
)
from api.security import UserStateCache
from ledger import jobs as job_runner
from ledger.db import Database
from ledger.journal import EntryIn
from ledger.settings import Settings, get_settings
from ledger.types import utcnow

DESCRIPTION = """
The after-sales ledger of parts, serialized handsets and money.

Log in with **Authorize** (username and password; the demo users are listed in
the README). Amounts are integers in the commodity's smallest unit: units for
parts and handsets, fen for CNY. Positive amounts are debits (into an account),
negative amounts credits (out of it). Every write accepts an `Idempotency-Key`.
Errors are RFC 9457 problem details (`application/problem+json`). A request
body may be at most `AFTERSALES_MAX_BODY_BYTES` (8 MiB by default; 413 past it).
"""

STATIC_URL = "/static-offline-docs"
STATIC_DIR = Path(fastapi_offline.__file__).parent / "static"


class AftersalesAPI(FastAPI):
    """FastAPI whose outermost layer is the door's hygiene (api/hygiene.py), so
    even the framework's own error answers carry its headers."""

    max_body_bytes: int = 8 * 1024 * 1024

    def build_middleware_stack(self):
        return Hygiene(
            super().build_middleware_stack(),
            max_body_bytes=self.max_body_bytes,
            static_prefixes=(STATIC_URL + "/", web.STATIC_URL + "/"),
        )


def _offline_docs(app: FastAPI) -> None:
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static-offline-docs")
    oauth2_redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_redirect}",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )


def create_app(db: Database | None = None, settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = AftersalesAPI(
        title="aftersales",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    app.max_body_bytes = settings.max_body_bytes
    app.state.settings = settings
    app.state.signing_key = settings.signing_key()
    app.state.db = db or Database.from_url(settings.database_url)
    # Per process: what each token's user is now, trusted for a few seconds.
    app.state.user_cache = UserStateCache(settings.user_cache_seconds)
    app.state.clock = utcnow  # the login throttle's clock; tests may move it
    problems.install(app)
    _offline_docs(app)
    app.include_router(auth.router)
    app.include_router(ledger.router)
    app.include_router(masterdata.router)
    app.include_router(users.router)
    app.include_router(locations.router)
    app.include_router(stock.router)
    app.include_router(catalog.router)
    app.include_router(suppliers.router)
    app.include_router(parts.router)
    app.include_router(purchasing.router)
    app.include_router(factory.router)
    app.include_router(counts.router)
    app.include_router(warranty.router)
    app.include_router(repairs.router)
    app.include_router(money.router)
    app.include_router(settlement.router)
    app.include_router(planning.router)
    # The kinds a job may be started as (their work runs in `aftersales worker`).
    job_runner.load_kinds(settings=settings)
    app.include_router(jobs.router)

    # The web console at / (api/web/): pages for every role, on the same services.
    web.install(app)

    @app.get("/health", tags=["ops"], summary="Liveness (no login needed)")
    def health():
        return {"status": "ok"}

    # Entries are read by their routes themselves (api/routes/ledger.py).
    openapi.describe(app, extra_schemas=(EntryIn,))
    return app
