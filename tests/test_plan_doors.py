"""Planning through its doors: `aftersales plan …` on files written by plain
numpy and on the live ledger, and the /plans endpoints (both backends)."""

from __future__ import annotations

import io

import numpy as np
import openpyxl
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.jobs import JobQueue
from ledger.parts import requisitions
from ledger.policy import SYSTEM
from ledger.settings import Settings
from optimizer import allocate
from tests import parts_network as pn
from tests.cli import cli_database, run
from tests.test_plan_adapter import (  # noqa: F401 (quick_passwords: a fixture)
    PLANNER,
    _last_month,
    _write_off,
    add_planner,
    quick_passwords,
)
from tests.tokens import SECRET

PNG = b"\x89PNG\r\n\x1a\n"
XLSX = b"PK"


def cli(*args: str, code: int = 0) -> str:
    """A command's output, its wrapped lines joined."""
    return " ".join(run(*args, code=code).split())


# -- offline, files -------------------------------------------------------------------


def _numpy_instance(path, **changes) -> None:
    """An instance as another program writes it: plain np.savez, no labels."""
    rng = np.random.default_rng(3)
    P, K, R = 12, 5, 2
    arrays = {
        "lam": rng.uniform(0, 3, (P, K)),
        "weight": np.ones(K),
        "cost": rng.integers(1_000, 20_000, K).astype(np.int64),
        "hq": np.full(K, 10, dtype=np.int64),
        "reg": rng.integers(0, 8, (R, K)).astype(np.int64),
        "region": (np.arange(P) % R).astype(np.int64),
        "headroom": np.full(P, 30_000, dtype=np.int64),
    }
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


def test_allocate_reads_a_file_written_by_plain_numpy(tmp_path):
    _numpy_instance(tmp_path / "in.npz")
    out = cli("plan", "allocate", "--instance", str(tmp_path / "in.npz"),
              "--out", str(tmp_path / "plan.npz"), "--time-limit", "5")  # fmt: skip
    assert "objective" in out and "bound" in out and "gap" in out
    with np.load(tmp_path / "plan.npz") as plan:
        assert plan["x"].shape == (12, 5) and plan["ship"].shape == (2, 5)
        assert plan["x"].dtype == np.int64 and plan["ship"].dtype == np.int64
        objective, bound = float(plan["objective"]), float(plan["bound"])
    assert f"{objective:,.6f}" in out and bound <= objective + 1e-9
    instance = allocate.load_instance(str(tmp_path / "in.npz"))
    allocate.check_plan(instance, allocate.load_plan(str(tmp_path / "plan.npz")))


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"headroom": None}, "headroom"),
        ({"region": np.zeros(11, dtype=np.int64)}, "region"),
        ({"lam": np.full((12, 5), np.nan)}, "lam"),
        ({"cost": -np.ones(5, dtype=np.int64)}, "cost"),
        ({"reg": np.zeros((2, 4), dtype=np.int64)}, "reg"),
    ],
)
def test_a_bad_instance_file_names_the_array(tmp_path, changes, named):
    _numpy_instance(tmp_path / "in.npz", **changes)
    out = cli("plan", "allocate", "--instance", str(tmp_path / "in.npz"),
              "--out", str(tmp_path / "plan.npz"), code=1)  # fmt: skip
    assert f"{named}:" in out and not (tmp_path / "plan.npz").exists()


def test_files_that_are_no_instance_are_refused_clearly(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert "not a readable numpy" in cli(
        "plan", "allocate", "--instance", str(tmp_path / "junk.npz"), "--out", "p.npz", code=1
    )
    assert "no such file" in cli(
        "plan", "allocate", "--instance", str(tmp_path / "none.npz"), "--out", "p.npz", code=1
    )
    assert "needs --out" in cli("plan", "allocate", "--instance", "x.npz", code=1)
    assert "cannot go with --instance" in cli(
        "plan", "allocate", "--instance", "x.npz", "--out", "p.npz", "--release", code=1
    )


def test_purchase_sizes_a_workbook_offline(tmp_path):
    # The template from the command line is a workbook the sizing reads.
    assert "wrote" in cli("plan", "template", str(tmp_path / "in.xlsx"))
    out = cli("plan", "purchase", str(tmp_path / "in.xlsx"), "--target-fill", "0.9",
              "--out", str(tmp_path / "result.xlsx"))  # fmt: skip
    assert "fill rate" in out and "spend" in out
    assert (tmp_path / "result.xlsx").read_bytes()[:2] == XLSX
    assert "exactly one of" in cli("plan", "purchase", str(tmp_path / "in.xlsx"), code=1)
    assert "not an amount" in cli(
        "plan", "purchase", str(tmp_path / "in.xlsx"), "--budget", "lots", code=1
    )
    (tmp_path / "bad.xlsx").write_bytes(b"nope")
    assert "error" in cli("plan", "purchase", str(tmp_path / "bad.xlsx"), "--budget", "10", code=1)


# -- live, the command line on the ledger ---------------------------------------------


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    def build(s):
        pn.build(s, s.info["window"].today())
        add_planner(s)

    yield from cli_database(tmp_path, monkeypatch, build)


def test_the_live_ledger_snapshot_allocate_and_release(cli_db, tmp_path):
    pn.stock(cli_db, "RW-S", "P-LCD", 6)
    pn.stock(cli_db, "HQ", "P-BATT", 5)
    pn.stock(cli_db, "SP-A", "P-LCD", 2)
    _write_off(cli_db, "R-1", "P-LCD", 2, _last_month(cli_db))
    out = cli("plan", "snapshot", str(tmp_path / "net.npz"))
    assert "2 points × 3 parts over 2 regional warehouses" in out
    instance = allocate.load_instance(str(tmp_path / "net.npz"))
    assert instance.labels.point == ("SP-A", "SP-B") and instance.reg[1].tolist() == [0, 0, 6]
    # SP-A wrote LCDs off; SP-B, with no history, gets part of its region's rate.
    assert instance.lam[0, 2] > instance.lam[1, 2] > 0
    out = cli("plan", "allocate", "--as", PLANNER, "--time-limit", "5", "--release")
    assert "plan PL-000001" in out and "gap" in out and "PL-000001 released: 2 " in out
    with cli_db.reading() as s:
        raised = requisitions.list_requisitions(s, SYSTEM)
    assert sorted(rq.requester for rq in raised) == ["SP-A", "SP-B"]
    assert all(rq.state == "approved" and rq.created_by == PLANNER for rq in raised)
    again = cli("plan", "release", "PL-000001", "--as", PLANNER)
    assert "released already" in again
    refused = cli("plan", "release", "PL-000001", "--as", "sp-a", code=1)
    assert "may not release a plan" in refused
    assert "does not exist" in cli("plan", "release", "PL-000999", "--as", PLANNER, code=1)


# -- HTTP -----------------------------------------------------------------------------


@pytest.fixture
def api(db):
    pn.network(db)
    db.transact(add_planner)
    pn.stock(db, "HQ", "P-LCD", 20)
    pn.stock(db, "RW-S", "P-LCD", 4)
    pn.stock(db, "RW-S", "P-BATT", 4)
    app = create_app(db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://"))
    app.state.job_queue = JobQueue("memory://", immediate=True, database=db)
    with TestClient(app) as client:
        yield client, pn.signed_in(client)


def _plan_from_job(client, who, answer) -> str:
    assert answer.status_code == 202, answer.text
    job = client.get(answer.headers["Location"], headers=who(PLANNER)).json()
    assert job["status"] == "succeeded", job
    return job["result"]["plan"]


def test_an_allocation_round_trips_over_http(api, db):
    client, who = api
    answer = client.post("/plans/allocations", json={"horizon_months": 3, "time_limit": 5},
                         headers=who(PLANNER, key="a-1"))  # fmt: skip
    number = _plan_from_job(client, who, answer)
    listed = client.get("/plans", headers=who("finance")).json()
    assert [p["number"] for p in listed["items"]] == [number]
    detail = client.get(f"/plans/{number}", headers=who("finance"))
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["plan"]["status"] == "proposed" and body["plan"]["kind"] == "allocation"
    assert {"objective", "bound", "gap", "fill_before", "fill_after"} <= set(
        body["plan"]["summary"]
    )
    assert {p["point"] for p in body["points"]} == {"SP-A", "SP-B"}
    sheet = client.get(f"/plans/{number}.xlsx", headers=who(PLANNER))
    assert sheet.status_code == 200 and sheet.content[:2] == XLSX
    picture = client.get(f"/plans/{number}/plots/region-fill.png", headers=who(PLANNER))
    assert picture.status_code == 200 and picture.content[:8] == PNG
    assert (
        client.get(f"/plans/{number}/plots/frontier.png", headers=who(PLANNER)).status_code == 404
    )
    # Released by a point: refused; by the planner: once.
    point = client.post(f"/plans/{number}/release", headers=who("sp-a", key="r-0"))
    assert point.status_code == 403
    first = client.post(f"/plans/{number}/release", headers=who(PLANNER, key="r-1"))
    assert first.status_code == 200, first.text
    again = client.post(f"/plans/{number}/release", headers=who(PLANNER, key="r-2")).json()
    assert again["requisitions"] == first.json()["requisitions"] and again["created"] == 0
    assert client.get(f"/plans/{number}", headers=who(PLANNER)).json()["plan"]["status"] == (
        "released"
    )
    assert client.get("/plans/PL-999999", headers=who(PLANNER)).status_code == 404
    assert client.get("/plans", headers=who("sp-a")).status_code == 403
    refused = client.post("/plans/allocations", json={"horizon_months": 0}, headers=who(PLANNER))
    assert refused.status_code == 422
    clerk = client.post("/plans/allocations", json={}, headers=who("clerk"))
    assert clerk.status_code == 403


def test_a_purchase_workbook_is_uploaded_and_sized(api):
    from importers.purchase_sheet import write_purchase_template

    client, who = api
    book = io.BytesIO()
    write_purchase_template(book)
    files = {"file": ("in.xlsx", book.getvalue(), "application/octet-stream")}
    answer = client.post("/plans/purchases", files=files, data={"budget": "500000"},
                         headers=who(PLANNER, key="p-1"))  # fmt: skip
    number = _plan_from_job(client, who, answer)
    body = client.get(f"/plans/{number}", headers=who("finance")).json()
    assert body["plan"]["kind"] == "purchase" and body["parts"][0]["sku"] == "SCR-X1-OLED"
    assert body["plan"]["summary"]["spend"] <= 500_000
    sheet = client.get(f"/plans/{number}.xlsx", headers=who(PLANNER))
    assert sheet.status_code == 200
    openpyxl.load_workbook(io.BytesIO(sheet.content))
    picture = client.get(f"/plans/{number}/plots/frontier.png", headers=who(PLANNER))
    assert picture.status_code == 200 and picture.content[:8] == PNG
    assert client.post(f"/plans/{number}/release", headers=who(PLANNER)).status_code == 409
    both = client.post("/plans/purchases", files=files, data={"budget": "1", "target_fill": "0.9"},
                       headers=who(PLANNER))  # fmt: skip
    assert both.status_code == 422
    junk = {"file": ("in.xlsx", b"junk", "application/octet-stream")}
    bad = client.post("/plans/purchases", files=junk, data={"budget": "1"}, headers=who(PLANNER))
    assert bad.status_code == 422 and "xlsx" in bad.text
