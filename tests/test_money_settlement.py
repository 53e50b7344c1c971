"""Monthly settlement and closing, on both databases: November's repairs
earn and charge, settling it nets them per point, closes the month (a
back-dated entry is refused), writes the statements; settling again posts
nothing new; reopening lets a correction in and the next settlement posts
only the difference; a settlement killed after one chunk, run again, posts
every entry exactly once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from ledger import services
from ledger.calendar import OpenWindow
from ledger.catalog.locations import Location
from ledger.errors import Forbidden, InvalidEntry, InvalidState
from ledger.journal import EntryIn, PostingIn
from ledger.models import JournalEntry
from ledger.money import accruals, deposits, settlement, statements
from ledger.money.tables import Statement
from ledger.parts import repairs
from ledger.parts.requisitions import LineIn
from ledger.parts.warranty import Case
from ledger.policy import SYSTEM
from tests import parts_network as pn

NOVEMBER_DAY = date(2026, 11, 20)
DECEMBER_DAY = date(2026, 12, 2)
LIST_LCD = 2 * pn.COSTS["P-LCD"]
WH_A, F_A, MONTHLY_A = 3_000, 1_000, 50_000


def _on(db, day: date) -> None:
    """From now on the business day is `day`."""
    db.window = OpenWindow(date(2020, 1, 1), ZoneInfo("Asia/Shanghai"), fixed_today=day)


def _case(today: date, purchased_days_ago: int) -> Case:
    return Case(
        part_class="handset",
        reported_on=today,
        manufactured_on=today - timedelta(days=900),
        purchased_on=today - timedelta(days=purchased_days_ago),
        proof_of_purchase=True,
        sold=True,
    )


def _write_off(db, number: str, purchased_days_ago: int, quantity: int = 1):
    who = pn.actor(db, "sp-a")
    return db.transact(
        lambda s: repairs.write_off(
            s, who, repair_number=number, customer_serial="860000000000001",
            handset_model="X1", fault="no display",
            case=_case(s.info["window"].today(), purchased_days_ago),
            parts=[LineIn(sku="P-LCD", quantity=quantity)],
        )
    )  # fmt: skip


def _network_opened_on(db, day: date) -> None:
    """The test network, its points open since `day` (the clock says today)."""
    pn.network(db)
    opened = datetime.combine(day, time(9), tzinfo=UTC)
    db.transact(lambda s: s.execute(update(Location).values(created_at=opened)))


@pytest.fixture
def november(db):
    """SP-A's November: two repairs in warranty, one out of it."""
    _on(db, NOVEMBER_DAY)
    _network_opened_on(db, date(2026, 11, 1))
    pn.stock(db, "SP-A", "P-LCD", 10)
    finance = pn.actor(db, "finance")

    def rules(s):
        accruals.set_subsidy(s, finance, grade="A", category="WH", amount=WH_A)
        accruals.set_subsidy(s, finance, grade="A", category="F", amount=F_A)
        accruals.set_subsidy(s, finance, grade="A", amount=MONTHLY_A)

    db.transact(rules)
    _write_off(db, "R-1", 100)
    _write_off(db, "R-2", 100)
    _write_off(db, "R-3", 800, quantity=2)  # F: charged 2 × the list price
    _on(db, DECEMBER_DAY)
    return db


def _entries(db) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(JournalEntry))


def _settle(db, chunk: int = 200, **kwargs):
    return settlement.run(db, pn.actor(db, "finance"), "2026-11", chunk=chunk, **kwargs)


def test_settling_november_nets_each_point_closes_the_month_and_writes_statements(november):
    db = november
    earned_a = 2 * WH_A + F_A + MONTHLY_A
    charged_a = 2 * LIST_LCD
    before = _entries(db)
    done = _settle(db)
    assert done.state == "settled" and done.run == 1
    assert done.first_open_day == date(2026, 12, 1)
    # SP-A and SP-B (grade A) earn the monthly subsidy; SP-OFF (grade B) has no rule.
    assert done.payable == (earned_a - charged_a) + MONTHLY_A and done.receivable == 0
    # SP-A: monthly + net; SP-B: monthly + net.
    assert done.entries == 4 == _entries(db) - before
    assert pn.balance(db, "SP-A:SETTLED:CNY") == -(earned_a - charged_a)
    assert pn.balance(db, "SP-A:RECEIVABLE:CNY") == 0 == pn.balance(db, "SP-A:PAYABLE:CNY")
    assert pn.balance(db, "SP-B:SETTLED:CNY") == -MONTHLY_A
    pn.sound(db)

    with db.reading() as s:
        statement = statements.get(s, pn.actor(db, "sp-a"), "2026-11", "SP-A")
    assert (statement.opening, statement.charges, statement.subsidies, statement.closing) == (
        0, charged_a, earned_a, earned_a - charged_a,
    )  # fmt: skip
    assert statement.settled == earned_a - charged_a
    assert sum(line.charge for line in statement.lines) == charged_a
    assert sum(line.subsidy for line in statement.lines) == earned_a
    assert [line.kind for line in statement.lines].count("repair_write_off") == 3

    # The month is closed: nothing may be dated into it any more.
    with pytest.raises(InvalidEntry, match="month is closed"):
        db.transact(
            lambda s: deposits.receive(s, SYSTEM, "SP-A", 100, method="cash",
                                       on=date(2026, 11, 30))
        )  # fmt: skip
    db.transact(lambda s: deposits.receive(s, SYSTEM, "SP-A", 100, method="cash"))

    # Settling again posts nothing new, and says so.
    entries = _entries(db)
    again = _settle(db)
    assert (again.run, again.entries, again.payable, again.receivable) == (2, 0, 0, 0)
    assert _entries(db) == entries
    pn.sound(db)


def test_reopened_a_correction_goes_in_and_the_next_settlement_posts_the_difference(november):
    db = november
    _settle(db)
    finance, admin = pn.actor(db, "finance"), pn.actor(db, "admin")
    with pytest.raises(Forbidden):
        db.transact(lambda s: settlement.reopen(s, finance, "2026-11", "late charge"))
    reopened = db.transact(lambda s: settlement.reopen(s, admin, "2026-11", "a late charge"))
    assert reopened.state == "reopened" and reopened.first_open_day == date(2026, 11, 1)
    # A charge found late, dated into November.
    late = EntryIn(
        kind="charge",
        effective_date=date(2026, 11, 28),
        memo="lost screen",
        postings=[
            PostingIn(account="SP-A:RECEIVABLE:CNY", amount=7_700),
            PostingIn(account="CHARGES:STOCK:CNY", amount=-7_700),
        ],
    )
    db.transact(lambda s: services.post(s, SYSTEM, [late]))
    settled_before = pn.balance(db, "SP-A:SETTLED:CNY")
    again = _settle(db)
    assert (again.run, again.entries, again.receivable, again.payable) == (2, 1, 7_700, 0)
    assert pn.balance(db, "SP-A:SETTLED:CNY") == settled_before + 7_700
    assert again.first_open_day == date(2026, 12, 1)
    with db.reading() as s:
        statement = statements.get(s, finance, "2026-11", "SP-A")
    assert statement.charges == 2 * LIST_LCD + 7_700
    pn.sound(db)
    # An admin may not reopen what is not settled.
    with pytest.raises(InvalidState):
        db.transact(lambda s: settlement.reopen(s, admin, "2026-10", "nothing"))


class _Killed(Exception):
    pass


def test_a_settlement_killed_after_one_chunk_posts_every_entry_exactly_once(november):
    db = november
    before = _entries(db)

    def die_after_first_chunk(done, total):
        if done == 1:
            raise _Killed

    with pytest.raises(_Killed):
        _settle(db, chunk=1, progress=die_after_first_chunk)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Statement)) == 1
    halfway = _entries(db)
    assert halfway - before == 2  # SP-A's monthly subsidy and net
    resumed = _settle(db, chunk=1)
    assert resumed.run == 1 and resumed.state == "settled"
    assert _entries(db) - before == 4
    assert resumed.entries == 4
    # Run again from the start, a third time: still nothing twice.
    _settle(db, chunk=1)
    assert _entries(db) - before == 4
    pn.sound(db)


def test_the_month_must_have_ended_and_months_close_in_order(db):
    _on(db, NOVEMBER_DAY)
    pn.network(db)
    finance = pn.actor(db, "finance")
    with pytest.raises(InvalidState, match="has not ended"):
        settlement.run(db, finance, "2026-11")
    with pytest.raises(Forbidden):
        settlement.run(db, pn.actor(db, "clerk"), "2026-10")
    settlement.run(db, finance, "2026-09")
    _on(db, DECEMBER_DAY)
    with pytest.raises(InvalidState, match="settle 2026-10 before 2026-11"):
        settlement.run(db, finance, "2026-11")
    # September's close closed August with it, unsettled: it stays so.
    with pytest.raises(InvalidState, match="closed without a settlement"):
        settlement.run(db, finance, "2026-08")


def test_a_month_before_the_journal_starts_is_not_settled(db):
    _on(db, NOVEMBER_DAY)
    pn.network(db)
    with pytest.raises(InvalidState, match="the journal starts on 2020-01-01"):
        settlement.run(db, pn.actor(db, "finance"), "2019-12")
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Statement)) == 0
