"""The clerk's and approver's common steps on the command line (SQLite file)."""

from __future__ import annotations

import pytest

from ledger.parts import requisitions
from ledger.parts.requisitions import LineIn
from tests import parts_network as pn
from tests.cli import cli_database, run


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    yield from cli_database(tmp_path, monkeypatch, lambda s: pn.build(s, s.info["window"].today()))


def test_approve_issue_receive_and_resolve_from_the_command_line(cli_db):
    pn.stock(cli_db, "RW-S", "P-LCD", 10)
    point = pn.actor(cli_db, "sp-a")
    number = cli_db.transact(
        lambda s: requisitions.create(
            s, point, lines=[LineIn(sku="P-LCD", quantity=6)], submit=True
        )
    ).number

    queue = run("requisitions", "list", "--awaiting", "within", "--as", "approver1")
    assert number in queue and "600.00" in queue
    assert "no active user" in run("requisitions", "approve", number, "--as", "nobody", code=1)
    refused = run("requisitions", "approve", number, "--as", "clerk", code=1)
    assert "may not approve" in refused
    out = run("requisitions", "approve", number, "--as", "approver1", "--line", "1=5")
    assert f"{number} approved" in out and "approver1 approve" in out
    assert "LINE=UNITS" in run("requisitions", "issue", number, "--line", "x", code=1)
    assert "digits 0-9" in run("requisitions", "issue", number, "--line", "\u00b2=5", code=1)
    assert "LINE=UNITS" in run("requisitions", "issue", number, "--line", "1=" + "9" * 30, code=1)
    run("shipments", "list", "--older-than", "99999999", code=2)  # out of range: usage error
    shipped = run("requisitions", "issue", number, "--courier", "SF", "--tracking", "SF9")
    assert "RW-S -> SP-A by SF SF9" in shipped
    shipment = shipped.split()[0]
    assert shipment in run("shipments", "list", "--in-transit")
    received = run("shipments", "receive", shipment, "--line", "1=4", "--as", "sp-a")
    assert "shortage DS-" in received
    discrepancy = received.split("shortage ")[1].split(":")[0]
    out = run(
        "shipments", "resolve", discrepancy, "lost", "--reason", "never arrived", "--as", "clerk"
    )
    assert "lost: 1 x P-LCD at SP-A" in out
    again = run("shipments", "resolve", discrepancy, "found", "--reason", "x", code=1)
    assert "is lost" in again
    shown = run("requisitions", "show", number)
    assert f"{number} closed" in shown
    assert pn.balance(cli_db, "SP-A:STOCK:P-LCD") == 4
    assert pn.balance(cli_db, "LOST-IN-TRANSIT:STOCK:P-LCD") == 1
    pn.sound(cli_db)
