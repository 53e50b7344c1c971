"""The shapes of the ledger's codes, in one place for every door.

Codes are upper case and follow Beancount's rules, so the whole journal can be
exported and checked by an independent tool without renaming anything. The
patterns are written for both regex engines the project uses: pydantic's
(Rust: `$` is the end of the text) and Python's `re`, always with `fullmatch`
(so a trailing newline never passes).
"""

from __future__ import annotations

import re

HOLDER = r"[A-Z0-9][A-Z0-9-]{0,39}"
PURPOSE = r"[A-Z][A-Z0-9-]{0,23}"
# Beancount's commodity syntax: starts with a letter, ends with a letter or digit.
COMMODITY = r"[A-Z](?:[A-Z0-9'._-]{0,22}[A-Z0-9])?"
ACCOUNT = f"{HOLDER}:{PURPOSE}:{COMMODITY}"
SERIAL = r"[A-Za-z0-9._/-]{1,40}"
NAME = r"[^\x00-\x1f\x7f]{1,200}"  # a name: one line of printable text
# A reference's name in an entry's refs: printable, without the quote and
# backslash that a JSON path (how refs are searched) would have to escape.
REF_KEY = r'[^\x00-\x1f\x7f"\\]{1,40}'

# For pydantic fields and FastAPI parameters.
ACCOUNT_PATTERN = f"^{ACCOUNT}$"
SERIAL_PATTERN = f"^{SERIAL}$"
NAME_PATTERN = f"^{NAME}$"
REF_KEY_PATTERN = f"^{REF_KEY}$"

HOLDER_RE = re.compile(HOLDER)
PURPOSE_RE = re.compile(PURPOSE)
COMMODITY_RE = re.compile(COMMODITY)
ACCOUNT_RE = re.compile(ACCOUNT)
NAME_RE = re.compile(NAME)
REF_KEY_RE = re.compile(REF_KEY)


def account_code(holder_code: str, purpose: str, commodity_code: str) -> str:
    return f"{holder_code}:{purpose}:{commodity_code}"


def split_account_code(code: str) -> tuple[str, str, str] | None:
    """(holder, purpose, commodity) of a well-formed account code, else None."""
    if not ACCOUNT_RE.fullmatch(code):
        return None
    holder, purpose, commodity = code.split(":")
    return holder, purpose, commodity
