"""Repairs and their write-off over HTTP, on both databases: a repair in
each service category takes its parts out of the point's stock in one
entry, in-warranty repairs put the replaced returnable parts into the
point's defective stock, F is flagged chargeable at the list price; a
write-off is reversed; the defective parts go back to the warehouse with
shortages recorded. The ledger is sound after every step, and wrong input
changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from ledger.catalog import parts
from ledger.models import JournalEntry
from ledger.parts.documents import DocumentAction
from ledger.parts.repairs import Repair
from ledger.parts.shipments import Shipment
from ledger.policy import SYSTEM
from ledger.settings import Settings
from tests import parts_network as pn
from tests.tokens import SECRET

HOUSING_COST = 2_000


@pytest.fixture
def client(db):
    pn.network(db)

    def housing(s):
        parts.create_part(
            s, SYSTEM, "P-HSG", name_zh="后壳", name_en="Back housing", category="housing",
            warranty_class="handset",
        )  # fmt: skip
        parts.set_price(
            s, SYSTEM, "P-HSG", effective_from=s.info["window"].today(),
            standard_cost=HOUSING_COST, list_price=HOUSING_COST * 3,
        )  # fmt: skip

    db.transact(housing)
    for sku, units in (("P-LCD", 10), ("P-BOARD", 5), ("P-HSG", 5), ("P-BATT", 4)):
        pn.stock(db, "SP-A", sku, units)
    pn.stock(db, "SP-B", "P-LCD", 3)
    app = create_app(db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://"))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def call(client, db):
    tokens: dict[str, dict] = {}

    def call(method, path, user, body=None, status=200, key=None):
        if user not in tokens:
            tokens[user] = pn.headers(client, user)
        headers = dict(tokens[user])
        if key:
            headers["Idempotency-Key"] = key
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == status, response.text
        pn.sound(db)
        return response.json()

    return call


@pytest.fixture
def today(db):
    with db.reading() as s:
        return s.info["window"].today()


def _case(today, **overrides):
    """A sold handset with proof, bought 100 days ago: WH."""
    case = {
        "part_class": "handset",
        "reported_on": today.isoformat(),
        "manufactured_on": (today - timedelta(days=200)).isoformat(),
        "purchased_on": (today - timedelta(days=100)).isoformat(),
        "proof_of_purchase": True,
        "sold": True,
    }
    case.update(overrides)
    return case


def _repair(number, case, parts_used, **extra):
    return {
        "repair_number": number,
        "customer_serial": "860000000000001",
        "handset_model": "Other brand Z9",
        "fault": "no display",
        "case": case,
        "parts": [{"sku": sku, "quantity": q} for sku, q in parts_used],
        **extra,
    }


def _counts(db):
    with db.reading() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t))
            for t in (JournalEntry, DocumentAction, Repair, Shipment)
        )


def test_a_repair_in_each_category_writes_off_its_parts(call, db, today):
    # WH: a screen (returned to the factory) and a housing (not returned).
    wh = call(
        "POST", "/repairs", "sp-a",
        _repair("R-1", _case(today), [("P-LCD", 1), ("P-HSG", 1)], category="WH"), 201,
    )  # fmt: skip
    assert wh["category"] == "WH" and wh["state"] == "written_off"
    assert wh["cost"] == pn.COSTS["P-LCD"] + HOUSING_COST
    assert wh["chargeable"] is False and wh["charge"] == 0
    assert [(p["sku"], p["defective"]) for p in wh["parts"]] == [("P-LCD", 1), ("P-HSG", 0)]
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 9
    assert pn.balance(db, "SP-A:STOCK:P-HSG") == 4
    assert pn.balance(db, "SP-A:DEFECTIVE:P-LCD") == 1
    assert pn.balance(db, "SP-A:DEFECTIVE:P-HSG") == 0
    # Consumed net of the core that comes back: the housing only.
    assert pn.balance(db, "CONSUMED:STOCK:P-LCD") == 0
    assert pn.balance(db, "CONSUMED:STOCK:P-HSG") == 1

    # DOA: a never-sold handset with 15 minutes of talk time.
    doa_case = _case(today, sold=False, purchased_on=None, proof_of_purchase=False, talk_minutes=15)
    doa = call("POST", "/repairs", "sp-a", _repair("R-2", doa_case, [("P-BOARD", 1)]), 201)
    assert doa["category"] == "DOA"
    assert pn.balance(db, "SP-A:DEFECTIVE:P-BOARD") == 1

    # DAP: bought 15 days ago, intact.
    dap_case = _case(today, purchased_on=(today - timedelta(days=15)).isoformat())
    dap = call("POST", "/repairs", "sp-a", _repair("R-3", dap_case, [("P-LCD", 2)]), 201)
    assert dap["category"] == "DAP"
    assert pn.balance(db, "SP-A:DEFECTIVE:P-LCD") == 3

    # F: man-made damage; chargeable at the list price, nothing comes back.
    f_case = _case(today, man_made_damage=True)
    f = call("POST", "/repairs", "sp-a", _repair("R-4", f_case, [("P-LCD", 1), ("P-HSG", 2)]), 201)
    assert f["category"] == "F" and f["chargeable"] is True
    assert f["charge"] == pn.COSTS["P-LCD"] * 2 + 2 * HOUSING_COST * 3
    assert f["decision"]["warranty_ends_on"] is None
    assert pn.balance(db, "SP-A:DEFECTIVE:P-LCD") == 3
    assert pn.balance(db, "CONSUMED:STOCK:P-LCD") == 1

    # The point's repairs by month and category.
    month = today.strftime("%Y-%m")
    listed = call("GET", f"/repairs?month={month}", "sp-a")["items"]
    assert [r["repair_number"] for r in listed] == ["R-4", "R-3", "R-2", "R-1"]
    assert [r["repair_number"] for r in call("GET", "/repairs?category=F", "sp-a")["items"]] == [
        "R-4"
    ]
    summary = call("GET", f"/repairs/summary?month={month}&point=SP-A", "finance")
    by = {c["category"]: c for c in summary["categories"]}
    assert {c: by[c]["repairs"] for c in by} == {"DOA": 1, "DAP": 1, "WH": 1, "F": 1}
    assert by["F"]["charge"] == f["charge"] and by["WH"]["cost"] == wh["cost"]
    assert by["DAP"]["quantity"] == 2

    # The entry names the repair, and the history tells who did it; the
    # answer to the write-off is the repair as it reads afterwards.
    shown = call("GET", f"/repairs/{wh['number']}", "admin")
    assert shown == wh
    assert shown["history"][0]["action"] == "write_off"
    assert shown["history"][0]["actor"] == "sp-a"
    entry = call("GET", f"/entries/{shown['entry_id']}", "admin")
    assert entry["refs"]["repair"] == wh["number"]
    assert entry["refs"]["category"] == "WH"


def test_reversal_puts_the_parts_back_and_frees_the_repair_number(call, db, today):
    first = call("POST", "/repairs", "sp-a", _repair("R-9", _case(today), [("P-LCD", 2)]), 201)
    call(
        "POST", "/repairs", "sp-a", _repair("R-9", _case(today), [("P-LCD", 1)]), 409,
    )  # fmt: skip
    reversed_ = call(
        "POST", f"/repairs/{first['number']}/reverse", "sp-a", {"reason": "wrong repair"}
    )
    assert reversed_["state"] == "reversed" and reversed_["reversal_reason"] == "wrong repair"
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 10
    assert pn.balance(db, "SP-A:DEFECTIVE:P-LCD") == 0
    assert pn.balance(db, "CONSUMED:STOCK:P-LCD") == 0
    # Twice is refused; the number may be written off again.
    call("POST", f"/repairs/{first['number']}/reverse", "sp-a", {"reason": "again"}, 409)
    again = call("POST", "/repairs", "sp-a", _repair("R-9", _case(today), [("P-LCD", 1)]), 201)
    assert again["number"] != first["number"]
    # The summary counts standing repairs only.
    summary = call("GET", f"/repairs/summary?month={today:%Y-%m}", "sp-a")
    assert {c["category"]: c["quantity"] for c in summary["categories"]}["WH"] == 1


def test_defective_parts_go_back_to_the_warehouse_with_shortages(call, db, today):
    call("POST", "/repairs", "sp-a", _repair("R-1", _case(today), [("P-LCD", 3)]), 201)
    repair = call("POST", "/repairs", "sp-a", _repair("R-2", _case(today), [("P-BOARD", 1)]), 201)
    # More than the point holds as defective: refused, naming the account.
    too_many = call(
        "POST", "/returns", "sp-a",
        {"defective": True, "lines": [{"sku": "P-LCD", "quantity": 4}]}, 409,
    )  # fmt: skip
    assert too_many["account"] == "SP-A:DEFECTIVE:P-LCD"
    shipped = call(
        "POST", "/returns", "sp-a",
        {
            "defective": True, "courier": "SF", "tracking_number": "SF123",
            "lines": [{"sku": "P-LCD", "quantity": 3}, {"sku": "P-BOARD", "quantity": 1}],
        },
        201,
    )  # fmt: skip
    assert shipped["kind"] == "defective" and shipped["receiver"] == "RW-S"
    assert pn.balance(db, "SP-A:DEFECTIVE:P-LCD") == 0
    assert pn.balance(db, "RW-S:TRANSIT:P-LCD") == 3
    # Once shipped, the write-off that made them cannot be reversed.
    refused = call("POST", f"/repairs/{repair['number']}/reverse", "sp-a", {"reason": "oops"}, 409)
    assert refused["account"] == "SP-A:DEFECTIVE:P-BOARD"
    assert "cannot be reversed" in refused["detail"]
    # The warehouse finds one screen short: it lands in its defective stock.
    received = call(
        "POST", f"/shipments/{shipped['number']}/receive", "clerk",
        {"lines": [{"line_no": 1, "quantity": 2}]},
    )  # fmt: skip
    assert received["state"] == "received" and len(received["discrepancies"]) == 1
    assert pn.balance(db, "RW-S:DEFECTIVE:P-LCD") == 2
    assert pn.balance(db, "RW-S:DEFECTIVE:P-BOARD") == 1
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 0
    assert pn.balance(db, "DISCREPANCIES:TRANSIT:P-LCD") == 1
    found = call(
        "POST", f"/discrepancies/{received['discrepancies'][0]}/resolve", "clerk",
        {"outcome": "found", "reason": "in the second box"},
    )  # fmt: skip
    assert found["state"] == "found"
    assert pn.balance(db, "RW-S:DEFECTIVE:P-LCD") == 3
    listed = call("GET", "/shipments?kind=defective", "sp-a")["items"]
    assert [s["number"] for s in listed] == [shipped["number"]]


def test_a_point_sees_and_writes_only_its_own_repairs(call, db, today):
    mine = call("POST", "/repairs", "sp-a", _repair("R-1", _case(today), [("P-LCD", 1)]), 201)
    # Another point's repair is unknown to sp-b, in the URL and in lists.
    call("GET", f"/repairs/{mine['number']}", "sp-b", status=404)
    call("POST", f"/repairs/{mine['number']}/reverse", "sp-b", {"reason": "x"}, 404)
    assert call("GET", "/repairs", "sp-b")["items"] == []
    call("GET", "/repairs?point=SP-A", "sp-b", status=404)
    call("GET", f"/repairs/summary?month={today:%Y-%m}&point=SP-A", "sp-b", status=404)
    assert call("GET", f"/repairs/summary?month={today:%Y-%m}", "sp-b")["point"] == "SP-B"
    call("GET", f"/repairs/summary?month={today:%Y-%m}&point=NOPE", "finance", status=404)
    # Writing off at another point answers as if it did not exist.
    call(
        "POST", "/repairs", "sp-b", _repair("R-1", _case(today), [("P-LCD", 1)], point="SP-A"), 404
    )
    # The same repair number at another point is another repair.
    call("POST", "/repairs", "sp-b", _repair("R-1", _case(today), [("P-LCD", 1)]), 201)
    # An admin writes off for a point, naming it; a clerk may not.
    call(
        "POST", "/repairs", "admin", _repair("R-2", _case(today), [("P-LCD", 1)], point="SP-A"),
        201,
    )  # fmt: skip
    call("POST", "/repairs", "clerk", _repair("R-3", _case(today), [("P-LCD", 1)]), 403)


def test_wrong_input_gets_a_clear_problem_and_changes_nothing(call, db, today):
    call("POST", "/repairs", "sp-a", _repair("R-1", _case(today), [("P-LCD", 1)]), 201)
    before = _counts(db)

    def refused(body, status, code, field=None):
        answer = call("POST", "/repairs", "sp-a", body, status)
        assert answer["type"] == f"/problems/{code}", answer
        if field:
            assert answer.get("field") == field or field in str(answer.get("errors")), answer
        assert _counts(db) == before
        return answer

    # A part the point does not hold (SP-A has 4 batteries).
    short = refused(_repair("R-2", _case(today), [("P-BATT", 5)]), 409, "insufficient-balance")
    assert short["account"] == "SP-A:STOCK:P-BATT" and "does not hold" in short["detail"]
    # A category the rules refuse: their reason comes back.
    damaged = _case(today, man_made_damage=True)
    claim = refused(
        _repair("R-2", damaged, [("P-LCD", 1)], category="WH"), 422, "invalid-request", "category"
    )
    assert "man-made damage" in claim["detail"] and "F, not WH" in claim["detail"]
    # The same repair number again.
    dup = refused(_repair("R-1", _case(today), [("P-LCD", 1)]), 409, "duplicate")
    assert "RP-" in dup["detail"]
    # The same number in lower case or full width is the same repair.
    refused(_repair("r-1", _case(today), [("P-LCD", 1)]), 409, "duplicate")
    refused(_repair("Ｒ-1", _case(today), [("P-LCD", 1)]), 409, "duplicate")
    # Invisible characters are not printable text.
    for text in ("R-1\u200b", "\u200b", "A\u0085B", "a\u202eb"):
        refused(_repair(text, _case(today), [("P-LCD", 1)]), 422, "invalid-request")
    refused(
        {**_repair("R-2", _case(today), [("P-LCD", 1)]), "fault": "no\u2028display"},
        422,
        "invalid-request",
    )
    # Reported after today; the rules' own refusals name the case's field.
    later = (today + timedelta(days=1)).isoformat()
    refused(
        _repair("R-2", _case(today, reported_on=later), [("P-LCD", 1)]),
        422, "invalid-request", "case.reported_on",
    )  # fmt: skip
    refused(
        _repair("R-2", _case(today, purchased_on=None), [("P-LCD", 1)]),
        422, "invalid-request", "case.purchased_on",
    )  # fmt: skip
    # Unknown part, a part twice, no parts, bad quantities, NUL bytes, far dates.
    unknown = refused(_repair("R-2", _case(today), [("NOPE", 1)]), 422, "invalid-request")
    assert unknown["field"] == "parts[0].sku"
    refused(_repair("R-2", _case(today), [("P-LCD", 1), ("P-LCD", 1)]), 422, "invalid-request")
    refused(_repair("R-2", _case(today), []), 422, "invalid-request")
    refused(_repair("R-2", _case(today), [("P-LCD", 0)]), 422, "invalid-request")
    refused(_repair("R-2", _case(today), [("P-LCD", -1)]), 422, "invalid-request")
    refused(_repair("R-2", _case(today), [("P-LCD", 10**12)]), 422, "invalid-request")
    refused(_repair("R-\x002", _case(today), [("P-LCD", 1)]), 422, "invalid-request")
    refused(
        {**_repair("R-2", _case(today), [("P-LCD", 1)]), "fault": "a\x00b"},
        422,
        "invalid-request",
    )
    refused(
        _repair("R-2", _case(today, reported_on="9999-12-31"), [("P-LCD", 1)]),
        422,
        "invalid-request",
    )
    refused(
        _repair("R-2", _case(today, purchased_on=None), [("P-LCD", 1)]),
        422,
        "invalid-request",
    )
    refused({**_repair("R-2", _case(today), [("P-LCD", 1)]), "surprise": 1}, 422, "invalid-request")


def test_a_double_click_with_one_key_writes_off_once(call, db, today):
    body = _repair("R-1", _case(today), [("P-LCD", 2)])
    first = call("POST", "/repairs", "sp-a", body, 201, key="click-1")
    second = call("POST", "/repairs", "sp-a", body, 201, key="click-1")
    assert first == second
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 8
    # The same key for another repair is refused.
    other = _repair("R-2", _case(today), [("P-LCD", 1)])
    call("POST", "/repairs", "sp-a", other, 422, key="click-1")


# -- the command line ------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    from tests.cli import cli_database

    yield from cli_database(tmp_path, monkeypatch, lambda s: pn.build(s, s.info["window"].today()))


def test_write_off_reverse_and_return_from_the_command_line(cli_db):
    from tests.cli import run

    pn.stock(cli_db, "SP-A", "P-LCD", 3)
    with cli_db.reading() as s:
        today = s.info["window"].today()
    case = [
        "--class", "handset", "--reported", today.isoformat(),
        "--manufactured", (today - timedelta(days=300)).isoformat(),
        "--purchased", (today - timedelta(days=200)).isoformat(), "--proof",
    ]  # fmt: skip
    who = ["--serial", "860000000000009", "--model", "X1", "--fault", "no display"]
    claimed = run("repairs", "write-off", "R-1", *who, *case, "--part", "P-LCD=1",
                  "--category", "DAP", "--as", "sp-a", code=1)  # fmt: skip
    assert "WH, not DAP" in claimed
    assert "SKU=UNITS" in run("repairs", "write-off", "R-1", *who, *case, "--part", "P-LCD",
                              "--as", "sp-a", code=1)  # fmt: skip
    out = run("repairs", "write-off", "R-1", *who, *case, "--part", "P-LCD=2", "--as", "sp-a")
    assert "written_off" in out and "WH" in out
    number = out.split()[0]
    assert pn.balance(cli_db, "SP-A:DEFECTIVE:P-LCD") == 2
    assert number in run("repairs", "list", "--point", "SP-A", "--month", f"{today:%Y-%m}")
    assert "WH" in run("repairs", "list", "--month", f"{today:%Y-%m}", "--summary")
    returned = run("shipments", "return", "--part", "P-LCD=1", "--defective", "--as", "sp-a")
    assert "defective" in returned
    assert pn.balance(cli_db, "RW-S:TRANSIT:P-LCD") == 1
    refused = run("repairs", "reverse", number, "--reason", "typo", "--as", "sp-a", code=1)
    assert "cannot be reversed" in refused
    assert "RP-" in run("repairs", "show", number)


# -- at once, on committed databases -----------------------------------------------------


def test_many_write_offs_for_the_last_parts_and_one_repair_number_twice(fresh_db):
    from ledger.errors import Duplicate, InsufficientBalance
    from ledger.parts import repairs
    from ledger.parts.requisitions import LineIn
    from ledger.parts.warranty import Case
    from tests.test_parts_races import _at_once

    db = fresh_db
    pn.network(db)
    pn.stock(db, "SP-A", "P-LCD", 5)
    who = pn.actor(db, "sp-a")
    with db.reading() as s:
        today = s.info["window"].today()
    case = Case.model_validate(_case(today))

    def write_off(number):
        return db.transact(
            lambda s: repairs.write_off(
                s, who, repair_number=number, customer_serial="86", handset_model="X1",
                fault="dead", case=case, parts=[LineIn(sku="P-LCD", quantity=1)],
            )
        )  # fmt: skip

    # 12 repairs at once for 5 screens: exactly 5 written off.
    results = _at_once(lambda i: write_off(f"R-{i}"), 12)
    done = [r for r in results if isinstance(r, repairs.RepairView)]
    short = [r for r in results if isinstance(r, InsufficientBalance)]
    assert len(done) == 5 and len(short) == 7, results
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 0
    assert pn.balance(db, "SP-A:DEFECTIVE:P-LCD") == 5

    # The same repair number twice at once (a double click without a key).
    pn.stock(db, "SP-A", "P-LCD", 2)
    results = _at_once(lambda i: write_off("R-TWICE"), 2)
    assert sorted(type(r).__name__ for r in results) == ["Duplicate", "RepairView"], results
    assert any(isinstance(r, Duplicate) for r in results)
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 1
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Repair)) == 6
    pn.sound(db)


def test_a_repair_worth_more_than_the_ledger_bound_is_refused(call, db, today):
    def dear(s):
        parts.create_part(
            s, SYSTEM, "P-DEAR", name_zh="贵", name_en="Dear", category="board",
            warranty_class="handset", returnable=True,
        )  # fmt: skip
        parts.set_price(
            s, SYSTEM, "P-DEAR", effective_from=today, standard_cost=10**12, list_price=10**12
        )

    db.transact(dear)
    before = _counts(db)
    damaged = _case(today, man_made_damage=True)
    answer = call("POST", "/repairs", "sp-a", _repair("R-1", damaged, [("P-DEAR", 1_000_000)]), 422)
    assert answer["field"] == "parts[0].quantity" and "worth more than" in answer["detail"]
    assert _counts(db) == before


def test_a_reversed_f_repair_is_no_longer_chargeable(call, db, today):
    damaged = _case(today, man_made_damage=True)
    f = call("POST", "/repairs", "sp-a", _repair("R-1", damaged, [("P-LCD", 1)]), 201)
    assert f["chargeable"] is True and f["charge"] == pn.COSTS["P-LCD"] * 2
    back = call("POST", f"/repairs/{f['number']}/reverse", "sp-a", {"reason": "not ours"})
    assert back["chargeable"] is False and back["charge"] == 0
    assert call("GET", "/repairs", "sp-a")["items"][0]["charge"] == 0
