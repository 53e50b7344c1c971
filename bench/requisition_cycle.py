"""The parts cycle's price over the bare ledger: a 50-line requisition taken
through its cycle over HTTP, beside the same journal movements posted as
plain entries, on the real served app.

Run from the project root (PostgreSQL at TEST_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/test; about 2 to 3 minutes for both backends):

    .venv/bin/python bench/requisition_cycle.py [--backend sqlite|postgresql|both]
        [--documents N] [--clients 1,4] [--workers 2] [--postgres-url URL]

Set-up, through the services (not HTTP), in a throwaway database (a
PostgreSQL database created for the run and dropped afterwards, error or
Ctrl-C; a SQLite file in a temporary directory): HQ, a regional warehouse
RW-S, 16 service points served by it, 50 priced parts, 10,000,000 units of
each at RW-S, one approval level with limits no 50-line requisition reaches,
an approver with that level, a warehouse clerk and one user per service
point; every account either side posts to is opened beforehand. Then the real
server, `aftersales serve` (2 workers), on 127.0.0.1 (bench/http_load.py's
server, client and CPU meter and bench/common.py's A/B client loop and rounds
are reused).

One document, measured from the client:
  A (the cycle): POST /requisitions with `submit: true` (the point's user,
    one line per part, 1-3 units each) -> POST /requisitions/{n}/approve (the
    approver) -> POST /requisitions/{n}/issue (the clerk, everything in one
    shipment) -> POST /shipments/{s}/receive (the point's user, in full);
  B (the bare ledger): GET /me (the point's user; the create moves nothing in
    the ledger, so it is stood in for by the cheapest request of the same
    user, which reads its point) -> POST /entries RW-S:STOCK -> RW-S:RESERVED
    -> POST /entries RW-S:RESERVED -> point:TRANSIT -> POST /entries
    point:TRANSIT -> point:STOCK (the clerk), 100 postings each: exactly the
    movements the cycle posts.
Every request but GET /me carries a new Idempotency-Key. Document k of either
side goes to the same point with the same quantities, so both sides move the
same units between the same accounts.

How it is kept fair: both sides run on the same server, connections and
database in the same run, with the same number of concurrent clients (each a
closed loop on one keep-alive connection, sending a document's requests one
after another), interleaved in rounds (A, B, B, A, ...), with equal counts;
request bodies are built before the clock starts; every level warms up
(untimed) first and waits for a quiet machine.

Afterwards the ledger must be sound: `ledger.queries.verify` returns [], the
trial balance nets to zero for every commodity, every requisition is closed,
nothing is left reserved or in transit, and the units at the points equal
what both sides moved. Exit status 1 otherwise, or on any non-2xx answer.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, bench/http_load.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common
import http_load as hl
import uvloop
from common import Client, Failed, Level, Tally, balance_total, step
from rich.table import Table
from sqlalchemy import func, select

from ledger import masterdata as md
from ledger import queries, services
from ledger.catalog import locations, parts
from ledger.db import Database
from ledger.journal import EntryIn, PostingIn
from ledger.migrate import upgrade
from ledger.models import Account, Holder, HolderKind, Role
from ledger.parts.requisitions import Requisition
from ledger.policy import SYSTEM
from ledger.users import create_user

say = hl.say
WAREHOUSE = "RW-S"
PARTS = 50
POINTS = 16
OPENING = 10_000_000
PASSWORD = "bench-parts-password"
APPROVER, CLERK = "approver", "clerk"
TARGET = 0.5  # A at least half of B's documents per second
STEPS_A = ("create", "approve", "issue", "receive")
STEPS_B = ("GET /me", "reserve", "ship", "receive")


def sku(i: int) -> str:
    return f"BP-{i + 1:03d}"


def point(j: int) -> str:
    return f"SP-{j % POINTS + 1:02d}"


def point_user(j: int) -> str:
    return f"sp-{j % POINTS + 1:02d}"


# --------------------------------------------------------------------------- set-up


def set_up(url: str) -> None:
    """The network, users, stock and every account either side posts to."""
    upgrade(url)
    db = Database.from_url(url, pool_size=1)

    def master(s):
        today = s.info["window"].today()
        common.network(s, WAREHOUSE, [point(j) for j in range(POINTS)])
        for i in range(PARTS):
            parts.create_part(
                s, SYSTEM, sku(i), name_zh=f"零件 {i}", name_en=f"Bench part {i}",
                category="screen", warranty_class="handset",
            )  # fmt: skip
            cost = 1_000 + 500 * i
            parts.set_price(
                s, SYSTEM, sku(i), effective_from=today, standard_cost=cost, list_price=2 * cost
            )
        locations.create_level(
            s, SYSTEM, code="L1", name="Level 1", rank=1, quantity_limit=1_000_000,
            amount_limit=10**12,
        )  # fmt: skip
        create_user(s, APPROVER, PASSWORD, Role.APPROVER)
        locations.assign_level(s, SYSTEM, APPROVER, "L1")
        create_user(s, CLERK, PASSWORD, Role.WAREHOUSE_CLERK)
        for j in range(POINTS):
            create_user(s, point_user(j), PASSWORD, Role.SERVICE_POINT, service_point=point(j))
        wanted = [("OPEN", "STOCK", sku(i)) for i in range(PARTS)]
        wanted += [(WAREHOUSE, p, sku(i)) for p in ("STOCK", "RESERVED") for i in range(PARTS)]
        wanted += [
            (point(j), p, sku(i))
            for p in ("TRANSIT", "STOCK")
            for j in range(POINTS)
            for i in range(PARTS)
        ]
        md.ensure_accounts(s, wanted)

    db.transact(master)
    opening = EntryIn(
        kind="opening",
        postings=[
            posting
            for i in range(PARTS)
            for posting in (
                PostingIn(account=f"OPEN:STOCK:{sku(i)}", amount=-OPENING),
                PostingIn(account=f"{WAREHOUSE}:STOCK:{sku(i)}", amount=OPENING),
            )
        ],
    )
    db.transact(lambda s: services.post(s, SYSTEM, [opening]))
    db.dispose()


@dataclass
class LedgerCheck:
    problems: list[str]
    unbalanced: list[str]
    requisitions: Counter
    at_points: int
    reserved: int
    in_transit: int

    def sound(self, documents_a: int, units: int) -> bool:
        return (
            not self.problems
            and not self.unbalanced
            and self.requisitions == Counter({"closed": documents_a})
            and self.at_points == units
            and self.reserved == 0
            and self.in_transit == 0
        )


def check_ledger(url: str) -> LedgerCheck:
    db = Database.from_url(url, pool_size=1)
    try:
        with db.reading() as s:
            states = s.execute(
                select(Requisition.state, func.count()).group_by(Requisition.state)
            ).all()
            return LedgerCheck(
                problems=queries.verify(s),
                unbalanced=[r["commodity"] for r in queries.trial_balance(s) if r["net"] != 0],
                requisitions=Counter(dict(states)),
                at_points=balance_total(
                    s, (Holder.kind == HolderKind.SERVICE_POINT) & (Account.purpose == "STOCK")
                ),
                reserved=balance_total(s, Account.purpose == "RESERVED"),
                in_transit=balance_total(s, Account.purpose == "TRANSIT"),
            )
    finally:
        db.dispose()


# --------------------------------------------------------------------------- clients


@dataclass
class Document:
    """Document k of a level: its point, quantities and the bodies both sides send."""

    point: int
    create: bytes
    entries: tuple[bytes, bytes, bytes]
    units: int


def _entry(qty: list[int], ref: str, kind: str, src: str, dst: str, memo: str) -> bytes:
    """One of side B's entries: every part from `src` to `dst` (account code prefixes)."""
    postings = []
    for i, q in enumerate(qty):
        postings += [
            PostingIn(account=f"{src}:{sku(i)}", amount=-q),
            PostingIn(account=f"{dst}:{sku(i)}", amount=q),
        ]
    entry = EntryIn(kind=kind, refs={"requisition": ref}, memo=memo, postings=postings)
    return entry.model_dump_json(exclude_defaults=True).encode()


def documents(n: int, rng: random.Random, first: int = 0) -> list[Document]:
    out = []
    for k in range(first, first + n):
        j = k % POINTS
        qty = [rng.randint(1, 3) for _ in range(PARTS)]
        create = json.dumps(
            {"lines": [{"sku": sku(i), "quantity": q} for i, q in enumerate(qty)], "submit": True}
        ).encode()
        sp = point(j)
        ref = f"B-{k + 1:06d}"
        entries = (
            _entry(qty, ref, "requisition_reserve", f"{WAREHOUSE}:STOCK", f"{WAREHOUSE}:RESERVED",
                  f"reserved at {WAREHOUSE} for {sp}"),
            _entry(qty, ref, "shipment_issue", f"{WAREHOUSE}:RESERVED", f"{sp}:TRANSIT",
                  f"issue {WAREHOUSE} -> {sp}"),
            _entry(qty, ref, "shipment_receipt", f"{sp}:TRANSIT", f"{sp}:STOCK",
                   f"receipt at {sp}"),
        )  # fmt: skip
        out.append(Document(j, create, entries, sum(qty)))
    return out


async def cycle(c: Client, tokens: dict[str, bytes], doc: Document, tally: Tally) -> None:
    """Side A: the requisition through its cycle, four requests."""
    user = tokens[point_user(doc.point)]
    rq = await step(tally, "create", c.request("POST", "/requisitions", user, doc.create))
    number = rq["number"]
    if rq["state"] != "submitted":
        raise Failed(f"created {number} is {rq['state']}")
    approved = await step(
        tally, "approve", c.request("POST", f"/requisitions/{number}/approve", tokens[APPROVER])
    )
    if approved["state"] != "approved":
        raise Failed(f"approved {number} is {approved['state']}")
    shipment = await step(
        tally, "issue", c.request("POST", f"/requisitions/{number}/issue", tokens[CLERK])
    )
    got = await step(
        tally, "receive", c.request("POST", f"/shipments/{shipment['number']}/receive", user)
    )
    if got["state"] != "received" or any(line["short"] for line in got["lines"]):
        raise Failed(f"shipment {shipment['number']} is {got['state']} after the receipt")


async def bare(c: Client, tokens: dict[str, bytes], doc: Document, tally: Tally) -> None:
    """Side B: the same movements as plain entries, with GET /me for the create."""
    await step(tally, "GET /me", c.request("GET", "/me", tokens[point_user(doc.point)], key=False))
    for name, body in zip(STEPS_B[1:], doc.entries, strict=True):
        await step(tally, name, c.request("POST", "/entries", tokens[CLERK], body))


# --------------------------------------------------------------------------- report


def report(levels: list[Level]) -> None:
    table = Table(title="Documents per second and ms per document (measured by the client)")
    cols = ("backend", "clients", "side", "documents", "docs/s", "p50", "p95")
    more = ("median ms per request", "errors", "CPU ms/doc srv+pg", "A/B")
    for col in (*cols, *more):
        table.add_column(col, justify="left" if col in ("backend", "side", more[0]) else "right")
    for lv in levels:
        for name, t, steps in (("A cycle", lv.a, STEPS_A), ("B bare", lv.b, STEPS_B)):
            table.add_row(
                *common.table_row(lv, name, t, " / ".join(f"{t.step_ms(s):.1f}" for s in steps))
            )
    say(table)
    say(
        "median ms per request: A create / approve / issue / receive; "
        "B GET /me / reserve entry / ship entry / receive entry (100 postings each)."
    )
    for lv in levels:
        say(
            f"{lv.backend}, {lv.clients} client(s): A {lv.a.rate:.1f} docs/s, B "
            f"{lv.b.rate:.1f} docs/s, A/B {lv.ratio:.2f}; target >= {TARGET} "
            + common.verdict(lv.ratio, TARGET)
        )
        common.say_level_warnings(lv)


async def run_backend(backend: str, url: str, args, log_dir: Path) -> tuple[list[Level], bool]:
    set_up(url)
    done: Counter = Counter()
    rng = random.Random(20261201)
    levels = []
    with hl.running_server(url, args.workers, log_dir) as server:
        users = (APPROVER, CLERK, *map(point_user, range(POINTS)))
        tokens = await common.log_in(server.port, users, PASSWORD)
        for n in args.clients:
            level = await common.run_level(
                server,
                backend,
                n,
                args,
                tokens,
                (cycle, bare),
                lambda count, first: documents(count, rng, first),
                warm=max(args.warmup, 2 * n),
                per_round=max(1, args.documents // args.rounds),
                done=done,
            )
            levels.append(level)
            say(
                f"{backend}, {n} client(s): A {level.a.rate:6.1f} docs/s "
                f"p50 {level.a.pct(0.5):6.1f} ms | B {level.b.rate:6.1f} docs/s "
                f"p50 {level.b.pct(0.5):6.1f} ms | A/B {level.ratio:.2f}"
            )
    check = check_ledger(url)
    units = done["units a"] + done["units b"]
    sound = check.sound(done["documents a"], units) and not done["errors"]
    say(
        common.ledger_said(backend, check.problems, check.unbalanced)
        + f"requisitions {dict(check.requisitions)} (cycled {done['documents a']}); units at the "
        f"points {check.at_points:,} (moved {units:,}); reserved {check.reserved}, in transit "
        f"{check.in_transit}; errors {done['errors']}: " + ("sound" if sound else "NOT SOUND")
    )
    return levels, sound


async def run(args, tmp: Path) -> int:
    levels: list[Level] = []
    failed = False
    for backend in common.backends(args.backend):
        with common.server_url(backend, tmp, "cycle.db", args.postgres_url) as url:
            found, sound = await run_backend(backend, url, args, tmp)
        levels += found
        failed |= not sound
    report(levels)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = common.ab_parser(__doc__.split("\n\n")[0])
    parser.add_argument(
        "--documents", type=int, default=80, help="timed documents per side and level (80)"
    )
    parser.add_argument("--rounds", type=int, default=4, help="alternations per level (4)")
    parser.add_argument("--warmup", type=int, default=8, help="untimed documents per side")
    args = parser.parse_args(argv)
    if min(args.documents, args.rounds, args.workers) < 1 or args.warmup < 0:
        parser.error("--documents, --rounds and --workers must be positive")

    common.ab_banner(
        args,
        f"{args.documents} documents per side and level in {args.rounds} alternating rounds, "
        f"{PARTS} lines each, {POINTS} points",
    )
    with tempfile.TemporaryDirectory(prefix="requisition-cycle-") as tmp:
        return uvloop.run(run(args, Path(tmp)))


if __name__ == "__main__":
    hl.run_script(main)
