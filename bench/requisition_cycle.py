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
server, client and CPU meter are reused).

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

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/http_load.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import http_load as hl
import psycopg
import uvloop
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

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

BENCH = Path(__file__).resolve().parent
say = hl.say
DEFAULT_PG_URL = hl.DEFAULT_PG_URL
HOST = hl.HOST
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

        def place(kind, code, served_by=None, grade=None):
            locations.create_location(
                s, SYSTEM, kind=kind, code=code, name=f"Location {code}", region="South",
                province="Guangdong", city=None if kind == "hq" else "Shenzhen", grade=grade,
                served_by=served_by,
            )  # fmt: skip

        place("hq", "HQ")
        place("regional_warehouse", WAREHOUSE, served_by="HQ")
        for j in range(POINTS):
            place("service_point", point(j), served_by=WAREHOUSE, grade="A")
        md.create_holder(s, "OPEN", "Opening balance", "opening_balance")
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

    def total(where) -> int:
        stmt = (
            select(func.coalesce(func.sum(Account.balance), 0))
            .join(Holder, Holder.id == Account.holder_id)
            .where(where)
        )
        return s.execute(stmt).scalar_one()

    try:
        with db.reading() as s:
            states = s.execute(
                select(Requisition.state, func.count()).group_by(Requisition.state)
            ).all()
            return LedgerCheck(
                problems=queries.verify(s),
                unbalanced=[r["commodity"] for r in queries.trial_balance(s) if r["net"] != 0],
                requisitions=Counter(dict(states)),
                at_points=total(
                    (Holder.kind == HolderKind.SERVICE_POINT) & (Account.purpose == "STOCK")
                ),
                reserved=total(Account.purpose == "RESERVED"),
                in_transit=total(Account.purpose == "TRANSIT"),
            )
    finally:
        db.dispose()


# --------------------------------------------------------------------------- clients


class Client:
    """One keep-alive connection (http_load's minimal client); each request
    carries the token of the user sending it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: hl.Connection | None = None

    async def request(
        self, method: str, path: str, auth: bytes, body: bytes = b"", key: bool = True
    ) -> tuple[int, bytes]:
        if self.conn is None or self.conn.closed:
            _, self.conn = await asyncio.get_running_loop().create_connection(
                hl.Connection, HOST, self.port
            )
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            f"Content-Length: {len(body)}\r\n"
        ).encode()
        extra = b"Content-Type: application/json\r\n" if body else b""
        if key:
            extra += f"Idempotency-Key: {uuid.uuid4()}\r\n".encode()
        return await asyncio.wait_for(
            self.conn.send(head + auth + extra + b"\r\n" + body), hl.TIMEOUT
        )

    def close(self) -> None:
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.close()
        self.conn = None


async def log_in(port: int) -> dict[str, bytes]:
    """A token (as its Authorization header) for every user; shared by the clients."""
    client = Client(port)
    tokens = {}
    try:
        for username in (APPROVER, CLERK, *map(point_user, range(POINTS))):
            form = urlencode({"username": username, "password": PASSWORD}).encode()
            head = (
                f"POST /auth/token HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                f"Content-Length: {len(form)}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
            ).encode()
            await client.request("GET", "/health", b"", key=False)  # opens the connection
            status, body = await client.conn.send(head + form)
            if status != 200:
                raise RuntimeError(f"login of {username} failed: {status} {body[:300]!r}")
            token = json.loads(body)["access_token"]
            tokens[username] = f"Authorization: Bearer {token}\r\n".encode()
    finally:
        client.close()
    return tokens


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


@dataclass
class Tally:
    """One side at one level: per document and per step, over all its rounds."""

    latencies: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    wall: float = 0.0
    cpu: hl.CpuSplit = field(default_factory=hl.CpuSplit)
    units: int = 0

    @property
    def n(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.n / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        return hl.Tally(latencies=self.latencies).pct(q)

    def step_ms(self, name: str) -> float:
        values = sorted(self.steps.get(name, []))
        return 1000 * values[len(values) // 2] if values else float("nan")

    def cpu_ms(self, part: str) -> float:
        return 1000 * getattr(self.cpu, part) / max(self.n, 1)


class Failed(Exception):
    pass


async def _step(tally: Tally, name: str, send) -> dict:
    t0 = time.perf_counter()
    try:
        status, body = await send
    except TimeoutError:
        status, body = "timeout", b""
    except (OSError, hl.httptools.HttpParserError) as exc:
        status, body = type(exc).__name__, str(exc).encode()
    tally.steps.setdefault(name, []).append(time.perf_counter() - t0)
    if not (isinstance(status, int) and status < 300):
        key = f"{name} {status}"
        tally.errors[key] += 1
        tally.samples.setdefault(key, body[:300].decode(errors="replace"))
        raise Failed(key)
    return json.loads(body)


async def cycle(c: Client, tokens: dict[str, bytes], doc: Document, tally: Tally) -> None:
    """Side A: the requisition through its cycle, four requests."""
    user = tokens[point_user(doc.point)]
    rq = await _step(tally, "create", c.request("POST", "/requisitions", user, doc.create))
    number = rq["number"]
    if rq["state"] != "submitted":
        raise Failed(f"created {number} is {rq['state']}")
    approved = await _step(
        tally, "approve", c.request("POST", f"/requisitions/{number}/approve", tokens[APPROVER])
    )
    if approved["state"] != "approved":
        raise Failed(f"approved {number} is {approved['state']}")
    shipment = await _step(
        tally, "issue", c.request("POST", f"/requisitions/{number}/issue", tokens[CLERK])
    )
    got = await _step(
        tally, "receive", c.request("POST", f"/shipments/{shipment['number']}/receive", user)
    )
    if got["state"] != "received" or any(line["short"] for line in got["lines"]):
        raise Failed(f"shipment {shipment['number']} is {got['state']} after the receipt")


async def bare(c: Client, tokens: dict[str, bytes], doc: Document, tally: Tally) -> None:
    """Side B: the same movements as plain entries, with GET /me for the create."""
    await _step(tally, "GET /me", c.request("GET", "/me", tokens[point_user(doc.point)], key=False))
    for name, body in zip(STEPS_B[1:], doc.entries, strict=True):
        await _step(tally, name, c.request("POST", "/entries", tokens[CLERK], body))


async def drive(
    clients: list[Client],
    tokens: dict[str, bytes],
    side,
    docs: list[Document],
    tally: Tally,
    meter: hl.CpuMeter | None = None,
) -> None:
    """Closed loop: each client takes the next document when its last one is done."""
    queue = iter(docs)

    async def one(c: Client) -> None:
        for doc in queue:
            t0 = time.perf_counter()
            try:
                await side(c, tokens, doc, tally)
            except Failed:
                continue
            tally.latencies.append(time.perf_counter() - t0)
            tally.units += doc.units

    meter = meter or hl.CpuMeter(None, None)
    meter.start()
    start = time.perf_counter()
    await asyncio.gather(*(one(c) for c in clients))
    tally.wall += time.perf_counter() - start
    tally.cpu.add(meter.stop())


@dataclass
class Level:
    backend: str
    clients: int
    a: Tally
    b: Tally
    busy_before: float

    @property
    def ratio(self) -> float:
        return self.a.rate / self.b.rate if self.b.rate else 0.0


async def run_level(
    server: hl.Server, backend: str, n: int, args, tokens, rng, done: Counter
) -> Level:
    busy = await hl.quiet_machine(args.quiet_wait)
    clients = [Client(server.port) for _ in range(n)]
    try:
        warm = max(args.warmup, 2 * n)
        per_round = max(1, args.documents // args.rounds)
        first = done["documents"]
        warm_docs = documents(warm, rng, first)
        timed = documents(per_round * args.rounds, rng, first + warm)
        done["documents"] += warm + len(timed)
        # Warm-up, untimed: connections, pools, statement caches, both sides.
        for side, name in ((cycle, "a"), (bare, "b")):
            tally = Tally()
            await drive(clients, tokens, side, warm_docs, tally)
            done[f"units {name}"] += tally.units
            done[f"documents {name}"] += tally.n
            done["errors"] += sum(tally.errors.values())
        a, b = Tally(), Tally()
        meter = server.meter()
        for r in range(args.rounds):
            chunk = timed[r * per_round : (r + 1) * per_round]
            order = [(cycle, a), (bare, b)]
            for side, tally in order if r % 2 == 0 else order[::-1]:
                await drive(clients, tokens, side, chunk, tally, meter)
        for name, tally in (("a", a), ("b", b)):
            done[f"units {name}"] += tally.units
            done[f"documents {name}"] += tally.n
            done["errors"] += sum(tally.errors.values())
        return Level(backend, n, a, b, busy)
    finally:
        for c in clients:
            c.close()


# --------------------------------------------------------------------------- report


def report(levels: list[Level]) -> None:
    table = Table(title="Documents per second and ms per document (measured by the client)")
    cols = ("backend", "clients", "side", "documents", "docs/s", "p50", "p95")
    more = ("median ms per request", "errors", "CPU ms/doc srv+pg", "A/B")
    for col in (*cols, *more):
        table.add_column(col, justify="left" if col in ("backend", "side", more[0]) else "right")
    for lv in levels:
        for name, t, steps in (("A cycle", lv.a, STEPS_A), ("B bare", lv.b, STEPS_B)):
            errors = ", ".join(f"{k}: {v}" for k, v in t.errors.items()) or "none"
            table.add_row(
                lv.backend,
                str(lv.clients),
                name,
                f"{t.n:,}",
                f"{t.rate:,.1f}",
                f"{t.pct(0.5):.1f}",
                f"{t.pct(0.95):.1f}",
                " / ".join(f"{t.step_ms(s):.1f}" for s in steps),
                errors,
                f"{t.cpu_ms('server'):.1f}+{t.cpu_ms('postgres'):.1f}",
                f"{lv.ratio:.2f}" if t is lv.a else "",
            )
    say(table)
    say(
        "median ms per request: A create / approve / issue / receive; "
        "B GET /me / reserve entry / ship entry / receive entry (100 postings each)."
    )
    for lv in levels:
        verdict = "met" if lv.ratio >= TARGET else f"NOT met ({lv.ratio / TARGET:.0%} of it)"
        say(
            f"{lv.backend}, {lv.clients} client(s): A {lv.a.rate:.1f} docs/s, B "
            f"{lv.b.rate:.1f} docs/s, A/B {lv.ratio:.2f}; target >= {TARGET} {verdict}"
        )
        if lv.busy_before >= hl.QUIET_PERCENT:
            say(
                f"[yellow]{lv.backend} {lv.clients}c: the machine was {lv.busy_before:.0f}% busy "
                "with other processes before the level: its figures are suspect[/yellow]"
            )
        for t in (lv.a, lv.b):
            for status, body in t.samples.items():
                say(f"[red]{lv.backend} {lv.clients}c {status}:[/red] {body}")


async def run_backend(backend: str, url: str, args, log_dir: Path) -> tuple[list[Level], bool]:
    set_up(url)
    done: Counter = Counter()
    rng = random.Random(20261201)
    levels = []
    with hl.running_server(url, args.workers, log_dir) as server:
        tokens = await log_in(server.port)
        for n in args.clients:
            level = await run_level(server, backend, n, args, tokens, rng, done)
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
        f"{backend} ledger: verify() -> {check.problems or '[]'}; trial balance "
        f"{'nets to zero' if not check.unbalanced else 'OFF for ' + ', '.join(check.unbalanced)}; "
        f"requisitions {dict(check.requisitions)} (cycled {done['documents a']}); units at the "
        f"points {check.at_points:,} (moved {units:,}); reserved {check.reserved}, in transit "
        f"{check.in_transit}; errors {done['errors']}: " + ("sound" if sound else "NOT SOUND")
    )
    return levels, sound


async def run(args, tmp: Path) -> int:
    levels: list[Level] = []
    failed = False
    for backend in ("sqlite", "postgresql"):
        if args.backend not in (backend, "both"):
            continue
        if backend == "sqlite":
            found, sound = await run_backend(backend, f"sqlite:///{tmp / 'cycle.db'}", args, tmp)
        else:
            with hl.throwaway_database(args.postgres_url) as url:
                with psycopg.connect(
                    make_url(url).set(drivername="postgresql").render_as_string(False)
                ) as conn:
                    version = conn.execute("SHOW server_version").fetchone()[0]
                say(f"PostgreSQL {version}; database {make_url(url).database}")
                found, sound = await run_backend(backend, url, args, tmp)
        levels += found
        failed |= not sound
    report(levels)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    parser.add_argument(
        "--documents", type=int, default=80, help="timed documents per side and level (80)"
    )
    parser.add_argument("--clients", type=hl.parse_list, default=[1, 4])
    parser.add_argument("--workers", type=int, default=hl.RECOMMENDED_WORKERS)
    parser.add_argument("--rounds", type=int, default=4, help="alternations per level (4)")
    parser.add_argument("--warmup", type=int, default=8, help="untimed documents per side")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=10,
        help="before each level, wait up to this long for other processes to go idle (10)",
    )
    args = parser.parse_args(argv)
    if min(args.documents, args.rounds, args.workers) < 1 or args.warmup < 0:
        parser.error("--documents, --rounds and --workers must be positive")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=BENCH, capture_output=True, text=True
    ).stdout.strip()
    say(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {date.today()}, commit "
        f"{commit or '?'}; {args.workers} workers, clients {args.clients}, {args.documents} "
        f"documents per side and level in {args.rounds} alternating rounds, {PARTS} lines each, "
        f"{POINTS} points; the client runs on the same cores as the server"
    )
    with tempfile.TemporaryDirectory(prefix="requisition-cycle-") as tmp:
        return uvloop.run(run(args, Path(tmp)))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted: server stopped, database dropped")
        sys.exit(130)
