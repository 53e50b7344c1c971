"""The console's factory-return pages, on both databases: a clerk sees a
warehouse's defective stock, ships it to the factory through the page, the
packing list downloads as the API's xlsx, and the factory's count closes the
return; a line the service refuses comes back beside it with nothing
shipped, the same form twice ships once, a count entered twice is refused,
and a point sees none of it."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest

from ledger.catalog import parts
from ledger.parts import factory
from ledger.policy import SYSTEM
from tests import parts_network as pn
from tests.test_factory_returns import HANDSETS, defective

NUMBER = re.compile(r"/ui/factory-returns/(SH-[0-9]+)")


@pytest.fixture
def stocked(console_app, db):
    def models(session):
        parts.create_model(session, SYSTEM, "M-X1", name="X1 手机", colours=["Black", "Gold"])
        parts.create_model(session, SYSTEM, "M-X2", name="X2 手机", colours=["Blue"])
        parts.create_part(
            session, SYSTEM, "P-X1-LCD", name_zh="X1 屏幕", name_en="X1 screen",
            category="screen", warranty_class="handset", models=["M-X1"], returnable=True,
        )  # fmt: skip
        parts.create_part(
            session, SYSTEM, "P-CHG", name_zh="充电器", name_en="Charger", category="charger",
            warranty_class="charger", models=["M-X1", "M-X2"], returnable=True,
        )  # fmt: skip

    db.transact(models)
    defective(db, "RW-S", "P-X1-LCD", 5)
    defective(db, "RW-S", "P-CHG", 4)
    defective(db, "RW-S", "M-X1", serials=HANDSETS)


def ship_form(**changes) -> dict:
    form = {
        "sender": "RW-S",
        "courier": "SF Express",
        "tracking_number": "SF1234567",
        "sku": ["P-X1-LCD", "P-CHG", "M-X1", ""],
        "quantity": ["3", "2", "", ""],
        "model": ["", "M-X2", "", ""],
        "colour": ["black", "", "", ""],
        "serials": ["", "", "X1-0001\nX1-0002, X1-0003", ""],
    }
    form.update(changes)
    return form


def returns(db) -> list:
    with db.reading() as s:
        return factory.list_returns(s, pn.actor(db, "admin"), limit=100)


def shipped(browser, **changes) -> str:
    answer = browser.post("/ui/factory-returns/new", ship_form(**changes))
    assert answer.status_code == 303, answer.text
    return NUMBER.search(answer.headers["location"]).group(1)


def test_the_clerk_sees_the_defective_stock_and_fills_a_return_with_it(as_user, stocked):
    b = as_user("clerk")
    page = b.get("/ui/defective-stock?location=rw-s")
    assert page.status_code == 200 and 'data-testid="defective-stock"' in page.text
    assert "X1 屏幕" in page.text and "X1-0003" in page.text and "坏件" in page.text
    assert 'data-testid="defective-total">12<' in page.text
    filled = b.get("/ui/factory-returns/new?sender=RW-S&fill=true")
    assert filled.status_code == 200
    assert 'name="sku" value="P-X1-LCD"' in filled.text
    assert 'name="quantity" value="5"' in filled.text
    assert "X1-0001\nX1-0002\nX1-0003" in filled.text
    unknown = b.get("/ui/factory-returns/new?sender=NOWHERE&fill=true")
    assert unknown.status_code == 404


def test_a_return_shipped_by_the_clerk_and_its_packing_list_as_xlsx(as_user, db, stocked):
    b = as_user("clerk")
    number = shipped(b)
    assert pn.balance(db, "RW-S:DEFECTIVE:P-X1-LCD") == 2
    assert pn.balance(db, "TO-FACTORY:TRANSIT:P-X1-LCD") == 3
    assert pn.balance(db, "RW-S:DEFECTIVE:M-X1") == 0
    pn.sound(db)
    page = b.get(f"/ui/factory-returns/{number}")
    assert page.status_code == 200 and 'data-testid="confirm-form"' in page.text
    assert "SF1234567" in page.text and "在途" in page.text
    listed = b.get("/ui/factory-returns?state=in_transit")
    assert number in listed.text

    sheet = b.get(f"/ui/factory-returns/{number}/packing-list.xlsx")
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert sheet.headers["content-disposition"].startswith("attachment")
    book = openpyxl.load_workbook(io.BytesIO(sheet.content))
    rows = [[c for c in row] for row in book.active.iter_rows(values_only=True)]
    lcd = next(row for row in rows if "P-X1-LCD" in row)
    assert lcd[0] == "M-X1" and lcd[1] == "Black" and 3 in lcd
    handsets = [row for row in rows if "M-X1" in row and row[2] == "M-X1"]
    assert sum(row[5] for row in handsets) == 3


def test_a_line_the_service_refuses_is_shown_beside_it_and_nothing_ships(as_user, db, stocked):
    b = as_user("clerk")
    answer = b.post("/ui/factory-returns/new", ship_form(model=["", "", "", ""]))
    assert answer.status_code == 422
    assert "M-X1, M-X2" in answer.text  # the charger fits both: name one
    line_2 = answer.text.split('data-testid="return-line"')[2]
    assert 'class="field-problem"' in line_2.split("</tr>")[0]
    assert 'value="SF1234567"' in answer.text  # the form keeps what was typed
    too_many = b.post("/ui/factory-returns/new", ship_form(quantity=["9", "2", "", ""]))
    assert too_many.status_code == 409
    no_courier = b.post("/ui/factory-returns/new", ship_form(courier=""))
    assert no_courier.status_code == 422
    assert returns(db) == [] and pn.balance(db, "RW-S:DEFECTIVE:P-X1-LCD") == 5


def test_the_same_form_sent_twice_ships_once(as_user, db, stocked):
    b = as_user("clerk")
    first = b.post("/ui/factory-returns/new", ship_form(), key="double")
    second = b.post("/ui/factory-returns/new", ship_form(), key="double")
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(returns(db)) == 1 and pn.balance(db, "RW-S:DEFECTIVE:P-X1-LCD") == 2


def test_the_factorys_count_closes_the_return_once(as_user, db, stocked):
    b = as_user("clerk")
    number = shipped(b)
    bad = b.post(f"/ui/factory-returns/{number}/confirm", {"lines": "3", "counted_1": "x"})
    assert bad.status_code == 422 and "不是整数" in bad.text
    counted = b.post(
        f"/ui/factory-returns/{number}/confirm",
        {"lines": "3", "counted_1": "2", "counted_2": "", "serials_3": ""},
    )
    assert counted.status_code == 303
    assert pn.balance(db, "FACTORY:STOCK:P-X1-LCD") == 2
    assert pn.balance(db, "DISCREPANCIES:TRANSIT:P-X1-LCD") == 1
    pn.sound(db)
    page = b.get(f"/ui/factory-returns/{number}")
    assert 'data-testid="factory-return-differences"' in page.text
    assert 'data-testid="confirm-form"' not in page.text
    again = b.post(f"/ui/factory-returns/{number}/confirm", {"lines": "3"})
    assert again.status_code == 409
    assert pn.balance(db, "FACTORY:STOCK:P-X1-LCD") == 2


def test_a_point_sees_no_warehouse_return_nor_its_stock(as_user, stocked):
    number = shipped(as_user("clerk"))
    point = as_user("sp-a")
    assert point.get(f"/ui/factory-returns/{number}").status_code == 404
    assert point.get(f"/ui/factory-returns/{number}/packing-list.xlsx").status_code == 404
    assert point.get("/ui/defective-stock?location=RW-S").status_code == 404
    refused = point.post("/ui/factory-returns/new", ship_form())
    assert refused.status_code == 403


def test_the_pages_speak_english_when_asked(as_user, stocked):
    b = as_user("clerk")
    number = shipped(b)
    b.post("/ui/language", {"locale": "en", "back": "/"})
    page = b.get(f"/ui/factory-returns/{number}")
    assert "Download the packing list" in page.text and "X1 screen" in page.text
    assert "Defective stock" in b.get("/ui/defective-stock").text
