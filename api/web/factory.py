"""The console's factory-return pages."""

from __future__ import annotations

from api.web.route import console_router

router = console_router()
