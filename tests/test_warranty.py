"""The warranty rules (ledger/parts/warranty.py): their boundaries case by
case, their properties, and the two doors giving the same answers.

Pure tests but for the HTTP ones, which use the database fixtures (and so
run on both databases)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from rich.console import Console

from ledger.catalog.parts import WarrantyClass
from ledger.errors import InvalidInput
from ledger.models import Role
from ledger.parts.warranty import (
    Case,
    Category,
    Decision,
    PartClass,
    add_months,
    decide,
)
from tests.cli import run
from tests.tokens import bearer

D = date.fromisoformat

DEFAULTS: dict[str, Any] = {
    "part_class": "handset",
    "manufactured_on": "2025-01-10",
    "sold": True,
    "proof_of_purchase": True,
}


def case(**fields: Any) -> dict[str, Any]:
    """A case as JSON: the defaults (a sold handset with proof), overridden."""
    return {**DEFAULTS, **fields}


def decided(body: dict[str, Any]) -> Decision:
    return decide(Case.model_validate(body))


def test_part_classes_are_the_catalog_warranty_classes():
    assert {c.value for c in PartClass} == {c.value for c in WarrantyClass}


# ----------------------------------------------------------------------------- months


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        pytest.param("2026-01-31", 1, "2026-02-28", id="31-jan+1-non-leap"),
        pytest.param("2028-01-31", 1, "2028-02-29", id="31-jan+1-leap"),
        pytest.param("2026-01-31", 6, "2026-07-31", id="31-jan+6"),
        pytest.param("2026-01-31", 12, "2027-01-31", id="31-jan+12"),
        pytest.param("2026-01-31", 3, "2026-04-30", id="31-jan+3-clamped-to-30-apr"),
        pytest.param("2027-11-30", 3, "2028-02-29", id="30-nov+3-leap"),
        pytest.param("2028-02-29", 12, "2029-02-28", id="29-feb+12"),
        pytest.param("2026-12-15", 1, "2027-01-15", id="over-new-year"),
        pytest.param("2026-05-10", 0, "2026-05-10", id="zero"),
        pytest.param("2026-05-10", 27, "2028-08-10", id="27-months"),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(D(day), months) == D(expected)


@given(st.dates(date(2000, 1, 1), date(2100, 12, 31)), st.integers(0, 240))
def test_add_months_lands_on_the_day_or_the_month_end(day, months):
    out = add_months(day, months)
    assert (out.year * 12 + out.month) - (day.year * 12 + day.month) == months
    assert out.day == day.day or (out.day < day.day and (out + timedelta(days=1)).day == 1)


# ----------------------------------------------------------------------------- the table

P = "2026-03-01"  # a purchase date
CASES = [
    # DAP: sold handset, proof, at most 15 days, cosmetically intact
    pytest.param(case(purchased_on=P, reported_on=P), "DAP", "2027-03-01", id="dap-day-0"),
    pytest.param(case(purchased_on=P, reported_on="2026-03-16"), "DAP", "2027-03-01", id="dap-15"),
    pytest.param(case(purchased_on=P, reported_on="2026-03-17"), "WH", "2027-03-01", id="wh-16"),
    pytest.param(
        case(purchased_on=P, reported_on="2026-03-05", cosmetic_ok=False),
        "WH",
        "2027-03-01",
        id="worn-day-4-not-dap-but-wh",
    ),
    pytest.param(
        case(part_class="charger", purchased_on=P, reported_on="2026-03-05"),
        "WH",
        "2027-03-01",
        id="dap-is-handset-only-charger-wh",
    ),
    pytest.param(
        case(purchased_on=P, reported_on="2026-03-05", proof_of_purchase=False),
        "WH",
        "2026-04-10",
        id="no-proof-day-4-not-dap-15-months-from-manufacture",
    ),
    # handset with proof: 12 months, inclusive
    pytest.param(case(purchased_on=P, reported_on="2027-03-01"), "WH", "2027-03-01", id="12m-last"),
    pytest.param(case(purchased_on=P, reported_on="2027-03-02"), "F", "2027-03-01", id="12m-after"),
    # 31 January purchases
    pytest.param(
        case(purchased_on="2026-01-31", reported_on="2027-01-31"),
        "WH",
        "2027-01-31",
        id="31-jan-handset-12m",
    ),
    pytest.param(
        case(purchased_on="2026-01-31", reported_on="2027-02-28", extended_months=1),
        "WH",
        "2027-02-28",
        id="31-jan-handset-13m-non-leap",
    ),
    pytest.param(
        case(purchased_on="2027-01-31", reported_on="2028-03-01", extended_months=1),
        "F",
        "2028-02-29",
        id="31-jan-handset-13m-leap-1-mar-f",
    ),
    pytest.param(
        case(part_class="battery", purchased_on="2026-01-31", reported_on="2026-07-31"),
        "WH",
        "2026-07-31",
        id="31-jan-battery-6m-last",
    ),
    pytest.param(
        case(part_class="battery", purchased_on="2026-01-31", reported_on="2026-08-01"),
        "F",
        "2026-07-31",
        id="31-jan-battery-6m-after",
    ),
    # battery without proof: 9 months from manufacture
    pytest.param(
        case(
            part_class="battery",
            manufactured_on="2026-01-31",
            proof_of_purchase=False,
            reported_on="2026-10-31",
        ),
        "WH",
        "2026-10-31",
        id="battery-no-proof-9m-last",
    ),
    pytest.param(
        case(
            part_class="battery",
            manufactured_on="2026-01-31",
            proof_of_purchase=False,
            reported_on="2026-11-01",
        ),
        "F",
        "2026-10-31",
        id="battery-no-proof-9m-after",
    ),
    # handset without proof: 15 months from manufacture (a claimed purchase date is ignored)
    pytest.param(
        case(proof_of_purchase=False, reported_on="2026-04-10"),
        "WH",
        "2026-04-10",
        id="handset-no-proof-15m-last",
    ),
    pytest.param(
        case(proof_of_purchase=False, reported_on="2026-04-11"),
        "F",
        "2026-04-10",
        id="handset-no-proof-15m-after",
    ),
    pytest.param(
        case(proof_of_purchase=False, purchased_on="2026-04-01", reported_on="2026-04-11"),
        "F",
        "2026-04-10",
        id="handset-no-proof-purchase-date-ignored",
    ),
    # extended months
    pytest.param(
        case(purchased_on=P, reported_on="2027-09-01", extended_months=6),
        "WH",
        "2027-09-01",
        id="extended-6-last",
    ),
    pytest.param(
        case(purchased_on=P, reported_on="2027-09-02", extended_months=6),
        "F",
        "2027-09-01",
        id="extended-6-after",
    ),
    pytest.param(
        case(proof_of_purchase=False, reported_on="2027-04-10", extended_months=12),
        "WH",
        "2027-04-10",
        id="extended-12-no-proof",
    ),
    # accessories 3 months (6 without proof), charger 12
    pytest.param(
        case(part_class="accessory", purchased_on="2026-05-10", reported_on="2026-08-10"),
        "WH",
        "2026-08-10",
        id="accessory-3m-last",
    ),
    pytest.param(
        case(part_class="accessory", purchased_on="2026-05-10", reported_on="2026-08-11"),
        "F",
        "2026-08-10",
        id="accessory-3m-after",
    ),
    pytest.param(
        case(part_class="accessory", proof_of_purchase=False, reported_on="2025-07-10"),
        "WH",
        "2025-07-10",
        id="accessory-no-proof-6m-last",
    ),
    pytest.param(
        case(part_class="accessory", proof_of_purchase=False, reported_on="2025-07-11"),
        "F",
        "2025-07-10",
        id="accessory-no-proof-6m-after",
    ),
    pytest.param(
        case(part_class="charger", purchased_on="2026-05-10", reported_on="2027-05-10"),
        "WH",
        "2027-05-10",
        id="charger-12m-last",
    ),
    pytest.param(
        case(part_class="charger", purchased_on="2026-05-10", reported_on="2027-05-11"),
        "F",
        "2027-05-10",
        id="charger-12m-after",
    ),
    # never sold: DOA (handset, at most 15 minutes) or WH
    pytest.param(
        case(sold=False, proof_of_purchase=False, reported_on="2025-02-01", talk_minutes=0),
        "DOA",
        "2026-04-10",
        id="doa-0-minutes",
    ),
    pytest.param(
        case(sold=False, proof_of_purchase=False, reported_on="2025-02-01", talk_minutes=15),
        "DOA",
        "2026-04-10",
        id="doa-15-minutes",
    ),
    pytest.param(
        case(sold=False, proof_of_purchase=False, reported_on="2025-02-01", talk_minutes=16),
        "WH",
        "2026-04-10",
        id="never-sold-16-minutes-wh",
    ),
    pytest.param(
        case(sold=False, proof_of_purchase=False, reported_on="2025-02-01", cosmetic_ok=False),
        "DOA",
        "2026-04-10",
        id="doa-whatever-the-cosmetics",
    ),
    pytest.param(
        case(part_class="charger", sold=False, proof_of_purchase=False, reported_on="2025-02-01"),
        "WH",
        "2026-04-10",
        id="never-sold-charger-0-minutes-wh",
    ),
    pytest.param(
        case(part_class="battery", sold=False, proof_of_purchase=False, reported_on="2025-02-01"),
        "WH",
        "2025-10-10",
        id="never-sold-battery-wh-9m",
    ),
    pytest.param(
        case(sold=False, proof_of_purchase=False, reported_on="2029-02-01", talk_minutes=40),
        "WH",
        "2026-04-10",
        id="never-sold-wh-whatever-its-age",
    ),
    # man-made damage beats everything
    pytest.param(
        case(sold=False, proof_of_purchase=False, reported_on="2025-02-01", man_made_damage=True),
        "F",
        None,
        id="damage-beats-doa",
    ),
    pytest.param(
        case(purchased_on=P, reported_on=P, man_made_damage=True), "F", None, id="damage-beats-dap"
    ),
    pytest.param(
        case(purchased_on=P, reported_on="2026-09-01", man_made_damage=True, extended_months=6),
        "F",
        None,
        id="damage-beats-wh",
    ),
    pytest.param(
        case(
            part_class="charger",
            sold=False,
            proof_of_purchase=False,
            reported_on="2025-02-01",
            man_made_damage=True,
        ),
        "F",
        None,
        id="damage-beats-never-sold-wh",
    ),
]


@pytest.mark.parametrize(("body", "category", "ends"), CASES)
def test_the_rules(body, category, ends):
    decision = decided(body)
    assert decision.category == Category(category)
    assert decision.warranty_ends_on == (D(ends) if ends else None)
    assert decision.reason and decision.reason_zh


REFUSED = [
    pytest.param(
        case(part_class="battery", purchased_on=P, reported_on=P, extended_months=1),
        "extended_months",
        id="extended-on-a-battery",
    ),
    pytest.param(
        case(part_class="accessory", purchased_on=P, reported_on=P, extended_months=3),
        "extended_months",
        id="extended-on-an-accessory",
    ),
    pytest.param(
        case(sold=False, proof_of_purchase=False, reported_on=P, extended_months=6),
        "extended_months",
        id="extended-on-a-never-sold-unit",
    ),
    pytest.param(case(reported_on=P), "purchased_on", id="proof-without-purchase-date"),
    pytest.param(
        case(sold=False, proof_of_purchase=False, purchased_on=P, reported_on=P),
        "purchased_on",
        id="never-sold-with-purchase-date",
    ),
    pytest.param(case(sold=False, reported_on=P), "proof_of_purchase", id="never-sold-with-proof"),
    pytest.param(
        case(purchased_on="2025-01-09", reported_on=P),
        "purchased_on",
        id="purchased-before-manufacture",
    ),
    pytest.param(
        case(proof_of_purchase=False, reported_on="2025-01-09"),
        "reported_on",
        id="reported-before-manufacture",
    ),
    pytest.param(
        case(purchased_on=P, reported_on="2026-02-28"),
        "reported_on",
        id="reported-before-purchase",
    ),
]


@pytest.mark.parametrize(("body", "field"), REFUSED)
def test_open_cases_are_refused_naming_the_field(body, field):
    with pytest.raises(InvalidInput) as caught:
        decided(body)
    assert caught.value.where["field"] == field


INVALID = [
    pytest.param({"reported_on": "2026-02-30"}, "reported_on", id="no-such-day"),
    pytest.param({"reported_on": "2026-2-03"}, "reported_on", id="not-yyyy-mm-dd"),
    pytest.param({"reported_on": 0}, "reported_on", id="unix-time-int"),
    pytest.param({"reported_on": "1700000000"}, "reported_on", id="unix-time-text"),
    pytest.param({"reported_on": "2026-03-01T00:00:00"}, "reported_on", id="a-datetime"),
    pytest.param({"manufactured_on": "1999-12-31"}, "manufactured_on", id="before-2000"),
    pytest.param({"reported_on": "2101-01-01"}, "reported_on", id="after-2100"),
    pytest.param({"sold": "true"}, "sold", id="string-for-bool"),
    pytest.param({"proof_of_purchase": 1}, "proof_of_purchase", id="int-for-bool"),
    pytest.param({"talk_minutes": -1}, "talk_minutes", id="negative-minutes"),
    pytest.param({"talk_minutes": True}, "talk_minutes", id="bool-for-minutes"),
    pytest.param({"talk_minutes": 1.5}, "talk_minutes", id="float-minutes"),
    pytest.param({"talk_minutes": 1_000_001}, "talk_minutes", id="too-many-minutes"),
    pytest.param({"extended_months": 121}, "extended_months", id="too-many-months"),
    pytest.param({"part_class": "phone"}, "part_class", id="unknown-class"),
    pytest.param({"colour": "red"}, "colour", id="extra-field"),
]


@pytest.mark.parametrize(("change", "field"), INVALID)
def test_invalid_cases_are_refused_by_the_model(change, field):
    with pytest.raises(ValidationError) as caught:
        Case.model_validate_json(json.dumps({**case(purchased_on=P, reported_on=P), **change}))
    assert [e["loc"][0] for e in caught.value.errors()] == [field]


# ----------------------------------------------------------------------------- properties


@st.composite
def cases(draw, damage: bool | None = None) -> dict[str, Any]:
    manufactured = draw(st.dates(date(2000, 1, 1), date(2090, 12, 31)))
    sold = draw(st.booleans())
    part_class = draw(st.sampled_from(list(PartClass)))
    proof = sold and draw(st.booleans())
    purchased = None
    if sold and (proof or draw(st.booleans())):
        purchased = manufactured + timedelta(days=draw(st.integers(0, 800)))
    reported = (purchased or manufactured) + timedelta(days=draw(st.integers(0, 1500)))
    extended = draw(st.integers(0, 120)) if part_class is PartClass.HANDSET and sold else 0
    return {
        "part_class": part_class.value,
        "reported_on": reported.isoformat(),
        "manufactured_on": manufactured.isoformat(),
        "purchased_on": purchased.isoformat() if purchased else None,
        "proof_of_purchase": proof,
        "sold": sold,
        "man_made_damage": draw(st.booleans()) if damage is None else damage,
        "talk_minutes": draw(st.integers(0, 40)),
        "cosmetic_ok": draw(st.booleans()),
        "extended_months": extended,
    }


@given(cases(damage=True))
def test_man_made_damage_is_always_f(body):
    decision = decided(body)
    assert decision.category is Category.F
    assert decision.warranty_ends_on is None


@given(cases(damage=False), st.integers(0, 120), st.integers(0, 120))
def test_warranty_end_is_monotone_in_extended_months(body, a, b):
    body = {**body, "part_class": "handset", "sold": True}
    low, high = sorted((a, b))
    first = decided({**body, "extended_months": low}).warranty_ends_on
    second = decided({**body, "extended_months": high}).warranty_ends_on
    assert first is not None and second is not None
    assert first <= second


@given(cases())
def test_reporting_a_day_later_never_turns_f_into_covered(body):
    if decided(body).category is not Category.F:
        return
    later = D(body["reported_on"]) + timedelta(days=1)
    assert decided({**body, "reported_on": later.isoformat()}).category is Category.F


@given(cases())
def test_categories_agree_with_the_warranty_end(body):
    decision = decided(body)
    reported, ends = D(body["reported_on"]), decision.warranty_ends_on
    if body["man_made_damage"]:
        assert decision.category is Category.F
        return
    assert ends is not None
    if not body["sold"]:
        assert decision.category in (Category.DOA, Category.WH)
        assert (decision.category is Category.DOA) == (
            body["part_class"] == "handset" and body["talk_minutes"] <= 15
        )
        return
    if decision.category is Category.WH:
        assert reported <= ends
    elif decision.category is Category.F:
        assert reported > ends
    else:
        assert decision.category is Category.DAP
        assert body["part_class"] == "handset" and body["proof_of_purchase"]
        assert body["cosmetic_ok"]
        assert reported <= D(body["purchased_on"]) + timedelta(days=15) <= ends


@given(cases())
def test_the_same_case_gets_the_same_decision(body):
    assert decided(body) == decided(dict(reversed(list(body.items()))))


# ----------------------------------------------------------------------------- the doors

SAMPLE = [p.values[0] for p in CASES]


def test_http_answers_as_the_function(client, db):
    headers = bearer(db, Role.SERVICE_POINT, "SP-0001")
    for body in SAMPLE:
        response = client.post("/warranty/decide", json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == decided(body).model_dump(mode="json")


def test_http_any_staff_role_may_ask_but_not_a_stranger(client, db):
    body = SAMPLE[0]
    assert client.post("/warranty/decide", json=body).status_code == 401
    for role in (Role.ADMIN, Role.WAREHOUSE_CLERK, Role.FINANCE):
        response = client.post("/warranty/decide", json=body, headers=bearer(db, role))
        assert response.status_code == 200, response.text


HTTP_INVALID = [
    pytest.param(case(reported_on="2026-02-30", purchased_on=P), "body.reported_on", id="bad-date"),
    pytest.param(case(reported_on=P), "purchased_on", id="proof-without-purchase-date"),
    pytest.param(
        case(reported_on=P, purchased_on=P, colour="red"), "body.colour", id="extra-field"
    ),
    pytest.param(case(reported_on=P, purchased_on=P, sold="true"), "body.sold", id="text-bool"),
    pytest.param(
        case(reported_on=P, purchased_on=P, talk_minutes=-1),
        "body.talk_minutes",
        id="negative-minutes",
    ),
    pytest.param(case(reported_on=P, purchased_on="2026-03-01\x00"), "body", id="nul-byte"),
    pytest.param(
        case(part_class="charger", reported_on=P, purchased_on=P, extended_months=2),
        "extended_months",
        id="extended-on-a-charger",
    ),
    pytest.param(
        case(reported_on="2026-02-01", purchased_on=P), "reported_on", id="reported-first"
    ),
]


def test_http_wrong_input_is_a_422_naming_the_field(client, db):
    headers = bearer(db, Role.SERVICE_POINT, "SP-0001")
    for param in HTTP_INVALID:
        body, field = param.values
        response = client.post("/warranty/decide", json=body, headers=headers)
        assert response.status_code == 422, (param.id, response.text)
        problem = response.json()
        assert problem["field"] == field, (param.id, problem)
        assert problem["type"] == "/problems/invalid-request"


def _cli_args(body: dict[str, Any]) -> list[str]:
    args = [
        "warranty",
        "decide",
        "--class",
        body["part_class"],
        "--reported",
        body["reported_on"],
        "--manufactured",
        body["manufactured_on"],
    ]
    if body.get("purchased_on"):
        args += ["--purchased", body["purchased_on"]]
    args.append("--proof" if body.get("proof_of_purchase") else "--no-proof")
    args.append("--sold" if body.get("sold", True) else "--never-sold")
    if body.get("man_made_damage"):
        args.append("--man-made")
    args += ["--talk-minutes", str(body.get("talk_minutes", 0))]
    args.append("--cosmetic-ok" if body.get("cosmetic_ok", True) else "--worn")
    args += ["--extended-months", str(body.get("extended_months", 0))]
    return args


def _rows(out: str) -> dict[str, str]:
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


def test_cli_answers_as_the_function(monkeypatch):
    monkeypatch.setattr("api.cli.console", Console(width=400))
    for body in SAMPLE:
        expected = decided(body)
        rows = _rows(run(*_cli_args(body)))
        assert rows["category"] == expected.category.value, body
        ends = expected.warranty_ends_on
        assert rows["warranty ends"] == (ends.isoformat() if ends else "none"), body
        assert rows["reason"] == expected.reason
        assert rows["原因"] == expected.reason_zh


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(["--reported", "2026-3-01"], "--reported", id="bad-date"),
        pytest.param(["--class", "phone"], "--class", id="unknown-class"),
        pytest.param(["--talk-minutes", "-1"], "--talk-minutes", id="negative-minutes"),
        pytest.param(["--extended-months", "130"], "--extended-months", id="too-many-months"),
        pytest.param(["--manufactured", "1999-01-01"], "--manufactured", id="before-2000"),
    ],
)
def test_cli_bad_input_is_a_message_and_exit_1(monkeypatch, change, message):
    monkeypatch.setattr("api.cli.console", Console(width=400))
    args = _cli_args(case(purchased_on=P, reported_on=P))
    option = change[0]
    args[args.index(option) + 1] = change[1]
    out = run(*args, code=1)
    assert out.startswith("error:") and message in out


@pytest.mark.parametrize(
    ("body", "option"),
    [
        pytest.param(case(reported_on=P), "--purchased", id="proof-without-purchase-date"),
        pytest.param(
            case(part_class="battery", reported_on=P, purchased_on=P, extended_months=1),
            "--extended-months",
            id="extended-on-a-battery",
        ),
        pytest.param(
            case(purchased_on=P, reported_on="2026-02-01"), "--reported", id="reported-first"
        ),
    ],
)
def test_cli_refused_cases_name_the_option(monkeypatch, body, option):
    monkeypatch.setattr("api.cli.console", Console(width=400))
    out = run(*_cli_args(body), code=1)
    assert out.startswith(f"error: {option}:"), out
