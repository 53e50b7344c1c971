"""`make fuzz`: schemathesis against the served demo, on SQLite and PostgreSQL.

For each database: a throwaway database (a temp SQLite file; a PostgreSQL
database made with CREATE DATABASE and dropped afterwards), `aftersales db
upgrade`, `aftersales demo --points 20`, `aftersales serve` on a free port,
a login as admin, then `schemathesis run` with the bearer token for
FUZZ_SECONDS per database (default 120), then a quarter of that as the demo's
approver for the decisions only an approver may take (approve, reject,
escalate), then a quarter for the operations on one user (a reset of the
fuzzer's own password ends its session, so they go last), at most FUZZ_MAX_EXAMPLES
(default 200) per operation, checking `not_a_server_error` (FUZZ_CHECKS to
change it, e.g. `all`). Prints per database the operations, test cases and
failures, keeps schemathesis' reports under var/fuzz/<database>/<pass>/ and
the server log under var/fuzz/<database>/, and exits non-zero when any check
failed.

It drives a served process, not the app in-process, because that is what
users get: uvicorn, the real pool, a real PostgreSQL database, the CLI's
demo. The short in-process run that `make test` includes is tests/test_fuzz.py.

Environment: FUZZ_SECONDS, FUZZ_MAX_EXAMPLES, FUZZ_CHECKS, FUZZ_DATABASES
(`sqlite,postgresql`), FUZZ_PG_URL (default TEST_DATABASE_URL or
postgresql://postgres@127.0.0.1:5432/test: the server to create the throwaway
database on), FUZZ_SEED.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECONDS = int(os.environ.get("FUZZ_SECONDS", "120"))
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "200"))
CHECKS = os.environ.get("FUZZ_CHECKS", "not_a_server_error")
DATABASES = os.environ.get("FUZZ_DATABASES", "sqlite,postgresql").split(",")
PG_URL = os.environ.get(
    "FUZZ_PG_URL",
    os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
SEED = os.environ.get("FUZZ_SEED")
USER_ADMIN = r"^/users/\{username\}"  # operations on one user, run in a pass of their own
# Decisions only an approver may take (admin gets 403 there): a pass as `approver`.
DECISIONS = r"^/(requisitions|purchase-orders)/\{number\}/(approve|reject|escalate)$"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_database() -> tuple[str, Callable[[], None]]:
    """A new database on the PG_URL server, and how to drop it."""
    name = f"fuzz_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    url = make_url(PG_URL).set(database=name)
    return url.render_as_string(hide_password=False), drop


def aftersales(cwd: Path, env: dict, *args: str) -> None:
    subprocess.run(
        [str(BIN / "aftersales"), *args],
        cwd=cwd,
        env=env,
        check=True,
        text=True,
        capture_output=True,
    )


def run_one(backend: str, out: Path) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"fuzz-{backend}-"))
    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{work / 'fuzz.db'}"
    else:
        url, drop = postgres_database()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "AFTERSALES_SECRET_KEY": uuid.uuid4().hex * 2,
        "AFTERSALES_PORT": str(port),
        "AFTERSALES_WORKERS": "1",
    }
    server = None
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "server.log").open("w")
    try:
        aftersales(work, env, "db", "upgrade")
        aftersales(work, env, "demo", "--points", "20")
        server = subprocess.Popen(
            [str(BIN / "aftersales"), "serve", "--port", str(port)],
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)

        def token(username: str) -> str:
            return httpx.post(
                f"{base}/auth/token", data={"username": username, "password": f"{username}-demo"}
            ).json()["access_token"]

        passes = []
        # The user-admin operations last: a password reset or a deactivation
        # of the fuzzer's own user ends its session (as it should), and
        # everything after it would only see 401s.
        for name, user, selection, seconds in (
            ("api", "admin", ["--exclude-path-regex", USER_ADMIN], SECONDS),
            ("decisions", "approver", ["--include-path-regex", DECISIONS], max(10, SECONDS // 4)),
            ("users", "admin", ["--include-path-regex", USER_ADMIN], max(10, SECONDS // 4)),
        ):
            report_dir = out / name
            report_dir.mkdir(parents=True, exist_ok=True)
            command = [
                str(BIN / "schemathesis"),
                "run",
                f"{base}/openapi.json",
                *selection,
                "--checks",
                CHECKS,
                "--max-time",
                str(seconds),
                "--max-examples",
                str(MAX_EXAMPLES),
                "--header",
                f"Authorization: Bearer {token(user)}",
                "--workers",
                "1",
                "--no-color",
                "--report",
                "junit,json",
                "--report-dir",
                str(report_dir),
                "--generation-database",
                "none",
            ]
            if SEED:
                command += ["--seed", SEED]
            print(
                f"== {backend} ({name}): schemathesis for up to {seconds}s, {MAX_EXAMPLES} "
                f"examples per operation, checks {CHECKS}",
                flush=True,
            )
            started = time.monotonic()
            # cwd: schemathesis keeps its own state in ./.schemathesis/; not in the repo.
            done = subprocess.run(command, cwd=report_dir, text=True, capture_output=True)
            (report_dir / "schemathesis.txt").write_text(done.stdout + done.stderr)
            figures = summarise(report_dir, done.returncode)
            figures["seconds"] = round(time.monotonic() - started)
            passes.append((name, figures))
        return dict(passes)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        log.close()
        if drop is not None:
            drop()
        shutil.rmtree(work, ignore_errors=True)


def summarise(out: Path, returncode: int) -> dict:
    """Operations, test cases and failures from schemathesis' JSON report."""
    figures = {"exit": returncode}
    reports = sorted(out.glob("*.json"), key=lambda p: p.stat().st_mtime)
    if reports:
        report = json.loads(reports[-1].read_text())
        figures["report"] = str(reports[-1])
        figures.update(_figures(report))
    return figures


def _figures(report: dict) -> dict:
    """From schemathesis 4's JSON run report (`--report json`)."""
    operations = report.get("operations", {})
    cases = report.get("test_cases", {})
    return {
        "operations": operations.get("tested"),
        "test_cases": cases.get("generated"),
        "with_failures": cases.get("with_failures"),
        "unique_failures": cases.get("unique_failures"),
        "errors": len(report.get("errors", [])),
        "seed": report.get("seed"),
    }


def main() -> int:
    results = {}
    for backend in DATABASES:
        for name, figures in run_one(backend, ROOT / "var" / "fuzz" / backend).items():
            results[f"{backend} ({name})"] = figures
            print(f"== {backend} ({name}): {json.dumps(figures)}", flush=True)
            text = (ROOT / "var" / "fuzz" / backend / name / "schemathesis.txt").read_text()
            print(text[-3000:])
    failed = [b for b, r in results.items() if r["exit"] != 0]
    print("fuzz: " + ("all clean" if not failed else f"FAILURES on {', '.join(failed)}"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
