"""Suppliers (holders of kind supplier) with payment terms, and the minimum
order and pack size of each part they supply: through the services, over
HTTP, on the CLI and in the demo."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ledger.amounts import MAX_AMOUNT
from ledger.catalog import parts, suppliers
from ledger.catalog.history import MasterDataChange
from ledger.catalog.suppliers import Supplier, SupplierPart
from ledger.db import Database
from ledger.errors import Duplicate, Forbidden, InvalidInput, NotFound
from ledger.models import Holder, Role
from ledger.policy import SYSTEM, Actor
from tests.test_catalog_parts import catalog, cli_db, run  # noqa: F401  (cli_db: a fixture)
from tests.test_hardening import login

CLERK = Actor("clerk", Role.WAREHOUSE_CLERK)
POINT = Actor("sp", Role.SERVICE_POINT, holder_id=1)
SUPPLIER = {"code": "SUP-A", "name": "Shenzhen parts", "payment_terms_days": 30}


def supplied(db: Database) -> None:
    """The catalog's parts, and supplier SUP-A selling Q7-LCD (min 50, pack 10)."""
    catalog(db)

    def work(s):
        suppliers.create_supplier(
            s, SYSTEM, "SUP-A", name="Shenzhen parts", payment_terms_days=30, contact="Wang"
        )
        suppliers.set_supplier_part(s, SYSTEM, "SUP-A", "Q7-LCD", minimum_order=50, pack_size=10)

    db.transact(work)


def counts(db: Database) -> tuple[int, ...]:
    with db.reading() as s:
        tables = (Holder, Supplier, SupplierPart, MasterDataChange)
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in tables)


# ----------------------------------------------------------------------------- services


def test_a_supplier_is_a_holder_of_kind_supplier_created_updated_and_listed(db):
    supplied(db)
    with db.reading() as s:
        kind = s.scalar(select(Holder.kind).where(Holder.code == "SUP-A"))
        view = suppliers.get_supplier(s, CLERK, "SUP-A")
    assert kind == "supplier"
    assert (view.name, view.payment_terms_days, view.contact, view.active) == (
        "Shenzhen parts", 30, "Wang", True
    )  # fmt: skip
    assert [(p.sku, p.minimum_order, p.pack_size) for p in view.parts] == [("Q7-LCD", 50, 10)]
    with pytest.raises(Duplicate):
        db.transact(
            lambda s: suppliers.create_supplier(s, SYSTEM, "SUP-A", name="x", payment_terms_days=1)
        )
    changed = db.transact(
        lambda s: suppliers.update_supplier(
            s, Actor("li.admin", Role.ADMIN), "SUP-A", name="SZ parts", payment_terms_days=60,
            active=False,
        )
    )  # fmt: skip
    assert (changed.name, changed.payment_terms_days, changed.active) == ("SZ parts", 60, False)
    db.transact(lambda s: suppliers.update_supplier(s, SYSTEM, "SUP-A", payment_terms_days=60))
    db.transact(
        lambda s: suppliers.create_supplier(s, SYSTEM, "SUP-B", name="B", payment_terms_days=0)
    )
    with db.reading() as s:
        every = suppliers.list_suppliers(s, CLERK)
        active = suppliers.list_suppliers(s, CLERK, active=True)
        page = suppliers.list_suppliers(s, CLERK, after="SUP-A", limit=1)
        history = suppliers.supplier_history(s, CLERK, "SUP-A")
        holder_name = s.scalar(select(Holder.name).where(Holder.code == "SUP-A"))
    assert [v.code for v in every] == ["SUP-A", "SUP-B"]
    assert [v.code for v in active] == ["SUP-B"] and [v.code for v in page] == ["SUP-B"]
    assert holder_name == "SZ parts"
    # Nothing changed by the second update: nothing recorded.
    assert [(c.actor, c.before is None) for c in history] == [("system", True), ("li.admin", False)]
    assert history[1].before["payment_terms_days"] == 30
    assert history[1].after == {
        "code": "SUP-A", "name": "SZ parts", "payment_terms_days": 60, "contact": "Wang",
        "active": False,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("minimum", "pack", "message"),
    [
        (55, 10, "minimum_order 55 is not a multiple of pack_size 10"),
        (0, 1, "minimum_order"),
        (MAX_AMOUNT + 1, 1, "minimum_order"),
        (10, 0, "pack_size"),
        (1_000_001, 1_000_001, "pack_size"),
        (True, 1, "minimum_order"),
        (10.0, 1, "minimum_order"),
    ],
)
def test_a_minimum_order_is_a_whole_number_of_packs(db, minimum, pack, message):
    supplied(db)
    before = counts(db)
    with pytest.raises(InvalidInput, match=message):
        db.transact(
            lambda s: suppliers.set_supplier_part(
                s, SYSTEM, "SUP-A", "Q7-BATT", minimum_order=minimum, pack_size=pack
            )
        )
    assert counts(db) == before


def test_supplier_parts_are_set_changed_removed_and_recorded(db):
    supplied(db)
    same = lambda s: suppliers.set_supplier_part(  # noqa: E731
        s, SYSTEM, "SUP-A", "Q7-LCD", minimum_order=50, pack_size=10
    )
    db.transact(same)  # no change: no record
    db.transact(
        lambda s: suppliers.set_supplier_part(
            s, SYSTEM, "SUP-A", "Q7-LCD", minimum_order=100, pack_size=20
        )
    )
    with db.reading() as s:
        assert suppliers.order_rule(s, "SUP-A", "Q7-LCD") == (100, 20)
    db.transact(lambda s: suppliers.remove_supplier_part(s, SYSTEM, "SUP-A", "Q7-LCD"))
    with pytest.raises(NotFound):
        db.transact(lambda s: suppliers.remove_supplier_part(s, SYSTEM, "SUP-A", "Q7-LCD"))
    with db.reading() as s:
        history = suppliers.supplier_part_history(s, CLERK, "SUP-A", "Q7-LCD")
        with pytest.raises(NotFound):
            suppliers.order_rule(s, "SUP-A", "Q7-LCD")
    assert [(c.before, c.after) for c in history] == [
        (None, {"supplier": "SUP-A", "sku": "Q7-LCD", "minimum_order": 50, "pack_size": 10}),
        (
            {"supplier": "SUP-A", "sku": "Q7-LCD", "minimum_order": 50, "pack_size": 10},
            {"supplier": "SUP-A", "sku": "Q7-LCD", "minimum_order": 100, "pack_size": 20},
        ),
        ({"supplier": "SUP-A", "sku": "Q7-LCD", "minimum_order": 100, "pack_size": 20}, None),
    ]
    assert {c.key for c in history} == {"SUP-A:Q7-LCD"}


def test_an_unknown_part_or_supplier_is_not_found(db):
    supplied(db)
    for sup, sku in (("SUP-A", "NO-SUCH"), ("NO-SUP", "Q7-LCD"), ("SUP-A", "H-Q7")):
        with pytest.raises(NotFound):
            db.transact(
                lambda s, sup=sup, sku=sku: suppliers.set_supplier_part(
                    s, SYSTEM, sup, sku, minimum_order=10, pack_size=10
                )
            )


@pytest.mark.parametrize(
    ("quantity", "ok"),
    [(40, False), (49, False), (55, False), (50, True), (60, True), (500, True), (0, False)],
)
def test_check_order_quantity_boundaries(db, quantity, ok):
    supplied(db)
    with db.reading() as s:
        if ok:
            suppliers.check_order_quantity(s, "SUP-A", "Q7-LCD", quantity)
        else:
            with pytest.raises(InvalidInput) as refused:
                suppliers.check_order_quantity(s, "SUP-A", "Q7-LCD", quantity)
            detail = refused.value.detail
            assert f"quantity {quantity}" in detail
            assert "minimum 50" in detail and "packs of 10" in detail


@pytest.mark.parametrize("actor", [CLERK, POINT])
def test_writes_are_for_admins_before_any_look_up(db, actor):
    supplied(db)
    before = counts(db)
    for write in (
        lambda s: suppliers.create_supplier(s, actor, "SUP-N", name="x", payment_terms_days=1),
        lambda s: suppliers.update_supplier(s, actor, "NO-SUCH", active=False),
        lambda s: suppliers.set_supplier_part(
            s, actor, "NO-SUCH", "NO-SUCH", minimum_order=1, pack_size=1
        ),
        lambda s: suppliers.remove_supplier_part(s, actor, "NO-SUCH", "NO-SUCH"),
    ):
        with pytest.raises(Forbidden):
            db.transact(write)
    assert counts(db) == before


def test_a_service_point_reads_no_supplier(db):
    supplied(db)
    with db.reading() as s:
        for read in (
            lambda: suppliers.list_suppliers(s, POINT),
            lambda: suppliers.get_supplier(s, POINT, "NO-SUCH"),
            lambda: suppliers.supplier_history(s, POINT, "SUP-A"),
        ):
            with pytest.raises(Forbidden):
                read()
        for role in (r for r in Role if r is not Role.SERVICE_POINT):
            assert suppliers.get_supplier(s, Actor("x", role), "SUP-A").code == "SUP-A"


# ----------------------------------------------------------------------------- HTTP


def test_http_add_find_change_parts_and_history(client, db):
    catalog(db)
    admin = login(client, db, Role.ADMIN)
    clerk = login(client, db, Role.WAREHOUSE_CLERK)
    made = client.post("/suppliers", json={**SUPPLIER, "contact": "Wang 138"}, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["payment_terms_days"] == 30 and made.json()["parts"] == []
    rule = {"minimum_order": 100, "pack_size": 20}
    put = client.put("/suppliers/SUP-A/parts/Q7-BATT", json=rule, headers=admin)
    assert put.status_code == 200 and put.json()["pack_size"] == 20, put.text
    odd = client.put(
        "/suppliers/SUP-A/parts/Q7-BATT", json={"minimum_order": 30, "pack_size": 20}, headers=admin
    )
    assert odd.status_code == 422 and "not a multiple of pack_size 20" in odd.json()["detail"]
    patched = client.patch("/suppliers/SUP-A", json={"payment_terms_days": 45}, headers=admin)
    assert patched.status_code == 200 and patched.json()["payment_terms_days"] == 45
    one = client.get("/suppliers/SUP-A", headers=clerk).json()
    assert [(p["sku"], p["minimum_order"]) for p in one["parts"]] == [("Q7-BATT", 100)]
    page = client.get("/suppliers", params={"active": True}, headers=clerk).json()
    assert [v["code"] for v in page["items"]] == ["SUP-A"] and page["next_after"] is None
    history = client.get("/suppliers/SUP-A/history", headers=clerk).json()["items"]
    assert [c["after"]["payment_terms_days"] for c in history] == [30, 45]
    gone = client.delete("/suppliers/SUP-A/parts/Q7-BATT", headers=admin)
    assert gone.status_code == 204 and gone.content == b""
    again = client.delete("/suppliers/SUP-A/parts/Q7-BATT", headers=admin)
    assert again.status_code == 404
    unknown = client.put("/suppliers/SUP-A/parts/NO-SUCH", json=rule, headers=admin)
    assert unknown.status_code == 404 and "NO-SUCH" in unknown.json()["detail"]


def test_http_a_service_point_gets_403_on_reads_and_writes(client, db):
    supplied(db)
    point = login(client, db, Role.SERVICE_POINT, "SP-0001")
    before = counts(db)
    rule = {"minimum_order": 10, "pack_size": 10}
    for method, path, body in [
        ("get", "/suppliers", None),
        ("get", "/suppliers/SUP-A", None),
        ("get", "/suppliers/NO-SUCH", None),
        ("get", "/suppliers/SUP-A/history", None),
        ("post", "/suppliers", SUPPLIER),
        ("patch", "/suppliers/SUP-A", {"active": False}),
        ("put", "/suppliers/SUP-A/parts/Q7-LCD", rule),
        ("delete", "/suppliers/SUP-A/parts/Q7-LCD", None),
    ]:
        response = client.request(method, path, json=body, headers=point)
        assert response.status_code == 403, (method, path, response.text)
    assert counts(db) == before


def test_http_writes_are_403_for_a_clerk_even_for_what_does_not_exist(client, db):
    supplied(db)
    clerk = login(client, db, Role.WAREHOUSE_CLERK)
    before = counts(db)
    rule = {"minimum_order": 10, "pack_size": 10}
    for method, path, body in [
        ("post", "/suppliers", {**SUPPLIER, "code": "SUP-N"}),
        ("patch", "/suppliers/NO-SUCH", {"active": False}),
        ("put", "/suppliers/NO-SUCH/parts/NO-SUCH", rule),
        ("delete", "/suppliers/NO-SUCH/parts/NO-SUCH", None),
    ]:
        response = client.request(method, path, json=body, headers=clerk)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["type"] == "/problems/forbidden"
    assert counts(db) == before


HOSTILE = [
    ("post", "/suppliers", {**SUPPLIER, "code": "SUP-A\n"}, 422),
    ("post", "/suppliers", {**SUPPLIER, "code": "sup-a"}, 422),
    ("post", "/suppliers", {**SUPPLIER, "name": "two\nlines"}, 422),
    ("post", "/suppliers", {**SUPPLIER, "name": "   "}, 422),
    ("post", "/suppliers", {**SUPPLIER, "payment_terms_days": 366}, 422),
    ("post", "/suppliers", {**SUPPLIER, "payment_terms_days": -1}, 422),
    ("post", "/suppliers", {**SUPPLIER, "payment_terms_days": "30"}, 422),
    ("post", "/suppliers", {**SUPPLIER, "payment_terms_days": 30.0}, 422),
    ("post", "/suppliers", {**SUPPLIER, "payment_terms_days": True}, 422),
    ("post", "/suppliers", {**SUPPLIER, "contact": "c" * 201}, 422),
    ("post", "/suppliers", {**SUPPLIER, "contact": "nul\u0000"}, 422),
    ("post", "/suppliers", {**SUPPLIER, "kind": "hq"}, 422),
    ("post", "/suppliers", {**SUPPLIER, "code": "SUP-A"}, 409),
    ("patch", "/suppliers/SUP-A", {"code": "SUP-B"}, 422),
    ("patch", "/suppliers/SUP-A", {"active": "no"}, 422),
    ("patch", "/suppliers/SUP-A%0A", {"active": False}, 422),
    ("patch", "/suppliers/NO-SUCH", {"active": False}, 404),
    ("put", "/suppliers/SUP-A/parts/Q7-LCD", {"minimum_order": 0, "pack_size": 1}, 422),
    ("put", "/suppliers/SUP-A/parts/Q7-LCD", {"minimum_order": 15, "pack_size": 10}, 422),
    ("put", "/suppliers/SUP-A/parts/Q7-LCD", {"minimum_order": 10, "pack_size": 1_000_001}, 422),
    ("put", "/suppliers/SUP-A/parts/Q7-LCD", {"minimum_order": MAX_AMOUNT + 1, "pack_size": 1},
     422),
    ("put", "/suppliers/SUP-A/parts/Q7-LCD", {"minimum_order": "10", "pack_size": 1}, 422),
    ("put", "/suppliers/SUP-A/parts/Q7-LCD", {"minimum_order": 10}, 422),
    ("put", "/suppliers/SUP-A/parts/Q7-LCD", {"minimum_order": 10, "pack_size": 1, "x": 1}, 422),
    ("put", "/suppliers/SUP-A/parts/q7-lcd", {"minimum_order": 10, "pack_size": 1}, 422),
    ("put", "/suppliers/SUP-A/parts/NO-SUCH", {"minimum_order": 10, "pack_size": 1}, 404),
    ("put", "/suppliers/NO-SUCH/parts/Q7-LCD", {"minimum_order": 10, "pack_size": 1}, 404),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "status"), HOSTILE)
def test_http_hostile_input_is_refused_and_writes_nothing(client, db, method, path, body, status):
    supplied(db)
    admin = login(client, db, Role.ADMIN)
    before = counts(db)
    response = client.request(method, path, json=body, headers=admin)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert counts(db) == before


@pytest.mark.parametrize(
    "query",
    ["/suppliers?limit=0", "/suppliers?limit=1001", "/suppliers/SUP-A%0A",
     "/suppliers/SUP-A/history?after=-1", "/suppliers/sup-a"],
)  # fmt: skip
def test_http_hostile_queries_are_422(client, db, query):
    supplied(db)
    response = client.get(query, headers=login(client, db, Role.ADMIN))
    assert response.status_code == 422, response.text


# ----------------------------------------------------------------------------- CLI


def test_cli_adds_sets_shows_and_lists_suppliers(cli_db):  # noqa: F811
    run("parts", "add", "Q7-BATT", "--zh", "电池", "--en", "Battery", "--category", "battery",
        "--warranty-class", "battery")  # fmt: skip
    out = run("suppliers", "add", "SUP-A", "--name", "Shenzhen parts", "--terms", "30")
    assert "supplier SUP-A added" in out and "30 days" in out
    out = run("suppliers", "part", "SUP-A", "Q7-BATT", "--minimum", "100", "--pack", "20")
    assert "minimum 100, pack 20" in out
    out = run("suppliers", "show", "SUP-A")
    assert "payment terms: 30 days" in out and "Q7-BATT: minimum 100, pack 20" in out
    assert "SUP-A" in run("suppliers", "list")
    assert "no suppliers match" in run("suppliers", "list", "--inactive")


def test_cli_errors_are_a_message_and_exit_1(cli_db):  # noqa: F811
    run("parts", "add", "Q7-BATT", "--zh", "电池", "--en", "Battery", "--category", "battery",
        "--warranty-class", "battery")  # fmt: skip
    assert "does not exist" in run("suppliers", "show", "NO-SUCH", code=1)
    assert "payment_terms_days" in run(
        "suppliers", "add", "SUP-A", "--name", "x", "--terms", "400", code=1
    )
    run("suppliers", "add", "SUP-A", "--name", "x", "--terms", "30")
    out = run("suppliers", "part", "SUP-A", "Q7-BATT", "--minimum", "30", "--pack", "20", code=1)
    assert "not a multiple of pack_size 20" in out
    assert "NO-SUCH" in run(
        "suppliers", "part", "SUP-A", "NO-SUCH", "--minimum", "20", "--pack", "20", code=1
    )


# ----------------------------------------------------------------------------- demo


def test_the_demo_supplier_has_terms_and_a_rule_for_every_part(db):
    from importers.demo import load_demo

    load_demo(db, points=3)
    with db.reading() as s:
        view = suppliers.get_supplier(s, CLERK, "SUPPLIER")
        listed = parts.list_parts(s, CLERK, limit=1000)
        changes = s.scalar(
            select(func.count())
            .select_from(MasterDataChange)
            .where(MasterDataChange.entity.in_(["supplier", "supplier_part"]))
        )
        suppliers.check_order_quantity(s, "SUPPLIER", "X1-BATT", 120)
        with pytest.raises(InvalidInput):
            suppliers.check_order_quantity(s, "SUPPLIER", "X1-BATT", 90)
    assert view.payment_terms_days == 30
    rules = {p.sku: (p.minimum_order, p.pack_size) for p in view.parts}
    assert set(rules) == {p.sku for p in listed} and len(rules) == 240
    assert rules["X1-BATT"] == rules["Z1-CHGR"] == (100, 20)
    assert rules["X1-LCD"] == rules["Y2-CABLE"] == (50, 10)
    assert changes == 1 + 240
