"""The open window of the journal: every entry's effective date lies between
the first open day and today, the business day where the brand works.

The first open day is a setting today; finance's period closing will move it.
"Today" is the date in the configured time zone (default Asia/Shanghai), not
UTC: at 07:00 in Shanghai it is still yesterday in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ledger.errors import InvalidEntry


@dataclass(frozen=True, slots=True)
class OpenWindow:
    first_open_day: date
    time_zone: ZoneInfo

    @classmethod
    def from_settings(cls, settings) -> OpenWindow:
        return cls(settings.first_open_day, ZoneInfo(settings.time_zone))

    def today(self) -> date:
        return datetime.now(self.time_zone).date()

    def check(self, day: date, today: date, **where) -> None:
        """Refuse a day outside first open day … today, naming the window."""
        if self.first_open_day <= day <= today:
            return
        raise InvalidEntry(
            f"effective_date {day.isoformat()} is outside the open window "
            f"{self.first_open_day.isoformat()} … {today.isoformat()} (YYYY-MM-DD): "
            + (
                "the journal is not open before its first open day"
                if day < self.first_open_day
                else "an entry cannot be dated after today"
            ),
            field="effective_date",
            **where,
        )
