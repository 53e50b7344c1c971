"""The parts cycle over HTTP, on both databases: a requisition raised,
decided within and beyond limits, issued in two shipments, received short,
the shortage resolved, unused parts returned; the ledger sound after every
step. And every kind of wrong input refused with nothing changed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.errors import InvalidInput
from ledger.settings import Settings
from tests import parts_network as pn
from tests.tokens import SECRET


@pytest.fixture
def client(db):
    pn.network(db)
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


def test_requisition_cycle_end_to_end(client, db, who):
    pn.stock(db, "RW-S", "P-LCD", 30)
    pn.stock(db, "RW-S", "P-BATT", 100)
    pn.sound(db)

    # A point raises a small requisition and submits it: within L1's limits.
    small = ok(
        client.post(
            "/requisitions",
            json={"lines": [{"sku": "P-LCD", "quantity": 4}, {"sku": "P-BATT", "quantity": 10}]},
            headers=who("sp-a", "rq-small"),
        ),
        201,
    )
    number = small["number"]
    assert small["state"] == "draft" and small["requester"] == "SP-A"
    assert small["warehouse"] == "RW-S"
    submitted = ok(client.post(f"/requisitions/{number}/submit", headers=who("sp-a")))
    assert submitted["state"] == "submitted"
    assert submitted["amount"] == 4 * 10_000 + 10 * 3_000
    pn.sound(db)

    queue = ok(client.get("/requisitions?awaiting=within", headers=who("approver1")))
    assert [r["number"] for r in queue["items"]] == [number]

    # Approved in part: 4 LCD but 6 of the 10 batteries; reserved at RW-S.
    approved = ok(
        client.post(
            f"/requisitions/{number}/approve",
            json={"lines": [{"line_no": 2, "quantity": 6}], "reason": "batteries are short"},
            headers=who("approver1", "ap-small"),
        )
    )
    assert approved["state"] == "approved"
    assert [(ln["approved"]) for ln in approved["lines"]] == [4, 6]
    assert approved["approved_amount"] == 4 * 10_000 + 6 * 3_000
    decision = approved["history"][-1]
    assert decision["action"] == "approve" and decision["actor"] == "approver1"
    assert decision["reason"] == "batteries are short"
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 26
    assert pn.balance(db, "RW-S:RESERVED:P-LCD") == 4
    assert pn.balance(db, "RW-S:RESERVED:P-BATT") == 6
    pn.sound(db)

    # Issued in two shipments; the clerk's list shows what is left to ship.
    to_ship = ok(client.get("/requisitions?to_ship=true", headers=who("clerk")))
    assert [r["number"] for r in to_ship["items"]] == [number]
    first = ok(
        client.post(
            f"/requisitions/{number}/issue",
            json={
                "lines": [{"line_no": 1, "quantity": 4}],
                "courier": "SF",
                "tracking_number": "SF1",
            },
            headers=who("clerk", "issue-1"),
        ),
        201,
    )
    assert first["state"] == "in_transit" and first["courier"] == "SF"
    assert pn.balance(db, "RW-S:RESERVED:P-LCD") == 0
    assert pn.balance(db, "SP-A:TRANSIT:P-LCD") == 4
    to_ship = ok(client.get("/requisitions?to_ship=true", headers=who("clerk")))
    assert [r["number"] for r in to_ship["items"]] == [number]
    pn.sound(db)
    second = ok(client.post(f"/requisitions/{number}/issue", headers=who("clerk")), 201)
    assert [(ln["sku"], ln["quantity"]) for ln in second["lines"]] == [("P-BATT", 6)]
    view = ok(client.get(f"/requisitions/{number}", headers=who("sp-a")))
    assert view["state"] == "issued"
    assert view["shipments"] == [first["number"], second["number"]]
    assert ok(client.get("/requisitions?to_ship=true", headers=who("clerk")))["items"] == []
    # Nothing left to ship: a third issue is a 409 naming the state.
    body = problem(
        client.post(f"/requisitions/{number}/issue", headers=who("clerk")), 409, "invalid-state"
    )
    assert "issued" in body["detail"]
    pn.sound(db)

    # The point receives the first in full, the second 2 short.
    ok(client.post(f"/shipments/{first['number']}/receive", headers=who("sp-a")))
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 4
    got = ok(
        client.post(
            f"/shipments/{second['number']}/receive",
            json={"lines": [{"line_no": 1, "quantity": 4}]},
            headers=who("sp-a", "rcv-2"),
        )
    )
    assert got["lines"][0]["received"] == 4 and got["lines"][0]["short"] == 2
    assert pn.balance(db, "SP-A:STOCK:P-BATT") == 4
    assert pn.balance(db, "SP-A:TRANSIT:P-BATT") == 0
    assert pn.balance(db, "DISCREPANCIES:TRANSIT:P-BATT") == 2
    [short] = got["discrepancies"]
    view = ok(client.get(f"/requisitions/{number}", headers=who("sp-a")))
    assert view["state"] == "received"
    assert view["lines"][1]["short"] == 2
    pn.sound(db)

    # The clerk finds the missing units: the shortage is resolved as found.
    resolved = ok(
        client.post(
            f"/discrepancies/{short}/resolve",
            json={"outcome": "found", "reason": "found in the courier's depot"},
            headers=who("clerk"),
        )
    )
    assert resolved["state"] == "found" and not resolved["chargeable"]
    assert pn.balance(db, "SP-A:STOCK:P-BATT") == 6
    assert pn.balance(db, "DISCREPANCIES:TRANSIT:P-BATT") == 0
    view = ok(client.get(f"/requisitions/{number}", headers=who("sp-a")))
    assert view["state"] == "closed"
    assert [h["action"] for h in view["history"]] == [
        "create", "submit", "approve", "issue", "issue", "receive", "close",
    ]  # fmt: skip
    pn.sound(db)

    # Unused parts go back to the warehouse through transit.
    back = ok(
        client.post(
            "/returns",
            json={"lines": [{"sku": "P-LCD", "quantity": 1}]},
            headers=who("sp-a", "ret-1"),
        ),
        201,
    )
    assert back["sender"] == "SP-A" and back["receiver"] == "RW-S"
    assert pn.balance(db, "RW-S:TRANSIT:P-LCD") == 1
    ok(client.post(f"/shipments/{back['number']}/receive", headers=who("clerk")))
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 27
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 3
    pn.sound(db)


def test_escalation_beyond_limits_and_refusal_naming_the_limit(client, db, who):
    pn.stock(db, "RW-S", "P-BOARD", 50)
    big = ok(
        client.post(
            "/requisitions",
            json={"lines": [{"sku": "P-BOARD", "quantity": 15}], "submit": True},
            headers=who("sp-a"),
        ),
        201,
    )
    number = big["number"]
    assert big["amount"] == 15 * 50_000  # 7,500.00 CNY: beyond L1's 5,000.00
    assert ok(client.get("/requisitions?awaiting=within", headers=who("approver1")))["items"] == []
    above = ok(client.get("/requisitions?awaiting=above", headers=who("approver1")))
    assert [r["number"] for r in above["items"]] == [number]

    body = problem(
        client.post(f"/requisitions/{number}/approve", headers=who("approver1")),
        403,
        "beyond-approval-limit",
    )
    assert body["limit"] == "amount" and body["amount_limit"] == 500_000
    assert body["amount"] == 750_000 and "7,500.00 CNY" in body["detail"]
    assert pn.balance(db, "RW-S:RESERVED:P-BOARD") == 0

    escalated = ok(
        client.post(
            f"/requisitions/{number}/escalate",
            json={"reason": "beyond my limit"},
            headers=who("approver1"),
        )
    )
    assert escalated["escalated_to"] == "L2" and escalated["state"] == "submitted"
    # Escalated past L1: L1 can no longer decide it, even in part within limits.
    problem(
        client.post(
            f"/requisitions/{number}/approve",
            json={"lines": [{"line_no": 1, "quantity": 2}]},
            headers=who("approver1"),
        ),
        403,
        "forbidden",
    )
    assert ok(client.get("/requisitions?awaiting=within", headers=who("approver2")))["items"]
    approved = ok(client.post(f"/requisitions/{number}/approve", headers=who("approver2")))
    assert approved["state"] == "approved"
    assert [h["action"] for h in approved["history"]] == ["create", "submit", "escalate", "approve"]
    assert approved["history"][2]["detail"] == {"from_level": "L1", "to_level": "L2"}
    assert pn.balance(db, "RW-S:RESERVED:P-BOARD") == 15

    # Beyond the quantity limit as well: L1 may approve 20 units at most.
    pn.stock(db, "RW-S", "P-BATT", 100)
    many = ok(
        client.post(
            "/requisitions",
            json={"lines": [{"sku": "P-BATT", "quantity": 25}], "submit": True},
            headers=who("sp-b"),
        ),
        201,
    )
    body = problem(
        client.post(f"/requisitions/{many['number']}/approve", headers=who("approver1")),
        403,
        "beyond-approval-limit",
    )
    assert body["limit"] == "quantity" and body["quantity_limit"] == 20 and body["quantity"] == 25
    # In part, within the limit, L1 may approve it.
    part = ok(
        client.post(
            f"/requisitions/{many['number']}/approve",
            json={"lines": [{"line_no": 1, "quantity": 20}]},
            headers=who("approver1"),
        )
    )
    assert part["approved_quantity"] == 20
    pn.sound(db)


def test_cancel_releases_the_reservation_and_reject_needs_a_reason(client, db, who):
    pn.stock(db, "RW-S", "P-LCD", 5)
    rq = ok(
        client.post(
            "/requisitions",
            json={"lines": [{"sku": "P-LCD", "quantity": 5}], "submit": True},
            headers=who("sp-a"),
        ),
        201,
    )["number"]
    ok(client.post(f"/requisitions/{rq}/approve", headers=who("approver1")))
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 0
    cancelled = ok(
        client.post(
            f"/requisitions/{rq}/cancel", json={"reason": "ordered twice"}, headers=who("sp-a")
        )
    )
    assert cancelled["state"] == "cancelled"
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 5
    assert pn.balance(db, "RW-S:RESERVED:P-LCD") == 0
    problem(client.post(f"/requisitions/{rq}/cancel", headers=who("sp-a")), 409, "invalid-state")

    other = ok(
        client.post(
            "/requisitions",
            json={"lines": [{"sku": "P-LCD", "quantity": 1}], "submit": True},
            headers=who("sp-a"),
        ),
        201,
    )["number"]
    problem(
        client.post(f"/requisitions/{other}/reject", json={}, headers=who("approver1")),
        422,
        "invalid-request",
    )
    rejected = ok(
        client.post(
            f"/requisitions/{other}/reject", json={"reason": "not needed"}, headers=who("approver1")
        )
    )
    assert rejected["state"] == "rejected"
    assert rejected["history"][-1]["reason"] == "not needed"
    # An issued requisition can no longer be cancelled.
    pn.stock(db, "RW-S", "P-LCD", 2)
    third = ok(
        client.post(
            "/requisitions",
            json={"lines": [{"sku": "P-LCD", "quantity": 2}], "submit": True},
            headers=who("sp-a"),
        ),
        201,
    )["number"]
    ok(client.post(f"/requisitions/{third}/approve", headers=who("approver1")))
    ok(
        client.post(
            f"/requisitions/{third}/issue",
            json={"lines": [{"line_no": 1, "quantity": 1}]},
            headers=who("clerk"),
        ),
        201,
    )
    body = problem(
        client.post(f"/requisitions/{third}/cancel", headers=who("sp-a")), 409, "invalid-state"
    )
    assert body["state"].startswith("issued")
    pn.sound(db)


def test_transfer_between_warehouses_and_lost_shortage_is_chargeable(client, db, who):
    pn.stock(db, "HQ", "P-LCD", 10)
    sent = ok(
        client.post(
            "/transfers",
            json={"sender": "HQ", "receiver": "RW-N", "lines": [{"sku": "P-LCD", "quantity": 10}]},
            headers=who("clerk"),
        ),
        201,
    )
    assert sent["kind"] == "transfer"
    late = ok(client.get("/shipments?state=in_transit", headers=who("clerk")))
    assert [s["number"] for s in late["items"]] == [sent["number"]]
    assert late["items"][0]["days_in_transit"] == 0
    assert ok(client.get("/shipments?older_than_days=0", headers=who("clerk")))["items"] == []
    got = ok(
        client.post(
            f"/shipments/{sent['number']}/receive",
            json={"lines": [{"line_no": 1, "quantity": 7}]},
            headers=who("clerk"),
        )
    )
    [number] = got["discrepancies"]
    lost = ok(
        client.post(
            f"/discrepancies/{number}/resolve",
            json={"outcome": "lost", "reason": "box arrived opened"},
            headers=who("clerk"),
        )
    )
    assert lost["state"] == "lost" and lost["chargeable"]
    assert pn.balance(db, "LOST-IN-TRANSIT:STOCK:P-LCD") == 3
    assert pn.balance(db, "RW-N:STOCK:P-LCD") == 7
    problem(
        client.post(
            f"/discrepancies/{number}/resolve",
            json={"outcome": "found", "reason": "again"},
            headers=who("clerk"),
        ),
        409,
        "invalid-state",
    )
    pn.sound(db)


def test_a_retry_replays_the_first_answer_and_a_reused_key_is_refused(client, db, who):
    pn.stock(db, "RW-S", "P-LCD", 3)
    body = {"lines": [{"sku": "P-LCD", "quantity": 3}], "submit": True}
    first = ok(client.post("/requisitions", json=body, headers=who("sp-a", "k1")), 201)
    again = ok(client.post("/requisitions", json=body, headers=who("sp-a", "k1")), 201)
    assert again == first
    listed = ok(client.get("/requisitions", headers=who("clerk")))
    assert len(listed["items"]) == 1
    from ledger.parts import requisitions as rqs

    with pytest.raises(InvalidInput):
        db.transact(
            lambda s: rqs.create(
                s, pn.actor(db, "sp-a"), lines=[rqs.LineIn(sku="P-LCD", quantity=1)], key="k" * 201
            )
        )
    other = {"lines": [{"sku": "P-LCD", "quantity": 2}]}
    problem(
        client.post("/requisitions", json=other, headers=who("sp-a", "k1")),
        422,
        "idempotency-conflict",
    )
    problem(
        client.post("/requisitions", json=body, headers=who("sp-b", "k1")),
        409,
        "idempotency-key-taken",
    )

    number = first["number"]
    approved = ok(client.post(f"/requisitions/{number}/approve", headers=who("approver1", "k2")))
    replay = ok(client.post(f"/requisitions/{number}/approve", headers=who("approver1", "k2")))
    assert replay == approved
    assert pn.balance(db, "RW-S:RESERVED:P-LCD") == 3
    # Without the key, a second approval is a 409 naming the state.
    body = problem(
        client.post(f"/requisitions/{number}/approve", headers=who("approver1")),
        409,
        "invalid-state",
    )
    assert body["state"] == "approved"
    shipped = ok(client.post(f"/requisitions/{number}/issue", headers=who("clerk", "k3")), 201)
    assert (
        ok(client.post(f"/requisitions/{number}/issue", headers=who("clerk", "k3")), 201) == shipped
    )
    assert pn.balance(db, "SP-A:TRANSIT:P-LCD") == 3
    pn.sound(db)


def _counts(db):
    from sqlalchemy import func, select

    from ledger.models import JournalEntry
    from ledger.parts.documents import DocumentAction
    from ledger.parts.requisitions import Requisition
    from ledger.parts.shipments import Shipment

    with db.reading() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t))
            for t in (JournalEntry, DocumentAction, Requisition, Shipment)
        )


def test_wrong_input_gets_a_clear_problem_and_changes_nothing(client, db, who):
    pn.stock(db, "RW-S", "P-LCD", 5)
    pn.stock(db, "RW-S", "P-BATT", 5)
    rq = ok(
        client.post(
            "/requisitions",
            json={"lines": [{"sku": "P-LCD", "quantity": 2}], "submit": True},
            headers=who("sp-a"),
        ),
        201,
    )["number"]
    before = _counts(db)

    def refused(response, status, code, field=None):
        body = problem(response, status, code)
        if field:
            assert body.get("field") == field, body
        assert _counts(db) == before
        return body

    post = client.post
    unknown = {"lines": [{"sku": "P-LCD", "quantity": 1}, {"sku": "NO-SUCH", "quantity": 1}]}
    body = refused(
        post("/requisitions", json=unknown, headers=who("sp-a")),
        422,
        "invalid-request",
        "lines[1].sku",
    )
    assert "NO-SUCH" in body["detail"] and "line 2" in body["detail"]
    old = {"lines": [{"sku": "P-OLD", "quantity": 1}]}
    assert (
        "inactive"
        in refused(post("/requisitions", json=old, headers=who("sp-a")), 422, "invalid-request")[
            "detail"
        ]
    )
    twice = {"lines": [{"sku": "P-LCD", "quantity": 1}, {"sku": "P-LCD", "quantity": 2}]}
    refused(
        post("/requisitions", json=twice, headers=who("sp-a")),
        422,
        "invalid-request",
        "lines[1].sku",
    )
    for bad in (0, -1, 10**7, "3", 2.5, True):
        refused(
            post(
                "/requisitions",
                json={"lines": [{"sku": "P-LCD", "quantity": bad}]},
                headers=who("sp-a"),
            ),
            422,
            "invalid-request",
        )
    refused(post("/requisitions", json={"lines": []}, headers=who("sp-a")), 422, "invalid-request")
    refused(
        post(
            "/requisitions",
            json={"lines": [{"sku": "P-LCD", "quantity": 1}], "note": "a\x00b"},
            headers=who("sp-a"),
        ),
        422,
        "invalid-request",
    )
    # An inactive (suspended) point may requisition nothing.
    body = refused(
        post(
            "/requisitions",
            json={"requester": "SP-OFF", "lines": [{"sku": "P-LCD", "quantity": 1}]},
            headers=who("clerk"),
        ),
        409,
        "invalid-state",
    )
    assert "suspended" in body["detail"]
    # Another point's requisition: 404, as if it did not exist; acting on it too.
    refused(client.get(f"/requisitions/{rq}", headers=who("sp-b")), 404, "not-found")
    refused(post(f"/requisitions/{rq}/cancel", headers=who("sp-b")), 404, "not-found")
    refused(
        post(
            "/requisitions",
            json={"requester": "SP-A", "lines": [{"sku": "P-LCD", "quantity": 1}]},
            headers=who("sp-b"),
        ),
        404,
        "not-found",
    )
    refused(client.get("/requisitions/RQ-999999", headers=who("clerk")), 404, "not-found")
    for huge in ("RQ-999999999999", "SH-999999999999", "DS-999999999999"):
        path = {"RQ": "requisitions", "SH": "shipments", "DS": "discrepancies"}[huge[:2]]
        refused(client.get(f"/{path}/{huge}", headers=who("clerk")), 404, "not-found")
        assert ok(client.get(f"/{path}?after={huge}", headers=who("clerk")))["items"] == []
    # Roles: a point may not approve; an approver may not issue.
    refused(post(f"/requisitions/{rq}/approve", headers=who("sp-a")), 403, "forbidden")
    refused(post(f"/requisitions/{rq}/issue", headers=who("approver1")), 403, "forbidden")
    refused(post(f"/requisitions/{rq}/approve", headers=who("clerk")), 403, "forbidden")
    # Approving more than was asked for, or a line that does not exist.
    refused(
        post(
            f"/requisitions/{rq}/approve",
            json={"lines": [{"line_no": 1, "quantity": 3}]},
            headers=who("approver1"),
        ),
        422,
        "invalid-request",
    )
    refused(
        post(
            f"/requisitions/{rq}/approve",
            json={"lines": [{"line_no": 2, "quantity": 1}]},
            headers=who("approver1"),
        ),
        422,
        "invalid-request",
    )
    refused(
        post(
            f"/requisitions/{rq}/approve",
            json={"lines": [{"line_no": 1, "quantity": 0}]},
            headers=who("approver1"),
        ),
        422,
        "invalid-request",
    )
    refused(
        post(
            f"/requisitions/{rq}/approve",
            json={"lines": [{"line_no": 1, "quantity": 1}, {"line_no": 1, "quantity": 1}]},
            headers=who("approver1"),
        ),
        422,
        "invalid-request",
    )
    # Issuing before approval.
    refused(post(f"/requisitions/{rq}/issue", headers=who("clerk")), 409, "invalid-state")

    ok(post(f"/requisitions/{rq}/approve", headers=who("approver1")))
    before = _counts(db)
    # Approving twice: the second is a 409 naming the state, and reserves nothing more.
    body = refused(
        post(f"/requisitions/{rq}/approve", headers=who("approver1")), 409, "invalid-state"
    )
    assert body["state"] == "approved" and "approved" in body["detail"]
    assert pn.balance(db, "RW-S:RESERVED:P-LCD") == 2
    # Issuing more than was approved.
    body = refused(
        post(
            f"/requisitions/{rq}/issue",
            json={"lines": [{"line_no": 1, "quantity": 3}]},
            headers=who("clerk"),
        ),
        422,
        "invalid-request",
    )
    assert "approved" in body["detail"]
    shipment = ok(post(f"/requisitions/{rq}/issue", headers=who("clerk")), 201)["number"]
    before = _counts(db)
    # Receiving more than was shipped, someone else's shipment, or by the wrong role.
    refused(
        post(
            f"/shipments/{shipment}/receive",
            json={"lines": [{"line_no": 1, "quantity": 3}]},
            headers=who("sp-a"),
        ),
        422,
        "invalid-request",
    )
    refused(post(f"/shipments/{shipment}/receive", headers=who("sp-b")), 404, "not-found")
    refused(post(f"/shipments/{shipment}/receive", headers=who("approver1")), 403, "forbidden")
    ok(post(f"/shipments/{shipment}/receive", headers=who("sp-a")))
    before = _counts(db)
    refused(post(f"/shipments/{shipment}/receive", headers=who("sp-a")), 409, "invalid-state")
    # A return of more than the point holds is refused by the ledger's guard.
    body = refused(
        post("/returns", json={"lines": [{"sku": "P-LCD", "quantity": 3}]}, headers=who("sp-a")),
        409,
        "insufficient-balance",
    )
    assert body["account"] == "SP-A:STOCK:P-LCD"
    # A transfer from a point, or to itself.
    refused(
        post(
            "/transfers",
            json={"sender": "SP-A", "receiver": "RW-S", "lines": [{"sku": "P-LCD", "quantity": 1}]},
            headers=who("clerk"),
        ),
        422,
        "invalid-request",
        "sender",
    )
    refused(
        post(
            "/transfers",
            json={"sender": "RW-S", "receiver": "RW-S", "lines": [{"sku": "P-LCD", "quantity": 1}]},
            headers=who("clerk"),
        ),
        422,
        "invalid-request",
    )
    pn.sound(db)


def test_approving_beyond_the_warehouse_stock_is_refused_naming_the_account(client, db, who):
    pn.stock(db, "RW-S", "P-LCD", 2)
    rq = ok(
        client.post(
            "/requisitions",
            json={"lines": [{"sku": "P-LCD", "quantity": 3}], "submit": True},
            headers=who("sp-a"),
        ),
        201,
    )["number"]
    body = problem(
        client.post(f"/requisitions/{rq}/approve", headers=who("approver1")),
        409,
        "insufficient-balance",
    )
    assert body["account"] == "RW-S:STOCK:P-LCD"
    assert ok(client.get(f"/requisitions/{rq}", headers=who("sp-a")))["state"] == "submitted"
    # In part, within what is there, it goes through.
    ok(
        client.post(
            f"/requisitions/{rq}/approve",
            json={"lines": [{"line_no": 1, "quantity": 2}]},
            headers=who("approver1"),
        )
    )
    pn.sound(db)


def test_lists_filter_and_page(client, db, who):
    pn.stock(db, "RW-S", "P-LCD", 100)
    numbers = []
    for i in range(5):
        numbers.append(
            ok(
                client.post(
                    "/requisitions",
                    json={"lines": [{"sku": "P-LCD", "quantity": 1}], "submit": i % 2 == 0},
                    headers=who("sp-a" if i < 4 else "sp-b"),
                ),
                201,
            )["number"]
        )
    page = ok(client.get("/requisitions?limit=2", headers=who("clerk")))
    assert [r["number"] for r in page["items"]] == numbers[:2]
    page2 = ok(
        client.get(f"/requisitions?limit=2&after={page['next_after']}", headers=who("clerk"))
    )
    assert [r["number"] for r in page2["items"]] == numbers[2:4]
    drafts = ok(client.get("/requisitions?state=draft", headers=who("clerk")))
    assert [r["number"] for r in drafts["items"]] == [numbers[1], numbers[3]]
    mine = ok(client.get("/requisitions", headers=who("sp-b")))
    assert [r["number"] for r in mine["items"]] == [numbers[4]]
    assert (
        ok(client.get("/requisitions?requester=SP-B", headers=who("clerk")))["items"][0]["number"]
        == numbers[4]
    )
    ok(client.post(f"/requisitions/{numbers[0]}/approve", headers=who("approver1")))
    waiting = ok(client.get("/requisitions?state=approved", headers=who("clerk")))
    assert [r["number"] for r in waiting["items"]] == [numbers[0]]
    problem(client.get("/requisitions?awaiting=within", headers=who("clerk")), 403, "forbidden")
    problem(client.get("/requisitions?after=RQ-1", headers=who("clerk")), 422, "invalid-request")


def test_a_regional_warehouse_requisitions_from_hq(client, db, who):
    pn.stock(db, "HQ", "P-BOARD", 4)
    rq = ok(
        client.post(
            "/requisitions",
            json={
                "requester": "RW-N",
                "lines": [{"sku": "P-BOARD", "quantity": 4}],
                "submit": True,
            },
            headers=who("clerk"),
        ),
        201,
    )
    assert rq["warehouse"] == "HQ"
    ok(client.post(f"/requisitions/{rq['number']}/approve", headers=who("approver1")))
    shipment = ok(client.post(f"/requisitions/{rq['number']}/issue", headers=who("clerk")), 201)
    # A point may not receive what is shipped to a warehouse.
    problem(
        client.post(f"/shipments/{shipment['number']}/receive", headers=who("sp-a")),
        404,
        "not-found",
    )
    ok(client.post(f"/shipments/{shipment['number']}/receive", headers=who("clerk")))
    assert pn.balance(db, "RW-N:STOCK:P-BOARD") == 4
    assert (
        ok(client.get(f"/requisitions/{rq['number']}", headers=who("clerk")))["state"] == "closed"
    )
    for requester, field in (("HQ", "requester"), ("NOPE", "requester"), ("OPEN", "requester")):
        body = problem(
            client.post(
                "/requisitions",
                json={"requester": requester, "lines": [{"sku": "P-LCD", "quantity": 1}]},
                headers=who("clerk"),
            ),
            422,
            "invalid-request",
        )
        assert body["field"] == field
    pn.sound(db)


def test_an_approver_rejects_but_does_not_cancel(client, db, who):
    pn.stock(db, "RW-S", "P-LCD", 100)
    rq = ok(
        client.post(
            "/requisitions",
            json={"lines": [{"sku": "P-LCD", "quantity": 30}], "submit": True},
            headers=who("sp-a"),
        ),
        201,
    )["number"]
    ok(client.post(f"/requisitions/{rq}/escalate", headers=who("approver1")))
    # Escalated past L1: L1 may neither reject it nor end it by cancelling.
    problem(
        client.post(f"/requisitions/{rq}/reject", json={"reason": "no"}, headers=who("approver1")),
        403,
        "forbidden",
    )
    problem(client.post(f"/requisitions/{rq}/cancel", headers=who("approver1")), 403, "forbidden")
    ok(client.post(f"/requisitions/{rq}/approve", headers=who("approver2")))
    problem(client.post(f"/requisitions/{rq}/cancel", headers=who("approver2")), 403, "forbidden")
    assert pn.balance(db, "RW-S:RESERVED:P-LCD") == 30
    assert (
        ok(client.post(f"/requisitions/{rq}/cancel", headers=who("clerk")))["state"] == "cancelled"
    )
    assert pn.balance(db, "RW-S:RESERVED:P-LCD") == 0
    pn.sound(db)
