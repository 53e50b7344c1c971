"""The wrong things people do, in a real browser: a double-clicked submit, a
stale form after someone else acted, another point's document number typed
into the URL; and a form with a problem (screenshots in both languages)."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect


def _requisitions_of(page) -> list[str]:
    page.goto("/ui/requisitions?state=submitted")
    return re.findall(r"RQ-[0-9]{6,12}", page.inner_text("[data-testid=requisitions]"))


def _fill_lines(page, lines: dict[str, int]) -> None:
    rows = page.locator("[data-testid=line]")
    for i, (sku, quantity) in enumerate(lines.items()):
        rows.nth(i).locator("[data-testid=line-sku]").fill(sku)
        rows.nth(i).locator("[data-testid=line-quantity]").fill(str(quantity))


def test_a_double_clicked_submit_raises_one_requisition(person):
    who = person("sp0001")
    page = who.page
    before = _requisitions_of(page)
    page.goto("/ui/requisitions/new")
    _fill_lines(page, {"X1-CAM-R": 1})
    page.dblclick("[data-testid=submit-requisition]")
    # Both clicks may be answered (the second with the first's document):
    # the page ends on the one requisition either way.
    expect(page).to_have_url(re.compile(r"/ui/requisitions/RQ-"), timeout=15_000)
    after = _requisitions_of(page)
    assert len(after) == len(before) + 1


def test_the_same_form_sent_twice_after_a_timeout_does_it_once(person, server):
    who = person("sp0001")
    page = who.page
    before = _requisitions_of(page)
    page.goto("/ui/requisitions/new")
    _fill_lines(page, {"X1-CAM-R": 2})
    # The form as the browser would send it, sent twice (a retry after a timeout).
    form = page.eval_on_selector(
        "[data-testid=requisition-form]",
        "f => Array.from(new FormData(f).entries()).concat([['action', 'submit']])",
    )
    cookies = {c["name"]: c["value"] for c in who.context.cookies()}
    with httpx.Client(base_url=server, cookies=cookies, follow_redirects=False) as client:
        first = client.post("/ui/requisitions/new", data=dict(form))
        second = client.post("/ui/requisitions/new", data=dict(form))
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(_requisitions_of(page)) == len(before) + 1


def test_a_stale_form_after_someone_else_acted_says_so_and_changes_nothing(person):
    point = person("sp0001")
    page = point.page
    page.goto("/ui/requisitions/new")
    _fill_lines(page, {"X1-CHGR": 1})
    page.click("[data-testid=submit-requisition]")
    page.wait_for_url(re.compile(r"/ui/requisitions/RQ-"))
    number = re.search(r"RQ-[0-9]+", page.url).group(0)

    first, second = person("approver"), person("approver")  # two tabs of approvers
    first.page.goto(f"/ui/requisitions/{number}")
    second.page.goto(f"/ui/requisitions/{number}")
    first.page.fill("[data-testid=reject-form] [name=reason]", "本月已超量")
    first.page.click("[data-testid=reject]")
    first.page.wait_for_selector("[data-testid=state]:has-text('已驳回')")

    second.page.click("[data-testid=approve]")  # the page still shows it submitted
    problem = second.page.wait_for_selector("[data-testid=problem]")
    assert "可能已有他人处理" in problem.inner_text()
    second.page.goto(f"/ui/requisitions/{number}")
    assert "已驳回" in second.page.inner_text("[data-testid=state]")


def test_another_points_document_number_in_the_url_is_not_found(person):
    clerk = person("clerk")
    clerk.page.goto("/ui/requisitions?state=closed")
    theirs = re.findall(r"RQ-[0-9]+", clerk.page.inner_text("[data-testid=requisitions]"))
    point = person("sp0001")
    point.page.goto("/ui/requisitions?state=closed")
    mine = set(re.findall(r"RQ-[0-9]+", point.page.inner_text("main")))
    others = [n for n in theirs if n not in mine]
    assert others
    answer = point.page.goto(f"/ui/requisitions/{others[0]}")
    assert answer.status == 404
    assert "未找到" in point.page.inner_text("main")


def test_a_form_with_a_problem_shows_it_beside_the_line_in_both_languages(person):
    who = person("sp0001")
    page = who.page
    for locale in ("zh_CN", "en"):
        page.goto("/ui/requisitions/new")
        _fill_lines(page, {"X1-BATT": 2, "X1-NOT-A-PART": 1})
        page.click("[data-testid=submit-requisition]")
        line = page.locator("[data-testid=line]").nth(1)
        line.locator(".field-problem").wait_for()
        assert "X1-NOT-A-PART" in line.inner_text()
        who.shot("form-with-a-problem", locale)
        if locale == "zh_CN":
            assert "请检查您输入的内容" in page.inner_text("[data-testid=problem]")
            page.click("button[name=locale][value=en]")
            page.wait_for_load_state()
        else:
            assert "Please check what you entered" in page.inner_text("[data-testid=problem]")
            page.click("button[name=locale][value=zh_CN]")
            page.wait_for_load_state()
