"""Property: history obeys the guards, not only the present.

Random entries with random dates inside the open window (parts between HQ,
points and the opening balance; money between the bank and a point's
deposit), singly and in batches. A simple model decides which the ledger
must accept: a take from a guarded account never dated before the account's
latest posting, and never past zero on the wrong side of its normal side.
Then, for every account and every date, the as-of balance obeys the guard
and equals the sum of the history up to that date.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ledger import masterdata as md
from ledger import queries, services
from ledger.db import Database
from ledger.errors import LedgerError
from ledger.models import Account, Posting
from ledger.policy import SYSTEM
from tests.factories import build_network, move

PARTS = ["OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD"]
MONEY = ["OPEN:STOCK:CNY", "BANK:STOCK:CNY", "SP-0001:DEPOSIT:CNY"]
DEBIT_GUARDED = {"HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", "BANK:STOCK:CNY"}
CREDIT_GUARDED = {"SP-0001:DEPOSIT:CNY"}
DAYS = 8  # today and the seven days before

moves = st.one_of(
    st.tuples(st.sampled_from(PARTS), st.sampled_from(PARTS)),
    st.tuples(st.sampled_from(MONEY), st.sampled_from(MONEY)),
).filter(lambda pair: pair[0] != pair[1])
entries = st.tuples(moves, st.integers(1, 5), st.integers(0, DAYS - 1))
batches = st.lists(entries, min_size=1, max_size=3)


class Model:
    def __init__(self) -> None:
        self.balance: dict[str, int] = defaultdict(int)
        self.latest: dict[str, date] = {}
        self.history: list[tuple[str, date, int]] = []

    def post(self, batch: list[tuple[str, str, int, date]]) -> bool:
        balance, latest = dict(self.balance), dict(self.latest)
        for source, target, qty, day in batch:
            for account, amount in ((source, -qty), (target, qty)):
                takes = (account in DEBIT_GUARDED and amount < 0) or (
                    account in CREDIT_GUARDED and amount > 0
                )
                if takes and account in latest and day < latest[account]:
                    return False
                balance[account] = balance.get(account, 0) + amount
                latest[account] = max(latest.get(account, day), day)
            if any(balance.get(a, 0) < 0 for a in DEBIT_GUARDED):
                return False
            if any(balance.get(a, 0) > 0 for a in CREDIT_GUARDED):
                return False
        self.balance.update(balance)
        self.latest = latest
        for source, target, qty, day in batch:
            self.history += [(source, day, -qty), (target, day, qty)]
        return True


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(batches, min_size=1, max_size=10))
def test_every_as_of_balance_obeys_its_guard_and_equals_its_history(engine, steps):
    with engine.connect() as conn, conn.begin() as outer:
        db = Database(conn)
        db.transact(build_network)
        db.transact(lambda s: md.open_account(s, "SP-0001", "CNY", purpose="DEPOSIT"))
        today = db.window.today()
        days = [today - timedelta(days=n) for n in range(DAYS)]
        model = Model()
        for batch in steps:
            dated = [(src, dst, qty, days[back]) for (src, dst), qty, back in batch]
            try:
                db.transact(
                    lambda s, d=dated: services.post(
                        s,
                        SYSTEM,
                        [move(src, dst, qty, effective_date=day) for src, dst, qty, day in d],
                    )
                )
                ok = True
            except LedgerError:
                ok = False
            assert ok == model.post(dated), dated

        with db.reading() as s:
            for account in PARTS + MONEY:
                for day in [*days, today - timedelta(days=DAYS)]:
                    as_of = queries.balance(s, SYSTEM, account, day)["balance"]
                    summed = s.scalar(
                        select(func.coalesce(func.sum(Posting.amount), 0))
                        .join(Account, Account.id == Posting.account_id)
                        .where(Account.code == account, Posting.effective_date <= day)
                    )
                    assert (
                        as_of
                        == summed
                        == sum(
                            amount for a, d, amount in model.history if a == account and d <= day
                        )
                    ), (account, day)
                    if account in DEBIT_GUARDED:
                        assert as_of >= 0, (account, day, as_of)
                    if account in CREDIT_GUARDED:
                        assert as_of <= 0, (account, day, as_of)
            assert queries.verify(s) == []
        outer.rollback()
