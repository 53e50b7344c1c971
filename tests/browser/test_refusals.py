"""What the console refuses in a real browser, whatever the page shows."""

from __future__ import annotations


def test_a_forged_post_without_the_csrf_token_is_refused_and_changes_nothing(person):
    who = person("sp0001")
    page = who.page
    # A script (or another site) posting a form without the session's token.
    status = page.evaluate(
        """async () => {
            const body = new URLSearchParams({locale: "en", back: "/"});
            const answer = await fetch("/ui/language", {method: "POST", body});
            return answer.status;
        }"""
    )
    assert status == 403
    page.reload()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"


def test_signing_out_and_going_back_shows_the_sign_in_page(person):
    who = person("clerk")
    page = who.page
    page.click("text=退出")
    page.wait_for_url("**/ui/sign-in")
    page.goto("/")
    assert "/ui/sign-in" in page.url
    assert page.locator("input[name=password]").count() == 1
