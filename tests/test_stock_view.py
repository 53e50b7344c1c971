"""A location's stock view (ledger/parts/stock.py) through the service, HTTP
and the CLI, on SQLite and PostgreSQL: figures per purpose after real
postings, value at the cost in force today, paging, the SKU filter, and who
may see which location."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event, select

from ledger import masterdata as md
from ledger import services
from ledger.catalog import parts
from ledger.catalog.parts import Part
from ledger.db import Database
from ledger.errors import InvalidInput, NotFound
from ledger.journal import EntryIn, PostingIn
from ledger.models import Commodity, Holder, Role
from ledger.parts import stock as st
from ledger.policy import SYSTEM, Actor
from ledger.types import utcnow
from tests.cli import cli_database, run
from tests.factories import build_network, move, network, stock
from tests.test_hardening import login

CLERK = Actor("clerk", Role.WAREHOUSE_CLERK)
SERIALS = ["860000000000071", "860000000000072"]


def post(db: Database, *entries: EntryIn) -> None:
    db.transact(lambda s: services.post(s, SYSTEM, list(entries)))


def catalogue(session, sku: str, name_en: str) -> None:
    """A catalog row for a commodity the factories made (the book's part)."""
    commodity_id = session.scalar(select(Commodity.id).where(Commodity.code == sku))
    now = utcnow()
    session.add(
        Part(
            commodity_id=commodity_id,
            name_zh=name_en,
            name_en=name_en,
            category="screen",
            warranty_class="handset",
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()


def stocked(db: Database) -> date:
    """The factories' network moved through every purpose, priced; returns today.

    HQ: 10 LCD in, 4 reserved, 3 of those shipped to SP-0001 (TRANSIT there);
    SP-0001: 2 defective batteries; HQ: 2 handsets and cash (not a part).
    LCD costs 10.00 from yesterday, 12.50 from today, 99.99 from next month;
    the battery has only a planned price; the board is not catalogued."""
    today = db.window.today()

    def prices(s):
        catalogue(s, "X1-LCD", "X1 LCD screen")
        catalogue(s, "X1-BATT", "X1 battery")
        for day, cost in ((-1, 1000), (0, 1250), (30, 9999)):
            parts.set_price(
                s,
                SYSTEM,
                "X1-LCD",
                effective_from=today + timedelta(days=day),
                standard_cost=cost,
                list_price=3000,
            )
        parts.set_price(
            s,
            SYSTEM,
            "X1-BATT",
            effective_from=today + timedelta(days=1),
            standard_cost=500,
            list_price=900,
        )

    db.transact(prices)
    stock(db, "HQ:STOCK:X1-LCD", 10)
    post(db, move("HQ:STOCK:X1-LCD", "HQ:RESERVED:X1-LCD", 4))
    post(db, move("HQ:RESERVED:X1-LCD", "SP-0001:TRANSIT:X1-LCD", 3))
    stock(db, "SP-0001:DEFECTIVE:X1-BATT", 2)
    stock(db, "RW-GD:STOCK:X1-BOARD", 5)
    stock(db, "HQ:STOCK:H-X1", 2, serials=SERIALS)
    post(
        db,
        EntryIn(
            kind="opening",
            postings=[
                PostingIn(account="OPEN:STOCK:CNY", amount=-100_000),
                PostingIn(account="HQ:CASH:CNY", amount=100_000),
            ],
        ),
    )
    return today


def view(db: Database, code: str, actor: Actor = SYSTEM, **kw) -> st.StockPage:
    with db.reading() as s:
        return st.location_stock(s, actor, code, **kw)


def lines(db: Database, code: str, **kw) -> dict[str, dict]:
    return {line.sku: line.model_dump() for line in view(db, code, **kw).items}


def figures(line: dict) -> tuple[int, ...]:
    return tuple(line[k] for k in ("on_hand", "reserved", "available", "in_transit", "defective"))


# ----------------------------------------------------------------------------- service


def test_figures_per_purpose_after_real_postings(db):
    network(db)
    stocked(db)
    hq = lines(db, "HQ")
    assert list(hq) == ["H-X1", "X1-LCD"]  # no cash: money is not stock
    # 6 available + 1 still reserved = 7 on hand; the 3 shipped are SP-0001's.
    assert figures(hq["X1-LCD"]) == (7, 1, 6, 0, 0)
    assert hq["X1-LCD"]["name"] == "X1 LCD screen"
    assert figures(hq["H-X1"]) == (2, 0, 2, 0, 0)
    assert hq["H-X1"]["name"] == "X1 handset"  # no catalog row: the commodity's name
    assert hq["H-X1"]["unit_cost"] is None and hq["H-X1"]["value"] is None
    sp = lines(db, "SP-0001")
    assert list(sp) == ["X1-BATT", "X1-LCD"]
    assert figures(sp["X1-LCD"]) == (0, 0, 0, 3, 0)  # on its way, not on hand
    assert figures(sp["X1-BATT"]) == (0, 0, 0, 0, 2)
    rw = lines(db, "RW-GD")
    assert figures(rw["X1-BOARD"]) == (5, 0, 5, 0, 0)
    assert rw["X1-BOARD"]["name"] == "Part X1-BOARD"
    assert view(db, "SP-0002").items == []


def test_zero_lines_only_on_request(db):
    network(db)
    stocked(db)
    post(db, move("SP-0001:DEFECTIVE:X1-BATT", "FACTORY:STOCK:X1-BATT", 2))
    assert "X1-BATT" not in lines(db, "SP-0001")
    every = lines(db, "SP-0001", include_zero=True)
    # Every part and handset SP-0001 has an account for, zero or not.
    assert sorted(every) == ["H-X1", "X1-BATT", "X1-BOARD", "X1-LCD"]
    assert figures(every["X1-BATT"]) == (0, 0, 0, 0, 0)
    assert every["X1-BATT"]["value"] is None  # priced only from tomorrow


def test_value_at_the_cost_in_force_today_not_a_planned_one(db):
    network(db)
    stocked(db)
    lcd = lines(db, "HQ")["X1-LCD"]
    # 12.50 from today replaces yesterday's 10.00; next month's 99.99 waits.
    assert (lcd["unit_cost"], lcd["value"]) == (1250, 7 * 1250)
    batt = lines(db, "SP-0001")["X1-BATT"]
    assert batt["unit_cost"] is None and batt["value"] is None  # its first price is tomorrow
    transit = lines(db, "SP-0001")["X1-LCD"]
    assert (transit["unit_cost"], transit["value"]) == (1250, 0)  # nothing on hand yet


def test_value_past_64_bits_is_exact(db):
    """On hand × cost can pass 2**63 though both are in bounds: worked out in Python."""
    network(db)
    stocked(db)
    today = db.window.today()
    db.transact(lambda s: catalogue(s, "X1-BOARD", "X1 board"))
    db.transact(
        lambda s: parts.set_price(
            s, SYSTEM, "X1-BOARD", effective_from=today, standard_cost=10**12, list_price=10**12
        )
    )
    for _ in range(10):
        stock(db, "HQ:STOCK:X1-BOARD", 10**12)
    board = lines(db, "HQ")["X1-BOARD"]
    assert board["value"] == 10**13 * 10**12 > 2**63


def test_pages_by_sku_without_gaps_or_duplicates(db):
    network(db)
    stocked(db)

    def more(s):
        for i in range(12):
            md.create_commodity(s, f"P-{i:03d}", f"Part {i}", "part")

    db.transact(more)
    post(
        db,
        EntryIn(
            kind="opening",
            postings=[
                p
                for i in range(12)
                for p in (
                    PostingIn(account=f"OPEN:STOCK:P-{i:03d}", amount=-(i + 1)),
                    PostingIn(account=f"HQ:STOCK:P-{i:03d}", amount=i + 1),
                )
            ],
        ),
    )
    whole = [line.sku for line in view(db, "HQ", limit=1000).items]
    assert len(whole) == 14 and whole == sorted(whole)
    for size in (1, 3, 5, 14):
        seen, after, pages = [], None, 0
        while True:
            page = view(db, "HQ", after=after, limit=size)
            seen += [line.sku for line in page.items]
            pages += 1
            if page.next_after is None:
                break
            assert page.next_after == page.items[-1].sku
            after = page.next_after
        assert seen == whole, size
        assert pages == len(whole) // size + 1
    assert view(db, "HQ", after=whole[-1]).items == []


def test_sku_is_a_prefix_and_like_wildcards_are_plain(db):
    network(db)
    stocked(db)
    db.transact(lambda s: md.create_commodity(s, "X1_CASE", "X1 case", "part"))
    stock(db, "HQ:STOCK:X1_CASE", 1)
    stock(db, "HQ:STOCK:X1-BATT", 1)
    assert list(lines(db, "HQ", sku="X1-")) == ["X1-BATT", "X1-LCD"]
    assert list(lines(db, "HQ", sku="x1-l")) == ["X1-LCD"]  # any case
    assert list(lines(db, "HQ", sku="X1-LCD")) == ["X1-LCD"]  # exact is a prefix too
    assert list(lines(db, "HQ", sku="X1_")) == ["X1_CASE"]  # `_` is not "any character"
    assert list(lines(db, "HQ", sku="X1_LCD")) == []
    assert list(lines(db, "HQ", sku="%")) == []  # `%` is not "anything"
    assert list(lines(db, "HQ", sku="X1%")) == []
    assert list(lines(db, "HQ", sku="\\")) == []
    with pytest.raises(InvalidInput) as refused:
        view(db, "HQ", sku="X1\n")
    assert refused.value.where == {"field": "sku"}


def test_one_query_driven_by_the_holder(db):
    """The holder look-up and the view's one SELECT, nothing per line."""
    network(db)
    stocked(db)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.reading() as s:
            got = st.location_stock(s, SYSTEM, "HQ", include_zero=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    queries = [q for q in statements if q.lstrip().upper().startswith("SELECT")]
    assert len(got.items) == 4 and len(queries) == 2, queries
    assert "account.holder_id = " in queries[1] and "CASE WHEN" in queries[1]


def test_a_point_sees_only_itself_and_others_are_unknown(db):
    network(db)
    stocked(db)
    with db.reading() as s:
        own = s.scalar(select(Holder.id).where(Holder.code == "SP-0001"))
    sp1 = Actor("sp1", Role.SERVICE_POINT, holder_id=own)
    assert [line.sku for line in view(db, "SP-0001", sp1).items] == ["X1-BATT", "X1-LCD"]
    for code in ("SP-0002", "HQ", "SUP", "NO-SUCH"):
        with pytest.raises(NotFound) as hidden:
            view(db, code, sp1)
        assert hidden.value.detail == f"no location {code!r}; list locations to see which exist"
    assert view(db, "SP-0002", CLERK).items == []


def test_unknown_holders_and_outside_parties_are_not_found(db):
    network(db)
    with pytest.raises(NotFound) as unknown:
        view(db, "SP-9999")
    assert unknown.value.where == {"location": "SP-9999"}
    with pytest.raises(NotFound) as supplier:
        view(db, "SUP")
    assert "not a location" in supplier.value.detail
    assert supplier.value.where == {"location": "SUP"}


# ----------------------------------------------------------------------------- HTTP


def test_http_stock_page_and_who_sees_it(client, db):
    stocked(db)
    clerk = login(client, db, Role.WAREHOUSE_CLERK)
    response = client.get("/locations/HQ/stock", headers=clerk)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_after"] is None and body["location"] == "HQ"
    lcd = next(i for i in body["items"] if i["sku"] == "X1-LCD")
    assert lcd == {
        "sku": "X1-LCD",
        "name": "X1 LCD screen",
        "on_hand": 7,
        "reserved": 1,
        "available": 6,
        "in_transit": 0,
        "defective": 0,
        "unit_cost": 1250,
        "value": 8750,
    }
    first = client.get("/locations/HQ/stock?limit=1", headers=clerk).json()
    assert [i["sku"] for i in first["items"]] == ["H-X1"] and first["next_after"] == "H-X1"
    rest = client.get("/locations/HQ/stock?limit=1&after=H-X1", headers=clerk).json()
    assert [i["sku"] for i in rest["items"]] == ["X1-LCD"]
    zero = client.get("/locations/SP-0002/stock?include_zero=true&sku=x1-", headers=clerk)
    assert [i["sku"] for i in zero.json()["items"]] == ["X1-BATT", "X1-BOARD", "X1-LCD"]
    assert client.get("/locations/HQ/stock?sku=%25", headers=clerk).json()["items"] == []

    sp1 = login(client, db, Role.SERVICE_POINT, "SP-0001")
    own = client.get("/locations/SP-0001/stock", headers=sp1)
    assert own.status_code == 200
    assert [(i["sku"], i["in_transit"]) for i in own.json()["items"]] == [
        ("X1-BATT", 0),
        ("X1-LCD", 3),
    ]
    other = client.get("/locations/SP-0002/stock", headers=sp1)
    unknown = client.get("/locations/SP-9999/stock", headers=sp1)
    assert other.status_code == unknown.status_code == 404
    assert other.json()["detail"].replace("SP-0002", "X") == unknown.json()["detail"].replace(
        "SP-9999", "X"
    )
    assert other.json()["type"] == unknown.json()["type"]
    assert client.get("/locations/SP-9999/stock", headers=clerk).status_code == 404
    supplier = client.get("/locations/SUP/stock", headers=clerk)
    assert supplier.status_code == 404 and "not a location" in supplier.json()["detail"]
    assert client.get("/locations/HQ/stock").status_code == 401


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "sku=", "sku=" + "X" * 25, "sku=X1%0A", "include_zero=maybe"],
)
def test_http_hostile_queries_are_422(client, db, query):
    clerk = login(client, db, Role.WAREHOUSE_CLERK)
    assert client.get(f"/locations/HQ/stock?{query}", headers=clerk).status_code == 422


def test_openapi_documents_the_stock_page(client):
    operation = client.get("/openapi.json").json()["paths"]["/locations/{code}/stock"]["get"]
    assert {"200", "401", "403", "404", "422"} <= set(operation["responses"])


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    """A migrated SQLite file with the factories' network, as DATABASE_URL."""
    yield from cli_database(tmp_path, monkeypatch, build_network)


def test_cli_prints_the_figures_and_the_value(cli_db):
    stocked(cli_db)
    stock(cli_db, "HQ:STOCK:X1-LCD", 1000)
    out = run("stock", "HQ")
    lcd = next(line for line in out.splitlines() if "X1-LCD" in line)
    assert [c.strip() for c in lcd.split("│")[1:-1]] == [
        "X1-LCD",
        "X1 LCD screen",
        "1,007",
        "1",
        "1,006",
        "0",
        "0",
        "12.50",
        "12,587.50",
    ]
    assert "unpriced" in out  # the handset
    assert "2 parts, on hand valued at 12,587.50 CNY (1 unpriced, not valued)" in out
    sp = run("stock", "SP-0001", "--sku", "x1-l")
    assert "X1-LCD" in sp and "X1-BATT" not in sp
    assert "X1-BOARD" not in run("stock", "SP-0002")
    assert "holds no stock" in run("stock", "SP-0002")
    assert "X1-BOARD" in run("stock", "SP-0002", "--all")
    assert "no location 'SP-9999'" in run("stock", "SP-9999", code=1)
    assert "not a location" in run("stock", "SUP", code=1)
