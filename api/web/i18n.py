"""The console's languages: gettext catalogues (Babel) and locale formats.

Messages are written in English in the templates and the console's code and
translated from `api/web/locale/<locale>/LC_MESSAGES/*.po`. Every `.po` of a
locale is read into one catalogue when the app starts (no compiled `.mo` to
keep in step); `make messages` re-extracts the strings and updates them.

The locale of the request being rendered lives in a context variable, set by
`api.web.render`, so templates, filters and the console's code all speak the
reader's language without passing it around.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from ledger.browser_sessions import LOCALES

DEFAULT_LOCALE = LOCALES[0]
LOCALE_DIR = Path(__file__).parent / "locale"
# Money is shown the same way in every language: ¥12,345.67.
MONEY_FORMAT = "¥#,##0.00"

_current: ContextVar[str] = ContextVar("console_locale", default=DEFAULT_LOCALE)
_zone: ContextVar[ZoneInfo | None] = ContextVar("console_zone", default=None)
_BUSINESS_ZONE = ZoneInfo("Asia/Shanghai")  # when no request set one


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


def NC_(context: str, message: str) -> str:
    """Marks a word whose translation depends on what it describes (`open`: a
    count under way, a shortage to resolve, an override still good)."""
    return message


def read_catalogue(locale: str) -> Catalog:
    """Every `.po` file of one locale, as one catalogue."""
    merged = Catalog(locale=locale)
    for po in sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as handle:
            for message in read_po(handle, locale=locale):
                if message.id and message.string and not message.fuzzy:
                    merged.add(message.id, message.string, context=message.context)
    return merged


@cache
def translations(locale: str) -> NullTranslations:
    if locale == "en":  # the source language
        return NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, read_catalogue(locale))
    buffer.seek(0)
    return Translations(buffer)


def current_locale() -> str:
    return _current.get()


@contextmanager
def speaking(locale: str, zone: ZoneInfo | None = None) -> Iterator[None]:
    """Render and translate in `locale` (and show times in `zone`) within the block."""
    token = _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)
    zone_token = _zone.set(zone) if zone is not None else None
    try:
        yield
    finally:
        _current.reset(token)
        if zone_token is not None:
            _zone.reset(zone_token)


def gettext(message: str) -> str:
    return translations(current_locale()).gettext(message)


def pgettext(context: str, message: str) -> str:
    return translations(current_locale()).pgettext(context, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).ngettext(singular, plural, n)


_ = gettext


# -- formats: numbers, money, dates in the reader's locale -------------------------


def number(value: int | float | Decimal | None) -> str:
    if value is None:
        return ""
    return babel_numbers.format_decimal(value, locale=current_locale())


def money(fen: int | None) -> str:
    """Integer fen as ¥12,345.67 (negative as -¥12,345.67)."""
    if fen is None:
        return ""
    return babel_numbers.format_decimal(
        Decimal(fen) / 100, format=MONEY_FORMAT, locale=current_locale(), decimal_quantization=True
    )


def day(value: date | None) -> str:
    if value is None:
        return ""
    return babel_dates.format_date(value, format="medium", locale=current_locale())


def moment(value: datetime | None) -> str:
    """A timestamp at the business's clock, short, in the reader's locale."""
    if value is None:
        return ""
    return babel_dates.format_datetime(
        value, format="short", tzinfo=_zone.get() or _BUSINESS_ZONE, locale=current_locale()
    )


def percent(value: float | None) -> str:
    if value is None:
        return ""
    return babel_numbers.format_percent(value, format="#,##0.0%", locale=current_locale())
