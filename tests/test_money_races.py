"""Clerks issuing to one point at once, on committed databases (both
backends): the point's credit lock, not luck, decides which shipments fit."""

from __future__ import annotations

from ledger.errors import CreditLimitExceeded
from ledger.models import Holder
from ledger.money import credit, deposits
from ledger.parts import requisitions
from ledger.parts.requisitions import LineIn
from ledger.parts.shipments import ShipmentView
from ledger.policy import SYSTEM
from tests import parts_network as pn
from tests.test_parts_races import _at_once


def test_16_clerks_issuing_to_a_point_whose_headroom_fits_10_ship_exactly_10(fresh_db):
    db = fresh_db
    pn.network(db)
    pn.stock(db, "RW-S", "P-LCD", 16)
    # SP-A: a ¥500 deposit at 2×, a limit of ¥1,000: ten screens of ¥100.
    db.transact(
        lambda s: deposits.refund(s, SYSTEM, "SP-A", pn.DEPOSIT - 50_000, method="bank_transfer")
    )
    point, approver = pn.actor(db, "sp-a"), pn.actor(db, "approver1")
    numbers = []
    for _ in range(16):
        number = db.transact(
            lambda s: requisitions.create(
                s, point, lines=[LineIn(sku="P-LCD", quantity=1)], submit=True
            )
        ).number
        db.transact(lambda s, n=number: requisitions.approve(s, approver, n))
        numbers.append(number)
    clerk = pn.actor(db, "clerk")

    results = _at_once(
        lambda i: db.transact(lambda s: requisitions.issue(s, clerk, numbers[i])), 16
    )
    shipped = [r for r in results if isinstance(r, ShipmentView)]
    refused = [r for r in results if isinstance(r, CreditLimitExceeded)]
    assert len(shipped) == 10 and len(refused) == 6, results
    assert all(r.where["headroom"] == 0 for r in refused)
    with db.reading() as s:
        position = credit.positions(s, s.info["window"].today(), s.get(Holder, point.holder_id))[0]
    assert position.exposure == 10 * pn.COSTS["P-LCD"] == position.limit
    assert pn.balance(db, "SP-A:TRANSIT:P-LCD") == 10
    assert pn.balance(db, "RW-S:RESERVED:P-LCD") == 6
    pn.sound(db)
