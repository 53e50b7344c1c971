"""Charges and subsidies accrue in the write-off's own entry (both
databases): an out-of-warranty repair charges the point the list price, every
repair earns the subsidy of its category at the point's grade, and a
reversal takes both back."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from ledger.models import Account, posting_t
from ledger.money import accruals
from ledger.parts.warranty import Category
from ledger.settings import Settings
from tests import parts_network as pn
from tests.test_money_credit import ok, problem
from tests.tokens import SECRET

LIST_LCD = 2 * pn.COSTS["P-LCD"]  # the network's list price is twice the cost


@pytest.fixture
def client(db):
    pn.network(db)
    pn.stock(db, "SP-A", "P-LCD", 10)
    app = create_app(db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://"))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def who(client):
    return pn.signed_in(client)


def _repair(today, number: str, purchased_days_ago: int) -> dict:
    return {
        "repair_number": number,
        "customer_serial": "860000000000001",
        "handset_model": "X1",
        "fault": "no display",
        "case": {
            "part_class": "handset",
            "reported_on": today.isoformat(),
            "manufactured_on": (today - timedelta(days=900)).isoformat(),
            "purchased_on": (today - timedelta(days=purchased_days_ago)).isoformat(),
            "proof_of_purchase": True,
            "sold": True,
        },
        "parts": [{"sku": "P-LCD", "quantity": 2}],
    }


def _entry_accounts(db, entry_id: str) -> dict[str, int]:
    with db.reading() as s:
        rows = s.execute(
            select(Account.code, posting_t.c.amount)
            .join(Account, Account.id == posting_t.c.account_id)
            .where(posting_t.c.entry_id == uuid.UUID(entry_id))
        ).all()
    out: dict[str, int] = {}
    for code, amount in rows:
        out[code] = out.get(code, 0) + amount
    return out


def test_the_service_categories_are_the_warranty_rules(client):
    assert tuple(c.value for c in Category) == accruals.CATEGORIES


def test_charges_and_subsidies_accrue_in_the_write_off_and_leave_with_its_reversal(client, db, who):
    with db.reading() as s:
        today = s.info["window"].today()
    for category, fen in (("WH", 3_000), ("F", 1_000)):
        ok(
            client.put(
                "/subsidies/rules",
                json={"grade": "A", "category": category, "amount": fen},
                headers=who("finance"),
            )
        )
    # Tomorrow WH pays more: not for today's repairs.
    ok(
        client.put(
            "/subsidies/rules",
            json={"grade": "A", "category": "WH", "amount": 9_000,
                  "effective_from": (today + timedelta(days=1)).isoformat()},
            headers=who("finance"),
        )
    )  # fmt: skip
    problem(
        client.put("/subsidies/rules", json={"grade": "A", "amount": 1}, headers=who("clerk")),
        403,
        "forbidden",
    )
    for body in (
        {"grade": "A", "category": "XX", "amount": 1},
        {"grade": "A", "amount": -1},
        {"grade": "A", "amount": "5"},
        {"grade": "A", "amount": 1, "effective_from": (today - timedelta(days=1)).isoformat()},
    ):
        response = client.put("/subsidies/rules", json=body, headers=who("finance"))
        assert response.status_code == 422, (body, response.text)

    in_warranty = ok(client.post("/repairs", json=_repair(today, "R-1", 100),
                                 headers=who("sp-a")), 201)  # fmt: skip
    assert (in_warranty["category"], in_warranty["charge"], in_warranty["subsidy"]) == (
        "WH", 0, 3_000,
    )  # fmt: skip
    moved = _entry_accounts(db, in_warranty["entry_id"])
    assert moved["SP-A:PAYABLE:CNY"] == -3_000 and moved["SUBSIDIES:STOCK:CNY"] == 3_000
    assert moved["SP-A:STOCK:P-LCD"] == -2 and "SP-A:RECEIVABLE:CNY" not in moved

    out_of_warranty = ok(client.post("/repairs", json=_repair(today, "R-2", 800),
                                     headers=who("sp-a")), 201)  # fmt: skip
    assert out_of_warranty["category"] == "F"
    assert (out_of_warranty["charge"], out_of_warranty["subsidy"]) == (2 * LIST_LCD, 1_000)
    moved = _entry_accounts(db, out_of_warranty["entry_id"])
    assert moved["SP-A:RECEIVABLE:CNY"] == 2 * LIST_LCD
    assert moved["CHARGES:STOCK:CNY"] == -2 * LIST_LCD
    pn.sound(db)

    money = ok(client.get("/money/points/SP-A", headers=who("sp-a")))
    assert (money["receivable"], money["payable"], money["deposit"]) == (
        2 * LIST_LCD, 4_000, pn.DEPOSIT,
    )  # fmt: skip
    problem(client.get("/money/points/SP-A", headers=who("sp-b")), 404, "not-found")

    ok(
        client.post(
            f"/repairs/{out_of_warranty['number']}/reverse",
            json={"reason": "wrong handset"},
            headers=who("sp-a"),
        )
    )
    money = ok(client.get("/money/points/SP-A", headers=who("finance")))
    assert (money["receivable"], money["payable"]) == (0, 3_000)
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 8
    pn.sound(db)
    rules = ok(client.get("/subsidies/rules", headers=who("finance")))
    assert {(r["category"], r["amount"]) for r in rules} == {("WH", 3_000), ("F", 1_000),
                                                            ("WH", 9_000)}  # fmt: skip


def test_finance_charges_a_point_for_units_lost_on_its_return(client, db, who):
    # SP-A returns 3 screens; the warehouse counts 1: 2 lost, charged to SP-A.
    ret = ok(client.post("/returns", json={"lines": [{"sku": "P-LCD", "quantity": 3}]},
                         headers=who("sp-a")), 201)  # fmt: skip
    got = ok(
        client.post(
            f"/shipments/{ret['number']}/receive",
            json={"lines": [{"line_no": 1, "quantity": 1}]},
            headers=who("clerk"),
        )
    )
    [short] = got["discrepancies"]
    resolve = f"/discrepancies/{short}/resolve"
    problem(client.post(resolve, json={"outcome": "lost", "reason": "never packed",
                                       "charge": True}, headers=who("clerk")),
            403, "forbidden")  # fmt: skip
    problem(client.post(resolve, json={"outcome": "found", "reason": "x", "charge": True},
                        headers=who("finance")), 422, "invalid-request")  # fmt: skip
    problem(client.post(resolve, json={"outcome": "lost", "reason": "x", "unit_price": 5},
                        headers=who("clerk")), 422, "invalid-request")  # fmt: skip
    ok(client.post(resolve, json={"outcome": "lost", "reason": "never packed", "charge": True,
                                  "unit_price": 15_000}, headers=who("finance")))  # fmt: skip
    money = ok(client.get("/money/points/SP-A", headers=who("sp-a")))
    assert money["receivable"] == 2 * 15_000
    assert pn.balance(db, "CHARGES:STOCK:CNY") == -2 * 15_000
    assert pn.balance(db, "LOST-IN-TRANSIT:STOCK:P-LCD") == 2
    pn.sound(db)
