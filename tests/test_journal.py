"""The one write path: what a clerk or an import sees when posting."""

from __future__ import annotations

from datetime import date

import pytest

from ledger import queries, services
from ledger.errors import (
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidEntry,
    SerialNotAtSource,
    Unbalanced,
    UnknownAccount,
)
from ledger.journal import EntryIn, PostingIn
from ledger.policy import SYSTEM
from tests.factories import move, network, stock

HQ_LCD = "HQ:STOCK:X1-LCD"
SP1_LCD = "SP-0001:STOCK:X1-LCD"
SP2_LCD = "SP-0002:STOCK:X1-LCD"
HQ_PHONE = "HQ:STOCK:H-X1"
SP1_PHONE = "SP-0001:STOCK:H-X1"
SP2_PHONE = "SP-0002:STOCK:H-X1"


def post(db, *entries):
    return db.transact(lambda s: services.post(s, SYSTEM, list(entries)))


def bal(db, code, as_of=None):
    with db.reading() as s:
        return queries.balance(s, SYSTEM, code, as_of)["balance"]


def test_issue_moves_stock_and_balances_every_commodity(db):
    network(db)
    stock(db, HQ_LCD, 10)
    post(db, move(HQ_LCD, SP1_LCD, 3, memo="issue", refs={"requisition": "RQ-1"}))
    assert (bal(db, HQ_LCD), bal(db, SP1_LCD)) == (7, 3)
    with db.reading() as s:
        assert all(row["net"] == 0 for row in queries.trial_balance(s))
        assert queries.verify(s) == []


def test_unbalanced_entry_is_refused_naming_the_commodity(db):
    network(db)
    entry = EntryIn(
        postings=[PostingIn(account=HQ_LCD, amount=-2), PostingIn(account=SP1_LCD, amount=3)]
    )
    with pytest.raises(Unbalanced) as err:
        post(db, entry)
    assert err.value.where["commodity"] == "X1-LCD"
    assert "debits exceed credits by 1" in err.value.detail


def test_mixing_commodities_must_balance_each_one(db):
    network(db)
    stock(db, HQ_LCD, 5)
    entry = EntryIn(
        postings=[
            PostingIn(account=HQ_LCD, amount=-1),
            PostingIn(account="SP-0001:STOCK:X1-BATT", amount=1),
        ]
    )
    with pytest.raises(Unbalanced):
        post(db, entry)
    assert bal(db, HQ_LCD) == 5


def test_unknown_account_names_account_and_posting(db):
    network(db)
    with pytest.raises(UnknownAccount) as err:
        post(db, move(HQ_LCD, "SP-9999:STOCK:X1-LCD", 1))
    assert err.value.where == {"posting": 1, "account": "SP-9999:STOCK:X1-LCD"}


def test_stock_never_goes_negative_and_nothing_is_half_written(db):
    network(db)
    stock(db, HQ_LCD, 2)
    with pytest.raises(InsufficientBalance) as err:
        post(db, move(HQ_LCD, SP1_LCD, 3))
    assert err.value.where["account"] == HQ_LCD
    assert (err.value.where["available"], err.value.where["requested"]) == (2, 3)
    assert (bal(db, HQ_LCD), bal(db, SP1_LCD)) == (2, 0)


def test_batch_is_all_or_nothing(db):
    network(db)
    stock(db, HQ_LCD, 5)
    good = move(HQ_LCD, SP1_LCD, 2)
    bad = move(HQ_LCD, SP2_LCD, 9)
    with pytest.raises(InsufficientBalance) as err:
        post(db, good, bad)
    assert err.value.where["entry"] == 1
    assert (bal(db, HQ_LCD), bal(db, SP1_LCD), bal(db, SP2_LCD)) == (5, 0, 0)


def test_batch_checks_every_entry_in_order_not_just_the_end(db):
    """Taking a part out before it arrives is refused even if the batch nets out."""
    network(db)
    out_first = move(SP1_LCD, SP2_LCD, 1)
    then_in = move(HQ_LCD, SP1_LCD, 1)
    stock(db, HQ_LCD, 1)
    with pytest.raises(InsufficientBalance):
        post(db, out_first, then_in)
    post(db, then_in, out_first)
    assert (bal(db, HQ_LCD), bal(db, SP1_LCD), bal(db, SP2_LCD)) == (0, 0, 1)


def test_idempotent_retry_posts_nothing_new(db):
    network(db)
    stock(db, HQ_LCD, 10)
    first = post(db, move(HQ_LCD, SP1_LCD, 4, idempotency_key="req-42"))[0]
    again = post(db, move(HQ_LCD, SP1_LCD, 4, idempotency_key="req-42"))[0]
    assert first.created and not again.created
    assert again.entry_id == first.entry_id
    assert (bal(db, HQ_LCD), bal(db, SP1_LCD)) == (6, 4)


def test_same_key_with_another_body_is_a_conflict(db):
    network(db)
    stock(db, HQ_LCD, 10)
    post(db, move(HQ_LCD, SP1_LCD, 4, idempotency_key="req-42"))
    with pytest.raises(IdempotencyConflict) as err:
        post(db, move(HQ_LCD, SP1_LCD, 5, idempotency_key="req-42"))
    assert err.value.where["idempotency_key"] == "req-42"
    assert bal(db, SP1_LCD) == 4


def test_retried_batch_finds_what_it_already_posted(db):
    network(db)
    stock(db, HQ_LCD, 10)
    batch = [move(HQ_LCD, SP1_LCD, 1, idempotency_key=f"b/{i}") for i in range(3)]
    first = post(db, *batch)
    again = post(db, *batch)
    assert [r.entry_id for r in first] == [r.entry_id for r in again]
    assert not any(r.created for r in again)
    assert bal(db, SP1_LCD) == 3


def test_reversal_restores_balances_and_is_allowed_once(db):
    network(db)
    stock(db, HQ_LCD, 10)
    wrong = post(db, move(HQ_LCD, SP1_LCD, 4))[0]
    fix = db.transact(lambda s: services.reverse(s, SYSTEM, wrong.entry_id, memo="wrong point"))
    assert (bal(db, HQ_LCD), bal(db, SP1_LCD)) == (10, 0)
    with db.reading() as s:
        view = queries.get_entry(s, SYSTEM, fix.entry_id)
        original = queries.get_entry(s, SYSTEM, wrong.entry_id)
    assert view["reverses_entry_id"] == wrong.entry_id
    assert original["reversed_by_entry_id"] == fix.entry_id
    assert [p["amount"] for p in view["postings"]] == [4, -4]
    with pytest.raises(AlreadyReversed):
        db.transact(lambda s: services.reverse(s, SYSTEM, wrong.entry_id))


def test_reversal_is_refused_when_the_stock_has_moved_on(db):
    network(db)
    stock(db, HQ_LCD, 4)
    issue = post(db, move(HQ_LCD, SP1_LCD, 4))[0]
    post(db, move(SP1_LCD, SP2_LCD, 3))
    with pytest.raises(InsufficientBalance) as err:
        db.transact(lambda s: services.reverse(s, SYSTEM, issue.entry_id))
    assert err.value.where["account"] == SP1_LCD


def test_serials_follow_the_units_and_keep_a_history(db):
    network(db)
    stock(db, HQ_PHONE, 2, serials=["860000000000001", "860000000000002"])
    post(db, move(HQ_PHONE, SP1_PHONE, 1, serials=["860000000000001"]))
    with db.reading() as s:
        unit = queries.serial_history(s, SYSTEM, "860000000000001")
    assert unit["account"] == SP1_PHONE
    assert [(m["from_account"], m["to_account"]) for m in unit["history"]] == [
        ("OPEN:STOCK:H-X1", HQ_PHONE),
        (HQ_PHONE, SP1_PHONE),
    ]
    assert (bal(db, HQ_PHONE), bal(db, SP1_PHONE)) == (1, 1)


def test_a_serial_can_only_leave_the_account_that_holds_it(db):
    network(db)
    stock(db, HQ_PHONE, 1, serials=["860000000000001"])
    stock(db, SP2_PHONE, 1, serials=["860000000000009"])
    # SP-0002 holds a unit, so the balance guard passes; the serial guard must not.
    with pytest.raises(SerialNotAtSource) as err:
        post(db, move(SP2_PHONE, SP1_PHONE, 1, serials=["860000000000001"]))
    assert err.value.where == {"serial": "860000000000001", "account": SP2_PHONE}


def test_an_unknown_serial_cannot_appear_out_of_a_stock_account(db):
    network(db)
    stock(db, HQ_PHONE, 1, serials=["860000000000001"])
    with pytest.raises(SerialNotAtSource):
        post(db, move(HQ_PHONE, SP1_PHONE, 1, serials=["869999999999999"]))


@pytest.mark.parametrize(
    "postings",
    [
        [(-2, ["A1", "A2"]), (2, ["A1"])],  # count differs from amount
        [(-1, ["A1"]), (1, ["A2"])],  # different serials on each side
        [(-2, ["A1", "A1"]), (2, ["A1", "A2"])],  # a serial twice
    ],
)
def test_serialized_postings_must_name_one_serial_per_unit(db, postings):
    network(db)
    stock(db, HQ_PHONE, 2, serials=["A1", "A2"])
    accounts = [HQ_PHONE, SP1_PHONE]
    entry = EntryIn(
        postings=[
            PostingIn(account=a, amount=amount, serials=serials)
            for a, (amount, serials) in zip(accounts, postings, strict=True)
        ]
    )
    with pytest.raises(InvalidEntry):
        post(db, entry)
    assert bal(db, HQ_PHONE) == 2


def test_balance_as_of_a_date_and_statement_pages(db):
    network(db)
    for day, qty in [(date(2026, 1, 5), 10), (date(2026, 2, 5), 5), (date(2026, 3, 5), -3)]:
        source, target = ("OPEN:STOCK:X1-LCD", HQ_LCD) if qty > 0 else (HQ_LCD, SP1_LCD)
        post(db, move(source, target, abs(qty), effective_date=day))
    assert bal(db, HQ_LCD) == 12
    assert bal(db, HQ_LCD, date(2026, 1, 31)) == 10
    assert bal(db, HQ_LCD, date(2026, 2, 28)) == 15
    assert bal(db, HQ_LCD, date(2025, 12, 31)) == 0
    with db.reading() as s:
        first = queries.statement(s, SYSTEM, HQ_LCD, limit=2)
        second = queries.statement(s, SYSTEM, HQ_LCD, limit=2, cursor=first.next_cursor)
        february_on = queries.statement(s, SYSTEM, HQ_LCD, date_from=date(2026, 2, 1))
    assert [line["balance"] for line in first.lines] == [10, 15]
    assert first.next_cursor and second.next_cursor is None
    assert second.opening_balance == 15
    assert [line["balance"] for line in second.lines] == [12]
    assert february_on.opening_balance == 10
    assert february_on.closing_balance == 12


def test_a_service_point_sees_only_its_own_point(db):
    from ledger.errors import NotFound
    from ledger.models import Holder, Role
    from ledger.policy import Actor

    network(db)
    stock(db, SP1_LCD, 1)
    stock(db, SP2_LCD, 1)
    with db.reading() as s:
        sp1 = s.query(Holder).filter_by(code="SP-0001").one()
        actor = Actor("sp1", Role.SERVICE_POINT, sp1.id)
        assert queries.balance(s, actor, SP1_LCD)["balance"] == 1
        with pytest.raises(NotFound):
            queries.balance(s, actor, SP2_LCD)
        codes = {a["code"] for a in queries.list_accounts(s, actor, limit=1000)}
    assert codes and all(code.startswith("SP-0001:") for code in codes)


def test_a_retried_reversal_replays_and_another_key_is_refused(db):
    network(db)
    stock(db, HQ_LCD, 10)
    wrong = post(db, move(HQ_LCD, SP1_LCD, 4))[0]

    def undo(key):
        return db.transact(
            lambda s: services.reverse(s, SYSTEM, wrong.entry_id, idempotency_key=key)
        )

    first, retry = undo("undo-1"), undo("undo-1")
    assert first.created and not retry.created
    assert retry.entry_id == first.entry_id
    with pytest.raises(AlreadyReversed):
        undo("undo-2")
    assert (bal(db, HQ_LCD), bal(db, SP1_LCD)) == (10, 0)
