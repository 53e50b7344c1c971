"""The HTTP door: FastAPI app with OpenAPI docs at /docs."""

from __future__ import annotations

from fastapi import FastAPI

from api import problems
from api.routes import auth, ledger, masterdata, users
from api.security import UserStateCache
from ledger.db import Database
from ledger.settings import Settings, get_settings
from ledger.types import utcnow

DESCRIPTION = """
The after-sales ledger of parts, serialized handsets and money.

Log in with **Authorize** (username and password; the demo users are listed in
the README). Amounts are integers in the commodity's smallest unit: units for
parts and handsets, fen for CNY. Positive amounts are debits (into an account),
negative amounts credits (out of it). Every write accepts an `Idempotency-Key`.
Errors are RFC 9457 problem details.
"""


def create_app(db: Database | None = None, settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="aftersales", version="0.1.0", description=DESCRIPTION)
    app.state.settings = settings
    app.state.signing_key = settings.signing_key()
    app.state.db = db or Database.from_url(settings.database_url)
    # Per process: what each token's user is now, trusted for a few seconds.
    app.state.user_cache = UserStateCache(settings.user_cache_seconds)
    app.state.clock = utcnow  # the login throttle's clock; tests may move it
    problems.install(app)
    app.include_router(auth.router)
    app.include_router(ledger.router)
    app.include_router(masterdata.router)
    app.include_router(users.router)

    @app.get("/health", tags=["ops"], summary="Liveness (no login needed)")
    def health():
        return {"status": "ok"}

    return app
