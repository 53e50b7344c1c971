"""What every route needs: the database, and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.security import CurrentActor, current_actor
from ledger.db import Database


def get_db(request: Request) -> Database:
    return request.app.state.db


DB = Annotated[Database, Depends(get_db)]

__all__ = ["DB", "CurrentActor", "current_actor", "get_db"]
