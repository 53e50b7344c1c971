"""Finance's deposit and credit steps on the command line (SQLite file)."""

from __future__ import annotations

import openpyxl
import pytest

from ledger.parts import requisitions
from ledger.parts.requisitions import LineIn
from tests import parts_network as pn
from tests.cli import cli_database, run


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    yield from cli_database(tmp_path, monkeypatch, lambda s: pn.build(s, s.info["window"].today()))


def test_deposits_leverage_report_and_override_from_the_command_line(cli_db, tmp_path):
    out = run("deposits", "receive", "SP-B", "1,500.00", "--reference", "BOC-1", "--as", "finance")
    assert "receipt of ¥1,500.00 from SP-B" in out or "receipt of 1,500.00" in out
    assert "may not record" in run("deposits", "receive", "SP-B", "1", "--as", "clerk", code=1)
    assert "not an amount" in run("deposits", "receive", "SP-B", "abc", code=1)
    assert "out of bounds" in run("deposits", "receive", "SP-B", "0", code=1)
    refused = run("deposits", "refund", "SP-B", "99999999.00", "--as", "finance", code=1)
    assert "SP-B:DEPOSIT:CNY" in refused and "paid in" in refused
    shown = run("deposits", "show", "SP-B")
    assert "BOC-1" in shown and "finance" in shown

    # SP-A down to a ¥500 deposit: a limit of ¥1,000 at 2×.
    run("deposits", "refund", "SP-A", "999,500.00", "--as", "finance")
    assert "limit" in run("credit", "show", "SP-A") and "1,000.00" in run("credit", "show", "SP-A")
    run("credit", "leverage", "1.5", "--point", "SP-A", "--reason", "review", "--as", "finance")
    assert "750.00" in run("credit", "show", "SP-A")
    assert "point:SP-A" in run("credit", "leverage")
    assert "two decimals" in run("credit", "leverage", "1.555", "--grade", "A", code=1)

    pn.stock(cli_db, "RW-S", "P-LCD", 10)
    point, approver = pn.actor(cli_db, "sp-a"), pn.actor(cli_db, "approver1")
    number = cli_db.transact(
        lambda s: requisitions.create(
            s, point, lines=[LineIn(sku="P-LCD", quantity=9)], submit=True
        )
    ).number
    cli_db.transact(lambda s: requisitions.approve(s, approver, number))
    refused = " ".join(run("requisitions", "issue", number, "--as", "clerk", code=1).split())
    assert "credit limit is ¥750.00" in refused and "credit override" in refused
    out = run("credit", "override", number, "--reason", "launch", "--as", "finance")
    assert "CO-000001 open" in out
    run("requisitions", "issue", number, "--as", "clerk")
    report = run("credit", "report", "--over-limit")
    assert "1 past their limit" in report and "SP-A" in report

    # SP-B returns 3 screens, the warehouse counts 1: finance charges the 2 lost.
    pn.stock(cli_db, "SP-B", "P-LCD", 3)
    shipment = run("shipments", "return", "--part", "P-LCD=3", "--as", "sp-b").split()[0]
    received = run("shipments", "receive", shipment, "--line", "1=1", "--as", "clerk")
    discrepancy = received.split("shortage ")[1].split(":")[0]
    assert "may not charge" in run(
        "shipments",
        "resolve",
        discrepancy,
        "lost",
        "--reason",
        "never packed",
        "--charge",
        "--as",
        "clerk",
        code=1,
    )
    run("shipments", "resolve", discrepancy, "lost", "--reason", "never packed", "--charge",
        "--unit-price", "150.00", "--as", "finance")  # fmt: skip
    assert pn.balance(cli_db, "SP-B:RECEIVABLE:CNY") == 2 * 15_000

    sheet = tmp_path / "credit.xlsx"
    run("credit", "report", "--xlsx", str(sheet))
    rows = list(openpyxl.load_workbook(sheet).active.values)
    assert rows[2][0] == "网点 Point" and {r[0] for r in rows[3:-1]} == {"SP-A", "SP-B", "SP-OFF"}


def test_statements_months_and_termination_from_the_command_line(cli_db, tmp_path):
    from datetime import timedelta

    from ledger import services
    from ledger.journal import EntryIn, PostingIn
    from ledger.money import accruals, settlement
    from ledger.policy import SYSTEM

    finance = pn.actor(cli_db, "finance")
    with cli_db.reading() as s:
        this_month = s.info["window"].today().replace(day=1)
    last = (this_month - timedelta(days=1)).replace(day=1)
    month = f"{last:%Y-%m}"
    # Set today, the monthly subsidy is not November's: only SP-A's charge is.
    out = run("subsidies", "set", "A", "500.00", "--as", "finance")
    assert "500.00" in out and "per month" in out
    run("subsidies", "set", "A", "30.00", "--category", "WH", "--as", "finance")
    assert "not one of" in run("subsidies", "set", "A", "1", "--category", "X", code=1)
    listed = run("subsidies", "list")
    assert "monthly" in listed and "repair" in listed and "30.00" in listed
    charge = EntryIn(
        kind="charge",
        effective_date=last.replace(day=15),
        memo="a lost screen",
        postings=[
            PostingIn(account="SP-A:RECEIVABLE:CNY", amount=12_300),
            PostingIn(account="CHARGES:STOCK:CNY", amount=-12_300),
        ],
    )
    cli_db.transact(lambda s: accruals.system_holder(s, accruals.CHARGES))
    cli_db.transact(lambda s: services.post(s, SYSTEM, [charge]))
    settlement.run(cli_db, finance, month)

    listed = run("statements", "list", month)
    assert "SP-A" in listed and "123.00" in listed and "1 statements" in listed
    shown = run("statements", "show", month, "SP-A")
    assert "charges ¥123.00" in shown or "charges 123.00" in shown
    run("statements", "write", month, "--out", str(tmp_path / "out"))
    written = sorted(p.name for p in (tmp_path / "out" / month).iterdir())
    assert written == [f"SP-A_{month}.xlsx", f"summary_{month}.xlsx"]
    assert "signed back" in run("statements", "signed-back", month, "SP-A", "--as", "finance")
    assert "was signed back" in run("statements", "signed-back", month, "SP-A", code=1)
    assert f"first open day {this_month.isoformat()}" in run("months", "show")
    refused = " ".join(run("deposits", "receive", "SP-A", "1", "--on", f"{last:%Y-%m}-15",
                           code=1).split())  # fmt: skip
    assert "the month is closed" in refused
    refused = " ".join(run("points", "terminate", "SP-A", "--reason", "ended", code=1).split())
    assert "cannot be terminated yet" in refused and "owes ¥123.00" in refused
    done = run("points", "terminate", "SP-B", "--reason", "ended", "--as", "finance")
    assert "SP-B terminated" in done and "1,000,000.00" in done
    # SP-A pays what it owes; then nothing more can be paid to it, and it may go.
    collected = run("payments", "collect", "SP-A", "123.00", "--as", "finance")
    assert "collection of" in collected and "123.00" in collected
    assert "may not exceed" in " ".join(run("payments", "pay", "SP-A", "1.00", code=1).split())
    assert "SP-A terminated" in run("points", "terminate", "SP-A", "--reason", "ended")
    assert "may not reopen" in run("months", "reopen", month, "--reason", "x", "--as",
                                   "finance", code=1)  # fmt: skip
    assert f"first open day {last.isoformat()}" in run("months", "reopen", month, "--reason", "fix")
