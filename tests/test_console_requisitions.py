"""The console's requisition pages: a point raises and submits, an approver
decides, the clerk issues; the hostile cases of each (another point's
number, a stale form, a double post, a bad number)."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from ledger.errors import Forbidden, NotFound
from ledger.parts import requisitions
from ledger.parts.requisitions import LineIn, State
from tests.parts_network import actor, balance, sound, stock

pytestmark = pytest.mark.usefixtures("console_app")

NUMBER = re.compile(r"/ui/requisitions/(RQ-\d+)$")


@pytest.fixture
def stocked(db):
    stock(db, "RW-S", "P-LCD", 50)
    stock(db, "RW-S", "P-BATT", 40)


def _raise(browser, lines, *, action="submit", key=True):
    data = {"action": action}
    for i, (sku, quantity) in enumerate(lines):
        data[f"lines[{i}].sku"] = sku
        data[f"lines[{i}].quantity"] = str(quantity)
    answer = browser.post("/ui/requisitions/new", data, key=key)
    assert answer.status_code == 303, answer.text
    return NUMBER.search(answer.headers["location"]).group(1)


def _view(db, username, number):
    with db.reading() as s:
        return requisitions.get(s, actor(db, username), number)


def _all(db, username="admin", **filters):
    with db.reading() as s:
        return requisitions.list_requisitions(s, actor(db, username), **filters)


def test_a_point_raises_a_draft_then_submits_it(as_user, db, stocked):
    sp = as_user("sp-a")
    form = sp.get("/ui/requisitions/new")
    assert form.status_code == 200 and 'data-testid="requisition-form"' in form.text
    assert "保存草稿" in form.text and "提交" in form.text
    number = _raise(sp, [("P-LCD", 4), ("P-BATT", 6)], action="draft")
    draft = sp.get(f"/ui/requisitions/{number}")
    assert draft.status_code == 200
    assert "草稿" in draft.text and 'data-testid="submit"' in draft.text
    assert _view(db, "sp-a", number).state is State.DRAFT

    assert sp.post(f"/ui/requisitions/{number}/submit").status_code == 303
    view = _view(db, "sp-a", number)
    assert view.state is State.SUBMITTED and view.amount == 4 * 10_000 + 6 * 3_000
    page = sp.get(f"/ui/requisitions/{number}").text
    assert "¥580.00" in page and "已提交" in page

    listed = sp.get("/ui/requisitions?state=submitted")
    assert number in listed.text and f'href="/ui/requisitions/{number}"' in listed.text
    assert number not in sp.get("/ui/requisitions?state=draft").text


def test_the_approver_approves_in_part_and_the_stock_is_reserved(as_user, db, stocked):
    sp = as_user("sp-a")
    number = _raise(sp, [("P-LCD", 4), ("P-BATT", 6)])
    approver = as_user("approver1")
    queue = approver.get("/ui/requisitions?awaiting=within")
    assert number in queue.text
    page = approver.get(f"/ui/requisitions/{number}")
    assert 'data-testid="approve-form"' in page.text
    assert (
        'data-testid="point-stock"' in page.text
        and 'data-testid="recent-requisitions"' in page.text
    )
    answer = approver.post(
        f"/ui/requisitions/{number}/approve",
        {"lines[0].quantity": "2", "lines[1].quantity": "6", "reason": "two screens for now"},
    )
    assert answer.status_code == 303
    view = _view(db, "sp-a", number)
    assert view.state is State.APPROVED
    assert [line.approved for line in view.lines] == [2, 6]
    assert balance(db, "RW-S:RESERVED:P-LCD") == 2 and balance(db, "RW-S:STOCK:P-LCD") == 48
    shown = sp.get(f"/ui/requisitions/{number}").text
    assert "two screens for now" in shown and "approver1" in shown
    assert 'data-testid="approve-form"' not in shown  # a point never sees the approver's form


def test_the_approver_rejects_with_a_reason_and_a_reason_is_required(as_user, db, stocked):
    number = _raise(as_user("sp-a"), [("P-LCD", 3)])
    approver = as_user("approver1")
    empty = approver.post(f"/ui/requisitions/{number}/reject", {"reason": "  "})
    assert empty.status_code == 422
    assert _view(db, "approver1", number).state is State.SUBMITTED
    answer = approver.post(f"/ui/requisitions/{number}/reject", {"reason": "stock enough at point"})
    assert answer.status_code == 303
    view = _view(db, "approver1", number)
    assert view.state is State.REJECTED
    assert view.history[-1].reason == "stock enough at point"
    assert "stock enough at point" in approver.get(f"/ui/requisitions/{number}").text


def test_the_clerk_issues_with_a_courier_and_a_double_post_ships_once(as_user, db, stocked):
    number = _raise(as_user("sp-a"), [("P-LCD", 4), ("P-BATT", 6)])
    approver = as_user("approver1")
    assert approver.post(f"/ui/requisitions/{number}/approve", key="ap-1").status_code == 303
    assert approver.post(f"/ui/requisitions/{number}/approve", key="ap-1").status_code == 303
    assert [h.action for h in _view(db, "admin", number).history].count("approve") == 1
    assert balance(db, "RW-S:RESERVED:P-LCD") == 4

    clerk = as_user("clerk")
    queue = clerk.get("/ui/to-ship?warehouse=RW-S")
    assert number in queue.text
    assert number not in clerk.get("/ui/to-ship?warehouse=RW-N").text
    page = clerk.get(f"/ui/requisitions/{number}")
    assert 'data-testid="issue-form"' in page.text and 'value="4"' in page.text
    picks = clerk.get(f"/ui/requisitions/{number}/pick-list")
    assert picks.status_code == 200 and "P-BATT" in picks.text and ">10<" in picks.text
    sheet = clerk.get(f"/ui/requisitions/{number}/pick-list.xlsx")
    assert sheet.status_code == 200 and sheet.headers["content-disposition"].startswith(
        "attachment"
    )
    with zipfile.ZipFile(io.BytesIO(sheet.content)) as book:
        strings = book.read("xl/sharedStrings.xml").decode()
    assert "P-LCD" in strings and "P-BATT" in strings and number in strings

    form = {"lines[0].quantity": "4", "lines[1].quantity": "6", "courier": "SF Express",
            "tracking_number": "SF123"}  # fmt: skip
    assert clerk.post(f"/ui/requisitions/{number}/issue", form, key="iss-1").status_code == 303
    again = clerk.post(f"/ui/requisitions/{number}/issue", form, key="iss-1")
    assert again.status_code == 303
    view = _view(db, "admin", number)
    assert view.state is State.ISSUED and len(view.shipments) == 1
    assert [line.shipped for line in view.lines] == [4, 6]
    assert balance(db, "RW-S:RESERVED:P-LCD") == 0
    assert balance(db, "SP-A:TRANSIT:P-LCD") == 4
    shown = clerk.get(f"/ui/requisitions/{number}").text
    assert f'href="/ui/shipments/{view.shipments[0]}"' in shown
    assert number not in clerk.get("/ui/to-ship").text
    sound(db)


def test_another_points_requisition_is_the_not_found_page(as_user, stocked):
    number = _raise(as_user("sp-a"), [("P-LCD", 1)])
    sp_b = as_user("sp-b")
    answer = sp_b.get(f"/ui/requisitions/{number}")
    assert answer.status_code == 404 and "P-LCD" not in answer.text
    assert sp_b.post(f"/ui/requisitions/{number}/cancel").status_code == 404
    assert number not in sp_b.get("/ui/requisitions").text


def test_a_stale_approve_after_a_reject_is_a_409_and_changes_nothing(as_user, db, stocked):
    number = _raise(as_user("sp-a"), [("P-LCD", 3)])
    first, second = as_user("approver1"), as_user("approver2")
    assert second.get(f"/ui/requisitions/{number}").status_code == 200  # the form is open
    assert first.post(f"/ui/requisitions/{number}/reject", {"reason": "no"}).status_code == 303
    stale = second.post(f"/ui/requisitions/{number}/approve", {"lines[0].quantity": "3"})
    assert stale.status_code == 409
    assert 'data-testid="problem"' in stale.text and "rejected" in stale.text
    view = _view(db, "admin", number)
    assert view.state is State.REJECTED and view.lines[0].approved is None
    assert balance(db, "RW-S:RESERVED:P-LCD") == 0


def test_a_bad_quantity_is_shown_on_its_line_and_nothing_is_raised(as_user, db, stocked):
    sp = as_user("sp-a")
    answer = sp.post(
        "/ui/requisitions/new",
        {"lines[0].sku": "P-LCD", "lines[0].quantity": "2",
         "lines[3].sku": "P-BATT", "lines[3].quantity": "abc", "action": "submit"},
    )  # fmt: skip
    assert answer.status_code == 422
    assert "“abc”不是整数" in answer.text or "abc" in answer.text
    # the problem sits on the second line typed (the empty lines between are left out)
    rows = answer.text.split('data-testid="line"')
    assert "abc" in rows[2] and 'role="alert"' in rows[2] and 'role="alert"' not in rows[1]
    assert _all(db) == []
    # the service's own problem on a line: a SKU that is no part
    unknown = sp.post(
        "/ui/requisitions/new",
        {"lines[0].sku": "P-LCD", "lines[0].quantity": "2",
         "lines[1].sku": "NOPE", "lines[1].quantity": "1", "action": "draft"},
    )  # fmt: skip
    assert unknown.status_code == 422
    rows = unknown.text.split('data-testid="line"')
    assert "NOPE" in rows[2] and 'class="field-problem"' in rows[2]
    assert _all(db) == []


def test_the_same_form_posted_twice_raises_one_requisition(as_user, db, stocked):
    sp = as_user("sp-a")
    first = _raise(sp, [("P-LCD", 1)], key="new-1")
    assert _raise(sp, [("P-LCD", 1)], key="new-1") == first
    assert len(_all(db)) == 1


def test_the_part_search_and_each_line_show_what_the_warehouse_has(as_user, db, stocked):
    sp = as_user("sp-a")
    found = sp.get("/ui/requisitions/part-search?q=p-l", headers={"HX-Request": "true"})
    assert found.status_code == 200 and "<html" not in found.text
    row = found.text.split('data-testid="part-result"')[1]
    assert "P-LCD" in row and ">50<" in row and "RW-S" in found.text
    assert (
        sp.get("/ui/requisitions/part-search?q=零件").text.count('data-testid="part-result"') == 3
    )
    line = sp.get("/ui/requisitions/availability?lines%5B2%5D.sku=P-BATT")
    assert "40" in line.text and "RW-S" in line.text
    assert "不是目录中的备件" in sp.get("/ui/requisitions/availability?sku=NOPE").text
    added = sp.get("/ui/requisitions/new-line?sku=P-LCD")
    assert 'value="P-LCD"' in added.text and "50" in added.text
    # staff name the requester; the approver sees the same figures for SP-B
    clerk = as_user("clerk")
    assert "—" in clerk.get("/ui/requisitions/part-search?q=P-LCD").text
    assert ">50<" in clerk.get("/ui/requisitions/part-search?q=P-LCD&requester=SP-B").text


def test_availability_is_the_supplying_warehouses_stock_for_the_requester(db, stocked):
    with db.reading() as s:
        own = requisitions.availability(s, actor(db, "sp-a"), ["P-LCD", "P-BOARD", "NOPE"])
        assert own.warehouse == "RW-S" and own.requester == "SP-A"
        assert own.available == {"P-LCD": 50, "P-BOARD": 0}
        with pytest.raises(NotFound):
            requisitions.availability(s, actor(db, "sp-a"), ["P-LCD"], requester="SP-B")
        staff = requisitions.availability(s, actor(db, "clerk"), ["P-BATT"], requester="SP-B")
        assert staff.available == {"P-BATT": 40}
        with pytest.raises(Forbidden):
            requisitions.availability(s, actor(db, "finance"), ["P-BATT"], requester="SP-B")


def test_reserved_units_are_not_available(db, stocked):
    sp = actor(db, "sp-a")
    rq = db.transact(
        lambda s: requisitions.create(s, sp, lines=[LineIn(sku="P-LCD", quantity=5)], submit=True)
    )
    db.transact(lambda s: requisitions.approve(s, actor(db, "approver1"), rq.number))
    with db.reading() as s:
        assert requisitions.availability(s, sp, ["P-LCD"]).available == {"P-LCD": 45}


def test_the_list_pages_on_the_server_and_newest_first_on_request(as_user, db, stocked):
    sp = actor(db, "sp-a")
    made = [
        db.transact(
            lambda s: requisitions.create(s, sp, lines=[LineIn(sku="P-LCD", quantity=1)])
        ).number
        for _ in range(3)
    ]
    assert [r.number for r in _all(db, descending=True)] == made[::-1]
    assert [r.number for r in _all(db, descending=True, after=made[2])] == made[1::-1]
    browser = as_user("sp-a")
    page = browser.get(f"/ui/requisitions?after={made[0]}")
    assert made[0] not in page.text.replace(f"after={made[0]}", "") and made[1] in page.text
    table = browser.get("/ui/requisitions?state=draft", headers={"HX-Request": "true"})
    assert "<html" not in table.text and 'data-testid="requisitions"' in table.text


def test_in_english_too(as_user, stocked):
    sp = as_user("sp-a")
    assert sp.post("/ui/language", {"locale": "en", "back": "/"}).status_code == 303
    number = _raise(sp, [("P-LCD", 1)], action="draft")
    page = sp.get(f"/ui/requisitions/{number}").text
    assert "Submit for approval" in page and "draft" in page
    assert "Save draft" in sp.get("/ui/requisitions/new").text


def test_a_point_cancels_with_a_reason_and_the_reservation_goes_back(as_user, db, stocked):
    sp = as_user("sp-a")
    number = _raise(sp, [("P-LCD", 3)])
    assert as_user("approver1").post(f"/ui/requisitions/{number}/approve").status_code == 303
    assert balance(db, "RW-S:RESERVED:P-LCD") == 3
    assert 'data-testid="cancel"' in sp.get(f"/ui/requisitions/{number}").text
    answer = sp.post(f"/ui/requisitions/{number}/cancel", {"reason": "repaired another way"})
    assert answer.status_code == 303
    view = _view(db, "sp-a", number)
    assert view.state is State.CANCELLED and view.history[-1].reason == "repaired another way"
    assert balance(db, "RW-S:RESERVED:P-LCD") == 0 and balance(db, "RW-S:STOCK:P-LCD") == 50


def test_beyond_the_approvers_limits_it_is_escalated_to_the_next_level(as_user, db, stocked):
    number = _raise(as_user("sp-a"), [("P-LCD", 25)])  # 25 units: beyond L1's 20
    first = as_user("approver1")
    assert number not in first.get("/ui/requisitions?awaiting=within").text
    assert number in first.get("/ui/requisitions?awaiting=above").text
    refused = first.post(f"/ui/requisitions/{number}/approve")
    assert refused.status_code == 403 and 'data-testid="problem"' in refused.text
    assert _view(db, "admin", number).state is State.SUBMITTED
    assert first.post(f"/ui/requisitions/{number}/escalate", {"reason": "big"}).status_code == 303
    second = as_user("approver2")
    assert number in second.get("/ui/requisitions?awaiting=within").text
    assert second.post(f"/ui/requisitions/{number}/approve").status_code == 303
    assert _view(db, "admin", number).approved_quantity == 25


def test_with_htmx_a_refused_form_comes_back_alone_with_its_problem(as_user, db, stocked):
    sp = as_user("sp-a")
    answer = sp.post(
        "/ui/requisitions/new",
        {"lines[0].sku": "P-LCD", "lines[0].quantity": "0", "action": "submit"},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 422
    assert "<html" not in answer.text and 'data-testid="requisition-form"' in answer.text
    assert 'value="P-LCD"' in answer.text and 'role="alert"' in answer.text
    ok = sp.post(
        "/ui/requisitions/new",
        {"lines[0].sku": "P-LCD", "lines[0].quantity": "2", "action": "submit"},
        headers={"HX-Request": "true"},
    )
    assert ok.status_code == 200 and ok.headers["HX-Redirect"].startswith("/ui/requisitions/RQ-")
    assert _all(db)[0].state is State.SUBMITTED


def test_a_clerk_cannot_ship_more_than_is_left_and_sees_it_on_the_line(as_user, db, stocked):
    number = _raise(as_user("sp-a"), [("P-LCD", 4)])
    as_user("approver1").post(f"/ui/requisitions/{number}/approve")
    clerk = as_user("clerk")
    answer = clerk.post(f"/ui/requisitions/{number}/issue", {"lines[0].quantity": "9"})
    assert answer.status_code == 422 and 'class="field-problem"' in answer.text
    assert 'value="9"' in answer.text  # what was typed stays in the form
    bad = clerk.post(f"/ui/requisitions/{number}/issue", {"lines[0].quantity": "abc"})
    assert bad.status_code == 422 and "“abc”不是整数" in bad.text
    assert _view(db, "admin", number).shipments == []


def test_the_list_sorts_on_the_server_oldest_or_newest_first_across_pages(as_user, db):
    stock(db, "RW-S", "P-BATT", 50)
    point = as_user("sp-a")
    made = []
    for _ in range(3):
        answer = point.post(
            "/ui/requisitions/new",
            {"lines[0].sku": "P-BATT", "lines[0].quantity": "1", "action": "draft"},
        )
        made.append(answer.headers["location"].rsplit("/", 1)[1])
    oldest = point.get("/ui/requisitions?state=draft").text
    newest = point.get("/ui/requisitions?state=draft&order=newest").text
    assert oldest.index(made[0]) < oldest.index(made[2])
    assert newest.index(made[2]) < newest.index(made[0])
