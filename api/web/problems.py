"""Problems from the services, in plain words, placed where they belong.

A domain error (ledger/errors.py) names what it is about in `where`: a
field, a line, an account, a serial. The console shows its title in the
reader's language and the service's own detail beneath it, next to the
input it names when the page has one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from api.web.i18n import N_, gettext
from ledger.errors import LedgerError

# The errors' titles, by code, in words a clerk reads (translated in the catalogues).
TITLES = {
    "ledger-error": N_("The ledger refused this"),
    "invalid-request": N_("Please check what you entered"),
    "invalid-entry": N_("The entry is not valid"),
    "unbalanced-entry": N_("Debits and credits differ"),
    "unknown-account": N_("No such account"),
    "not-found": N_("Not found"),
    "insufficient-balance": N_("Not enough stock or balance"),
    "back-dated-take": N_("Dated before the account's latest movement"),
    "out-of-bounds": N_("The amount is too large"),
    "serial-not-at-source": N_("That serial is not here"),
    "idempotency-conflict": N_("This form was already sent with other values"),
    "idempotency-key-taken": N_("This form was already sent by someone else"),
    "already-reversed": N_("Already reversed"),
    "duplicate": N_("Already exists"),
    "invalid-state": N_("Not possible in its current state (someone may have acted on it)"),
    "forbidden": N_("Not allowed for your role"),
    "beyond-approval-limit": N_("Beyond your approval limit"),
    "credit-limit-exceeded": N_("Beyond the point's credit limit"),
    "self-lockout": N_("You may not lock yourself out"),
    "too-many-attempts": N_("Too many attempts; wait before trying again"),
}

# The status a page answers a refusal with (the API's, for the same error).
STATUS = {
    "not-found": 404,
    "forbidden": 403,
    "beyond-approval-limit": 403,
    "too-many-attempts": 429,
    "invalid-state": 409,
    "insufficient-balance": 409,
    "credit-limit-exceeded": 409,
    "duplicate": 409,
    "already-reversed": 409,
    "serial-not-at-source": 409,
    "back-dated-take": 409,
    "idempotency-key-taken": 409,
    "self-lockout": 409,
}


def status_of(error: LedgerError) -> int:
    return STATUS.get(error.code, 422)


_LINE_IN_FIELD = re.compile(r"lines?\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Problem:
    title: str
    detail: str
    field: str | None = None
    line: int | None = None  # 1-based line of a document the problem names
    account: str | None = None

    def on(self, name: str) -> bool:
        """Whether this problem belongs next to the input called `name`."""
        return self.field is not None and (self.field == name or self.field.endswith("." + name))

    def on_line(self, number: int) -> bool:
        return self.line is not None and self.line == number


def explain(error: LedgerError) -> Problem:
    where = error.where
    field = where.get("field")
    line = where.get("line")
    if line is None and isinstance(field, str):
        found = _LINE_IN_FIELD.search(field)
        if found:
            line = int(found.group(1)) + 1
    return Problem(
        title=gettext(TITLES.get(error.code, TITLES["ledger-error"])),
        detail=error.detail,
        field=field if isinstance(field, str) else None,
        line=line if isinstance(line, int) else None,
        account=where.get("account"),
    )


def message(text: str, *, field: str | None = None, line: int | None = None) -> Problem:
    """A problem the console finds itself (a number that is not a number)."""
    return Problem(title=gettext(TITLES["invalid-request"]), detail=text, field=field, line=line)
