"""Returns to the factory (返厂), on both databases: a regional warehouse ships
its defective parts and handsets, the packing list groups them by model and
colour, the factory's count closes the return and every difference is a
discrepancy; wrong input changes nothing; a double click acts once; two
clerks confirming at once, one wins; and the same story on the command line."""

from __future__ import annotations

import io
from urllib.parse import unquote

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from ledger import masterdata as md
from ledger import services
from ledger.catalog import locations, parts
from ledger.errors import InvalidState, LedgerError
from ledger.journal import EntryIn, PostingIn, SerialIn
from ledger.models import JournalEntry
from ledger.parts import factory
from ledger.parts.documents import DocumentAction
from ledger.parts.factory import CountLineIn, ReturnLineIn
from ledger.parts.shipments import Discrepancy, Shipment
from ledger.policy import SYSTEM
from ledger.settings import Settings
from tests import parts_network as pn
from tests.cli import cli_database, run
from tests.test_parts_races import _at_once
from tests.tokens import SECRET

HANDSETS = {"X1-0001": "Black", "X1-0002": "Black", "X1-0003": "Gold"}


def build(session) -> None:
    """The parts network, two handset models (X1 in black and gold), a screen
    that fits X1 only and a charger that fits both, a warehouse with a
    Chinese name."""
    pn.build(session, session.info["window"].today())
    parts.create_model(session, SYSTEM, "M-X1", name="X1 手机", colours=["Black", "Gold"])
    parts.create_model(session, SYSTEM, "M-X2", name="X2 手机", colours=["Blue"])
    parts.create_part(
        session, SYSTEM, "P-X1-LCD", name_zh="X1 屏幕", name_en="X1 screen", category="screen",
        warranty_class="handset", models=["M-X1"], returnable=True,
    )  # fmt: skip
    parts.create_part(
        session, SYSTEM, "P-CHG", name_zh="充电器", name_en="Charger", category="charger",
        warranty_class="charger", models=["M-X1", "M-X2"], returnable=True,
    )  # fmt: skip
    locations.create_location(
        session, SYSTEM, kind="regional_warehouse", code="RW-C", name="华南 客服中心",
        region="South", province="Guangdong", city="Guangzhou", served_by="HQ",
    )  # fmt: skip


def defective(db, holder: str, sku: str, quantity: int = 0, serials: dict | None = None) -> None:
    """Defective units at a location, from the opening balance."""
    units = [SerialIn(serial=s, colour=c) for s, c in (serials or {}).items()]
    quantity = len(units) or quantity
    entry = EntryIn(
        kind="opening",
        postings=[
            PostingIn(
                account=md.account_code("OPEN", "STOCK", sku), amount=-quantity, serials=units
            ),
            PostingIn(
                account=md.account_code(holder, "DEFECTIVE", sku), amount=quantity, serials=units
            ),
        ],
    )
    db.transact(lambda s: services.post(s, SYSTEM, [entry]))


def stocked(db) -> None:
    db.transact(build)
    defective(db, "RW-S", "P-X1-LCD", 5)
    defective(db, "RW-S", "P-CHG", 4)
    defective(db, "RW-S", "M-X1", serials=HANDSETS)


@pytest.fixture
def client(db):
    stocked(db)
    app = create_app(db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://"))
    with TestClient(app) as test_client:
        yield test_client


SHIP = {
    "sender": "RW-S",
    "courier": "SF Express",
    "tracking_number": "SF1234567",
    "lines": [
        {"sku": "P-X1-LCD", "quantity": 3, "colour": "black"},
        {"sku": "P-CHG", "quantity": 2, "model": "M-X2"},
        {"sku": "M-X1", "serials": ["X1-0001", "X1-0002", "X1-0003"]},
    ],
}


def counts(db) -> tuple[int, int, int, int]:
    with db.reading() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(table))
            for table in (JournalEntry, DocumentAction, Shipment, Discrepancy)
        )


class Caller:
    def __init__(self, client, db):
        self.client, self.db, self.tokens = client, db, {}

    def __call__(self, method, path, user="clerk", body=None, status=200, **kw):
        if user not in self.tokens:
            self.tokens[user] = pn.headers(self.client, user)
        headers = {**self.tokens[user], **kw.pop("headers", {})}
        response = self.client.request(method, path, json=body, headers=headers, **kw)
        assert response.status_code == status, response.text
        pn.sound(self.db)
        return response


def test_ship_pack_and_confirm_over_http_with_the_ledger_sound(client, db):
    call = Caller(client, db)
    pn.sound(db)
    waiting = call("GET", "/defective-stock?location=RW-S").json()
    by_sku = {line["sku"]: line for line in waiting["lines"]}
    assert by_sku["P-X1-LCD"]["quantity"] == 5 and by_sku["P-X1-LCD"]["models"] == ["M-X1"]
    assert by_sku["P-CHG"]["models"] == ["M-X1", "M-X2"]
    assert [s["serial"] for s in by_sku["M-X1"]["serials"]] == list(HANDSETS)

    shipped = call("POST", "/factory-returns", body=SHIP, status=201).json()
    number = shipped["number"]
    assert shipped["state"] == "in_transit" and shipped["receiver"] == "FACTORY"
    assert [line["model"] for line in shipped["lines"]] == ["M-X1", "M-X2", "M-X1"]
    assert shipped["lines"][0]["colour"] == "Black"  # the model's own spelling
    assert pn.balance(db, "RW-S:DEFECTIVE:P-X1-LCD") == 2
    assert pn.balance(db, "RW-S:DEFECTIVE:M-X1") == 0
    assert pn.balance(db, "TO-FACTORY:TRANSIT:M-X1") == 3
    assert pn.balance(db, "TO-FACTORY:TRANSIT:P-CHG") == 2
    listed = call("GET", "/factory-returns?state=in_transit").json()["items"]
    assert [item["number"] for item in listed] == [number]
    assert call("GET", "/factory-returns?older_than_days=0").json()["items"] == []
    # The generic receipt does not close a factory return.
    call("POST", f"/shipments/{number}/receive", status=409)

    # The packing list, as xlsx: named centre + date + courier number.
    answer = call("GET", f"/factory-returns/{number}/packing-list.xlsx")
    day = shipped["shipped_on"].replace("-", "")
    disposition = answer.headers["content-disposition"]
    assert f'filename="Location_RW-S_{day}_SF1234567.xlsx"' in disposition
    assert (
        unquote(disposition.split("filename*=UTF-8''")[1]) == f"Location_RW-S_{day}_SF1234567.xlsx"
    )
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    rows = [tuple(c for c in row) for row in sheet.iter_rows(values_only=True)]
    header = {row[0]: row[1] for row in rows[1:6]}
    assert header["服务中心 Centre"] == "Location RW-S (RW-S)"
    assert header["返厂日期 Date"] == shipped["shipped_on"]
    assert header["快递公司 Courier"] == "SF Express"
    assert header["快递单号 Courier number"] == "SF1234567"
    assert header["返厂单号 Shipment"] == number
    table = rows[8:]
    # groups: M-X1 (no colour: none, since P-X1-LCD is Black) ... sorted by model, colour
    groups = [(r[0], r[1]) for r in table if r[2] and r[2].startswith("X")]
    assert groups == [("M-X1", "Black"), ("M-X1", "Gold"), ("M-X2", None)]
    items = [r for r in table if r[2] in ("P-X1-LCD", "P-CHG", "M-X1")]
    assert [(r[0], r[1], r[2], r[5]) for r in items] == [
        ("M-X1", "Black", "P-X1-LCD", 3),
        ("M-X1", "Black", "M-X1", 2),
        ("M-X1", "Gold", "M-X1", 1),
        ("M-X2", None, "P-CHG", 2),
    ]
    assert items[1][6] == "X1-0001, X1-0002" and items[2][6] == "X1-0003"
    assert items[0][3] == "X1 屏幕" and items[0][4] == "X1 screen"
    subtotals = [r[5] for r in table if r[4] == "小计 Subtotal"]
    assert subtotals == [5, 1, 2]
    assert [r[5] for r in table if r[4] == "合计 Total"] == [8]
    as_json = call("GET", f"/factory-returns/{number}/packing-list").json()
    assert [(g["model"], g["colour"], g["subtotal"]) for g in as_json["groups"]] == [
        ("M-X1", "Black", 5), ("M-X1", "Gold", 1), ("M-X2", None, 2),
    ]  # fmt: skip
    assert as_json["total"] == 8 and as_json["filename"] == f"Location_RW-S_{day}_SF1234567.xlsx"

    # The factory counts one screen short and misses one handset.
    confirmed = call(
        "POST", f"/factory-returns/{number}/confirm",
        body={"lines": [
            {"line_no": 1, "quantity": 2},
            {"line_no": 3, "serials": ["X1-0001", "X1-0003"]},
        ]},
    ).json()  # fmt: skip
    assert confirmed["state"] == "received"
    lines = {line["line_no"]: line for line in confirmed["lines"]}
    assert (lines[1]["counted"], lines[1]["received"], lines[1]["short"]) == (2, 2, 1)
    assert (lines[2]["counted"], lines[2]["short"]) == (2, 0)
    assert {s["serial"]: s["state"] for s in lines[3]["serials"]} == {
        "X1-0001": "counted", "X1-0002": "missing", "X1-0003": "counted",
    }  # fmt: skip
    differences = confirmed["differences"]
    assert [(d["line_no"], d["direction"], d["quantity"], d["serials"]) for d in differences] == [
        (1, "short", 1, None),
        (3, "short", 1, ["X1-0002"]),
    ]
    assert pn.balance(db, "FACTORY:STOCK:P-X1-LCD") == 2
    assert pn.balance(db, "FACTORY:STOCK:P-CHG") == 2
    assert pn.balance(db, "FACTORY:STOCK:M-X1") == 2
    assert pn.balance(db, "DISCREPANCIES:TRANSIT:P-X1-LCD") == 1
    assert pn.balance(db, "DISCREPANCIES:TRANSIT:M-X1") == 1
    assert pn.balance(db, "TO-FACTORY:TRANSIT:M-X1") == 0
    assert pn.balance(db, "RW-S:DEFECTIVE:P-X1-LCD") == 2
    assert call("GET", "/factory-returns?state=in_transit").json()["items"] == []
    shown = call("GET", f"/factory-returns/{number}").json()
    assert [step["action"] for step in shown["history"]] == ["factory_ship", "factory_confirm"]

    # The missing handset is found at the factory; the screen is lost.
    handset, screen = differences[1]["number"], differences[0]["number"]
    found = call(
        "POST", f"/discrepancies/{handset}/resolve",
        body={"outcome": "found", "reason": "the factory found it in the box"},
    ).json()  # fmt: skip
    assert found["state"] == "found"
    assert pn.balance(db, "FACTORY:STOCK:M-X1") == 3
    with db.reading() as s:
        from ledger import queries

        assert queries.serial_history(s, SYSTEM, "X1-0002")["account"] == "FACTORY:STOCK:M-X1"
    call(
        "POST", f"/discrepancies/{screen}/resolve",
        body={"outcome": "lost", "reason": "lost by the courier"},
    )  # fmt: skip
    assert pn.balance(db, "LOST-IN-TRANSIT:STOCK:P-X1-LCD") == 1
    assert pn.balance(db, "DISCREPANCIES:TRANSIT:P-X1-LCD") == 0


def test_an_over_count_is_recorded_and_posts_nothing(client, db):
    call = Caller(client, db)
    body = {**SHIP, "lines": [SHIP["lines"][0], {"sku": "M-X1", "serials": ["X1-0001"]}]}
    number = call("POST", "/factory-returns", body=body, status=201).json()["number"]
    before = pn.balance(db, "FACTORY:STOCK:P-X1-LCD")
    confirmed = call(
        "POST", f"/factory-returns/{number}/confirm",
        body={"lines": [
            {"line_no": 1, "quantity": 5},
            {"line_no": 2, "serials": ["X1-0001", "X1-0002"]},
        ]},
    ).json()  # fmt: skip
    over = confirmed["differences"]
    assert [(d["line_no"], d["direction"], d["quantity"], d["serials"]) for d in over] == [
        (1, "over", 2, None),
        (2, "over", 1, ["X1-0002"]),
    ]
    assert pn.balance(db, "FACTORY:STOCK:P-X1-LCD") == before + 3
    assert pn.balance(db, "FACTORY:STOCK:M-X1") == 1
    assert pn.balance(db, "RW-S:DEFECTIVE:M-X1") == 2  # X1-0002 never left the books
    entries = counts(db)[0]
    resolved = call(
        "POST", f"/discrepancies/{over[1]['number']}/resolve",
        body={"outcome": "lost", "reason": "the factory miscounted"},
    ).json()  # fmt: skip
    assert resolved["state"] == "lost" and resolved["chargeable"] is False
    assert counts(db)[0] == entries  # nothing posted


def test_a_chinese_centre_name_in_the_file_name(client, db):
    call = Caller(client, db)
    defective(db, "RW-C", "P-X1-LCD", 1)
    body = {
        "sender": "RW-C", "courier": "EMS", "tracking_number": "EMS 99/1",
        "lines": [{"sku": "P-X1-LCD", "quantity": 1}],
    }  # fmt: skip
    shipped = call("POST", "/factory-returns", body=body, status=201).json()
    day = shipped["shipped_on"].replace("-", "")
    disposition = call(
        "GET", f"/factory-returns/{shipped['number']}/packing-list.xlsx"
    ).headers["content-disposition"]  # fmt: skip
    assert f'filename="RW-C_{day}_EMS_99_1.xlsx"' in disposition
    assert (
        unquote(disposition.split("filename*=UTF-8''")[1]) == f"华南_客服中心_{day}_EMS_99_1.xlsx"
    )
    assert shipped["packing_list"] == f"华南_客服中心_{day}_EMS_99_1.xlsx"


def test_wrong_input_changes_nothing(client, db):
    call = Caller(client, db)
    before = counts(db)

    def refused(status, body=None, user="clerk", path="/factory-returns", field=None):
        answer = call("POST", path, user=user, body=body, status=status).json()
        assert counts(db) == before, answer
        if field:
            assert field in str(answer), answer
        return answer

    def ship(**changes):
        return {**SHIP, **changes}

    too_many = refused(409, ship(lines=[{"sku": "P-X1-LCD", "quantity": 6}]))
    assert too_many["account"] == "RW-S:DEFECTIVE:P-X1-LCD"
    refused(403, SHIP, user="sp-a")
    refused(422, ship(sender="SP-A"), field="sender")
    refused(422, ship(sender="NOWHERE"), field="sender")
    refused(422, ship(lines=[{"sku": "P-NONE", "quantity": 1}]), field="lines[0].sku")
    refused(422, ship(lines=[{"sku": "P-CHG", "quantity": 1}]), field="lines[0].model")
    refused(422, ship(lines=[{"sku": "P-X1-LCD", "quantity": 1, "model": "M-X2"}]), field="model")
    refused(422, ship(lines=[{"sku": "P-X1-LCD", "quantity": 1, "colour": "Pink"}]), field="colour")
    refused(409, ship(lines=[{"sku": "M-X1", "serials": ["X1-9999"]}]), field="X1-9999")
    refused(422, ship(lines=[{"sku": "M-X1", "serials": ["X1-0001", "X1-0001"]}]))
    # A NUL byte anywhere in a body is refused at the door (api/hygiene.py).
    refused(422, ship(lines=[{"sku": "M-X1", "serials": ["X1-\u00000001"]}]), field="NUL")
    refused(422, ship(lines=[{"sku": "M-X1", "serials": ["X1 0001"]}]), field="serials")
    refused(422, {k: v for k, v in SHIP.items() if k != "tracking_number"})
    refused(422, ship(tracking_number="  "), field="tracking_number")

    number = call("POST", "/factory-returns", body=SHIP, status=201).json()["number"]
    confirm = f"/factory-returns/{number}/confirm"
    before = counts(db)
    refused(422, {"lines": [{"line_no": 9, "quantity": 1}]}, path=confirm, field="lines")
    refused(422, {"lines": [{"line_no": 1, "quantity": -1}]}, path=confirm, field="quantity")
    refused(422, {"lines": [{"line_no": 3, "serials": ["X1\u0000"]}]}, path=confirm, field="NUL")
    refused(422, {"lines": [{"line_no": 3, "serials": ["X1\t"]}]}, path=confirm, field="serials")
    refused(422, {"lines": [{"line_no": 1, "serials": ["X1-0001"]}]}, path=confirm, field="serials")
    refused(422, {"lines": [{"line_no": 1, "quantity": 1}] * 2}, path=confirm, field="line_no")
    refused(403, None, user="sp-a", path=confirm)
    # Another party's ids: a point sees no factory return.
    call("GET", f"/factory-returns/{number}", user="sp-a", status=404)
    call("GET", f"/factory-returns/{number}/packing-list.xlsx", user="sp-a", status=404)
    call("GET", "/defective-stock?location=SP-B", user="sp-a", status=404)
    call("GET", "/factory-returns/SH-999999", status=404)
    call("POST", "/factory-returns/SH-999999/confirm", status=404)
    assert counts(db) == before

    call("POST", confirm, body={"lines": [{"line_no": 1, "quantity": 3}]})
    before = counts(db)
    twice = refused(409, {"lines": [{"line_no": 1, "quantity": 3}]}, path=confirm)
    assert "is received" in twice["detail"] and twice["type"] == "/problems/invalid-state"


def test_a_double_clicked_confirm_with_one_key_posts_once(client, db):
    call = Caller(client, db)
    ship_key = {"Idempotency-Key": "ship-once"}
    shipped = call("POST", "/factory-returns", body=SHIP, status=201, headers=ship_key).json()
    after = counts(db)
    again = call("POST", "/factory-returns", body=SHIP, status=201, headers=ship_key).json()
    assert again == shipped and counts(db) == after
    other = {**SHIP, "tracking_number": "SF999"}
    call("POST", "/factory-returns", body=other, status=422, headers=ship_key)
    number = shipped["number"]
    body = {"lines": [{"line_no": 1, "quantity": 2}]}
    key = {"Idempotency-Key": "confirm-once"}
    first = call("POST", f"/factory-returns/{number}/confirm", body=body, headers=key).json()
    after = counts(db)
    again = call("POST", f"/factory-returns/{number}/confirm", body=body, headers=key).json()
    assert again == first and counts(db) == after
    assert pn.balance(db, "FACTORY:STOCK:P-X1-LCD") == 2


def test_two_clerks_confirming_at_once_one_wins(fresh_db):
    db = fresh_db
    stocked(db)
    clerk, admin = pn.actor(db, "clerk"), pn.actor(db, "admin")
    lines = [
        ReturnLineIn(sku="P-X1-LCD", quantity=3),
        ReturnLineIn(sku="M-X1", serials=("X1-0001",)),
    ]
    number = db.transact(
        lambda s: factory.ship(
            s, clerk, sender="RW-S", lines=lines, courier="SF", tracking_number="SF1"
        )
    ).number
    who = [clerk, admin]
    results = _at_once(
        lambda i: db.transact(
            lambda s: factory.confirm(
                s, who[i], number, lines=[CountLineIn(line_no=1, quantity=3 - i)]
            )
        ),
        2,
    )
    won = [r for r in results if not isinstance(r, LedgerError)]
    lost = [r for r in results if isinstance(r, LedgerError)]
    assert len(won) == 1 and len(lost) == 1 and isinstance(lost[0], InvalidState), results
    assert (
        pn.balance(db, "FACTORY:STOCK:P-X1-LCD") + pn.balance(db, "DISCREPANCIES:TRANSIT:P-X1-LCD")
        == 3
    )
    assert pn.balance(db, "TO-FACTORY:TRANSIT:P-X1-LCD") == 0
    pn.sound(db)


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    yield from cli_database(tmp_path, monkeypatch, build)


def test_ship_pack_and_confirm_from_the_command_line(cli_db, tmp_path):
    defective(cli_db, "RW-S", "P-X1-LCD", 4)
    defective(cli_db, "RW-S", "M-X1", serials=HANDSETS)
    listed = run("defective", "list", "RW-S")
    assert "P-X1-LCD" in listed and "X1-0003" in listed
    assert "may not" in run(
        "factory", "ship", "RW-S", "--item", "P-X1-LCD=2", "--courier", "SF",
        "--tracking", "SF77", "--as", "sp-a", code=1,
    )  # fmt: skip
    out = run(
        "factory", "ship", "RW-S", "--item", "P-X1-LCD=2", "--serial", "M-X1=X1-0001",
        "--serial", "M-X1=X1-0003", "--courier", "SF", "--tracking", "SF77", "--as", "clerk",
    )  # fmt: skip
    number = out.split()[0]
    assert number.startswith("SH-") and "RW-S -> FACTORY" in out
    assert number in run("factory", "list", "--awaiting")
    folder = tmp_path / "lists"
    folder.mkdir()
    written = run("factory", "packing-list", number, "--dir", str(folder))
    [file] = list(folder.iterdir())
    with cli_db.reading() as s:
        day = s.info["window"].today()
    assert file.name == f"Location_RW-S_{day:%Y%m%d}_SF77.xlsx" and file.name in written
    sheet = openpyxl.load_workbook(file).active
    values = [v for row in sheet.iter_rows(values_only=True) for v in row if v is not None]
    assert "X1-0001" in values and "合计 Total" in values and number in values
    confirmed = run("factory", "confirm", number, "--line", "1=1", "--as", "clerk")
    assert "received" in confirmed and "short" in confirmed
    assert "is received" in run("factory", "confirm", number, "--as", "clerk", code=1)
    shown = run("factory", "show", number)
    assert "X1-0003" in shown and "factory_confirm" in shown
    assert pn.balance(cli_db, "FACTORY:STOCK:P-X1-LCD") == 1
    assert pn.balance(cli_db, "FACTORY:STOCK:M-X1") == 2
    pn.sound(cli_db)


def test_a_points_defective_parts_reach_the_factory_through_its_warehouse(db):
    """The whole way back: a point's defective screens go to its warehouse
    (a defective return), then on to the factory with the warehouse's own."""
    from ledger.parts import receiving
    from ledger.parts.requisitions import LineIn

    stocked(db)
    defective(db, "SP-A", "P-X1-LCD", 2)
    point, clerk = pn.actor(db, "sp-a"), pn.actor(db, "clerk")
    back = db.transact(
        lambda s: receiving.return_parts(
            s, point, lines=[LineIn(sku="P-X1-LCD", quantity=2)], defective=True
        )
    ).number
    db.transact(lambda s: receiving.receive(s, clerk, back))
    assert pn.balance(db, "RW-S:DEFECTIVE:P-X1-LCD") == 7
    lines = [ReturnLineIn(sku="P-X1-LCD", quantity=7)]
    number = db.transact(
        lambda s: factory.ship(
            s, clerk, sender="RW-S", lines=lines, courier="SF", tracking_number="SF2"
        )
    ).number
    with db.reading() as s:
        waiting = factory.defective_stock(s, clerk, "RW-S")
    assert "P-X1-LCD" not in {line.sku for line in waiting.lines}
    db.transact(lambda s: factory.confirm(s, clerk, number))
    assert pn.balance(db, "FACTORY:STOCK:P-X1-LCD") == 7
    assert pn.balance(db, "SP-A:DEFECTIVE:P-X1-LCD") == 0
    pn.sound(db)


# -- after a hostile review ----------------------------------------------------------------


@pytest.mark.parametrize("tracking", ["顺丰123", "SF📦123", "é123"])
def test_a_courier_number_not_in_ascii_still_names_a_downloadable_packing_list(
    client, db, tracking
):
    call = Caller(client, db)
    body = {**SHIP, "tracking_number": tracking, "lines": [{"sku": "P-X1-LCD", "quantity": 1}]}
    number = call("POST", "/factory-returns", body=body, status=201).json()["number"]
    answer = call("GET", f"/factory-returns/{number}/packing-list.xlsx")
    disposition = answer.headers["content-disposition"]
    assert disposition.isascii()
    assert tracking in unquote(disposition.split("filename*=UTF-8''")[1])
    assert openpyxl.load_workbook(io.BytesIO(answer.content)).active is not None


def test_the_packing_list_keeps_every_serial_of_a_long_line(client, db):
    serials = {f"X1-{i:036d}": "Black" for i in range(900)}  # 40 characters each
    defective(db, "RW-S", "M-X1", serials=serials)
    call = Caller(client, db)
    body = {**SHIP, "lines": [{"sku": "M-X1", "serials": list(serials)}]}
    number = call("POST", "/factory-returns", body=body, status=201).json()["number"]
    answer = call("GET", f"/factory-returns/{number}/packing-list.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    listed = {
        serial.strip()
        for row in sheet.iter_rows(values_only=True)
        if row[6]
        for serial in str(row[6]).split(",")
    }
    assert set(serials) <= listed


def test_a_return_lists_at_most_ten_thousand_serials(client, db):
    call = Caller(client, db)
    before = counts(db)
    lines = [
        {"sku": "M-X1", "serials": [f"S{line}-{i:05d}" for i in range(6_000)]} for line in (1, 2)
    ]
    answer = call("POST", "/factory-returns", body={**SHIP, "lines": lines}, status=422).json()
    assert "at most 10,000 serials" in answer["detail"]
    assert counts(db) == before


def test_a_courier_is_one_line_on_every_door(client, db):
    call = Caller(client, db)
    before = counts(db)
    for field in ("courier", "tracking_number"):
        body = {**SHIP, field: "SF\nEvil"}
        call("POST", "/factory-returns", body=body, status=422)
    assert counts(db) == before
    who = pn.actor(db, "clerk")
    for courier, tracking in (("SF\nEvil", "SF1"), ("SF", "SF\t1")):
        with pytest.raises(LedgerError, match="one line"):
            db.transact(
                lambda s, c=courier, t=tracking: factory.ship(
                    s, who, sender="RW-S", courier=c, tracking_number=t,
                    lines=[ReturnLineIn(sku="P-X1-LCD", quantity=1)],
                )
            )  # fmt: skip
    assert counts(db) == before
