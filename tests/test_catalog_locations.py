"""Locations (HQ, regional warehouses, service points) and approval levels:
master data over HTTP, the CLI and the demo, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ledger.catalog import locations as loc
from ledger.catalog.history import MasterDataChange, changes_of
from ledger.catalog.locations import ApprovalLevel, Location, UserApprovalLevel
from ledger.db import Database
from ledger.errors import InvalidState, NotFound
from ledger.models import Holder, Role
from ledger.policy import SYSTEM
from ledger.users import create_user
from tests.cli import cli_database, run
from tests.factories import build_network
from tests.test_hardening import login

HQ = {
    "kind": "hq",
    "code": "HQ-N",
    "name": "National HQ",
    "region": "South China",
    "province": "Guangdong",
}
RW_SC = {
    "kind": "regional_warehouse",
    "code": "RW-SC",
    "name": "South China warehouse",
    "region": "South China",
    "province": "Guangdong",
    "city": "Guangzhou",
    "served_by": "HQ-N",
}
RW_HB = {**RW_SC, "code": "RW-HB", "name": "Hubei warehouse", "region": "Central China",
         "province": "Hubei", "city": "Wuhan"}  # fmt: skip


def point(code: str, served_by: str = "RW-SC", **extra) -> dict:
    return {
        "kind": "service_point",
        "code": code,
        "name": f"Point {code}",
        "region": "South China",
        "province": "Guangdong",
        "city": "Guangzhou",
        "grade": "A",
        "served_by": served_by,
        **extra,
    }


POINTS = [
    point("SP-1001"),
    point("SP-1002", city="Shenzhen", grade="B"),
    point("SP-1003", "RW-HB", region="Central China", province="Hubei", city="Wuhan", grade="C"),
]


def build_locations(session) -> None:
    for body in [HQ, RW_SC, RW_HB, *POINTS]:
        loc.create_location(session, SYSTEM, **body)


@pytest.fixture
def admin(client, db):
    db.transact(build_locations)
    return login(client, db, Role.ADMIN)


def codes(client, headers, query: str = "") -> list[str]:
    response = client.get(f"/locations?{query}", headers=headers)
    assert response.status_code == 200, response.text
    return [item["code"] for item in response.json()["items"]]


def count(db: Database, table) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(table))


# --------------------------------------------------------------------------- locations


def test_locations_are_created_updated_and_listed_by_each_filter(client, db, admin):
    made = client.post("/locations", json=point("SP-1004", grade="C"), headers=admin)
    assert made.status_code == 201, made.text
    body = made.json()
    assert {k: body[k] for k in ("code", "kind", "grade", "served_by", "status", "city")} == {
        "code": "SP-1004",
        "kind": "service_point",
        "grade": "C",
        "served_by": "RW-SC",
        "status": "active",
        "city": "Guangzhou",
    }
    # The location is a holder of the book, hung under its warehouse, with the grade.
    holder = client.get("/holders?kind=service_point&after=SP-1003", headers=admin).json()
    assert holder["items"][0] == {
        "code": "SP-1004",
        "name": "Point SP-1004",
        "kind": "service_point",
        "grade": "C",
        "parent": "RW-SC",
    }
    everything = ["HQ-N", "RW-HB", "RW-SC", "SP-1001", "SP-1002", "SP-1003", "SP-1004"]
    assert codes(client, admin) == everything
    assert codes(client, admin, "kind=regional_warehouse") == ["RW-HB", "RW-SC"]
    assert codes(client, admin, "region=Central%20China") == ["RW-HB", "SP-1003"]
    assert codes(client, admin, "province=Hubei") == ["RW-HB", "SP-1003"]
    assert codes(client, admin, "city=Shenzhen") == ["SP-1002"]
    assert codes(client, admin, "grade=C") == ["SP-1003", "SP-1004"]
    assert codes(client, admin, "served_by=RW-SC") == ["SP-1001", "SP-1002", "SP-1004"]
    assert codes(client, admin, "served_by=HQ-N") == ["RW-HB", "RW-SC"]
    assert codes(client, admin, "served_by=RW-404") == []
    assert codes(client, admin, "status=active&kind=service_point&grade=A") == ["SP-1001"]
    loc_status = client.post(
        "/locations/SP-1002/status", json={"status": "suspended", "reason": "audit"}, headers=admin
    )
    assert loc_status.status_code == 200, loc_status.text
    assert codes(client, admin, "status=suspended") == ["SP-1002"]
    # Pages by code.
    first = client.get("/locations?limit=3", headers=admin).json()
    assert [i["code"] for i in first["items"]] == everything[:3]
    rest = client.get(f"/locations?after={first['next_after']}", headers=admin).json()
    assert [i["code"] for i in rest["items"]] == everything[3:] and rest["next_after"] is None

    patched = client.patch(
        "/locations/SP-1004",
        json={"name": "Point 4, moved", "city": "Wuhan", "province": "Hubei",
              "region": "Central China", "grade": "B", "served_by": "RW-HB"},
        headers=admin,
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert client.get("/locations/SP-1004", headers=admin).json() == patched.json()
    assert patched.json()["served_by"] == "RW-HB" and patched.json()["grade"] == "B"
    assert codes(client, admin, "served_by=RW-HB") == ["SP-1003", "SP-1004"]
    with db.reading() as s:
        moved = s.scalar(select(Holder).where(Holder.code == "SP-1004"))
        rw_hb = s.scalar(select(Holder.id).where(Holder.code == "RW-HB"))
        assert (moved.name, moved.grade, moved.parent_id) == ("Point 4, moved", "B", rw_hb)
    # The code and kind never change: a PATCH naming them is refused.
    for field, value in [("code", "SP-9999"), ("kind", "hq")]:
        refused = client.patch("/locations/SP-1004", json={field: value}, headers=admin)
        assert refused.status_code == 422, field
    # HQ needs no city; a regional warehouse or point does.
    assert client.patch("/locations/HQ-N", json={"city": None}, headers=admin).status_code == 200
    cleared = client.patch("/locations/SP-1004", json={"city": None}, headers=admin)
    assert cleared.status_code == 422 and cleared.json()["field"] == "city"
    duplicate = client.post("/locations", json=point("SP-1001"), headers=admin)
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "code"


def test_a_point_needs_a_regional_warehouse_to_serve_it(client, db, admin):
    for served_by, status, field in [
        (None, 422, "served_by"),
        ("HQ-N", 422, "served_by"),
        ("SP-1001", 422, "served_by"),
        ("RW-404", 404, "served_by"),
    ]:
        body = point("SP-1009", served_by=served_by)
        response = client.post("/locations", json=body, headers=admin)
        assert response.status_code == status, (served_by, response.text)
        assert response.json()["field"] == field
    # A regional warehouse is served by HQ or no one; HQ by no one.
    rw = {**RW_SC, "code": "RW-X", "served_by": "RW-SC"}
    assert client.post("/locations", json=rw, headers=admin).status_code == 422
    hq = {**HQ, "code": "HQ-2", "served_by": "HQ-N"}
    assert client.post("/locations", json=hq, headers=admin).status_code == 422
    no_server = {**RW_SC, "code": "RW-X", "served_by": None}
    assert client.post("/locations", json=no_server, headers=admin).status_code == 201
    # A grade is a point's alone, and every point has one.
    graded = {**RW_SC, "code": "RW-Y", "grade": "A"}
    assert client.post("/locations", json=graded, headers=admin).json()["field"] == "grade"
    ungraded = point("SP-1009", grade=None)
    assert client.post("/locations", json=ungraded, headers=admin).json()["field"] == "grade"
    moved = client.patch("/locations/SP-1001", json={"served_by": "HQ-N"}, headers=admin)
    assert moved.status_code == 422 and moved.json()["field"] == "served_by"
    with db.reading() as s:
        assert s.scalar(select(Holder.id).where(Holder.code == "SP-1009")) is None


def test_a_point_is_suspended_reactivated_and_terminated_for_good(client, db, admin):
    def status(code, value, reason="checked"):
        return client.post(
            f"/locations/{code}/status", json={"status": value, "reason": reason}, headers=admin
        )

    with db.reading() as s:
        assert loc.require_may_requisition(s, "SP-1001").status is loc.LocationStatus.ACTIVE
    suspended = status("SP-1001", "suspended", "unpaid deposit")
    assert suspended.status_code == 200
    assert suspended.json()["status_reason"] == "unpaid deposit"
    with db.reading() as s, pytest.raises(InvalidState) as refused:
        loc.require_may_requisition(s, "SP-1001")
    assert refused.value.where["location_status"] == "suspended"
    assert "suspended" in refused.value.detail and "unpaid deposit" in refused.value.detail
    assert status("SP-1001", "active", "paid").json()["status"] == "active"
    with db.reading() as s:
        loc.require_may_requisition(s, "SP-1001")
    # Termination is not a status to set: the point's termination sets it.
    refused = status("SP-1001", "terminated", "contract ended")
    assert refused.status_code == 409 and "/terminate" in refused.json()["detail"]
    db.transact(
        lambda s: loc.set_status(
            s, SYSTEM, "SP-1001", "terminated", "contract ended", terminating=True
        )
    )
    for again in ("active", "suspended"):
        response = status("SP-1001", again)
        assert response.status_code == 409, again
        assert response.json()["type"] == "/problems/invalid-state"
        assert response.json()["location_status"] == "terminated"
    with db.reading() as s, pytest.raises(InvalidState) as refused:
        loc.require_may_requisition(s, "SP-1001")
    assert refused.value.where["location_status"] == "terminated"
    # Only a point has a status other than active.
    for code in ("HQ-N", "RW-SC"):
        response = status(code, "suspended")
        assert response.status_code == 409 and "only a service point" in response.json()["detail"]
    assert status("HQ-N", "active").status_code == 200
    with db.reading() as s, pytest.raises(NotFound):
        loc.require_may_requisition(s, "SP-0404")
    assert status("SP-1002", "suspended", "").status_code == 422
    assert status("SP-1002", "closed").status_code == 422


def test_a_service_point_sees_only_its_own_location(client, db, admin):
    sp = login(client, db, Role.SERVICE_POINT, "SP-1001")
    assert codes(client, sp) == ["SP-1001"]
    assert codes(client, sp, "kind=regional_warehouse") == []
    assert client.get("/locations/SP-1001", headers=sp).json()["served_by"] == "RW-SC"
    assert client.get("/locations/SP-1001/history", headers=sp).status_code == 200
    for path in ("/locations/{}", "/locations/{}/history"):
        theirs = client.get(path.format("SP-1002"), headers=sp)
        nobody = client.get(path.format("SP-0404"), headers=sp)
        assert theirs.status_code == nobody.status_code == 404
        assert theirs.text.replace("SP-1002", "X") == nobody.text.replace("SP-0404", "X")
    assert client.get("/locations/RW-SC", headers=sp).status_code == 404
    # Staff roles see every location; a point sees no approval levels.
    clerk = login(client, db, Role.WAREHOUSE_CLERK)
    assert len(codes(client, clerk)) == 6
    assert client.get("/approval-levels", headers=clerk).status_code == 200
    assert client.get("/approval-levels", headers=sp).status_code == 403


# --------------------------------------------------------------------------- approval levels

RM = {"code": "RM", "name": "Regional manager", "rank": 1, "quantity_limit": 50,
      "amount_limit": 500_000}  # fmt: skip
SM = {"code": "HQ-SM", "name": "HQ service manager", "rank": 2, "quantity_limit": 500,
      "amount_limit": 5_000_000}  # fmt: skip
DIR = {"code": "DIR", "name": "After-sales director", "rank": 3, "quantity_limit": 5000,
       "amount_limit": 100_000_000}  # fmt: skip


def test_approval_levels_keep_higher_ranks_at_higher_limits(client, db, admin):
    for level in (RM, DIR):
        assert client.post("/approval-levels", json=level, headers=admin).status_code == 201
    # Between rank 1 and 3, limits must lie between theirs.
    low = client.post("/approval-levels", json={**SM, "quantity_limit": 40}, headers=admin)
    assert low.status_code == 409
    assert low.json()["field"] == "quantity_limit" and low.json()["level"] == "RM"
    assert "HQ-SM" in low.json()["detail"] and "RM" in low.json()["detail"]
    high = client.post("/approval-levels", json={**SM, "amount_limit": 200_000_000}, headers=admin)
    assert high.status_code == 409 and high.json()["level"] == "DIR"
    assert "1,000,000.00 CNY" in high.json()["detail"]
    equal = {**SM, "quantity_limit": 50, "amount_limit": 100_000_000}
    assert client.post("/approval-levels", json=equal, headers=admin).status_code == 201
    listed = client.get("/approval-levels", headers=admin).json()
    assert [(lv["code"], lv["rank"]) for lv in listed] == [("RM", 1), ("HQ-SM", 2), ("DIR", 3)]
    taken = client.post("/approval-levels", json={**SM, "code": "X", "rank": 1}, headers=admin)
    assert taken.status_code == 409 and taken.json()["field"] == "rank"
    again = client.post("/approval-levels", json=RM, headers=admin)
    assert again.status_code == 409 and again.json()["field"] == "code"
    # Updates obey the rule too; the code never changes.
    raise_rm = client.patch("/approval-levels/RM", json={"quantity_limit": 60}, headers=admin)
    assert raise_rm.status_code == 409 and raise_rm.json()["level"] == "HQ-SM"
    swap = client.patch("/approval-levels/DIR", json={"rank": 0}, headers=admin)
    assert swap.status_code == 422
    down = client.patch(
        "/approval-levels/DIR", json={"rank": 10, "name": "Director"}, headers=admin
    )
    assert down.status_code == 200 and down.json()["rank"] == 10
    assert client.patch("/approval-levels/RM", json={"code": "R"}, headers=admin).status_code == 422
    assert client.patch("/approval-levels/NOPE", json={"rank": 9}, headers=admin).status_code == 404
    with db.reading() as s:
        assert loc.next_level_above(s, 1).code == "HQ-SM"
        assert loc.next_level_above(s, 2).code == "DIR"
        assert loc.next_level_above(s, 10) is None
    client.patch("/approval-levels/HQ-SM", json={"active": False}, headers=admin)
    with db.reading() as s:
        assert loc.next_level_above(s, 1).code == "DIR"


def test_a_level_is_given_to_approvers_only_and_gives_their_limits(client, db, admin):
    for level in (RM, SM):
        client.post("/approval-levels", json=level, headers=admin)
    login(client, db, Role.APPROVER)
    login(client, db, Role.WAREHOUSE_CLERK)
    approver, clerk = "approver-hq", "warehouse_clerk-hq"
    with db.reading() as s:
        assert loc.limits_of(s, approver) is None
    given = client.put(f"/users/{approver}/approval-level", json={"level": "RM"}, headers=admin)
    assert given.status_code == 200, given.text
    assert given.json()["level"]["code"] == "RM"
    with db.reading() as s:
        assert loc.limits_of(s, approver) == loc.Limits("RM", 1, 50, 500_000)
    client.put(f"/users/{approver}/approval-level", json={"level": "HQ-SM"}, headers=admin)
    with db.reading() as s:
        assert loc.limits_of(s, approver) == loc.Limits("HQ-SM", 2, 500, 5_000_000)
        assert loc.limits_of(s, clerk) is None and loc.limits_of(s, "nobody") is None
    refused = client.put(f"/users/{clerk}/approval-level", json={"level": "RM"}, headers=admin)
    assert refused.status_code == 409 and "only an approver" in refused.json()["detail"]
    unknown_user = client.put("/users/nobody/approval-level", json={"level": "RM"}, headers=admin)
    assert unknown_user.status_code == 404
    unknown_level = client.put(
        f"/users/{approver}/approval-level", json={"level": "NOPE"}, headers=admin
    )
    assert unknown_level.status_code == 404
    assert count(db, UserApprovalLevel) == 1
    # An inactive level grants nothing, and is given to no one.
    client.patch("/approval-levels/HQ-SM", json={"active": False}, headers=admin)
    with db.reading() as s:
        assert loc.limits_of(s, approver) is None
    inactive = client.put(
        f"/users/{approver}/approval-level", json={"level": "HQ-SM"}, headers=admin
    )
    assert inactive.status_code == 409
    with db.reading() as s:
        history = [(c.before, c.after) for c in changes_of(s, "user_approval_level", approver)]
    assert history == [
        (None, {"username": approver, "level": "RM"}),
        ({"username": approver, "level": "RM"}, {"username": approver, "level": "HQ-SM"}),
    ]


def test_writes_are_admin_only_refused_before_any_look_up(client, db, admin):
    for role, point_code in [
        (Role.WAREHOUSE_CLERK, None),
        (Role.APPROVER, None),
        (Role.FINANCE, None),
        (Role.SERVICE_POINT, "SP-1001"),
    ]:
        headers = login(client, db, role, point_code)
        for method, path, body in [
            ("post", "/locations", point("SP-1009")),
            ("patch", "/locations/SP-0404", {"name": "x"}),
            ("patch", "/locations/SP-1001", {"name": "x"}),
            ("post", "/locations/SP-0404/status", {"status": "active", "reason": "x"}),
            ("post", "/approval-levels", RM),
            ("patch", "/approval-levels/NOPE", {"rank": 3}),
            ("put", "/users/nobody/approval-level", {"level": "NOPE"}),
        ]:
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (role, method, path, response.text)
    assert count(db, ApprovalLevel) == 0
    with db.reading() as s:
        assert s.scalar(select(Holder.name).where(Holder.code == "SP-1001")) == "Point SP-1001"


def test_hostile_input_is_refused_and_writes_nothing(client, db, admin):
    before = (count(db, Location), count(db, ApprovalLevel), count(db, MasterDataChange))
    bad_locations = [
        point("SP-1009", name="nul\x00byte"),
        point("SP-1009", name="two\nlines"),
        point("SP-1009", region="South China\n"),
        point("SP-1009", region=" South China"),
        point("SP-1009", city="c" * 41),
        point("SP-1009", province=""),
        point("SP-1009", name="n" * 201),
        point("SP-1009\n"),
        point("sp-1009"),
        point("S" * 41),
        point("SP-1009", grade="D"),
        point("SP-1009", kind="in_transit"),
        point("SP-1009", kind="supplier"),
        point("SP-1009", served_by="RW-404"),
        point("SP-1009", served_by="rw sc"),
        {**point("SP-1009"), "extra": 1},
    ]
    for body in bad_locations:
        response = client.post("/locations", json=body, headers=admin)
        assert response.status_code in (404, 422), (body, response.text)
    bad_levels = [
        {**DIR, "quantity_limit": -1},
        {**DIR, "quantity_limit": 0},
        {**DIR, "amount_limit": 10**12 + 1},
        {**DIR, "amount_limit": 10**30},
        {**DIR, "amount_limit": 12.5},
        {**DIR, "amount_limit": "5000"},
        {**DIR, "quantity_limit": True},
        {**DIR, "rank": 1.0},
        {**DIR, "rank": 1001},
        {**DIR, "code": "dir"},
        {**DIR, "name": "x\x00"},
        {**DIR, "active": "yes"},
    ]
    for body in bad_levels:
        response = client.post("/approval-levels", json=body, headers=admin)
        assert response.status_code == 422, (body, response.text)
    for path, body in [
        ("/locations/SP-1001", {"name": "n" * 201}),
        ("/locations/SP-1001", {"served_by": "RW-404"}),
        ("/locations/SP-1001", {"region": None}),
        ("/locations/SP-1001/status", {"status": "suspended", "reason": "r" * 501}),
        ("/locations/SP-1001/status", {"status": "suspended", "reason": "a\nb"}),
    ]:
        method = "post" if path.endswith("status") else "patch"
        response = client.request(method, path, json=body, headers=admin)
        assert response.status_code in (404, 422), (path, body, response.text)
    for query in ["region=a%0A", f"city={'c' * 41}", "kind=supplier", "grade=Z", "limit=0"]:
        assert client.get(f"/locations?{query}", headers=admin).status_code == 422, query
    assert client.get("/locations/SP-1001%0A", headers=admin).status_code == 422
    assert client.get(f"/locations/{'S' * 41}", headers=admin).status_code == 422
    after = (count(db, Location), count(db, ApprovalLevel), count(db, MasterDataChange))
    assert after == before
    # The services refuse the same by themselves (the CLI and importers call them).
    with pytest.raises(loc.InvalidInput) as refused:
        db.transact(lambda s: loc.create_level(s, SYSTEM, **{**DIR, "amount_limit": True}))
    assert refused.value.where["field"] == "amount_limit"
    with pytest.raises(loc.InvalidInput):
        db.transact(lambda s: loc.create_location(s, SYSTEM, **point("SP-1009", city="a\n")))


def test_every_change_is_recorded_with_who_and_before_and_after(client, db, admin):
    client.patch("/locations/SP-1001", json={"name": "Renamed"}, headers=admin)
    client.patch("/locations/SP-1001", json={"name": "Renamed"}, headers=admin)  # no change
    client.post(
        "/locations/SP-1001/status", json={"status": "suspended", "reason": "audit"}, headers=admin
    )
    history = client.get("/locations/SP-1001/history", headers=admin).json()
    assert [c["actor"] for c in history] == ["system", "admin-hq", "admin-hq"]
    created, renamed, suspended = history
    assert created["before"] is None and created["after"]["name"] == "Point SP-1001"
    assert (renamed["before"]["name"], renamed["after"]["name"]) == ("Point SP-1001", "Renamed")
    assert suspended["before"]["status"] == "active"
    assert suspended["after"]["status"] == "suspended"
    assert suspended["after"]["status_reason"] == "audit"
    page = client.get(f"/locations/SP-1001/history?after={created['id']}&limit=1", headers=admin)
    assert [c["id"] for c in page.json()] == [renamed["id"]]
    client.post("/approval-levels", json=RM, headers=admin)
    client.patch("/approval-levels/RM", json={"amount_limit": 600_000}, headers=admin)
    with db.reading() as s:
        levels = changes_of(s, "approval_level", "RM")
        limits = [
            (c.actor, (c.before or {}).get("amount_limit"), c.after["amount_limit"]) for c in levels
        ]
    assert limits == [("admin-hq", None, 500_000), ("admin-hq", 500_000, 600_000)]


# --------------------------------------------------------------------------- CLI and demo


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    yield from cli_database(tmp_path, monkeypatch, build_network)


def test_cli_adds_lists_shows_and_suspends_locations_and_levels(cli_db):
    run("locations", "add", "HQ-N", "--kind", "hq", "--name", "National HQ",
        "--region", "South China", "--province", "Guangdong")  # fmt: skip
    run("locations", "add", "RW-SC", "--kind", "regional_warehouse", "--name", "[b]South[/b]",
        "--region", "South China", "--province", "Guangdong", "--city", "Guangzhou",
        "--served-by", "HQ-N")  # fmt: skip
    added = run("locations", "add", "SP-1001", "--kind", "service_point", "--name", "Point 1",
                "--region", "South China", "--province", "Guangdong", "--city", "Shenzhen",
                "--grade", "A", "--served-by", "RW-SC")  # fmt: skip
    assert "SP-1001" in added
    listed = run("locations", "list", "--kind", "regional_warehouse")
    assert "[b]South[/b]" in listed and "SP-1001" not in listed
    assert "SP-1001" in run("locations", "list", "--region", "South China")
    shown = run("locations", "show", "SP-1001")
    assert "RW-SC" in shown and "Shenzhen" in shown and "active" in shown
    run("locations", "status", "SP-1001", "--set", "suspended", "--reason", "unpaid [deposit]")
    assert "SP-1001" in run("locations", "list", "--status", "suspended")
    assert "unpaid [deposit]" in run("locations", "show", "SP-1001")
    missing = run("locations", "show", "SP-0404", code=1)
    assert "no location 'SP-0404'" in missing
    refused = run("locations", "add", "SP-1002", "--kind", "service_point", "--name", "P2",
                  "--region", "R", "--province", "P", "--city", "C", "--grade", "A",
                  "--served-by", "HQ-N", code=1)  # fmt: skip
    assert "regional warehouse" in refused
    assert "status" in run("locations", "list", "--status", "closed", code=1)

    run("approval-levels", "add", "RM", "--name", "Regional manager", "--rank", "1",
        "--quantity-limit", "50", "--amount-limit", "5000.00")  # fmt: skip
    listed = run("approval-levels", "list")
    assert "RM" in listed and "5,000.00 CNY" in listed and "50" in listed
    with cli_db.reading() as s:
        assert s.scalar(select(ApprovalLevel.amount_limit)) == 500_000
    for amount in ("5000.001", "-1", "lots", "1e3", "NaN", "10000000001"):
        out = run("approval-levels", "add", "HQ-SM", "--name", "SM", "--rank", "2",
                  "--quantity-limit", "500", "--amount-limit", amount, code=1)  # fmt: skip
        assert "--amount-limit" in out, amount
    cli_db.transact(lambda s: create_user(s, "li.approver", "a-long-password", Role.APPROVER))
    assert "RM" in run("approval-levels", "assign", "li.approver", "RM")
    with cli_db.reading() as s:
        assert loc.limits_of(s, "li.approver").code == "RM"
    assert "no user" in run("approval-levels", "assign", "nobody", "RM", code=1)


def test_the_demo_gives_every_location_its_row_and_the_approver_a_level(db):
    from importers.demo import load_demo

    summary = load_demo(db, points=12)
    with db.reading() as s:
        rows = {
            h.code: (h, location)
            for location, h in s.execute(
                select(Location, Holder).join(Holder, Holder.id == Location.holder_id)
            )
        }
        assert len(rows) == 1 + 30 + 12
        statuses = sorted(loc_.status for _, loc_ in rows.values())
        assert statuses.count("suspended") == 2 and statuses.count("terminated") == 1
        sp1 = loc.get_location(s, SYSTEM, "SP-0001")
        assert sp1.served_by == "RW-BJ" and sp1.region == "North China" and sp1.city
        assert sp1.status is loc.LocationStatus.ACTIVE
        assert loc.get_location(s, SYSTEM, "RW-GD").served_by == "HQ"
        assert all(
            location.served_by_holder_id == holder.parent_id for holder, location in rows.values()
        )
        assert [lv.rank for lv in loc.list_levels(s, SYSTEM)] == [1, 2, 3]
        assert loc.limits_of(s, "approver").rank == 1
        assert len(changes_of(s, "location", "SP-0001")) == 1
        _the_demo_shows_the_parts_cycle_in_every_state(s, summary)


def _the_demo_shows_the_parts_cycle_in_every_state(s, summary) -> None:
    """Requisitions in every state, through the services and by the right
    users; shipments of every kind in transit; one shortage open; books sound."""
    from importers.demo_cycle import actor
    from ledger import queries
    from ledger.parts import requisitions as rq
    from ledger.parts import shipments as sh

    approver, home = actor(s, "approver"), actor(s, "sp0001")
    listed = rq.list_requisitions(s, SYSTEM, limit=1000)
    states = {r.state for r in listed}
    assert states == set(rq.State)  # draft, submitted, ... closed, rejected, cancelled
    assert summary.requisitions == len(listed)
    # SP-0001's user sees several of its own, and only its own.
    own = rq.list_requisitions(s, home)
    assert len(own) >= 5 and {r.requester for r in own} == {"SP-0001"}
    assert {r.state for r in own} >= {"draft", "submitted", "approved", "issued", "received"}
    assert len({r.requester for r in listed}) >= 4
    assert {r.created_by for r in listed if r.requester != "SP-0001"} == {"clerk"}
    assert {r.created_by for r in own} == {"sp0001"}
    closed = next(r for r in listed if r.state == "closed")
    acted = {(h.action, h.actor) for h in rq.get(s, SYSTEM, closed.number).history}
    assert {("approve", "approver"), ("issue", "clerk")} <= acted
    # The approver has work within the RM level's limits, and some above it,
    # one of it escalated to the HQ service manager.
    assert rq.list_requisitions(s, approver, awaiting=rq.Awaiting.WITHIN)
    above = rq.list_requisitions(s, approver, awaiting=rq.Awaiting.ABOVE)
    assert {r.escalated_to for r in above} == {None, "HQ-SM"}
    rejected = next(r for r in listed if r.state == "rejected")
    assert rq.get(s, SYSTEM, rejected.number).history[-1].reason
    # Approved and not shipped: the units are reserved at the warehouse.
    waiting = next(r for r in listed if r.state == "approved")
    for line in rq.get(s, SYSTEM, waiting.number).lines:
        reserved = f"{waiting.warehouse}:RESERVED:{line.sku}"
        assert queries.balance(s, SYSTEM, reserved)["balance"] >= line.approved
    moving = sh.list_shipments(s, SYSTEM, state=sh.ShipmentState.IN_TRANSIT)
    # Issues, a transfer, a return of unused parts, one of defective parts,
    # one to the factory awaiting its count.
    assert {m.kind for m in moving} == set(sh.ShipmentKind)
    assert summary.in_transit == len(moving)
    open_ = sh.list_discrepancies(s, SYSTEM, state=sh.DiscrepancyState.OPEN)
    assert len(open_) == summary.open_discrepancies == 1 and open_[0].holder == "SP-0001"
    _the_demo_has_a_month_of_repairs(s, summary, home)
    assert all(row["net"] == 0 for row in queries.trial_balance(s))
    assert queries.verify(s) == []


def _the_demo_has_a_month_of_repairs(s, summary, home) -> None:
    """Repairs in every category, reported over the last month, at several
    points; the defective parts they replaced in the points' and a
    warehouse's defective stock."""
    from ledger.models import Account
    from ledger.parts import repairs
    from ledger.parts.warranty import Category

    listed = repairs.list_repairs(s, SYSTEM, limit=1000)
    assert len(listed) == summary.repairs >= 30
    assert {r.category for r in listed} == set(Category)
    assert len({r.point for r in listed}) >= 3
    own = repairs.list_repairs(s, home)
    assert own and {r.point for r in own} == {"SP-0001"}
    reported = {repairs.get(s, SYSTEM, r.number).case.reported_on for r in listed}
    assert (max(reported) - min(reported)).days >= 20
    assert all(r.charge > 0 for r in listed if r.category == "F")
    holders = {
        kind
        for kind, balance in s.execute(
            select(Holder.kind, Account.balance)
            .join(Holder, Holder.id == Account.holder_id)
            .where(Account.purpose == "DEFECTIVE", Account.balance > 0)
        )
    }
    assert holders == {"service_point"}  # the warehouse's went on to the factory
