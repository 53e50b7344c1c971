"""The web console under test: a signed-in browser per user, over the
TestClient (the end-to-end tests in tests/browser drive real Chromium).

`as_user(name)` signs in through the sign-in form and returns a `Browser`
whose `post` sends the page's CSRF token, and a fresh form key, unless told
otherwise.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.settings import Settings
from tests.parts_network import PASSWORD, network
from tests.tokens import SECRET

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_SIGN_IN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    def __init__(self, client: TestClient, username: str | None = None) -> None:
        self.client = client
        self.username = username
        self.csrf: str | None = None

    def get(self, path: str, **kwargs):
        answer = self.client.get(path, **kwargs)
        found = _CSRF.search(answer.text)
        if found:
            self.csrf = found.group(1)
        return answer

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, key=True, **kw):
        data = dict(data or {})
        if csrf and "csrf_token" not in data:
            if self.csrf is None:
                self.get("/")
            data["csrf_token"] = self.csrf
        if key is True:
            data.setdefault("key", "test-" + secrets.token_hex(8))
        elif key:
            data["key"] = key
        return self.client.post(path, data=data, follow_redirects=False, **kw)

    def sign_in(self, username: str, password: str = PASSWORD, next_url: str = "/"):
        form = self.client.get("/ui/sign-in")
        token = _SIGN_IN_TOKEN.search(form.text).group(1)
        answer = self.client.post(
            "/ui/sign-in",
            data={"username": username, "password": password, "csrf_token": token,
                  "next": next_url},
            follow_redirects=False,
        )  # fmt: skip
        if answer.status_code == 303:
            self.username = username
            self.get("/")
        return answer


@pytest.fixture
def console_app(db):
    network(db)
    return create_app(db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://"))


@pytest.fixture
def as_user(console_app) -> Iterator:
    """as_user(username) -> a signed-in Browser (each with its own cookies)."""
    with ExitStack() as stack:

        def browser(username: str | None = None) -> Browser:
            client = stack.enter_context(TestClient(console_app, base_url="https://testserver"))
            made = Browser(client)
            if username is not None:
                answer = made.sign_in(username)
                assert answer.status_code == 303, answer.text
            return made

        yield browser
