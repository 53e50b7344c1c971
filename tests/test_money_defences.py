"""What the hostile review of deposits, credit and settlement found, kept
found: money that a raw reversal would create, a receipt or a second
termination racing a termination, a termination before last month is
settled, reopening a month that later months depend on, a replayed
withdrawal with another reason, impossible months."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from ledger import services
from ledger.errors import Forbidden, IdempotencyConflict, InvalidState, LedgerError
from ledger.money import credit, deposits, settlement
from ledger.parts import requisitions
from ledger.parts.requisitions import LineIn
from tests import parts_network as pn
from tests.test_money_settlement import MONTHLY_A, _on, november  # noqa: F401
from tests.test_parts_races import _at_once


def _settle_last_month(db) -> None:
    with db.reading() as s:
        today = s.info["window"].today()
    month = f"{(today.replace(day=1) - date.resolution):%Y-%m}"
    settlement.run(db, pn.actor(db, "finance"), month)


def _catch(work):
    try:
        return work()
    except LedgerError as exc:
        return exc


def test_the_raw_reverse_refuses_entries_their_documents_own(november):  # noqa: F811
    db = november
    _settle_last_month(db)
    finance, admin = pn.actor(db, "finance"), pn.actor(db, "admin")
    done = db.transact(lambda s: requisitions.terminate_point(s, finance, "SP-OFF", reason="x"))
    receipt = db.transact(lambda s: deposits.receive(s, finance, "SP-B", 100, method="cash"))
    for entry_id in (done.entry_id, receipt.entry_id):
        with pytest.raises(InvalidState, match="its document corrects it"):
            db.transact(lambda s, e=entry_id: services.reverse(s, admin, e))
    pn.sound(db)


def test_no_point_is_terminated_before_last_month_is_settled(november):  # noqa: F811
    db = november
    finance = pn.actor(db, "finance")
    with pytest.raises(InvalidState, match="2026-11 has ended but is not settled"):
        db.transact(lambda s: requisitions.terminate_point(s, finance, "SP-B", reason="x"))
    _settle_last_month(db)
    done = db.transact(lambda s: requisitions.terminate_point(s, finance, "SP-B", reason="x"))
    # November's monthly subsidy was settled first, and is paid out with the deposit.
    assert done.paid_out == pn.DEPOSIT + MONTHLY_A
    for purpose in ("DEPOSIT", "PAYABLE", "RECEIVABLE", "SETTLED"):
        assert pn.balance(db, f"SP-B:{purpose}:CNY") == 0
    pn.sound(db)


def test_reopening_a_month_reopens_the_settlements_after_it(db):
    _on(db, date(2026, 12, 2))
    pn.network(db)
    finance, admin = pn.actor(db, "finance"), pn.actor(db, "admin")
    settlement.run(db, finance, "2026-10")
    settlement.run(db, finance, "2026-11")
    db.transact(lambda s: settlement.reopen(s, admin, "2026-10", "a late charge"))
    with db.reading() as s:
        assert (
            settlement.get(
                s,
                finance,
                "2026-11",
            ).state
            == "reopened"
        )
    # November takes entries again, and settles again only after October.
    db.transact(lambda s: deposits.receive(s, finance, "SP-A", 100, method="cash",
                                           on=date(2026, 11, 15)))  # fmt: skip
    with pytest.raises(InvalidState, match="settle 2026-10 before 2026-11"):
        settlement.run(db, finance, "2026-11")
    settlement.run(db, finance, "2026-10")
    assert settlement.run(db, finance, "2026-11").state == "settled"
    # The role is checked first: a clerk learns nothing of the month's state.
    with pytest.raises(Forbidden):
        db.transact(lambda s: settlement.reopen(s, pn.actor(db, "clerk"), "2026-12", "x"))


def test_a_replayed_withdrawal_with_another_reason_is_a_conflict(db):
    pn.network(db)
    pn.stock(db, "RW-S", "P-LCD", 5)
    point, approver = pn.actor(db, "sp-a"), pn.actor(db, "approver1")
    finance = pn.actor(db, "finance")
    number = db.transact(
        lambda s: requisitions.create(s, point, lines=[LineIn(sku="P-LCD", quantity=1)],
                                      submit=True)
    ).number  # fmt: skip
    db.transact(lambda s: requisitions.approve(s, approver, number))
    granted = db.transact(lambda s: requisitions.grant_credit_override(s, finance, number, "why"))
    db.transact(lambda s: credit.withdraw_override(s, finance, granted.number, "first", "w-1"))
    with pytest.raises(IdempotencyConflict):
        db.transact(lambda s: credit.withdraw_override(s, finance, granted.number, "other", "w-1"))


def test_a_receipt_racing_a_termination_is_refused(fresh_db):
    db = fresh_db
    pn.network(db)
    _settle_last_month(db)
    finance = pn.actor(db, "finance")

    def terminate():
        def work(s):
            view = requisitions.terminate_point(s, finance, "SP-OFF", reason="leaves")
            time.sleep(1.0)  # the receipt reads the point as active meanwhile
            return view

        return db.transact(work)

    def receive():
        time.sleep(0.3)
        return db.transact(lambda s: deposits.receive(s, finance, "SP-OFF", 12_345, method="cash"))

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.submit(_catch, terminate), pool.submit(_catch, receive)
        terminated, received = first.result(), second.result()
    assert not isinstance(terminated, LedgerError), terminated
    assert isinstance(received, InvalidState) and "terminated" in received.detail
    assert pn.balance(db, "SP-OFF:DEPOSIT:CNY") == 0
    pn.sound(db)


def test_four_terminations_at_once_terminate_once(fresh_db):
    db = fresh_db
    pn.network(db)
    _settle_last_month(db)
    finance = pn.actor(db, "finance")
    bank = pn.balance(db, "BANK:STOCK:CNY")
    results = _at_once(
        lambda i: db.transact(
            lambda s: requisitions.terminate_point(s, finance, "SP-OFF", reason="leaves")
        ),
        4,
    )
    done = [r for r in results if not isinstance(r, LedgerError)]
    assert len(done) == 1 and all(isinstance(r, InvalidState) for r in results if r not in done)
    assert bank - pn.balance(db, "BANK:STOCK:CNY") == pn.DEPOSIT
    pn.sound(db)


def test_a_month_outside_the_ledger_is_refused_everywhere(db):
    pn.network(db)
    finance = pn.actor(db, "finance")
    for month in ("0000-01", "1999-12", "3000-01", "2026-13"):
        with pytest.raises(LedgerError):
            settlement.run(db, finance, month)
