"""The parts catalog: parts (commodities of kind part), their compatible
handset models, effective-dated prices and the change history, through the
services, over HTTP, on the CLI and in the demo."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from ledger.amounts import MAX_AMOUNT
from ledger.calendar import OpenWindow
from ledger.catalog import parts
from ledger.catalog.history import MasterDataChange
from ledger.catalog.parts import HandsetModel, Part, PartCompatibleModel, PartPrice
from ledger.db import Database
from ledger.errors import Duplicate, Forbidden, InvalidInput, NotFound
from ledger.models import Commodity, Role
from ledger.policy import SYSTEM, Actor
from ledger.settings import get_settings
from tests.cli import cli_database, run
from tests.test_hardening import login

CLERK = Actor("clerk", Role.WAREHOUSE_CLERK)


def today(db: Database) -> date:
    return db.window.today()


def catalog(db: Database) -> None:
    """Two handset models and three parts (no prices)."""

    def work(s):
        parts.create_model(s, SYSTEM, "H-Q7", name="Q7 handset", colours=["black", "white"])
        parts.create_model(s, SYSTEM, "H-Q8", name="Q8 handset", colours=["blue"])
        parts.create_part(
            s, SYSTEM, "Q7-LCD", name_zh="Q7 屏幕", name_en="Q7 LCD screen",
            category="screen", warranty_class="handset", models=["H-Q7", "H-Q8"],
        )  # fmt: skip
        parts.create_part(
            s, SYSTEM, "Q7-BATT", name_zh="Q7 电池", name_en="Q7 Battery",
            category="battery", warranty_class="battery", models=["H-Q7"],
        )  # fmt: skip
        parts.create_part(
            s, SYSTEM, "Q8-CHGR", name_zh="Q8 充电器", name_en="Q8 charger",
            category="charger", warranty_class="charger", models=["H-Q8"], serialized=True,
        )  # fmt: skip

    db.transact(work)


def counts(db: Database) -> tuple[int, ...]:
    with db.reading() as s:
        tables = (Commodity, Part, PartCompatibleModel, PartPrice, HandsetModel, MasterDataChange)
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in tables)


def skus(rows) -> list[str]:
    return [r.sku if hasattr(r, "sku") else r["sku"] for r in rows]


# ----------------------------------------------------------------------------- services


def test_a_part_is_a_commodity_of_kind_part_and_a_model_a_serialized_handset(db):
    catalog(db)
    with db.reading() as s:
        kinds = dict(s.execute(select(Commodity.code, Commodity.kind)).all())
        serialized = dict(s.execute(select(Commodity.code, Commodity.serialized)).all())
        lcd = parts.get_part(s, CLERK, "Q7-LCD")
        charger = parts.get_part(s, CLERK, "Q8-CHGR")
    assert kinds == {
        "H-Q7": "handset", "H-Q8": "handset", "Q7-LCD": "part", "Q7-BATT": "part", "Q8-CHGR": "part"
    }  # fmt: skip
    assert serialized["H-Q7"] and serialized["Q8-CHGR"] and not serialized["Q7-LCD"]
    assert lcd.models == ["H-Q7", "H-Q8"] and lcd.current_price is None and lcd.active
    assert (lcd.name_zh, lcd.category, lcd.warranty_class) == ("Q7 屏幕", "screen", "handset")
    assert charger.serialized and charger.warranty_class == "charger"
    with pytest.raises(Duplicate):
        db.transact(
            lambda s: parts.create_part(
                s, SYSTEM, "Q7-LCD", name_zh="x", name_en="x", category="x",
                warranty_class="handset",
            )
        )  # fmt: skip


def test_update_changes_what_is_given_and_records_before_and_after(db):
    catalog(db)
    view = db.transact(
        lambda s: parts.update_part(
            s, Actor("li.admin", Role.ADMIN), "Q7-LCD", name_en="Q7 display",
            warranty_class="accessory", active=False, models=["H-Q8"],
        )
    )  # fmt: skip
    assert (view.name_en, view.name_zh, view.warranty_class) == (
        "Q7 display",
        "Q7 屏幕",
        "accessory",
    )
    assert view.models == ["H-Q8"] and not view.active
    # Nothing changed: nothing recorded.
    db.transact(lambda s: parts.update_part(s, SYSTEM, "Q7-LCD", category="screen"))
    with db.reading() as s:
        history = parts.part_history(s, CLERK, "Q7-LCD")
        name = s.scalar(select(Commodity.name).where(Commodity.code == "Q7-LCD"))
    assert [(c.entity, c.actor) for c in history] == [("part", "system"), ("part", "li.admin")]
    change = history[1]
    assert change.before["models"] == ["H-Q7", "H-Q8"] and change.after["models"] == ["H-Q8"]
    assert change.before["active"] is True and change.after["active"] is False
    assert change.after["name_en"] == "Q7 display" and change.at is not None
    assert name == "Q7 display"  # the commodity's name follows the English name


def test_list_parts_by_each_filter_and_page_by_sku(db):
    catalog(db)
    db.transact(lambda s: parts.update_part(s, SYSTEM, "Q7-BATT", active=False))

    def find(**filters):
        with db.reading() as s:
            return skus(parts.list_parts(s, CLERK, **filters))

    assert find() == ["Q7-BATT", "Q7-LCD", "Q8-CHGR"]
    assert find(q="q7") == ["Q7-BATT", "Q7-LCD"]  # SKU prefix, any case
    assert find(q="7-L") == []  # a SKU matches by prefix only
    assert find(q="电池") == ["Q7-BATT"]  # part of the Chinese name
    assert find(q="BATTERY") == ["Q7-BATT"]  # part of the English name, any case
    assert find(q="%") == [] and find(q="_") == []  # wildcards are text
    assert find(category="screen") == ["Q7-LCD"]
    assert find(warranty_class="charger") == ["Q8-CHGR"]
    assert find(model="H-Q8") == ["Q7-LCD", "Q8-CHGR"]
    assert find(model="H-NONE") == []
    assert find(active=False) == ["Q7-BATT"]
    assert find(active=True, model="H-Q7") == ["Q7-LCD"]
    assert find(limit=2) == ["Q7-BATT", "Q7-LCD"]
    assert find(after="Q7-LCD", limit=2) == ["Q8-CHGR"]
    with pytest.raises(InvalidInput):
        find(warranty_class="phone")


def test_price_on_a_day_is_the_latest_effective_on_or_before_it(db):
    catalog(db)
    first, second, planned = (
        today(db) - timedelta(days=20),
        today(db) - timedelta(days=10),
        today(db) + timedelta(days=30),
    )

    def price(day, cost):
        return lambda s: parts.set_price(
            s, SYSTEM, "Q7-LCD", effective_from=day, standard_cost=cost, list_price=cost * 2
        )

    db.transact(price(second, 2000))  # the order they are set in does not matter
    db.transact(price(first, 1000))
    db.transact(price(planned, 3000))

    def on(day):
        with db.reading() as s:
            return parts.price_on(s, CLERK, "Q7-LCD", day).standard_cost

    with db.reading() as s, pytest.raises(NotFound, match="first price takes effect on"):
        parts.price_on(s, CLERK, "Q7-LCD", first - timedelta(days=1))
    assert on(first) == 1000  # the effective day itself
    assert on(first + timedelta(days=5)) == 1000  # between two prices
    assert on(second - timedelta(days=1)) == 1000
    assert on(second) == 2000
    assert on(today(db)) == 2000
    assert on(planned - timedelta(days=1)) == 2000  # a planned price is not in force yet
    assert on(planned) == 3000
    with db.reading() as s:
        assert parts.get_part(s, CLERK, "Q7-LCD").current_price.standard_cost == 2000
        listed = parts.list_parts(s, CLERK, q="Q7-LCD")[0].current_price
        history = parts.part_prices(s, CLERK, "Q7-LCD")
        with pytest.raises(NotFound, match="no price yet"):
            parts.price_on(s, CLERK, "Q7-BATT", today(db))
    assert listed.standard_cost == 2000 and listed.list_price == 4000
    assert [p.effective_from for p in history] == [first, second, planned]


def test_a_price_date_is_set_once_and_within_the_window(db):
    catalog(db)
    window = db.window
    day = today(db)
    db.transact(
        lambda s: parts.set_price(
            s, SYSTEM, "Q7-LCD", effective_from=day, standard_cost=1250, list_price=3000
        )
    )
    with pytest.raises(Duplicate, match=r"12\.50 CNY.*another effective date"):
        db.transact(
            lambda s: parts.set_price(
                s, SYSTEM, "Q7-LCD", effective_from=day, standard_cost=1, list_price=1
            )
        )
    for bad in (window.first_open_day - timedelta(days=1), day + timedelta(days=3 * 366 + 1)):
        with pytest.raises(InvalidInput) as refused:
            db.transact(
                lambda s, bad=bad: parts.set_price(
                    s, SYSTEM, "Q7-LCD", effective_from=bad, standard_cost=1, list_price=1
                )
            )
        assert refused.value.where == {"field": "effective_from"}
    for cost in (-1, MAX_AMOUNT + 1, 12.5, True, "1250"):
        with pytest.raises(InvalidInput):
            db.transact(
                lambda s, cost=cost: parts.set_price(
                    s, SYSTEM, "Q7-LCD", effective_from=day, standard_cost=cost, list_price=1
                )
            )
    # The first open day and three years ahead are allowed.
    for ok in (window.first_open_day, day + timedelta(days=3 * 365)):
        db.transact(
            lambda s, ok=ok: parts.set_price(
                s, SYSTEM, "Q7-LCD", effective_from=ok, standard_cost=0, list_price=MAX_AMOUNT
            )
        )
    with db.reading() as s:
        assert len(parts.part_prices(s, CLERK, "Q7-LCD")) == 3


@pytest.mark.parametrize("actor", [CLERK, Actor("sp", Role.SERVICE_POINT, holder_id=1)])
def test_writes_are_for_admins_before_any_look_up(db, actor):
    catalog(db)
    for write in (
        lambda s: parts.create_part(
            s, actor, "NEW", name_zh="x", name_en="x", category="x", warranty_class="handset"
        ),
        lambda s: parts.update_part(s, actor, "NO-SUCH-PART", active=False),
        lambda s: parts.set_price(
            s, actor, "NO-SUCH-PART", effective_from=date.today(), standard_cost=1, list_price=1
        ),
        lambda s: parts.create_model(s, actor, "H-NEW", name="x"),
        lambda s: parts.update_model(s, actor, "H-NONE", name="x"),
    ):
        with pytest.raises(Forbidden):
            db.transact(write)


def test_models_have_unique_colours_at_most_twenty(db):
    catalog(db)
    view = db.transact(
        lambda s: parts.update_model(s, SYSTEM, "H-Q8", colours=["blue", "红色"], active=False)
    )
    assert view.colours == ["blue", "红色"] and not view.active
    for colours in (["blue", "Blue"], [f"c{i}" for i in range(21)], ["a\nb"], [""], ["x" * 41]):
        with pytest.raises(InvalidInput) as refused:
            db.transact(lambda s, c=colours: parts.update_model(s, SYSTEM, "H-Q8", colours=c))
        assert refused.value.where == {"field": "colours"}
    with db.reading() as s:
        assert [m.code for m in parts.list_models(s, CLERK)] == ["H-Q7", "H-Q8"]
        assert [m.code for m in parts.list_models(s, CLERK, active=True)] == ["H-Q7"]
        assert [m.code for m in parts.list_models(s, CLERK, after="H-Q7")] == ["H-Q8"]
        changes = [
            (c.key, c.before, c.after)
            for c in s.scalars(
                select(MasterDataChange).where(MasterDataChange.entity == "handset_model")
            )
        ]
    assert [(key, before is None) for key, before, _ in changes] == [
        ("H-Q7", True), ("H-Q8", True), ("H-Q8", False)
    ]  # fmt: skip
    assert changes[-1][1]["colours"] == ["blue"] and changes[-1][2]["active"] is False


# ----------------------------------------------------------------------------- HTTP

PART = {
    "sku": "Q9-LCD",
    "name_zh": "Q9 屏幕",
    "name_en": "Q9 LCD",
    "category": "screen",
    "warranty_class": "handset",
    "models": ["H-Q7"],
}


def test_http_add_find_change_price_and_history(client, db):
    catalog(db)
    admin = login(client, db, Role.ADMIN)
    point = login(client, db, Role.SERVICE_POINT, "SP-0001")
    made = client.post("/parts", json=PART, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["models"] == ["H-Q7"] and made.json()["serialized"] is False
    day = today(db).isoformat()
    price = {"effective_from": day, "standard_cost": 1250, "list_price": 3000}
    assert client.post("/parts/Q9-LCD/prices", json=price, headers=admin).status_code == 201
    again = client.post("/parts/Q9-LCD/prices", json={**price, "list_price": 1}, headers=admin)
    assert again.status_code == 409 and "12.50 CNY" in again.json()["detail"]
    changed = client.patch("/parts/Q9-LCD", json={"category": "display"}, headers=admin)
    assert changed.status_code == 200 and changed.json()["category"] == "display"

    # A service point reads the catalog (its requisitions need it).
    page = client.get("/parts", params={"q": "q9", "model": "H-Q7"}, headers=point).json()
    assert skus(page["items"]) == ["Q9-LCD"] and page["next_after"] is None
    assert page["items"][0]["current_price"]["list_price"] == 3000
    first = client.get("/parts", params={"limit": 2}, headers=point).json()
    assert skus(first["items"]) == ["Q7-BATT", "Q7-LCD"] and first["next_after"] == "Q7-LCD"
    rest = client.get("/parts", params={"after": "Q7-LCD"}, headers=point).json()
    assert skus(rest["items"]) == ["Q8-CHGR", "Q9-LCD"]
    assert skus(client.get("/parts?category=charger", headers=point).json()["items"]) == ["Q8-CHGR"]
    assert skus(client.get("/parts?warranty_class=battery", headers=point).json()["items"]) == [
        "Q7-BATT"
    ]
    shown = client.get("/parts/Q9-LCD", headers=point).json()
    assert shown["current_price"]["standard_cost"] == 1250 and shown["name_zh"] == "Q9 屏幕"
    on = client.get(f"/parts/Q9-LCD/price?on={day}", headers=point)
    assert on.status_code == 200 and on.json()["standard_cost"] == 1250
    before = (today(db) - timedelta(days=1)).isoformat()
    missing = client.get(f"/parts/Q9-LCD/price?on={before}", headers=point)
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/not-found"
    assert [p["list_price"] for p in client.get("/parts/Q9-LCD/prices", headers=point).json()] == [
        3000
    ]

    history = client.get("/parts/Q9-LCD/history", headers=admin).json()
    assert [(c["entity"], c["actor"]) for c in history["items"]] == [
        ("part", "admin-hq"), ("part_price", "admin-hq"), ("part", "admin-hq")
    ]  # fmt: skip
    created, priced, patched = history["items"]
    assert created["before"] is None and created["after"]["sku"] == "Q9-LCD"
    assert priced["after"] == {
        "sku": "Q9-LCD", "effective_from": day, "standard_cost": 1250, "list_price": 3000
    }  # fmt: skip
    assert patched["before"]["category"] == "screen" and patched["after"]["category"] == "display"
    assert all(c["at"] for c in history["items"])
    paged = client.get("/parts/Q9-LCD/history?limit=2", headers=admin).json()
    tail = client.get(f"/parts/Q9-LCD/history?after={paged['next_after']}", headers=admin).json()
    assert [c["id"] for c in paged["items"] + tail["items"]] == [c["id"] for c in history["items"]]


def test_http_models(client, db):
    catalog(db)
    admin = login(client, db, Role.ADMIN)
    made = client.post(
        "/models", json={"code": "H-Q9", "name": "Q9", "colours": ["black"]}, headers=admin
    )
    assert made.status_code == 201 and made.json()["colours"] == ["black"]
    assert (
        client.post("/models", json={"code": "H-Q9", "name": "Q9"}, headers=admin).status_code
        == 409
    )
    changed = client.patch("/models/H-Q9", json={"colours": ["black", "gold"]}, headers=admin)
    assert changed.status_code == 200 and changed.json()["colours"] == ["black", "gold"]
    page = client.get("/models?limit=2", headers=admin).json()
    assert [m["code"] for m in page["items"]] == ["H-Q7", "H-Q8"] and page["next_after"] == "H-Q8"
    assert client.patch("/models/H-NONE", json={}, headers=admin).status_code == 404
    twice = client.patch("/models/H-Q9", json={"colours": ["a", "a"]}, headers=admin)
    assert twice.status_code == 422 and twice.json()["field"] == "colours"


@pytest.mark.parametrize("role", [Role.WAREHOUSE_CLERK, Role.SERVICE_POINT])
def test_http_writes_are_403_for_other_roles_even_for_what_does_not_exist(client, db, role):
    catalog(db)
    headers = login(client, db, role, "SP-0001" if role is Role.SERVICE_POINT else None)
    price = {"effective_from": today(db).isoformat(), "standard_cost": 1, "list_price": 1}
    before = counts(db)
    for method, path, body in [
        ("post", "/parts", PART),
        ("patch", "/parts/NO-SUCH", {"active": False}),
        ("patch", "/parts/Q7-LCD", {"active": False}),
        ("post", "/parts/NO-SUCH/prices", price),
        ("post", "/parts/Q7-LCD/prices", price),
        ("post", "/models", {"code": "H-NEW", "name": "New"}),
        ("patch", "/models/H-NONE", {"name": "x"}),
    ]:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["type"] == "/problems/forbidden"
    assert counts(db) == before
    assert client.get("/parts/Q7-LCD", headers=headers).status_code == 200
    assert client.get("/models", headers=headers).status_code == 200


HOSTILE = [
    ("post", "/parts", {**PART, "sku": "Q9-LCD\n"}, 422),
    ("post", "/parts", {**PART, "sku": "q9-lcd"}, 422),
    ("post", "/parts", {**PART, "sku": "Q9\u0000LCD"}, 422),
    ("post", "/parts", {**PART, "name_zh": "屏" * 201}, 422),
    ("post", "/parts", {**PART, "name_en": "x" * 201}, 422),
    ("post", "/parts", {**PART, "name_en": "two\nlines"}, 422),
    ("post", "/parts", {**PART, "name_en": "   "}, 422),
    ("post", "/parts", {**PART, "name_en": "nul\u0000"}, 422),
    ("post", "/parts", {**PART, "category": "c" * 41}, 422),
    ("post", "/parts", {**PART, "warranty_class": "phone"}, 422),
    ("post", "/parts", {**PART, "models": ["H-NONE"]}, 404),
    ("post", "/parts", {**PART, "serialized": "yes"}, 422),
    ("post", "/parts", {**PART, "sku": "Q7-LCD"}, 409),
    ("patch", "/parts/Q7-LCD", {"sku": "Q7-NEW"}, 422),
    ("patch", "/parts/Q7-LCD", {"serialized": True}, 422),
    ("patch", "/parts/Q7-LCD", {"models": ["H-NONE"]}, 404),
    ("patch", "/parts/Q7-LCD", {"warranty_class": "phone"}, 422),
    ("patch", "/parts/Q7-LCD%0A", {"active": False}, 422),
    ("patch", "/parts/NO-SUCH", {"active": False}, 404),
    ("post", "/parts/Q7-LCD/prices", {"standard_cost": -1}, 422),
    ("post", "/parts/Q7-LCD/prices", {"standard_cost": MAX_AMOUNT + 1}, 422),
    ("post", "/parts/Q7-LCD/prices", {"list_price": MAX_AMOUNT + 1}, 422),
    ("post", "/parts/Q7-LCD/prices", {"standard_cost": 12.5}, 422),
    ("post", "/parts/Q7-LCD/prices", {"standard_cost": "1250"}, 422),
    ("post", "/parts/Q7-LCD/prices", {"standard_cost": True}, 422),
    ("post", "/parts/Q7-LCD/prices", {"effective_from": "1999-12-31"}, 422),
    ("post", "/parts/Q7-LCD/prices", {"effective_from": "2099-01-01"}, 422),
    ("post", "/parts/Q7-LCD/prices", {"effective_from": "2026-1-1"}, 422),
    ("post", "/parts/Q7-LCD/prices", {"effective_from": 0}, 422),
    ("post", "/parts/NO-SUCH/prices", {}, 404),
    ("post", "/models", {"code": "H-Q9\n", "name": "Q9"}, 422),
    ("post", "/models", {"code": "H-Q9", "name": "Q9", "colours": ["a"] * 21}, 422),
    ("post", "/models", {"code": "H-Q9", "name": "n" * 201}, 422),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), HOSTILE)
def test_http_hostile_input_is_refused_and_writes_nothing(client, db, method, path, body, status):
    catalog(db)
    admin = login(client, db, Role.ADMIN)
    if path.endswith("/prices"):
        body = {
            "effective_from": today(db).isoformat(),
            "standard_cost": 100,
            "list_price": 250,
            **body,
        }
    before = counts(db)
    response = client.request(method, path, json=body, headers=admin)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert counts(db) == before


@pytest.mark.parametrize(
    "query",
    [
        "/parts?q=%00",
        "/parts?q=" + "q" * 201,
        "/parts?warranty_class=phone",
        "/parts?model=h-q7",
        "/parts?limit=0",
        "/parts?limit=1001",
        "/parts/Q7-LCD%0A",
        "/parts/Q7-LCD/price?on=0",
        "/parts/Q7-LCD/price?on=2026-02-30",
        "/parts/Q7-LCD/history?after=-1",
    ],
)
def test_http_hostile_queries_are_422(client, db, query):
    catalog(db)
    response = client.get(query, headers=login(client, db, Role.ADMIN))
    assert response.status_code == 422, response.text


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    """A migrated SQLite file with two handset models, as DATABASE_URL."""
    yield from cli_database(
        tmp_path, monkeypatch, lambda s: parts.create_model(s, SYSTEM, "H-Q7", name="Q7")
    )


def test_cli_adds_prices_shows_and_lists_parts(cli_db):
    day = OpenWindow.from_settings(get_settings()).today().isoformat()
    out = run(
        "parts", "add", "Q7-LCD", "--zh", "Q7 屏幕", "--en", "[bold]Q7[/bold] LCD",
        "--category", "screen", "--warranty-class", "handset", "--model", "H-Q7",
    )  # fmt: skip
    assert "part Q7-LCD added" in out and "[bold]Q7[/bold] LCD" in out  # markup off
    out = run("parts", "price", "Q7-LCD", "--from", day, "--cost", "12.50", "--list", "30")
    assert "cost 12.50 CNY, list 30.00 CNY" in out
    with cli_db.reading() as s:
        price = parts.price_on(s, SYSTEM, "Q7-LCD", date.fromisoformat(day))
    assert (price.standard_cost, price.list_price) == (1250, 3000)
    out = run("parts", "show", "Q7-LCD")
    assert "Q7 屏幕 / [bold]Q7[/bold] LCD" in out and "fits: H-Q7" in out
    assert "cost 12.50 CNY, list 30.00 CNY" in out
    assert "Q7-LCD" in run("parts", "list", "--q", "q7")
    assert "no parts match" in run("parts", "list", "--q", "nothing")
    run(
        "parts", "add", "Q7-CHGR", "--zh", "充电器", "--en", "Charger", "--category", "charger",
        "--warranty-class", "charger", "--serialized",
    )  # fmt: skip
    with cli_db.reading() as s:
        assert parts.get_part(s, SYSTEM, "Q7-CHGR").serialized


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cost", "12.505", "--list", "30"), "more than 2 decimals"),
        (("--cost", "-1", "--list", "30"), "not an amount of CNY"),
        (("--cost", "1e3", "--list", "30"), "not an amount of CNY"),
        (("--cost", "12", "--list", "99999999999999"), "not an amount of CNY"),
        (("--cost", "9999999999999", "--list", "1"), "out of bounds"),
    ],
)
def test_cli_refuses_bad_amounts_with_a_message(cli_db, args, message):
    day = OpenWindow.from_settings(get_settings()).today().isoformat()
    run("parts", "add", "Q7-LCD", "--zh", "屏", "--en", "LCD", "--category", "screen",
        "--warranty-class", "handset")  # fmt: skip
    out = run("parts", "price", "Q7-LCD", "--from", day, *args, code=1)
    assert message in out
    with cli_db.reading() as s:
        assert parts.part_prices(s, SYSTEM, "Q7-LCD") == []


def test_cli_errors_are_a_message_and_exit_1(cli_db):
    day = OpenWindow.from_settings(get_settings()).today().isoformat()
    assert "does not exist" in run("parts", "show", "NO-SUCH", code=1)
    assert "YYYY-MM-DD" in run(
        "parts", "price", "NO-SUCH", "--from", "2026-13-01", "--cost", "1", "--list", "1", code=1
    )
    out = run("parts", "add", "Q7-LCD", "--zh", "屏", "--en", "LCD", "--category", "screen",
              "--warranty-class", "phone", code=1)  # fmt: skip
    assert "warranty_class 'phone' is not known" in out
    out = run("parts", "add", "Q7-LCD", "--zh", "屏", "--en", "LCD", "--category", "screen",
              "--warranty-class", "handset", "--model", "H-NONE", code=1)  # fmt: skip
    assert "H-NONE" in out
    run("parts", "add", "Q7-LCD", "--zh", "屏", "--en", "LCD", "--category", "screen",
        "--warranty-class", "handset")  # fmt: skip
    run("parts", "price", "Q7-LCD", "--from", day, "--cost", "1", "--list", "2")
    again = run("parts", "price", "Q7-LCD", "--from", day, "--cost", "1", "--list", "2", code=1)
    assert "already has a price" in again


# ----------------------------------------------------------------------------- demo


def test_the_demo_catalogues_and_prices_every_part(db):
    from importers.demo import load_demo

    load_demo(db, points=3)
    with db.reading() as s:
        listed = parts.list_parts(s, CLERK, limit=1000)
        models = parts.list_models(s, CLERK)
        lcd = parts.get_part(s, CLERK, "X1-LCD")
        changes = s.scalar(
            select(func.count())
            .select_from(MasterDataChange)
            .where(MasterDataChange.entity.in_(["handset_model", "part", "part_price"]))
        )
    assert len(listed) == 240 and all(p.current_price for p in listed)
    assert all(p.current_price.effective_from == today(db) for p in listed)
    assert all(p.models == [f"H-{p.sku.split('-')[0]}"] for p in listed)
    by_sku = {p.sku: p for p in listed}
    assert by_sku["Y2-BATT"].warranty_class == "battery"
    assert by_sku["Y2-CHGR"].warranty_class == "charger"
    assert by_sku["Z1-EARPH"].warranty_class == by_sku["Z1-CABLE"].warranty_class == "accessory"
    assert by_sku["Z1-BOARD"].warranty_class == "handset"
    assert lcd.name_zh == "X1 屏幕" and lcd.category == "screen"
    price = lcd.current_price
    assert 2.4 <= price.list_price / price.standard_cost <= 2.6
    assert [(m.code, m.colours) for m in models] == [
        (f"H-{m}", ["black", "white", "blue"]) for m in ("X1", "X2", "X3", "Y1", "Y2", "Z1")
    ]
    assert changes == 6 + 240 * 2  # every model, part and price recorded
