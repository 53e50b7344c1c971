"""What the doors of every document share: a reason, a rejection, units per
line by line number (each line once)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ledger.errors import InvalidInput
from ledger.parts.documents import MAX_LINE_QUANTITY, MAX_LINES, REASON_MAX

# Printable text; tabs and new lines allowed (a reason may be a paragraph).
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

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
