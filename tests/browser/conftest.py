"""End-to-end tests of the console in a real browser: headless Chromium
(Debian's package, never one Playwright downloads) driven by Playwright,
against `aftersales serve` and `aftersales worker` on a demo database.

The server, the job worker and the demo are the product's own, in processes
of their own, exactly as `make run` starts them. Without Chromium and a CJK
font these tests are skipped with a message (`make browser-deps` installs
them as root), except with CI=true, where they must run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = os.environ.get("AFTERSALES_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
# Chromium in a sandbox-less container, with no calls home (this network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORDS = {
    "admin": "admin-demo",
    "clerk": "clerk-demo",
    "approver": "approver-demo",
    "finance": "finance-demo",
    "planner": "planner-demo",
    "sp0001": "sp0001-demo",
}


def _missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        return f"no Chromium at {CHROMIUM}"
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    if not fonts.stdout.strip():
        return "no CJK font (fonts-noto-cjk): Chinese would render as boxes"
    return None


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    ours = [item for item in items if here in Path(item.fspath).parents]
    if not ours:
        return
    missing = _missing()
    if missing is None:
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(
            f"the browser tests are mandatory with CI=true, but: {missing}; "
            "run `make browser-deps` as root"
        )
    skip = pytest.mark.skip(
        reason=f"browser tests skipped: {missing}. Install Debian's chromium and "
        "fonts-noto-cjk (`make browser-deps`, as root) to run them."
    )
    for item in ours:
        item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli() -> str:
    return str(Path(sys.executable).with_name("aftersales"))


# Package-scoped: the server and Playwright's event loop (which the sync API
# runs in this thread) end with the last browser test, before the rest of the
# suite, whose own event loops must not find one running.
@pytest.fixture(scope="package")
def server(tmp_path_factory) -> Iterator[str]:
    """`aftersales serve` and `aftersales worker` on a fresh demo database."""
    home = tmp_path_factory.mktemp("console")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{home / 'aftersales.db'}",
        "AFTERSALES_JOBS_URL": f"sqlite:///{home / 'jobs.db'}",
        "AFTERSALES_SECRET_KEY": "browser-tests-signing-key-of-sufficient-length",
        "AFTERSALES_PORT": str(port),
    }
    for step in (["db", "upgrade"], ["demo"]):
        subprocess.run([_cli(), *step], cwd=home, env=env, check=True, capture_output=True)
    log = (home / "serve.log").open("wb")
    serve = subprocess.Popen([_cli(), "serve"], cwd=home, env=env, stdout=log, stderr=log)
    worker = subprocess.Popen(
        [_cli(), "worker", "--poll", "0.2"], cwd=home, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or serve.poll() is not None:
                raise RuntimeError((home / "serve.log").read_text()[-3000:])
            time.sleep(0.2)
        yield base
    finally:
        for process in (worker, serve):
            process.terminate()
        for process in (worker, serve):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


@pytest.fixture(scope="package")
def chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Person:
    """One user at their own browser (own cookies), signed in."""

    def __init__(self, chromium, base: str, username: str) -> None:
        self.base = base
        self.username = username
        self.context = chromium.new_context(
            base_url=base, locale="zh-CN", viewport={"width": 1280, "height": 860}
        )
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()

    def sign_in(self, password: str | None = None) -> None:
        page = self.page
        page.goto("/ui/sign-in")
        page.fill("input[name=username]", self.username)
        page.fill("input[name=password]", password or DEMO_PASSWORDS[self.username])
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=signed-in-as]")

    def shot(self, name: str, locale: str) -> Path:
        path = SCREENSHOTS / locale / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.failed_call = report.failed


@pytest.fixture
def person(request, chromium, server) -> Iterator:
    """person(username) -> a signed-in Person; their browsers close after the
    test (a failed test leaves each one's last page under build/screenshots/failed/)."""
    made: list[Person] = []

    def sign_in(username: str) -> Person:
        who = Person(chromium, server, username)
        who.sign_in()
        made.append(who)
        return who

    yield sign_in
    for who in made:
        if getattr(request.node, "failed_call", False):
            who.shot(f"{request.node.name}-{who.username}", "failed")
        who.close()
