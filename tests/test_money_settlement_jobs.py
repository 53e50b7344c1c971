"""Settlement on the real job runner (both backends, committed databases, a
worker process of its own): started twice at once it is one run and one
job; the worker killed with SIGKILL mid-way, the job is found interrupted,
resumed, and every point is settled exactly once; started again from the
command line, it posts nothing new and says so."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from ledger import services
from ledger.catalog import locations
from ledger.journal import EntryIn, PostingIn
from ledger.models import JournalEntry, Role
from ledger.money import accruals
from ledger.policy import SYSTEM
from tests import parts_network as pn
from tests.test_jobs import Runner, _app, _urls
from tests.tokens import bearer

EXTRA_POINTS = 60
SUBSIDY = 12_300


def _last_month(db) -> tuple[str, object]:
    with db.reading() as s:
        end = s.info["window"].today().replace(day=1) - timedelta(days=1)
    return f"{end:%Y-%m}", end


def _network(db, end) -> list[str]:
    """The parts network and more points, each with last month's subsidy
    owed (opening balances from go-live, dated last month)."""
    pn.network(db)
    codes = [f"SP-X{i:03d}" for i in range(EXTRA_POINTS)]

    def build(s):
        for code in codes:
            locations.create_location(
                s, SYSTEM, kind="service_point", code=code, name=f"Point {code}",
                region="South", province="Guangdong", city="Shenzhen", grade="A",
                served_by="RW-S",
            )  # fmt: skip
        accruals.system_holder(s, accruals.SUBSIDIES)
        md_opening = "OPEN:STOCK:CNY"
        services.post(
            s, SYSTEM,
            [EntryIn(kind="opening", effective_date=end,
                     postings=[PostingIn(account=md_opening, amount=SUBSIDY),
                               PostingIn(account=f"{code}:PAYABLE:CNY", amount=-SUBSIDY)])
             for code in [*pn.POINTS, *codes]],
        )  # fmt: skip

    db.transact(build)
    return [*pn.POINTS, *codes]


def _settlements(db, month: str) -> int:
    with db.reading() as s:
        return s.scalar(
            select(func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.kind == "settlement",
                   JournalEntry.idempotency_key.like(f"settle/{month}/%"))
        )  # fmt: skip


def test_a_settlement_started_twice_killed_and_resumed_settles_every_point_once(fresh_db, tmp_path):
    import os

    from tests.test_jobs import BIN, ROOT, TIMEOUT

    db = fresh_db
    month, end = _last_month(db)
    points = _network(db, end)
    database_url, jobs_url = _urls(db, tmp_path)
    env = {
        **os.environ, "DATABASE_URL": database_url, "AFTERSALES_JOBS_URL": jobs_url,
        "AFTERSALES_JOB_HEARTBEAT_TIMEOUT": str(TIMEOUT), "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
    }  # fmt: skip
    assert BIN.exists()
    with _app(db, jobs_url) as client:
        runner = Runner(db, client, env, tmp_path, bearer(db, Role.FINANCE))
        try:
            # Two finance clicks at once: one run, one job.
            answers: list = [None, None]
            barrier = threading.Barrier(2)

            def click(i):
                barrier.wait()
                answers[i] = client.post(f"/settlements/{month}?chunk=1", headers=runner.admin)

            threads = [threading.Thread(target=click, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
            jobs_started = {a.json()["job"]["number"] for a in answers}
            assert len(jobs_started) == 1, answers
            assert sorted(a.json()["settlement"]["already_running"] for a in answers) == [
                False,
                True,
            ]
            number = jobs_started.pop()
            assert client.get("/periods", headers=runner.admin).json()["closed_through"] == str(end)

            first = runner.worker()
            runner.until(number, lambda j: j["progress_done"] >= 5, seconds=60)
            first.kill()
            first.wait()
            lost = runner.until(number, lambda j: j["status"] in ("interrupted", "succeeded"))
            assert lost["status"] == "interrupted", "the worker finished before it was killed"
            halfway = _settlements(db, month)
            assert 0 < halfway < len(points)
            resumed = client.post(f"/jobs/{number}/resume", headers=runner.admin)
            assert resumed.status_code == 202, resumed.text
            runner.worker()
            done = runner.until(number, lambda j: j["status"] == "succeeded", seconds=60)
            assert done["result"]["points"] == len(points) + 1  # and SP-OFF, with nothing
            assert done["result"]["entries"] == len(points) == _settlements(db, month)
            assert done["result"]["payable"] == len(points) * SUBSIDY
            for code in points:
                assert pn.balance(db, f"{code}:SETTLED:CNY") == -SUBSIDY
                assert pn.balance(db, f"{code}:PAYABLE:CNY") == 0
            pn.sound(db)

            # Again from the command line: nothing new, and it says so.
            again = runner.cli("settle", month, "--as", "finance")
            assert again.returncode == 0, again.stdout + again.stderr
            assert "nothing new to post" in again.stdout, again.stdout
            assert _settlements(db, month) == len(points)
        finally:
            for proc in runner.workers:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=10)
