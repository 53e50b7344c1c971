"""A month's settlement, its statements and the credit check at issue, each
beside a baseline measured in the same run.

Run from the project root (PostgreSQL at TEST_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/test, skipped if it does not answer):

    .venv/bin/python bench/settlement.py [--backend sqlite|postgresql|both]
        [--points 3000] [--repairs 150000] [--issues 200] [--parts 200]
        [--postgres-url URL]

1. settle: `settlement.run` of October 2026 for `--points` service points
   whose month holds `--repairs` repairs (their money effect posted straight
   as journal entries dated in the month: SUBSIDIES → the point's PAYABLE,
   and for 1 in 8 a charge, RECEIVABLE → CHARGES), with a monthly subsidy by
   grade. Beside it, "bare": exactly the entries the settlement posted (read
   back from the settled database, postings and keys included) posted by
   `journal.post_entries(settling=<the month's last day>)` into a copy of the
   database taken before settling (a copied SQLite file; PostgreSQL
   `CREATE DATABASE … TEMPLATE`), in the same transactions (one per chunk of
   200 points). The settlement also reads as-of balances, closes the month
   and writes a statement row per point: the ratio prices all of that.
2. statements: `statement_sheets.write_all` of the month into a temporary
   folder (its reading of the statements timed apart), beside bare
   XlsxWriter writing the same number of files with the same cells' values
   (no formats) from data read beforehand (only the writing timed).
3. credit: `requisitions.issue` (one `db.transact` each) of requisitions
   approved beforehand to a point holding `--parts` different parts, with
   the credit check as is and replaced by a no-op
   (`credit.require_headroom` monkeypatched in this process), alternating
   rounds, who goes first alternating; medians per issue.

Exit status 1 if a ledger fails `verify()` or its trial balance, or the two
sides of the settlement disagree on any point's balances.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common
import xlsxwriter
from sqlalchemy import Engine, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from importers import statement_sheets
from ledger import journal, queries
from ledger import masterdata as md
from ledger.calendar import OpenWindow
from ledger.catalog import locations
from ledger.catalog import parts as catalog
from ledger.catalog.locations import Location
from ledger.db import Database, make_engine, normalize_url
from ledger.journal import EntryIn, PostingIn
from ledger.migrate import upgrade
from ledger.models import Account, Holder, account_t, entry_t, posting_t
from ledger.money import accruals, credit, settlement, statements
from ledger.parts import requisitions
from ledger.parts.requisitions import LineIn
from ledger.policy import SYSTEM
from tests import parts_network as pn

DEFAULT_PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
MONTH = "2026-10"
FIRST = date(2026, 10, 1)
END = date(2026, 10, 31)
SETTLE_DAY = date(2026, 11, 2)
ZONE = ZoneInfo("Asia/Shanghai")
GRADES = ("A", "B", "C")
MONTHLY = {"A": 50_000, "B": 30_000, "C": 20_000}  # fen per month
SUBSIDY = (1_000, 3_000, 5_000)  # fen per repair
BATCH = 5_000  # repair entries per set-up transaction


def say(message: str) -> None:
    print(message, flush=True)


def window(day: date) -> OpenWindow:
    return OpenWindow(date(2020, 1, 1), ZONE, fixed_today=day)


def point_code(i: int) -> str:
    return f"SP-{i:05d}"


# --------------------------------------------------------------------------- databases


@contextmanager
def database_pair(backend: str, tmp: Path, pg_url: str) -> Iterator[dict]:
    """Two databases: `first()` the migrated one to set up, then `clone()`
    copies it (engines closed) and gives both engines. Dropped afterwards."""
    state: dict = {"engines": []}
    if backend == "sqlite":
        a, b = tmp / "settle_a.db", tmp / "settle_b.db"

        def first() -> Engine:
            engine = make_engine(f"sqlite:///{a}")
            with engine.begin() as conn:
                upgrade(connection=conn)
            state["engines"].append(engine)
            return engine

        def clone(engine: Engine) -> tuple[Engine, Engine]:
            engine.dispose()
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{a}{suffix}").exists():
                    shutil.copyfile(f"{a}{suffix}", f"{b}{suffix}")
            pair = make_engine(f"sqlite:///{a}"), make_engine(f"sqlite:///{b}")
            state["engines"] += pair
            return pair

        state.update(first=first, clone=clone)
        try:
            yield state
        finally:
            for engine in state["engines"]:
                engine.dispose()
        return
    base = make_url(normalize_url(pg_url))
    admin = make_engine(pg_url, pool_size=1, isolation_level="AUTOCOMMIT")
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    names = [f"bench_settle_a_{tag}", f"bench_settle_b_{tag}"]
    created: list[str] = []

    def url(name: str) -> str:
        return base.set(database=name).render_as_string(False)

    def first() -> Engine:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {names[0]}"))
        created.append(names[0])
        engine = make_engine(url(names[0]), pool_size=2)
        with engine.begin() as conn:
            upgrade(connection=conn)
        state["engines"].append(engine)
        return engine

    def clone(engine: Engine) -> tuple[Engine, Engine]:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {names[1]} WITH TEMPLATE {names[0]}"))
        created.append(names[1])
        pair = make_engine(url(names[0]), pool_size=2), make_engine(url(names[1]), pool_size=2)
        state["engines"] += pair
        return pair

    state.update(first=first, clone=clone)
    try:
        yield state
    finally:
        for engine in state["engines"]:
            engine.dispose()
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def sound(db: Database) -> list[str]:
    with db.reading() as s:
        problems = [f"verify(): {p}" for p in queries.verify(s)]
        off = [row for row in queries.trial_balance(s) if row["net"] != 0]
    return problems + (["the trial balance is not zero"] if off else [])


# --------------------------------------------------------------------------- 1. set-up


def build_month(db: Database, points: int, repairs: int, rng: random.Random) -> None:
    """The network, October's repairs as entries and the monthly subsidies."""
    codes = [point_code(i) for i in range(points)]
    db.window = window(FIRST)

    def network(s):
        place = locations.create_location
        place(s, SYSTEM, kind="hq", code="HQ", name="HQ", region="South", province="Guangdong")
        place(s, SYSTEM, kind="regional_warehouse", code="RW-S", name="RW-S", region="South",
              province="Guangdong", city="Shenzhen", served_by="HQ")  # fmt: skip
        for i, code in enumerate(codes):
            place(s, SYSTEM, kind="service_point", code=code, name=f"Point {code}",
                  region="South", province="Guangdong", city="Shenzhen",
                  grade=GRADES[i % 3], served_by="RW-S")  # fmt: skip
        md.create_commodity(s, "CNY", "Renminbi", "money")
        accruals.system_holder(s, accruals.SUBSIDIES)
        accruals.system_holder(s, accruals.CHARGES)
        for grade, amount in MONTHLY.items():
            accruals.set_subsidy(s, SYSTEM, grade=grade, amount=amount)
        # Open since before the month (the settlement pays the monthly subsidy
        # only to points open by its end).
        opened = datetime.combine(FIRST - timedelta(days=60), dtime(9), tzinfo=UTC)
        s.execute(update(Location).values(created_at=opened))

    t = time.perf_counter()
    db.transact(network)
    say(f"    {points:,} points in {time.perf_counter() - t:.1f} s")
    db.window = window(END)
    days = sorted(FIRST + timedelta(days=rng.randrange(31)) for _ in range(repairs))
    t = time.perf_counter()
    for start in range(0, repairs, BATCH):
        entries = []
        for n in range(start, min(start + BATCH, repairs)):
            code = codes[rng.randrange(points)]
            subsidy = rng.choice(SUBSIDY)
            postings = [
                PostingIn(account="SUBSIDIES:STOCK:CNY", amount=subsidy),
                PostingIn(account=f"{code}:PAYABLE:CNY", amount=-subsidy),
            ]
            if rng.randrange(8) == 0:
                charge = rng.choice((4_500, 9_000, 20_000))
                postings += [
                    PostingIn(account=f"{code}:RECEIVABLE:CNY", amount=charge),
                    PostingIn(account="CHARGES:STOCK:CNY", amount=-charge),
                ]
            entries.append(
                EntryIn(kind="repair_write_off", effective_date=days[n],
                        memo=f"repair R-{n:07d} at {code}", refs={"repair": f"R-{n:07d}"},
                        postings=postings, idempotency_key=f"bench/repair/{n}")
            )  # fmt: skip
        db.transact(lambda s, e=entries: journal.post_entries(s, e, actor="system"))
    say(f"    {repairs:,} repairs posted in {time.perf_counter() - t:.1f} s")


def settled_entries(db: Database, points: list[str]) -> list[list[EntryIn]]:
    """The settlement's entries as it posted them, grouped by its chunks."""
    with db.reading() as s:
        heads = s.execute(
            select(entry_t.c.id, entry_t.c.kind, entry_t.c.memo, entry_t.c.refs,
                   entry_t.c.effective_date, entry_t.c.idempotency_key)
            .where(entry_t.c.idempotency_key.like(f"settle/{MONTH}/%"))
        ).all()  # fmt: skip
        postings: dict = {}
        rows = s.execute(
            select(posting_t.c.entry_id, account_t.c.code, posting_t.c.amount)
            .join(account_t, account_t.c.id == posting_t.c.account_id)
            .join(entry_t, entry_t.c.id == posting_t.c.entry_id)
            .where(entry_t.c.idempotency_key.like(f"settle/{MONTH}/%"))
            .order_by(posting_t.c.id)
        )
        for entry_id, code, amount in rows:
            postings.setdefault(entry_id, []).append(PostingIn(account=code, amount=amount))
    order = {code: i for i, code in enumerate(points)}
    keyed = []
    for entry_id, kind, memo, refs, on, key in heads:
        point = key.rsplit("/", 1)[1]
        keyed.append(
            (
                order[point] // settlement.CHUNK,
                0 if "/monthly/" in key else 1,
                order[point],
                EntryIn(kind=kind, memo=memo, refs=refs or {}, effective_date=on,
                        postings=postings[entry_id], idempotency_key=key),
            )
        )  # fmt: skip
    keyed.sort(key=lambda k: k[:3])
    chunks: dict[int, list[EntryIn]] = {}
    for chunk, _, _, entry in keyed:
        chunks.setdefault(chunk, []).append(entry)
    return list(chunks.values())


def money_balances(db: Database) -> dict[str, int]:
    with db.reading() as s:
        return dict(
            s.execute(
                select(Account.code, Account.balance)
                .join(Holder, Holder.id == Account.holder_id)
                .where(Account.purpose.in_(settlement.MONEY_PURPOSES))
            ).all()
        )


def bench_settlement(backend: str, args, rng: random.Random) -> tuple[dict, list[str]]:
    out: dict = {}
    problems: list[str] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        database_pair(backend, Path(tmp), args.postgres_url) as pair,
    ):
        t = time.perf_counter()
        engine = pair["first"]()
        build_month(Database(engine), args.points, args.repairs, rng)
        if backend == "postgresql":
            # What autovacuum would have done by the month's end; without it
            # the planner believes the tables empty (see bench/README.md).
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        a_engine, b_engine = pair["clone"](engine)
        out["setup"] = time.perf_counter() - t
        say(f"    set-up and copy {out['setup']:.1f} s")
        a, b = Database(a_engine, window=window(SETTLE_DAY)), Database(b_engine)
        b.window = window(SETTLE_DAY)
        with a.reading() as s:
            codes = [
                s.get(Holder, h).code for h in settlement.point_ids(s)
            ]  # the settlement's order

        t = time.perf_counter()
        view = settlement.run(a, SYSTEM, MONTH)
        out["settle"] = time.perf_counter() - t
        chunks = settled_entries(a, codes)
        entries = sum(len(c) for c in chunks)
        if entries != view.entries:
            problems.append(f"read back {entries} entries, the settlement posted {view.entries}")
        out["entries"] = entries
        out["postings"] = sum(len(e.postings) for c in chunks for e in c)
        t = time.perf_counter()
        for chunk in chunks:
            b.transact(lambda s, c=chunk: journal.post_entries(s, c, actor="system", settling=END))
        out["bare"] = time.perf_counter() - t
        with a.reading() as s:
            out["statements"] = len(statements.list_statements(s, SYSTEM, MONTH, limit=10**6))
        say(
            f"    settle {out['settle']:.2f} s ({view.entries:,} entries, "
            f"{out['statements']:,} statements), bare {out['bare']:.2f} s"
        )
        if money_balances(a) != money_balances(b):
            problems.append("the settled and the bare database disagree on money balances")
        problems += [f"settled: {p}" for p in sound(a)] + [f"bare: {p}" for p in sound(b)]

        # 2. the statements, from the settled database
        t = time.perf_counter()
        with a.reading() as s:
            everything = statements.all_of(s, MONTH)
        out["read"] = time.perf_counter() - t
        folder = Path(tmp) / "sheets"
        t = time.perf_counter()
        written = statement_sheets.write_all(a, MONTH, folder)
        out["write_all"] = time.perf_counter() - t
        bare_folder = Path(tmp) / "bare"
        bare_folder.mkdir()
        t = time.perf_counter()
        bare_written = bare_sheets(everything, bare_folder)
        out["bare_xlsx"] = time.perf_counter() - t
        out["lines"] = sum(len(lines) for _, lines in everything)
        if written != bare_written:
            problems.append(f"write_all wrote {written} statements, the bare side {bare_written}")
        out["files"] = len(list(folder.iterdir()))
        out["bytes"] = sum(p.stat().st_size for p in folder.iterdir())
        if out["files"] != len(list(bare_folder.iterdir())):
            problems.append("the two statement folders hold different numbers of files")
        say(
            f"    write_all {out['write_all']:.2f} s (reading {out['read']:.2f} s), bare "
            f"XlsxWriter {out['bare_xlsx']:.2f} s; {out['files']:,} files, "
            f"{out['lines']:,} lines"
        )
    return out, problems


def bare_sheets(everything, folder: Path) -> int:
    """The same cells' values as write_all's, no formats, one file a point,
    and the summary."""
    header = ("point", "name", "grade", "month", "issued_at")
    for view, lines in everything:
        buffer = io.BytesIO()
        book = xlsxwriter.Workbook(buffer, {"in_memory": True})
        sheet = book.add_worksheet("Statement")
        sheet.write_string(0, 0, f"Statement {view.month}")
        for row, name in enumerate(header, start=1):
            sheet.write_string(row, 0, name)
            sheet.write_string(row, 1, str(getattr(view, name) or ""))
        row = len(header) + 2
        for col, (heading, _) in enumerate(statement_sheets.LINE_COLUMNS):
            sheet.write_string(row, col, heading)
        row += 1
        sheet.write_string(row, 3, "Opening balance")
        sheet.write_number(row, 7, view.opening / 100)
        balance = view.opening
        for line in lines:
            row += 1
            balance += line.subsidy - line.charge - line.payment
            sheet.write_string(row, 0, line.on.isoformat())
            sheet.write_string(row, 1, line.kind)
            sheet.write_string(row, 2, line.document or "")
            sheet.write_string(row, 3, line.memo)
            for col, fen in ((4, line.charge), (5, line.subsidy), (6, line.payment)):
                if fen:
                    sheet.write_number(row, col, fen / 100)
            sheet.write_number(row, 7, balance / 100)
        row += 1
        for col, fen in ((4, view.charges), (5, view.subsidies), (6, view.payments)):
            sheet.write_number(row, col, fen / 100)
        sheet.write_number(row + 1, 7, view.closing / 100)
        sheet.write_number(row + 3, 7, abs(view.settled) / 100)
        book.close()
        (folder / statement_sheets.file_name(view)).write_bytes(buffer.getvalue())
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Summary")
    for row, (view, _) in enumerate(everything, start=3):
        values = view.model_dump()
        for col, (_, name, _, kind) in enumerate(statement_sheets.SUMMARY_COLUMNS):
            value = values[name]
            if kind == "money":
                sheet.write_number(row, col, value / 100)
            elif value is not None:
                sheet.write_string(row, col, str(value))
    book.close()
    (folder / f"summary_{MONTH}.xlsx").write_bytes(buffer.getvalue())
    return len(everything)


# --------------------------------------------------------------------------- 3. credit


def build_credit(db: Database, parts: int, issues: int, rng: random.Random) -> list[str]:
    """The test network, `parts` priced parts stocked at RW-S and held by SP-A,
    and `issues` requisitions of SP-A approved; their numbers."""
    skus = [f"C-{i:04d}" for i in range(parts)]

    def setup(s):
        pn.build(s, s.info["window"].today())
        catalog.create_parts(
            s, SYSTEM,
            [
                catalog.PartSpec(
                    sku=sku, name_zh=f"零件 {sku}", name_en=f"Part {sku}", category="screen",
                    warranty_class="handset", standard_cost=5_000 + 200 * i,
                    list_price=10_000 + 400 * i,
                )
                for i, sku in enumerate(skus)
            ],
            effective_from=s.info["window"].today(),
        )  # fmt: skip
        postings = []
        for sku in skus:
            held = rng.randint(1, 5)
            postings += [
                PostingIn(account=f"OPEN:STOCK:{sku}", amount=-(held + 1_000)),
                PostingIn(account=f"SP-A:STOCK:{sku}", amount=held),
                PostingIn(account=f"RW-S:STOCK:{sku}", amount=1_000),
            ]
        journal.post_entries(s, [EntryIn(kind="opening", postings=postings)], actor="system")

    db.transact(setup)
    point, approver = pn.actor(db, "sp-a"), pn.actor(db, "approver2")
    numbers = []
    for _ in range(issues):
        lines = [
            LineIn(sku=sku, quantity=rng.randint(1, 2))
            for sku in rng.sample(skus, rng.randint(1, 3))
        ]
        number = db.transact(
            lambda s, ls=lines: requisitions.create(s, point, lines=ls, submit=True)
        ).number
        db.transact(lambda s, n=number: requisitions.approve(s, approver, n))
        numbers.append(number)
    return numbers


def _no_check(session, point, lines, *, document):
    return credit.CreditCheck(value=0, headroom=0)


def bench_credit(backend: str, args, rng: random.Random) -> tuple[dict, list[str]]:
    real = credit.require_headroom
    with (
        tempfile.TemporaryDirectory() as tmp,
        common.scratch_engine(backend, Path(tmp), args.postgres_url, "credit") as engine,
    ):
        db = Database(engine)
        t = time.perf_counter()
        numbers = build_credit(db, args.parts, args.issues, rng)
        say(
            f"    set-up: {args.parts} parts at SP-A, {len(numbers)} requisitions approved, "
            f"{time.perf_counter() - t:.1f} s"
        )
        clerk = pn.actor(db, "clerk")
        times: dict[str, list[float]] = {"check": [], "none": []}

        def issue(number: str, side: str, timed: bool = True) -> None:
            credit.require_headroom = real if side == "check" else _no_check
            try:
                t = time.perf_counter()
                db.transact(lambda s: requisitions.issue(s, clerk, number))
                if timed:
                    times[side].append(time.perf_counter() - t)
            finally:
                credit.require_headroom = real

        warm = 5
        queue = iter(numbers)
        for _ in range(warm):  # untimed: caches and pools, both sides
            issue(next(queue), "check", False)
            issue(next(queue), "none", False)
        left = list(queue)
        rounds = 10
        per = len(left) // (2 * rounds)
        for r in range(rounds):
            part = left[2 * per * r : 2 * per * (r + 1)]
            order = ("check", "none") if r % 2 == 0 else ("none", "check")
            for i, side in enumerate(order):
                for number in part[i * per : (i + 1) * per]:
                    issue(number, side)
        with db.reading() as s:
            position = credit.positions(s, s.info["window"].today(), md.get_holder(s, "SP-A"))[0]
            exposed = s.scalar(
                select(text("count(*)"))
                .select_from(account_t)
                .join(Holder, Holder.id == account_t.c.holder_id)
                .where(Holder.code == "SP-A", account_t.c.balance != 0)
            )
        problems = sound(db)
    check, none = statistics.median(times["check"]), statistics.median(times["none"])
    say(
        f"    issue with the check {1000 * check:.2f} ms, without {1000 * none:.2f} ms "
        f"(medians of {len(times['check'])} each); SP-A: {exposed} accounts with a balance, "
        f"exposure ¥{position.exposure / 100:,.2f} of a ¥{position.limit / 100:,.2f} limit"
    )
    return {"check": check, "none": none, "n": len(times["check"]), "accounts": exposed}, problems


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--points", type=int, default=3_000)
    parser.add_argument("--repairs", type=int, default=150_000)
    parser.add_argument("--issues", type=int, default=200)
    parser.add_argument("--parts", type=int, default=200)
    parser.add_argument("--only", choices=("settle", "credit"), default=None)
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    say(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs; {args.points:,} points, "
        f"{args.repairs:,} repairs in {MONTH}; {args.issues} issues to a point holding "
        f"{args.parts} parts"
    )
    settle, cred, problems = {}, {}, []
    for backend in common.backends(args.backend):
        say(f"{backend}:")
        rng = random.Random(20261201)
        try:
            if args.only != "credit":
                say("  settlement and statements:")
                settle[backend], found = bench_settlement(backend, args, rng)
                problems += [f"{backend}: {p}" for p in found]
            if args.only != "settle":
                say("  credit check at issue:")
                cred[backend], found = bench_credit(backend, args, rng)
                problems += [f"{backend}: {p}" for p in found]
        except OperationalError as exc:
            say(f"  cannot reach PostgreSQL at {args.postgres_url}: {str(exc).splitlines()[0]}")
            if args.backend == "postgresql":
                return 1
    say("")
    say("| backend | measure | code under test | baseline | baseline / code | target |")
    say("|---|---|---:|---:|---:|---|")
    for backend, m in settle.items():
        say(
            f"| {backend} | settle {args.points:,} points, {args.repairs:,} repairs "
            f"({m['entries']:,} entries, {m['postings']:,} postings) | {m['settle']:.2f} s | "
            f"bare post_entries {m['bare']:.2f} s | **{m['bare'] / m['settle']:.2f}** | ≥ 0.5 "
            f"{'met' if m['bare'] / m['settle'] >= 0.5 else 'NOT met'} |"
        )
        writing = m["write_all"] - m["read"]
        say(
            f"| {backend} | {m['files']:,} statement files ({m['lines']:,} lines) | "
            f"write_all {m['write_all']:.2f} s (reading {m['read']:.2f} s, writing "
            f"{writing:.2f} s) | bare XlsxWriter {m['bare_xlsx']:.2f} s | "
            f"**{m['bare_xlsx'] / m['write_all']:.2f}** (writing alone "
            f"{m['bare_xlsx'] / writing:.2f}) | |"
        )
    for backend, c in cred.items():
        ratio = c["check"] and c["none"] / c["check"]
        say(
            f"| {backend} | issue to a point with {c['accounts']} accounts, median of "
            f"{c['n']} | with check {1000 * c['check']:.2f} ms | without {1000 * c['none']:.2f} "
            f"ms | **{ratio:.2f}** | ≥ 0.8 {'met' if ratio >= 0.8 else 'NOT met'} |"
        )
    say("")
    for backend, m in settle.items():
        say(
            f"{backend}: settling costs {m['settle'] / m['bare']:.1f}× posting its "
            f"{m['entries']:,} entries bare (it also reads as-of balances twice per chunk, "
            f"the month's moves, and writes {m['statements']:,} statement rows); write_all "
            f"spends {m['read'] / m['write_all']:.0%} of its time reading the statements."
        )
    say(f"whole run {time.perf_counter() - started:.0f} s")
    for problem in problems:
        say(f"VOID: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
