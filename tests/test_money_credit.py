"""Deposits and credit limits over HTTP, on both databases: deposits paid in
instalments and refunded (never beyond what was paid in, nor below what the
point holds); the credit check at issue (a refusal naming limit, exposure
and headroom; finance's override of one shipment); exposure that counts
stock in transit and defective parts; leverage by grade and by point,
effective-dated; the network report and its spreadsheet. The ledger is sound
after every step."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from ledger.models import JournalEntry
from ledger.parts.shipments import Shipment
from ledger.settings import Settings
from tests import parts_network as pn
from tests.tokens import SECRET

LCD = pn.COSTS["P-LCD"]  # 10,000 fen


@pytest.fixture
def client(db):
    pn.network(db)
    pn.stock(db, "RW-S", "P-LCD", 200)
    pn.stock(db, "RW-S", "P-BATT", 200)
    app = create_app(db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://"))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def who(client):
    return pn.signed_in(client)


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == f"/problems/{code}", body
    return body


def _count(db, model) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(model))


def _deposit_to(client, who, point: str, fen: int) -> None:
    """Bring `point`'s deposit to `fen` by a refund of the rest."""
    held = ok(client.get(f"/credit/points/{point}", headers=who("finance")))["deposit"]
    if held > fen:
        ok(
            client.post(
                f"/deposits/{point}/refunds",
                json={"amount": held - fen, "method": "bank_transfer"},
                headers=who("finance"),
            ),
            201,
        )


def _approved(client, who, point_user: str, lines: list[tuple[str, int]]) -> str:
    body = {"lines": [{"sku": s, "quantity": q} for s, q in lines], "submit": True}
    number = ok(client.post("/requisitions", json=body, headers=who(point_user)), 201)["number"]
    ok(client.post(f"/requisitions/{number}/approve", headers=who("approver2")))
    return number


def test_deposits_in_instalments_and_refunds_never_beyond_what_was_paid(client, db, who):
    before = ok(client.get("/deposits/SP-B", headers=who("finance")))
    assert before["position"]["deposit"] == pn.DEPOSIT
    ok(
        client.post(
            "/deposits/SP-B/receipts",
            json={"amount": 1_500_000, "method": "bank_transfer", "reference": "BOC-0042"},
            headers=who("finance", "dep-1"),
        ),
        201,
    )
    # A double click with the same key: one instalment.
    again = ok(
        client.post(
            "/deposits/SP-B/receipts",
            json={"amount": 1_500_000, "method": "bank_transfer", "reference": "BOC-0042"},
            headers=who("finance", "dep-1"),
        ),
        201,
    )
    ok(
        client.post(
            "/deposits/SP-B/receipts",
            json={"amount": 500_000, "method": "cash"},
            headers=who("finance"),
        ),
        201,
    )
    pn.sound(db)
    ledger = ok(client.get("/deposits/SP-B", headers=who("finance")))
    assert ledger["position"]["deposit"] == pn.DEPOSIT + 2_000_000
    assert ledger["position"]["limit"] == 2 * (pn.DEPOSIT + 2_000_000)  # grade A at 2×
    assert [(m["movement"], m["amount"], m["method"]) for m in ledger["movements"][:2]] == [
        ("receipt", 500_000, "cash"),
        ("receipt", 1_500_000, "bank_transfer"),
    ]
    assert ledger["movements"][1]["reference"] == "BOC-0042"
    assert ledger["movements"][1]["entry_id"] == again["entry_id"]
    assert pn.balance(db, "SP-B:DEPOSIT:CNY") == -(pn.DEPOSIT + 2_000_000)

    # A refund beyond what was paid in: the guard refuses, naming the account.
    entries = _count(db, JournalEntry)
    refused = problem(
        client.post(
            "/deposits/SP-B/refunds",
            json={"amount": pn.DEPOSIT + 2_000_001, "method": "bank_transfer"},
            headers=who("finance"),
        ),
        409,
        "insufficient-balance",
    )
    assert refused["account"] == "SP-B:DEPOSIT:CNY" and "paid in" in refused["detail"]
    assert _count(db, JournalEntry) == entries
    refund = ok(
        client.post(
            "/deposits/SP-B/refunds",
            json={"amount": 2_000_000, "method": "bank_transfer", "reference": "refund 1"},
            headers=who("finance"),
        ),
        201,
    )
    assert refund["amount"] == -2_000_000 and refund["movement"] == "refund"
    assert ok(client.get("/credit/points/SP-B", headers=who("finance")))["deposit"] == pn.DEPOSIT
    pn.sound(db)

    # Wrong input and wrong people.
    for body in (
        {"amount": 0, "method": "cash"},
        {"amount": -5, "method": "cash"},
        {"amount": "100", "method": "cash"},
        {"amount": 10**13, "method": "cash"},
        {"amount": 100, "method": "barter"},
        {"amount": 100, "method": "cash", "reference": "a\x00b"},
        {"amount": 100, "method": "cash", "on": "2999-01-01"},
    ):
        response = client.post("/deposits/SP-B/receipts", json=body, headers=who("finance"))
        assert response.status_code == 422, (body, response.text)
    problem(
        client.post(
            "/deposits/SP-B/receipts",
            json={"amount": 100, "method": "cash"},
            headers=who("clerk"),
        ),
        403,
        "forbidden",
    )
    problem(
        client.post(
            "/deposits/RW-S/receipts",
            json={"amount": 100, "method": "cash"},
            headers=who("finance"),
        ),
        404,
        "not-found",
    )
    assert _count(db, JournalEntry) == entries + 1  # only the refund
    # A point reads its own deposit, and another point's is unknown to it.
    assert ok(client.get("/deposits/SP-A", headers=who("sp-a")))["position"]["point"] == "SP-A"
    problem(client.get("/deposits/SP-B", headers=who("sp-a")), 404, "not-found")
    problem(client.get("/credit/points/SP-B", headers=who("sp-a")), 404, "not-found")
    problem(client.get("/credit/report", headers=who("sp-a")), 403, "forbidden")


def test_an_issue_past_the_limit_is_refused_until_finance_overrides_one_shipment(client, db, who):
    # SP-A: ¥500 deposit at 2×: a limit of ¥1,000, ten screens' worth.
    _deposit_to(client, who, "SP-A", 50_000)
    number = _approved(client, who, "sp-a", [("P-LCD", 12)])
    position = ok(client.get("/credit/points/SP-A", headers=who("clerk")))
    assert (position["limit"], position["exposure"], position["headroom"]) == (100_000, 0, 100_000)

    shipments, entries = _count(db, Shipment), _count(db, JournalEntry)
    refused = problem(
        client.post(f"/requisitions/{number}/issue", headers=who("clerk")),
        409,
        "credit-limit-exceeded",
    )
    assert (refused["limit"], refused["exposure"], refused["headroom"], refused["requested"]) == (
        100_000,
        0,
        100_000,
        12 * LCD,
    )
    assert "¥1,000.00" in refused["detail"] and "credit override" in refused["detail"]
    assert (_count(db, Shipment), _count(db, JournalEntry)) == (shipments, entries)
    assert pn.balance(db, "RW-S:RESERVED:P-LCD") == 12

    # Ten fit: they go, and are exposure while in transit.
    first = ok(
        client.post(
            f"/requisitions/{number}/issue",
            json={"lines": [{"line_no": 1, "quantity": 10}]},
            headers=who("clerk"),
        ),
        201,
    )
    position = ok(client.get("/credit/points/SP-A", headers=who("sp-a")))
    assert (position["in_transit"], position["exposure"], position["headroom"]) == (
        10 * LCD,
        10 * LCD,
        0,
    )
    problem(client.post(f"/requisitions/{number}/issue", headers=who("clerk")), 409,
            "credit-limit-exceeded")  # fmt: skip

    # Finance lets the next shipment pass, with a reason; only finance may.
    problem(
        client.post(
            f"/requisitions/{number}/credit-override",
            json={"reason": "flagship launch"},
            headers=who("clerk"),
        ),
        403,
        "forbidden",
    )
    problem(
        client.post(
            f"/requisitions/{number}/credit-override", json={"reason": " "},
            headers=who("finance"),
        ),
        422,
        "invalid-request",
    )  # fmt: skip
    override = ok(
        client.post(
            f"/requisitions/{number}/credit-override",
            json={"reason": "flagship launch week"},
            headers=who("finance", "co-1"),
        ),
        201,
    )
    assert override["state"] == "open" and override["document"] == number
    problem(
        client.post(
            f"/requisitions/{number}/credit-override",
            json={"reason": "again"},
            headers=who("finance"),
        ),
        409,
        "invalid-state",
    )
    second = ok(client.post(f"/requisitions/{number}/issue", headers=who("clerk")), 201)
    used = ok(client.get(f"/credit/overrides?document={number}", headers=who("finance")))
    assert [(o["number"], o["state"], o["used_by"], o["over_by"]) for o in used] == [
        (override["number"], "used", second["number"], 2 * LCD)
    ]
    assert second["history"][-1]["detail"]["credit_override"] == override["number"]
    position = ok(client.get("/credit/points/SP-A", headers=who("finance")))
    assert (position["exposure"], position["headroom"]) == (12 * LCD, -2 * LCD)
    pn.sound(db)

    # Over the limit now: the next requisition's issue is refused again.
    other = _approved(client, who, "sp-a", [("P-BATT", 1)])
    refused = problem(
        client.post(f"/requisitions/{other}/issue", headers=who("clerk")),
        409,
        "credit-limit-exceeded",
    )
    assert refused["headroom"] == -2 * LCD

    # Received and then returned, the screens give the headroom back.
    for shipment in (first, second):
        ok(client.post(f"/shipments/{shipment['number']}/receive", headers=who("sp-a")))
    position = ok(client.get("/credit/points/SP-A", headers=who("sp-a")))
    assert (position["stock"], position["in_transit"]) == (12 * LCD, 0)
    ok(
        client.post(
            "/returns",
            json={"lines": [{"sku": "P-LCD", "quantity": 5}]},
            headers=who("sp-a"),
        ),
        201,
    )
    position = ok(client.get("/credit/points/SP-A", headers=who("sp-a")))
    assert (position["exposure"], position["headroom"]) == (7 * LCD, 3 * LCD)
    ok(client.post(f"/requisitions/{other}/issue", headers=who("clerk")), 201)
    pn.sound(db)


def test_a_refund_may_not_take_the_limit_below_what_the_point_holds(client, db, who):
    _deposit_to(client, who, "SP-A", 50_000)  # limit ¥1,000
    number = _approved(client, who, "sp-a", [("P-LCD", 6)])
    ok(client.post(f"/requisitions/{number}/issue", headers=who("clerk")), 201)
    # Exposure ¥600: the deposit may fall to ¥300 (limit ¥600), not below.
    refused = problem(
        client.post(
            "/deposits/SP-A/refunds",
            json={"amount": 20_001, "method": "bank_transfer"},
            headers=who("finance"),
        ),
        409,
        "credit-limit-exceeded",
    )
    assert refused["exposure"] == 6 * LCD and "return stock" in refused["detail"]
    ok(
        client.post(
            "/deposits/SP-A/refunds",
            json={"amount": 20_000, "method": "bank_transfer"},
            headers=who("finance"),
        ),
        201,
    )
    position = ok(client.get("/credit/points/SP-A", headers=who("finance")))
    assert (position["deposit"], position["limit"], position["headroom"]) == (30_000, 60_000, 0)
    pn.sound(db)


def test_defective_parts_count_against_the_limit_until_they_are_shipped_back(client, db, who):
    _deposit_to(client, who, "SP-A", 50_000)  # limit ¥1,000
    number = _approved(client, who, "sp-a", [("P-LCD", 4)])
    shipment = ok(client.post(f"/requisitions/{number}/issue", headers=who("clerk")), 201)["number"]
    ok(client.post(f"/shipments/{shipment}/receive", headers=who("sp-a")))
    # A screen replaced in warranty: the good one is used, the broken one
    # (returnable) stays at the point as defective stock, still the brand's.
    ok(
        client.post(
            "/repairs",
            json={
                "repair_number": "R-1", "customer_serial": "860000000000001",
                "handset_model": "X1", "fault": "no display",
                "case": {"part_class": "handset", "reported_on": str(_today(db)),
                         "manufactured_on": str(_today(db) - timedelta(days=200)),
                         "purchased_on": str(_today(db) - timedelta(days=100)),
                         "proof_of_purchase": True, "sold": True},
                "parts": [{"sku": "P-LCD", "quantity": 1}],
            },
            headers=who("sp-a"),
        ),
        201,
    )  # fmt: skip
    position = ok(client.get("/credit/points/SP-A", headers=who("sp-a")))
    assert (position["stock"], position["defective"], position["exposure"]) == (
        3 * LCD,
        LCD,
        4 * LCD,
    )
    ok(
        client.post(
            "/returns",
            json={"lines": [{"sku": "P-LCD", "quantity": 1}], "defective": True},
            headers=who("sp-a"),
        ),
        201,
    )
    position = ok(client.get("/credit/points/SP-A", headers=who("sp-a")))
    assert (position["defective"], position["exposure"]) == (0, 3 * LCD)
    pn.sound(db)


def _today(db):
    with db.reading() as s:
        return s.info["window"].today()


def test_leverage_by_grade_and_by_point_from_a_day_on(client, db, who):
    today = _today(db)
    problem(
        client.put("/credit/leverage", json={"grade": "A", "ratio": "3"}, headers=who("clerk")),
        403,
        "forbidden",
    )
    for body in (
        {"grade": "A", "ratio": "2.555"},
        {"grade": "A", "ratio": "11"},
        {"grade": "A", "ratio": "-1"},
        {"grade": "D", "ratio": "2"},
        {"grade": "A", "point": "SP-A", "ratio": "2"},
        {"ratio": "2"},
        {"grade": "A", "ratio": "2", "effective_from": str(today - timedelta(days=1))},
        {"grade": "A", "ratio": "2", "effective_from": "9999-12-31"},
        {"grade": "A"},
    ):
        response = client.put("/credit/leverage", json=body, headers=who("finance"))
        assert response.status_code == 422, (body, response.text)
    problem(
        client.put("/credit/leverage", json={"point": "SP-NONE", "ratio": "2"},
                   headers=who("finance")),
        404,
        "not-found",
    )  # fmt: skip

    limit = ok(client.get("/credit/points/SP-A", headers=who("finance")))["limit"]
    assert limit == 2 * pn.DEPOSIT
    # Tomorrow grade A goes to 3×: not yet in force.
    ok(
        client.put(
            "/credit/leverage",
            json={"grade": "A", "ratio": "3", "effective_from": str(today + timedelta(days=1))},
            headers=who("finance"),
        )
    )
    assert ok(client.get("/credit/points/SP-A", headers=who("finance")))["limit"] == limit
    # SP-A's own ratio today overrides its grade's; cleared, the grade's again.
    ok(
        client.put(
            "/credit/leverage",
            json={"point": "SP-A", "ratio": "1.25", "reason": "late payments"},
            headers=who("finance"),
        )
    )
    position = ok(client.get("/credit/points/SP-A", headers=who("finance")))
    assert (position["leverage"], position["limit"]) == ("1.25", pn.DEPOSIT * 125 // 100)
    assert ok(client.get("/credit/points/SP-B", headers=who("finance")))["leverage"] == "2.00"
    ok(client.put("/credit/leverage", json={"point": "SP-A", "ratio": None},
                  headers=who("finance")))  # fmt: skip
    assert ok(client.get("/credit/points/SP-A", headers=who("finance")))["leverage"] == "2.00"
    rules = ok(client.get("/credit/leverage", headers=who("clerk")))
    assert {(r["scope"], r["ratio"]) for r in rules} >= {
        ("grade:A", "2.00"),
        ("grade:A", "3.00"),
        ("point:SP-A", None),
    }


def test_the_network_report_filters_sorts_and_exports_as_xlsx(client, db, who):
    _deposit_to(client, who, "SP-A", 50_000)
    number = _approved(client, who, "sp-a", [("P-LCD", 9)])
    ok(client.post(f"/requisitions/{number}/issue", headers=who("clerk")), 201)
    report = ok(client.get("/credit/report?sort=use&descending=true", headers=who("finance")))
    assert report["total"] == 3 and report["items"][0]["point"] == "SP-A"
    assert report["exposure"] == 9 * LCD
    assert report["deposit"] == 50_000 + 2 * pn.DEPOSIT
    near = ok(client.get("/credit/report?at_least_use=0.9", headers=who("clerk")))
    assert [p["point"] for p in near["items"]] == ["SP-A"]
    suspended = ok(client.get("/credit/report?status=suspended", headers=who("finance")))
    assert [p["point"] for p in suspended["items"]] == ["SP-OFF"]
    paged = ok(client.get("/credit/report?limit=1&offset=1", headers=who("finance")))
    assert paged["total"] == 3 and [p["point"] for p in paged["items"]] == ["SP-B"]
    assert ok(client.get("/credit/report?over_limit=true", headers=who("finance")))["total"] == 0
    for bad in ("sort=cost", "limit=0", "offset=-1", "grade=Z", "at_least_use=-1"):
        assert client.get(f"/credit/report?{bad}", headers=who("finance")).status_code == 422

    sheet = client.get("/credit/report.xlsx?sort=headroom", headers=who("finance"))
    assert sheet.status_code == 200 and "credit_report_" in sheet.headers["content-disposition"]
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).active.values)
    header = rows[2]
    assert header[0] == "网点 Point" and "余额 Headroom" in header
    body = rows[3:-1]
    assert [r[0] for r in body] == ["SP-A", "SP-B", "SP-OFF"]
    column = header.index("占用 Exposure")
    assert body[0][column] == pytest.approx(900.00)
    total = rows[-1]
    assert total[0].startswith("合计 Total (3)")
    assert total[header.index("押金 Deposit")] == pytest.approx((50_000 + 2 * pn.DEPOSIT) / 100)
