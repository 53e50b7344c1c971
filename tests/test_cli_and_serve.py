"""The two other doors, end to end as `make run` uses them: the CLI on a SQLite
file, and the served API with the demo loaded."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent


def run(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{cwd / 'var' / 'cli.db'}", "COLUMNS": "200"}
    done = subprocess.run(
        [str(BIN / "aftersales"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if ok:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("cli")
    run(cwd, "db", "upgrade")
    loaded = run(cwd, "demo", "--points", "12")
    assert "demo loaded" in loaded.stdout and "sp0001-demo" in loaded.stdout
    assert "requisitions" in loaded.stdout and "open discrepancy" in loaded.stdout
    assert "already loaded" in run(cwd, "demo").stdout
    return cwd


def test_cli_posts_reverses_verifies_and_exports(demo_dir: Path):
    before = run(demo_dir, "ledger", "balance", "SP-0001:STOCK:H-X1").stdout
    assert "SP-0001:STOCK:H-X1: 2" in before
    entry = {
        "kind": "issue",
        "postings": [
            {"account": "HQ:STOCK:X1-LCD", "amount": -2},
            {"account": "SP-0099:STOCK:X1-LCD", "amount": 2},
        ],
    }
    run(demo_dir, "db", "upgrade")
    (demo_dir / "issue.json").write_text(json.dumps(entry))
    refused = run(demo_dir, "ledger", "post", "issue.json", ok=False)
    assert refused.returncode == 1
    assert "SP-0099:STOCK:X1-LCD" in refused.stdout and "does not exist" in refused.stdout
    entry["postings"][1]["account"] = "RW-BJ:STOCK:X1-LCD"
    (demo_dir / "issue.json").write_text(json.dumps(entry))
    posted = run(demo_dir, "ledger", "post", "issue.json", "--key", "cli-1").stdout
    again = run(demo_dir, "ledger", "post", "issue.json", "--key", "cli-1").stdout
    entry_id = posted.split()[0]
    assert "posted" in posted and f"{entry_id} already posted" in again
    assert "reverses" in run(demo_dir, "ledger", "reverse", entry_id).stdout
    assert "every balance equals its history" in run(demo_dir, "ledger", "verify").stdout
    run(demo_dir, "export", "beancount", "books.beancount")
    check = subprocess.run(
        [str(BIN / "bean-check"), str(demo_dir / "books.beancount")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    books = (demo_dir / "books.beancount").read_text()
    # Deposits are what the brand owes its points: liabilities, credit balances.
    assert "open Liabilities:SP-0001:DEPOSIT:CNY CNY" in books
    assert "open Assets:SP-0001:DEPOSIT:CNY" not in books


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_served_api_has_docs_and_the_demo_users(demo_dir: Path):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{demo_dir / 'var' / 'cli.db'}"}
    server = subprocess.Popen(
        [str(BIN / "aftersales"), "serve", "--port", str(port)],
        cwd=demo_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert "swagger" in httpx.get(f"{base}/docs").text.lower()
        token = httpx.post(
            f"{base}/auth/token", data={"username": "sp0001", "password": "sp0001-demo"}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        accounts = httpx.get(f"{base}/accounts?limit=1000", headers=headers).json()["items"]
        assert accounts and {a["holder"] for a in accounts} == {"SP-0001"}
        assert httpx.get(f"{base}/accounts/HQ:STOCK:X1-LCD", headers=headers).status_code == 404
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_cli_lists_shows_and_receives_the_demo_purchase_orders(demo_dir: Path):
    listed = run(demo_dir, "po", "list", "--open").stdout
    assert "PO-000001" in listed and "partly_received" in listed and "PO-000002" not in listed
    assert "no purchase orders match" in run(demo_dir, "po", "list", "--late").stdout
    above = run(demo_dir, "po", "list", "--awaiting", "above", "--as", "approver").stdout
    assert "PO-000002" in above and "PO-000001" not in above
    shown = run(demo_dir, "po", "show", "PO-000002").stdout
    assert "submitted" in shown and "6,000.00 CNY" in shown
    over = run(demo_dir, "po", "receive", "PO-000001", "--line", "1=21", ok=False)
    assert over.returncode == 1 and "line 1" in over.stdout and "30 received so far" in over.stdout
    done = run(demo_dir, "po", "receive", "PO-000001", "--line", "1=20", "--as", "clerk").stdout
    assert "PO-000001 is now received" in done and "clerk receive" in done
    assert "-3,000.00 CNY" in run(demo_dir, "ledger", "balance", "SUPPLIER:STOCK:CNY").stdout
