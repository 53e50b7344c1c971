"""The console's repairs pages, on both databases: a service point writes off
the parts of a repair through the page (stock to CONSUMED, the replaced
unit into its defective stock), the warranty category is shown live as the
case is filled in, a category the rules refuse and a repair number used
twice come back beside their fields with nothing written, another point's
repair is not found, and a reversal posted twice reverses once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ledger.parts import receiving, repairs
from ledger.parts.requisitions import LineIn
from tests import parts_network as pn

NUMBER = re.compile(r"/ui/repairs/(RP-[0-9]+)")


@pytest.fixture
def today(db):
    return db.window.today()


@pytest.fixture
def stocked(db):
    pn.stock(db, "SP-A", "P-LCD", 5)
    pn.stock(db, "SP-A", "P-BATT", 3)


def in_warranty(today, **changes) -> dict:
    """A sold handset with proof, bought 60 days ago: WH."""
    form = {
        "repair_number": "R-100",
        "customer_serial": "IMEI-861234",
        "handset_model": "X1",
        "fault": "no display",
        "part_class": "handset",
        "reported_on": today.isoformat(),
        "manufactured_on": (today - timedelta(days=200)).isoformat(),
        "purchased_on": (today - timedelta(days=60)).isoformat(),
        "proof_of_purchase": "true",
        "sold": "true",
        "cosmetic_ok": "true",
        "talk_minutes": "0",
        "extended_months": "0",
        "category": "",
        "sku": ["P-LCD", "", ""],
        "quantity": ["1", "", ""],
    }
    form.update(changes)
    return form


def written_off(browser, today, **changes) -> str:
    answer = browser.post("/ui/repairs/new", in_warranty(today, **changes))
    assert answer.status_code == 303, answer.text
    return NUMBER.search(answer.headers["location"]).group(1)


def standing(db) -> list:
    with db.reading() as s:
        return repairs.list_repairs(s, pn.actor(db, "admin"), limit=100)


def test_a_warranty_repair_written_off_through_the_page_moves_the_stock(
    as_user, db, today, stocked
):
    b = as_user("sp-a")
    form = b.get("/ui/repairs/new")
    assert form.status_code == 200 and 'data-testid="repair-form"' in form.text
    assert "保修" in form.text  # Chinese by default
    number = written_off(b, today)
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 4
    assert pn.balance(db, "CONSUMED:STOCK:P-LCD") == 0  # used, and the core came back
    assert pn.balance(db, "SP-A:DEFECTIVE:P-LCD") == 1
    pn.sound(db)
    page = b.get(f"/ui/repairs/{number}")
    assert page.status_code == 200
    assert 'data-testid="repair-category">WH<' in page.text
    assert "R-100" in page.text and "IMEI-861234" in page.text
    assert "¥100.00" in page.text  # the part at standard cost
    assert 'data-testid="repair-charge">¥0.00<' in page.text  # in warranty: nothing to charge
    assert 'data-testid="repair-subsidy">' in page.text
    assert "已核销" in page.text or "核销" in page.text

    listed = b.get(f"/ui/repairs?month={today:%Y-%m}")
    assert number in listed.text
    summary = re.search(r'data-category="WH">(.*?)</tr>', listed.text, re.S).group(1)
    assert re.findall(r'class="num">([^<]*)<', summary) == ["1", "1", "¥100.00", "¥0.00"]


def test_an_out_of_warranty_repair_shows_what_the_point_is_charged(as_user, db, today, stocked):
    b = as_user("sp-a")
    number = written_off(b, today, man_made_damage="true", sku=["P-BATT"], quantity=["2"])
    page = b.get(f"/ui/repairs/{number}")
    assert 'data-testid="repair-category">F<' in page.text
    assert 'data-testid="repair-charge">¥120.00<' in page.text  # 2 x list price ¥60
    assert pn.balance(db, "SP-A:DEFECTIVE:P-BATT") == 0


def test_the_live_decision_answers_the_category_for_the_fields_given(as_user, today):
    b = as_user("sp-a")
    fields = {k: v for k, v in in_warranty(today).items() if k not in ("sku", "quantity")}
    wh = b.post("/ui/repairs/warranty", fields)
    assert wh.status_code == 200
    assert 'data-category="WH"' in wh.text and "保修至" in wh.text
    dap = b.post(
        "/ui/repairs/warranty", {**fields, "purchased_on": (today - timedelta(days=3)).isoformat()}
    )
    assert 'data-category="DAP"' in dap.text
    never_sold = {k: v for k, v in fields.items() if k not in ("sold", "purchased_on")}
    doa = b.post("/ui/repairs/warranty", {**never_sold, "proof_of_purchase": ""})
    assert doa.status_code == 422  # proof without a sale: the rules refuse
    doa = b.post(
        "/ui/repairs/warranty",
        {k: v for k, v in never_sold.items() if k != "proof_of_purchase"},
    )
    assert 'data-category="DOA"' in doa.text
    pending = b.post("/ui/repairs/warranty", {**fields, "manufactured_on": ""})
    assert pending.status_code == 200 and 'data-testid="warranty-pending"' in pending.text
    wrong = b.post(
        "/ui/repairs/warranty",
        {**fields, "purchased_on": (today - timedelta(days=300)).isoformat()},
    )
    assert wrong.status_code == 422 and "purchased_on" in wrong.text


def test_a_claimed_category_the_rules_refuse_is_422_beside_the_field(as_user, db, today, stocked):
    b = as_user("sp-a")
    answer = b.post("/ui/repairs/new", in_warranty(today, category="DOA"))
    assert answer.status_code == 422
    beside = re.search(
        r'name="category".*?</select>\s*<span class="field-problem" role="alert">([^<]*)<',
        answer.text,
        re.S,
    )
    assert beside and "WH, not DOA" in beside.group(1)
    assert 'value="R-100"' in answer.text  # the form keeps what was typed
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 5 and standing(db) == []


def test_a_repair_number_used_twice_is_refused_beside_the_repair_number(
    as_user, db, today, stocked
):
    b = as_user("sp-a")
    first = written_off(b, today)
    again = b.post("/ui/repairs/new", in_warranty(today, repair_number="r-100"))
    assert again.status_code == 409
    beside = re.search(
        r'name="repair_number"[^>]*>\s*<span class="field-problem" role="alert">([^<]*)<',
        again.text,
    )
    assert beside and first in beside.group(1)
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 4 and len(standing(db)) == 1


def test_a_bad_quantity_and_too_little_stock_change_nothing(as_user, db, today, stocked):
    b = as_user("sp-a")
    bad = b.post("/ui/repairs/new", in_warranty(today, quantity=["two", "", ""]))
    assert bad.status_code == 422 and "不是整数" in bad.text
    short = b.post("/ui/repairs/new", in_warranty(today, quantity=["9", "", ""]))
    assert short.status_code == 409 and "SP-A" in short.text
    late = b.post(
        "/ui/repairs/new", in_warranty(today, reported_on=(today + timedelta(days=1)).isoformat())
    )
    assert late.status_code == 422
    assert re.search(r'name="reported_on"[^>]*>\s*<span class="field-problem"', late.text)
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 5 and standing(db) == []


def test_the_same_form_sent_twice_writes_off_once(as_user, db, today, stocked):
    b = as_user("sp-a")
    first = b.post("/ui/repairs/new", in_warranty(today), key="double-click")
    second = b.post("/ui/repairs/new", in_warranty(today), key="double-click")
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 4 and len(standing(db)) == 1


def test_another_points_repair_is_not_found(as_user, today, stocked):
    number = written_off(as_user("sp-a"), today)
    other = as_user("sp-b")
    assert other.get(f"/ui/repairs/{number}").status_code == 404
    assert other.get("/ui/repairs/RP-999999").status_code == 404
    refused = other.post(f"/ui/repairs/{number}/reverse", {"reason": "not ours"})
    assert refused.status_code == 404
    assert number not in other.get("/ui/repairs").text


def test_a_reversal_sent_twice_or_with_the_same_key_reverses_once(as_user, db, today, stocked):
    b = as_user("sp-a")
    number = written_off(b, today)
    no_reason = b.post(f"/ui/repairs/{number}/reverse", {"reason": " "})
    assert no_reason.status_code == 422 and pn.balance(db, "SP-A:STOCK:P-LCD") == 4
    first = b.post(f"/ui/repairs/{number}/reverse", {"reason": "wrong handset"}, key="rev-1")
    same = b.post(f"/ui/repairs/{number}/reverse", {"reason": "wrong handset"}, key="rev-1")
    assert first.status_code == same.status_code == 303
    again = b.post(f"/ui/repairs/{number}/reverse", {"reason": "again"})
    assert again.status_code == 409
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 5
    assert pn.balance(db, "SP-A:DEFECTIVE:P-LCD") == 0
    pn.sound(db)
    page = b.get(f"/ui/repairs/{number}")
    assert "wrong handset" in page.text and 'data-testid="reverse-form"' not in page.text
    assert [r.state.value for r in standing(db)] == ["reversed"]
    # The number is free again.
    assert written_off(b, today) != number


def test_the_list_filters_by_category_and_state_and_refuses_a_bad_month(as_user, today, stocked):
    b = as_user("sp-a")
    wh = written_off(b, today)
    f = written_off(b, today, repair_number="R-200", man_made_damage="true")
    only_f = b.get("/ui/repairs?category=F&month=")
    assert f in only_f.text and wh not in only_f.text
    assert 'data-testid="month-summary"' not in only_f.text  # every month: no summary
    standing_only = b.get("/ui/repairs?state=reversed", headers={"HX-Request": "true"})
    assert wh not in standing_only.text and "<html" not in standing_only.text
    bad = b.get("/ui/repairs?month=2026-13")
    assert bad.status_code == 422 and "YYYY-MM" in bad.text


def test_the_pages_speak_english_when_asked(as_user, today, stocked):
    b = as_user("sp-a")
    number = written_off(b, today)
    b.post("/ui/language", {"locale": "en", "back": "/"})
    page = b.get(f"/ui/repairs/{number}")
    assert "Reverse the write-off" in page.text and "in warranty until" in page.text
    assert "Write off the parts" in b.get("/ui/repairs/new").text


def test_a_reversal_is_refused_with_the_services_words_once_the_core_has_shipped(
    as_user, db, today, stocked
):
    b = as_user("sp-a")
    number = written_off(b, today)
    point = pn.actor(db, "sp-a")
    db.transact(
        lambda s: receiving.return_parts(
            s,
            point,
            lines=[LineIn(sku="P-LCD", quantity=1)],
            defective=True,
            courier="SF",
            tracking_number="SF1",
        )
    )
    refused = b.post(f"/ui/repairs/{number}/reverse", {"reason": "wrong handset"})
    assert refused.status_code == 409
    assert "cannot be reversed" in refused.text and 'data-testid="reverse-form"' in refused.text
    assert "wrong handset" in refused.text  # the reason typed is kept
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 4
    assert [r.state.value for r in standing(db)] == ["written_off"]


def test_the_form_over_htmx_swaps_only_itself_and_redirects_on_success(as_user, db, today, stocked):
    b = as_user("sp-a")
    htmx = {"HX-Request": "true"}
    line = b.get("/ui/repairs/new/line", headers=htmx)
    assert line.status_code == 200 and line.text.lstrip().startswith("<tr")
    refused = b.post("/ui/repairs/new", in_warranty(today, category="F"), headers=htmx)
    assert refused.status_code == 422 and "<html" not in refused.text
    assert refused.text.lstrip().startswith("<form") and "WH, not F" in refused.text
    done = b.post("/ui/repairs/new", in_warranty(today), headers=htmx)
    assert done.status_code == 200 and NUMBER.search(done.headers["HX-Redirect"])
    assert len(standing(db)) == 1
