"""Driver-level SQL for the write path: statements and row values exactly as the
database driver takes them.

SQLAlchemy's Core turns every row dict into driver parameters, value by value,
through each column's type; for a thousand-entry import that was half the
time of the whole call. The write path therefore hands tuples straight to the
driver (`Connection.exec_driver_sql`), and this module is the one place that
does what the column types would have done (tests/test_driver_sql.py reads
the rows back through the types to prove it):

- `Uuid`: 32 hex characters on SQLite, a `uuid.UUID` for psycopg;
- `Date`: ISO text on SQLite, a `date` for psycopg;
- `UTCDateTime`: naive UTC wall-clock text on SQLite (what SQLAlchemy's SQLite
  `DateTime` stores), an aware datetime for psycopg;
- `JSON`: JSON text on both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, cached_property, lru_cache
from typing import Any

import pydantic_core
from sqlalchemy import Connection

ENTRY_COLUMNS = (
    "id",
    "kind",
    "effective_date",
    "created_at",
    "actor",
    "idempotency_key",
    "request_hash",
    "memo",
    "refs",
    "reverses_entry_id",
)
POSTING_COLUMNS = ("entry_id", "line_no", "account_id", "commodity_id", "amount", "effective_date")
CHUNK = 2000  # rows per statement with a parameter per value: SQLite allows 32,766


@dataclass(frozen=True)
class DriverSql:
    """Placeholders, statements and value encodings of one dialect."""

    sqlite: bool

    @staticmethod
    def of(conn: Connection) -> DriverSql:
        return _for_dialect(conn.dialect.name)

    @staticmethod
    def of_dialect(name: str) -> DriverSql:
        return _for_dialect(name)

    # ------------------------------------------------------------------ values

    def uuid(self, value: uuid.UUID | None) -> Any:
        if value is None:
            return None
        return value.hex if self.sqlite else value

    def date(self, value: date) -> Any:
        return value.isoformat() if self.sqlite else value

    def timestamp(self, value: datetime) -> Any:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} refused: pass a timezone-aware value")
        value = value.astimezone(UTC)
        if self.sqlite:
            return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value

    @staticmethod
    def json(value: Any) -> str:
        # pydantic-core's encoder: the same JSON as json.dumps, compact, and
        # several times faster on the small documents entries carry.
        return pydantic_core.to_json(value).decode()

    # ------------------------------------------------------------------ statements

    def marks(self, count: int) -> str:
        """`(?, ?, …)` or `(%s, %s, …)`: one row of placeholders."""
        mark = "?" if self.sqlite else "%s"
        return "(" + ", ".join([mark] * count) + ")"

    @cached_property
    def insert_entry(self) -> str:
        return _insert("journal_entry", ENTRY_COLUMNS, self.marks(len(ENTRY_COLUMNS)))

    @cached_property
    def claim_entry(self) -> str:
        """Insert an entry unless its idempotency key is taken (the row count
        says how many went in)."""
        return self.insert_entry + " ON CONFLICT (idempotency_key) DO NOTHING"

    @cached_property
    def insert_posting(self) -> str:
        return _insert("posting", POSTING_COLUMNS, self.marks(len(POSTING_COLUMNS)))

    def select_keys(self, keys: Sequence[str]) -> Iterator[tuple[str, tuple]]:
        """(statement, parameters) finding the entries posted under `keys`."""
        head = (
            "SELECT idempotency_key, id, request_hash, actor FROM journal_entry "
            "WHERE idempotency_key"
        )
        if not self.sqlite:
            yield f"{head} = ANY(%s::text[])", (list(keys),)
            return
        for chunk in chunks(keys, CHUNK):
            yield f"{head} IN ({', '.join('?' * len(chunk))})", tuple(chunk)

    def table_of(
        self, types: tuple[str, ...], rows: Sequence[tuple]
    ) -> Iterator[tuple[str, tuple]]:
        """`rows` as a table expression for a CTE, with its parameters.

        PostgreSQL gets one array per column (`unnest`): three parameters
        however many rows, which parses and binds in half the time of a VALUES
        list. SQLite gets a VALUES list, in chunks within its parameter limit.
        `types` are the PostgreSQL element types of the columns.
        """
        if not rows:
            return
        if not self.sqlite:
            arrays = ", ".join(f"%s::{t}[]" for t in types)
            yield (
                f"SELECT * FROM unnest({arrays})",
                tuple(list(col) for col in zip(*rows, strict=True)),
            )
            return
        for chunk in chunks(rows, CHUNK):
            params = tuple(value for row in chunk for value in row)
            yield "VALUES " + _sqlite_values(len(chunk), len(types)), params

    def entry_id(self, value: Any) -> uuid.UUID:
        """An entry id as read back with driver SQL."""
        return uuid.UUID(hex=value) if isinstance(value, str) else value


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@lru_cache(maxsize=512)
def _sqlite_values(rows: int, width: int) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return ", ".join([row] * rows)


def _insert(table: str, columns: tuple[str, ...], marks: str) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {marks}"


@cache
def _for_dialect(name: str) -> DriverSql:
    return DriverSql(sqlite=name == "sqlite")
