"""Repairs written off per second over HTTP, beside POST /entries of the same
movements, on the real served app.

Run from the project root (PostgreSQL at TEST_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/test; about 2.5 minutes for both backends):

    .venv/bin/python bench/repair_write_off.py [--backend sqlite|postgresql|both]
        [--per-round N] [--rounds R] [--clients 1,4] [--workers 2]
        [--postgres-url URL] [--profile DIR]

`--rounds` defaults to BENCH_REPAIRS_ROUNDS (4): more rounds, a longer and
steadier run (`BENCH_REPAIRS_ROUNDS=12 make bench-repairs`).

Set-up, through the services (not HTTP), in a throwaway database (a
PostgreSQL database created for the run and dropped afterwards, error or
Ctrl-C; a SQLite file in a temporary directory): HQ, a regional warehouse
RW-S, 8 service points served by it, 6 priced parts (2 screens and 2 boards,
returnable; 2 housings, not returnable), 1,000,000 units of each at every
point, an admin and one user per point; every account either side posts to
(each point's STOCK and DEFECTIVE, CONSUMED:STOCK, per part) is opened
beforehand. Then the real server, `aftersales serve` (2 workers), on
127.0.0.1 (bench/http_load.py's server, client and CPU meter and
bench/common.py's A/B client loop and rounds are reused).

One repair, measured from the client, one request on either side:
  A (the write-off): POST /repairs by the point's user, with its own
    Idempotency-Key: a mix of WH (a returnable screen or board and a
    housing, one unit each: 2 x STOCK -> CONSUMED, the returnable one
    CONSUMED -> DEFECTIVE), F (man-made damage, any one part, 1-2 units:
    STOCK -> CONSUMED, nothing back) and DOA (a never-sold handset, a board:
    STOCK -> CONSUMED -> DEFECTIVE), 2 : 1 : 1, claiming the category the
    rules decide;
  B (the bare ledger): POST /entries by the admin (a point's user may post no
    raw entry), with its own Idempotency-Key: exactly the postings of the
    write-off (the CONSUMED -> DEFECTIVE pair included), its kind, refs and
    memo.
Repair k of either side is the same repair at the same point (k mod 8).

How it is kept fair: both sides run on the same server, connections and
database in the same run, with the same number of concurrent clients (each a
closed loop on one keep-alive connection), interleaved in rounds (A, B, B,
A, ...), with equal counts; request bodies are built before the clock starts;
every level warms up (untimed) first and waits for a quiet machine.

Afterwards the ledger must be sound: `ledger.queries.verify` returns [], the
trial balance nets to zero for every commodity, every repair of A stands
(written off), and the units out of the points' stock, into their defective
stock and consumed equal what both sides moved. Exit status 1 otherwise, or
on any non-2xx answer.

`--profile DIR`: instead of the HTTP run, one backend's write-offs in
process under pyinstrument (`repairs.write_off` inside `db.transact`, as
the route calls it, beside `services.post` of the same entry as the route
of POST /entries does), with per-call times; text and HTML go to DIR.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, bench/http_load.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common
import http_load as hl
import uvloop
from common import Client, Failed, Level, balance_total, step
from rich.table import Table
from sqlalchemy import func, select

from ledger import masterdata as md
from ledger import queries, services
from ledger.catalog import parts
from ledger.db import Database
from ledger.journal import EntryIn, PostingIn
from ledger.migrate import upgrade
from ledger.models import Account, Holder, HolderKind, Role
from ledger.parts import documents as docs
from ledger.parts import repairs
from ledger.parts.repairs import Repair
from ledger.parts.requisitions import LineIn
from ledger.parts.warranty import Case, Category
from ledger.policy import SYSTEM, Actor
from ledger.users import create_user

say = hl.say
WAREHOUSE = "RW-S"
POINTS = 8
OPENING = 1_000_000
PASSWORD = "bench-repairs-password"
ADMIN = "admin"
TARGET = 0.5  # at least half of the bare entries per second
# sku, category, returnable, standard cost (fen)
PARTS = (
    ("RP-LCD-1", "screen", True, 42_000),
    ("RP-LCD-2", "screen", True, 51_000),
    ("RP-BRD-1", "board", True, 88_000),
    ("RP-BRD-2", "board", True, 97_000),
    ("RP-HSG-1", "housing", False, 6_000),
    ("RP-HSG-2", "housing", False, 7_500),
)
RETURNABLE = [p[0] for p in PARTS if p[2]]
BOARDS = [p[0] for p in PARTS if p[1] == "board"]
HOUSINGS = [p[0] for p in PARTS if p[1] == "housing"]
MIX = (Category.WH, Category.WH, Category.F, Category.DOA)


def point(j: int) -> str:
    return f"SP-{j % POINTS + 1:02d}"


def point_user(j: int) -> str:
    return f"sp-{j % POINTS + 1:02d}"


# --------------------------------------------------------------------------- set-up


def set_up(url: str) -> date:
    """The network, users, stock and every account either side posts to; the
    business day the cases are reported on."""
    upgrade(url)
    db = Database.from_url(url, pool_size=1)

    def master(s):
        today = s.info["window"].today()
        common.network(s, WAREHOUSE, [point(j) for j in range(POINTS)])
        docs.system_holder(s, docs.CONSUMED)
        for sku, category, returnable, cost in PARTS:
            parts.create_part(
                s, SYSTEM, sku, name_zh=f"零件 {sku}", name_en=f"Bench {category} {sku}",
                category=category, warranty_class="handset", returnable=returnable,
            )  # fmt: skip
            parts.set_price(
                s, SYSTEM, sku, effective_from=today, standard_cost=cost, list_price=2 * cost
            )
        create_user(s, ADMIN, PASSWORD, Role.ADMIN)
        for j in range(POINTS):
            create_user(s, point_user(j), PASSWORD, Role.SERVICE_POINT, service_point=point(j))
        skus = [p[0] for p in PARTS]
        wanted = [("OPEN", "STOCK", sku) for sku in skus]
        wanted += [(docs.CONSUMED, "STOCK", sku) for sku in skus]
        wanted += [
            (point(j), purpose, sku)
            for purpose in ("STOCK", "DEFECTIVE")
            for j in range(POINTS)
            for sku in skus
        ]
        md.ensure_accounts(s, wanted)
        return today

    today = db.transact(master)
    opening = EntryIn(
        kind="opening",
        postings=[
            posting
            for sku, *_ in PARTS
            for posting in (
                PostingIn(account=f"OPEN:STOCK:{sku}", amount=-OPENING * POINTS),
                *(
                    PostingIn(account=f"{point(j)}:STOCK:{sku}", amount=OPENING)
                    for j in range(POINTS)
                ),
            )
        ],
    )
    db.transact(lambda s: services.post(s, SYSTEM, [opening]))
    db.dispose()
    return today


@dataclass
class LedgerCheck:
    problems: list[str]
    unbalanced: list[str]
    repairs: Counter
    out_of_stock: int
    defective: int
    consumed: int


def check_ledger(url: str) -> LedgerCheck:
    db = Database.from_url(url, pool_size=1)
    points = Holder.kind == HolderKind.SERVICE_POINT
    try:
        with db.reading() as s:
            states = s.execute(select(Repair.state, func.count()).group_by(Repair.state)).all()
            return LedgerCheck(
                problems=queries.verify(s),
                unbalanced=[r["commodity"] for r in queries.trial_balance(s) if r["net"] != 0],
                repairs=Counter(dict(states)),
                out_of_stock=OPENING * POINTS * len(PARTS)
                - balance_total(s, points & (Account.purpose == "STOCK")),
                defective=balance_total(s, points & (Account.purpose == "DEFECTIVE")),
                consumed=balance_total(s, Holder.code == docs.CONSUMED),
            )
    finally:
        db.dispose()


# --------------------------------------------------------------------------- repairs


@dataclass
class Document:
    """Repair k: its point, the bodies both sides send, what it moves."""

    point: int
    category: Category
    repair: bytes  # A: POST /repairs
    entry: bytes  # B: POST /entries
    units: int  # out of the point's stock
    defective: int  # into the point's defective stock


def _case(category: Category, today: date) -> dict:
    manufactured = today - timedelta(days=200)
    if category is Category.DOA:
        return {
            "part_class": "handset",
            "reported_on": today.isoformat(),
            "manufactured_on": (today - timedelta(days=30)).isoformat(),
            "sold": False,
            "proof_of_purchase": False,
            "talk_minutes": 5,
        }
    return {
        "part_class": "handset",
        "reported_on": today.isoformat(),
        "manufactured_on": manufactured.isoformat(),
        "purchased_on": (today - timedelta(days=100)).isoformat(),
        "proof_of_purchase": True,
        "sold": True,
        "man_made_damage": category is Category.F,
    }


def documents(n: int, rng: random.Random, today: date, first: int = 0) -> list[Document]:
    out = []
    for k in range(first, first + n):
        j = k % POINTS
        category = rng.choice(MIX)
        if category is Category.WH:
            used = [(rng.choice(RETURNABLE), 1), (rng.choice(HOUSINGS), 1)]
        elif category is Category.F:
            used = [(rng.choice([p[0] for p in PARTS]), rng.randint(1, 2))]
        else:
            used = [(rng.choice(BOARDS), 1)]
        number = f"R-{k + 1:06d}"
        repair = {
            "repair_number": number,
            "customer_serial": f"86{rng.randrange(10**12, 10**13)}",
            "handset_model": rng.choice(("Other brand Z9", "Our X1 Pro", "Our X2")),
            "fault": {"F": "screen cracked, dropped", "DOA": "dead on arrival"}.get(
                category.value, "no display"
            ),
            "case": _case(category, today),
            "category": category.value,
            "parts": [{"sku": sku, "quantity": q} for sku, q in used],
        }
        in_warranty = category in repairs.IN_WARRANTY
        postings, defective = [], 0
        for sku, q in used:
            back = q if in_warranty and sku in RETURNABLE else 0
            defective += back
            postings += repairs._write_off_postings(point(j), sku, q, back)
        entry = EntryIn(
            kind="repair_write_off",
            refs={
                "repair": f"RP-B{k + 1:06d}",
                "point": point(j),
                "repair_number": number,
                "category": category.value,
            },
            memo=f"repair {number} at {point(j)} ({category.value})",
            postings=postings,
        )
        out.append(
            Document(
                j,
                category,
                json.dumps(repair).encode(),
                entry.model_dump_json(exclude_defaults=True).encode(),
                sum(q for _, q in used),
                defective,
            )
        )
    return out


# --------------------------------------------------------------------------- clients


@dataclass
class Tally(common.Tally):
    defective: int = 0  # units the side put into the points' defective stock

    def add_to(self, done: Counter, name: str) -> None:
        super().add_to(done, name)
        done[f"defective {name}"] += self.defective


async def write_off(c: Client, tokens: dict[str, bytes], doc: Document, tally: Tally) -> None:
    """Side A: POST /repairs by the point's user."""
    user = tokens[point_user(doc.point)]
    got = await step(tally, "repair", c.request("POST", "/repairs", user, doc.repair))
    if got["state"] != "written_off" or got["category"] != doc.category.value:
        raise Failed(f"repair {got['number']} is {got['state']} {got['category']}")
    tally.defective += doc.defective


async def bare(c: Client, tokens: dict[str, bytes], doc: Document, tally: Tally) -> None:
    """Side B: the same postings as one plain entry, by the admin."""
    await step(tally, "entry", c.request("POST", "/entries", tokens[ADMIN], doc.entry))
    tally.defective += doc.defective


# --------------------------------------------------------------------------- report


def report(levels: list[Level]) -> None:
    table = Table(title="Repairs per second and ms per request (measured by the client)")
    cols = ("backend", "clients", "side", "requests", "per s", "p50", "p95", "errors")
    for col in (*cols, "CPU ms/req srv+pg", "A/B"):
        table.add_column(col, justify="left" if col in ("backend", "side") else "right")
    for lv in levels:
        for name, t in (("A POST /repairs", lv.a), ("B POST /entries", lv.b)):
            table.add_row(*common.table_row(lv, name, t))
    say(table)
    for lv in levels:
        say(
            f"{lv.backend}, {lv.clients} client(s): repairs {lv.a.rate:.1f}/s (p50 "
            f"{lv.a.pct(0.5):.1f} ms), entries {lv.b.rate:.1f}/s (p50 {lv.b.pct(0.5):.1f} ms), "
            f"ratio {lv.ratio:.2f}; target >= {TARGET} " + common.verdict(lv.ratio, TARGET)
        )
        common.say_level_warnings(lv)


async def run_backend(backend: str, url: str, args, log_dir: Path) -> tuple[list[Level], bool]:
    today = set_up(url)
    done: Counter = Counter()
    rng = random.Random(20261201)
    levels = []
    with hl.running_server(url, args.workers, log_dir) as server:
        users = (ADMIN, *map(point_user, range(POINTS)))
        tokens = await common.log_in(server.port, users, PASSWORD)
        for n in args.clients:
            level = await common.run_level(
                server,
                backend,
                n,
                args,
                tokens,
                (write_off, bare),
                lambda count, first: documents(count, rng, today, first),
                warm=max(args.warmup, 4 * n),
                per_round=args.per_round,
                done=done,
                new_tally=Tally,
            )
            levels.append(level)
            say(
                f"{backend}, {n} client(s): repairs {level.a.rate:6.1f}/s "
                f"p50 {level.a.pct(0.5):5.1f} ms | entries {level.b.rate:6.1f}/s "
                f"p50 {level.b.pct(0.5):5.1f} ms | ratio {level.ratio:.2f}"
            )
    check = check_ledger(url)
    units = done["units a"] + done["units b"]
    defective = done["defective a"] + done["defective b"]
    sound = (
        not check.problems
        and not check.unbalanced
        and check.repairs == Counter({"written_off": done["documents a"]})
        and check.out_of_stock == units
        and check.defective == defective
        and check.consumed == units - defective
        and not done["errors"]
    )
    say(
        common.ledger_said(backend, check.problems, check.unbalanced)
        + f"repairs {dict(check.repairs)} (written off {done['documents a']}); out of the points' "
        f"stock {check.out_of_stock:,} (moved {units:,}), defective {check.defective:,} "
        f"(moved {defective:,}), consumed {check.consumed:,} (moved {units - defective:,}); "
        f"errors {done['errors']}: " + ("sound" if sound else "NOT SOUND")
    )
    return levels, sound


# --------------------------------------------------------------------------- profile


def profile(url: str, args, out_dir: Path) -> None:
    """Write-offs in process under pyinstrument, beside services.post of the
    same entries; per-call medians without the profiler first."""
    from pyinstrument import Profiler

    today = set_up(url)
    db = Database.from_url(url)
    with db.reading() as s:
        ids = dict(s.execute(select(Holder.code, Holder.id)).all())
    admin = Actor(ADMIN, Role.ADMIN)
    rng = random.Random(7)

    def call_a(doc: Document):
        body = json.loads(doc.repair)
        actor = Actor(point_user(doc.point), Role.SERVICE_POINT, ids[point(doc.point)])
        case = Case.model_validate(body["case"])
        lines = [LineIn(**p) for p in body["parts"]]
        key = str(uuid.uuid4())
        db.transact(
            lambda s: repairs.write_off(
                s, actor, repair_number=body["repair_number"],
                customer_serial=body["customer_serial"], handset_model=body["handset_model"],
                fault=body["fault"], case=case, category=Category(body["category"]),
                parts=lines, key=key,
            )
        )  # fmt: skip

    def call_b(doc: Document):
        entry = EntryIn.model_validate_json(doc.entry).model_copy(
            update={"idempotency_key": str(uuid.uuid4())}
        )
        result = db.transact(lambda s: services.post(s, admin, [entry])[0])
        with db.reading() as s:
            queries.posted_entry(s, admin, entry, result)

    first = 0
    for side, call in (("write_off", call_a), ("entry", call_b)):
        warm = documents(20, rng, today, first)
        timed = documents(args.per_round * 2, rng, today, first + 20)
        first += 20 + len(timed)
        for doc in warm:
            call(doc)
        times = []
        for doc in timed[: len(timed) // 2]:
            t0 = time.perf_counter()
            call(doc)
            times.append(time.perf_counter() - t0)
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for doc in timed[len(timed) // 2 :]:
            call(doc)
        profiler.stop()
        times.sort()
        say(f"{side}: median {1000 * times[len(times) // 2]:.2f} ms per call in process")
        out = out_dir / side
        out_dir.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".txt").write_text(
            profiler.output_text(unicode=True, color=False, show_all=False)
        )
        out.with_suffix(".html").write_text(profiler.output_html())
        say(f"  profile written to {out}.txt/.html")
    db.dispose()


# --------------------------------------------------------------------------- main


async def run(args, tmp: Path) -> int:
    levels: list[Level] = []
    failed = False
    for backend in common.backends(args.backend):
        with common.server_url(backend, tmp, "repairs.db", args.postgres_url) as url:
            if args.profile:
                profile(url, args, Path(args.profile) / backend)
                continue
            found, sound = await run_backend(backend, url, args, tmp)
        levels += found
        failed |= not sound
    if levels:
        report(levels)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = common.ab_parser(__doc__.split("\n\n")[0])
    parser.add_argument(
        "--per-round", type=int, default=100, help="timed repairs per side and round (100)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=int(os.environ.get("BENCH_REPAIRS_ROUNDS", "4")),
        help="alternations per level (BENCH_REPAIRS_ROUNDS, else 4)",
    )
    parser.add_argument("--warmup", type=int, default=20, help="untimed repairs per side")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="profile write-offs in process with pyinstrument instead (no HTTP, no ratio)",
    )
    args = parser.parse_args(argv)
    if min(args.per_round, args.rounds, args.workers) < 1 or args.warmup < 0:
        parser.error("--per-round, --rounds and --workers must be positive")

    common.ab_banner(
        args,
        f"{args.per_round} repairs per side and round, {args.rounds} alternating rounds, "
        f"{POINTS} points, mix WH:F:DOA 2:1:1",
    )
    with tempfile.TemporaryDirectory(prefix="repair-write-off-") as tmp:
        return uvloop.run(run(args, Path(tmp)))


if __name__ == "__main__":
    hl.run_script(main)
