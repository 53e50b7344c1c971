"""Path and query parameters: the lengths and patterns the server enforces,
checked (422) before anything reaches the database, and documented in OpenAPI.

Patterns are pydantic's, compiled by its Rust regex engine, where `$` is the
end of the text: a trailing newline does not match.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import Header, Path, Query
from pydantic import BeforeValidator

from ledger import codes

# The ledger's code rules (ledger/codes.py), anchored.
HOLDER_CODE = f"^{codes.HOLDER}$"
PURPOSE = f"^{codes.PURPOSE}$"
COMMODITY_CODE = f"^{codes.COMMODITY}$"
ACCOUNT_CODE = codes.ACCOUNT_PATTERN
SERIAL = codes.SERIAL_PATTERN
# A paging cursor is opaque: printable ASCII without spaces.
CURSOR = r"^[!-~]+$"

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date_only(value: Any) -> Any:
    """Refuse what pydantic would otherwise read as a date: `0` (a Unix time)."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]

AccountCode = Annotated[
    str,
    Path(
        min_length=5,
        max_length=120,
        pattern=ACCOUNT_CODE,
        description="HOLDER:PURPOSE:COMMODITY",
        examples=["HQ:STOCK:X1-LCD"],
    ),
]
SerialNumber = Annotated[
    str,
    Path(min_length=1, max_length=40, pattern=SERIAL, examples=["860000000000042"]),
]
After = Annotated[
    str | None,
    Query(min_length=1, max_length=120, description="Code to start after (paging)"),
]
HolderFilter = Annotated[
    str | None, Query(min_length=1, max_length=40, pattern=HOLDER_CODE, examples=["SP-0001"])
]
CommodityFilter = Annotated[
    str | None, Query(min_length=1, max_length=24, pattern=COMMODITY_CODE, examples=["X1-LCD"])
]
PurposeFilter = Annotated[
    str | None, Query(min_length=1, max_length=24, pattern=PURPOSE, examples=["STOCK"])
]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        pattern=CURSOR,
        description="`next_cursor` of the previous page",
    ),
]
Limit = Annotated[int, Query(ge=1, le=1000)]
HolderCode = Annotated[
    str,
    Path(min_length=1, max_length=40, pattern=HOLDER_CODE, examples=["SP-0001"]),
]
# A region, province or city: one line of printable text, no space at either end.
PlaceFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=40,
        pattern=r"^[^\x00-\x1f\x7f\s](?:[^\x00-\x1f\x7f]{0,38}[^\x00-\x1f\x7f\s])?$",
    ),
]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Retrying with the same key does nothing new and returns the first result",
    ),
]
