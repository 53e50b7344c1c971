"""The HTTP door's hygiene: NUL bytes, body sizes, parameter patterns, strict
amounts, headers, offline docs, and an OpenAPI document that tells the truth."""

from __future__ import annotations

import asyncio
import json
import re
import threading

import pytest
from fastapi.testclient import TestClient

import api.routes.ledger as ledger_routes
from api.app import create_app
from api.hygiene import Hygiene
from ledger.models import Role
from ledger.settings import Settings
from tests.factories import network, stock
from tests.test_api import auth, issue
from tests.tokens import SECRET

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def make_client(db, **settings) -> TestClient:
    network(db)
    app = create_app(
        db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://", **settings)
    )
    return TestClient(app)


@pytest.fixture
def client(db):
    with make_client(db) as client:
        yield client


def assert_invalid(response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["type"], body["field"]) == ("/problems/invalid-request", field)
    assert body["title"] == "The request is not valid"


# --------------------------------------------------------------------------- NUL bytes


def test_a_nul_byte_in_the_path_or_query_is_a_422_naming_where(client, db):
    clerk = auth(db, Role.WAREHOUSE_CLERK)
    assert_invalid(client.get("/accounts/HQ:STOCK:X1%00-LCD/balance", headers=clerk), "path")
    assert_invalid(client.get("/serials/86%00", headers=clerk), "path")
    assert_invalid(client.get("/holders?after=SP%00", headers=clerk), "query")
    assert_invalid(client.get("/health?x=%00"), "query")
    # Before the login check: nothing with a NUL gets further than the door.
    assert_invalid(client.get("/accounts?holder=%00"), "query")


def test_a_nul_in_a_json_string_or_a_form_is_a_422_but_backslash_text_is_not(client, db):
    stock(db, "HQ:STOCK:X1-LCD", 5)
    clerk = auth(db, Role.WAREHOUSE_CLERK)
    escaped = json.dumps(issue(1, memo="bad\x00memo"))
    assert "\\u0000" in escaped
    response = client.post(
        "/entries", content=escaped, headers={**clerk, "content-type": "application/json"}
    )
    assert_invalid(response, "body")
    key_nul = json.dumps(issue(1, refs={"re\x00f": "x"}))
    assert_invalid(client.post("/entries", content=key_nul, headers=clerk), "body")
    raw = json.dumps(issue(1, memo="raw")).replace("raw", "r\x00w").encode()
    assert_invalid(client.post("/entries", content=raw, headers=clerk), "body")
    login = client.post("/auth/token", data={"username": "admin\x00", "password": "x"})
    assert_invalid(login, "body")
    # A backslash followed by "u0000" is text, not a NUL: posted as written.
    text = issue(1, memo="C:\\u0000 is a path")
    posted = client.post("/entries", json=text, headers=clerk)
    assert posted.status_code == 201, posted.text
    assert posted.json()["memo"] == "C:\\u0000 is a path"


# --------------------------------------------------------------------------- sizes


def test_a_body_past_the_limit_is_a_413_by_content_length(db):
    with make_client(db, max_body_bytes=4096) as client:
        big = issue(1, memo="x" * 400)
        batch = [big] * 20
        response = client.post("/entries/batch", json=batch, headers=auth(db, Role.ADMIN))
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert (body["type"], body["title"], body["limit"]) == (
            "/problems/request-too-large",
            "Request too large",
            4096,
        )
        assert "AFTERSALES_MAX_BODY_BYTES" in body["detail"]
        small = client.post("/entries/batch", json=[issue(1)], headers=auth(db, Role.ADMIN))
        assert small.status_code != 413


def test_a_streamed_body_is_cut_off_once_past_the_limit():
    """Chunked, without Content-Length: refused as soon as the limit is passed,
    without reading the rest and without calling the app."""
    called = []

    async def app(scope, receive, send):
        called.append(scope["path"])

    chunks = [b"x" * 400 for _ in range(10)]
    read = []
    sent = []

    async def receive():
        read.append(1)
        return {"type": "http.request", "body": chunks[len(read) - 1], "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/entries/batch",
        "raw_path": b"/entries/batch",
        "query_string": b"",
        "headers": [(b"transfer-encoding", b"chunked"), (b"content-type", b"application/json")],
    }
    asyncio.run(Hygiene(app, max_body_bytes=1000)(scope, receive, send))
    assert called == []
    assert len(read) == 3  # 1,200 bytes: past 1,000 on the third chunk
    assert sent[0]["status"] == 413
    assert (b"x-content-type-options", b"nosniff") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["type"] == "/problems/request-too-large"


def stock_count(lines: int) -> list[dict]:
    """A stock count as a batch: per counted line, one posting on the point's
    account and its counter-posting on the count difference (~70 bytes each)."""
    entries = []
    per_entry = 400
    for start in range(0, lines, per_entry):
        postings = []
        for i in range(start, min(start + per_entry, lines)):
            part = f"P{i:05d}-LCD"
            postings.append({"account": f"SP-0001:STOCK:{part}", "amount": 1})
            postings.append({"account": f"COUNT-DIFF:STOCK:{part}", "amount": -1})
        entries.append(
            {
                "kind": "stock_count",
                "effective_date": "2026-11-30",
                "refs": {"count": "SC-2026-11-SP-0001"},
                "postings": postings,
            }
        )
    return entries


def test_a_20000_line_stock_count_fits_under_the_default_limit(client, db):
    batch = stock_count(20_000)
    body = json.dumps(batch).encode()
    assert sum(len(e["postings"]) for e in batch) == 40_000
    assert len(body) < Settings().max_body_bytes
    response = client.post(
        "/entries/batch",
        content=body,
        headers={**auth(db, Role.ADMIN), "content-type": "application/json"},
    )
    # Through the door and validated whole: refused only for its made-up parts.
    assert response.status_code == 422, response.text[:300]
    assert response.json()["type"] == "/problems/unknown-account"


def test_a_large_batch_is_validated_off_the_event_loop(client, db, monkeypatch):
    """While a big batch is being validated, another request is answered.

    Validation is held until /health has answered: if it ran on the event
    loop, /health could not answer before it, and the hold would expire."""
    validating = threading.Event()
    health_answered = threading.Event()
    order: list[str] = []
    original = ledger_routes._validated

    def held(adapter, raw):
        if len(raw) > 1_000_000:
            validating.set()
            # A deadlock breaker, not a timing assertion: the order decides.
            order.append("answered" if health_answered.wait(60) else "hold expired")
        return original(adapter, raw)

    monkeypatch.setattr(ledger_routes, "_validated", held)
    body = json.dumps(stock_count(20_000)).encode()
    admin = {**auth(db, Role.ADMIN), "content-type": "application/json"}
    results = []
    big = threading.Thread(
        target=lambda: results.append(client.post("/entries/batch", content=body, headers=admin))
    )
    big.start()
    assert validating.wait(60)
    assert client.get("/health").status_code == 200
    health_answered.set()
    big.join()
    assert order == ["answered"]
    assert results[0].status_code == 422


# --------------------------------------------------------------------------- parameters


def test_path_and_query_parameters_have_lengths_and_patterns(client, db):
    clerk = auth(db, Role.WAREHOUSE_CLERK)
    assert client.get("/accounts/HQ:STOCK:X1-LCD", headers=clerk).status_code == 200
    assert client.get("/accounts/HQ:STOCK:X9-LCD", headers=clerk).status_code == 404
    assert_invalid(client.get("/accounts/HQ:STOCK:X1-LCD%0A", headers=clerk), "path.code")
    assert_invalid(client.get("/accounts/hq:stock:x1", headers=clerk), "path.code")
    long_code = "HQ:STOCK:" + "A" * 112
    assert_invalid(client.get(f"/accounts/{long_code}/balance", headers=clerk), "path.code")
    assert_invalid(client.get("/serials/" + "8" * 41, headers=clerk), "path.serial")
    assert_invalid(client.get("/serials/86%0A", headers=clerk), "path.serial")
    assert_invalid(client.get("/holders?kind=warehouse", headers=clerk), "query.kind")
    assert client.get("/holders?kind=service_point", headers=clerk).status_code == 200
    assert_invalid(client.get("/commodities?kind=food", headers=clerk), "query.kind")
    assert_invalid(client.get("/holders?after=" + "A" * 121, headers=clerk), "query.after")
    assert_invalid(client.get("/accounts?holder=HQ%0A", headers=clerk), "query.holder")
    assert_invalid(client.get("/accounts?purpose=stock", headers=clerk), "query.purpose")
    assert_invalid(
        client.get("/accounts/HQ:STOCK:X1-LCD/statement?cursor=a%20b", headers=clerk),
        "query.cursor",
    )
    balance = "/accounts/HQ:STOCK:X1-LCD/balance"
    assert client.get(f"{balance}?as_of=2026-11-30", headers=clerk).status_code == 200
    assert_invalid(client.get(f"{balance}?as_of=0", headers=clerk), "query.as_of")
    statement = "/accounts/HQ:STOCK:X1-LCD/statement"
    assert_invalid(client.get(f"{statement}?from=1700000000", headers=clerk), "query.from")
    empty_key = {**clerk, "Idempotency-Key": ""}
    assert_invalid(
        client.post("/entries", json=issue(1), headers=empty_key), "header.Idempotency-Key"
    )


@pytest.mark.parametrize("amount", [True, "5", 5.0, "-1"])
def test_amounts_are_strict_integers(client, db, amount):
    stock(db, "HQ:STOCK:X1-LCD", 10)
    body = issue(1)
    body["postings"][1]["amount"] = amount
    clerk = auth(db, Role.WAREHOUSE_CLERK)
    assert_invalid(client.post("/entries", json=body, headers=clerk), "body.postings.1.amount")
    assert_invalid(
        client.post("/entries/batch", json=[body], headers=clerk), "body.0.postings.1.amount"
    )


def test_a_missing_or_malformed_body_is_the_usual_422(client, db):
    clerk = auth(db, Role.WAREHOUSE_CLERK)
    assert_invalid(client.post("/entries", headers=clerk), "body")
    malformed = client.post("/entries", content=b"{", headers=clerk)
    assert malformed.status_code == 422
    assert malformed.json()["field"].startswith("body")
    assert_invalid(client.post("/entries/batch", json=[], headers=clerk), "body")
    # Bodies FastAPI parses itself answer alike, not with a bare 400.
    admin = auth(db, Role.ADMIN)
    holder = client.post("/holders", content=b"{", headers=admin)
    assert_invalid(holder, "body")
    assert holder.headers["content-type"] == "application/problem+json"


# --------------------------------------------------------------------------- headers and docs


def test_every_response_says_nosniff_and_data_is_not_cached(client, db):
    clerk = auth(db, Role.WAREHOUSE_CLERK)
    for response in [
        client.get("/health"),
        client.get("/accounts", headers=clerk),
        client.get("/accounts/HQ:STOCK:X9-LCD", headers=clerk),
        client.get("/me"),
        client.get("/nowhere"),
        client.get("/holders?after=%00"),
        client.get("/openapi.json"),
        client.get("/docs"),
    ]:
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["cache-control"] == "no-store", response.url
    asset = client.get("/static-offline-docs/swagger-ui.css")
    assert asset.status_code == 200
    assert asset.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in asset.headers.get("cache-control", "")


def test_docs_pages_load_their_assets_from_this_server(client):
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assert not re.search(r"https?://", html.text), f"{page} refers to another host"
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
        assets += re.findall(r"""(?:url|spec-url)[:=]\s*["']([^"']+)["']""", html.text)
        assert len(assets) >= 2, html.text
        for url in assets:
            assert url.startswith("/"), url
            assert client.get(url).status_code == 200, url


def test_401_and_framework_problems_have_fitting_titles(client):
    titles = {
        client.get("/me").status_code: client.get("/me").json()["title"],
        client.get("/nowhere").status_code: client.get("/nowhere").json()["title"],
        client.delete("/health").status_code: client.delete("/health").json()["title"],
    }
    bad_login = client.post("/auth/token", data={"username": "nobody", "password": "wrong-one"})
    titles[bad_login.status_code] = bad_login.json()["title"]
    assert titles == {401: "Not logged in", 404: "Not found", 405: "Method not allowed"}
    assert bad_login.json()["detail"] == "wrong username or password"


# --------------------------------------------------------------------------- OpenAPI


def test_openapi_lists_the_problems_every_operation_can_answer(client):
    document = client.get("/openapi.json").json()
    text = json.dumps(document)
    assert "HTTPValidationError" not in text
    schemas = document["components"]["schemas"]
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status", "detail"}
    assert {"field", "account", "posting", "serial", "errors"} <= set(
        schemas["Problem"]["properties"]
    )
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            expected = {"422"}
            if operation.get("security"):
                expected |= {"401", "403"}
            if "{" in path:
                expected.add("404")
            if method in ("post", "put", "patch"):
                expected.add("413")
                if operation.get("security"):
                    expected |= {"404", "409"}
            if path == "/auth/token":
                expected |= {"401", "429"}
            if (method, path) == ("get", "/entries"):
                expected.add("404")  # filtering by an account or holder that does not exist
            four = {s for s in responses if s.startswith("4")}
            assert four == expected, (method, path, four)
            for status in four:
                content = responses[status]["content"]
                assert content == {"application/problem+json": {"schema": PROBLEM_REF}}
    # The routes that read their own bodies document them as FastAPI would.
    entry_ref = {"$ref": "#/components/schemas/EntryIn"}
    one = document["paths"]["/entries"]["post"]["requestBody"]
    assert one == {"required": True, "content": {"application/json": {"schema": entry_ref}}}
    batch = document["paths"]["/entries/batch"]["post"]["requestBody"]
    assert batch["content"]["application/json"]["schema"]["items"] == entry_ref
    assert {"EntryIn", "PostingIn", "SerialIn"} <= set(schemas)
    assert not any(p.startswith("/__schemas__") for p in document["paths"])
    code = document["paths"]["/accounts/{code}"]["get"]["parameters"][0]["schema"]
    assert (code["maxLength"], code["pattern"][-1]) == (120, "$")
