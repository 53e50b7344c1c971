"""Entries per second of the guarded write path, beside a raw-insert baseline.

Run from the project root:

    .venv/bin/python bench/ledger_post.py [--entries N] [--backend sqlite|postgresql|both]
                                          [--postgres-url URL]

Cases (each entry moves 1 unit of a part from an HQ stock account to a
service-point stock account: 2 postings):

  a  one entry per transaction: `Database.transact` around `post_entries` with
     ONE entry carrying an idempotency key (a clerk's request);
  b  1,000 entries per transaction: `Database.transact` around one
     `post_entries` call (an import); entries carry idempotency keys too.

Baseline for each case: the same journal_entry and posting rows (same
columns, same kinds of values, keys included) inserted with
`conn.exec_driver_sql` (executemany for the postings, and for the entries in
batches), through the same engine and driver, in transactions of the same size,
with no checks and no balance update: what the storage costs by itself.

Guarded and raw rows go to two databases of the same backend, migrated and set
up identically, so the guarded one can be verified afterwards
(`ledger.queries.verify` must return []); raw postings leave balances stale on
purpose. Guarded and raw work alternate in 10 rounds (who goes first
alternates too) so both tables grow alike and drifts of the machine hit both.

Nothing is timed but the transactions themselves: `EntryIn` objects for the
guarded path and row tuples for the baseline are prepared before the clock
starts, and one transaction per case and side runs untimed first (warm-up).
`--profile DIR` runs pyinstrument over the guarded side only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError

from ledger import masterdata as md
from ledger import queries
from ledger.db import Database, make_engine
from ledger.journal import EntryIn, PostingIn, post_entries
from ledger.migrate import upgrade
from ledger.models import Account, entry_t, posting_t
from ledger.types import uuid7

DEFAULT_PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
ACTOR = "bench"
PARTS = 200  # part commodities; one HQ account and one service-point account each
POINTS = 20  # service points; part i goes to point i % POINTS
BATCH = 1000  # entries per transaction in case b
OPENING = 1_000_000  # units pre-stocked on every HQ account
ROUNDS = 10  # guarded and raw alternate in this many rounds per case


def part(i: int) -> str:
    return f"P-{i:04d}"


def point(i: int) -> str:
    return f"SP-{i % POINTS + 1:02d}"


# --------------------------------------------------------------------------- databases


@contextmanager
def fresh_engine(backend: str, stack_dir: Path, pg_url: str, label: str) -> Iterator[Engine]:
    """A new migrated database: a SQLite file in a temp dir, or a throwaway
    PostgreSQL schema that is dropped on the way out, error or not."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{stack_dir / label}.db")
        try:
            with engine.begin() as conn:
                upgrade(connection=conn)
            yield engine
        finally:
            engine.dispose()
        return
    schema = f"bench_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg_url, pool_size=1)
    created = False
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        created = True
        engine = make_engine(
            pg_url, pool_size=2, connect_args={"options": f"-csearch_path={schema}"}
        )
        try:
            with engine.begin() as conn:
                upgrade(connection=conn)
            yield engine
        finally:
            engine.dispose()
    finally:
        if created:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def set_up(db: Database) -> None:
    """HQ, 20 service points, an opening-balance party, 200 parts; every HQ
    part account stocked generously in one batch."""

    def master(session):
        md.create_holder(session, "HQ", "Headquarters warehouse", "hq")
        md.create_holder(session, "OPEN", "Opening balance", "opening_balance")
        for i in range(POINTS):
            md.create_holder(session, point(i), f"Service point {i + 1}", "service_point")
        for i in range(PARTS):
            md.create_commodity(session, part(i), f"Part {i}", "part")
        md.ensure_accounts(
            session,
            [(h, "STOCK", part(i)) for i in range(PARTS) for h in ("HQ", "OPEN", point(i))],
        )

    db.transact(master)
    opening = [
        EntryIn(
            kind="opening",
            postings=[
                PostingIn(account=f"OPEN:STOCK:{part(i)}", amount=-OPENING),
                PostingIn(account=f"HQ:STOCK:{part(i)}", amount=OPENING),
            ],
        )
        for i in range(PARTS)
    ]
    db.transact(lambda s: post_entries(s, opening, actor=ACTOR))


# --------------------------------------------------------------------------- workload


def make_entries(case: str, count: int, rng: random.Random, batch_keys: bool) -> list[EntryIn]:
    entries = []
    for n in range(count):
        i = rng.randrange(PARTS)
        keyed = case == "a" or batch_keys
        entries.append(
            EntryIn(
                kind="transfer",
                refs={"requisition": f"RQ-{case.upper()}-{n:07d}"},
                idempotency_key=f"bench-{case}-{n:07d}" if keyed else None,
                postings=[
                    PostingIn(account=f"HQ:STOCK:{part(i)}", amount=-1),
                    PostingIn(account=f"{point(i)}:STOCK:{part(i)}", amount=1),
                ],
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
    sqlite = engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    cols = (
        "id, kind, effective_date, created_at, actor, idempotency_key, request_hash, memo, "
        "refs, reverses_entry_id"
    )
    entry_sql = f"INSERT INTO journal_entry ({cols}) VALUES ({', '.join([mark] * 10)})"
    posting_sql = (
        "INSERT INTO posting (entry_id, line_no, account_id, commodity_id, amount, "
        f"effective_date) VALUES ({', '.join([mark] * 6)})"
    )
    today = datetime.now(UTC).date()
    now = datetime.now(UTC)
    # What SQLAlchemy's types hand to each driver: on SQLite, UUIDs as 32 hex
    # characters and dates/timestamps as ISO text; psycopg takes the objects.
    if sqlite:
        day: object = today.isoformat()
        stamp: object = now.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    else:
        day, stamp = today, now
    entry_rows, posting_rows, posting_start = [], [], []
    for e in entries:
        posting_start.append(len(posting_rows))
        eid = uuid7()
        key = eid.hex if sqlite else eid
        entry_rows.append(
            (
                key,
                e.kind,
                day,
                stamp,
                ACTOR,
                e.idempotency_key,
                e.request_hash(),
                e.memo,
                json.dumps(e.refs),
                None,
            )
        )
        posting_rows.extend(
            (key, line, *accounts[p.account], p.amount, day) for line, p in enumerate(e.postings)
        )
    posting_start.append(len(posting_rows))
    return RawSql(entry_sql, posting_sql, entry_rows, posting_rows, posting_start)


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
    transactions: int
    guarded_s: float
    raw_s: float

    @property
    def guarded_rate(self) -> float:
        return self.entries / self.guarded_s

    @property
    def raw_rate(self) -> float:
        return self.entries / self.raw_s


def run_case(
    case: str,
    count: int,
    gdb: Database,
    rdb_engine: Engine,
    accounts: dict[str, tuple[int, int]],
    rng: random.Random,
    batch_keys: bool,
    profiler=None,
) -> tuple[float, float]:
    per_tx = 1 if case == "a" else BATCH
    # One extra transaction's worth, posted untimed on both sides first, so
    # that statement compilation and cold caches are not counted.
    entries = make_entries(case, per_tx + count, rng, batch_keys)
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


def account_ids(db: Database) -> dict[str, tuple[int, int]]:
    with db.reading() as s:
        return {
            code: (aid, cid)
            for code, aid, cid in s.execute(select(Account.code, Account.id, Account.commodity_id))
        }


def count_rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (entry_t, posting_t)
        }


def run_backend(
    backend: str, args, console_print: Callable[..., None]
) -> tuple[list[Result], dict]:
    results: list[Result] = []
    rng = random.Random(20261123)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ledger-bench-")))
        g_engine = stack.enter_context(fresh_engine(backend, tmp, args.postgres_url, "guarded"))
        r_engine = stack.enter_context(fresh_engine(backend, tmp, args.postgres_url, "raw"))
        gdb, rdb = Database(g_engine), Database(r_engine)
        set_up(gdb)
        set_up(rdb)
        accounts = account_ids(rdb)
        if backend == "sqlite":
            version = f"SQLite {sqlite3.sqlite_version}"
        else:
            with g_engine.connect() as conn:
                version = "PostgreSQL " + conn.exec_driver_sql("SHOW server_version").scalar()
        console_print(f"{backend}: {version}; setting up done, running cases {args.cases}")

        sizes = {"a": args.entries, "b": args.entries * 10}
        for case in args.cases:
            count = sizes[case]
            profiler = None
            if args.profile and case in args.profile_cases:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0005)
            g, r = run_case(
                case, count, gdb, r_engine, accounts, rng, not args.no_batch_keys, profiler
            )
            per_tx = 1 if case == "a" else BATCH
            results.append(Result(backend, case, count, -(-count // per_tx), g, r))
            if profiler is not None:
                out = Path(args.profile) / f"{backend}-{case}"
                out.parent.mkdir(parents=True, exist_ok=True)
                out.with_suffix(".txt").write_text(
                    profiler.output_text(unicode=True, color=False, show_all=False)
                )
                out.with_suffix(".html").write_text(profiler.output_html())
                profiler.last_session.save(str(out.with_suffix(".pyisession")))
                console_print(f"{backend}: profile of case {case} written to {out}.txt/.html")

        # The guarded ledger must be sound, or the figures mean nothing.
        with gdb.reading() as s:
            problems = queries.verify(s)
            moved = s.execute(
                select(func.coalesce(func.sum(Account.balance), 0)).where(Account.code.like("SP-%"))
            ).scalar_one()
        posted = sum(r.entries + (1 if r.case == "a" else BATCH) for r in results)
        totals = {
            "guarded": count_rows(g_engine),
            "raw": count_rows(r_engine),
            "verify": problems,
            "moved_units": moved,
            "expected_units": posted,
        }
    return results, totals


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--entries",
        type=int,
        default=2000,
        help="entries (= transactions) in case a; case b posts 10x as many, in batches "
        f"of {BATCH} (default 2000 -> 20 batches)",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    parser.add_argument("--cases", default="ab", help="which cases to run: a, b or ab")
    parser.add_argument(
        "--no-batch-keys",
        action="store_true",
        help="post case b without idempotency keys (and insert the baseline without them)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="profile the guarded side with pyinstrument; text, HTML and the raw "
        "session (.pyisession) go to DIR",
    )
    parser.add_argument("--profile-cases", default="ab", help="cases to profile (default ab)")
    args = parser.parse_args(argv)
    if args.entries < 1 or not set(args.cases) <= {"a", "b"} or not args.cases:
        parser.error("--entries must be >= 1 and --cases one of a, b, ab")

    try:
        from rich.console import Console
        from rich.table import Table

        console = Console(width=max(Console().width, 100))
        say = console.print
    except ImportError:  # pragma: no cover
        console = None
        say = print

    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    say(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {date.today()}; "
        f"case a: {args.entries} x 1 entry/tx, case b: {args.entries * 10:,} entries in "
        f"{BATCH}-entry transactions (plus one untimed warm-up transaction per case and side)"
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

    labels = {"a": "a  1 entry/tx", "b": f"b  {BATCH}/tx"}
    if console is not None:
        table = Table(title="Entries per second (2 postings each)")
        for col in ("backend", "case", "entries", "guarded e/s", "raw e/s", "guarded/raw"):
            table.add_column(col, justify="left" if col in ("backend", "case") else "right")
        for r in all_results:
            table.add_row(
                r.backend,
                labels[r.case],
                f"{r.entries:,}",
                f"{r.guarded_rate:,.0f}",
                f"{r.raw_rate:,.0f}",
                f"{r.guarded_rate / r.raw_rate:.2f}",
            )
        console.print(table)
    else:
        for r in all_results:
            print(
                f"{r.backend:10} {labels[r.case]:20} {r.entries:>7} guarded {r.guarded_rate:>9.0f} "
                f"e/s  raw {r.raw_rate:>9.0f} e/s  ratio {r.guarded_rate / r.raw_rate:.2f}"
            )
    for backend, t in all_totals.items():
        say(
            f"{backend}: rows guarded db {t['guarded']}, raw db {t['raw']}; "
            f"units at service points {t['moved_units']} (expected {t['expected_units']}); "
            f"verify() -> {t['verify']}"
        )
    for r in all_results:
        if r.backend == "sqlite":
            ratio = r.guarded_rate / r.raw_rate
            goals = {"a": [("later goal", 0.5)], "b": [("target", 0.2), ("later goal", 0.7)]}
            verdicts = ", ".join(
                f"{name} >= {goal:.2f} {'met' if ratio >= goal else 'NOT met'}"
                for name, goal in goals[r.case]
            )
            say(f"sqlite case {r.case}: guarded/raw {ratio:.2f}; {verdicts}")
    if failed:
        say("LEDGER NOT SOUND: the figures above are void")
    return 1 if failed or unreachable else 0


if __name__ == "__main__":
    sys.exit(main())
