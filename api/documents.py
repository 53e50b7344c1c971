"""What the doors of every document share: its number in a path and a
page cursor, part lines, a reason, a rejection, units per line by line
number (each line once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.params import COMMODITY_CODE
from ledger.errors import InvalidInput
from ledger.parts.documents import MAX_LINE_QUANTITY, MAX_LINES, REASON_MAX
from ledger.parts.requisitions import LineIn

# Printable text; tabs and new lines allowed (a reason may be a paragraph).
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def number_path(prefix: str, example: str):
    """A document number in the path, such as RQ-000001."""
    return Annotated[
        str,
        Path(min_length=9, max_length=15, pattern=f"^{prefix}-[0-9]{{6,12}}$", examples=[example]),
    ]


def after_query(prefix: str):
    """The page cursor of a document list: the last number of the previous page."""
    return Annotated[
        str | None,
        Query(
            max_length=15,
            pattern=f"^{prefix}-[0-9]{{6,12}}$",
            description="The last number of the previous page",
        ),
    ]


class PartLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(max_length=24, pattern=COMMODITY_CODE, examples=["X1-LCD"])
    quantity: StrictInt = Field(ge=1, le=MAX_LINE_QUANTITY)


def part_lines(lines: list[PartLine]) -> list[LineIn]:
    return [LineIn(sku=line.sku, quantity=line.quantity) for line in lines]


Reason = Annotated[str | None, Field(default=None, max_length=REASON_MAX, pattern=TEXT)]


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = None


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=REASON_MAX, pattern=TEXT)


class LineQuantity(BaseModel):
    """Units for one line of the document, by its line number."""

    model_config = ConfigDict(extra="forbid")

    line_no: StrictInt = Field(ge=1, le=MAX_LINES)
    quantity: StrictInt = Field(ge=0, le=MAX_LINE_QUANTITY)


def by_line(lines: list[LineQuantity] | None, field: str = "lines") -> dict[int, int] | None:
    """Line number -> units; a line given twice is refused, naming it."""
    if lines is None:
        return None
    out: dict[int, int] = {}
    for i, line in enumerate(lines):
        if line.line_no in out:
            raise InvalidInput(
                f"line {line.line_no} is given twice; give each line once",
                field=f"{field}[{i}].line_no",
                line=line.line_no,
            )
        out[line.line_no] = line.quantity
    return out
