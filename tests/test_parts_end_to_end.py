"""The whole parts cycle over HTTP, on both databases, as one story: HQ
buys boards and receives them in two parts, sends them on to the regional
warehouse; a point's requisitions are approved within limits, refused and
escalated beyond them, issued in two shipments, one received short and the
shortage resolved; unused parts go back. After every step the trial balance
is zero and verify() is clean."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.settings import Settings
from tests import parts_network as pn
from tests.test_purchase_orders import setup
from tests.tokens import SECRET


@pytest.fixture
def client(db):
    setup(db)  # the parts network and a supplier SUP (boards: minimum 1, pack 1)
    app = create_app(db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://"))
    with TestClient(app) as test_client:
        yield test_client


def test_purchase_to_return_with_the_ledger_sound_after_every_step(client, db):
    tokens: dict[str, dict] = {}

    def call(method: str, path: str, user: str, body: dict | None = None, status: int = 200):
        if user not in tokens:
            tokens[user] = pn.headers(client, user)
        response = client.request(method, path, json=body, headers=tokens[user])
        assert response.status_code == status, response.text
        pn.sound(db)
        return response.json()

    with db.reading() as s:
        today = s.info["window"].today()

    # HQ buys 20 boards at 300.00 CNY (6,000.00: beyond L1, so L2 approves).
    po = call(
        "POST", "/purchase-orders", "clerk",
        {
            "supplier": "SUP", "expected_on": (today + timedelta(days=7)).isoformat(),
            "lines": [{"sku": "P-BOARD", "quantity": 20, "unit_price": 30_000}], "submit": True,
        },
        201,
    )["number"]  # fmt: skip
    call("POST", f"/purchase-orders/{po}/approve", "approver1", status=403)
    call("POST", f"/purchase-orders/{po}/escalate", "approver1")
    assert call("POST", f"/purchase-orders/{po}/approve", "approver2")["state"] == "approved"
    part = call(
        "POST", f"/purchase-orders/{po}/receive", "clerk",
        {"lines": [{"line_no": 1, "quantity": 12}]},
    )  # fmt: skip
    assert part["state"] == "partly_received"
    assert pn.balance(db, "HQ:STOCK:P-BOARD") == 12
    call(
        "POST", f"/purchase-orders/{po}/receive", "clerk",
        {"lines": [{"line_no": 1, "quantity": 9}]}, 422,
    )  # fmt: skip
    done = call(
        "POST", f"/purchase-orders/{po}/receive", "clerk",
        {"lines": [{"line_no": 1, "quantity": 8}]},
    )  # fmt: skip
    assert done["state"] == "received"
    assert pn.balance(db, "HQ:STOCK:P-BOARD") == 20
    assert pn.balance(db, "SUP:STOCK:CNY") == -600_000  # owed to the supplier
    assert pn.balance(db, "PURCHASES:STOCK:CNY") == 600_000

    # HQ sends them on to the regional warehouse that serves the points.
    transfer = call(
        "POST", "/transfers", "clerk",
        {"sender": "HQ", "receiver": "RW-S", "lines": [{"sku": "P-BOARD", "quantity": 20}]},
        201,
    )["number"]  # fmt: skip
    call("POST", f"/shipments/{transfer}/receive", "clerk")
    assert pn.balance(db, "RW-S:STOCK:P-BOARD") == 20

    # A small requisition: within L1's limits, approved by L1.
    small = call(
        "POST", "/requisitions", "sp-a",
        {"lines": [{"sku": "P-BOARD", "quantity": 2}], "submit": True}, 201,
    )["number"]  # fmt: skip
    assert call("POST", f"/requisitions/{small}/approve", "approver1")["state"] == "approved"

    # A big one: 12 boards, 6,000.00 CNY, beyond L1's 5,000.00.
    big = call(
        "POST", "/requisitions", "sp-a",
        {"lines": [{"sku": "P-BOARD", "quantity": 12}], "submit": True}, 201,
    )["number"]  # fmt: skip
    refused = call("POST", f"/requisitions/{big}/approve", "approver1", status=403)
    assert refused["limit"] == "amount" and refused["amount"] == 600_000
    assert call("POST", f"/requisitions/{big}/escalate", "approver1")["escalated_to"] == "L2"
    call("POST", f"/requisitions/{big}/approve", "approver2")
    assert pn.balance(db, "RW-S:RESERVED:P-BOARD") == 14
    assert pn.balance(db, "RW-S:STOCK:P-BOARD") == 6

    # Issued in two shipments; the second arrives 3 short.
    first = call(
        "POST", f"/requisitions/{big}/issue", "clerk",
        {"lines": [{"line_no": 1, "quantity": 5}], "courier": "SF", "tracking_number": "SF01"},
        201,
    )["number"]  # fmt: skip
    second = call("POST", f"/requisitions/{big}/issue", "clerk", {"courier": "SF"}, 201)["number"]
    assert pn.balance(db, "SP-A:TRANSIT:P-BOARD") == 12
    call("POST", f"/shipments/{first}/receive", "sp-a")
    short = call(
        "POST", f"/shipments/{second}/receive", "sp-a",
        {"lines": [{"line_no": 1, "quantity": 4}]},
    )  # fmt: skip
    [discrepancy] = short["discrepancies"]
    assert call("GET", f"/requisitions/{big}", "sp-a")["state"] == "received"
    assert pn.balance(db, "SP-A:STOCK:P-BOARD") == 9
    assert pn.balance(db, "DISCREPANCIES:TRANSIT:P-BOARD") == 3

    # The courier finds the box: the shortage is resolved as found; closed.
    call(
        "POST", f"/discrepancies/{discrepancy}/resolve", "clerk",
        {"outcome": "found", "reason": "found at the courier's depot"},
    )  # fmt: skip
    closed = call("GET", f"/requisitions/{big}", "sp-a")
    assert closed["state"] == "closed"
    assert [step["action"] for step in closed["history"]] == [
        "create", "submit", "escalate", "approve", "issue", "issue", "receive", "close",
    ]  # fmt: skip
    assert pn.balance(db, "SP-A:STOCK:P-BOARD") == 12

    # Two boards were not needed after all: back to the warehouse.
    back = call("POST", "/returns", "sp-a", {"lines": [{"sku": "P-BOARD", "quantity": 2}]}, 201)[
        "number"
    ]
    call("POST", f"/shipments/{back}/receive", "clerk")
    assert pn.balance(db, "SP-A:STOCK:P-BOARD") == 10
    assert pn.balance(db, "RW-S:STOCK:P-BOARD") == 8
    stock = call("GET", "/locations/RW-S/stock", "clerk")["items"]
    [board] = [line for line in stock if line["sku"] == "P-BOARD"]
    assert (board["available"], board["reserved"], board["on_hand"]) == (8, 2, 10)
