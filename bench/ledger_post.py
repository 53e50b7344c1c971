"""Entries per second of the guarded write path, beside a raw-insert baseline,
on tables that already hold a million postings.

Run from the project root (about 3 minutes for both backends):

    .venv/bin/python bench/ledger_post.py [--backend sqlite|postgresql|both]
        [--cases a2,b2,a20,b20] [--entries N] [--prefill N] [--postgres-url URL]

Cases: a = one entry per transaction (a clerk's request), b = 1,000 entries
per transaction (an import); 2 = entries of 2 postings (1 unit of one part from
HQ to a service point), 20 = entries of 20 postings (10 parts from HQ to one
service point: a multi-line issue). Every guarded entry carries an
idempotency key, so every guard is on: known accounts, each commodity
balanced, non-negative stock at every entry, idempotency.

Baseline for each case: the same journal_entry and posting rows (same
columns and values, keys included) inserted with `conn.exec_driver_sql`
(executemany) through the same engine and driver, in transactions of the same
size, with no checks and no balance update: what the storage costs by itself.

Fairness: guarded and raw rows go to two databases cloned from one prefilled
database (so both start with the same million postings and indexes); the
guarded one is verified afterwards (`ledger.queries.verify` must return []).
Guarded and raw work alternate in 10 rounds, who goes first alternating too.
Only the transactions are timed: `EntryIn` objects and raw row tuples are built
before the clock starts, one transaction per case and side runs untimed first,
and the account cache of the guarded side is warm, as in a running service.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ledger import masterdata as md
from ledger import queries
from ledger.db import Database, make_engine, normalize_url
from ledger.driver_sql import ENTRY_COLUMNS, POSTING_COLUMNS, DriverSql
from ledger.journal import EntryIn, PostingIn, post_entries, resolve_accounts
from ledger.migrate import upgrade
from ledger.models import Account, entry_t, posting_t
from ledger.policy import SYSTEM
from ledger.types import uuid7

DEFAULT_PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
ACTOR = "bench"
PARTS = 200  # part commodities
POINTS = 20  # service points; every point has an account for every part
BATCH = 1000  # entries per transaction in case b
OPENING = 10_000_000  # units on every HQ account before the cases
ROUNDS = 10  # guarded and raw alternate in this many rounds per case
ALL_CASES = ("a2", "b2", "a20", "b20")


def part(i: int) -> str:
    return f"P-{i:04d}"


def point(j: int) -> str:
    return f"SP-{j + 1:02d}"


def hq(i: int) -> str:
    return f"HQ:STOCK:{part(i)}"


def at_point(j: int, i: int) -> str:
    return f"{point(j)}:STOCK:{part(i)}"


# --------------------------------------------------------------------------- databases


@contextmanager
def prefilled_pair(
    backend: str, tmp: Path, pg_url: str, prefill: int, say: Callable[..., None]
) -> Iterator[tuple[Engine, Engine]]:
    """Two identical databases (guarded, raw), cloned from one that was set up
    and prefilled once: a SQLite file copied, or a PostgreSQL database used as
    a template. Everything made is dropped on the way out, error or not."""
    if backend == "sqlite":
        template = make_engine(f"sqlite:///{tmp / 'template.db'}")
        with template.begin() as conn:
            upgrade(connection=conn)
        build_template(template, prefill, say)
        template.dispose()  # the last connection to close checkpoints the WAL into the file
        for label in ("guarded", "raw"):
            shutil.copy(tmp / "template.db", tmp / f"{label}.db")
        engines = [make_engine(f"sqlite:///{tmp / label}.db") for label in ("guarded", "raw")]
        try:
            yield engines[0], engines[1]
        finally:
            for e in engines:
                e.dispose()
        return

    base = make_url(normalize_url(pg_url))
    admin = make_engine(pg_url, pool_size=1, isolation_level="AUTOCOMMIT")
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    names = {label: f"bench_{label}_{tag}" for label in ("template", "guarded", "raw")}
    made: list[str] = []
    engines: list[Engine] = []
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {names['template']}"))
            made.append(names["template"])
        template = make_engine(base.set(database=names["template"]).render_as_string(False))
        with template.begin() as conn:
            upgrade(connection=conn)
        build_template(template, prefill, say)
        with template.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        template.dispose()
        for label in ("guarded", "raw"):
            with admin.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {names[label]} TEMPLATE {names['template']}"))
                made.append(names[label])
            url = base.set(database=names[label]).render_as_string(False)
            engines.append(make_engine(url, pool_size=2))
        yield engines[0], engines[1]
    finally:
        for e in engines:
            e.dispose()
        with admin.connect() as conn:
            for name in reversed(made):
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def build_template(engine: Engine, prefill: int, say: Callable[..., None]) -> None:
    """HQ, 20 service points, an opening-balance party and 200 parts, every
    account open; then `prefill` postings of history; then stock on HQ."""
    db = Database(engine)

    def master(session):
        md.create_holder(session, "HQ", "Headquarters warehouse", "hq")
        md.create_holder(session, "OPEN", "Opening balance", "opening_balance")
        for j in range(POINTS):
            md.create_holder(session, point(j), f"Service point {j + 1}", "service_point")
        for i in range(PARTS):
            md.create_commodity(session, part(i), f"Part {i}", "part")
        holders = ["HQ", "OPEN", *(point(j) for j in range(POINTS))]
        md.ensure_accounts(session, [(h, "STOCK", part(i)) for i in range(PARTS) for h in holders])

    db.transact(master)
    started = time.perf_counter()
    prefill_history(engine, prefill)
    if prefill:
        say(f"  prefilled {prefill:,} postings in {time.perf_counter() - started:.0f} s")
    opening = [
        EntryIn(
            kind="opening",
            postings=[
                PostingIn(account=f"OPEN:STOCK:{part(i)}", amount=-OPENING),
                PostingIn(account=hq(i), amount=OPENING),
            ],
        )
        for i in range(PARTS)
    ]
    db.transact(lambda s: post_entries(s, opening, actor=ACTOR))


def prefill_history(engine: Engine, postings: int) -> None:
    """A year of history, written straight to the tables: receipts into HQ
    and issues from HQ to the points, two postings each. Popular parts get
    most of it (Zipf: part 0 about a sixth), as screens and batteries do;
    balances are then set to the sum of the postings, so the ledger verifies."""
    if postings <= 0:
        return
    rng = random.Random(7)
    with engine.connect() as conn:
        ids = dict(conn.execute(select(Account.code, Account.id)).all())
        commodity = dict(conn.execute(select(Account.id, Account.commodity_id)).all())
    sql = DriverSql.of_dialect(engine.dialect.name)
    weights = [1 / (i + 1) for i in range(PARTS)]
    count = postings // 2
    parts = rng.choices(range(PARTS), weights, k=count)
    stamp = sql.timestamp(datetime.now(UTC))
    first_day = date.today() - timedelta(days=365)
    chunk = 50_000
    seen = [0] * PARTS  # entries so far per part: every third one is a receipt
    for start in range(0, count, chunk):
        entries, lines = [], []
        for n in range(start, min(start + chunk, count)):
            i = parts[n]
            day = sql.date(first_day + timedelta(days=n * 365 // count))
            # Receive 2, then issue 1 twice: HQ never goes below zero.
            seen[i] += 1
            if seen[i] % 3 == 1:
                src, dst, qty = ids[f"OPEN:STOCK:{part(i)}"], ids[hq(i)], 2
            else:
                src, dst, qty = ids[hq(i)], ids[at_point(n % POINTS, i)], 1
            eid = sql.uuid(uuid7())
            entries.append((eid, "history", day, stamp, ACTOR, f"h-{n}", None, "", "{}", None))
            lines.append((eid, 0, src, commodity[src], -qty, day))
            lines.append((eid, 1, dst, commodity[dst], qty, day))
        with engine.begin() as conn:
            if sql.sqlite:
                conn.exec_driver_sql(sql.insert_entry, entries)
                conn.exec_driver_sql(sql.insert_posting, lines)
            else:
                # COPY, without the foreign-key triggers for this transaction
                # (the rows are consistent by construction): minutes faster.
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                cursor = conn.connection.driver_connection.cursor()
                for table, columns, rows in (
                    ("journal_entry", ENTRY_COLUMNS, entries),
                    ("posting", POSTING_COLUMNS, lines),
                ):
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE account SET balance = "
            "(SELECT COALESCE(SUM(amount), 0) FROM posting WHERE posting.account_id = account.id), "
            "last_posted_on = "
            "(SELECT MAX(effective_date) FROM posting WHERE posting.account_id = account.id)"
        )


# --------------------------------------------------------------------------- workload


def make_entries(case: str, count: int, rng: random.Random) -> list[EntryIn]:
    width = int(case[1:])
    entries = []
    for n in range(count):
        j = rng.randrange(POINTS)
        postings = []
        for i in rng.sample(range(PARTS), width // 2):
            postings.append(PostingIn(account=hq(i), amount=-1))
            postings.append(PostingIn(account=at_point(j, i), amount=1))
        entries.append(
            EntryIn(
                kind="issue",
                refs={"requisition": f"RQ-{case.upper()}-{n:07d}"},
                idempotency_key=f"bench-{case}-{n:07d}",
                postings=postings,
            )
        )
    return entries


@dataclass
class RawSql:
    entry_sql: str
    posting_sql: str
    entry_rows: list[tuple]
    posting_rows: list[tuple]
    posting_start: list[int]  # entry n's postings are posting_rows[start[n] : start[n + 1]]


def raw_rows(
    engine: Engine, entries: list[EntryIn], accounts: dict[str, tuple[int, int]]
) -> RawSql:
    """The rows the guarded path would write, as driver-level tuples."""
    sql = DriverSql.of_dialect(engine.dialect.name)
    day = sql.date(datetime.now(UTC).date())
    stamp = sql.timestamp(datetime.now(UTC))
    entry_rows, posting_rows, posting_start = [], [], []
    for e in entries:
        posting_start.append(len(posting_rows))
        eid = sql.uuid(uuid7())
        entry_rows.append(
            (
                eid,
                e.kind,
                day,
                stamp,
                ACTOR,
                e.idempotency_key,
                e.request_hash(),
                e.memo,
                sql.json(e.refs),
                None,
            )
        )
        posting_rows.extend(
            (eid, line, *accounts[p.account], p.amount, day) for line, p in enumerate(e.postings)
        )
    posting_start.append(len(posting_rows))
    return RawSql(sql.insert_entry, sql.insert_posting, entry_rows, posting_rows, posting_start)


def raw_rows_from(raw: RawSql, first: int) -> RawSql:
    """The rows of entries `first`, `first + 1`… only."""
    skip = raw.posting_start[first]
    return RawSql(
        raw.entry_sql,
        raw.posting_sql,
        raw.entry_rows[first:],
        raw.posting_rows[skip:],
        [n - skip for n in raw.posting_start[first:]],
    )


# --------------------------------------------------------------------------- timing


def guarded_chunk(db: Database, entries: list[EntryIn], per_tx: int) -> float:
    start = time.perf_counter()
    for s in range(0, len(entries), per_tx):
        batch = entries[s : s + per_tx]
        db.transact(lambda session, batch=batch: post_entries(session, batch, actor=ACTOR))
    return time.perf_counter() - start


def raw_chunk(engine: Engine, raw: RawSql, lo: int, hi: int, per_tx: int) -> float:
    start = time.perf_counter()
    for s in range(lo, hi, per_tx):
        e = min(s + per_tx, hi)
        with engine.begin() as conn:
            if e - s == 1:
                conn.exec_driver_sql(raw.entry_sql, raw.entry_rows[s])
            else:
                conn.exec_driver_sql(raw.entry_sql, raw.entry_rows[s:e])
            conn.exec_driver_sql(
                raw.posting_sql, raw.posting_rows[raw.posting_start[s] : raw.posting_start[e]]
            )
    return time.perf_counter() - start


@dataclass
class Result:
    backend: str
    case: str
    entries: int
    guarded_s: float
    raw_s: float

    @property
    def per_tx(self) -> int:
        return 1 if self.case[0] == "a" else BATCH

    @property
    def guarded_rate(self) -> float:
        return self.entries / self.guarded_s

    @property
    def raw_rate(self) -> float:
        return self.entries / self.raw_s

    @property
    def ratio(self) -> float:
        return self.guarded_rate / self.raw_rate

    @property
    def target(self) -> float:
        return 0.5 if self.case[0] == "a" else 0.7


def run_case(
    case: str,
    count: int,
    gdb: Database,
    rdb_engine: Engine,
    accounts: dict[str, tuple[int, int]],
    rng: random.Random,
    profiler=None,
) -> tuple[float, float]:
    per_tx = 1 if case[0] == "a" else BATCH
    # One extra transaction's worth, posted untimed on both sides first, so
    # that statement compilation and cold caches are not counted.
    entries = make_entries(case, per_tx + count, rng)
    raw = raw_rows(rdb_engine, entries, accounts)
    guarded_chunk(gdb, entries[:per_tx], per_tx)
    raw_chunk(rdb_engine, raw, 0, per_tx, per_tx)
    entries = entries[per_tx:]
    raw = raw_rows_from(raw, per_tx)
    # Rounds of whole transactions; who goes first alternates.
    txs = -(-count // per_tx)
    rounds = min(ROUNDS, txs)
    bounds = [round(r * txs / rounds) * per_tx for r in range(rounds + 1)]
    bounds[-1] = count
    guarded = raw_time = 0.0
    for r in range(rounds):
        lo, hi = bounds[r], bounds[r + 1]

        def g(lo=lo, hi=hi):
            if profiler is not None:
                profiler.start()
            try:
                return guarded_chunk(gdb, entries[lo:hi], per_tx)
            finally:
                if profiler is not None:
                    profiler.stop()

        if r % 2 == 0:
            guarded += g()
            raw_time += raw_chunk(rdb_engine, raw, lo, hi, per_tx)
        else:
            raw_time += raw_chunk(rdb_engine, raw, lo, hi, per_tx)
            guarded += g()
    return guarded, raw_time


def account_ids(engine: Engine) -> dict[str, tuple[int, int]]:
    with engine.connect() as conn:
        return {
            code: (aid, cid)
            for code, aid, cid in conn.execute(
                select(Account.code, Account.id, Account.commodity_id)
            )
        }


def count_rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (entry_t, posting_t)
        }


@dataclass
class Reads:
    account: str
    history: int  # postings of the account
    query_us: float  # `queries.balance`, as the API reads it: the account by code, with names
    pk_us: float  # the stored balance alone, by primary key
    sum_us: float  # summing the account's postings


def time_reads(db: Database, code: str, repeat: int = 50) -> Reads:
    """The balance as the API reads it, beside summing the account's history."""
    with db.reading() as s:
        account_id = s.execute(select(Account.id).where(Account.code == code)).scalar_one()
        summed = select(func.sum(posting_t.c.amount)).where(posting_t.c.account_id == account_id)
        history = s.execute(
            select(func.count()).where(posting_t.c.account_id == account_id)
        ).scalar_one()
        assert s.execute(summed).scalar_one() == queries.balance(s, SYSTEM, code)["balance"]
        stored = select(Account.balance).where(Account.id == account_id)
        timings = {}
        for label, read in (
            ("query", lambda: queries.balance(s, SYSTEM, code)),
            ("pk", lambda: s.execute(stored).scalar_one()),
            ("sum", lambda: s.execute(summed).scalar_one()),
        ):
            start = time.perf_counter()
            for _ in range(repeat):
                read()
            timings[label] = (time.perf_counter() - start) / repeat * 1e6
    return Reads(code, history, timings["query"], timings["pk"], timings["sum"])


def run_backend(backend: str, args, say: Callable[..., None]) -> tuple[list[Result], dict]:
    results: list[Result] = []
    rng = random.Random(20261123)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ledger-bench-")))
        say(f"{backend}: building a database with {args.prefill:,} postings of history")
        g_engine, r_engine = stack.enter_context(
            prefilled_pair(backend, tmp, args.postgres_url, args.prefill, say)
        )
        gdb = Database(g_engine)
        accounts = account_ids(r_engine)
        # A running service has its accounts cached after their first use.
        gdb.transact(lambda s: resolve_accounts(s, list(accounts)))
        if backend == "sqlite":
            version = f"SQLite {sqlite3.sqlite_version}"
        else:
            with g_engine.connect() as conn:
                version = "PostgreSQL " + conn.exec_driver_sql("SHOW server_version").scalar()
        before = count_rows(g_engine)
        say(f"{backend}: {version}; {before['posting']:,} postings before the cases")

        for case in args.cases:
            count = args.entries * (1 if case[0] == "a" else 10)
            if case.endswith("20"):
                count //= 2
            profiler = None
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0005)
            g, r = run_case(case, count, gdb, r_engine, accounts, rng, profiler)
            result = Result(backend, case, count, g, r)
            results.append(result)
            say(
                f"  {backend} {label(case):28} guarded {result.guarded_rate:8,.0f} e/s   "
                f"raw {result.raw_rate:8,.0f} e/s   guarded/raw {result.ratio:.2f}"
            )
            if profiler is not None:
                out = Path(args.profile) / f"{backend}-{case}"
                out.parent.mkdir(parents=True, exist_ok=True)
                out.with_suffix(".txt").write_text(
                    profiler.output_text(unicode=True, color=False, show_all=False)
                )
                out.with_suffix(".html").write_text(profiler.output_html())
                say(f"  profile of case {case} written to {out}.txt/.html")

        # The guarded ledger must be sound, or the figures mean nothing.
        with gdb.reading() as s:
            problems = queries.verify(s)
            moved = s.execute(
                select(func.coalesce(func.sum(Account.balance), 0)).where(Account.code.like("SP-%"))
            ).scalar_one()
            history = s.execute(
                select(func.coalesce(func.sum(posting_t.c.amount), 0))
                .join(Account, Account.id == posting_t.c.account_id)
                .where(
                    Account.code.like("SP-%"),
                    posting_t.c.entry_id.in_(
                        select(entry_t.c.id).where(entry_t.c.kind == "history")
                    ),
                )
            ).scalar_one()
        posted_units = sum((r.entries + r.per_tx) * (int(r.case[1:]) // 2) for r in results)
        totals = {
            "guarded": count_rows(g_engine),
            "raw": count_rows(r_engine),
            "verify": problems,
            "moved_units": moved - history,
            "expected_units": posted_units,
            "reads": [time_reads(gdb, hq(0)), time_reads(gdb, hq(PARTS - 1))],
        }
    return results, totals


def label(case: str) -> str:
    kind = "1/tx" if case[0] == "a" else f"{BATCH:,}/tx"
    return f"{case:4} {kind}, {case[1:]} postings"


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--entries",
        type=int,
        default=2000,
        help="transactions in case a2; b2 posts 10x as many entries in batches of "
        f"{BATCH}; the 20-posting cases post half as many entries as their 2-posting twins",
    )
    parser.add_argument(
        "--prefill", type=int, default=1_000_000, help="postings of history before the cases"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    parser.add_argument("--cases", default=",".join(ALL_CASES), help="comma-separated cases")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="profile the guarded side with pyinstrument; text and HTML go to DIR "
        "(the profiler slows the guarded side: take no ratio from such a run)",
    )
    args = parser.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    if args.entries < 2 or not args.cases or not set(args.cases) <= set(ALL_CASES):
        parser.error(f"--entries must be >= 2 and --cases a subset of {','.join(ALL_CASES)}")

    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 110))
    say = console.print
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    say(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {date.today()}; "
        f"{args.prefill:,} postings of history; a2: {args.entries:,} transactions of 1 entry"
    )
    all_results: list[Result] = []
    all_totals: dict[str, dict] = {}
    failed = unreachable = False
    for backend in backends:
        try:
            results, totals = run_backend(backend, args, say)
        except OperationalError as exc:
            if backend != "postgresql":
                raise
            say(f"postgresql: not reachable at {args.postgres_url} ({exc.orig}); skipped")
            unreachable = True
            continue
        all_results += results
        all_totals[backend] = totals
        failed |= bool(totals["verify"]) or totals["moved_units"] != totals["expected_units"]

    table = Table(title="Entries per second, guarded vs raw, same run")
    for col in ("backend", "case", "entries", "guarded e/s", "raw e/s", "guarded/raw", "target"):
        table.add_column(col, justify="left" if col in ("backend", "case") else "right")
    for r in all_results:
        table.add_row(
            r.backend,
            label(r.case),
            f"{r.entries:,}",
            f"{r.guarded_rate:,.0f}",
            f"{r.raw_rate:,.0f}",
            f"{r.ratio:.2f}",
            f">= {r.target:.1f} {'met' if r.ratio >= r.target else 'NOT met'}",
        )
    console.print(table)
    reads = Table(title="Reading a balance: stored (primary key) vs summing the history")
    for col in ("backend", "account", "postings", "balance query µs", "by id µs", "sum µs"):
        reads.add_column(col, justify="left" if col in ("backend", "account") else "right")
    for backend, t in all_totals.items():
        for r in t["reads"]:
            reads.add_row(
                backend,
                r.account,
                f"{r.history:,}",
                f"{r.query_us:,.0f}",
                f"{r.pk_us:,.0f}",
                f"{r.sum_us:,.0f}",
            )
    console.print(reads)
    for backend, t in all_totals.items():
        say(
            f"{backend}: rows guarded db {t['guarded']}, raw db {t['raw']}; "
            f"units moved to service points {t['moved_units']:,} "
            f"(expected {t['expected_units']:,}); verify() -> {t['verify']}"
        )
    if failed:
        say("LEDGER NOT SOUND: the figures above are void")
    return 1 if failed or unreachable else 0


if __name__ == "__main__":
    sys.exit(main())
