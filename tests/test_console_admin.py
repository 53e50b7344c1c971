"""The console's admin pages: parts and their prices, locations, approval
levels, users and the master-data change history, over the same services as
the HTTP API."""

from __future__ import annotations

import pytest

from ledger import users
from ledger.catalog import history, locations, parts
from ledger.errors import Forbidden
from ledger.policy import SYSTEM
from tests.parts_network import actor

NEW_PART = {
    "sku": "X9-LCD",
    "name_zh": "X9 屏幕",
    "name_en": "X9 screen",
    "category": "screen",
    "warranty_class": "handset",
    "returnable": "true",
    "active": "true",
}


def _part(db, sku):
    with db.reading() as s:
        return parts.get_part(s, SYSTEM, sku)


def _skus(db):
    with db.reading() as s:
        return [p.sku for p in parts.list_parts(s, SYSTEM, limit=1000)]


def _location(db, code):
    with db.reading() as s:
        return locations.get_location(s, SYSTEM, code)


def _user(db, username):
    with db.reading() as s:
        return users.get_user(s, SYSTEM, username)


# -- parts ------------------------------------------------------------------------------


def test_an_admin_adds_a_part_and_prices_it_and_the_history_shows_who(as_user, db):
    b = as_user("admin")
    assert b.get("/ui/admin/parts/new").status_code == 200
    made = b.post("/ui/admin/parts", NEW_PART)
    assert made.status_code == 303 and made.headers["location"] == "/ui/admin/parts/X9-LCD"
    today = db.window.today().isoformat()
    priced = b.post(
        "/ui/admin/parts/X9-LCD/prices",
        {"effective_from": today, "standard_cost": "1,234.50", "list_price": "2468"},
    )
    assert priced.status_code == 303

    part = _part(db, "X9-LCD")
    assert part.returnable and part.current_price.standard_cost == 123_450
    assert part.current_price.list_price == 246_800

    shown = b.get("/ui/admin/parts/X9-LCD")
    assert shown.status_code == 200
    assert "¥1,234.50" in shown.text and "¥2,468.00" in shown.text
    assert "X9 屏幕" in shown.text and "价格" in shown.text
    assert 'data-testid="changes"' in shown.text and "admin" in shown.text

    log = b.get("/ui/admin/history?code=X9-LCD")
    assert log.status_code == 200
    assert "admin" in log.text and "¥1,234.50" in log.text
    assert log.text.count("<tr>") >= 3  # the head, the part, its price

    listed = b.get("/ui/admin/parts?q=x9")
    assert "X9-LCD" in listed.text and "¥1,234.50" in listed.text
    assert "P-LCD" not in listed.text


def test_a_duplicate_sku_is_told_beside_the_field_and_nothing_is_created(as_user, db):
    b = as_user("admin")
    before = _part(db, "P-LCD")
    answer = b.post("/ui/admin/parts", {**NEW_PART, "sku": "P-LCD", "name_zh": "另一个"})
    assert answer.status_code == 409
    assert "已存在" in answer.text
    assert 'class="field-problem"' in answer.text and "P-LCD already exists" in answer.text
    assert 'value="另一个"' in answer.text  # what was typed is kept
    assert _part(db, "P-LCD") == before


def test_a_price_that_is_no_amount_is_a_422_beside_its_field(as_user, db):
    b = as_user("admin")
    answer = b.post(
        "/ui/admin/parts/P-LCD/prices",
        {"effective_from": db.window.today().isoformat(), "standard_cost": "abc",
         "list_price": "10"},
    )  # fmt: skip
    assert answer.status_code == 422
    assert "“abc”" in answer.text and 'class="field-problem"' in answer.text
    assert 'value="abc"' in answer.text
    with db.reading() as s:
        assert len(parts.part_prices(s, SYSTEM, "P-LCD")) == 1


def test_the_same_form_twice_makes_one_part(as_user, db):
    b = as_user("admin")
    first = b.post("/ui/admin/parts", NEW_PART, key="fixed-key")
    second = b.post("/ui/admin/parts", NEW_PART, key="fixed-key")
    assert first.status_code == 303
    assert second.status_code == 409  # it exists: the first send made it
    assert _skus(db).count("X9-LCD") == 1
    with db.reading() as s:
        assert len(parts.part_history(s, SYSTEM, "X9-LCD")) == 1


def test_an_admin_edits_a_part(as_user, db):
    b = as_user("admin")
    answer = b.post(
        "/ui/admin/parts/P-BATT",
        {"name_zh": "电池", "name_en": "Battery", "category": "battery",
         "warranty_class": "battery", "active": "true"},
    )  # fmt: skip
    assert answer.status_code == 303
    part = _part(db, "P-BATT")
    assert (part.name_zh, part.warranty_class.value, part.returnable) == ("电池", "battery", False)
    page = b.get("/ui/admin/parts/P-BATT")
    assert "零件 P-BATT" in page.text and "电池" in page.text  # old → new in the history


def test_a_clerk_posting_an_admin_form_gets_the_403_page_and_nothing_changes(as_user, db):
    b = as_user("clerk")
    answer = b.post("/ui/admin/parts", NEW_PART)
    assert answer.status_code == 403
    assert "您的角色无权执行此操作" in answer.text
    assert "X9-LCD" not in _skus(db)
    status = b.post("/ui/admin/locations/SP-A/status", {"status": "suspended", "reason": "x"})
    assert status.status_code == 403
    assert _location(db, "SP-A").status.value == "active"
    assert b.get("/ui/admin/users").status_code == 403
    assert b.post("/ui/admin/users/sp-a/active", {}).status_code == 403
    assert _user(db, "sp-a").active


def test_an_unknown_part_is_a_404_page(as_user):
    answer = as_user("admin").get("/ui/admin/parts/NO-SUCH")
    assert answer.status_code == 404 and "NO-SUCH" in answer.text


# -- locations --------------------------------------------------------------------------


def test_an_admin_edits_a_location_and_suspends_it_with_a_reason(as_user, db):
    b = as_user("admin")
    listed = b.get("/ui/admin/locations?kind=service_point&status=active")
    assert "/ui/admin/locations/SP-A" in listed.text
    assert "/ui/admin/locations/SP-OFF" not in listed.text  # suspended
    assert "/ui/admin/locations/RW-S" not in listed.text  # a warehouse

    edit = b.post(
        "/ui/admin/locations/SP-A",
        {"name": "深圳南山网点", "region": "South", "province": "Guangdong", "city": "Shenzhen",
         "grade": "B", "served_by": "RW-N"},
    )  # fmt: skip
    assert edit.status_code == 303 and edit.headers["location"] == "/ui/admin/locations/SP-A"
    location = _location(db, "SP-A")
    assert (location.name, location.grade, location.served_by) == ("深圳南山网点", "B", "RW-N")

    suspend = b.post("/ui/admin/locations/SP-A/status", {"status": "suspended", "reason": "审计"})
    assert suspend.status_code == 303
    location = _location(db, "SP-A")
    assert location.status.value == "suspended" and location.status_reason == "审计"

    page = b.get("/ui/admin/locations/SP-A")
    assert "已暂停" in page.text and "审计" in page.text
    assert "RW-S" in page.text and "RW-N" in page.text  # served by: old → new


def test_terminating_is_refused_with_the_services_words(as_user, db):
    b = as_user("admin")
    answer = b.post("/ui/admin/locations/SP-A/status", {"status": "terminated", "reason": "end"})
    assert answer.status_code == 409
    assert "terminated by its termination" in answer.text
    assert _location(db, "SP-A").status.value == "active"


def test_a_location_with_a_bad_warehouse_is_told_beside_the_field(as_user, db):
    b = as_user("admin")
    answer = b.post(
        "/ui/admin/locations",
        {"kind": "service_point", "code": "SP-C", "name": "C", "region": "South",
         "province": "Guangdong", "city": "Shenzhen", "grade": "A", "served_by": "HQ"},
    )  # fmt: skip
    assert answer.status_code == 422
    assert 'class="field-problem"' in answer.text and "regional warehouse" in answer.text
    made = b.post(
        "/ui/admin/locations",
        {"kind": "service_point", "code": "sp-c", "name": "C", "region": "South",
         "province": "Guangdong", "city": "Shenzhen", "grade": "A", "served_by": "rw-s"},
    )  # fmt: skip
    assert made.status_code == 303
    assert _location(db, "SP-C").served_by == "RW-S"


# -- approval levels --------------------------------------------------------------------


def test_approval_levels_are_listed_added_changed_and_given(as_user, db):
    b = as_user("admin")
    page = b.get("/ui/admin/approval-levels")
    assert "L1" in page.text and "¥5,000.00" in page.text
    made = b.post(
        "/ui/admin/approval-levels",
        {"code": "L3", "name": "Director", "rank": "3", "quantity_limit": "5000",
         "amount_limit": "1,000,000"},
    )  # fmt: skip
    assert made.status_code == 303
    bad = b.post(
        "/ui/admin/approval-levels",
        {"code": "L4", "name": "X", "rank": "4", "quantity_limit": "many", "amount_limit": "1"},
    )  # fmt: skip
    assert bad.status_code == 422 and "“many”" in bad.text
    lower = b.post(
        "/ui/admin/approval-levels/L3",
        {"name": "Director", "rank": "3", "quantity_limit": "10", "amount_limit": "1000000",
         "active": "true"},
    )  # fmt: skip
    assert lower.status_code == 409  # below L2's limits: the service's rule
    given = b.post("/ui/admin/approval-levels/assign", {"username": "approver1", "level": "L3"})
    assert given.status_code == 303 and given.headers["location"] == "/ui/admin/users/approver1"
    with db.reading() as s:
        levels = {lv.code: lv for lv in locations.list_levels(s, SYSTEM)}
        assert levels["L3"].amount_limit == 100_000_000 and levels["L3"].quantity_limit == 5000
        assert locations.limits_of(s, "approver1").code == "L3"
    assert "L3" in b.get("/ui/admin/users/approver1").text
    wrong = b.post("/ui/admin/approval-levels/assign", {"username": "clerk", "level": "L3"})
    assert wrong.status_code == 409 and "only an approver" in wrong.text


# -- users ------------------------------------------------------------------------------


def test_an_admin_adds_a_point_user_who_can_then_sign_in(as_user, db):
    b = as_user("admin")
    answer = b.post(
        "/ui/admin/users",
        {"username": "sp-a2", "password": "another-long-one", "role": "service_point",
         "service_point": "sp-a"},
    )  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/admin/users/sp-a2"
    assert _user(db, "sp-a2").service_point == "SP-A"
    assert "sp-a2" in b.get("/ui/admin/users?role=service_point").text

    newcomer = as_user()
    signed = newcomer.sign_in("sp-a2", password="another-long-one")
    assert signed.status_code == 303
    assert "sp-a2" in newcomer.get("/").text


def test_a_point_user_without_a_point_is_refused_beside_the_field(as_user, db):
    b = as_user("admin")
    answer = b.post(
        "/ui/admin/users",
        {"username": "lost", "password": "another-long-one", "role": "service_point"},
    )
    assert answer.status_code == 422 and 'class="field-problem"' in answer.text
    assert "another-long-one" not in answer.text  # a password is never shown again
    with db.reading() as s:
        assert "lost" not in [u.username for u in users.list_users(s, SYSTEM)]


def test_deactivating_a_user_ends_their_console_session(as_user, db):
    admin = as_user("admin")
    clerk = as_user("clerk")
    assert clerk.client.get("/", follow_redirects=False).status_code == 200
    answer = admin.post("/ui/admin/users/clerk/active", {})
    assert answer.status_code == 303
    assert not _user(db, "clerk").active
    assert clerk.client.get("/", follow_redirects=False).status_code == 303
    assert "已停用" in admin.get("/ui/admin/users/clerk").text
    again = admin.post("/ui/admin/users/clerk/active", {"active": "true"})
    assert again.status_code == 303 and _user(db, "clerk").active


def test_an_admin_may_not_lock_themself_out(as_user, db):
    b = as_user("admin")
    answer = b.post("/ui/admin/users/admin/active", {})
    assert answer.status_code == 409
    assert "不能将自己锁定在外" in answer.text or "may not deactivate themself" in answer.text
    role = b.post("/ui/admin/users/admin/role", {"role": "finance"})
    assert role.status_code == 409
    assert _user(db, "admin").active and _user(db, "admin").role.value == "admin"


def test_an_admin_changes_a_role_and_resets_a_password(as_user, db):
    b = as_user("admin")
    finance = as_user("finance")
    changed = b.post("/ui/admin/users/finance/role", {"role": "planner"})
    assert changed.status_code == 303
    assert _user(db, "finance").role.value == "planner"
    assert finance.client.get("/", follow_redirects=False).status_code == 303
    short = b.post("/ui/admin/users/finance/password", {"password": "short"})
    assert short.status_code == 422 and "at least 8" in short.text
    reset = b.post("/ui/admin/users/finance/password", {"password": "a-brand-new-one"})
    assert reset.status_code == 303
    assert as_user().sign_in("finance", password="a-brand-new-one").status_code == 303


# -- history ----------------------------------------------------------------------------


def test_the_history_pages_back_and_filters_by_kind(as_user, db, monkeypatch):
    monkeypatch.setattr("api.web.admin.PAGE", 5)
    b = as_user("admin")
    page = b.get("/ui/admin/history?kind=location")
    assert page.status_code == 200
    assert "SP-OFF" in page.text and "P-LCD" not in page.text
    first = b.get("/ui/admin/history")
    assert 'rel="next"' in first.text  # the network made more than five changes
    after = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = b.get(after.replace("&amp;", "&"))
    assert second.status_code == 200 and "<td>" in second.text


def test_list_changes_is_newest_first_pages_back_and_is_the_admins(db):
    from tests.parts_network import network

    network(db)
    with db.reading() as s:
        everything = history.list_changes(s, SYSTEM, limit=1000)
        ids = [c.id for c in everything]
        assert ids == sorted(ids, reverse=True)
        page = history.list_changes(s, SYSTEM, limit=3)
        rest = history.list_changes(s, SYSTEM, before=page[-1].id, limit=1000)
        assert [c.id for c in page + rest] == ids
        only = history.list_changes(s, SYSTEM, entity="part_price", key="P-LCD")
        assert [c.after["standard_cost"] for c in only] == [10_000]
        with pytest.raises(Forbidden):
            history.list_changes(s, actor(db, "clerk"))


def test_the_pages_speak_english_when_asked(as_user):
    b = as_user("admin")
    b.post("/ui/language", {"locale": "en", "back": "/"})
    page = b.get("/ui/admin/parts")
    assert "Standard cost" in page.text and "¥100.00" in page.text
    assert "Served by" in b.get("/ui/admin/locations").text


def test_lists_page_on_the_server_and_htmx_gets_only_the_table(as_user, monkeypatch):
    monkeypatch.setattr("api.web.admin.PAGE", 2)
    b = as_user("admin")
    first = b.get("/ui/admin/parts?active=true")
    assert "P-BATT" in first.text and "P-BOARD" in first.text and "P-LCD" not in first.text
    assert "/ui/admin/parts?active=true&amp;after=P-BOARD" in first.text
    second = b.get("/ui/admin/parts?active=true&after=P-BOARD", headers={"HX-Request": "true"})
    assert "<html" not in second.text and 'data-testid="parts"' in second.text
    assert "P-LCD" in second.text and "P-OLD" not in second.text  # inactive
    users_page = b.get("/ui/admin/users?role=approver", headers={"HX-Request": "true"})
    assert "approver1" in users_page.text and "clerk" not in users_page.text


def test_the_master_data_pages_are_the_administrators_only(as_user):
    for username in ("sp-a", "clerk", "finance"):
        b = as_user(username)
        for path in ("/ui/admin/locations/SP-B", "/ui/admin/parts/P-LCD", "/ui/admin/history"):
            refused = b.get(path)
            assert refused.status_code == 403
            assert "修改" not in refused.text  # no edit form shown
    assert as_user("admin").get("/ui/admin/parts/P-LCD").status_code == 200
