"""The console's money pages (both databases): a point sees its own deposit,
limit and headroom in yuan, never another's; finance receives and refunds
deposits (refusals beside the amount, nothing changed; one receipt per form
key), reads and sorts the network credit report, grants and withdraws
overrides, settles last month through the page (the job followed to its
end), downloads statements and marks them signed back."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import update

from api.app import create_app
from ledger import jobs, services
from ledger.catalog.locations import Location
from ledger.journal import EntryIn, PostingIn
from ledger.money import accruals, credit, deposits, settlement, statements
from ledger.parts import requisitions
from ledger.parts.requisitions import LineIn
from ledger.policy import SYSTEM
from ledger.settings import Settings
from tests import parts_network as pn
from tests.tokens import SECRET

HX = {"HX-Request": "true"}
SUBSIDY = 12_300


@pytest.fixture
def console_app(db):
    """The console over the parts network, its jobs queued in memory (a test
    runs a job itself, as the worker would)."""
    pn.network(db)
    # The points opened two months ago: last month is theirs to settle.
    opened = datetime.now(UTC) - timedelta(days=70)
    db.transact(lambda s: s.execute(update(Location).values(created_at=opened)))
    db.transact(_subsidies_owed_last_month)
    settings = Settings(secret_key=SECRET, database_url="sqlite://", jobs_url="memory://")
    return create_app(db=db, settings=settings)


def _subsidies_owed_last_month(s) -> None:
    """Each point earned ¥123.00 last month (an opening balance dated then):
    settling the month states it."""
    end = s.info["window"].today().replace(day=1) - timedelta(days=1)
    accruals.system_holder(s, accruals.SUBSIDIES)
    services.post(s, SYSTEM, [
        EntryIn(kind="opening", effective_date=end, postings=[
            PostingIn(account="OPEN:STOCK:CNY", amount=SUBSIDY),
            PostingIn(account=f"{code}:PAYABLE:CNY", amount=-SUBSIDY)])
        for code in pn.POINTS
    ])  # fmt: skip


@pytest.fixture
def app_db(console_app):
    return console_app.state.db


def _ledger(db, point: str):
    with db.reading() as s:
        return deposits.deposit_ledger(s, pn.actor(db, "finance"), point)


def _last_month(db) -> str:
    with db.reading() as s:
        end = s.info["window"].today().replace(day=1) - timedelta(days=1)
    return f"{end:%Y-%m}"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- a point's own money -------------------------------------------------------------


def test_a_point_sees_its_own_deposit_and_headroom_in_yuan(as_user, app_db):
    pn.stock(app_db, "SP-A", "P-LCD", 10)  # ¥1,000 of brand stock held
    page = as_user("sp-a").get("/ui/money")
    assert page.status_code == 200
    text = _text(page.text)
    assert "保证金与信用" in text and "各月对账单" in text

    def figure(name: str) -> str:
        return re.search(rf'data-testid="{name}">(?:<strong>)?([^<]+)<', page.text).group(1)

    assert figure("deposit") == "¥1,000,000.00"
    assert figure("limit") == "¥2,000,000.00"  # 2× leverage
    assert figure("exposure") == "¥1,000.00"
    assert figure("headroom") == "¥1,999,000.00"
    assert 'data-testid="deposit-ledger"' in page.text


def test_another_point_never_sees_it_and_its_urls_answer_not_found(as_user, app_db):
    pn.stock(app_db, "SP-A", "P-LCD", 10)
    b = as_user("sp-b")
    own = b.get("/ui/money")
    assert own.status_code == 200 and "SP-B" in own.text
    assert "SP-A" not in own.text and "¥1,999,000.00" not in own.text
    deposit = b.get("/ui/deposits")  # its own deposit ledger, without finance's forms
    assert deposit.status_code == 200 and "SP-B" in deposit.text
    assert 'data-testid="receipt-form"' not in deposit.text
    for url in ("/ui/money?point=SP-A", "/ui/deposits?point=SP-A",
                f"/ui/statements/{_last_month(app_db)}/SP-A/xlsx",
                f"/ui/statements/{_last_month(app_db)}/SP-A"):  # fmt: skip
        answer = b.get(url)
        assert answer.status_code == 404, url
        assert "¥1,999,000.00" not in answer.text


# -- finance's deposits ----------------------------------------------------------------


def test_finance_receives_an_instalment_and_the_same_form_twice_is_one_receipt(as_user, app_db):
    f = as_user("finance")
    page = f.get("/ui/deposits?point=SP-A")
    assert page.status_code == 200 and 'data-testid="receipt-form"' in page.text
    form = {"amount": "50,000.00", "method": "bank_transfer", "reference": "SLIP-1"}
    first = f.post("/ui/deposits/SP-A/receipts", form, key="fixed-receipt")
    assert first.status_code == 303 and first.headers["location"] == "/ui/deposits?point=SP-A"
    again = f.post("/ui/deposits/SP-A/receipts", form, key="fixed-receipt")
    assert again.status_code == 303
    ledger = _ledger(app_db, "SP-A")
    assert ledger.position.deposit == pn.DEPOSIT + 5_000_000
    assert [m.amount for m in ledger.movements if m.movement == "receipt"].count(5_000_000) == 1
    shown = _text(f.get("/ui/deposits?point=SP-A").text)
    assert "¥1,050,000.00" in shown and "SLIP-1" in shown


def _amount_problem(html: str) -> str:
    found = re.search(r'name="amount"[^>]*>\s*<span class="field-problem"[^>]*>([^<]+)<', html)
    assert found, "no problem beside the amount"
    return found.group(1)


def test_a_refund_beyond_what_was_paid_in_is_refused_beside_the_amount(as_user, app_db):
    f = as_user("finance")
    answer = f.post("/ui/deposits/SP-A/refunds",
                    {"amount": "1,000,000.01", "method": "bank_transfer"})  # fmt: skip
    assert answer.status_code == 409
    assert "more than was paid in" in _amount_problem(answer.text)
    assert 'value="1,000,000.01"' in answer.text  # what was typed stays
    assert _ledger(app_db, "SP-A").position.deposit == pn.DEPOSIT


def test_a_refund_below_the_stock_held_is_refused_and_htmx_gets_only_the_form(as_user, app_db):
    pn.stock(app_db, "SP-A", "P-BOARD", 3_000)  # ¥1,500,000 held: the limit must stay above
    f = as_user("finance")
    answer = f.post("/ui/deposits/SP-A/refunds",
                    {"amount": "500000", "method": "cash"}, headers=HX)  # fmt: skip
    assert answer.status_code == 409
    assert "<html" not in answer.text and 'data-testid="refund-form"' in answer.text
    assert "below the" in _amount_problem(answer.text)
    assert _ledger(app_db, "SP-A").position.deposit == pn.DEPOSIT
    # within what may go back, it goes
    done = f.post("/ui/deposits/SP-A/refunds", {"amount": "200000", "method": "cash"})
    assert done.status_code == 303
    assert _ledger(app_db, "SP-A").position.deposit == pn.DEPOSIT - 20_000_000


def test_an_amount_with_three_decimals_is_422_beside_the_field_and_nothing_written(as_user, app_db):
    f = as_user("finance")
    before = len(_ledger(app_db, "SP-A").movements)
    answer = f.post("/ui/deposits/SP-A/receipts", {"amount": "12.345", "method": "cash"})
    assert answer.status_code == 422
    assert "12.345" in _amount_problem(answer.text)
    bad_day = f.post("/ui/deposits/SP-A/receipts",
                     {"amount": "12.34", "method": "cash", "on": "2026-02-30"})  # fmt: skip
    assert bad_day.status_code == 422 and "field-problem" in bad_day.text
    assert len(_ledger(app_db, "SP-A").movements) == before


def test_a_point_may_not_record_a_deposit(as_user, app_db):
    answer = as_user("sp-a").post("/ui/deposits/SP-A/receipts", {"amount": "10", "method": "cash"})
    assert answer.status_code == 403
    assert _ledger(app_db, "SP-A").position.deposit == pn.DEPOSIT


# -- the credit report and overrides ---------------------------------------------------


def _points(html: str) -> list[str]:
    return re.findall(r'data-testid="credit-(SP-[A-Z]+)"', html)


def test_the_credit_report_filters_sorts_pages_and_downloads(as_user, app_db):
    pn.stock(app_db, "SP-B", "P-LCD", 10)
    f = as_user("finance")
    everything = f.get("/ui/credit")
    assert everything.status_code == 200
    assert _points(everything.text) == ["SP-A", "SP-B", "SP-OFF"]
    assert "¥3,000,000.00" in everything.text  # three deposits in the totals
    assert _points(f.get("/ui/credit?status=suspended").text) == ["SP-OFF"]
    assert _points(f.get("/ui/credit?grade=A&warehouse=RW-S").text) == ["SP-A", "SP-B"]
    assert _points(f.get("/ui/credit?over_limit=true").text) == []
    by_exposure = f.get("/ui/credit?sort=exposure&descending=true")
    assert _points(by_exposure.text)[0] == "SP-B"
    assert 'aria-sort="descending"' in by_exposure.text
    # the header flips the order; htmx gets the table only
    flipped = f.get("/ui/credit?sort=exposure", headers=HX)
    assert "<html" not in flipped.text and _points(flipped.text)[-1] == "SP-B"
    assert "/ui/credit?sort=exposure&amp;descending=true" in flipped.text
    last_page = f.get("/ui/credit?offset=2")
    assert _points(last_page.text) == ["SP-OFF"] and 'rel="prev"' in last_page.text
    assert 'rel="next"' not in last_page.text
    sheet = f.get("/ui/credit/report.xlsx?status=active")
    assert sheet.status_code == 200 and "attachment" in sheet.headers["content-disposition"]
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).active.values)
    codes = [r[0] for r in rows if r and r[0] in ("SP-A", "SP-B", "SP-OFF")]
    assert codes == ["SP-A", "SP-B"]
    assert as_user("sp-a").get("/ui/credit").status_code == 403


def _submitted_requisition(db) -> str:
    who = pn.actor(db, "sp-a")
    view = db.transact(lambda s: requisitions.create(
        s, who, lines=[LineIn(sku="P-LCD", quantity=1)], submit=True))  # fmt: skip
    return view.number


def test_finance_grants_an_override_and_withdraws_it_once(as_user, app_db):
    number = _submitted_requisition(app_db)
    f = as_user("finance")
    no_reason = f.post("/ui/credit/overrides", {"number": number, "reason": ""})
    assert no_reason.status_code == 422
    granted = f.post("/ui/credit/overrides", {"number": number, "reason": "urgent repair"})
    assert granted.status_code == 303
    listed = f.get("/ui/credit/overrides")
    found = re.search(r'data-testid="override-(CO-\d+)"', listed.text)
    assert found and number in listed.text and "urgent repair" in listed.text
    override = found.group(1)
    again = f.post("/ui/credit/overrides", {"number": number, "reason": "twice"})
    assert again.status_code == 409 and "already has an open credit override" in again.text
    stale = f.get("/ui/credit/overrides")  # another finance tab, opened before the withdrawal
    assert f.post(f"/ui/credit/overrides/{override}/withdraw",
                  {"reason": "paid"}).status_code == 303  # fmt: skip
    late = f.post(f"/ui/credit/overrides/{override}/withdraw", {"reason": "also paid"})
    assert late.status_code == 409 and 'data-testid="problem"' in late.text
    assert "withdraw" in stale.text
    with app_db.reading() as s:
        views = credit.list_overrides(s, pn.actor(app_db, "finance"))
    assert [(v.number, v.state.value, v.reason) for v in views] == [
        (override, "withdrawn", "urgent repair")
    ]


# -- settlement and statements -----------------------------------------------------------


def _run_job(db, number: str) -> None:
    """What the worker does with a queued job."""
    jobs.run_job(db, jobs.job_id(number), beat=False)


def _settle_last_month(f, db) -> str:
    month = _last_month(db)
    started = f.post(f"/ui/settlement/{month}/run")
    assert started.status_code == 303 and started.headers["location"] == f"/ui/settlement/{month}"
    page = f.get(f"/ui/settlement/{month}")
    job = re.search(r'id="job-(JB-\d+)"', page.text).group(1)
    assert 'hx-trigger="every 1s"' in page.text and 'data-status="queued"' in page.text
    assert f'hx-get="/ui/jobs/{job}?reload=true"' in page.text
    _run_job(db, job)
    return month, job


def test_last_month_is_settled_through_the_page_and_followed_to_its_end(as_user, app_db):
    f = as_user("finance")
    months = f.get("/ui/settlement")
    assert months.status_code == 200 and _last_month(app_db) in months.text
    month, job = _settle_last_month(f, app_db)
    done = f.get(f"/ui/jobs/{job}", headers=HX)
    assert "<html" not in done.text and 'data-status="succeeded"' in done.text
    assert "hx-trigger" not in done.text  # the polling stops
    assert 'data-testid="job-result"' in done.text
    # polled from the month's page, the ended job reloads it (its figures are the result's)
    assert "HX-Refresh" not in done.headers
    reloads = f.get(f"/ui/jobs/{job}?reload=true", headers=HX)
    assert reloads.headers["HX-Refresh"] == "true"
    with app_db.reading() as s:
        made = statements.list_statements(s, pn.actor(app_db, "finance"), month)
        assert settlement.get(s, pn.actor(app_db, "finance"), month).state == "settled"
    assert {"SP-A", "SP-B"} <= {v.point for v in made}
    page = f.get(f"/ui/settlement/{month}")
    assert "已结算" in page.text
    listed = f.get(f"/ui/statements?month={month}")
    assert 'data-testid="statement-SP-A"' in listed.text


def test_reopening_is_an_admins_and_finance_is_told_so(as_user, app_db):
    f = as_user("finance")
    month, _ = _settle_last_month(f, app_db)
    refused = f.post(f"/ui/settlement/{month}/reopen", {"reason": "late charge"})
    assert refused.status_code == 403 and 'data-testid="reopen-form"' in refused.text
    assert "field-problem" not in refused.text or "reason" in refused.text
    admin = as_user("admin")
    assert admin.post(f"/ui/settlement/{month}/reopen", {"reason": ""}).status_code == 422
    assert admin.post(f"/ui/settlement/{month}/reopen",
                      {"reason": "late charge"}).status_code == 303  # fmt: skip
    with app_db.reading() as s:
        assert settlement.get(s, pn.actor(app_db, "finance"), month).state == "reopened"
    history = admin.get(f"/ui/settlement/{month}")
    assert "late charge" in history.text


def test_the_current_month_cannot_be_settled_and_the_page_says_why(as_user, app_db):
    with app_db.reading() as s:
        month = f"{s.info['window'].today():%Y-%m}"
    answer = as_user("finance").post("/ui/settlement", {"month": month})
    assert answer.status_code == 409 and "has not ended" in answer.text
    assert as_user("finance").post("/ui/settlement", {"month": "2026-13"}).status_code == 422


def test_a_statement_downloads_and_is_marked_signed_back_once(as_user, app_db):
    f = as_user("finance")
    month, _ = _settle_last_month(f, app_db)
    sheet = f.get(f"/ui/statements/{month}/SP-A/xlsx")
    assert sheet.status_code == 200 and "attachment" in sheet.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(sheet.content))
    assert any(r and r[0] == "日期 Date" for r in book.active.values)
    summary = f.get(f"/ui/statements/{month}/summary.xlsx")
    assert summary.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(summary.content)).active.max_row > 2
    back = f"/ui/statements?month={month}"
    marked = f.post(f"/ui/statements/{month}/SP-A/signed-back", {"back": back}, key="sb-1")
    assert marked.status_code == 303 and marked.headers["location"] == back
    replay = f.post(f"/ui/statements/{month}/SP-A/signed-back", {"back": back}, key="sb-1")
    assert replay.status_code == 303
    twice = f.post(f"/ui/statements/{month}/SP-A/signed-back", {"back": back})
    assert twice.status_code == 409 and "was signed back on" in twice.text
    unsigned = f.get(f"/ui/statements?month={month}&signed_back=false")
    assert 'data-testid="statement-SP-A"' not in unsigned.text
    assert 'data-testid="statement-SP-B"' in unsigned.text
    # the point sees its statement signed back on its money page, and downloads it
    a = as_user("sp-a")
    own = a.get("/ui/money")
    assert (
        f'data-testid="statement-{month}"' in own.text and 'data-testid="signed-back"' in own.text
    )
    assert a.get(f"/ui/statements/{month}/SP-A/xlsx").status_code == 200
    b_list = as_user("sp-b").get(f"/ui/statements?month={month}")
    assert 'data-testid="statement-SP-B"' in b_list.text and "SP-A" not in b_list.text
    assert a.post(f"/ui/statements/{month}/SP-B/signed-back").status_code in (403, 404)


def test_the_statement_sheets_job_is_started_from_the_page(as_user, app_db):
    f = as_user("finance")
    month, _ = _settle_last_month(f, app_db)
    started = f.post(f"/ui/statements/{month}/write", key="write-1")
    assert started.status_code == 303 and started.headers["location"].startswith("/ui/jobs/JB-")
    same = f.post(f"/ui/statements/{month}/write", key="write-1")
    assert same.headers["location"] == started.headers["location"]
    job = f.get(started.headers["location"])
    assert job.status_code == 200 and 'data-status="queued"' in job.text


def test_the_money_page_in_english(as_user):
    b = as_user("sp-a")
    b.post("/ui/language", {"locale": "en", "back": "/ui/money"})
    page = b.get("/ui/money")
    assert "Deposit and credit" in page.text and "Headroom" in page.text
