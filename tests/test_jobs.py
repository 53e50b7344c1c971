"""Long jobs on a real runner: enqueued over HTTP, run by `aftersales worker`
in a process of its own against a committed database (both backends; on
PostgreSQL the queue is huey's PostgreSQL storage, on SQLite a SQLite file),
killed with SIGKILL mid-way, found interrupted, resumed over HTTP and by the
CLI, and finished with every entry posted exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from api.app import create_app
from ledger import jobs
from ledger.db import Database
from ledger.models import Account, JournalEntry, Role
from ledger.policy import SYSTEM
from ledger.settings import Settings
from ledger.types import utcnow
from tests import job_kinds
from tests.conftest import PG_URL
from tests.factories import network
from tests.tokens import SECRET, bearer

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TIMEOUT = 1.0  # heartbeat timeout of these tests, seconds


@dataclass
class Runner:
    """A committed database, the API over it, and worker processes on it."""

    db: Database
    client: TestClient
    env: dict[str, str]
    tmp: Path
    admin: dict[str, str]
    workers: list[subprocess.Popen] = field(default_factory=list)

    def worker(self) -> subprocess.Popen:
        log = open(self.tmp / f"worker-{len(self.workers)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [str(BIN / "aftersales"), "worker", "--workers", "1", "--poll", "0.05"],
            env=self.env,
            cwd=self.tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        return proc

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "aftersales"), *args],
            env=self.env,
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def job(self, number: str, headers: dict[str, str] | None = None) -> dict:
        response = self.client.get(f"/jobs/{number}", headers=headers or self.admin)
        assert response.status_code == 200, response.text
        return response.json()

    def until(self, number: str, done: Callable[[dict], bool], seconds: float = 20) -> dict:
        deadline = time.monotonic() + seconds
        while True:
            job = self.job(number)
            if done(job):
                return job
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text() for p in sorted(self.tmp.glob("worker-*.log")))
                raise AssertionError(f"job never got there: {job}\n{logs}")
            time.sleep(0.05)

    def start(self, kind: str, params: dict, key: str | None = None, headers=None) -> dict:
        extra = {"Idempotency-Key": key} if key else {}
        response = self.client.post(
            "/jobs",
            json={"kind": kind, "params": params},
            headers={**(headers or self.admin), **extra},
        )
        assert response.status_code == 202, response.text
        return response.json()


def _urls(db: Database, tmp: Path) -> tuple[str, str]:
    """The database URL a worker process uses, and the queue's URL."""
    if db.dialect == "sqlite":
        return db.engine.url.render_as_string(hide_password=False), f"sqlite:///{tmp / 'jobs.db'}"
    with db.reading() as session:
        schema = session.execute(text("SELECT current_schema()")).scalar_one()
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    return url, url


def _app(db: Database, jobs_url: str) -> TestClient:
    settings = Settings(
        secret_key=SECRET,
        database_url="sqlite://",
        jobs_url=jobs_url,
        job_heartbeat_timeout=TIMEOUT,
        job_modules="tests.job_kinds",
    )
    return TestClient(create_app(db=db, settings=settings))


@pytest.fixture
def runner(fresh_db, tmp_path) -> Iterator[Runner]:
    network(fresh_db)
    database_url, jobs_url = _urls(fresh_db, tmp_path)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "AFTERSALES_JOBS_URL": jobs_url,
        "AFTERSALES_JOB_HEARTBEAT_TIMEOUT": str(TIMEOUT),
        "AFTERSALES_JOB_MODULES": "tests.job_kinds",
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",  # the CLI's tables unwrapped
    }
    with _app(fresh_db, jobs_url) as client:
        run = Runner(fresh_db, client, env, tmp_path, bearer(fresh_db, Role.ADMIN))
        try:
            yield run
        finally:
            for proc in run.workers:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def api(db, tmp_path) -> Iterator[TestClient]:
    """The API on the rolled-back database; no worker runs what it queues."""
    network(db)
    with _app(db, f"sqlite:///{tmp_path / 'jobs.db'}") as client:
        yield client


def _entries(db: Database, number: str) -> int:
    with db.reading() as session:
        return session.scalar(
            select(func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.kind == "test_job", JournalEntry.refs["job"].as_string() == number)
        )


def _balance(db: Database, code: str) -> int:
    with db.reading() as session:
        return session.scalar(select(Account.balance).where(Account.code == code))


def test_a_job_started_over_http_runs_in_a_worker_process_and_shows_its_progress(runner):
    started = runner.start("test.post", {"entries": 12, "chunk": 3, "pause": 0.15}, key="k-1")
    number = started["number"]
    assert started["status"] == "queued" and started["attempts"] == 0
    assert started["progress_done"] == 0 and started["created_by"] == "admin-user"

    runner.worker()
    midway = runner.until(number, lambda j: 0 < j["progress_done"] < 12)
    assert midway["status"] == "running" and midway["progress_total"] == 12
    assert midway["started_at"] and midway["heartbeat_at"] and midway["attempts"] == 1
    done = runner.until(number, lambda j: j["status"] not in ("queued", "running"))

    assert done["status"] == "succeeded", done
    assert done["result"] == {"posted": 12, "chunks": 4, "rerun": False}
    assert done["progress_done"] == 12 and done["progress_note"] == "chunk 4 of 4"
    assert done["finished_at"] >= done["started_at"] and done["error"] is None
    assert _entries(runner.db, number) == 12
    assert _balance(runner.db, job_kinds.TARGET) == 12

    listed = runner.client.get("/jobs?status=succeeded&kind=test.post", headers=runner.admin)
    assert [j["number"] for j in listed.json()["items"]] == [number]
    # A succeeded job never runs again: resume is refused, a stray message is ignored.
    refused = runner.client.post(f"/jobs/{number}/resume", headers=runner.admin)
    assert refused.status_code == 409, refused.text
    assert refused.json()["state"] == "succeeded"
    assert jobs.run_job(runner.db, jobs.job_id(number)) is None
    assert _entries(runner.db, number) == 12

    # The CLI starts a job and shows its bar until the worker is done with it.
    started = runner.cli("jobs", "start", "test.post", "--param", "entries=3", "--key", "cli-1")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "succeeded" in started.stdout and '"posted": 3' in started.stdout, started.stdout
    listed = runner.cli("jobs", "list", "--status", "succeeded")
    assert listed.returncode == 0 and number in listed.stdout, listed.stdout
    cli_job = started.stdout.split()[0]
    assert cli_job.startswith("JB-") and cli_job in listed.stdout
    assert _entries(runner.db, cli_job) == 3


def test_a_killed_job_is_found_interrupted_resumed_and_posts_every_entry_once(runner):
    number = runner.start("test.post", {"entries": 16, "chunk": 2, "pause": 0.25})["number"]
    first = runner.worker()
    runner.until(number, lambda j: j["progress_done"] >= 4)
    first.kill()  # SIGKILL: no goodbye, the heartbeat just stops
    first.wait()

    lost = runner.until(number, lambda j: j["status"] == "interrupted", seconds=10)
    assert lost["attempts"] == 1 and 4 <= lost["progress_done"] < 16
    assert _entries(runner.db, number) == lost["progress_done"]
    listed = runner.client.get("/jobs?status=interrupted", headers=runner.admin).json()
    assert [j["number"] for j in listed["items"]] == [number]

    # Resumed over HTTP; a retry of that resume replays, another is refused.
    resume = runner.client.post(
        f"/jobs/{number}/resume", headers={**runner.admin, "Idempotency-Key": "r-1"}
    )
    assert resume.status_code == 202 and resume.json()["status"] == "queued", resume.text
    again = runner.client.post(
        f"/jobs/{number}/resume", headers={**runner.admin, "Idempotency-Key": "r-1"}
    )
    assert again.status_code == 202 and again.json()["status"] == "queued"
    other = runner.client.post(f"/jobs/{number}/resume", headers=runner.admin)
    assert other.status_code == 409 and other.json()["state"] == "queued"

    second = runner.worker()
    before = lost["progress_done"]
    runner.until(number, lambda j: j["attempts"] == 2 and j["progress_done"] >= before + 4)
    second.kill()
    second.wait()
    lost = runner.until(number, lambda j: j["status"] == "interrupted", seconds=10)
    assert lost["attempts"] == 2 and lost["progress_done"] < 16

    # Resumed from the command line this time.
    resumed = runner.cli("jobs", "resume", number)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "queued" in resumed.stdout
    runner.worker()
    done = runner.until(number, lambda j: j["status"] not in ("queued", "running"))
    assert done["status"] == "succeeded" and done["attempts"] == 3, done
    assert done["result"] == {"posted": 16, "chunks": 8, "rerun": True}
    assert _entries(runner.db, number) == 16
    assert _balance(runner.db, job_kinds.TARGET) == 16

    watched = runner.cli("jobs", "watch", number)
    assert watched.returncode == 0 and "succeeded" in watched.stdout, watched.stdout
    shown = runner.cli("jobs", "show", number)
    assert "attempt 3" in shown.stdout and '"posted": 16' in shown.stdout, shown.stdout


def test_a_failing_job_shows_its_error_and_a_resume_runs_it_again(runner):
    number = runner.start("test.flaky", {"why": "the courier file is missing"})["number"]
    runner.worker()
    failed = runner.until(number, lambda j: j["status"] not in ("queued", "running"))
    assert failed["status"] == "failed" and failed["attempts"] == 1
    # The first line of the message, never a traceback.
    assert failed["error"] == "RuntimeError: the courier file is missing"
    assert failed["result"] is None and failed["finished_at"]
    watched = runner.cli("jobs", "watch", number)
    assert watched.returncode == 1 and "courier file is missing" in watched.stdout

    resumed = runner.client.post(f"/jobs/{number}/resume", headers=runner.admin)
    assert resumed.status_code == 202, resumed.text
    done = runner.until(number, lambda j: j["status"] not in ("queued", "running"))
    assert done["status"] == "succeeded" and done["result"] == {"attempt": 2}
    assert done["error"] is None


def test_the_same_key_is_one_job_and_another_body_with_it_a_conflict(api, db):
    admin = bearer(db, Role.ADMIN)
    body = {"kind": "test.post", "params": {"entries": 3}}
    first = api.post("/jobs", json=body, headers={**admin, "Idempotency-Key": "once"})
    again = api.post("/jobs", json=body, headers={**admin, "Idempotency-Key": "once"})
    assert first.status_code == again.status_code == 202, again.text
    assert first.json()["number"] == again.json()["number"]
    assert first.headers["Location"] == f"/jobs/{first.json()['number']}"
    assert len(api.get("/jobs", headers=admin).json()["items"]) == 1

    other = {"kind": "test.post", "params": {"entries": 4}}
    conflict = api.post("/jobs", json=other, headers={**admin, "Idempotency-Key": "once"})
    assert conflict.status_code == 422, conflict.text
    assert conflict.json()["type"] == "/problems/idempotency-conflict"
    assert conflict.json()["job"] == first.json()["number"]
    finance = bearer(db, Role.FINANCE)
    taken = api.post("/jobs", json=body, headers={**finance, "Idempotency-Key": "once"})
    assert taken.status_code == 409 and taken.json()["type"] == "/problems/idempotency-key-taken"

    unknown = api.post("/jobs", json={"kind": "no.such", "params": {}}, headers=admin)
    assert unknown.status_code == 422 and "test.post" in unknown.json()["detail"]
    assert len(api.get("/jobs", headers=admin).json()["items"]) == 1


def test_a_service_point_sees_only_its_own_jobs(api, db):
    sp1 = bearer(db, Role.SERVICE_POINT, "SP-0001")
    sp2 = bearer(db, Role.SERVICE_POINT, "SP-0002")
    admin = bearer(db, Role.ADMIN)
    mine = api.post("/jobs", json={"kind": "test.post", "params": {"entries": 1}}, headers=sp1)
    theirs = api.post("/jobs", json={"kind": "test.post", "params": {"entries": 2}}, headers=admin)
    mine, theirs = mine.json()["number"], theirs.json()["number"]

    assert api.get(f"/jobs/{mine}", headers=sp1).status_code == 200
    for number, headers in ((mine, sp2), (theirs, sp1)):
        hidden = api.get(f"/jobs/{number}", headers=headers)
        assert hidden.status_code == 404 and hidden.json()["type"] == "/problems/not-found"
        assert api.post(f"/jobs/{number}/resume", headers=headers).status_code == 404
    assert [j["number"] for j in api.get("/jobs", headers=sp1).json()["items"]] == [mine]
    assert api.get("/jobs", headers=sp2).json()["items"] == []
    for role in (Role.ADMIN, Role.FINANCE):
        seen = api.get("/jobs", headers=bearer(db, role)).json()["items"]
        assert {j["number"] for j in seen} == {mine, theirs}
    assert api.get("/jobs/JB-999999", headers=admin).status_code == 404


def test_the_sweep_writes_interrupted_on_a_job_whose_heartbeat_stopped(db):
    network(db)
    jobs.load_kinds(["tests.job_kinds"])
    queue = jobs.JobQueue("memory://")
    view = jobs.enqueue(db, "test.post", {"entries": 1}, actor=SYSTEM, queue=queue)
    ident = jobs.job_id(view.number)
    old = utcnow() - timedelta(seconds=30)
    db.transact(
        lambda s: s.execute(
            update(jobs.job_t)
            .where(jobs.job_t.c.id == ident)
            .values(status="running", attempts=1, heartbeat_at=old)
        )
    )
    assert jobs.sweep(db, stale_after=60) == []
    assert jobs.sweep(db, stale_after=10) == [view.number]
    with db.reading() as session:
        assert session.scalar(select(jobs.Job.status).where(jobs.Job.id == ident)) == "interrupted"
    resumed = jobs.resume(db, view.number, SYSTEM, queue=queue)
    assert resumed.status == "queued" and resumed.attempts == 1


def test_in_immediate_mode_a_job_runs_in_the_caller_for_unit_tests(db):
    network(db)
    jobs.load_kinds(["tests.job_kinds"])
    queue = jobs.JobQueue("memory://", immediate=True, database=db)
    view = jobs.enqueue(db, "test.post", {"entries": 7, "chunk": 3}, actor=SYSTEM, queue=queue)
    assert view.status == "succeeded" and view.attempts == 1
    assert view.params == {"entries": 7, "chunk": 3, "pause": 0}  # the kind's defaults
    assert view.result == {"posted": 7, "chunks": 3, "rerun": False}
    assert (view.progress_done, view.progress_total) == (7, 7)
    assert _entries(db, view.number) == 7


def test_a_run_given_up_on_stops_at_its_next_progress_and_writes_nothing(db):
    network(db)
    jobs.load_kinds(["tests.job_kinds"])
    queue = jobs.JobQueue("memory://", immediate=True, database=db)
    view = jobs.enqueue(db, "test.superseded", {}, actor=SYSTEM, queue=queue)
    # The later run owns the job now: the first wrote neither progress nor an end.
    assert view.status == "queued" and view.attempts == 1
    assert view.progress_note is None and view.finished_at is None and view.result is None


def test_params_are_checked_by_the_kind_when_the_job_is_started(api, db):
    admin = bearer(db, Role.ADMIN)
    cases = [
        ({"entries": "5"}, "params.entries"),
        ({"entries": 0}, "params.entries"),
        ({"entries": 1, "colour": "red"}, "params.colour"),
        ({}, "params.entries"),
    ]
    for params, where in cases:
        refused = api.post("/jobs", json={"kind": "test.post", "params": params}, headers=admin)
        assert refused.status_code == 422 and refused.json()["field"] == where, refused.text
    clerk = bearer(db, Role.WAREHOUSE_CLERK)
    admin_only = api.post("/jobs", json={"kind": "test.superseded", "params": {}}, headers=clerk)
    assert admin_only.status_code == 403, admin_only.text
    assert api.get("/jobs", headers=admin).json()["items"] == []


def test_a_job_the_queue_cannot_take_is_failed_saying_so_not_left_queued(db, tmp_path):
    network(db)
    with _app(db, "sqlite:////proc/no-such-place/jobs.db") as client:
        admin = bearer(db, Role.ADMIN)
        started = client.post("/jobs", json={"kind": "test.post", "params": {"entries": 1}},
                              headers=admin)  # fmt: skip
        assert started.status_code == 202, started.text
        job = started.json()
        assert job["status"] == "failed" and "AFTERSALES_JOBS_URL" in job["error"], job
        # Resumable once the queue is back; still failed while it is not.
        again = client.post(f"/jobs/{job['number']}/resume", headers=admin)
        assert again.status_code == 202 and again.json()["status"] == "failed"
    ok = jobs.resume(db, job["number"], SYSTEM, queue=jobs.JobQueue("memory://"))
    assert ok.status == "queued"
