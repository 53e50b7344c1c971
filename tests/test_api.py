"""The HTTP door: what a clerk, a service point or finance gets over the wire."""

from __future__ import annotations

from api.security import issue_token
from ledger.models import Role
from ledger.policy import Actor
from ledger.users import create_user
from tests.factories import stock
from tests.tokens import bearer


def auth(db, role: Role, point: str | None = None) -> dict[str, str]:
    # Tokens are honoured only for users who exist: bearer() adds the user.
    return bearer(db, role, point)


def issue(quantity: int, source="HQ:STOCK:X1-LCD", target="SP-0001:STOCK:X1-LCD", **extra):
    return {
        "kind": "issue",
        "postings": [
            {"account": source, "amount": -quantity},
            {"account": target, "amount": quantity},
        ],
        **extra,
    }


def test_login_with_password_then_use_the_token(client, db):
    db.transact(lambda s: create_user(s, "li.clerk", "a-long-password", Role.WAREHOUSE_CLERK))
    bad = client.post("/auth/token", data={"username": "li.clerk", "password": "wrong-one"})
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/problem+json"
    token = client.post(
        "/auth/token", data={"username": "li.clerk", "password": "a-long-password"}
    ).json()["access_token"]
    me = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {"username": "li.clerk", "role": "warehouse_clerk", "service_point": None}


def test_every_endpoint_needs_a_login(client):
    paths = client.app.openapi()["paths"]
    for path, methods in paths.items():
        if path in ("/auth/token", "/health"):
            continue
        url = path.replace("{code}", "HQ:STOCK:X1-LCD").replace("{serial}", "X")
        url = url.replace("{entry_id}", "01a20609-7bda-7500-90f6-8952b02632a6")
        for method in methods:
            response = client.request(method.upper(), url)
            assert response.status_code == 401, (method, path)
    forged = {
        "Authorization": "Bearer "
        + issue_token(Actor("x", Role.ADMIN), "another-signing-key-of-good-length", 5)
    }
    assert client.get("/me", headers=forged).status_code == 401


def test_post_retry_and_conflict_with_idempotency_key(client, db):
    stock(db, "HQ:STOCK:X1-LCD", 10)
    clerk = auth(db, Role.WAREHOUSE_CLERK)
    headers = {**clerk, "Idempotency-Key": "req-7"}
    first = client.post("/entries", json=issue(3), headers=headers)
    assert first.status_code == 201
    assert [p["amount"] for p in first.json()["postings"]] == [-3, 3]
    retry = client.post("/entries", json=issue(3), headers=headers)
    assert retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    other = client.post("/entries", json=issue(4), headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-conflict"
    balance = client.get("/accounts/SP-0001:STOCK:X1-LCD/balance", headers=clerk).json()
    assert balance["balance"] == 3


def test_overdraft_is_a_problem_naming_the_account(client, db):
    stock(db, "HQ:STOCK:X1-LCD", 1)
    response = client.post("/entries", json=issue(2), headers=auth(db, Role.WAREHOUSE_CLERK))
    assert response.status_code == 409
    body = response.json()
    assert body["type"] == "/problems/insufficient-balance"
    assert body["account"] == "HQ:STOCK:X1-LCD"
    assert (body["available"], body["requested"]) == (1, 2)
    assert "receive stock first" in body["detail"]


def test_invalid_body_names_the_field(client, db):
    body = issue(1)
    body["postings"][1]["amount"] = 0
    response = client.post("/entries", json=body, headers=auth(db, Role.WAREHOUSE_CLERK))
    assert response.status_code == 422
    assert response.json()["field"] == "body.postings.1.amount"
    unknown = client.post(
        "/entries", json=issue(1, target="SP-0404:STOCK:X1-LCD"), headers=auth(db, Role.ADMIN)
    )
    assert unknown.status_code == 422
    assert (unknown.json()["account"], unknown.json()["posting"]) == ("SP-0404:STOCK:X1-LCD", 1)


def test_roles_limit_what_may_be_posted(client, db):
    money = issue(100, source="BANK:STOCK:CNY", target="SUP:STOCK:CNY")
    clerk = client.post("/entries", json=money, headers=auth(db, Role.WAREHOUSE_CLERK))
    assert clerk.status_code == 403
    assert client.post("/entries", json=money, headers=auth(db, Role.PLANNER)).status_code == 403
    # Bank may not go negative, so finance first needs money in it.
    opening = issue(500, source="OPEN:STOCK:CNY", target="BANK:STOCK:CNY")
    assert client.post("/entries", json=opening, headers=auth(db, Role.FINANCE)).status_code == 201
    assert client.post("/entries", json=money, headers=auth(db, Role.FINANCE)).status_code == 201


def test_a_service_point_sees_only_itself_and_gets_404_for_others(client, db):
    stock(db, "HQ:STOCK:X1-LCD", 5)
    admin = auth(db, Role.ADMIN)
    to_sp2 = client.post("/entries", json=issue(2, target="SP-0002:STOCK:X1-LCD"), headers=admin)
    to_sp1 = client.post("/entries", json=issue(1), headers=admin)
    sp1 = auth(db, Role.SERVICE_POINT, "SP-0001")
    assert client.get("/accounts/SP-0001:STOCK:X1-LCD/balance", headers=sp1).json()["balance"] == 1
    for url in [
        "/accounts/SP-0002:STOCK:X1-LCD",
        "/accounts/SP-0002:STOCK:X1-LCD/balance",
        "/accounts/SP-0002:STOCK:X1-LCD/statement",
        f"/entries/{to_sp2.json()['id']}",
    ]:
        response = client.get(url, headers=sp1)
        assert response.status_code == 404, url
        assert "SP-0001" not in response.text
    own = client.get(f"/entries/{to_sp1.json()['id']}", headers=sp1)
    assert own.status_code == 200
    listed = client.get("/accounts?limit=1000", headers=sp1).json()["items"]
    assert listed and {a["holder"] for a in listed} == {"SP-0001"}
    holders = client.get("/holders", headers=sp1).json()["items"]
    assert [h["code"] for h in holders] == ["SP-0001"]
    assert client.get("/trial-balance", headers=sp1).status_code == 403
    assert client.post("/entries", json=issue(1), headers=sp1).status_code == 403


def test_batch_is_all_or_nothing_and_retried_by_key(client, db):
    stock(db, "HQ:STOCK:X1-LCD", 3)
    clerk = {**auth(db, Role.WAREHOUSE_CLERK), "Idempotency-Key": "count-9"}
    too_much = [issue(2), issue(2, target="SP-0002:STOCK:X1-LCD")]
    refused = client.post("/entries/batch", json=too_much, headers=clerk)
    assert refused.status_code == 409
    assert refused.json()["entry"] == 1
    ok = [issue(2), issue(1, target="SP-0002:STOCK:X1-LCD")]
    first = client.post("/entries/batch", json=ok, headers=clerk)
    retry = client.post("/entries/batch", json=ok, headers=clerk)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert [r["entry_id"] for r in first.json()] == [r["entry_id"] for r in retry.json()]
    hq = client.get("/accounts/HQ:STOCK:X1-LCD/balance", headers=clerk).json()
    assert hq["balance"] == 0


def test_reverse_statement_and_trial_balance(client, db):
    stock(db, "HQ:STOCK:X1-LCD", 5)
    clerk = auth(db, Role.WAREHOUSE_CLERK)
    entry = client.post("/entries", json=issue(2), headers=clerk).json()
    reversal = client.post(
        f"/entries/{entry['id']}/reverse", json={"memo": "wrong point"}, headers=clerk
    )
    assert reversal.status_code == 201
    assert reversal.json()["reverses_entry_id"] == entry["id"]
    again = client.post(f"/entries/{entry['id']}/reverse", headers=clerk)
    assert again.status_code == 409
    assert again.json()["reversed_by"] == reversal.json()["id"]
    page = client.get("/accounts/SP-0001:STOCK:X1-LCD/statement?limit=1", headers=clerk).json()
    assert [line["balance"] for line in page["lines"]] == [2]
    rest = client.get(
        f"/accounts/SP-0001:STOCK:X1-LCD/statement?cursor={page['next_cursor']}", headers=clerk
    ).json()
    assert [line["balance"] for line in rest["lines"]] == [0]
    assert rest["lines"][0]["memo"] == "wrong point"
    rows = client.get("/trial-balance", headers=clerk).json()
    assert rows and all(row["net"] == 0 for row in rows)


def test_serial_history_over_http(client, db):
    stock(db, "HQ:STOCK:H-X1", 2, serials=["860000000000042", "860000000000043"])
    clerk = auth(db, Role.WAREHOUSE_CLERK)
    body = {
        "kind": "swap_stock",
        "postings": [
            {"account": "HQ:STOCK:H-X1", "amount": -1, "serials": ["860000000000042"]},
            {"account": "SP-0001:STOCK:H-X1", "amount": 1, "serials": ["860000000000042"]},
        ],
    }
    assert client.post("/entries", json=body, headers=clerk).status_code == 201
    unit = client.get("/serials/860000000000042", headers=clerk).json()
    assert unit["account"] == "SP-0001:STOCK:H-X1"
    assert len(unit["history"]) == 2
    sp1 = auth(db, Role.SERVICE_POINT, "SP-0001")
    sp2 = auth(db, Role.SERVICE_POINT, "SP-0002")
    assert client.get("/serials/860000000000042", headers=sp1).status_code == 200
    assert client.get("/serials/860000000000042", headers=sp2).status_code == 404
    # HQ still holds a unit, but not this one: it already left.
    again = client.post("/entries", json=body, headers=clerk)
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/serial-not-at-source"
    assert (again.json()["serial"], again.json()["account"]) == ("860000000000042", "HQ:STOCK:H-X1")


def test_admin_opens_accounts_others_may_not(client, db):
    body = {"holder": "RW-GD", "commodity": "CNY", "purpose": "CASH"}
    assert client.post("/accounts", json=body, headers=auth(db, Role.FINANCE)).status_code == 403
    created = client.post("/accounts", json=body, headers=auth(db, Role.ADMIN))
    assert created.status_code == 201
    assert created.json()["code"] == "RW-GD:CASH:CNY"
    assert (created.json()["side"], created.json()["guarded"]) == ("debit", True)
    duplicate = client.post("/accounts", json=body, headers=auth(db, Role.ADMIN))
    assert duplicate.status_code == 409


def test_a_posted_entry_answers_as_it_reads_back(client, db):
    """The POST answer is built from the request, not read back: it must say
    exactly what GET /entries/{id} says, serials, dates and refs included."""
    stock(db, "HQ:STOCK:X1-LCD", 5)
    stock(db, "HQ:STOCK:H-X1", 2, serials=["860000000000051", "860000000000052"])
    clerk = auth(db, Role.WAREHOUSE_CLERK)
    body = {
        "kind": "issue",
        "effective_date": db.window.today().isoformat(),
        "memo": "two screens and a swap unit",
        "refs": {"requisition": "RQ-2026-000777"},
        "postings": [
            {"account": "HQ:STOCK:X1-LCD", "amount": -2},
            {"account": "SP-0001:STOCK:X1-LCD", "amount": 2},
            {
                "account": "HQ:STOCK:H-X1",
                "amount": -2,
                "serials": ["860000000000052", "860000000000051"],
            },
            {
                "account": "SP-0001:STOCK:H-X1",
                "amount": 2,
                "serials": ["860000000000051", {"serial": "860000000000052"}],
            },
        ],
    }
    posted = client.post("/entries", json=body, headers={**clerk, "Idempotency-Key": "rq-777"})
    assert posted.status_code == 201
    read = client.get(f"/entries/{posted.json()['id']}", headers=clerk)
    assert posted.json() == read.json()
    assert read.json()["postings"][2]["serials"] == ["860000000000051", "860000000000052"]
    replay = client.post("/entries", json=body, headers={**clerk, "Idempotency-Key": "rq-777"})
    assert replay.status_code == 200 and replay.json() == read.json()
