"""The open window of the journal: every entry's effective date lies between
the first open day and today, the business day where the brand works.

The first open day is the later of a setting (when the journal starts) and
the day after the last closed month (finance's period closing moves it,
`ledger_calendar.closed_through`). "Today" is the date in the configured time
zone (default Asia/Shanghai), not UTC: at 07:00 in Shanghai it is still
yesterday in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import InvalidEntry
from ledger.models import LedgerCalendar

CALENDAR_ROW = 1


@dataclass(frozen=True, slots=True)
class OpenWindow:
    first_open_day: date
    time_zone: ZoneInfo
    # A fixed business day, for tests and replays; None: the clock's.
    fixed_today: date | None = None

    @classmethod
    def from_settings(cls, settings) -> OpenWindow:
        return cls(settings.first_open_day, ZoneInfo(settings.time_zone))

    def today(self) -> date:
        if self.fixed_today is not None:
            return self.fixed_today
        return datetime.now(self.time_zone).date()

    def first_open_on(self, session: Session, earliest: date, today: date) -> date:
        """The first open day, for entries dated `earliest` or later.

        The current month is never closed (a month closes once it has ended),
        so an entry dated in it needs no look-up; on a month's first day a
        close of the month before may be under way, so it looks too. Anything
        earlier reads the calendar row under a share lock (PostgreSQL): a
        close in progress (which updates that row) is waited for, so no entry
        slips into a month while it closes."""
        if earliest >= today.replace(day=1) and today.day != 1:
            return self.first_open_day
        closed = session.execute(
            select(LedgerCalendar.closed_through)
            .where(LedgerCalendar.id == CALENDAR_ROW)
            .with_for_update(read=True)
        ).scalar()
        if closed is None:
            return self.first_open_day
        return max(self.first_open_day, closed + timedelta(days=1))

    def check(self, day: date, today: date, first_open: date | None = None, **where) -> None:
        """Refuse a day outside first open day … today, naming the window."""
        first = first_open or self.first_open_day
        if first <= day <= today:
            return
        closed = first > self.first_open_day
        raise InvalidEntry(
            f"effective_date {day.isoformat()} is outside the open window "
            f"{first.isoformat()} … {today.isoformat()} (YYYY-MM-DD): "
            + (
                (
                    "the month is closed; date a correction in the open month, or ask an admin "
                    "to reopen it"
                )
                if day < first and closed
                else "the journal is not open before its first open day"
                if day < first
                else "an entry cannot be dated after today"
            ),
            field="effective_date",
            **where,
        )
