"""The served API under concurrent clerks: postings beside the cheapest endpoint.

Run from the project root (PostgreSQL at TEST_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/test):

    .venv/bin/python bench/http_load.py [--workers 2] [--clients 1,8,32]
                                        [--requests N] [--seconds S] [--profile DIR]

What runs: a throwaway PostgreSQL database (CREATE DATABASE, dropped at the
end, error or Ctrl-C), migrated with `ledger.migrate.upgrade` and set up
through the ledger API (HQ, 32 service points, one part, 10,000,000 units of
opening stock at HQ, one warehouse clerk per client); then the real server,
`aftersales serve` with AFTERSALES_WORKERS worker processes, on 127.0.0.1 only.

What is measured, per number of concurrent clients (1, 8, 32): each client is a
clerk with its own token and one keep-alive HTTP/1.1 connection (all clients
on one asyncio loop in this process); it sends requests back to back:

  POST /entries  moves 1 unit HQ -> its service point, with a fresh
                 Idempotency-Key: the whole write path and the entry read back;
  GET /me        the cheapest authenticated endpoint (a clerk's /me reads no
                 database): routing, JWT check, serialising, the framework.

Requests per second and p50/p95/p99 latency (measured by the client, so they
include its own event loop) are reported side by side, with the ratio of the
two throughputs. Every non-2xx answer counts as an error and is printed.

How the comparison is kept fair: both endpoints run in the same run on the
same server and the same connections, interleaved in rounds (posting, /me,
/me, posting, ...) so a slow moment of the machine hits both; both are bounded
by the same request count and time; each level logs in and warms up (untimed)
first. The load generator shares the 2 cores with the server and PostgreSQL,
so it is kept cheap (a minimal client on uvloop and httptools, not httpx,
which costs 40 times more CPU per request), its ceiling is measured first
against a trivial responder (no framework), and the CPU used by the client,
the server, the benchmark's PostgreSQL backends and everything else is
reported for every phase. With several workers, the clients' connections are
spread evenly over them (uvicorn's workers share one listening socket, and a
burst of connects lands unevenly: see `spread_connections`; --no-balance
keeps the kernel's spread). Before each level the script waits (up to
--quiet-wait seconds) until other processes leave the machine nearly idle,
and says so when they did not.

Then the last-unit race over HTTP: an account holding exactly 10 units, 32
logged-in clients released at once by one asyncio.Event, each moving 1 unit
out: exactly 10 must get 201, the others 409 insufficient-balance, no 5xx, no
timeouts, and the balance read back over HTTP must be 0 (--race-rounds
rounds, each on a fresh account).

Last, the ledger is checked: `ledger.queries.verify` must return [] and the
units at the service points must equal the 201s received. Exit status 1 if
the race or the check fails (targets missed are reported, not failed).

`--profile DIR` additionally runs a 1-worker server and samples it with py-spy
(all threads, waiting included) under 1 and 32 posting clients and 32 /me
clients, and prints where a request's time goes. py-spy is not a project
dependency: `.venv/bin/pip install py-spy` first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlencode
from urllib.request import urlopen

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httptools
import httpx
import psycopg
import uvloop
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from ledger import masterdata as md
from ledger import queries, services
from ledger.db import Database
from ledger.journal import EntryIn, PostingIn
from ledger.migrate import upgrade
from ledger.models import Account, Holder, HolderKind, Role, entry_t
from ledger.policy import SYSTEM
from ledger.users import create_user

HOST = "127.0.0.1"
TIMEOUT = 30.0  # seconds a request may take before it counts as a timeout
DEFAULT_PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
BIN = Path(sys.executable).parent
PART = "BENCH-LCD"
OPENING = 10_000_000
POINTS = 32
RACE_UNITS = 10
RACE_CLIENTS = 32
PASSWORD = "bench-clerk-password"
# What 2 vCPUs serve best, measured with this script (bench/README.md).
RECOMMENDED_WORKERS = 2
QUIET_PERCENT = 25.0  # the machine counts as quiet below this (% of one core) without us
TARGET_P99_MS = 50.0
TARGET_RATIO = 0.5

console = Console(width=max(Console().width, 150), highlight=False)
say = console.print


def point(i: int) -> str:
    return f"SP-{i % POINTS + 1:02d}"


def clerk(i: int) -> str:
    return f"clerk-{i + 1:02d}"


def source(i: int, sources: int) -> str:
    return PART if sources == 1 else f"{PART}-{i % sources + 1:02d}"


def parts(sources: int) -> list[str]:
    """Every part: the load's sources, and PART for the race."""
    return sorted({PART} | {source(i, sources) for i in range(sources)})


# --------------------------------------------------------------------------- script


def git_commit() -> str:
    """`git describe` of the checkout the benchmark runs from, or "?"."""
    try:
        return (
            subprocess.run(
                ["git", "describe", "--always", "--dirty"],
                cwd=Path(__file__).resolve().parent,
                capture_output=True,
                text=True,
            ).stdout.strip()
            or "?"
        )
    except OSError:
        return "?"


def run_script(main: Callable[[], int]) -> NoReturn:
    """A served benchmark's `__main__`: its exit status; 130 on Ctrl-C, once
    the context managers have stopped the server and dropped the database."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted: server stopped, database dropped")
        sys.exit(130)


# --------------------------------------------------------------------------- database


@contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    """CREATE DATABASE aftersales_bench_<random>; yield its URL; DROP it on the way out."""
    admin = make_url(admin_url).set(drivername="postgresql")
    name = f"aftersales_bench_{uuid.uuid4().hex[:10]}"
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: a server killed mid-request may leave a backend behind.
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def say_postgres(url: str) -> None:
    """The server's version and the benchmark's database."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    say(f"PostgreSQL {version}; database {make_url(url).database}")


def set_up(url: str, clerks: int, race_rounds: int, sources: int) -> None:
    """Master data, users and opening stock, through the ledger API as the demo does."""
    upgrade(url)
    db = Database.from_url(url, pool_size=1)

    def master(s):
        md.create_holder(s, "HQ", "Headquarters warehouse", HolderKind.HQ)
        md.create_holder(s, "OPENING", "Opening balance", HolderKind.OPENING_BALANCE)
        for i in range(POINTS):
            md.create_holder(s, point(i), f"Service point {i + 1}", HolderKind.SERVICE_POINT)
        for r in range(race_rounds):
            md.create_holder(s, f"RACE-{r + 1}", f"Race warehouse {r + 1}", "regional_warehouse")
        for p in parts(sources):
            md.create_commodity(s, p, f"Bench part {p}", "part")
        holders = ["HQ", "OPENING", *map(point, range(POINTS))]
        wanted = [(h, "STOCK", p) for h in holders for p in parts(sources)]
        wanted += [(f"RACE-{r + 1}", "STOCK", PART) for r in range(race_rounds)]
        md.ensure_accounts(s, wanted)
        for i in range(clerks):
            create_user(s, clerk(i), PASSWORD, Role.WAREHOUSE_CLERK)

    db.transact(master)

    def opening(account: str, units: int, commodity: str) -> EntryIn:
        return EntryIn(
            kind="opening",
            postings=[
                PostingIn(account=f"OPENING:STOCK:{commodity}", amount=-units),
                PostingIn(account=account, amount=units),
            ],
        )

    entries = [opening(f"HQ:STOCK:{p}", OPENING, p) for p in parts(sources)]
    entries += [opening(f"RACE-{r + 1}:STOCK:{PART}", RACE_UNITS, PART) for r in range(race_rounds)]
    db.transact(lambda s: services.post(s, SYSTEM, entries))
    db.dispose()


@dataclass
class LedgerCheck:
    problems: list[str]
    at_points: int
    transfers: int
    hq: int

    def sound(self, posted: int, moved_from_hq: int, sources: int) -> bool:
        return (
            not self.problems
            and self.at_points == posted
            and self.transfers == posted
            and self.hq == OPENING * len(parts(sources)) - moved_from_hq
        )


def check_ledger(url: str) -> LedgerCheck:
    db = Database.from_url(url, pool_size=1)
    try:
        with db.reading() as s:
            at = (
                select(func.coalesce(func.sum(Account.balance), 0))
                .join(Holder, Holder.id == Account.holder_id)
                .where(Holder.kind == HolderKind.SERVICE_POINT)
            )
            hq = (
                select(func.coalesce(func.sum(Account.balance), 0))
                .join(Holder, Holder.id == Account.holder_id)
                .where(Holder.code == "HQ")
            )
            transfers = select(func.count()).select_from(entry_t).where(entry_t.c.kind == "issue")
            return LedgerCheck(
                problems=queries.verify(s),
                at_points=s.execute(at).scalar_one(),
                transfers=s.execute(transfers).scalar_one(),
                hq=s.execute(hq).scalar_one(),
            )
    finally:
        db.dispose()


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy since boot, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def processes() -> dict[int, tuple[int, float, bytes]]:
    """Every process: pid -> (parent pid, CPU seconds, command line)."""
    table = {}
    hz = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        table[int(proc.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / hz, cmdline)
    return table


def children(pid: int) -> list[int]:
    return [p for p, (parent, _, _) in processes().items() if parent == pid]


@dataclass
class CpuSplit:
    """CPU seconds over a phase: this client, the server's processes, the
    PostgreSQL backends serving the benchmark's database, and the rest of the
    machine (other processes, PostgreSQL's shared background writers)."""

    client: float = 0.0
    server: float = 0.0
    postgres: float = 0.0
    other: float = 0.0

    def add(self, other: CpuSplit) -> None:
        for name in ("client", "server", "postgres", "other"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class CpuMeter:
    def __init__(self, server_pid: int | None, dbname: str | None) -> None:
        self.server_pid, self.dbname = server_pid, (dbname or "").encode()

    def _read(self) -> tuple[float, float, dict[int, float], dict[int, float]]:
        table = processes()
        server = {}
        if self.server_pid is not None:
            server = {
                p: cpu
                for p, (parent, cpu, _) in table.items()
                if p == self.server_pid or parent == self.server_pid
            }
        backends = {
            p: cpu
            for p, (_, cpu, cmd) in table.items()
            if self.dbname and cmd.startswith(b"postgres: ") and self.dbname in cmd
        }
        return time.process_time(), machine_busy(), server, backends

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> CpuSplit:
        (c0, m0, s0, b0), (c1, m1, s1, b1) = self._start, self._read()
        # A process that began during the phase counts from 0; one that ended is lost.
        server = sum(cpu - s0.get(p, 0.0) for p, cpu in s1.items())
        backends = sum(cpu - b0.get(p, 0.0) for p, cpu in b1.items())
        split = CpuSplit(c1 - c0, server, backends)
        split.other = max(0.0, (m1 - m0) - split.client - split.server - split.postgres)
        return split


async def quiet_machine(limit: float) -> float:
    """Wait, up to `limit` seconds, until the machine is nearly idle while this
    benchmark does nothing; return how busy it was (% of one core) last."""
    deadline = time.monotonic() + limit
    warned = False
    while True:
        before = machine_busy()
        await asyncio.sleep(1.0)
        busy = 100 * (machine_busy() - before)
        if busy < QUIET_PERCENT or time.monotonic() > deadline:
            if busy >= QUIET_PERCENT:
                say(f"[yellow]other processes keep the machine {busy:.0f}% busy; going on[/yellow]")
            return busy
        if not warned:
            say(f"other processes keep the machine {busy:.0f}% busy; waiting up to {limit:g} s")
            warned = True


def connection_owners(pids: list[int], port: int) -> dict[int, int]:
    """Client port -> pid of the worker holding the server side of that
    established connection to `port` (from /proc/net/tcp and each pid's fds)."""
    client_port = {}  # socket inode -> the client's port
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "01":
                client_port[cols[9]] = int(cols[2].rsplit(":", 1)[1], 16)
    owners = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in client_port:
                owners[client_port[link[8:-1]]] = pid
    return owners


@dataclass
class Server:
    proc: subprocess.Popen
    base: str
    port: int
    workers: int
    dbname: str

    @property
    def worker_pids(self) -> list[int]:
        # One worker runs in the main process; more are its children.
        if self.workers == 1:
            return [self.proc.pid]
        return [
            p
            for p in children(self.proc.pid)
            if b"resource_tracker" not in processes().get(p, (0, 0.0, b""))[2]
        ]

    def meter(self) -> CpuMeter:
        return CpuMeter(self.proc.pid, self.dbname)


@contextmanager
def running_server(url: str, workers: int, log_dir: Path) -> Iterator[Server]:
    """`aftersales serve` on 127.0.0.1:<free port>, ready when every worker is;
    terminated (its whole process group) on the way out."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "AFTERSALES_SECRET_KEY": secrets.token_urlsafe(32),
        "AFTERSALES_HOST": "127.0.0.1",
        "AFTERSALES_PORT": str(port),
        "AFTERSALES_WORKERS": str(workers),
    }
    out = (log_dir / f"serve-{workers}w-{port}.out").open("wb")
    err_path = log_dir / f"serve-{workers}w-{port}.err"
    err = err_path.open("wb")
    # Own session: the workers can be ended with the supervisor, and a Ctrl-C
    # at the terminal reaches this script only, which then ends them in order.
    proc = subprocess.Popen(
        [str(BIN / "aftersales"), "serve"],
        cwd=log_dir,
        env=env,
        stdout=out,
        stderr=err,
        start_new_session=True,
    )
    server = Server(proc, f"http://127.0.0.1:{port}", port, workers, make_url(url).database)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with status {proc.returncode}:\n{err_path.read_text()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start in 60 s:\n{err_path.read_text()}")
            if err_path.read_text().count("Application startup complete") >= workers:
                try:
                    with urlopen(f"{server.base}/health", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
            time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        out.close()
        err.close()


# --------------------------------------------------------------------------- clients


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time, responses
    parsed by httptools (uvicorn's own parser). About 50 µs of client CPU per
    request here, where httpx.AsyncClient takes about 2 ms: with httpx the
    load generator would eat as much of the 2 cores as the server."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.chunks: list[bytes] = []
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        body, self.chunks = b"".join(self.chunks), []
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), body))

    def connection_lost(self, exc) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("the server closed the connection"))

    def _fail(self, exc: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def send(self, data: bytes) -> asyncio.Future:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter


class Clerk:
    """One client: a logged-in clerk on one keep-alive connection."""

    def __init__(self, host: str, port: int, index: int, body: bytes) -> None:
        self.host, self.port, self.index, self.body = host, port, index, body
        self.conn: Connection | None = None
        self.auth = b""

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: bytes = b""
    ) -> tuple[int, bytes]:
        if self.conn is None or self.conn.closed:  # reconnect after a keep-alive timeout
            _, self.conn = await asyncio.get_running_loop().create_connection(
                Connection, self.host, self.port
            )
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Length: {len(body)}\r\n"
        ).encode()
        return await asyncio.wait_for(
            self.conn.send(head + self.auth + headers + b"\r\n" + body), TIMEOUT
        )

    async def login(self) -> None:
        form = urlencode({"username": clerk(self.index), "password": PASSWORD}).encode()
        status, body = await self.request(
            "POST", "/auth/token", form, b"Content-Type: application/x-www-form-urlencoded\r\n"
        )
        if status != 200:
            raise RuntimeError(f"login of {clerk(self.index)} failed: {status} {body[:300]!r}")
        self.auth = f"Authorization: Bearer {json.loads(body)['access_token']}\r\n".encode()

    def post(self) -> Awaitable[tuple[int, bytes]]:
        # A fresh key per request: every request is a new posting, none a replay.
        key = f"Content-Type: application/json\r\nIdempotency-Key: {uuid.uuid4()}\r\n"
        return self.request("POST", "/entries", self.body, key.encode())

    def me(self) -> Awaitable[tuple[int, bytes]]:
        return self.request("GET", "/me")

    def get(self, path: str) -> Awaitable[tuple[int, bytes]]:
        return self.request("GET", path)

    @property
    def local_port(self) -> int | None:
        if self.conn is None or self.conn.closed or self.conn.transport is None:
            return None
        return self.conn.transport.get_extra_info("sockname")[1]

    def close(self) -> None:
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.close()
        self.conn = None  # the next request opens a new connection


def transfer_body(src: str, dst: str, commodity: str) -> bytes:
    entry = EntryIn(
        kind="issue",
        postings=[
            PostingIn(account=f"{src}:STOCK:{commodity}", amount=-1),
            PostingIn(account=f"{dst}:STOCK:{commodity}", amount=1),
        ],
    )
    return entry.model_dump_json(exclude_defaults=True).encode()


@dataclass
class Tally:
    """What one endpoint at one level collected, over all its rounds."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)  # a body per error status
    wall: float = 0.0
    cpu: CpuSplit = field(default_factory=CpuSplit)

    @property
    def n(self) -> int:
        return len(self.latencies)

    @property
    def ok(self) -> int:
        return sum(v for k, v in self.statuses.items() if isinstance(k, int) and k < 300)

    @property
    def errors(self) -> dict:
        return {k: v for k, v in self.statuses.items() if not (isinstance(k, int) and k < 300)}

    @property
    def rps(self) -> float:
        return self.n / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        """Latency percentile in ms (nearest rank)."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

    def cpu_percent(self) -> str:
        c, w = self.cpu, self.wall or 1.0
        return "/".join(f"{100 * v / w:.0f}" for v in (c.client, c.server, c.postgres, c.other))

    def cpu_ms(self, part: str) -> float:
        """CPU ms per request of one part of the CpuSplit."""
        return 1000 * getattr(self.cpu, part) / max(self.n, 1)


async def drive(
    clients: list[Clerk],
    send: Callable[[Clerk], Awaitable[tuple[int, bytes]]],
    count: int,
    seconds: float,
    tally: Tally,
    meter: CpuMeter | None = None,
) -> None:
    """Closed loop: every client sends its next request when the last one is
    answered, until `count` requests were sent or `seconds` passed."""
    left = count
    start = time.perf_counter()
    deadline = start + seconds

    async def one(c: Clerk) -> None:
        nonlocal left
        while left > 0 and time.perf_counter() < deadline:
            left -= 1
            t0 = time.perf_counter()
            try:
                status, body = await send(c)
                if status >= 300:
                    tally.samples.setdefault(str(status), body[:300].decode(errors="replace"))
            except TimeoutError:
                status = "timeout"
            except (OSError, httptools.HttpParserError) as exc:
                status = type(exc).__name__
                tally.samples.setdefault(status, str(exc)[:300])
            tally.latencies.append(time.perf_counter() - t0)
            tally.statuses[status] += 1

    meter = meter or CpuMeter(None, None)
    meter.start()
    await asyncio.gather(*(one(c) for c in clients))
    tally.wall += time.perf_counter() - start
    tally.cpu.add(meter.stop())


async def logged_in(server: Server, n: int, sources: int) -> list[Clerk]:
    clients = [
        Clerk(HOST, server.port, i, transfer_body("HQ", point(i), source(i, sources)))
        for i in range(n)
    ]
    await asyncio.gather(*(c.login() for c in clients))
    return clients


@dataclass
class Level:
    workers: int
    clients: int
    post: Tally
    me: Tally
    spread: tuple[list[int], list[int]]  # connections per worker: as accepted, as measured
    busy_before: float  # % of one core the machine was busy just before, without us


async def spread_connections(
    server: Server, clients: list[Clerk], balance: bool
) -> tuple[list[int], list[int]]:
    """Connections per worker as the kernel handed them out, and after evening
    them out. uvicorn's workers share one listening socket and whichever wakes
    first accepts: 32 clients connecting at once often land 32/0 or 24/8 on 2
    workers, and keep-alive keeps them there. That is real (say, behind a proxy
    with few long-lived connections), but it would make the worker counts
    incomparable, so by default a client on the busiest worker reconnects until
    no worker has more than one connection above another."""
    pids = server.worker_pids

    def counts() -> tuple[list[int], dict[int, int]]:
        owners = connection_owners(pids, server.port)
        per = Counter(owners.get(c.local_port) for c in clients)
        return [per[p] for p in pids], owners

    accepted, owners = counts()
    measured = accepted
    for _ in range(20 * len(clients) if balance and len(pids) > 1 else 0):
        if max(measured) - min(measured) <= 1:
            break
        busiest = pids[measured.index(max(measured))]
        mover = next(c for c in clients if owners.get(c.local_port) == busiest)
        mover.close()
        await mover.me()  # reconnects; some worker accepts
        measured, owners = counts()
    return accepted, measured


async def run_level(server: Server, n: int, args, counts: Counter) -> Level:
    idle_before = await quiet_machine(args.quiet_wait)
    clients = await logged_in(server, n, args.sources)
    try:
        # Warm-up, untimed: connections open, statement caches and pools filled.
        warm = Tally()
        await drive(clients, Clerk.post, max(args.warmup, 2 * n), 60, warm)
        await drive(clients, Clerk.me, max(args.warmup, 2 * n), 60, Tally())
        counts["posted"] += warm.statuses[201]
        spread = await spread_connections(server, clients, balance=not args.no_balance)
        post, me = Tally(), Tally()
        per_round = max(1, args.requests // args.rounds)
        budget = args.seconds / args.rounds
        meter = server.meter()
        for r in range(args.rounds):
            # Who goes first alternates, so both endpoints see the same machine.
            order = [(Clerk.post, post), (Clerk.me, me)]
            for send, tally in order if r % 2 == 0 else order[::-1]:
                await drive(clients, send, per_round, budget, tally, meter)
        counts["posted"] += post.statuses[201]
        return Level(server.workers, n, post, me, spread, idle_before)
    finally:
        for c in clients:
            c.close()


# --------------------------------------------------------------------------- the race


@dataclass
class RaceRound:
    statuses: Counter
    problem_types: Counter
    balance: int | None
    seconds: float

    @property
    def passed(self) -> bool:
        return (
            self.statuses.get(201, 0) == RACE_UNITS
            and self.statuses.get(409, 0) == RACE_CLIENTS - RACE_UNITS
            and self.problem_types.get("/problems/insufficient-balance", 0)
            == RACE_CLIENTS - RACE_UNITS
            and self.balance == 0
        )


async def race_round(server: Server, account: str) -> RaceRound:
    """32 logged-in clerks, released at once, each moving 1 unit out of `account`."""
    clients = [
        Clerk(HOST, server.port, i, transfer_body(account, point(i), PART))
        for i in range(RACE_CLIENTS)
    ]
    go = asyncio.Event()
    statuses: Counter = Counter()
    types: Counter = Counter()

    async def one(c: Clerk) -> None:
        await go.wait()
        try:
            status, body = await c.post()
        except TimeoutError:
            statuses["timeout"] += 1
            return
        except (OSError, httptools.HttpParserError) as exc:
            statuses[type(exc).__name__] += 1
            return
        statuses[status] += 1
        if status >= 400:
            types[json.loads(body).get("type", "?")] += 1

    try:
        await asyncio.gather(*(c.login() for c in clients))
        # Every connection open and warm before the start signal.
        await asyncio.gather(*(c.me() for c in clients))
        tasks = [asyncio.create_task(one(c)) for c in clients]
        await asyncio.sleep(0.05)  # every task is now waiting on the event
        t0 = time.perf_counter()
        go.set()
        await asyncio.gather(*tasks)
        took = time.perf_counter() - t0
        status, body = await clients[0].get(f"/accounts/{account}:STOCK:{PART}/balance")
        balance = json.loads(body)["balance"] if status == 200 else None
        return RaceRound(statuses, types, balance, took)
    finally:
        for c in clients:
            c.close()


async def race(server: Server, rounds: int, counts: Counter) -> list[RaceRound]:
    results = []
    for _ in range(rounds):
        counts["race accounts used"] += 1  # a fresh 10-unit account every round
        result = await race_round(server, f"RACE-{counts['race accounts used']}")
        counts["posted"] += result.statuses.get(201, 0)
        results.append(result)
    return results


# --------------------------------------------------------------------------- client ceiling

_CANNED = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 16\r\n\r\n"
    b'{"status":"ok"}\n'
)


def canned_responder(port: int) -> None:
    """A trivial HTTP/1.1 responder (no framework), for the client's own ceiling."""

    class Canned(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer = transport, b""

        def data_received(self, data):
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                self.buffer = self.buffer[end + 4 :]  # GETs only: no body to skip
                self.transport.write(_CANNED)

    async def main():
        server = await asyncio.get_running_loop().create_server(Canned, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


class HttpxClerk:
    """The same client on httpx.AsyncClient, only to show what it would cost."""

    def __init__(self, port: int) -> None:
        self.http = httpx.AsyncClient(
            base_url=f"http://{HOST}:{port}",
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    async def get(self, path: str) -> tuple[int, bytes]:
        r = await self.http.get(path)
        return r.status_code, r.content


async def client_ceiling(clients: int, count: int, seconds: float) -> dict[str, Tally]:
    """Requests per second this process can drive with each client against a
    trivial responder in another process: the most any figure below can show."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--_canned", str(port)], start_new_session=True
    )
    found: dict[str, Tally] = {}
    try:
        for _ in range(200):
            try:
                socket.create_connection((HOST, port), timeout=0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        for name, make, n in (
            ("this client", lambda: Clerk(HOST, port, 0, b""), count * 5),
            ("httpx.AsyncClient", lambda: HttpxClerk(port), count // 2),
        ):
            pool = [make() for _ in range(clients)]
            await drive(pool, lambda c: c.get("/health"), 4 * clients, 30, Tally())
            tally = Tally()
            await drive(
                pool, lambda c: c.get("/health"), n, seconds, tally, CpuMeter(proc.pid, None)
            )
            for c in pool:
                if isinstance(c, HttpxClerk):
                    await c.http.aclose()
                else:
                    c.close()
            found[name] = tally
        return found
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()


# --------------------------------------------------------------------------- profile

# A sample is put under the first label whose frame it contains (py-spy names
# frames "Class.method (path:line)"); more specific labels come first.
_WORKER_PARTS = [
    ("pool checkout", ("_do_get (sqlalchemy/pool/impl.py", "QueuePool._do_get")),
    ("auth: JWT decode (current_actor)", ("current_actor (api/security.py",)),
    ("read the entry back (queries.get_entry)", ("get_entry (ledger/queries.py",)),
    ("commit", ("Session.commit (",)),
    ("session close (ROLLBACK/reset, return to pool)", ("Session.close (", "Session.__exit__")),
    ("response validation (in the thread pool)", ("serialize_response (fastapi",)),
    ("other dependencies (get_db, oauth2 scheme)", ("get_db (api/deps.py",)),
]
_LOOP_PARTS = [
    ("request body parsing + pydantic validation", ("request_body_to_args", "Request.body")),
    ("JWT/oauth2/dependency solving", ("solve_dependencies (fastapi",)),
    ("response serialising (jsonable_encoder, JSON render)", ("serialize_response (fastapi",)),
    ("handing work to threads and back", ("run_sync_in_worker_thread", "_report_result")),
    ("writing the response", ("JSONResponse.__call__", "Response.__call__")),
    ("uvicorn protocol (headers, ASGI)", ("httptools_impl.py",)),
]
_WAITS = ("Connection.wait (psycopg/", "Condition.wait (threading.py", "Lock.acquire")


def read_collapsed(path: Path) -> list[tuple[str, list[str], int]]:
    """py-spy raw output as (thread, frames from the root, samples)."""
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit():
            thread, *frames = stack.split(";")
            rows.append((thread, frames, int(n)))
    return rows


def _label(frames: list[str], table: list[tuple[str, tuple[str, ...]]]) -> str | None:
    text = ";".join(frames)
    for name, needles in table:
        if any(n in text for n in needles):
            return name
    return None


def analyse_profile(path: Path, rate: int, requests: int) -> list[tuple[str, float, float]]:
    """Per request, in ms of thread time: (part, running, waiting), over the
    worker threads (the route's sync code) and the event loop. "running"
    includes waiting for the GIL; "waiting" is a DB round trip (psycopg) or a
    lock/condition (the connection pool)."""
    by_part: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for thread, frames, n in read_collapsed(path):
        text = ";".join(frames)
        leaf = frames[-1] if frames else ""
        if "MainThread" in thread:
            if leaf.startswith(("Runner.run (asyncio", "asyncio_run (uvicorn")):
                continue  # the loop idle, or inside uvloop/httptools C code
            label = "event loop: " + (_label(frames, _LOOP_PARTS) or "other")
        else:
            if "Queue.get (queue.py" in text and "sqlalchemy" not in text:
                continue  # a pool thread with nothing to do
            label = _label(frames, _WORKER_PARTS)
            if label is None and "post_entries (ledger/journal.py" in text:
                # The ledger's own steps, named by the journal function under post_entries.
                below = text.split("post_entries (ledger/journal.py", 1)[1].split(";")[1:]
                step = next((f.split(" (")[0] for f in below if "ledger/journal.py" in f), "")
                label = f"ledger post_entries: {step or 'itself'}"
            elif label is None and "post (ledger/services.py" in text:
                label = "ledger services.post (resolve accounts, policy)"
            label = label or "route, other"
        waiting = any(leaf.startswith(w) for w in _WAITS)
        by_part[label][1 if waiting else 0] += n
    scale = 1000 / rate / max(requests, 1)
    rows = [(k, run * scale, wait * scale) for k, (run, wait) in by_part.items()]
    return sorted(rows, key=lambda r: -(r[1] + r[2]))


async def profile_http(url: str, args, log_dir: Path, counts: Counter) -> None:
    spy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if spy is None:
        say("[red]--profile needs py-spy: .venv/bin/pip install py-spy[/red]")
        return
    out = Path(args.profile)
    out.mkdir(parents=True, exist_ok=True)
    rate, seconds = 200, args.profile_seconds
    with running_server(url, 1, log_dir) as server:
        for label, send, n in (
            ("post", Clerk.post, 1),
            ("post", Clerk.post, 32),
            ("me", Clerk.me, 32),
        ):
            await quiet_machine(args.quiet_wait)
            clients = await logged_in(server, n, args.sources)
            warm = Tally()
            await drive(clients, send, max(100, 4 * n), 60, warm)
            raw = out / f"{label}-{n}clients.collapsed"
            spy_proc = subprocess.Popen(
                [
                    *(spy, "record", "--pid", str(server.proc.pid), "--rate", str(rate)),
                    *("--duration", str(seconds + 2), "--idle", "--threads"),
                    *("--format", "raw", "-o", str(raw)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            await asyncio.sleep(1.0)  # py-spy attaches
            tally = Tally()
            await drive(clients, send, 1_000_000, seconds, tally, server.meter())
            for c in clients:
                c.close()
            _, spy_err = await asyncio.to_thread(spy_proc.communicate)
            if label == "post":
                counts["posted"] += warm.statuses[201] + tally.statuses[201]
            if spy_proc.returncode != 0 or not raw.exists():
                say(f"[red]py-spy failed: {spy_err.decode()[-500:]}[/red]")
                continue
            rows = analyse_profile(raw, rate, tally.n)
            errors = ", ".join(f"{k}: {v}" for k, v in tally.errors.items()) or "none"
            lines = [
                f"{label} with {n} client(s), 1 worker, under py-spy ({rate} Hz): {tally.n} "
                f"requests, errors {errors}, {tally.rps:.0f}/s, p50 {tally.pct(0.5):.1f} ms; "
                "CPU per request: "
                f"server {tally.cpu_ms('server'):.2f} ms, "
                f"PostgreSQL {tally.cpu_ms('postgres'):.2f} ms. Thread time per request, ms "
                "(with N clients in flight it adds up to about N x latency):",
                f"  {'running':>8} {'waiting':>8}  part",
                *(
                    f"  {run:8.2f} {wait:8.2f}  {name}"
                    for name, run, wait in rows
                    if run + wait >= 0.01
                ),
            ]
            (out / f"{label}-{n}clients.txt").write_text("\n".join(lines) + "\n")
            console.print("\n".join(lines), markup=False)
            for status, body in tally.samples.items():
                say(f"[red]{label} {n}c {status}:[/red] {body}")
    say(f"profiles: {out}/*.txt; raw stacks *.collapsed (speedscope.app, flamegraph.pl)")


# --------------------------------------------------------------------------- report


def report(levels: list[Level], recommended: int) -> None:
    table = Table(title="Requests per second and latency (ms, measured by the client)")
    cols = ("workers", "clients", "endpoint", "requests", "req/s", "p50", "p95", "p99")
    more = ("errors", "CPU % cli/srv/pg/oth", "CPU ms/req srv+pg", "post/me")
    for col in (*cols, *more):
        table.add_column(col, justify="left" if col in ("endpoint", "errors") else "right")
    for lv in levels:
        for name, t in (("POST /entries", lv.post), ("GET /me", lv.me)):
            errors = ", ".join(f"{k}: {v}" for k, v in t.errors.items()) or "none"
            table.add_row(
                str(lv.workers),
                str(lv.clients),
                name,
                f"{t.n:,}",
                f"{t.rps:,.0f}",
                f"{t.pct(0.5):.1f}",
                f"{t.pct(0.95):.1f}",
                f"{t.pct(0.99):.1f}",
                errors,
                t.cpu_percent(),
                f"{t.cpu_ms('server'):.2f}+{t.cpu_ms('postgres'):.2f}",
                f"{lv.post.rps / lv.me.rps:.2f}" if t is lv.post and lv.me.rps else "",
            )
    say(table)
    say(
        "CPU %: of one core over the timed phases (2 cores = 200%): this client process, the "
        "server's processes, the PostgreSQL backends of the benchmark's database, and "
        "everything else (PostgreSQL's background writers, other processes)."
    )
    for lv in levels:
        if lv.busy_before >= QUIET_PERCENT:
            say(
                f"[yellow]{lv.workers}w {lv.clients}c: the machine was {lv.busy_before:.0f}% "
                "busy with other processes before the level: its figures are suspect[/yellow]"
            )
        for t, name in ((lv.post, "POST /entries"), (lv.me, "GET /me")):
            for status, body in t.samples.items():
                say(f"[red]{lv.workers}w {lv.clients}c {name} {status}:[/red] {body}")
    spreads = [
        f"{lv.workers}w/{lv.clients}c {lv.spread[0]}"
        + (f" -> {lv.spread[1]}" if lv.spread[1] != lv.spread[0] else "")
        for lv in levels
        if lv.workers > 1 and lv.clients > 1
    ]
    if spreads:
        say("client connections per worker, as accepted -> as measured: " + "; ".join(spreads))
    for lv in levels:
        if lv.clients != 32:
            continue
        p99 = lv.post.pct(0.99)
        ratio = lv.post.rps / lv.me.rps if lv.me.rps else 0.0
        mark = " (recommended)" if lv.workers == recommended else ""
        say(
            f"targets at 32 clients, {lv.workers} worker(s){mark}: posting p99 {p99:.1f} ms "
            + ("<= 50 met" if p99 <= TARGET_P99_MS else f"> 50 NOT met ({p99 / 50:.1f}x)")
            + f"; post/me throughput {ratio:.2f} "
            + (
                ">= 0.5 met"
                if ratio >= TARGET_RATIO
                else f"< 0.5 NOT met ({ratio / TARGET_RATIO:.0%} of the target)"
            )
        )


def parse_list(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return values


async def run(args, url: str, log_dir: Path) -> int:
    failed = False
    counts: Counter = Counter()
    levels: list[Level] = []
    races: dict[int, list[RaceRound]] = {}
    ceilings = await client_ceiling(max(args.clients), args.requests, args.seconds / args.rounds)
    for name, t in ceilings.items():
        say(
            f"client ceiling, {name}, {max(args.clients)} clients against a trivial responder: "
            f"{t.rps:,.0f} req/s, p50 {t.pct(0.5):.2f} ms, client CPU "
            f"{100 * t.cpu.client / t.wall:.0f}% ({1000 * t.cpu_ms('client'):,.0f} µs/request), "
            f"responder CPU {100 * t.cpu.server / t.wall:.0f}%"
        )
    for workers in args.workers:
        with running_server(url, workers, log_dir) as server:
            for n in args.clients:
                level = await run_level(server, n, args, counts)
                levels.append(level)
                say(
                    f"{workers} worker(s), {n:>2} client(s): POST {level.post.rps:7,.0f}/s "
                    f"p99 {level.post.pct(0.99):6.1f} ms | /me {level.me.rps:7,.0f}/s "
                    f"p99 {level.me.pct(0.99):6.1f} ms"
                )
            if args.race_rounds:
                races[workers] = await race(server, args.race_rounds, counts)
    if args.profile:
        await profile_http(url, args, log_dir, counts)

    report(levels, RECOMMENDED_WORKERS)
    for workers, rounds in races.items():
        for i, rr in enumerate(rounds):
            verdict = "PASS" if rr.passed else "FAIL"
            failed |= not rr.passed
            say(
                f"last-unit race, {workers} worker(s), round {i + 1}: {verdict}: "
                f"statuses {dict(rr.statuses)}, problem types {dict(rr.problem_types)}, "
                f"balance after {rr.balance}, all answered in {rr.seconds * 1000:.0f} ms"
            )
    check = check_ledger(url)
    from_hq = counts["posted"] - sum(
        rr.statuses.get(201, 0) for rounds in races.values() for rr in rounds
    )
    sound = check.sound(counts["posted"], from_hq, args.sources)
    failed |= not sound
    say(
        f"ledger: verify() -> {check.problems or '[]'}; units at service points "
        f"{check.at_points:,}, issue entries {check.transfers:,}, 201s received "
        f"{counts['posted']:,}; HQ holds {check.hq:,} (expected "
        f"{OPENING * len(parts(args.sources)) - from_hq:,}): " + ("sound" if sound else "NOT SOUND")
    )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    parser.add_argument(
        "--workers",
        type=parse_list,
        default=[RECOMMENDED_WORKERS],
        help=f"worker processes; a list runs each in turn, e.g. 1,2,4 "
        f"(default {RECOMMENDED_WORKERS}, the recommendation for 2 cores)",
    )
    parser.add_argument("--clients", type=parse_list, default=[1, 8, 32])
    parser.add_argument(
        "--requests", type=int, default=2000, help="per endpoint and level (default 2000)"
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="at most, per endpoint and level (default 10)"
    )
    parser.add_argument("--rounds", type=int, default=4, help="alternations per level")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests per endpoint")
    parser.add_argument("--race-rounds", type=int, default=5)
    parser.add_argument(
        "--sources",
        type=int,
        default=1,
        help="HQ source accounts (one part each) the clients spread over; 1 (default): "
        "every posting updates the same HQ balance row",
    )
    parser.add_argument(
        "--no-balance",
        action="store_true",
        help="keep the clients' connections on the workers that accepted them, however uneven",
    )
    parser.add_argument("--profile", metavar="DIR", help="also profile a 1-worker server")
    parser.add_argument("--profile-seconds", type=int, default=8)
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="before each level, wait up to this many seconds for other processes to leave "
        f"the machine (< {QUIET_PERCENT:g}%% of a core busy); default 60",
    )
    parser.add_argument("--_canned", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._canned:
        canned_responder(args._canned)
        return 0
    if args.requests < 1 or args.seconds <= 0 or args.rounds < 1 or args.sources < 1:
        parser.error("--requests, --seconds, --rounds and --sources must be positive")

    # SIGTERM ends the run like Ctrl-C: the finally blocks stop the server and drop the db.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    say(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {date.today()}, commit "
        f"{git_commit()}; workers "
        f"{args.workers}, clients {args.clients}, at most {args.requests} requests or "
        f"{args.seconds:g} s per endpoint and level, in {args.rounds} alternating rounds; "
        "the load generator runs on the same cores as the server and PostgreSQL"
    )
    with (
        tempfile.TemporaryDirectory(prefix="http-load-") as tmp,
        throwaway_database(args.postgres_url) as url,
    ):
        say_postgres(url)
        race_accounts = args.race_rounds * len(args.workers)
        set_up(url, max(max(args.clients), RACE_CLIENTS), race_accounts, args.sources)
        # uvloop (a uvicorn[standard] dependency): the client's loop costs less.
        return uvloop.run(run(args, url, Path(tmp)))


if __name__ == "__main__":
    run_script(main)
