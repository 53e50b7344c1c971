"""The planner's console pages (both databases): a planner runs an allocation
on the small network (the job run by an immediate queue, or followed live
while a worker takes it), sees the plan with its gap, pictures and tables
(paged on the server), downloads it, releases it and finds its
requisitions; releasing twice makes nothing new; a purchase is sized from
the template; finance reads without the forms; a service point is refused;
an unknown plan or a number of another kind answers with a not-found page."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import numpy as np
import openpyxl
import pytest
from sqlalchemy import update

from ledger import jobs, planning
from ledger.catalog import locations
from ledger.models import Role
from ledger.parts import repairs, requisitions
from ledger.parts.requisitions import LineIn
from ledger.parts.warranty import Case
from ledger.policy import SYSTEM
from ledger.users import create_user
from optimizer import adapter, allocate
from tests import parts_network as pn

HX = {"HX-Request": "true"}
PNG = b"\x89PNG\r\n\x1a\n"
WORKBOOK = {"file": ("p.xlsx", b"PK\x03\x04", "application/octet-stream")}


@pytest.fixture
def planning_app(console_app, db):
    """The console over the parts network with a planner, its jobs run at
    once in the request that enqueues them (an immediate queue)."""

    def planner(s):
        create_user(s, "planner", pn.PASSWORD, Role.PLANNER)
        locations.assign_level(s, SYSTEM, "planner", "L2")  # to approve what a release raises

    db.transact(planner)
    console_app.state.job_queue = jobs.JobQueue("memory://", immediate=True, database=db)
    return console_app


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _write_off(db, point: str, number: str, sku: str, quantity: int, on: date) -> None:
    """A repair at the point that used `quantity` of the part, dated `on`."""
    pn.stock(db, point, sku, quantity)
    who = pn.actor(db, point.lower())

    def work(s):
        today = s.info["window"].today()
        view = repairs.write_off(
            s, who, repair_number=number, customer_serial="860000000000001",
            handset_model="X1", fault="no display",
            case=Case(part_class="handset", reported_on=today,
                      manufactured_on=today - timedelta(days=900),
                      purchased_on=today - timedelta(days=100), proof_of_purchase=True,
                      sold=True),
            parts=[LineIn(sku=sku, quantity=quantity)],
        )  # fmt: skip
        s.execute(
            update(repairs.repair_t)
            .where(repairs.repair_t.c.repair_number == view.repair_number)
            .values(written_off_on=on)
        )

    db.transact(work)


def _demand(db) -> None:
    """Stock to spread (at HQ and the south's warehouse) and a year's
    repairs that make demand at both points."""
    with db.reading() as s:
        today = s.info["window"].today()
    last = today.replace(day=1) - timedelta(days=1)
    pn.stock(db, "HQ", "P-LCD", 12)
    pn.stock(db, "RW-S", "P-LCD", 3)
    pn.stock(db, "RW-S", "P-BATT", 6)
    _write_off(db, "SP-A", "R-A1", "P-LCD", 8, last)
    _write_off(db, "SP-A", "R-A2", "P-BATT", 4, last)
    _write_off(db, "SP-B", "R-B1", "P-LCD", 4, last)


def _requisition_count(db) -> int:
    with db.reading() as s:
        return len(requisitions.list_requisitions(s, pn.actor(db, "admin"), limit=1_000))


def _allocate(planner, **form) -> str:
    """Runs an allocation from the plans page; returns the plan's number."""
    answer = planner.post("/ui/plans/allocations",
                          {"horizon_months": "3", "time_limit": "5", **form})  # fmt: skip
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith("/ui/plans?job=JB-")
    followed = planner.get(answer.headers["location"])
    assert followed.status_code == 200
    assert 'data-testid="job"' in followed.text and 'data-status="succeeded"' in followed.text
    return re.search(r'href="/ui/plans/(PL-\d+)"', followed.text).group(1)


def test_a_planner_allocates_sees_the_plan_downloads_and_releases_it_once(
    planning_app, as_user, db
):
    _demand(db)
    planner = as_user("planner")
    plans = planner.get("/ui/plans")
    assert plans.status_code == 200
    assert 'data-testid="allocation-form"' in plans.text
    assert 'href="/ui/plans"' in plans.text  # the planner's menu has the page
    number = _allocate(planner)

    page = planner.get(f"/ui/plans/{number}")
    assert page.status_code == 200
    gap = re.search(r'data-testid="gap">([^<]+)<', page.text).group(1)
    assert gap.endswith("%")
    assert re.search(r'data-testid="fill-after"><strong>[\d.]+%', page.text)
    assert 'data-testid="plan-parts"' in page.text and 'data-testid="plan-points"' in page.text
    assert 'data-testid="point-SP-A"' in page.text
    picture = re.search(r'<img src="([^"]+region-fill\.png)"', page.text).group(1)
    png = planner.get(picture)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == PNG and len(png.content) > 10_000

    sheet = planner.get(f"/ui/plans/{number}/plan.xlsx")
    assert sheet.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(sheet.content))
    assert book.sheetnames == ["汇总 Summary", "配件 Parts", "网点 Points", "明细 Lines"]
    lines = list(book["明细 Lines"].iter_rows(min_row=2, values_only=True))
    units = int(re.search(r'data-testid="units">([\d,]+)<', page.text).group(1).replace(",", ""))
    assert units > 0 and sum(row[2] for row in lines) == units

    before = _requisition_count(db)
    released = planner.post(f"/ui/plans/{number}/release", key="release-once")
    assert released.status_code == 303 and released.headers["location"] == f"/ui/plans/{number}"
    after = planner.get(f"/ui/plans/{number}")
    assert 'data-testid="plan-status">已发布<' in after.text
    made = re.findall(r'<a href="/ui/requisitions/(RQ-\d+)">', after.text)
    assert made and _requisition_count(db) == before + len(made)
    shown = planner.get(f"/ui/requisitions/{made[0]}")
    assert shown.status_code == 200 and "已批准" in shown.text
    # HQ's screens reach SP-A through RW-S: that requisition waits for them, and says so.
    assert "已提交：待其所等的总部发货收货后再批准" in after.text
    assert 'data-testid="release-plan"' not in after.text

    again = planner.post(f"/ui/plans/{number}/release")  # another form, the same plan
    assert again.status_code in (303, 409)
    assert _requisition_count(db) == before + len(made)
    assert re.findall(r'<a href="/ui/requisitions/(RQ-\d+)">',
                      planner.get(f"/ui/plans/{number}").text) == made  # fmt: skip


def test_the_plans_list_shows_the_plan_and_finance_reads_without_the_forms(
    planning_app, as_user, db
):
    _demand(db)
    number = _allocate(as_user("planner"))
    finance = as_user("finance")
    plans = finance.get("/ui/plans")
    assert plans.status_code == 200
    assert f'data-testid="plan-{number}"' in plans.text
    assert 'data-testid="allocation-form"' not in plans.text
    assert 'data-testid="purchase-form"' not in plans.text
    page = finance.get(f"/ui/plans/{number}")
    assert page.status_code == 200 and 'data-testid="release-plan"' not in page.text
    refused = finance.post(f"/ui/plans/{number}/release")
    assert refused.status_code == 403
    only = finance.get("/ui/plans?kind=purchase", headers=HX)
    assert "<html" not in only.text and f'data-testid="plan-{number}"' not in only.text
    finance.post("/ui/language", {"locale": "en", "back": "/ui/plans"})
    english = _text(finance.get(f"/ui/plans/{number}").text)
    assert "Fill rate after" in english and "Lower bound" in english and "Proposed" in english


def test_an_unknown_plan_is_not_found_and_a_point_sees_no_plan(planning_app, as_user, db):
    _demand(db)
    planner = as_user("planner")
    number = _allocate(planner)
    unknown = "/ui/plans/PL-999999"
    for url in (unknown, "/ui/plans/RQ-000001", "/ui/plans/nonsense",
                f"/ui/plans/{number}/plots/frontier.png", f"{unknown}/plots/region-fill.png",
                f"{unknown}/plan.xlsx"):  # fmt: skip
        answer = planner.get(url)
        assert answer.status_code == 404, url
        assert "text/html" in answer.headers["content-type"], url
    # A service point has no plans to see, nor any to run or release.
    point = as_user("sp-a")
    for url in ("/ui/plans", f"/ui/plans/{number}", f"/ui/plans/{number}/plan.xlsx",
                f"/ui/plans/{number}/plots/region-fill.png"):  # fmt: skip
        answer = point.get(url)
        assert answer.status_code == 403, url
        assert "<html" in answer.text and "无权" in answer.text  # a page, not a picture
    started = point.post("/ui/plans/allocations", {"horizon_months": "3", "time_limit": "5"})
    assert started.status_code == 403
    assert point.post(f"/ui/plans/{number}/release").status_code == 403
    assert 'href="/ui/plans"' not in point.get("/").text  # nor a menu entry


def test_what_is_typed_wrong_is_said_beside_the_field_and_nothing_runs(planning_app, as_user, db):
    planner = as_user("planner")
    for form, field in (
        ({"horizon_months": "x", "time_limit": "5"}, "horizon_months"),
        ({"horizon_months": "0", "time_limit": "5"}, "horizon_months"),
        ({"horizon_months": "3", "time_limit": "99999"}, "time_limit"),
        ({"horizon_months": "3", "time_limit": "NaN"}, "time_limit"),
        ({"horizon_months": "9" * 40, "time_limit": "5"}, "horizon_months"),
    ):
        answer = planner.post("/ui/plans/allocations", form)
        assert answer.status_code == 422
        assert re.search(rf'name="{field}"[^>]*>\s*<span class="field-problem"', answer.text)
    no_file = planner.post("/ui/plans/purchases", {"budget": "1000"})
    assert no_file.status_code == 422 and "请选择已填好的采购工作簿" in no_file.text
    both = planner.post("/ui/plans/purchases", {"budget": "1000", "target_fill": "95"},
                        files=WORKBOOK)  # fmt: skip
    assert both.status_code == 422 and "二者只填其一" in both.text
    not_a_workbook = planner.post("/ui/plans/purchases", {"target_fill": "95"}, files=WORKBOOK)
    assert not_a_workbook.status_code == 422
    assert 'data-testid="purchase-form"' in not_a_workbook.text
    assert re.search(r'name="file"[^>]*>\s*<span class="field-problem"', not_a_workbook.text)
    odd = planner.post("/ui/plans/purchases", {"target_fill": "150"},
                       files=WORKBOOK)  # fmt: skip
    assert odd.status_code == 422 and "不是满足率" in odd.text
    with db.reading() as s:
        assert jobs.list_jobs(s, pn.actor(db, "admin"), limit=10) == []


def test_a_purchase_is_sized_from_the_template_and_shows_its_frontier(planning_app, as_user):
    planner = as_user("planner")
    download = planner.get("/ui/plans/purchase-template.xlsx")
    assert download.status_code == 200
    template = download.content
    sheets = openpyxl.load_workbook(io.BytesIO(template)).sheetnames
    assert {"parts", "sales"} <= {name.lower() for name in sheets}
    upload = {"file": ("purchase.xlsx", template, "application/octet-stream")}
    answer = planner.post("/ui/plans/purchases", {"budget": "200,000.00"}, files=upload)
    assert answer.status_code == 303, answer.text
    followed = planner.get(answer.headers["location"])
    assert 'data-status="succeeded"' in followed.text, followed.text
    number = re.search(r'href="/ui/plans/(PL-\d+)"', followed.text).group(1)
    page = planner.get(f"/ui/plans/{number}")
    assert page.status_code == 200
    spend = re.search(r'data-testid="spend">¥([\d,.]+)<', page.text).group(1)
    assert (
        0 < float(spend.replace(",", "")) <= 200_000
    )  # the example: 100 screens at ¥1,250 at least
    assert re.search(r'data-testid="fill-rate"><strong>[\d.]+%', page.text)
    assert (
        'data-testid="plan-frontier"' in page.text and 'data-testid="release-plan"' not in page.text
    )
    png = planner.get(f"/ui/plans/{number}/plots/frontier.png")
    assert png.status_code == 200 and png.content[:8] == PNG
    assert planner.get(f"/ui/plans/{number}/plots/region-fill.png").status_code == 404
    book = openpyxl.load_workbook(io.BytesIO(planner.get(f"/ui/plans/{number}/plan.xlsx").content))
    assert book.sheetnames == ["汇总 Summary", "配件 Parts", "前沿 Frontier"]
    summary = {
        row[0]: row[1] for row in book["汇总 Summary"].iter_rows(min_row=3, values_only=True)
    }
    assert summary["采购金额 Spend"] == pytest.approx(float(spend.replace(",", "")))
    refused = planner.post(f"/ui/plans/{number}/release")
    assert refused.status_code == 409 and "only an allocation" in refused.text


def test_the_run_is_followed_live_and_a_release_without_a_level_says_what_to_do(
    console_app, as_user, db
):
    """With a worker (here: the test) taking the job later, the plans page
    polls the job's progress and reloads once it has ended. This planner has
    no approval level: the release is refused, saying who can give one."""
    db.transact(lambda s: create_user(s, "planner", pn.PASSWORD, Role.PLANNER))
    _demand(db)
    planner = as_user("planner")
    answer = planner.post("/ui/plans/allocations", {"horizon_months": "3", "time_limit": "5"})
    page = planner.get(answer.headers["location"])
    job = re.search(r'id="job-(JB-\d+)"', page.text).group(1)
    assert 'data-status="queued"' in page.text and 'data-testid="job-progress"' in page.text
    assert f'hx-get="/ui/jobs/{job}?reload=true"' in page.text
    jobs.run_job(db, jobs.job_id(job), beat=False)
    done = planner.get(f"/ui/jobs/{job}?reload=true", headers=HX)
    assert done.headers.get("HX-Refresh") == "true"
    assert 'data-status="succeeded"' in done.text and 'data-testid="job-plan"' in done.text
    ended = planner.get(answer.headers["location"])
    number = re.search(r'href="/ui/plans/(PL-\d+)"', ended.text).group(1)
    before = _requisition_count(db)
    refused = planner.post(f"/ui/plans/{number}/release")
    assert refused.status_code == 403
    assert 'data-testid="problem"' in refused.text and "approval level" in refused.text
    assert 'data-testid="release-plan"' in refused.text  # still proposed: try again later
    assert _requisition_count(db) == before


def test_a_large_plans_tables_page_on_the_server(planning_app, as_user, db, monkeypatch):
    """A plan studied offline (120 points × 60 parts, recorded as the adapter
    records one): 50 rows a page, the other table's page kept; the pages after
    the first, and the picture, do not read and unpack its arrays again."""
    P, K, R = 120, 60, 4
    rng = np.random.default_rng(3)
    labels = allocate.Labels(point=tuple(f"SP-{p:03d}" for p in range(P)),
                             part=tuple(f"X-{k:02d}" for k in range(K)),
                             warehouse=tuple(f"RW-{r}" for r in range(R)), hq="HQ")  # fmt: skip
    instance = allocate.Instance(
        lam=rng.uniform(0, 2, (P, K)), weight=np.ones(K), cost=np.full(K, 1_000, np.int64),
        hq=np.full(K, 50, np.int64), reg=np.zeros((R, K), np.int64), region=np.arange(P) % R,
        headroom=np.full(P, 1_000_000, np.int64), labels=labels,
    )  # fmt: skip
    plan = allocate.allocate(instance, time_limit=5)
    planner = pn.actor(db, "planner")
    view = db.transact(lambda s: planning.record_plan(
        s, planner, kind="allocation", params={"horizon_months": 3}, summary={},
        data=adapter.pack_allocation(instance, plan),
    ))  # fmt: skip
    browser = as_user("planner")
    first = browser.get(f"/ui/plans/{view.number}")
    assert first.status_code == 200
    points = re.findall(r'data-testid="point-(SP-\d+)"', first.text)
    assert points == [f"SP-{p:03d}" for p in range(50)]
    assert len(re.findall(r'data-testid="part-X-', first.text)) == 50
    from api.web import planning as pages

    def unread(*args, **kwargs):
        raise AssertionError("the plan's data was read again")

    monkeypatch.setattr(pages.plans, "plan_data", unread)
    third = browser.get(f"/ui/plans/{view.number}?points=100&parts=50")
    assert browser.get(f"/ui/plans/{view.number}/plots/region-fill.png").content[:8] == PNG
    assert re.findall(r'data-testid="point-(SP-\d+)"', third.text) == [
        f"SP-{p:03d}" for p in range(100, 120)]  # fmt: skip
    assert re.findall(r'data-testid="part-(X-\d+)"', third.text) == [
        f"X-{k:02d}" for k in range(50, 60)]  # fmt: skip
    assert "第 101–120 行，共 120 行" in third.text
    assert f'href="/ui/plans/{view.number}?parts=50&amp;points=50#points"' in third.text  # previous
    units = re.search(r'data-testid="units">([\d,]+)<', first.text).group(1)
    assert int(units.replace(",", "")) == int(plan.x.sum()) > 0
