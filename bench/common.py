"""What the benchmarks share beyond bench/http_load.py.

- `scratch_engine`: a migrated, empty database for the in-process benches
  (bench/stock_count.py, bench/stock_view.py).
- The document A/B harness of the HTTP benches that pit a workflow against
  the bare ledger (bench/requisition_cycle.py, bench/repair_write_off.py):
  their command line and banner, one keep-alive client per user token, the
  closed-loop driver, the tallies, the alternating rounds of a level, the
  per-backend loop and the parts of the ledger check and report they have in
  common. What each side sends and checks stays in its own benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/http_load.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import http_load as hl
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from ledger import masterdata as md
from ledger.catalog import locations
from ledger.db import make_engine, normalize_url
from ledger.migrate import upgrade
from ledger.models import Account, Holder
from ledger.policy import SYSTEM

say = hl.say
HOST = hl.HOST

# --------------------------------------------------------------------------- databases


@contextmanager
def scratch_engine(backend: str, tmp: Path, pg_url: str, label: str) -> Iterator[Engine]:
    """A migrated, empty database: a SQLite file in `tmp`, or a PostgreSQL
    database created for the run and dropped afterwards, error or not."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp / label}.db")
        with engine.begin() as conn:
            upgrade(connection=conn)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    base = make_url(normalize_url(pg_url))
    admin = make_engine(pg_url, pool_size=1, isolation_level="AUTOCOMMIT")
    name = f"bench_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    engine = None
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        engine = make_engine(base.set(database=name).render_as_string(False), pool_size=2)
        with engine.begin() as conn:
            upgrade(connection=conn)
        yield engine
    finally:
        if engine is not None:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def backends(choice: str) -> list[str]:
    """The backends `--backend` names, SQLite first."""
    return ["sqlite", "postgresql"] if choice == "both" else [choice]


@contextmanager
def server_url(backend: str, tmp: Path, sqlite_file: str, pg_url: str) -> Iterator[str]:
    """The database URL a served benchmark runs on: a SQLite file in `tmp`,
    or a throwaway PostgreSQL database (its version said), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / sqlite_file}"
        return
    with hl.throwaway_database(pg_url) as url:
        hl.say_postgres(url)
        yield url


# --------------------------------------------------------------------------- command line


def ab_parser(description: str) -> argparse.ArgumentParser:
    """The options every A/B benchmark takes; each adds its own sizes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=hl.DEFAULT_PG_URL)
    parser.add_argument("--clients", type=hl.parse_list, default=[1, 4])
    parser.add_argument("--workers", type=int, default=hl.RECOMMENDED_WORKERS)
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=10,
        help="before each level, wait up to this long for other processes to go idle (10)",
    )
    return parser


def ab_banner(args, sizes: str) -> None:
    """SIGTERM ends the run like Ctrl-C; then the first line of the output."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    say(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {date.today()}, commit "
        f"{hl.git_commit()}; {args.workers} workers, clients {args.clients}, {sizes}; "
        "the client runs on the same cores as the server"
    )


# --------------------------------------------------------------------------- set-up


def network(s, warehouse: str, points: list[str]) -> None:
    """HQ, one regional warehouse, its service points and the opening-balance holder."""

    def place(kind, code, served_by=None, grade=None):
        locations.create_location(
            s, SYSTEM, kind=kind, code=code, name=f"Location {code}", region="South",
            province="Guangdong", city=None if kind == "hq" else "Shenzhen", grade=grade,
            served_by=served_by,
        )  # fmt: skip

    place("hq", "HQ")
    place("regional_warehouse", warehouse, served_by="HQ")
    for code in points:
        place("service_point", code, served_by=warehouse, grade="A")
    md.create_holder(s, "OPEN", "Opening balance", "opening_balance")


def balance_total(s, where) -> int:
    """The sum of the balances of the accounts `where` selects (holder joined)."""
    stmt = (
        select(func.coalesce(func.sum(Account.balance), 0))
        .join(Holder, Holder.id == Account.holder_id)
        .where(where)
    )
    return s.execute(stmt).scalar_one()


def ledger_said(backend: str, problems: list[str], unbalanced: list[str]) -> str:
    """The opening of a backend's ledger line: verify() and the trial balance."""
    balance = "nets to zero" if not unbalanced else "OFF for " + ", ".join(unbalanced)
    return f"{backend} ledger: verify() -> {problems or '[]'}; trial balance {balance}; "


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


async def log_in(port: int, usernames, password: str) -> dict[str, bytes]:
    """A token (as its Authorization header) for every user; shared by the clients."""
    client = Client(port)
    tokens = {}
    try:
        for username in usernames:
            form = urlencode({"username": username, "password": password}).encode()
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

    def add_to(self, done: Counter, name: str) -> None:
        """What the side `name` ("a" or "b") moved, into the run's totals."""
        done[f"units {name}"] += self.units
        done[f"documents {name}"] += self.n
        done["errors"] += sum(self.errors.values())


class Failed(Exception):
    pass


async def step(tally: Tally, name: str, send) -> dict:
    """One request of a document, timed as step `name`; its JSON answer.
    A non-2xx answer is counted and sampled, and fails the document."""
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


async def drive(
    clients: list[Client],
    tokens: dict[str, bytes],
    side,
    docs: list,
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
    server: hl.Server,
    backend: str,
    n: int,
    args,
    tokens: dict[str, bytes],
    sides: tuple[Callable, Callable],
    documents: Callable[[int, int], list],
    warm: int,
    per_round: int,
    done: Counter,
    new_tally: Callable[[], Tally] = Tally,
) -> Level:
    """One level: `n` clients, a quiet machine, `warm` documents of either side
    untimed, then `args.rounds` rounds of `per_round` documents a side, A and B
    alternating who goes first. `documents(count, first)` builds documents
    first .. first + count - 1; `done` keeps the run's totals."""
    busy = await hl.quiet_machine(args.quiet_wait)
    clients = [Client(server.port) for _ in range(n)]
    try:
        first = done["documents"]
        warm_docs = documents(warm, first)
        timed = documents(per_round * args.rounds, first + warm)
        done["documents"] += warm + len(timed)
        # Warm-up, untimed: connections, pools, statement caches, both sides.
        for side, name in zip(sides, "ab", strict=True):
            tally = new_tally()
            await drive(clients, tokens, side, warm_docs, tally)
            tally.add_to(done, name)
        a, b = new_tally(), new_tally()
        meter = server.meter()
        for r in range(args.rounds):
            chunk = timed[r * per_round : (r + 1) * per_round]
            order = list(zip(sides, (a, b), strict=True))
            for side, tally in order if r % 2 == 0 else order[::-1]:
                await drive(clients, tokens, side, chunk, tally, meter)
        a.add_to(done, "a")
        b.add_to(done, "b")
        return Level(backend, n, a, b, busy)
    finally:
        for c in clients:
            c.close()


# --------------------------------------------------------------------------- report


def table_row(lv: Level, side: str, t: Tally, *more: str) -> list[str]:
    """A side's row of a level in the report's table; `more` after p95."""
    return [
        lv.backend,
        str(lv.clients),
        side,
        f"{t.n:,}",
        f"{t.rate:,.1f}",
        f"{t.pct(0.5):.1f}",
        f"{t.pct(0.95):.1f}",
        *more,
        ", ".join(f"{k}: {v}" for k, v in t.errors.items()) or "none",
        f"{t.cpu_ms('server'):.1f}+{t.cpu_ms('postgres'):.1f}",
        f"{lv.ratio:.2f}" if t is lv.a else "",
    ]


def say_level_warnings(lv: Level) -> None:
    """A level's busy machine and its error samples, after its verdict."""
    if lv.busy_before >= hl.QUIET_PERCENT:
        say(
            f"[yellow]{lv.backend} {lv.clients}c: the machine was {lv.busy_before:.0f}% busy "
            "with other processes before the level: its figures are suspect[/yellow]"
        )
    for t in (lv.a, lv.b):
        for status, body in t.samples.items():
            say(f"[red]{lv.backend} {lv.clients}c {status}:[/red] {body}")


def verdict(ratio: float, target: float) -> str:
    return "met" if ratio >= target else f"NOT met ({ratio / target:.0%} of it)"
