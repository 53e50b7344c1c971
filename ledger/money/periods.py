"""Months, closed and reopened (期间关闭).

Settling a month closes it: the ledger calendar's `closed_through` moves to
its last day, so no entry may be dated into it (ledger/calendar.py) and a
correction goes into the open month as a reversal. Months close in order
once closing has begun; the first close may be of any month that has ended
(everything before it closes with it). Reopening is an admin's action,
recorded with its reason; it reopens the month and every month after it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import documents as docs
from ledger.calendar import CALENDAR_ROW
from ledger.errors import InvalidInput, InvalidState
from ledger.models import LedgerCalendar, Role
from ledger.policy import Actor
from ledger.types import utcnow

_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def parse_month(text: str, field: str = "month") -> date:
    """ "2026-11" → 2026-11-01."""
    match = _MONTH.fullmatch(text or "")
    if match is None or not 2000 <= int(match.group(1)) <= 2999:
        raise InvalidInput(f"month {text!r} is not a month: write it YYYY-MM, e.g. 2026-11",
                           field=field)  # fmt: skip
    return date(int(match.group(1)), int(match.group(2)), 1)


def last_day(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def month_text(first: date) -> str:
    return f"{first.year:04d}-{first.month:02d}"


def _document_id(first: date) -> int:
    return first.year * 100 + first.month


class PeriodView(BaseModel):
    closed_through: date | None
    first_open_day: date


def _row(session: Session) -> LedgerCalendar:
    row = session.scalar(
        select(LedgerCalendar).where(LedgerCalendar.id == CALENDAR_ROW).with_for_update()
    )
    if row is None:  # a schema made without the migrations' row
        row = LedgerCalendar(id=CALENDAR_ROW, closed_through=None, changed_by="system",
                             changed_at=utcnow())  # fmt: skip
        session.add(row)
        session.flush()
    return row


def view(session: Session) -> PeriodView:
    closed = session.scalar(
        select(LedgerCalendar.closed_through).where(LedgerCalendar.id == CALENDAR_ROW)
    )
    window = session.info["window"]
    first = window.first_open_day
    if closed is not None:
        first = max(first, closed + timedelta(days=1))
    return PeriodView(closed_through=closed, first_open_day=first)


def is_closed(session: Session, first: date) -> bool:
    closed = view(session).closed_through
    return closed is not None and closed >= last_day(first)


def close(session: Session, actor: Actor, first: date) -> bool:
    """Close the month starting `first` (settlement does, under its own
    lock); False if it was closed already. Takes the calendar row's lock:
    entries being dated into the month are waited for, later ones refused."""
    today = session.info["window"].today()
    end = last_day(first)
    if end >= today:
        raise InvalidState(
            f"{month_text(first)} has not ended; a month is settled and closed from the day "
            "after its last day",
            month=month_text(first),
        )
    start = session.info["window"].first_open_day
    if end < start:
        raise InvalidState(
            f"the journal starts on {start.isoformat()}: {month_text(first)} has nothing to "
            "settle or close",
            month=month_text(first),
        )
    row = _row(session)
    if row.closed_through is not None and row.closed_through >= end:
        return False
    if row.closed_through is not None and row.closed_through + timedelta(days=1) != first:
        waiting = month_text((row.closed_through + timedelta(days=1)).replace(day=1))
        raise InvalidState(
            f"months close in order: settle {waiting} before {month_text(first)}",
            month=month_text(first),
        )
    before = row.closed_through
    row.closed_through, row.changed_by, row.changed_at = end, actor.username, utcnow()
    session.flush()
    docs.step(
        session, actor, "period", _document_id(first), "close", "open", "closed",
        detail={"month": month_text(first),
                "closed_through_before": None if before is None else before.isoformat()},
    )  # fmt: skip
    return True


def reopen(session: Session, actor: Actor, first: date, reason: str) -> PeriodView:
    """Reopen a closed month, and every month after it (an admin's action)."""
    docs.require_roles(actor, "reopen a month", Role.ADMIN)
    reason = docs.reason_text(reason, required=True)
    row = _row(session)
    if row.closed_through is None or row.closed_through < last_day(first):
        raise InvalidState(
            f"{month_text(first)} is not closed; there is nothing to reopen",
            month=month_text(first),
        )
    before = row.closed_through
    row.closed_through = first - timedelta(days=1)
    row.changed_by, row.changed_at = actor.username, utcnow()
    session.flush()
    docs.step(
        session, actor, "period", _document_id(first), "reopen", "closed", "open",
        reason=reason,
        detail={"month": month_text(first), "closed_through_before": before.isoformat()},
    )  # fmt: skip
    return view(session)


def history(session: Session, first: date) -> list[docs.ActionView]:
    return docs.history(session, "period", _document_id(first))
