"""The console's shipment pages: a point receives an issue line by line
(short → a discrepancy), returns unused and defective parts, the clerk
sees inbound returns and ships transfers, and shortages are resolved (lost
and charged by finance); the hostile cases: another point's shipment, a
stale receipt form, the same form twice, a quantity that is no number."""

from __future__ import annotations

import re

import pytest

from ledger import masterdata as md
from ledger import services
from ledger.journal import EntryIn, PostingIn
from ledger.parts import receiving, requisitions, shipments
from ledger.parts.requisitions import LineIn
from ledger.parts.shipments import DiscrepancyState, ShipmentState
from ledger.policy import SYSTEM
from tests import parts_network as pn

_SH = re.compile(r"/ui/shipments/(SH-\d+)")


def issued(db, lines=(("P-LCD", 4), ("P-BATT", 10))) -> str:
    """A requisition of SP-A raised, approved and issued through the
    services; the shipment's number."""
    pn.stock(db, "RW-S", "P-LCD", 30)
    pn.stock(db, "RW-S", "P-BATT", 100)
    point, approver, clerk = pn.actor(db, "sp-a"), pn.actor(db, "approver2"), pn.actor(db, "clerk")
    wanted = [LineIn(sku=sku, quantity=q) for sku, q in lines]
    rq = db.transact(lambda s: requisitions.create(s, point, lines=wanted, submit=True))
    db.transact(lambda s: requisitions.approve(s, approver, rq.number))
    shipment = db.transact(lambda s: requisitions.issue(s, clerk, rq.number, courier="SF"))
    return shipment.number


def shipment(db, number: str, username: str = "clerk"):
    with db.reading() as s:
        return shipments.get(s, pn.actor(db, username), number)


def defective(db, holder: str, sku: str, quantity: int) -> None:
    """Defective units at a location (what in-warranty repairs replaced)."""
    entry = EntryIn(
        kind="opening",
        postings=[
            PostingIn(account=md.account_code("OPEN", "STOCK", sku), amount=-quantity),
            PostingIn(account=md.account_code(holder, "DEFECTIVE", sku), amount=quantity),
        ],
    )
    db.transact(lambda s: services.post(s, SYSTEM, [entry]))


def test_a_point_sees_what_is_on_its_way_and_receives_it_short(as_user, db):
    number = issued(db)
    b = as_user("sp-a")
    listed = b.get("/ui/receipts")
    assert listed.status_code == 200
    assert "发往本网点的在途货物" in listed.text
    incoming = listed.text.split('data-testid="incoming"')[1].split("</table>")[0]
    assert f'/ui/shipments/{number}"' in incoming and "14" in incoming  # 4 + 10 units

    page = b.get(f"/ui/shipments/{number}")
    assert page.status_code == 200
    assert "<td>发货</td>" in page.text  # its history: shipped by the clerk
    assert 'data-testid="receive-form"' in page.text
    assert 'name="received_1" value="4"' in page.text  # defaults to the quantity shipped
    assert 'name="received_2" value="10"' in page.text
    assert "SF" in page.text and "/ui/requisitions/RQ-" in page.text
    assert 'data-testid="days-in-transit">0<' in page.text

    done = b.post(f"/ui/shipments/{number}/receive", {"received_1": "3", "received_2": "10"})
    assert done.status_code == 303 and done.headers["location"] == f"/ui/shipments/{number}"
    view = shipment(db, number)
    assert view.state == ShipmentState.RECEIVED
    assert [(ln.received, ln.short) for ln in view.lines] == [(3, 1), (10, 0)]
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 3
    assert pn.balance(db, "SP-A:STOCK:P-BATT") == 10
    assert pn.balance(db, "SP-A:TRANSIT:P-LCD") == 0
    (found,) = view.discrepancies
    after = b.get(f"/ui/shipments/{number}")
    assert f"/ui/discrepancies/{found}" in after.text and "已签收" in after.text
    assert 'data-testid="receive-form"' not in after.text
    shortage = b.get(f"/ui/discrepancies/{found}")
    assert shortage.status_code == 200 and "P-LCD" in shortage.text
    assert 'data-testid="resolve-form"' not in shortage.text  # the point does not resolve
    assert found in b.get("/ui/discrepancies?state=open").text
    lately = b.get("/ui/receipts").text.split('data-testid="received"')[1]
    assert number in lately  # received lately
    pn.sound(db)


def test_another_points_shipment_is_a_404_page_and_cannot_be_received(as_user, db):
    number = issued(db)
    b = as_user("sp-b")
    assert b.get(f"/ui/shipments/{number}").status_code == 404
    refused = b.post(f"/ui/shipments/{number}/receive", {"received_1": "4", "received_2": "10"})
    assert refused.status_code == 404
    assert number not in b.get("/ui/receipts").text
    assert shipment(db, number).state == ShipmentState.IN_TRANSIT


def test_a_stale_receipt_form_gets_the_services_409_and_changes_nothing(as_user, db):
    number = issued(db)
    first, second = as_user("sp-a"), as_user("sp-a")
    second.get(f"/ui/shipments/{number}")  # the form open in another tab
    assert first.post(f"/ui/shipments/{number}/receive", {"received_1": "4", "received_2": "10"})
    stale = second.post(f"/ui/shipments/{number}/receive", {"received_1": "2", "received_2": "5"})
    assert stale.status_code == 409
    assert "可能已有他人处理" in stale.text
    assert "in_transit" in stale.text  # the service's own words: receiving only when in transit
    partial = second.post(
        f"/ui/shipments/{number}/receive",
        {"received_1": "2", "received_2": "5"},
        headers={"HX-Request": "true"},
    )
    assert partial.status_code == 409 and "<html" not in partial.text
    assert 'data-testid="receive-form"' not in partial.text  # the lines as received instead
    assert 'data-testid="shipment-lines"' in partial.text
    view = shipment(db, number)
    assert [(ln.received, ln.short) for ln in view.lines] == [(4, 0), (10, 0)]
    assert view.discrepancies == []
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 4


def test_the_same_receipt_form_posted_twice_is_one_receipt(as_user, db):
    number = issued(db)
    b = as_user("sp-a")
    form = {"received_1": "2", "received_2": "10"}
    assert b.post(f"/ui/shipments/{number}/receive", form, key="fixed-1").status_code == 303
    again = b.post(f"/ui/shipments/{number}/receive", form, key="fixed-1")
    assert again.status_code == 303 and again.headers["location"] == f"/ui/shipments/{number}"
    assert len(shipment(db, number).discrepancies) == 1
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 2
    with db.reading() as s:
        assert len(shipments.list_discrepancies(s, SYSTEM)) == 1


def test_a_received_quantity_that_is_no_number_is_refused_beside_its_line(as_user, db):
    number = issued(db)
    b = as_user("sp-a")
    bad = b.post(f"/ui/shipments/{number}/receive", {"received_1": "x", "received_2": "10"})
    assert bad.status_code == 422
    assert "不是整数" in bad.text and 'name="received_1" value="x"' in bad.text
    too_many = b.post(f"/ui/shipments/{number}/receive", {"received_1": "5", "received_2": "10"})
    assert too_many.status_code == 422 and "receive at most what was shipped" in too_many.text
    assert shipment(db, number).state == ShipmentState.IN_TRANSIT
    # htmx gets the form alone, with the problem in it.
    partial = b.post(
        f"/ui/shipments/{number}/receive",
        {"received_1": "x", "received_2": "10"},
        headers={"HX-Request": "true"},
    )
    assert partial.status_code == 422 and "<html" not in partial.text
    assert 'data-testid="receive-form"' in partial.text


def test_a_point_returns_unused_parts_through_the_page(as_user, db):
    pn.stock(db, "SP-A", "P-LCD", 5)
    defective(db, "SP-A", "P-BATT", 2)
    b = as_user("sp-a")
    form = b.get("/ui/returns")
    assert form.status_code == 200 and 'data-testid="return-form"' in form.text
    own = re.findall(r'data-testid="own-stock-row">(.*?)</tr>', form.text)
    assert any("P-LCD" in row and ">5<" in row for row in own)
    assert any("P-BATT" in row and ">2<" in row for row in own)  # its defective stock

    sent = b.post(
        "/ui/returns",
        {"defective": "no", "sku_1": "p-lcd", "quantity_1": "3", "sku_2": "", "quantity_2": "",
         "courier": "SF", "tracking_number": "SF9"},
    )  # fmt: skip
    assert sent.status_code == 303
    number = _SH.search(sent.headers["location"]).group(1)
    view = shipment(db, number)
    assert view.kind == "return" and view.sender == "SP-A" and view.receiver == "RW-S"
    assert [(ln.sku, ln.quantity) for ln in view.lines] == [("P-LCD", 3)]
    assert view.tracking_number == "SF9"
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 2
    assert pn.balance(db, "RW-S:TRANSIT:P-LCD") == 3
    page = b.get(f"/ui/shipments/{number}")
    assert page.status_code == 200 and "退" in page.text
    assert 'data-testid="receive-form"' not in page.text  # the warehouse receives it

    # The clerk finds it inbound and receives it at RW-S.
    clerk = as_user("clerk")
    inbound = clerk.get("/ui/inbound?warehouse=RW-S")
    assert number in inbound.text
    assert number not in clerk.get("/ui/inbound?warehouse=RW-N").text
    received = clerk.post(f"/ui/shipments/{number}/receive", {"received_1": "3"})
    assert received.status_code == 303
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 3
    assert number not in clerk.get("/ui/inbound").text
    pn.sound(db)


def test_a_point_returns_defective_parts_and_cannot_return_more_than_it_holds(as_user, db):
    defective(db, "SP-A", "P-BATT", 2)
    b = as_user("sp-a")
    too_many = b.post(
        "/ui/returns", {"defective": "yes", "sku_1": "", "quantity_1": "", "sku_2": "P-BATT",
                        "quantity_2": "3"},
    )  # fmt: skip
    assert too_many.status_code == 409
    assert "P-BATT" in too_many.text and 'name="quantity_2" value="3"' in too_many.text
    row = re.search(r'name="quantity_2".*?</tr>', too_many.text, re.S).group(0)
    assert "SP-A:DEFECTIVE:P-BATT" in row  # the service's refusal beside the line it is about
    assert pn.balance(db, "SP-A:DEFECTIVE:P-BATT") == 2

    sent = b.post("/ui/returns", {"defective": "yes", "sku_1": "P-BATT", "quantity_1": "2"})
    assert sent.status_code == 303
    number = _SH.search(sent.headers["location"]).group(1)
    view = shipment(db, number)
    assert view.kind == "defective" and [(ln.sku, ln.quantity) for ln in view.lines] == [
        ("P-BATT", 2)
    ]
    assert pn.balance(db, "SP-A:DEFECTIVE:P-BATT") == 0
    clerk = as_user("clerk")
    assert number in clerk.get("/ui/inbound?kind=defective").text
    assert number not in clerk.get("/ui/inbound?kind=return").text
    assert clerk.post(f"/ui/shipments/{number}/receive", {"received_1": "2"}).status_code == 303
    assert pn.balance(db, "RW-S:DEFECTIVE:P-BATT") == 2
    pn.sound(db)


def test_a_return_quantity_that_is_no_number_is_refused_beside_its_line(as_user, db):
    pn.stock(db, "SP-A", "P-LCD", 5)
    b = as_user("sp-a")
    bad = b.post(
        "/ui/returns",
        {"defective": "no", "sku_1": "P-LCD", "quantity_1": "2", "sku_2": "P-LCD",
         "quantity_2": "x"},
    )  # fmt: skip
    assert bad.status_code == 422
    row = re.search(r'name="quantity_2".*?</tr>', bad.text, re.S).group(0)
    assert "不是整数" in row
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 5
    with db.reading() as s:
        assert shipments.list_shipments(s, SYSTEM) == []
    # The same form key twice: one return.
    form = {"defective": "no", "sku_1": "P-LCD", "quantity_1": "2"}
    first = b.post("/ui/returns", form, key="return-once")
    again = b.post("/ui/returns", form, key="return-once")
    assert first.headers["location"] == again.headers["location"]
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 3


def test_the_clerk_ships_a_transfer_between_warehouses(as_user, db):
    pn.stock(db, "HQ", "P-BOARD", 10)
    clerk = as_user("clerk")
    assert clerk.get("/ui/transfers/new").status_code == 200
    not_a_warehouse = clerk.post(
        "/ui/transfers/new", {"sender": "HQ", "receiver": "SP-A", "sku_1": "P-BOARD",
                              "quantity_1": "4"},
    )  # fmt: skip
    assert not_a_warehouse.status_code == 422 and "SP-A" in not_a_warehouse.text
    sent = clerk.post(
        "/ui/transfers/new",
        {"sender": "hq", "receiver": "RW-N", "sku_1": "P-BOARD", "quantity_1": "4",
         "courier": "EMS"},
    )  # fmt: skip
    assert sent.status_code == 303
    number = _SH.search(sent.headers["location"]).group(1)
    assert pn.balance(db, "HQ:STOCK:P-BOARD") == 6
    assert pn.balance(db, "RW-N:TRANSIT:P-BOARD") == 4
    assert number in clerk.get("/ui/inbound?warehouse=RW-N&kind=transfer").text
    page = clerk.get(f"/ui/shipments/{number}")
    assert 'data-testid="receive-form"' in page.text
    assert clerk.post(f"/ui/shipments/{number}/receive", {"received_1": "4"}).status_code == 303
    assert pn.balance(db, "RW-N:STOCK:P-BOARD") == 4
    # The list, filtered.
    listed = clerk.get("/ui/shipments?kind=transfer&state=received&holder=RW-N")
    assert number in listed.text
    assert number not in clerk.get("/ui/shipments?kind=issue").text
    sp = as_user("sp-a")
    assert sp.post("/ui/transfers/new", {"sender": "HQ", "receiver": "RW-N", "sku_1": "P-BOARD",
                                          "quantity_1": "1"}).status_code == 403  # fmt: skip
    pn.sound(db)


def _shortage(db, as_user) -> tuple[str, str]:
    number = issued(db, lines=(("P-LCD", 4),))
    b = as_user("sp-a")
    assert b.post(f"/ui/shipments/{number}/receive", {"received_1": "1"}).status_code == 303
    (found,) = shipment(db, number).discrepancies
    return number, found


def test_finance_resolves_a_shortage_as_lost_and_charges_the_point(as_user, db):
    _, found = _shortage(db, as_user)
    finance = as_user("finance")
    listed = finance.get("/ui/discrepancies?state=open")
    assert found in listed.text
    page = finance.get(f"/ui/discrepancies/{found}")
    assert 'data-testid="resolve-form"' in page.text and 'name="charge"' in page.text
    before = pn.balance(db, "SP-A:RECEIVABLE:CNY")

    no_reason = finance.post(
        f"/ui/discrepancies/{found}/resolve", {"outcome": "lost", "charge": "yes"}
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    bad_price = finance.post(
        f"/ui/discrepancies/{found}/resolve",
        {"outcome": "lost", "charge": "yes", "reason": "courier lost them", "unit_price": "1.234"},
    )
    assert bad_price.status_code == 422 and "1.234" in bad_price.text
    with db.reading() as s:
        assert shipments.get_discrepancy(s, SYSTEM, found).state == DiscrepancyState.OPEN

    done = finance.post(
        f"/ui/discrepancies/{found}/resolve",
        {"outcome": "lost", "charge": "yes", "reason": "courier lost them", "unit_price": "150"},
    )
    assert done.status_code == 303 and done.headers["location"] == f"/ui/discrepancies/{found}"
    with db.reading() as s:
        view = shipments.get_discrepancy(s, SYSTEM, found)
    assert view.state == DiscrepancyState.LOST and view.chargeable
    assert view.history[-1].detail == {"charged": "SP-A", "amount": 3 * 15_000}
    assert pn.balance(db, "SP-A:RECEIVABLE:CNY") - before == 3 * 15_000
    shown = finance.get(f"/ui/discrepancies/{found}")
    assert "courier lost them" in shown.text and 'data-testid="resolve-form"' not in shown.text
    assert found in finance.get("/ui/discrepancies?state=lost").text
    assert found not in finance.get("/ui/discrepancies?state=open").text
    pn.sound(db)


def test_the_clerk_resolves_a_shortage_as_found_and_a_second_try_is_a_409(as_user, db):
    _, found = _shortage(db, as_user)
    clerk = as_user("clerk")
    page = clerk.get(f"/ui/discrepancies/{found}")
    assert 'name="charge"' not in page.text  # charging is finance's
    stale = as_user("clerk")
    stale.get(f"/ui/discrepancies/{found}")
    done = clerk.post(
        f"/ui/discrepancies/{found}/resolve", {"outcome": "found", "reason": "in a box"}
    )
    assert done.status_code == 303
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 4
    again = stale.post(f"/ui/discrepancies/{found}/resolve", {"outcome": "lost", "reason": "gone"})
    assert again.status_code == 409 and "open" in again.text
    with db.reading() as s:
        assert shipments.get_discrepancy(s, SYSTEM, found).state == DiscrepancyState.FOUND
    assert as_user("sp-b").get(f"/ui/discrepancies/{found}").status_code == 404


def test_the_pages_speak_english_when_asked(as_user, db):
    number = issued(db)
    b = as_user("sp-a")
    assert "确认签收" in b.get(f"/ui/shipments/{number}").text
    b.post("/ui/language", {"locale": "en", "back": "/"})
    page = b.get(f"/ui/shipments/{number}")
    assert "Confirm receipt" in page.text and "Days in transit" in page.text
    assert "确认签收" not in page.text
    assert "Return parts to the warehouse" in b.get("/ui/returns").text


@pytest.mark.parametrize("path", ["/ui/shipments/SH-999999", "/ui/discrepancies/DS-999999",
                                  "/ui/shipments/nonsense"])  # fmt: skip
def test_an_unknown_number_is_a_404_page(as_user, path):
    assert as_user("clerk").get(path).status_code == 404


def test_start_pages_link_the_discrepancies(as_user):
    for username in ("clerk", "finance", "sp-a"):
        assert 'href="/ui/discrepancies"' in as_user(username).get("/").text


def test_a_list_cursor_that_is_no_number_is_told(as_user):
    answer = as_user("clerk").get("/ui/shipments?after=nonsense")
    assert answer.status_code == 422 and "SH-000001" in answer.text


def test_the_lists_page_on_the_server(as_user, db):
    pn.stock(db, "HQ", "P-LCD", 100)
    clerk = pn.actor(db, "clerk")
    for i in range(3):
        db.transact(
            lambda s, i=i: receiving.transfer(
                s, clerk, sender="HQ", receiver="RW-N", lines=[LineIn(sku="P-LCD", quantity=1)],
                key=f"t{i}",
            )
        )  # fmt: skip
    b = as_user("clerk")
    from api.web import shipments as pages

    old, pages.PAGE = pages.PAGE, 2
    try:
        first = b.get("/ui/shipments?kind=transfer")
        found = re.search(r'href="(/ui/shipments\?[^"]*after=SH-\d+)"', first.text)
        assert found, first.text
        second = b.get(found.group(1).replace("&amp;", "&"))
        assert (
            second.status_code == 200
            and len(re.findall('data-testid="shipment-row"', second.text)) == 1
        )
    finally:
        pages.PAGE = old
