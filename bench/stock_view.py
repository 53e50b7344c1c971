"""A location's stock view (`ledger.parts.stock.location_stock`) beside the
bare SQL of the same query, on a network of 3,000 and of 300 service points.

Run from the project root (about 2 minutes for both backends):

    .venv/bin/python bench/stock_view.py [--backend sqlite|postgresql|both]
        [--points 300,3000] [--parts 200] [--repeat 1000] [--no-http] [--postgres-url URL]

The network: HQ and 30 regional warehouses (STOCK, RESERVED, TRANSIT and
DEFECTIVE accounts for every part), N service points (STOCK and TRANSIT for
every part, DEFECTIVE for a quarter of them), 200 catalogued parts with three
prices each (two in the past, one planned): at 3,000 points about 1.36
million accounts. It is fixture data, written straight to the tables in bulk
(executemany on SQLite, COPY on PostgreSQL), balances included; no journal.

Measured, for random service points, alternating in rounds:
- service: `location_stock` for one point inside `db.reading()` (session,
  snapshot, holder look-up, the one SELECT, the view models);
- bare: the same two statements (holder look-up and the view's SELECT, as
  plain SQL text) through the raw DBAPI cursor of one connection, rows
  fetched, the transaction rolled back;
- http (optional): `GET /locations/{code}/stock` through FastAPI's
  TestClient in process, logged in as a warehouse clerk, timed after the
  rounds of the other two (`--repeat` / 2 calls).
Service and bare alternate call by call (who goes first alternating); medians
of `--repeat` calls each. Service and bare must return the same lines
for every point measured; otherwise the figures are void (exit status 1).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common
import sqlalchemy
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from ledger.db import Database
from ledger.driver_sql import DriverSql
from ledger.parts.stock import location_stock
from ledger.policy import SYSTEM

DEFAULT_PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
WAREHOUSES = 30
TARGET = 2.0  # service time at most twice the bare time (≥ 0.5 of its throughput)

# The view's SELECT as plain SQL: what `ledger.parts.stock.stock_query` builds
# for one holder, no SKU filter, no `after`, zero lines left out.
BARE_HOLDER = "SELECT id, kind FROM holder WHERE code = :code"
BARE_VIEW = """
SELECT lines.sku, lines.name, lines.stock, lines.reserved, lines.transit, lines.defective,
       (SELECT part_price.standard_cost FROM part_price
         WHERE part_price.part_id = lines.commodity_id AND part_price.effective_from <= :today
         ORDER BY part_price.effective_from DESC LIMIT 1) AS unit_cost
FROM (SELECT commodity.id AS commodity_id, commodity.code AS sku,
             coalesce(part.name_en, commodity.name) AS name,
             CAST(sum(CASE WHEN account.purpose = 'STOCK'
                      THEN account.balance ELSE 0 END) AS BIGINT) AS stock,
             CAST(sum(CASE WHEN account.purpose = 'RESERVED'
                      THEN account.balance ELSE 0 END) AS BIGINT) AS reserved,
             CAST(sum(CASE WHEN account.purpose = 'TRANSIT'
                      THEN account.balance ELSE 0 END) AS BIGINT) AS transit,
             CAST(sum(CASE WHEN account.purpose = 'DEFECTIVE'
                      THEN account.balance ELSE 0 END) AS BIGINT) AS defective
      FROM account
      JOIN commodity ON commodity.id = account.commodity_id
      LEFT OUTER JOIN part ON part.commodity_id = commodity.id
      WHERE account.holder_id = :holder
        AND account.purpose IN ('STOCK', 'RESERVED', 'TRANSIT', 'DEFECTIVE')
        AND commodity.kind IN ('part', 'handset')
        AND account.balance != 0
      GROUP BY commodity.id, commodity.code, commodity.name, part.name_en
      ORDER BY commodity.code
      LIMIT :limit) AS lines
ORDER BY lines.sku
"""


def part(i: int) -> str:
    return f"P-{i:04d}"


def point(j: int) -> str:
    return f"SP-{j + 1:05d}"


def paramstyle(sql: str, sqlite: bool) -> str:
    """`:name` for sqlite3, `%(name)s` for psycopg."""
    return sql if sqlite else re.sub(r":(\w+)", r"%(\1)s", sql)


# --------------------------------------------------------------------------- databases


def bulk(conn, sql: DriverSql, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """executemany on SQLite; COPY on PostgreSQL."""
    if sql.sqlite:
        marks = ", ".join("?" * len(columns))
        conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        return
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def build(engine: Engine, points: int, parts: int, rng: random.Random) -> int:
    """The network, its accounts with balances, the catalog and its prices;
    returns the number of accounts."""
    sql = DriverSql.of_dialect(engine.dialect.name)
    now = sql.timestamp(datetime.now(UTC))
    today = Database(engine).window.today()
    yes, no = (1, 0) if sql.sqlite else (True, False)
    holders = [(1, "HQ", "Headquarters warehouse", "hq", None, None, now)]
    holders += [
        (
            2 + w,
            f"RW-{w + 1:02d}",
            f"Regional warehouse {w + 1}",
            "regional_warehouse",
            1,
            None,
            now,
        )
        for w in range(WAREHOUSES)
    ]
    first_point = 2 + WAREHOUSES
    holders += [
        (first_point + j, point(j), f"Service point {j + 1}", "service_point",
         2 + j % WAREHOUSES, "ABC"[j % 3], now)
        for j in range(points)
    ]  # fmt: skip
    commodities = [(1 + i, part(i), f"Part {i}", "part", no, 0, now) for i in range(parts)]
    catalog = [
        (1 + i, f"零件 {i}", f"Part {i} (en)", "screen", "handset", yes, now, now)
        for i in range(parts)
    ]
    prices = []
    for i in range(parts):
        for days, cost in ((-400, 1000 + i), (-rng.randint(1, 90), 1250 + i), (30, 9999)):
            day = sql.date(today + timedelta(days=days))
            prices.append((1 + i, day, cost, 2 * cost, "bench", now))
    accounts = []

    def account(holder_id: int, holder_code: str, purpose: str, i: int, balance: int) -> None:
        accounts.append(
            (len(accounts) + 1, f"{holder_code}:{purpose}:{part(i)}", holder_id, purpose, 1 + i,
             "debit", yes, balance, None, now)
        )  # fmt: skip

    for holder_id, code, *_ in holders[: first_point - 1]:
        for i in range(parts):
            account(holder_id, code, "STOCK", i, rng.randint(0, 5000))
            account(holder_id, code, "RESERVED", i, rng.randint(0, 50))
            account(holder_id, code, "TRANSIT", i, rng.choice((0, 0, rng.randint(1, 500))))
            account(holder_id, code, "DEFECTIVE", i, rng.randint(0, 20))
    for j in range(points):
        holder_id, code = first_point + j, point(j)
        for i in range(parts):
            account(holder_id, code, "STOCK", i, rng.choice((0, rng.randint(1, 30))))
            account(holder_id, code, "TRANSIT", i, rng.choice((0, 0, 0, rng.randint(1, 10))))
            if i % 4 == j % 4:
                account(holder_id, code, "DEFECTIVE", i, rng.randint(0, 3))
    with engine.begin() as conn:
        if not sql.sqlite:
            # Consistent by construction: no foreign-key triggers (much faster).
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for table, columns, rows in (
            ("holder", ("id", "code", "name", "kind", "parent_id", "grade", "created_at"), holders),
            ("commodity",
             ("id", "code", "name", "kind", "serialized", "decimals", "created_at"), commodities),
            ("part", ("commodity_id", "name_zh", "name_en", "category", "warranty_class",
                      "active", "created_at", "updated_at"), catalog),
            ("part_price", ("part_id", "effective_from", "standard_cost", "list_price",
                            "set_by", "set_at"), prices),
            ("account", ("id", "code", "holder_id", "purpose", "commodity_id", "side", "guarded",
                         "balance", "last_posted_on", "created_at"), accounts),
        ):  # fmt: skip
            bulk(conn, sql, table, columns, rows)
    if sql.sqlite:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return len(accounts)


# --------------------------------------------------------------------------- timing


@dataclass
class Figures:
    backend: str
    points: int
    accounts: int
    lines: float  # mean lines per page
    service_us: float
    bare_us: float
    http_us: float | None

    @property
    def ratio(self) -> float:
        return self.service_us / self.bare_us


def bare_call(raw, sqlite: bool, code: str, today, limit: int = 100) -> list[tuple]:
    cursor = raw.cursor()
    if sqlite:
        cursor.execute("BEGIN")  # one snapshot, as `db.reading()` (psycopg begins by itself)
    cursor.execute(paramstyle(BARE_HOLDER, sqlite), {"code": code})
    holder_id, _kind = cursor.fetchone()
    cursor.execute(
        paramstyle(BARE_VIEW, sqlite),
        {"holder": holder_id, "today": today.isoformat() if sqlite else today, "limit": limit},
    )
    rows = cursor.fetchall()
    cursor.close()
    raw.rollback()
    return rows


def service_call(db: Database, code: str):
    with db.reading() as session:
        return location_stock(session, SYSTEM, code)


def http_client(engine: Engine):
    """An in-process client logged in as a warehouse clerk."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from ledger.settings import Settings
    from ledger.users import create_user

    db = Database(engine)
    db.transact(lambda s: create_user(s, "bench-clerk", "a-long-password", "warehouse_clerk"))
    app = create_app(db=db, settings=Settings(secret_key="bench-" * 8, database_url="sqlite://"))
    client = TestClient(app)
    token = client.post(
        "/auth/token", data={"username": "bench-clerk", "password": "a-long-password"}
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def measure(
    engine: Engine, backend: str, points: int, accounts: int, args, say
) -> tuple[Figures, list[str]]:
    db = Database(engine)
    sqlite = backend == "sqlite"
    today = db.window.today()
    rng = random.Random(11 + points)
    raw_conn = engine.raw_connection()  # the pool's DBAPI connection: the bare side's own
    raw = raw_conn.driver_connection
    if sqlite:
        raw.isolation_level = None  # as the engine's: our BEGIN, autocommit otherwise
    problems: list[str] = []
    client = http_client(engine) if args.http else None
    # Same lines, for a sample of points, before anything is timed.
    for j in rng.sample(range(points), 20):
        code = point(j)
        page = service_call(db, code)
        got = [
            (i.sku, i.name, i.available, i.reserved, i.in_transit, i.defective, i.unit_cost)
            for i in page.items
        ]
        want = [tuple(r) for r in bare_call(raw, sqlite, code, today)]
        if got != want:
            problems.append(f"{backend} {points} points, {code}: service and bare differ")
        if client is not None:
            answer = client.get(f"/locations/{code}/stock")
            if answer.status_code != 200 or len(answer.json()["items"]) != len(got):
                problems.append(f"{backend} {points} points, {code}: HTTP {answer.status_code}")
    service, bare, http, sizes = [], [], [], []
    for n in range(20):  # untimed warm-up
        service_call(db, point(n % points))
        bare_call(raw, sqlite, point(n % points), today)
    for n in range(args.repeat):
        code = point(rng.randrange(points))
        sides = [
            (service, lambda code=code: sizes.append(len(service_call(db, code).items))),
            (bare, lambda code=code: bare_call(raw, sqlite, code, today)),
        ]
        if n % 2:
            sides.reverse()
        for into, work in sides:
            into.append(timed(work))
    if client is not None:
        # Apart from the rounds above: its garbage would land in their timings.
        for _ in range(20):
            client.get(f"/locations/{point(rng.randrange(points))}/stock")
        for _ in range(args.repeat // 2):
            code = point(rng.randrange(points))
            http.append(timed(lambda code=code: client.get(f"/locations/{code}/stock")))
    raw_conn.close()
    if client is not None:
        client.close()
    figures = Figures(
        backend,
        points,
        accounts,
        statistics.mean(sizes),
        statistics.median(service) * 1e6,
        statistics.median(bare) * 1e6,
        statistics.median(http) * 1e6 if http else None,
    )
    say(
        f"  {points:,} points: service {figures.service_us:,.0f} µs, bare "
        f"{figures.bare_us:,.0f} µs ({figures.ratio:.2f}× bare)"
        + (f", http {figures.http_us:,.0f} µs" if figures.http_us else "")
    )
    return figures, problems


def run_backend(backend: str, args, say) -> tuple[list[Figures], list[str]]:
    out, problems = [], []
    with tempfile.TemporaryDirectory(prefix="stock-bench-") as tmp:
        for points in args.points:
            with common.scratch_engine(
                backend, Path(tmp), args.postgres_url, f"stock_p{points}"
            ) as engine:
                started = time.perf_counter()
                accounts = build(engine, points, args.parts, random.Random(points))
                say(
                    f"  {points:,} points: {accounts:,} accounts built in "
                    f"{time.perf_counter() - started:.0f} s"
                )
                figures, found = measure(engine, backend, points, accounts, args, say)
                out.append(figures)
                problems += found
    return out, problems


def table(results: list[Figures]) -> str:
    rows = [
        "| backend | points | accounts | lines/page | service µs | bare µs | service/bare | "
        "target ≤ 2× | http µs |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for f in results:
        name = "SQLite" if f.backend == "sqlite" else "PostgreSQL"
        met = "met" if f.ratio <= TARGET else "**not met**"
        http = f"{f.http_us:,.0f}" if f.http_us else "–"
        rows.append(
            f"| {name} | {f.points:,} | {f.accounts:,} | {f.lines:.0f} | {f.service_us:,.0f} | "
            f"{f.bare_us:,.0f} | **{f.ratio:.2f}× bare** | {met} | {http} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--points", default="300,3000", help="network sizes, comma-separated")
    parser.add_argument("--parts", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1000, help="timed calls per side and size")
    parser.add_argument("--no-http", dest="http", action="store_false", help="skip the HTTP side")
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    args = parser.parse_args(argv)
    args.points = [int(p) for p in args.points.split(",")]

    def say(message: str) -> None:
        print(message, flush=True)

    say(
        f"python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"{args.parts} parts, {args.repeat} calls per side, medians"
    )
    results, problems = [], []
    started = time.perf_counter()
    for backend in common.backends(args.backend):
        say(f"{backend}:")
        try:
            got, found = run_backend(backend, args, say)
        except OperationalError as exc:
            say(f"  cannot reach PostgreSQL at {args.postgres_url}: {str(exc).splitlines()[0]}")
            return 1
        results += got
        problems += found
    say("")
    say(table(results))
    say(f"\ntotal {time.perf_counter() - started:.0f} s")
    for problem in problems:
        say(f"VOID: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
