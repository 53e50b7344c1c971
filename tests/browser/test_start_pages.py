"""Every demo user signs in and lands on their role's start page, in Chinese
by default and in English by the switch; screenshots of each land under
build/screenshots/<locale>/."""

from __future__ import annotations

import pytest

# username -> (role in Chinese, a task of that role's start page in Chinese, in English)
START = {
    "sp0001": ("服务网点", "待签收的发货", "Shipments to receive"),
    "clerk": ("仓库管理员", "待发货的已批申请", "Approved requisitions to ship"),
    "approver": ("审批人", "在我的权限内", "Within my limits"),
    "finance": ("财务", "未回签的对账单", "Statements not signed back"),
    "admin": ("系统管理员", "变更记录", "Change history"),
    "planner": ("计划员", "库存", "Stock"),
}


@pytest.mark.parametrize("username", list(START))
def test_each_demo_user_lands_on_their_start_page_in_both_languages(person, username):
    role, task_zh, task_en = START[username]
    who = person(username)
    page = who.page
    assert page.url.endswith("/")
    header = page.inner_text("[data-testid=signed-in-as]")
    assert username in header and role in header
    assert task_zh in page.inner_text("main")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    who.shot(f"start-{username}", "zh_CN")

    page.click("button[name=locale][value=en]")
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.lang") == "en"
    assert task_en in page.inner_text("main")
    who.shot(f"start-{username}", "en")
    # Back to Chinese for whoever signs in as this user next.
    page.click("button[name=locale][value=zh_CN]")
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
