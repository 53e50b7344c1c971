"""The other half of a point's day over HTTP, on both databases, as one
story: a service point writes off repairs in every category; the screens
its in-warranty repairs replaced travel back to the regional warehouse (one
short, then found) and on to the factory, whose count differs by one; the
warehouse counts its shelves while a transfer arrives mid-count. After
every request the trial balance is zero and verify() is clean."""

from __future__ import annotations

import io
from datetime import timedelta
from urllib.parse import unquote

import openpyxl
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.catalog import parts
from ledger.policy import SYSTEM
from ledger.settings import Settings
from tests import parts_network as pn
from tests.test_factory_returns import build
from tests.tokens import SECRET

SCREEN, HOUSING = "P-X1-LCD", "P-HSG"


@pytest.fixture
def client(db):
    def network(s):
        build(s)  # the parts network, handset models M-X1 and M-X2, a screen that fits M-X1
        today = s.info["window"].today()
        parts.set_price(s, SYSTEM, SCREEN, effective_from=today, standard_cost=8_000,
                        list_price=20_000)  # fmt: skip
        parts.create_part(
            s, SYSTEM, HOUSING, name_zh="后壳", name_en="Back housing", category="housing",
            warranty_class="handset", models=["M-X1"],
        )  # fmt: skip
        parts.set_price(s, SYSTEM, HOUSING, effective_from=today, standard_cost=1_500,
                        list_price=4_000)  # fmt: skip

    db.transact(network)
    pn.stock(db, "SP-A", SCREEN, 6)
    pn.stock(db, "SP-A", HOUSING, 3)
    pn.stock(db, "RW-S", SCREEN, 10)
    pn.stock(db, "HQ", SCREEN, 5)
    app = create_app(db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://"))
    with TestClient(app) as test_client:
        yield test_client


def test_repairs_to_the_factory_and_a_count_with_the_ledger_sound_after_every_step(client, db):
    tokens: dict[str, dict] = {}

    def call(method, path, user, body=None, status=200, files=None):
        if user not in tokens:
            tokens[user] = pn.headers(client, user)
        response = client.request(method, path, json=body, files=files, headers=tokens[user])
        assert response.status_code == status, response.text
        pn.sound(db)
        return response

    with db.reading() as s:
        today = s.info["window"].today()

    def case(**overrides):
        bought = {"purchased_on": (today - timedelta(days=90)).isoformat()}
        return {
            "part_class": "handset", "reported_on": today.isoformat(),
            "manufactured_on": (today - timedelta(days=200)).isoformat(),
            "proof_of_purchase": True, **bought, **overrides,
        }  # fmt: skip

    def repair(number, parts_used, **overrides):
        body = {
            "repair_number": number, "customer_serial": f"86{number}", "handset_model": "X1",
            "fault": "no display", "case": case(**overrides),
            "parts": [{"sku": sku, "quantity": q} for sku, q in parts_used],
        }  # fmt: skip
        return call("POST", "/repairs", "sp-a", body, 201).json()

    # 1. Repairs in every category. In warranty, the replaced screens become
    #    defective stock at the point (the housing is not returned); F is
    #    chargeable at the list price.
    wh = repair("WX-1", [(SCREEN, 1), (HOUSING, 1)])
    dap = repair("WX-2", [(SCREEN, 1)], purchased_on=(today - timedelta(days=3)).isoformat())
    doa = repair(
        "WX-3", [(SCREEN, 1)], sold=False, purchased_on=None, proof_of_purchase=False,
        talk_minutes=5,
    )  # fmt: skip
    f = repair("WX-4", [(SCREEN, 1)], man_made_damage=True)
    assert [r["category"] for r in (wh, dap, doa, f)] == ["WH", "DAP", "DOA", "F"]
    assert f["chargeable"] and f["charge"] == 20_000 and not wh["chargeable"]
    assert pn.balance(db, f"SP-A:STOCK:{SCREEN}") == 2
    assert pn.balance(db, f"SP-A:STOCK:{HOUSING}") == 2
    assert pn.balance(db, f"SP-A:DEFECTIVE:{SCREEN}") == 3
    assert pn.balance(db, f"SP-A:DEFECTIVE:{HOUSING}") == 0
    assert pn.balance(db, f"CONSUMED:STOCK:{SCREEN}") == 1  # the F repair's; cores go back
    month = call("GET", f"/repairs/summary?month={today:%Y-%m}", "sp-a").json()
    assert {c["category"]: c["repairs"] for c in month["categories"]} == {
        "DOA": 1, "DAP": 1, "WH": 1, "F": 1,
    }  # fmt: skip

    # 2. The point returns its defective screens; the warehouse finds one
    #    short, then finds it.
    parcel = call(
        "POST", "/returns", "sp-a",
        {"defective": True, "courier": "SF", "tracking_number": "SF100",
         "lines": [{"sku": SCREEN, "quantity": 3}]},
        201,
    ).json()  # fmt: skip
    received = call(
        "POST", f"/shipments/{parcel['number']}/receive", "clerk",
        {"lines": [{"line_no": 1, "quantity": 2}]},
    ).json()  # fmt: skip
    assert pn.balance(db, f"RW-S:DEFECTIVE:{SCREEN}") == 2
    [short] = received["discrepancies"]
    call(
        "POST", f"/discrepancies/{short}/resolve", "clerk",
        {"outcome": "found", "reason": "under the packing foam"},
    )  # fmt: skip
    assert pn.balance(db, f"RW-S:DEFECTIVE:{SCREEN}") == 3
    assert pn.balance(db, f"RW-S:STOCK:{SCREEN}") == 10  # good stock untouched

    # 3. The warehouse ships them to the factory; the packing list, read back.
    shipped = call(
        "POST", "/factory-returns", "clerk",
        {"sender": "RW-S", "courier": "SF Express", "tracking_number": "SF200",
         "lines": [{"sku": SCREEN, "quantity": 3}]},
        201,
    ).json()  # fmt: skip
    number = shipped["number"]
    assert pn.balance(db, f"RW-S:DEFECTIVE:{SCREEN}") == 0
    listed = call("GET", "/factory-returns?state=in_transit", "clerk").json()["items"]
    assert number in [r["number"] for r in listed]
    packing = call("GET", f"/factory-returns/{number}/packing-list.xlsx", "clerk")
    disposition = unquote(packing.headers["content-disposition"])
    assert f"_{today:%Y%m%d}_SF200.xlsx" in disposition
    sheet = openpyxl.load_workbook(io.BytesIO(packing.content)).worksheets[0]
    cells = [[c for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
    text = " ".join(str(c) for row in cells for c in row)
    assert "SF200" in text and number in text and "M-X1" in text and SCREEN in text
    assert any(3 in row for row in cells if any("合计" in str(c) or "Total" in str(c) for c in row))

    # 4. The factory counts 2 of the 3: the difference is recorded.
    confirmed = call(
        "POST", f"/factory-returns/{number}/confirm", "clerk",
        {"lines": [{"line_no": 1, "quantity": 2}]},
    ).json()  # fmt: skip
    assert confirmed["state"] == "received"
    [difference] = confirmed["differences"]
    assert (difference["direction"], difference["quantity"]) == ("short", 1)
    assert pn.balance(db, f"FACTORY:STOCK:{SCREEN}") == 2
    assert pn.balance(db, f"DISCREPANCIES:TRANSIT:{SCREEN}") == 1
    call(
        "POST", f"/factory-returns/{number}/confirm", "clerk",
        {"lines": [{"line_no": 1, "quantity": 3}]}, 409,
    )  # fmt: skip

    # 5. The warehouse counts its shelves (book 10); a transfer of 5 from HQ
    #    arrives mid-count; 9 are counted. The variance is −1 against the
    #    snapshot, and the transfer stays: 10 + 5 − 1 = 14.
    count = call("POST", "/counts", "clerk", {"location": "RW-S", "skus": [SCREEN]}, 201).json()
    sc = count["number"]
    blank = call("GET", f"/counts/{sc}/sheet.xlsx", "clerk")
    transfer = call(
        "POST", "/transfers", "clerk",
        {"sender": "HQ", "receiver": "RW-S", "lines": [{"sku": SCREEN, "quantity": 5}]}, 201,
    ).json()  # fmt: skip
    call("POST", f"/shipments/{transfer['number']}/receive", "clerk", {})
    assert pn.balance(db, f"RW-S:STOCK:{SCREEN}") == 15
    book = openpyxl.load_workbook(io.BytesIO(blank.content))
    ws = book.worksheets[0]
    header = [c.value for c in ws[1]]
    assert ws.cell(2, 1).value == SCREEN
    ws.cell(2, header.index("实盘数量 Counted") + 1).value = 9
    filled = io.BytesIO()
    book.save(filled)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    call(
        "POST", f"/counts/{sc}/sheet", "clerk",
        files={"file": ("count.xlsx", filled.getvalue(), xlsx)},
    )  # fmt: skip
    call("POST", f"/counts/{sc}/submit", "clerk", {})
    variances = call("GET", f"/counts/{sc}/variances", "approver1").json()
    assert [(v["sku"], v["variance"]) for v in variances["items"]] == [(SCREEN, -1)]
    assert variances["loss_units"] == 1 and variances["loss_value"] == 8_000
    call("POST", f"/counts/{sc}/approve", "clerk", {}, 403)  # the counter does not approve
    call("POST", f"/counts/{sc}/approve", "approver1", {})
    assert pn.balance(db, f"RW-S:STOCK:{SCREEN}") == 14
    assert pn.balance(db, f"STOCK-COUNT:STOCK:{SCREEN}") == 1
    call("POST", f"/counts/{sc}/approve", "approver1", {}, 409)
