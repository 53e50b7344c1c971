"""What a hostile or careless reader types into the console: a clear answer
(a 4xx page with the problem), never a server error, nothing written."""

from __future__ import annotations

import pytest

from ledger.errors import InvalidInput
from ledger.users import check_username
from tests.parts_network import balance, stock
from tests.test_console_warehouse import _approved_po


@pytest.mark.parametrize("amount", ["1e27", "9" * 29, "1e-30", "NaN", "Infinity", "1" * 41])
def test_an_amount_past_any_precision_is_not_an_amount(as_user, db, amount):
    finance = as_user("finance")
    before = balance(db, "SP-A:DEPOSIT:CNY")
    answer = finance.post(
        "/ui/deposits/SP-A/receipts",
        {"amount": amount, "method": "cash", "reference": "x", "on": ""},
    )
    assert answer.status_code == 422
    assert "不是有效金额" in answer.text
    assert balance(db, "SP-A:DEPOSIT:CNY") == before


def test_a_line_number_in_other_digits_is_no_line(as_user, db):
    number = _approved_po(db)
    clerk = as_user("clerk")
    answer = clerk.post(f"/ui/purchase-orders/{number}/receive", {"received_²": "1"})
    assert answer.status_code < 500
    assert balance(db, "HQ:STOCK:P-LCD") == 0
    assert clerk.get("/ui/requisitions/new?rows=²").status_code == 200
    assert as_user("admin").get("/ui/admin/history?before=²").status_code == 200


def test_far_cursors_and_spans_are_answered_not_crashed(as_user):
    clerk = as_user("clerk")
    opened = clerk.post("/ui/counts", {"location": "RW-S"})
    count = opened.headers["location"].rsplit("/", 1)[1]
    assert clerk.get(f"/ui/counts/{count}?after=99999999999999999999").status_code < 500
    late = clerk.get("/ui/factory-returns?older_than_days=999999999")
    assert late.status_code == 422 and "older_than_days" in late.text


@pytest.mark.parametrize("name", [".", "..", "..."])
def test_a_username_of_dots_is_refused_it_would_be_a_path(name):
    with pytest.raises(InvalidInput):
        check_username(name)
    assert check_username("li.ming") == "li.ming"


def test_a_requisition_takes_a_sku_in_lower_case_as_the_other_forms_do(as_user, db):
    stock(db, "RW-S", "P-LCD", 5)
    point = as_user("sp-a")
    answer = point.post(
        "/ui/requisitions/new",
        {"lines[0].sku": "p-lcd", "lines[0].quantity": "2", "action": "submit"},
    )
    assert answer.status_code == 303
    assert "P-LCD" in point.get(answer.headers["location"]).text
    assert "5" in point.get("/ui/requisitions/availability?lines[0].sku=p-lcd").text


def test_a_refusal_for_a_state_does_not_claim_someone_else_acted(as_user):
    finance = as_user("finance")
    answer = finance.post("/ui/settlement", {"month": "2999-12"})
    assert answer.status_code == 409
    assert "单据当前状态不允许此操作" in answer.text


def test_an_unknown_or_mistyped_console_address_answers_with_a_page(as_user):
    clerk = as_user("clerk")
    unknown = clerk.get("/ui/nonexistent")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")
    assert "控制台中没有这个页面" in unknown.text
    mistyped = clerk.get("/ui/purchase-orders?open=maybe")
    assert mistyped.status_code == 422 and "网址中的参数无效" in mistyped.text
    api = clerk.client.get("/no-such-endpoint")
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


def test_an_error_answered_to_htmx_replaces_the_main_part_not_the_form(as_user):
    point = as_user("sp-a")
    answer = point.post("/ui/requisitions/RQ-999999/cancel", {}, headers={"HX-Request": "true"})
    assert answer.status_code == 404
    assert answer.headers["HX-Retarget"] == "main"
    assert "<html" not in answer.text and 'data-testid="error"' in answer.text
    stale = point.post("/ui/language", {"locale": "en", "csrf_token": "stale"},
                       headers={"HX-Request": "true"})  # fmt: skip
    assert stale.status_code == 403 and "<html" not in stale.text
