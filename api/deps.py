"""What every route needs: the database, and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.security import CurrentActor, current_actor
from ledger.db import Database


async def get_db(request: Request) -> Database:
    # async: no I/O here, and a sync dependency costs a thread-pool round trip.
    return request.app.state.db


DB = Annotated[Database, Depends(get_db)]

__all__ = ["DB", "CurrentActor", "current_actor", "get_db"]
