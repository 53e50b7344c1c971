"""The console's strings against its catalogues: what is not translated yet.

`python -m api.web.catalogue` lists every string of the console's code and
templates that a locale has no translation for, as `.po` entries to fill in
(`make messages`); the test suite fails while any is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import write_po

from api.web.i18n import read_catalogue

WEB = Path(__file__).parent
METHOD_MAP = [("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "NC_": ((1, "c"), 2)}


def used() -> dict[tuple[str | None, str], list[str]]:
    """(context, msgid) → where it is used (file:line)."""
    found: dict[tuple[str | None, str], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        WEB, METHOD_MAP, OPTIONS, keywords=KEYWORDS
    ):
        for text in message if isinstance(message, tuple) else (message,):
            if text:
                found.setdefault((context, text), []).append(f"{filename}:{lineno}")
    return found


def missing(locale: str) -> dict[tuple[str | None, str], list[str]]:
    catalogue = read_catalogue(locale)
    return {
        (context, text): where
        for (context, text), where in used().items()
        if catalogue.get(text, context=context) is None
    }


def main() -> int:
    locale = sys.argv[1] if len(sys.argv) > 1 else "zh_CN"
    todo = missing(locale)
    catalog = Catalog(locale=locale)
    for (context, text), where in sorted(todo.items(), key=lambda item: str(item[0])):
        locations = [(w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1])) for w in where]
        catalog.add(text, "", locations=locations, context=context)
    write_po(sys.stdout.buffer, catalog, omit_header=True)
    print(f"# {len(todo)} untranslated for {locale}", file=sys.stderr)
    return 1 if todo else 0


if __name__ == "__main__":
    raise SystemExit(main())
