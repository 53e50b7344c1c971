"""Many clerks, one last part: real connections, real commits, both databases."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from ledger import queries, services
from ledger.errors import InsufficientBalance, SerialNotAtSource
from ledger.policy import SYSTEM
from tests.factories import move, network, stock

CLERKS = 32


def _race(db, entries):
    """Every clerk posts at the same moment; returns what each one got."""
    start = Barrier(len(entries))

    def clerk(entry):
        start.wait()
        try:
            return db.transact(lambda s: services.post(s, SYSTEM, [entry]))[0]
        except (InsufficientBalance, SerialNotAtSource) as exc:
            return exc

    with ThreadPoolExecutor(len(entries)) as pool:
        return list(pool.map(clerk, entries, timeout=120))


def test_32_clerks_10_units_exactly_10_succeed(fresh_db):
    network(fresh_db)
    stock(fresh_db, "HQ:STOCK:X1-LCD", 10)
    points = ["SP-0001", "SP-0002"]
    outcomes = _race(
        fresh_db,
        [move("HQ:STOCK:X1-LCD", f"{points[i % 2]}:STOCK:X1-LCD", 1) for i in range(CLERKS)],
    )
    posted = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, InsufficientBalance)]
    assert (len(posted), len(refused)) == (10, CLERKS - 10)
    with fresh_db.reading() as s:
        assert queries.balance(s, SYSTEM, "HQ:STOCK:X1-LCD")["balance"] == 0
        received = sum(queries.balance(s, SYSTEM, f"{p}:STOCK:X1-LCD")["balance"] for p in points)
        assert received == 10
        assert queries.verify(s) == []


def test_one_key_retried_by_many_at_once_posts_once(fresh_db):
    network(fresh_db)
    stock(fresh_db, "HQ:STOCK:X1-LCD", 100)
    outcomes = _race(
        fresh_db, [move("HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", 1, idempotency_key="dup")] * 8
    )
    assert len({o.entry_id for o in outcomes}) == 1
    assert sum(o.created for o in outcomes) == 1
    with fresh_db.reading() as s:
        assert queries.balance(s, SYSTEM, "SP-0001:STOCK:X1-LCD")["balance"] == 1


def test_one_handset_claimed_by_many_goes_once(fresh_db):
    network(fresh_db)
    stock(fresh_db, "HQ:STOCK:H-X1", 8, serials=[f"86000000000000{i}" for i in range(8)])
    # Everyone wants the same serial; the balance alone would allow all eight.
    outcomes = _race(
        fresh_db,
        [
            move("HQ:STOCK:H-X1", f"SP-000{1 + i % 2}:STOCK:H-X1", 1, serials=["860000000000000"])
            for i in range(8)
        ],
    )
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1
    with fresh_db.reading() as s:
        assert queries.balance(s, SYSTEM, "HQ:STOCK:H-X1")["balance"] == 7
        assert queries.verify(s) == []


def test_crossing_transfers_do_not_deadlock(fresh_db):
    """A→B and B→A at once lock the same two balances in opposite order."""
    network(fresh_db)
    stock(fresh_db, "SP-0001:STOCK:X1-LCD", 50)
    stock(fresh_db, "SP-0002:STOCK:X1-LCD", 50)
    a, b = "SP-0001:STOCK:X1-LCD", "SP-0002:STOCK:X1-LCD"
    outcomes = _race(fresh_db, [move(a, b, 1) if i % 2 else move(b, a, 1) for i in range(CLERKS)])
    assert not any(isinstance(o, Exception) for o in outcomes)
    with fresh_db.reading() as s:
        assert queries.balance(s, SYSTEM, a)["balance"] == 50
        assert queries.verify(s) == []
