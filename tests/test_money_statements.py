"""Statements, reopening and termination over HTTP (both databases), after
November is settled: the statement opens in a spreadsheet with the right
totals and headers in Chinese and English; it is marked signed back once,
late ones are listed; a point reads only its own; an admin reopens the
month; a point is terminated only once it holds nothing and owes nothing."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.app import create_app
from ledger.money import settlement
from ledger.money.tables import Statement
from ledger.settings import Settings
from ledger.types import utcnow
from tests import parts_network as pn
from tests.test_money_credit import ok, problem
from tests.test_money_settlement import F_A, LIST_LCD, MONTHLY_A, WH_A, november  # noqa: F401
from tests.tokens import SECRET


@pytest.fixture
def client(november):  # noqa: F811
    db = november
    settlement.run(db, pn.actor(db, "finance"), "2026-11")
    app = create_app(db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://"))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def who(client):
    return pn.signed_in(client)


def test_a_statement_opens_in_a_spreadsheet_with_the_right_totals(client, who):
    earned, charged = 2 * WH_A + F_A + MONTHLY_A, 2 * LIST_LCD
    view = ok(client.get("/statements/2026-11/SP-A", headers=who("sp-a")))
    assert (view["charges"], view["subsidies"], view["closing"]) == (
        charged, earned, earned - charged,
    )  # fmt: skip
    problem(client.get("/statements/2026-11/SP-B", headers=who("sp-a")), 404, "not-found")
    own = ok(client.get("/statements/2026-11", headers=who("sp-a")))
    assert [s["point"] for s in own["items"]] == ["SP-A"]

    sheet = client.get("/statements/2026-11/SP-A/xlsx", headers=who("sp-a"))
    assert sheet.status_code == 200 and "SP-A_2026-11.xlsx" in sheet.headers["content-disposition"]
    rows = [r for r in openpyxl.load_workbook(io.BytesIO(sheet.content)).active.values]
    headings = next(r for r in rows if r[0] == "日期 Date")
    assert headings[4:8] == ("扣款 Charge", "补贴 Subsidy", "付款 Payment", "余额 Balance")
    total = next(r for r in rows if r[3] == "合计 Total")
    assert total[4] == pytest.approx(charged / 100) and total[5] == pytest.approx(earned / 100)
    closing = next(r for r in rows if r[3] == "期末余额 Closing balance")
    assert closing[7] == pytest.approx((earned - charged) / 100)
    # The running balance of the last line is the closing balance.
    lines = rows[rows.index(headings) + 2 : rows.index(total)]
    assert lines[-1][7] == pytest.approx((earned - charged) / 100)

    summary = client.get("/statements/2026-11/summary.xlsx", headers=who("finance"))
    rows = list(openpyxl.load_workbook(io.BytesIO(summary.content)).active.values)
    assert rows[2][0] == "网点 Point" and [r[0] for r in rows[3:-1]] == ["SP-A", "SP-B"]
    assert rows[-1][0] == "合计 Total (2)"
    assert rows[-1][7] == pytest.approx((earned - charged + MONTHLY_A) / 100)


def test_signed_back_once_and_late_ones_listed(client, db, who):
    assert ok(client.get("/statements/2026-11?late=true", headers=who("finance")))["items"] == []
    # Two days pass without either coming back.
    db.transact(
        lambda s: s.execute(update(Statement).values(issued_at=utcnow() - timedelta(hours=49)))
    )
    late = ok(client.get("/statements/2026-11?late=true", headers=who("finance")))
    assert [s["point"] for s in late["items"]] == ["SP-A", "SP-B"]
    problem(client.post("/statements/2026-11/SP-A/signed-back", headers=who("clerk")), 403,
            "forbidden")  # fmt: skip
    signed = ok(client.post("/statements/2026-11/SP-A/signed-back", headers=who("finance")))
    assert signed["signed_back_by"] == "finance" and not signed["late"]
    problem(client.post("/statements/2026-11/SP-A/signed-back", headers=who("finance")), 409,
            "invalid-state")  # fmt: skip
    late = ok(client.get("/statements/2026-11?late=true", headers=who("finance")))
    assert [s["point"] for s in late["items"]] == ["SP-B"]
    problem(client.get("/statements/2026-13", headers=who("finance")), 422, "invalid-request")


def test_an_admin_reopens_the_month(client, who):
    assert ok(client.get("/periods", headers=who("clerk")))["first_open_day"] == "2026-12-01"
    problem(client.post("/settlements/2026-11/reopen", json={"reason": "fix"},
                        headers=who("finance")), 403, "forbidden")  # fmt: skip
    reopened = ok(client.post("/settlements/2026-11/reopen", json={"reason": "late charge"},
                              headers=who("admin")))  # fmt: skip
    assert reopened["state"] == "reopened"
    assert ok(client.get("/periods", headers=who("clerk")))["first_open_day"] == "2026-11-01"
    problem(client.post("/settlements/2026-11/reopen", json={"reason": "again"},
                        headers=who("admin")), 409, "invalid-state")  # fmt: skip


def test_termination_is_refused_while_the_point_holds_stock_then_refunds_the_deposit(
    client, db, who
):
    refused = problem(
        client.post("/points/SP-A/terminate", json={"reason": "contract ended"},
                    headers=who("finance")),
        409,
        "invalid-state",
    )  # fmt: skip
    assert any("SP-A:STOCK:P-LCD holds 6" in b for b in refused["blocks"])
    assert any("DEFECTIVE" in b for b in refused["blocks"])
    problem(client.post("/locations/SP-A/status", json={"status": "terminated", "reason": "x"},
                        headers=who("admin")), 409, "invalid-state")  # fmt: skip

    # The stock goes back, the defective units too, and both are received.
    for defective, units in ((False, 6), (True, 2)):
        ok(client.post("/returns", json={"lines": [{"sku": "P-LCD", "quantity": units}],
                                         "defective": defective},
                       headers=who("sp-a")), 201)  # fmt: skip
    refused = problem(
        client.post("/points/SP-A/terminate", json={"reason": "contract ended"},
                    headers=who("finance")),
        409,
        "invalid-state",
    )  # fmt: skip
    assert all("still under way" in b for b in refused["blocks"]), refused["blocks"]
    shipments = ok(client.get("/shipments?state=in_transit", headers=who("clerk")))["items"]
    for s in shipments:
        ok(client.post(f"/shipments/{s['number']}/receive", headers=who("clerk")))
    owed = ok(client.get("/statements/2026-11/SP-A", headers=who("finance")))["closing"]
    bank = pn.balance(db, "BANK:STOCK:CNY")
    done = ok(
        client.post("/points/SP-A/terminate", json={"reason": "contract ended",
                                                    "reference": "BOC-END-1"},
                    headers=who("finance")),
        201,
    )  # fmt: skip
    assert done["deposit"] == pn.DEPOSIT and done["paid_out"] == pn.DEPOSIT + owed
    assert pn.balance(db, "BANK:STOCK:CNY") == bank - pn.DEPOSIT - owed
    for purpose in ("DEPOSIT", "SETTLED", "RECEIVABLE", "PAYABLE"):
        assert pn.balance(db, f"SP-A:{purpose}:CNY") == 0
    pn.sound(db)
    # Terminated, it can do nothing more.
    problem(client.post("/points/SP-A/terminate", json={"reason": "again"},
                        headers=who("finance")), 409, "invalid-state")  # fmt: skip
    problem(client.post("/deposits/SP-A/receipts", json={"amount": 100, "method": "cash"},
                        headers=who("finance")), 409, "invalid-state")  # fmt: skip
    problem(client.post("/requisitions", json={"lines": [{"sku": "P-LCD", "quantity": 1}]},
                        headers=who("sp-a")), 409, "invalid-state")  # fmt: skip


def test_bean_check_accepts_the_books_after_deposits_settlement_and_termination(
    client, db, who, tmp_path
):
    from tests.test_beancount_export import _bean_check, _export

    # SP-B holds nothing: terminated, its deposit and November's subsidy paid out.
    ok(client.post("/points/SP-B/terminate", json={"reason": "contract ended"},
                   headers=who("finance")), 201)  # fmt: skip
    path = tmp_path / "books.beancount"
    _export(db, path)
    result = _bean_check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    text = path.read_text()
    for name in (
        "Liabilities:SP-A:DEPOSIT:CNY",
        "Liabilities:SP-A:SETTLED:CNY",
        "Income:CHARGES:STOCK:CNY",
        "Expenses:SUBSIDIES:STOCK:CNY",
    ):
        assert f"open {name}" in text, name  # fmt: skip


def test_what_the_settled_months_owe_is_paid_out_and_never_more(client, db, who):
    earned, charged = 2 * WH_A + F_A + MONTHLY_A, 2 * LIST_LCD
    owed = earned - charged
    bank = pn.balance(db, "BANK:STOCK:CNY")
    problem(client.post("/money/points/SP-A/payments", json={"amount": owed + 1,
                                                             "method": "bank_transfer"},
                        headers=who("finance")), 409, "insufficient-balance")  # fmt: skip
    problem(client.post("/money/points/SP-A/collections", json={"amount": 1, "method": "cash"},
                        headers=who("finance")), 409, "insufficient-balance")  # fmt: skip
    problem(client.post("/money/points/SP-A/payments", json={"amount": 1, "method": "cash"},
                        headers=who("sp-a")), 403, "forbidden")  # fmt: skip
    paid = ok(client.post("/money/points/SP-A/payments",
                          json={"amount": owed, "method": "bank_transfer", "reference": "TT-1"},
                          headers=who("finance")), 201)  # fmt: skip
    assert paid["movement"] == "payment" and paid["amount"] == -owed
    assert pn.balance(db, "SP-A:SETTLED:CNY") == 0
    assert pn.balance(db, "BANK:STOCK:CNY") == bank - owed
    pn.sound(db)
