"""Purchase orders over HTTP, on both databases: raising, approving within
the amount limit, escalating, receiving in parts, and what is refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ledger.catalog import suppliers as sup
from ledger.errors import InvalidInput, InvalidState
from ledger.models import Role, User
from ledger.parts import purchasing
from ledger.parts.purchasing import LineIn, PurchaseOrder
from ledger.policy import SYSTEM, Actor
from tests import parts_network as pn
from tests.parts_network import balance, headers, sound

# SKU -> (minimum order, pack size)
RULES = {"P-LCD": (10, 5), "P-BATT": (20, 10), "P-BOARD": (1, 1)}


def _suppliers(session) -> None:
    sup.create_supplier(session, SYSTEM, "SUP", name="Parts supplier", payment_terms_days=30)
    for sku, (minimum, pack) in RULES.items():
        sup.set_supplier_part(session, SYSTEM, "SUP", sku, minimum_order=minimum, pack_size=pack)


def setup(db) -> None:
    pn.network(db)
    db.transact(_suppliers)


@pytest.fixture
def client(db):
    """The HTTP API over `db`, with the parts network and a supplier SUP."""
    from api.app import create_app
    from ledger.settings import Settings
    from tests.tokens import SECRET

    setup(db)
    app = create_app(db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://"))
    with TestClient(app) as test_client:
        yield test_client


def _actor(db, username: str) -> Actor:
    with db.reading() as s:
        user = s.scalar(select(User).where(User.username == username))
        return Actor(user.username, Role(user.role), user.holder_id)


def _today(db):
    with db.reading() as s:
        return s.info["window"].today()


# 10 × 80.00 + 20 × 25.00 = 1,300.00 CNY: within L1's 5,000.00
SMALL = [
    {"sku": "P-LCD", "quantity": 10, "unit_price": 8_000},
    {"sku": "P-BATT", "quantity": 20, "unit_price": 2_500},
]
# 20 × 400.00 = 8,000.00 CNY: beyond L1, within L2
LARGE = [{"sku": "P-BOARD", "quantity": 20, "unit_price": 40_000}]


def _raise(client, db, lines=SMALL, *, submit=True, user="clerk", **extra):
    body = {
        "supplier": "SUP",
        "expected_on": (_today(db) + timedelta(days=14)).isoformat(),
        "lines": lines,
        "submit": submit,
        **extra,
    }
    return client.post("/purchase-orders", json=body, headers=headers(client, user))


def _approved(client, db, lines=SMALL) -> str:
    number = _raise(client, db, lines).json()["number"]
    answer = client.post(f"/purchase-orders/{number}/approve", headers=headers(client, "approver1"))
    assert answer.status_code == 200, answer.text
    return number


def _receive(client, number, lines, key=None, user="clerk"):
    hdrs = headers(client, user)
    if key:
        hdrs["Idempotency-Key"] = key
    body = {"lines": [{"line_no": k, "quantity": v} for k, v in lines.items()]}
    return client.post(f"/purchase-orders/{number}/receive", json=body, headers=hdrs)


def _books(db) -> dict[str, int]:
    accounts = [
        "HQ:STOCK:P-LCD", "HQ:STOCK:P-BATT", "SUP:STOCK:P-LCD", "SUP:STOCK:P-BATT",
        "PURCHASES:STOCK:CNY", "SUP:STOCK:CNY",
    ]  # fmt: skip
    out = {}
    for account in accounts:
        try:
            out[account] = balance(db, account)
        except Exception:
            out[account] = 0  # not opened yet
    return out


def test_raise_approve_and_receive_in_two_parts(client, db):
    raised = _raise(client, db)
    assert raised.status_code == 201, raised.text
    po = raised.json()
    number = po["number"]
    assert po["state"] == "submitted"
    assert po["amount"] == 130_000
    assert [(x["sku"], x["amount"]) for x in po["lines"]] == [
        ("P-LCD", 80_000),
        ("P-BATT", 50_000),
    ]
    assert [h["action"] for h in po["history"]] == ["create", "submit"]

    approved = client.post(
        f"/purchase-orders/{number}/approve", headers=headers(client, "approver1")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    assert approved.json()["history"][-1]["detail"] == {"level": "L1", "amount": 130_000}

    first = _receive(client, number, {1: 5, 2: 10})
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "partly_received"
    assert [x["received"] for x in first.json()["lines"]] == [5, 10]
    assert len(first.json()["receipts"]) == 1
    assert first.json()["history"][-1]["detail"]["amount"] == 5 * 8_000 + 10 * 2_500
    assert _books(db) == {
        "HQ:STOCK:P-LCD": 5,
        "HQ:STOCK:P-BATT": 10,
        "SUP:STOCK:P-LCD": -5,
        "SUP:STOCK:P-BATT": -10,
        "PURCHASES:STOCK:CNY": 65_000,
        "SUP:STOCK:CNY": -65_000,
    }
    sound(db)

    second = _receive(client, number, {1: 5, 2: 10})
    assert second.status_code == 200, second.text
    view = second.json()
    assert view["state"] == "received"
    assert len(view["receipts"]) == 2
    assert view["history"][-1]["state_before"] == "partly_received"
    assert _books(db) == {
        "HQ:STOCK:P-LCD": 10,
        "HQ:STOCK:P-BATT": 20,
        "SUP:STOCK:P-LCD": -10,
        "SUP:STOCK:P-BATT": -20,
        "PURCHASES:STOCK:CNY": 130_000,
        "SUP:STOCK:CNY": -130_000,
    }
    sound(db)
    entry = client.get(f"/entries/{view['receipts'][0]}", headers=headers(client, "admin"))
    assert entry.status_code == 200, entry.text
    assert entry.json()["refs"] == {"purchase_order": number}

    shown = client.get(f"/purchase-orders/{number}", headers=headers(client, "finance"))
    assert shown.json() == view
    again = _receive(client, number, {1: 1})
    assert again.status_code == 409
    assert "received" in again.json()["detail"]


def test_beyond_the_limit_is_refused_then_escalated_and_approved_higher(client, db):
    number = _raise(client, db, LARGE).json()["number"]
    refused = client.post(
        f"/purchase-orders/{number}/approve", headers=headers(client, "approver1")
    )
    assert refused.status_code == 403
    problem = refused.json()
    assert "5,000.00" in problem["detail"] and "8,000.00" in problem["detail"]
    assert (problem["amount_limit"], problem["amount"]) == (500_000, 800_000)

    escalated = client.post(
        f"/purchase-orders/{number}/escalate",
        json={"reason": "beyond my limit"},
        headers=headers(client, "approver1"),
    )
    assert escalated.status_code == 200, escalated.text
    assert escalated.json()["escalated_to"] == "L2"
    assert escalated.json()["state"] == "submitted"
    # Once escalated, the lower level decides nothing.
    lower = client.post(f"/purchase-orders/{number}/reject", json={"reason": "no"},
                        headers=headers(client, "approver1"))  # fmt: skip
    assert lower.status_code == 403
    higher = client.post(f"/purchase-orders/{number}/approve", headers=headers(client, "approver2"))
    assert higher.status_code == 200, higher.text
    assert higher.json()["state"] == "approved"
    steps = [(h["action"], h["actor"]) for h in higher.json()["history"]]
    assert steps[-2:] == [("escalate", "approver1"), ("approve", "approver2")]
    # Within your own limit there is nothing to escalate.
    small = _raise(client, db).json()["number"]
    within = client.post(f"/purchase-orders/{small}/escalate", headers=headers(client, "approver1"))
    assert within.status_code == 409


def _state(client, db, number):
    shown = client.get(f"/purchase-orders/{number}", headers=headers(client, "clerk"))
    return _books(db), shown.json()


def test_over_receipt_is_refused_and_changes_nothing(client, db):
    number = _approved(client, db)
    assert _receive(client, number, {1: 5}).status_code == 200
    before = _state(client, db, number)
    over = _receive(client, number, {1: 6, 2: 1})
    assert over.status_code == 422
    problem = over.json()
    assert "line 1" in problem["detail"]
    assert (problem["line"], problem["ordered"], problem["received"]) == (1, 10, 5)
    assert "10 were ordered" in problem["detail"] and "5 received so far" in problem["detail"]
    unknown = _receive(client, number, {9: 1})
    assert unknown.status_code == 422 and "line 9" in unknown.json()["detail"]
    nothing = _receive(client, number, {2: 0})
    assert nothing.status_code == 422
    assert _state(client, db, number) == before
    sound(db)


def test_receiving_a_draft_or_a_cancelled_order_is_409_naming_its_state(client, db):
    draft = _raise(client, db, submit=False).json()
    assert draft["state"] == "draft"
    refused = _receive(client, draft["number"], {1: 10})
    assert refused.status_code == 409
    assert "is draft" in refused.json()["detail"]
    assert refused.json()["state"] == "draft"

    number = _approved(client, db)
    cancelled = client.post(
        f"/purchase-orders/{number}/cancel",
        json={"reason": "supplier cannot deliver"},
        headers=headers(client, "clerk"),
    )
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    refused = _receive(client, number, {1: 10})
    assert refused.status_code == 409
    assert "is cancelled" in refused.json()["detail"]
    # Something received: no longer cancellable.
    other = _approved(client, db)
    assert _receive(client, other, {1: 5}).status_code == 200
    late = client.post(f"/purchase-orders/{other}/cancel", headers=headers(client, "clerk"))
    assert late.status_code == 409 and "partly_received" in late.json()["detail"]
    sound(db)


def test_reject_needs_a_reason_and_is_recorded(client, db):
    number = _raise(client, db).json()["number"]
    empty = client.post(f"/purchase-orders/{number}/reject", json={"reason": "  "},
                        headers=headers(client, "approver1"))  # fmt: skip
    assert empty.status_code == 422
    rejected = client.post(f"/purchase-orders/{number}/reject", json={"reason": "too dear"},
                           headers=headers(client, "approver1"))  # fmt: skip
    assert rejected.status_code == 200
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["history"][-1]["reason"] == "too dear"
    again = client.post(f"/purchase-orders/{number}/approve", headers=headers(client, "approver1"))
    assert again.status_code == 409 and "rejected" in again.json()["detail"]


def test_a_retry_with_the_same_key_replays_and_another_body_is_refused(client, db):
    number = _approved(client, db)
    first = _receive(client, number, {1: 5}, key="rcv-1")
    assert first.status_code == 200
    books = _books(db)
    retry = _receive(client, number, {1: 5}, key="rcv-1")
    assert retry.status_code == 200
    assert retry.json() == first.json()
    assert len(retry.json()["receipts"]) == 1
    assert _books(db) == books
    other = _receive(client, number, {1: 4}, key="rcv-1")
    assert other.status_code == 422
    assert other.json()["field"] == "idempotency_key"
    assert _books(db) == books
    # A create retried creates one order.
    hdrs = {**headers(client, "clerk"), "Idempotency-Key": "po-1"}
    body = {"supplier": "SUP", "expected_on": _today(db).isoformat(), "lines": SMALL}
    a = client.post("/purchase-orders", json=body, headers=hdrs)
    b = client.post("/purchase-orders", json=body, headers=hdrs)
    assert a.status_code == 201 and a.json() == b.json()
    sound(db)


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([SMALL[0], {"sku": "P-BATT", "quantity": 10, "unit_price": 2_500}], "minimum 20"),
        ([SMALL[0], {"sku": "P-BATT", "quantity": 25, "unit_price": 2_500}], "packs of 10"),
        ([SMALL[0], {"sku": "P-OLD", "quantity": 10, "unit_price": 100}], "inactive"),
        ([SMALL[0], SMALL[0]], "already line 1"),
        ([SMALL[0], {"sku": "P-NONE", "quantity": 10, "unit_price": 100}], "not a part"),
    ],
)
def test_lines_out_of_rule_are_refused_naming_the_line(client, db, lines, field):
    answer = _raise(client, db, lines)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith("line 2: ")
    assert field in answer.json()["detail"]
    assert answer.json()["line"] == 2


def test_dates_prices_and_suppliers_are_checked(client, db):
    today = _today(db)
    past = _raise(client, db, expected_on=(today - timedelta(days=1)).isoformat())
    assert past.status_code == 422 and "in the past" in past.json()["detail"]
    far = _raise(client, db, expected_on=(today + timedelta(days=3 * 366 + 1)).isoformat())
    assert far.status_code == 422 and "3 years" in far.json()["detail"]
    free = _raise(client, db, [{"sku": "P-LCD", "quantity": 10, "unit_price": 0}])
    assert free.status_code == 422
    loose = _raise(client, db, [{"sku": "P-LCD", "quantity": "10", "unit_price": 1}])
    assert loose.status_code == 422
    extra = _raise(client, db, colour="red")
    assert extra.status_code == 422
    nobody = _raise(client, db, supplier="HQ")
    assert nobody.status_code == 404
    db.transact(lambda s: sup.update_supplier(s, SYSTEM, "SUP", active=False))
    inactive = _raise(client, db)
    assert inactive.status_code == 409 and "inactive" in inactive.json()["detail"]
    planner_only = _raise(client, db, user="approver1")
    assert planner_only.status_code == 403


def test_a_service_point_is_refused_everything(client, db):
    number = _approved(client, db)
    sp = headers(client, "sp-a")
    assert client.get("/purchase-orders", headers=sp).status_code == 403
    assert client.get(f"/purchase-orders/{number}", headers=sp).status_code == 403
    assert client.get("/purchase-orders/PO-999999", headers=sp).status_code == 403
    assert _raise(client, db, user="sp-a").status_code == 403
    assert _receive(client, number, {1: 1}, user="sp-a").status_code == 403
    for action in ("submit", "approve", "escalate", "cancel"):
        assert client.post(f"/purchase-orders/{number}/{action}", headers=sp).status_code == 403


def test_lists_show_open_and_late_orders(client, db):
    late = _approved(client, db)
    on_time = _approved(client, db)
    waiting = _raise(client, db).json()["number"]
    yesterday = _today(db) - timedelta(days=1)
    po_id = int(late.split("-")[1])
    db.transact(
        lambda s: s.execute(
            update(PurchaseOrder).where(PurchaseOrder.id == po_id).values(expected_on=yesterday)
        )
    )
    hdrs = headers(client, "clerk")

    def numbers(query=""):
        answer = client.get(f"/purchase-orders{query}", headers=hdrs)
        assert answer.status_code == 200, answer.text
        return [x["number"] for x in answer.json()["items"]]

    assert numbers() == [late, on_time, waiting]
    assert numbers("?open=true") == [late, on_time]
    assert numbers("?late=true") == [late]
    assert numbers("?state=submitted") == [waiting]
    assert numbers("?supplier=SUP&limit=1") == [late]
    page = client.get(f"/purchase-orders?limit=2&after={late}", headers=hdrs).json()
    assert [x["number"] for x in page["items"]] == [on_time, waiting]
    assert page["next_after"] == waiting


def test_a_receipt_without_the_money_commodity_is_refused(db):
    def setup_without_cny(s):
        pn.build(s, s.info["window"].today(), money=False)
        sup.create_supplier(s, SYSTEM, "SUP", name="Parts supplier", payment_terms_days=30)
        sup.set_supplier_part(s, SYSTEM, "SUP", "P-LCD", minimum_order=10, pack_size=5)

    db.transact(setup_without_cny)
    clerk, approver = _actor(db, "clerk"), _actor(db, "approver1")
    line = LineIn(sku="P-LCD", quantity=10, unit_price=100)
    po = db.transact(
        lambda s: purchasing.create(
            s, clerk, supplier="SUP", expected_on=_today(db), lines=[line], submit=True
        )
    )
    db.transact(lambda s: purchasing.approve(s, approver, po.number))
    with pytest.raises(InvalidState, match="CNY"):
        db.transact(lambda s: purchasing.receive(s, clerk, po.number, lines={1: 10}))


def test_two_receipts_of_the_same_last_units_at_once_one_succeeds(fresh_db):
    setup(fresh_db)
    clerk, admin, approver = (_actor(fresh_db, u) for u in ("clerk", "admin", "approver1"))
    lines = [LineIn(sku="P-LCD", quantity=10, unit_price=1_000)]
    po = fresh_db.transact(
        lambda s: purchasing.create(
            s, clerk, supplier="SUP", expected_on=_today(fresh_db), lines=lines, submit=True
        )
    )
    fresh_db.transact(lambda s: purchasing.approve(s, approver, po.number))
    fresh_db.transact(lambda s: purchasing.receive(s, clerk, po.number, lines={1: 4}))
    start = Barrier(2)

    def receive(actor, key):
        start.wait()
        try:
            return fresh_db.transact(
                lambda s: purchasing.receive(s, actor, po.number, lines={1: 6}, key=key)
            )
        except (InvalidInput, InvalidState) as exc:
            return exc

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(receive, [clerk, admin], ["race-a", "race-b"], timeout=120))
    done = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert (len(done), len(refused)) == (1, 1)
    assert done[0].state == "received"
    # The loser waited for the winner and saw what it left: the order received.
    assert "is received" in refused[0].detail
    assert balance(fresh_db, "HQ:STOCK:P-LCD") == 10
    assert balance(fresh_db, "PURCHASES:STOCK:CNY") == 10_000
    sound(fresh_db)


def test_a_number_beyond_any_id_is_not_found(client):
    hdrs = headers(client, "clerk")
    assert client.get("/purchase-orders/PO-3000000000", headers=hdrs).status_code == 404
    # A page after every id is the end, not an error.
    answer = client.get("/purchase-orders?after=PO-3000000000", headers=hdrs)
    assert answer.status_code == 200 and answer.json()["items"] == []
    assert client.post("/purchase-orders/PO-3000000000/submit", headers=hdrs).status_code == 404
    assert client.get("/requisitions/RQ-3000000000", headers=hdrs).status_code == 404


def test_the_approval_queue_within_and_above_my_amount_limit(client, db):
    small = _raise(client, db).json()["number"]  # 1,300.00 CNY: within L1
    large = _raise(client, db, LARGE).json()["number"]  # 8,000.00 CNY: beyond L1
    _raise(client, db, submit=False)  # a draft is in nobody's queue

    def queue(user, which):
        answer = client.get(f"/purchase-orders?awaiting={which}", headers=headers(client, user))
        assert answer.status_code == 200, answer.text
        return [po["number"] for po in answer.json()["items"]]

    assert queue("approver1", "within") == [small]
    assert queue("approver1", "above") == [large]
    assert queue("approver2", "within") == [small, large]
    escalated = client.post(
        f"/purchase-orders/{large}/escalate", headers=headers(client, "approver1")
    )
    assert escalated.status_code == 200, escalated.text
    assert queue("approver2", "within") == [small, large]
    assert queue("approver1", "above") == [large]
    clerk = client.get("/purchase-orders?awaiting=within", headers=headers(client, "clerk"))
    assert clerk.status_code == 403
    bad = client.get("/purchase-orders?awaiting=sideways", headers=headers(client, "approver1"))
    assert bad.status_code == 422


def test_a_supplier_deactivated_after_submission_is_not_approved(client, db):
    number = _raise(client, db).json()["number"]
    answer = client.patch(
        "/suppliers/SUP", json={"active": False}, headers=headers(client, "admin")
    )
    assert answer.status_code == 200, answer.text
    refused = client.post(
        f"/purchase-orders/{number}/approve", headers=headers(client, "approver1")
    )
    assert refused.status_code == 409 and "inactive" in refused.json()["detail"]
    shown = client.get(f"/purchase-orders/{number}", headers=headers(client, "clerk")).json()
    assert shown["state"] == "submitted"
