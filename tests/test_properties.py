"""Property: whatever clerks throw at the ledger — valid moves, overdrafts,
retries, key reuse, batches, reversals — every invariant holds after every step:

- each entry balances per commodity, and the trial balance is zero;
- no stock account is ever negative;
- every balance equals the sum of its history (and equals a simple model);
- a refused operation changes nothing.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import queries, services
from ledger.db import Database
from ledger.errors import LedgerError
from ledger.policy import SYSTEM
from tests.factories import build_network, move

ACCOUNTS = ["OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", "SP-0002:STOCK:X1-LCD"]
GUARDED = set(ACCOUNTS[1:])

moves = st.tuples(
    st.sampled_from(ACCOUNTS),
    st.sampled_from(ACCOUNTS),
    st.integers(1, 6),
    st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3"])),
).filter(lambda m: m[0] != m[1])
operations = st.one_of(
    st.tuples(st.just("post"), st.lists(moves, min_size=1, max_size=4)),
    st.tuples(st.just("reverse"), st.integers(0, 20)),
)


class Model:
    """What the ledger should hold, computed the obvious way."""

    def __init__(self) -> None:
        self.balances: Counter[str] = Counter()
        self.keys: dict[str, tuple] = {}
        self.entries: list[tuple[str, str, int]] = []
        self.reversed: set[int] = set()

    def post(self, batch: list[tuple]) -> bool:
        trial = self.balances.copy()
        keys = [m[3] for m in batch if m[3]]
        if len(keys) != len(set(keys)):
            return False
        fresh = []
        for src, dst, qty, key in batch:
            if key in self.keys:
                if self.keys[key] != (src, dst, qty):
                    return False
                continue
            trial[src] -= qty
            trial[dst] += qty
            if any(trial[a] < 0 for a in GUARDED):
                return False
            fresh.append((src, dst, qty, key))
        self.balances = trial
        for src, dst, qty, key in fresh:
            if key:
                self.keys[key] = (src, dst, qty)
            self.entries.append((src, dst, qty))
        return True

    def reverse(self, index: int) -> bool:
        if index >= len(self.entries) or index in self.reversed:
            return False
        src, dst, qty = self.entries[index]
        if dst in GUARDED and self.balances[dst] < qty:
            return False
        self.balances[dst] -= qty
        self.balances[src] += qty
        self.reversed.add(index)
        self.entries.append((dst, src, qty))
        return True


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=12))
def test_random_operations_keep_every_invariant(engine, ops):
    with engine.connect() as conn, conn.begin() as outer:
        db = Database(conn)  # fresh account cache for every example
        db.transact(build_network)
        model, posted_ids = Model(), []
        for op, arg in ops:
            try:
                if op == "post":
                    entries = [move(s, d, q, idempotency_key=k) for s, d, q, k in arg]
                    results = db.transact(lambda s, e=entries: services.post(s, SYSTEM, e))
                    posted_ids += [r.entry_id for r in results if r.created]
                else:
                    target = posted_ids[arg] if arg < len(posted_ids) else None
                    if target is None:
                        raise LookupError
                    result = db.transact(lambda s, t=target: services.reverse(s, SYSTEM, t))
                    posted_ids.append(result.entry_id)
                ok = True
            except (LedgerError, LookupError):
                ok = False
            expected = model.post(arg) if op == "post" else model.reverse(arg)
            assert ok == expected, (op, arg)
            with db.reading() as s:
                held = {a: queries.balance(s, SYSTEM, a)["balance"] for a in ACCOUNTS}
                assert held == {a: model.balances[a] for a in ACCOUNTS}
        with db.reading() as s:
            assert queries.verify(s) == []
            assert all(row["net"] == 0 for row in queries.trial_balance(s))
        outer.rollback()
