"""The console's foundation: signing in and out, sessions, CSRF, languages,
and each role's start page."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger import users
from ledger.policy import SYSTEM
from ledger.types import utcnow

ROLES = {
    "sp-a": ("服务网点", "待签收的发货"),
    "clerk": ("仓库管理员", "待发货的已批申请"),
    "approver1": ("审批人", "在我的权限内"),
    "finance": ("财务", "未回签的对账单"),
    "admin": ("系统管理员", "变更记录"),
}


@pytest.mark.parametrize("username", sorted(ROLES))
def test_each_role_signs_in_and_lands_on_its_own_start_page_in_chinese(as_user, username):
    browser = as_user(username)
    home = browser.get("/")
    assert home.status_code == 200
    role_name, a_task = ROLES[username]
    assert role_name in home.text and a_task in home.text
    assert 'lang="zh-CN"' in home.text


def test_a_page_without_a_session_sends_the_reader_to_sign_in_and_back(as_user):
    browser = as_user()
    answer = browser.client.get("/ui?from=mail", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/sign-in?next=/ui%3Ffrom%3Dmail"
    signed = browser.sign_in("sp-a", next_url="/ui?from=mail")
    assert signed.headers["location"] == "/ui?from=mail"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_signing_in_never_sends_the_reader_to_another_site(as_user, target):
    answer = as_user().sign_in("sp-a", next_url=target)
    assert answer.headers["location"] == "/"


def test_the_session_cookie_is_http_only_secure_and_same_site(as_user):
    answer = as_user().sign_in("clerk")
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "aftersales_session" in c)
    lowered = cookie.lower()
    assert "httponly" in lowered and "secure" in lowered and "samesite=lax" in lowered


def test_a_wrong_password_is_told_plainly_and_the_throttle_locks_after_five(as_user):
    browser = as_user()
    for _ in range(5):
        answer = browser.sign_in("clerk", password="not-it")
        assert answer.status_code == 401
        assert "用户名或密码错误" in answer.text
    locked = browser.sign_in("clerk")  # the right password, while locked
    assert locked.status_code == 429
    assert "登录失败次数过多" in locked.text


def test_the_sign_in_form_needs_its_own_token(as_user):
    browser = as_user()
    answer = browser.client.post(
        "/ui/sign-in",
        data={"username": "clerk", "password": "a-long-password", "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "aftersales_session" not in answer.headers.get("set-cookie", "")


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(as_user):
    browser = as_user("sp-a")
    answer = browser.post("/ui/language", {"locale": "en"}, csrf=False)
    assert answer.status_code == 403
    assert "未做任何更改" in answer.text
    assert 'lang="zh-CN"' in browser.get("/").text  # still Chinese
    forged = browser.post("/ui/language", {"locale": "en", "csrf_token": "x" * 43})
    assert forged.status_code == 403


def test_the_language_switch_is_remembered_for_the_user_not_the_browser(as_user):
    first = as_user("sp-a")
    assert first.post("/ui/language", {"locale": "en", "back": "/"}).status_code == 303
    page = first.get("/")
    assert 'lang="en"' in page.text and "Shipments to receive" in page.text
    elsewhere = as_user("sp-a")  # another browser, same user
    assert "Shipments to receive" in elsewhere.get("/").text


def test_signing_out_ends_the_session_for_good(as_user):
    browser = as_user("finance")
    cookie = browser.client.cookies.get("aftersales_session")
    copied = as_user()  # another browser holding a copy of the cookie
    copied.client.cookies.set("aftersales_session", cookie)
    assert copied.client.get("/", follow_redirects=False).status_code == 200
    assert browser.post("/ui/sign-out").status_code == 303
    assert copied.client.get("/", follow_redirects=False).status_code == 303


def test_a_session_ends_when_idle_or_old_and_when_the_user_is_deactivated(as_user, console_app, db):
    app = console_app
    browser = as_user("clerk")
    start = utcnow()
    app.state.clock = lambda: start + timedelta(minutes=29)
    assert browser.client.get("/", follow_redirects=False).status_code == 200
    app.state.clock = lambda: start + timedelta(minutes=29 + 31)
    assert browser.client.get("/", follow_redirects=False).status_code == 303

    app.state.clock = utcnow
    again = as_user("approver1")
    db.transact(lambda s: users.deactivate(s, SYSTEM, "approver1"))
    assert again.client.get("/", follow_redirects=False).status_code == 303


def test_console_pages_carry_a_strict_content_security_policy(as_user):
    page = as_user("clerk").get("/")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "<script>" not in page.text  # no inline script anywhere
    assert page.headers["cache-control"] == "no-store"


def test_the_static_files_are_served_locally_and_cacheable(as_user):
    browser = as_user()
    script = browser.client.get("/ui/static/htmx.min.js")
    assert script.status_code == 200 and "htmx" in script.text[:2000]
    assert script.headers.get("cache-control") != "no-store"


def test_a_forged_token_of_any_text_is_refused_not_a_server_error(as_user):
    browser = as_user("sp-a")
    for forged in ("中文令牌", "x" * 5000, ""):
        assert (
            browser.post("/ui/language", {"locale": "en", "csrf_token": forged}).status_code == 403
        )
    anonymous = as_user()
    anonymous.client.get("/ui/sign-in")
    answer = anonymous.client.post(
        "/ui/sign-in",
        data={"username": "sp-a", "password": "a-long-password", "csrf_token": "令牌"},
        follow_redirects=False,
    )
    assert answer.status_code == 403


def test_signing_in_again_in_the_same_browser_ends_the_session_before(as_user):
    browser = as_user("sp-a")
    before = browser.client.cookies.get("aftersales_session")
    browser.sign_in("sp-b")
    assert "SP-B" in browser.get("/").text
    copied = as_user()  # another browser holding the first session's cookie
    copied.client.cookies.set("aftersales_session", before)
    assert copied.client.get("/", follow_redirects=False).status_code == 303


def test_a_refused_read_is_an_error_page_with_the_readers_menu(as_user):
    browser = as_user("sp-a")
    answer = browser.get("/ui/stock?location=SP-B")  # its own point only, whatever is typed
    assert answer.status_code == 200 and "SP-A" in answer.text
    clerk = as_user("clerk")
    missing = clerk.get("/ui/stock?location=NOWHERE")
    assert missing.status_code == 404
    assert "今日工作" in missing.text  # the menu is there: a page, not a crash


def test_signing_in_over_plain_http_to_another_host_warns_the_cookie_would_be_dropped(
    console_app,
):
    from fastapi.testclient import TestClient

    with TestClient(console_app, base_url="http://console.intranet") as plain:
        assert 'data-testid="insecure"' in plain.get("/ui/sign-in").text
    with TestClient(console_app, base_url="https://console.intranet") as secure:
        assert 'data-testid="insecure"' not in secure.get("/ui/sign-in").text
    with TestClient(console_app, base_url="http://127.0.0.1") as local:
        assert 'data-testid="insecure"' not in local.get("/ui/sign-in").text
