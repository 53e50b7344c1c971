"""A stock count of 20,000 parts, from opening to posted variances, beside
posting the same variance entries through the bare `journal.post_entries`.

Run from the project root (PostgreSQL at TEST_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/test, skipped if it does not answer):

    .venv/bin/python bench/stock_count.py [--backend sqlite|postgresql|both]
        [--parts 20000] [--differ 0.1] [--rounds 2] [--postgres-url URL]

Set-up, untimed, in a throwaway database (a SQLite file in a temporary
directory; a PostgreSQL database created for the run and dropped after):
HQ and 2 × rounds regional warehouses, `--parts` priced parts
(`catalog.parts.create_parts`, set-based), and every warehouse stocked with
10–100 units of every part by one opening `post_entries` call; the
STOCK-COUNT holder and its accounts are opened beforehand, so neither side
pays for opening them.

Each round, one warehouse is counted and another gets the bare entries; who
goes first alternates by round:
  count (in process, through the services the HTTP routes call, each step
  its own unit of work):
    open      `counts.open_count` (the snapshot of 20,000 balances)
    sheet     `counts.sheet` + `count_sheet.write_sheet` (XlsxWriter)
    upload    `count_sheet.read_sheet` (openpyxl, read-only) + `counts.enter`
    submit    `counts.submit`
    approve   `counts.approve` (the variance entries, posted)
  The filled sheet is made between `sheet` and `upload`, untimed (that is
  the counter's work): `--differ` of the lines (10 %) counted 1–3 units off
  the book, either way.
  bare: the same variance entries (`counts.variance_entries`, built before
  the clock) posted by one `journal.post_entries` in one unit of work.

Ratio = bare / count (target ≥ 0.5), and bare / approve (the posting step
alone). Afterwards every counted warehouse must hold book + variance of
every part, the bare one the same, `verify()` must be clean and the trial
balance zero; otherwise the figures are void (exit status 1).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common
import xlsxwriter
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from importers import count_sheet
from ledger import journal, queries
from ledger import masterdata as md
from ledger.catalog import locations
from ledger.catalog import parts as catalog
from ledger.codes import account_code
from ledger.db import Database
from ledger.journal import EntryIn, PostingIn
from ledger.models import Account, Holder, Role
from ledger.parts import counts
from ledger.parts import documents as docs
from ledger.policy import SYSTEM, Actor

DEFAULT_PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
CLERK = Actor("clerk", Role.WAREHOUSE_CLERK)
APPROVER = Actor("approver", Role.APPROVER)
STEPS = ("open", "sheet", "upload", "submit", "approve")


def sku(i: int) -> str:
    return f"B-{i:06d}"


def build(db: Database, parts: int, warehouses: list[str], rng: random.Random) -> dict:
    """The network, the catalog and the opening stock; returns book per warehouse."""
    today = db.window.today()

    def network(s):
        locations.create_location(
            s, SYSTEM, kind="hq", code="HQ", name="HQ", region="South", province="Guangdong"
        )
        for code in warehouses:
            locations.create_location(
                s, SYSTEM, kind="regional_warehouse", code=code, name=code, region="South",
                province="Guangdong", city="Shenzhen", served_by="HQ",
            )  # fmt: skip
        md.create_holder(s, "OPEN", "Opening balance", "opening_balance")
        docs.system_holder(s, docs.STOCK_COUNT)
        catalog.create_parts(
            s, SYSTEM,
            [
                catalog.PartSpec(
                    sku=sku(i), name_zh=f"零件 {i}", name_en=f"Part {i}", category="screen",
                    warranty_class="handset", standard_cost=100 + i % 5000,
                    list_price=200 + i % 5000,
                )
                for i in range(parts)
            ],
            effective_from=today,
        )  # fmt: skip

    db.transact(network)
    books = {code: [rng.randint(10, 100) for _ in range(parts)] for code in warehouses}
    for code in warehouses:
        lines = [(sku(i), q) for i, q in enumerate(books[code])]
        entries = []
        for start in range(0, len(lines), counts.LINES_PER_ENTRY):
            postings = []
            for s_, q in lines[start : start + counts.LINES_PER_ENTRY]:
                postings.append(PostingIn(account=account_code("OPEN", "STOCK", s_), amount=-q))
                postings.append(PostingIn(account=account_code(code, "STOCK", s_), amount=q))
            entries.append(EntryIn(kind="opening", postings=postings))
        db.transact(lambda s, e=entries: journal.post_entries(s, e, actor="system"))
    codes = [account_code(docs.STOCK_COUNT, "STOCK", sku(i)) for i in range(parts)]

    def open_accounts(s):
        for start in range(0, len(codes), 5000):
            journal.resolve_accounts(s, codes[start : start + 5000], open_missing=True)

    db.transact(open_accounts)
    return books


def filled_sheet(sheet: counts.Sheet, counted: dict[str, int]) -> bytes:
    """What a counter uploads: the sheet's columns, the counted one filled."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": True})
    ws = book.add_worksheet(count_sheet.SHEET_NAME)
    headers = [count_sheet.SKU_HEADER, count_sheet.NAME_ZH_HEADER, count_sheet.NAME_EN_HEADER]
    headers += [count_sheet.BOOK_HEADER, count_sheet.COUNTED_HEADER]
    for col, title in enumerate(headers):
        ws.write_string(0, col, title)
    for row, line in enumerate(sheet.lines, start=1):
        ws.write_string(row, 0, line.sku)
        ws.write_string(row, 1, line.name_zh)
        ws.write_string(row, 2, line.name_en)
        ws.write_number(row, 3, line.book)
        ws.write_number(row, 4, counted[line.sku])
    book.close()
    return buffer.getvalue()


def variance_plan(book: list[int], differ: float, rng: random.Random) -> dict[str, int]:
    variance = {}
    for i in rng.sample(range(len(book)), int(len(book) * differ)):
        variance[sku(i)] = rng.choice((-3, -2, -1, 1, 2, 3))
    return variance


def run_count(db: Database, code: str, book: list[int], plan: dict[str, int]) -> dict[str, float]:
    times = {}
    t = time.perf_counter()
    number = db.transact(lambda s: counts.open_count(s, CLERK, location=code)).number
    times["open"] = time.perf_counter() - t

    t = time.perf_counter()
    with db.reading() as s:
        sheet = counts.sheet(s, CLERK, number)
    t1 = time.perf_counter()
    data = count_sheet.write_sheet(sheet)
    times["sheet"] = time.perf_counter() - t
    times["xlsx_out"] = time.perf_counter() - t1
    counted = {sku(i): q + plan.get(sku(i), 0) for i, q in enumerate(book)}
    upload = filled_sheet(sheet, counted)

    t = time.perf_counter()
    lines = count_sheet.read_sheet(upload)
    t1 = time.perf_counter()
    db.transact(lambda s: counts.enter(s, CLERK, number, lines))
    times["upload"] = time.perf_counter() - t
    times["xlsx_in"] = t1 - t

    t = time.perf_counter()
    db.transact(lambda s: counts.submit(s, CLERK, number))
    times["submit"] = time.perf_counter() - t

    t = time.perf_counter()
    db.transact(lambda s: counts.approve(s, APPROVER, number))
    times["approve"] = time.perf_counter() - t
    times["sheet_bytes"] = len(data)
    return times


def run_bare(db: Database, code: str, plan: dict[str, int]) -> float:
    entries = counts.variance_entries(code, "SC-BARE", sorted(plan.items()))
    t = time.perf_counter()
    db.transact(lambda s: journal.post_entries(s, entries, actor="approver"))
    return time.perf_counter() - t


def check(db: Database, expected: dict[str, list[int]]) -> list[str]:
    problems = []
    with db.reading() as s:
        if queries.verify(s):
            problems.append("verify() is not clean")
        if any(row["net"] != 0 for row in queries.trial_balance(s)):
            problems.append("the trial balance is not zero")
        for code, want in expected.items():
            got = dict(
                s.execute(
                    select(Account.code, Account.balance)
                    .join(Holder, Holder.id == Account.holder_id)
                    .where(Holder.code == code, Account.purpose == "STOCK")
                ).all()
            )
            wrong = [
                i for i, q in enumerate(want) if got.get(account_code(code, "STOCK", sku(i))) != q
            ]
            if wrong:
                problems.append(f"{code}: {len(wrong)} parts hold the wrong stock")
    return problems


def run_backend(backend: str, args, say) -> tuple[dict, list[str]]:
    rng = random.Random(20261201)
    warehouses = [f"RW-{i:02d}" for i in range(2 * args.rounds)]
    with (
        tempfile.TemporaryDirectory() as tmp,
        common.scratch_engine(backend, Path(tmp), args.postgres_url, "count") as engine,
    ):
        db = Database(engine)
        t = time.perf_counter()
        books = build(db, args.parts, warehouses, rng)
        say(
            f"  set-up: {args.parts:,} parts at {len(warehouses)} warehouses in "
            f"{time.perf_counter() - t:.1f} s"
        )
        expected = {}
        count_times, bare_times = [], []
        for r in range(args.rounds):
            counted, bare = warehouses[2 * r], warehouses[2 * r + 1]
            plan = variance_plan(books[counted], args.differ, rng)
            expected[counted] = [q + plan.get(sku(i), 0) for i, q in enumerate(books[counted])]
            expected[bare] = [q + plan.get(sku(i), 0) for i, q in enumerate(books[bare])]
            if r % 2 == 0:
                b = run_bare(db, bare, plan)
                c = run_count(db, counted, books[counted], plan)
            else:
                c = run_count(db, counted, books[counted], plan)
                b = run_bare(db, bare, plan)
            total = sum(c[s] for s in STEPS)
            xlsx = c["xlsx_out"] + c["xlsx_in"]
            say(
                f"  round {r + 1}: count {total:.2f} s ("
                + ", ".join(f"{s} {c[s]:.2f}" for s in STEPS)
                + f"; of which xlsx {xlsx:.2f}), bare {b:.3f} s; {len(plan):,} lines differ, "
                f"sheet {c['sheet_bytes'] / 1024:.0f} KiB"
            )
            count_times.append(c)
            bare_times.append(b)
        problems = check(db, expected)
    med = {s: statistics.median(c[s] for c in count_times) for s in STEPS}
    med["total"] = statistics.median(sum(c[s] for s in STEPS) for c in count_times)
    med["xlsx"] = statistics.median(c["xlsx_out"] + c["xlsx_in"] for c in count_times)
    med["bare"] = statistics.median(bare_times)
    return med, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--parts", type=int, default=20_000)
    parser.add_argument("--differ", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(message, flush=True)

    say(
        f"python {platform.python_version()}, {args.parts:,} parts, {args.differ:.0%} differ, "
        f"{args.rounds} round(s), medians"
    )
    results, problems = {}, []
    for backend in common.backends(args.backend):
        say(f"{backend}:")
        try:
            results[backend], found = run_backend(backend, args, say)
        except OperationalError as exc:
            say(f"  cannot reach PostgreSQL at {args.postgres_url}: {str(exc).splitlines()[0]}")
            if args.backend == "postgresql":
                return 1
            continue
        problems += [f"{backend}: {p}" for p in found]
    say("")
    say(
        "| backend | open | sheet | upload | submit | approve | count total | of which xlsx "
        "| bare post | bare/count | bare/(count − xlsx) | bare/approve | target ≥ 0.5 |"
    )
    say("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for backend, m in results.items():
        ratio = m["bare"] / m["total"]
        say(
            f"| {backend} | "
            + " | ".join(f"{m[s]:.2f} s" for s in STEPS)
            + f" | {m['total']:.2f} s | {m['xlsx']:.2f} s | {m['bare']:.3f} s | **{ratio:.2f}** | "
            f"{m['bare'] / (m['total'] - m['xlsx']):.2f} | {m['bare'] / m['approve']:.2f} | "
            f"{'met' if ratio >= 0.5 else 'not met'} |"
        )
    for problem in problems:
        say(f"VOID: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
