"""The warehouse clerk's console pages: receiving a purchase order line by
line, and a stock count from opening through its sheet to posted variances."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select

from ledger.catalog import suppliers as sup
from ledger.models import JournalEntry
from ledger.parts import counts, purchasing
from ledger.parts.documents import DocumentAction
from ledger.parts.purchasing import LineIn
from ledger.policy import SYSTEM
from tests import parts_network as pn

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COUNTED = "实盘数量 Counted"


def _rows(db) -> tuple[int, int]:
    """Journal entries and document actions: what a refused form must not add."""
    with db.reading() as s:
        return (
            s.scalar(select(func.count()).select_from(JournalEntry)),
            s.scalar(select(func.count()).select_from(DocumentAction)),
        )


# -- purchase orders -------------------------------------------------------------------


def _supplier(s) -> None:
    sup.create_supplier(s, SYSTEM, "SUP", name="Parts supplier", payment_terms_days=30)
    sup.set_supplier_part(s, SYSTEM, "SUP", "P-LCD", minimum_order=10, pack_size=5)
    sup.set_supplier_part(s, SYSTEM, "SUP", "P-BATT", minimum_order=20, pack_size=10)
    sup.set_supplier_part(s, SYSTEM, "SUP", "P-BOARD", minimum_order=1, pack_size=1)


def _approved_po(db) -> str:
    """SUP's order of 10 P-LCD at ¥80 and 20 P-BATT at ¥25, approved (¥1,300)."""

    def work(s):
        _supplier(s)
        po = purchasing.create(
            s, pn.actor(db, "clerk"), supplier="SUP",
            expected_on=s.info["window"].today() + timedelta(days=14),
            lines=[LineIn(sku="P-LCD", quantity=10, unit_price=8_000),
                   LineIn(sku="P-BATT", quantity=20, unit_price=2_500)],
            submit=True,
        )  # fmt: skip
        return purchasing.approve(s, pn.actor(db, "approver1"), po.number).number

    return db.transact(work)


def _order(db, number):
    with db.reading() as s:
        return purchasing.get(s, SYSTEM, number)


def test_the_clerk_lists_open_orders_and_receives_part_of_one(as_user, db):
    number = _approved_po(db)
    b = as_user("clerk")
    listing = b.get("/ui/purchase-orders?open=true")
    assert listing.status_code == 200
    assert number in listing.text and "已批准" in listing.text and "¥1,300.00" in listing.text
    assert number not in b.get("/ui/purchase-orders?state=received").text

    shown = b.get(f"/ui/purchase-orders/{number}")
    assert shown.status_code == 200
    assert 'data-testid="receive-form"' in shown.text and "SUP" in shown.text
    assert 'name="received_1"' in shown.text and 'name="received_2"' in shown.text

    answer = b.post(f"/ui/purchase-orders/{number}/receive", {"received_1": "5", "received_2": ""})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/ui/purchase-orders/{number}"
    assert pn.balance(db, "HQ:STOCK:P-LCD") == 5
    assert pn.balance(db, "HQ:STOCK:P-BATT") == 0
    order = _order(db, number)
    assert order.state == "partly_received" and [x.received for x in order.lines] == [5, 0]
    page = b.get(f"/ui/purchase-orders/{number}")
    assert "部分收货" in page.text
    assert re.search(r'data-testid="received-1">5<', page.text)
    assert "clerk" in page.text  # the history names who received

    b.post("/ui/language", {"locale": "en", "back": "/"})
    english = b.get(f"/ui/purchase-orders/{number}").text
    assert "Receive what arrived" in english and "Still to come" in english


def test_receiving_more_than_ordered_shows_the_services_words_and_changes_nothing(as_user, db):
    number = _approved_po(db)
    b = as_user("clerk")
    before = _rows(db)
    answer = b.post(f"/ui/purchase-orders/{number}/receive", {"received_1": "11"})
    assert answer.status_code == 422
    assert "receive at most 10" in answer.text
    assert 'value="11"' in answer.text  # what was typed stays in the form
    assert _rows(db) == before and pn.balance(db, "HQ:STOCK:P-LCD") == 0

    bad = b.post(f"/ui/purchase-orders/{number}/receive", {"received_2": "ten"})
    assert bad.status_code == 422 and "“ten”不是整数" in bad.text
    assert _rows(db) == before

    htmx = b.post(
        f"/ui/purchase-orders/{number}/receive",
        {"received_1": "11"},
        headers={"HX-Request": "true"},
    )
    assert htmx.status_code == 422 and "<html" not in htmx.text and "receive-form" in htmx.text


def test_the_same_receive_form_sent_twice_is_one_receipt(as_user, db):
    number = _approved_po(db)
    b = as_user("clerk")
    for _ in range(2):
        answer = b.post(f"/ui/purchase-orders/{number}/receive", {"received_1": "5"}, key="once")
        assert answer.status_code == 303
    assert pn.balance(db, "HQ:STOCK:P-LCD") == 5
    assert len(_order(db, number).receipts) == 1


def test_a_stale_receive_form_after_a_cancel_is_409_and_nothing_changes(as_user, db):
    number = _approved_po(db)
    b = as_user("clerk")
    assert b.get(f"/ui/purchase-orders/{number}").status_code == 200
    db.transact(lambda s: purchasing.cancel(s, pn.actor(db, "clerk"), number, reason="dup"))
    answer = b.post(f"/ui/purchase-orders/{number}/receive", {"received_1": "5"})
    assert answer.status_code == 409 and "cancelled" in answer.text
    assert pn.balance(db, "HQ:STOCK:P-LCD") == 0


def test_a_service_point_sees_no_purchase_orders(as_user, db):
    number = _approved_po(db)
    b = as_user("sp-a")
    assert b.get(f"/ui/purchase-orders/{number}").status_code == 403
    assert b.get("/ui/purchase-orders").status_code == 403  # the service refuses the list


def _expected(db) -> str:
    with db.reading() as s:
        return (s.info["window"].today() + timedelta(days=7)).isoformat()


def test_the_clerk_raises_an_order_on_the_page_and_an_approver_decides(as_user, db):
    db.transact(_supplier)
    clerk = as_user("clerk")
    assert clerk.get("/ui/purchase-orders/new").status_code == 200
    form = {"supplier": "sup", "expected_on": _expected(db), "submit": "true",
            "sku_1": "P-LCD", "quantity_1": "10", "price_1": "80",
            "sku_3": "p-board", "quantity_3": "3", "price_3": "1,200.50"}  # fmt: skip
    before = _rows(db)
    wrong = clerk.post(
        "/ui/purchase-orders", {**form, "sku_5": "P-BATT", "quantity_5": "15", "price_5": "2"}
    )
    assert wrong.status_code == 422 and "in packs of 10" in wrong.text
    # The rows filled are shown closed up: the service's line 3 is row 3, the problem beside it.
    assert re.search(r'name="sku_3" value="P-BATT".*?in packs of 10.*?name="sku_4" value=""',
                     wrong.text, re.S)  # fmt: skip
    assert 'name="sku_2" value="p-board"' in wrong.text
    price = clerk.post("/ui/purchase-orders", {**form, "price_3": "12.345"})
    assert price.status_code == 422 and "12.345" in price.text
    assert _rows(db) == before
    made = clerk.post("/ui/purchase-orders", form)
    assert made.status_code == 303
    number = made.headers["location"].rsplit("/", 1)[1]
    order = _order(db, number)
    assert order.state == "submitted" and order.amount == 10 * 8_000 + 3 * 120_050
    assert [(x.sku, x.quantity) for x in order.lines] == [("P-LCD", 10), ("P-BOARD", 3)]

    approver = as_user("approver1")  # L1: up to ¥5,000; this is ¥4,401.50
    assert approver.post(f"/ui/purchase-orders/{number}/approve", {}).status_code == 303
    assert _order(db, number).state == "approved"
    page = clerk.get(f"/ui/purchase-orders/{number}").text
    assert "approver1" in page and 'name="received_2"' in page


def test_an_order_beyond_the_approvers_limit_is_refused_with_the_services_words(as_user, db):
    db.transact(_supplier)
    clerk = as_user("clerk")
    form = {"supplier": "SUP", "expected_on": _expected(db), "submit": "true",
            "sku_1": "P-BOARD", "quantity_1": "20", "price_1": "400"}  # fmt: skip
    number = clerk.post("/ui/purchase-orders", form).headers["location"].rsplit("/", 1)[1]
    approver = as_user("approver1")
    refused = approver.post(f"/ui/purchase-orders/{number}/approve", {})
    assert refused.status_code == 403 and "超出您的审批权限" in refused.text
    assert "beyond your amount limit of 5,000.00 CNY" in refused.text
    assert _order(db, number).state == "submitted"
    assert approver.post(f"/ui/purchase-orders/{number}/escalate", {}).status_code == 303
    assert as_user("approver2").post(f"/ui/purchase-orders/{number}/approve", {}).status_code == 303
    assert _order(db, number).state == "approved"


# -- stock counts ----------------------------------------------------------------------


def _filled(content: bytes, counted: dict[str, object]) -> bytes:
    book = load_workbook(io.BytesIO(content))
    ws = book.worksheets[0]
    column = [c.value for c in ws[1]].index(COUNTED) + 1
    for row in range(2, ws.max_row + 1):
        if ws.cell(row, 1).value in counted:
            ws.cell(row, column).value = counted[ws.cell(row, 1).value]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _open_through_the_page(b, location="RW-S") -> str:
    assert b.get("/ui/counts/new").status_code == 200
    answer = b.post("/ui/counts", {"location": location, "note": "monthly"})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"].rsplit("/", 1)[1]


def test_a_count_from_its_sheet_to_posted_variances(as_user, db):
    pn.stock(db, "RW-S", "P-LCD", 10)
    pn.stock(db, "RW-S", "P-BATT", 20)
    clerk = as_user("clerk")
    number = _open_through_the_page(clerk)
    assert number in clerk.get("/ui/counts?location=rw-s").text
    page = clerk.get(f"/ui/counts/{number}")
    assert page.status_code == 200 and "盘点中" in page.text and "开单" in page.text

    sheet = clerk.get(f"/ui/counts/{number}/sheet.xlsx")
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith(XLSX)
    assert sheet.headers["content-disposition"].startswith("attachment;")
    assert f"{number}_RW-S_" in sheet.headers["content-disposition"]
    book = load_workbook(io.BytesIO(sheet.content), read_only=True)
    rows = [tuple(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    assert [r[0] for r in rows[1:]] == ["P-BATT", "P-LCD"]

    filled = _filled(sheet.content, {"P-LCD": 8, "P-BATT": 23})
    assert b"\x00" in filled  # a zip: the console's upload route is excepted from the NUL check
    uploaded = clerk.post(f"/ui/counts/{number}/sheet", files={"file": ("c.xlsx", filled, XLSX)})
    assert uploaded.status_code == 303, uploaded.text
    with db.reading() as s:
        assert counts.get(s, SYSTEM, number).counted == 2

    page = clerk.get(f"/ui/counts/{number}").text
    # P-LCD −2 × ¥100 = −¥200; P-BATT +3 × ¥30 = ¥90; net −¥110.
    assert re.search(r'data-testid="loss">2 · ¥200.00<', page)
    assert re.search(r'data-testid="gain">3 · ¥90.00<', page)
    assert re.search(r'data-testid="net-value">-¥110.00<', page)

    assert clerk.post(f"/ui/counts/{number}/submit", {}).status_code == 303
    refused = clerk.post(f"/ui/counts/{number}/approve", {})
    assert refused.status_code == 403  # a clerk does not approve
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 10

    approver = as_user("approver1")
    assert approver.post(f"/ui/counts/{number}/approve", {"reason": "ok"}).status_code == 303
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 8
    assert pn.balance(db, "RW-S:STOCK:P-BATT") == 23
    done = approver.get(f"/ui/counts/{number}").text
    assert "已批准" in done and "approver1" in done
    pn.sound(db)


def test_counts_entered_on_the_page_and_a_bad_number_beside_its_line(as_user, db):
    pn.stock(db, "RW-S", "P-LCD", 10)
    clerk = as_user("clerk")
    number = _open_through_the_page(clerk)
    before = _rows(db)
    bad = clerk.post(f"/ui/counts/{number}/lines", {"sku_1": "P-LCD", "counted_1": "x9"})
    assert bad.status_code == 422 and "x9" in bad.text
    assert _rows(db) == before
    ok = clerk.post(f"/ui/counts/{number}/lines", {"sku_1": "P-LCD", "counted_1": "9"})
    assert ok.status_code == 303
    page = clerk.get(f"/ui/counts/{number}").text
    assert re.search(r'data-testid="loss">1 · ¥100.00<', page)


def test_a_bad_row_in_the_uploaded_sheet_is_422_naming_the_row(as_user, db):
    pn.stock(db, "RW-S", "P-LCD", 10)
    pn.stock(db, "RW-S", "P-BATT", 20)
    clerk = as_user("clerk")
    number = _open_through_the_page(clerk)
    sheet = clerk.get(f"/ui/counts/{number}/sheet.xlsx").content
    before = _rows(db)
    bad = _filled(sheet, {"P-BATT": 5, "P-LCD": "many"})
    answer = clerk.post(f"/ui/counts/{number}/sheet", files={"file": ("c.xlsx", bad, XLSX)})
    assert answer.status_code == 422
    assert "row 3" in answer.text and "many" in answer.text
    assert _rows(db) == before
    not_xlsx = clerk.post(
        f"/ui/counts/{number}/sheet", files={"file": ("c.xlsx", b"PK\x00\x00junk", XLSX)}
    )
    assert not_xlsx.status_code == 422 and "xlsx" in not_xlsx.text
    with db.reading() as s:
        assert counts.get(s, SYSTEM, number).counted == 0


def test_the_same_open_form_twice_is_one_count_and_a_stale_approve_is_409(as_user, db):
    pn.stock(db, "RW-S", "P-LCD", 10)
    clerk = as_user("clerk")
    first = clerk.post("/ui/counts", {"location": "RW-S"}, key="one")
    again = clerk.post("/ui/counts", {"location": "RW-S"}, key="one")
    assert first.headers["location"] == again.headers["location"]
    number = first.headers["location"].rsplit("/", 1)[1]
    assert (
        clerk.post(f"/ui/counts/{number}/submit", {"uncounted_as_zero": "true"}).status_code == 303
    )
    approver = as_user("approver1")
    assert approver.get(f"/ui/counts/{number}").status_code == 200
    assert clerk.post(f"/ui/counts/{number}/cancel", {"reason": "wrong"}).status_code == 303
    stale = approver.post(f"/ui/counts/{number}/approve", {})
    assert stale.status_code == 409
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 10


def test_a_service_point_cannot_see_the_clerks_count_of_another_location(as_user, db):
    pn.stock(db, "RW-S", "P-LCD", 10)
    clerk = as_user("clerk")
    number = _open_through_the_page(clerk)
    point = as_user("sp-a")
    assert point.get(f"/ui/counts/{number}").status_code == 404
    assert point.get(f"/ui/counts/{number}/sheet.xlsx").status_code == 404
    assert number not in point.get("/ui/counts").text
    assert point.post(f"/ui/counts/{number}/cancel", {}).status_code == 404
    # Its own count: the location is fixed to the point.
    pn.stock(db, "SP-A", "P-BATT", 2)
    own = point.post("/ui/counts", {"location": "SP-B"})
    assert own.status_code == 303
    with db.reading() as s:
        assert counts.get(s, SYSTEM, own.headers["location"].rsplit("/", 1)[1]).location == "SP-A"


def test_the_count_pages_in_english(as_user, db):
    pn.stock(db, "RW-S", "P-LCD", 10)
    clerk = as_user("clerk")
    number = _open_through_the_page(clerk)
    assert "盘点" in clerk.get("/ui/counts").text
    clerk.post("/ui/language", {"locale": "en", "back": "/"})
    page = clerk.get(f"/ui/counts/{number}").text
    assert "Stock count" in page and "Download the count sheet" in page


def test_only_the_sheet_upload_takes_a_body_with_nul_bytes(as_user, db):
    pn.stock(db, "RW-S", "P-LCD", 10)
    clerk = as_user("clerk")
    number = _open_through_the_page(clerk)
    files = {"file": ("c.xlsx", b"PK\x00\x00", XLSX)}
    assert clerk.post(f"/ui/counts/{number}/lines", {}, files=files).status_code == 422
    refused = clerk.post("/ui/counts", {"location": "RW-S"}, files=files)
    assert refused.status_code == 422 and "NUL" in refused.text


def test_the_lists_filter_and_htmx_swaps_only_the_table(as_user, db):
    pn.stock(db, "RW-S", "P-LCD", 10)
    pn.stock(db, "RW-N", "P-LCD", 10)
    clerk = as_user("clerk")
    south = _open_through_the_page(clerk, "RW-S")
    north = _open_through_the_page(clerk, "RW-N")
    table = clerk.get("/ui/counts?location=RW-N&state=open", headers={"HX-Request": "true"})
    assert table.status_code == 200 and "<html" not in table.text
    assert north in table.text and south not in table.text
    assert south not in clerk.get("/ui/counts?state=approved").text
    _approved_po(db)
    orders = clerk.get("/ui/purchase-orders?late=true", headers={"HX-Request": "true"})
    assert "<html" not in orders.text and "PO-" not in orders.text
