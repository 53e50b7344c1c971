"""Many clerks and approvers at once, on committed databases (both backends):
the database, not luck, decides who got the last part."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from ledger.errors import InsufficientBalance, InvalidState, LedgerError
from ledger.parts import receiving, requisitions
from ledger.parts.requisitions import LineIn
from ledger.parts.shipments import Shipment
from tests import parts_network as pn


def _at_once(work, count: int) -> list:
    """Run work(i) for i in range(count) in threads released together;
    each result is the return value or the LedgerError raised."""
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait()
        try:
            return work(i)
        except LedgerError as exc:
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def _submitted(db, point: str, sku: str, quantity: int) -> str:
    who = pn.actor(db, point.lower())
    return db.transact(
        lambda s: requisitions.create(
            s, who, lines=[LineIn(sku=sku, quantity=quantity)], submit=True
        )
    ).number


def test_32_approvals_for_the_last_10_units_reserve_exactly_10(fresh_db):
    db = fresh_db
    pn.network(db)
    pn.stock(db, "RW-S", "P-LCD", 10)
    numbers = [_submitted(db, "SP-A" if i % 2 else "SP-B", "P-LCD", 1) for i in range(32)]
    approver = pn.actor(db, "approver1")

    results = _at_once(
        lambda i: db.transact(lambda s: requisitions.approve(s, approver, numbers[i])), 32
    )
    approved = [r for r in results if isinstance(r, requisitions.RequisitionView)]
    refused = [r for r in results if isinstance(r, InsufficientBalance)]
    assert len(approved) == 10 and len(refused) == 22, results
    assert pn.balance(db, "RW-S:RESERVED:P-LCD") == 10
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 0
    with db.reading() as s:
        states = s.scalars(select(requisitions.Requisition.state)).all()
    assert sorted(states).count("approved") == 10 and states.count("submitted") == 22
    pn.sound(db)


def test_two_clerks_issuing_one_requisition_make_one_shipment(fresh_db):
    db = fresh_db
    pn.network(db)
    pn.stock(db, "RW-S", "P-LCD", 5)
    number = _submitted(db, "SP-A", "P-LCD", 5)
    db.transact(lambda s: requisitions.approve(s, pn.actor(db, "approver1"), number))
    clerk = pn.actor(db, "clerk")

    results = _at_once(
        lambda i: db.transact(lambda s: requisitions.issue(s, clerk, number, key=f"issue-{i}")), 2
    )
    shipped = [r for r in results if not isinstance(r, LedgerError)]
    assert len(shipped) == 1, results
    [other] = [r for r in results if isinstance(r, LedgerError)]
    assert isinstance(other, InvalidState) and "already shipped" in other.detail
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Shipment)) == 1
    assert pn.balance(db, "SP-A:TRANSIT:P-LCD") == 5
    pn.sound(db)


def test_a_double_click_with_one_key_acts_once_and_answers_twice(fresh_db):
    db = fresh_db
    pn.network(db)
    pn.stock(db, "RW-S", "P-LCD", 5)
    number = _submitted(db, "SP-A", "P-LCD", 2)
    approver = pn.actor(db, "approver1")

    results = _at_once(
        lambda i: db.transact(lambda s: requisitions.approve(s, approver, number, key="click")), 4
    )
    assert all(isinstance(r, requisitions.RequisitionView) for r in results), results
    assert len({r.model_dump_json() for r in results}) == 1
    assert pn.balance(db, "RW-S:RESERVED:P-LCD") == 2

    shipment = db.transact(lambda s: requisitions.issue(s, pn.actor(db, "clerk"), number)).number
    point = pn.actor(db, "sp-a")
    results = _at_once(
        lambda i: db.transact(lambda s: receiving.receive(s, point, shipment, key=f"rcv-{i}")), 3
    )
    assert sum(not isinstance(r, LedgerError) for r in results) == 1, results
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 2
    pn.sound(db)
