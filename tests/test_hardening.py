"""The core, hardened: what a hostile or careless user once broke, on both databases.

Bounds that keep 64-bit sums safe, dates inside the open window, takes never
back-dated before an account's latest posting, accounts that know their side,
accounts opened on their first posting, idempotency keys that belong to their
first user, strict amounts, and service-point side doors that say nothing.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ledger import masterdata as md
from ledger import queries, services
from ledger.amounts import MAX_AMOUNT, MAX_BALANCE
from ledger.calendar import OpenWindow
from ledger.db import Database
from ledger.errors import (
    BackDatedTake,
    IdempotencyKeyTaken,
    InsufficientBalance,
    InvalidEntry,
    InvalidInput,
    OutOfBounds,
    UnknownAccount,
)
from ledger.export import write_beancount
from ledger.journal import EntryIn, PostingIn
from ledger.models import Account, Role, User
from ledger.policy import SYSTEM, Actor
from ledger.settings import Settings
from ledger.users import create_user
from tests.factories import move, network, stock


def post(db: Database, *entries: EntryIn, actor: Actor = SYSTEM):
    return db.transact(lambda s: services.post(s, actor, list(entries)))


def bal(db: Database, code: str, as_of: date | None = None) -> int:
    with db.reading() as s:
        return queries.balance(s, SYSTEM, code, as_of)["balance"]


def today(db: Database) -> date:
    return db.window.today()


def login(client, db, role: Role, point: str | None = None) -> dict[str, str]:
    """A real user of that role, logged in through /auth/token."""
    username = f"{role.value}-{point or 'hq'}".lower()
    with db.reading() as s:
        known = s.scalar(select(User.id).where(User.username == username))
    if known is None:
        db.transact(
            lambda s: create_user(s, username, "a-long-password", role, service_point=point)
        )
    token = client.post(
        "/auth/token", data={"username": username, "password": "a-long-password"}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def entry_json(source: str, target: str, amount: int, **extra) -> dict:
    return {
        "kind": "issue",
        "postings": [{"account": source, "amount": -amount}, {"account": target, "amount": amount}],
        **extra,
    }


# --------------------------------------------------------------------------- bounds


def test_a_posting_beyond_the_bound_is_refused_before_the_database(client, db):
    admin = login(client, db, Role.ADMIN)
    for amount in (MAX_AMOUNT + 1, 2**63, -(2**63) - 1, 10**30):
        response = client.post(
            "/entries",
            json=entry_json("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", amount),
            headers=admin,
        )
        assert response.status_code == 422, amount
    assert bal(db, "HQ:STOCK:X1-LCD") == 0


def test_balances_stay_within_bounds_and_every_report_still_works(db, tmp_path):
    """Today's defect: on SQLite, postings summed past 2**63 turned into REALs
    and corrupted the books for good. Now every account, guarded or not, is
    refused at the bound, naming the account, and nothing else breaks."""
    network(db)
    lines = 2000  # 1,000 postings of the largest amount each way: 10**15, the bound
    big = EntryIn(
        kind="opening",
        postings=[PostingIn(account="OPEN:STOCK:X1-LCD", amount=-MAX_AMOUNT)] * (lines // 2)
        + [PostingIn(account="HQ:STOCK:X1-LCD", amount=MAX_AMOUNT)] * (lines // 2),
    )
    post(db, big)
    assert bal(db, "HQ:STOCK:X1-LCD") == MAX_BALANCE
    # One unit more on the guarded account, or more credit on the unguarded one.
    with pytest.raises(OutOfBounds) as refused:
        post(db, move("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 1))
    assert refused.value.where["account"] in ("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD")
    assert "bound" in refused.value.detail
    # A batch whose sum on one account would pass 2**63 is refused before SQL sees it.
    flood = [big] * 10
    with pytest.raises(OutOfBounds):
        post(db, *flood)
    assert bal(db, "HQ:STOCK:X1-LCD") == MAX_BALANCE
    with db.reading() as s:
        assert queries.verify(s) == []
        assert all(row["net"] == 0 for row in queries.trial_balance(s))
        assert queries.statement(s, SYSTEM, "HQ:STOCK:X1-LCD", limit=1000).lines
        with (tmp_path / "books.beancount").open("w") as out:
            write_beancount(s, out)


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize("day", ["1900-01-01", "2019-12-31", "9999-12-31"])
def test_dates_outside_the_open_window_are_refused_naming_it(client, db, day):
    admin = login(client, db, Role.ADMIN)
    response = client.post(
        "/entries",
        json=entry_json("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 1, effective_date=day),
        headers=admin,
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["field"] == "effective_date"
    assert "2020-01-01" in problem["detail"] and today(db).isoformat() in problem["detail"]
    assert "YYYY-MM-DD" in problem["detail"]


def test_today_is_the_business_day_of_the_configured_time_zone(db):
    network(db)
    shanghai = OpenWindow.from_settings(Settings())
    assert str(shanghai.time_zone) == "Asia/Shanghai"
    with pytest.raises(InvalidEntry, match="after today"):
        day = shanghai.today() + timedelta(days=1)
        post(db, move("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 1, effective_date=day))
    # Kiritimati (UTC+14) is already in its tomorrow for ten hours of every
    # UTC day; whatever its date, a ledger kept there may post on it.
    kiritimati = OpenWindow(date(2020, 1, 1), ZoneInfo("Pacific/Kiritimati"))
    there = Database(db.bind, window=kiritimati)
    day = kiritimati.today()
    post(there, move("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 1, effective_date=day))
    assert day >= datetime.now(UTC).date()
    # The first open day itself is open; the day before is not.
    post(db, move("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 1, effective_date=date(2020, 1, 1)))
    with pytest.raises(InvalidEntry, match="first open day"):
        post(db, move("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 1, effective_date=date(2019, 12, 31)))


def test_a_back_dated_take_is_refused_and_history_never_dips_below_zero(client, db):
    """Today's defect: stock received today, then issued with yesterday's
    date, showed -5 as of yesterday. Now the take is refused; a back-dated
    receipt (an add) is still allowed."""
    day = today(db)
    stock(db, "HQ:STOCK:X1-LCD", 5, effective_date=day)
    clerk = login(client, db, Role.WAREHOUSE_CLERK)
    yesterday = (day - timedelta(days=1)).isoformat()
    response = client.post(
        "/entries",
        json=entry_json("HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", 5, effective_date=yesterday),
        headers=clerk,
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "/problems/back-dated-take"
    assert problem["account"] == "HQ:STOCK:X1-LCD" and problem["last_posted_on"] == day.isoformat()
    assert bal(db, "HQ:STOCK:X1-LCD", day - timedelta(days=1)) == 0
    # An add may be back-dated; a take dated on the latest posting's day may go.
    stock(db, "HQ:STOCK:X1-LCD", 2, effective_date=day - timedelta(days=3))
    post(db, move("HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", 7, effective_date=day))
    for back in range(5):
        assert bal(db, "HQ:STOCK:X1-LCD", day - timedelta(days=back)) >= 0


def test_a_batch_may_not_take_before_its_own_earlier_entry(db):
    network(db)
    day = today(db)
    with pytest.raises(BackDatedTake) as refused:
        post(
            db,
            move("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 5, effective_date=day),
            move("HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", 5, effective_date=day - timedelta(1)),
        )
    assert refused.value.where["entry"] == 1
    assert refused.value.detail.startswith("entry 1 of the batch:")
    assert bal(db, "HQ:STOCK:X1-LCD") == 0


def test_far_date_attempts_leave_an_export_that_bean_check_accepts(db, tmp_path):
    network(db)
    stock(db, "HQ:STOCK:X1-LCD", 3)
    for day in (date(1900, 1, 1), date(9999, 12, 31)):
        with pytest.raises(InvalidEntry):
            post(db, move("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 1, effective_date=day))
    path = tmp_path / "books.beancount"
    with db.reading() as s, path.open("w") as out:
        write_beancount(s, out)
    checked = subprocess.run(
        [str(Path(sys.executable).parent / "bean-check"), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --------------------------------------------------------------------------- sides


def test_a_deposit_opened_over_http_takes_a_deposit_and_refuses_an_over_refund(client, db):
    """Today's defect: a DEPOSIT account opened through the API was guarded
    like stock, so it could not take a deposit (a credit)."""
    admin = login(client, db, Role.ADMIN)
    finance = login(client, db, Role.FINANCE)
    stock(db, "BANK:STOCK:CNY", 10_000_000)  # the bank could pay more back than was paid in
    opened = client.post(
        "/accounts",
        json={"holder": "SP-0002", "commodity": "CNY", "purpose": "DEPOSIT"},
        headers=admin,
    )
    assert opened.status_code == 201
    assert (opened.json()["side"], opened.json()["guarded"]) == ("credit", True)
    receipt = {
        "kind": "deposit",
        "postings": [
            {"account": "BANK:STOCK:CNY", "amount": 3_000_000},
            {"account": "SP-0002:DEPOSIT:CNY", "amount": -3_000_000},
        ],
    }
    # Finance moves deposits by receipts and refunds, not raw entries; an
    # admin's raw entry (a correction) may.
    raw = client.post("/entries", json=receipt, headers=finance)
    assert raw.status_code == 422 and "/deposits/" in raw.json()["detail"], raw.text
    paid = client.post("/entries", json=receipt, headers=admin)
    assert paid.status_code == 201, paid.json()
    refund = {
        "kind": "deposit_refund",
        "postings": [
            {"account": "SP-0002:DEPOSIT:CNY", "amount": 3_000_001},
            {"account": "BANK:STOCK:CNY", "amount": -3_000_001},
        ],
    }
    refused = client.post("/entries", json=refund, headers=admin)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["account"] == "SP-0002:DEPOSIT:CNY"
    # Money speaks of money: 30,000.00 CNY paid in, 30,000.01 CNY asked back.
    assert "30,000.00 CNY" in problem["detail"] and "30,000.01 CNY" in problem["detail"]
    refund["postings"][0]["amount"], refund["postings"][1]["amount"] = 1_000_000, -1_000_000
    assert client.post("/entries", json=refund, headers=admin).status_code == 201
    assert bal(db, "SP-0002:DEPOSIT:CNY") == -2_000_000
    with db.reading() as s:
        out = StringIO()
        write_beancount(s, out)
    assert "open Liabilities:SP-0002:DEPOSIT:CNY CNY" in out.getvalue()
    assert "balance Liabilities:SP-0002:DEPOSIT:CNY -20000.00 ~ 0 CNY" in out.getvalue()


def test_an_unknown_purpose_is_refused_and_a_purpose_must_fit(client, db):
    admin = login(client, db, Role.ADMIN)
    for body, words in [
        ({"holder": "HQ", "commodity": "X1-LCD", "purpose": "SPARE"}, "purpose"),
        ({"holder": "SP-0001", "commodity": "X1-LCD", "purpose": "DEPOSIT"}, "money"),
        ({"holder": "SP-0001", "commodity": "X1-LCD", "purpose": "RESERVED"}, "regional_warehouse"),
        ({"holder": "SUP", "commodity": "CNY", "purpose": "DEPOSIT"}, "outside party"),
    ]:
        response = client.post("/accounts", json=body, headers=admin)
        assert response.status_code == 422, body
        assert words in response.text, (body, response.text)


def test_a_refused_refund_leaves_no_as_of_balance_past_zero(db):
    network(db)
    db.transact(lambda s: md.open_account(s, "SP-0001", "CNY", purpose="DEPOSIT"))
    deposit = "SP-0001:DEPOSIT:CNY"
    post(db, move(deposit, "BANK:STOCK:CNY", 500))
    with pytest.raises(InsufficientBalance):
        post(db, move("BANK:STOCK:CNY", deposit, 501))
    post(db, move("BANK:STOCK:CNY", deposit, 500))
    assert bal(db, deposit) == 0


# --------------------------------------------------------------------------- accounts on demand


def test_a_clerk_ships_to_a_point_that_never_held_the_part(client, db):
    """Today's defect: the point had no account for the part, and only an
    admin may open one, so the clerk could not ship it."""
    stock(db, "HQ:STOCK:X1-LCD", 4)
    with db.reading() as s:
        assert (
            s.scalar(select(Account.id).where(Account.code == "SP-0002:DEFECTIVE:X1-LCD")) is None
        )
    clerk = login(client, db, Role.WAREHOUSE_CLERK)
    shipped = client.post(
        "/entries", json=entry_json("HQ:STOCK:X1-LCD", "SP-0002:DEFECTIVE:X1-LCD", 4), headers=clerk
    )
    assert shipped.status_code == 201, shipped.json()
    account = client.get("/accounts/SP-0002:DEFECTIVE:X1-LCD", headers=clerk).json()
    assert (account["balance"], account["side"], account["guarded"]) == (4, "debit", True)
    # The new account is guarded at once: it cannot give more than it holds.
    back = client.post(
        "/entries", json=entry_json("SP-0002:DEFECTIVE:X1-LCD", "HQ:STOCK:X1-LCD", 5), headers=clerk
    )
    assert back.status_code == 409


@pytest.mark.parametrize(
    "code, why",
    [
        ("NOPE:STOCK:X1-LCD", "holder NOPE does not exist"),
        ("SP-0001:STOCK:NOPE", "commodity NOPE does not exist"),
        ("SP-0001:SPARE:X1-LCD", "not one of the ledger's purposes"),
        ("SP-0001:RESERVED:X1-LCD", "fits"),
    ],
)
def test_an_account_that_cannot_be_opened_is_named_with_the_reason(db, code, why):
    network(db)
    stock(db, "HQ:STOCK:X1-LCD", 1)
    with pytest.raises(UnknownAccount) as refused:
        post(db, move("HQ:STOCK:X1-LCD", code, 1))
    assert refused.value.where["account"] == code and why in refused.value.detail
    with db.reading() as s:
        assert s.scalar(select(Account.id).where(Account.code == code)) is None


def test_two_first_postings_to_one_new_account_at_once(fresh_db):
    network(fresh_db)
    stock(fresh_db, "HQ:STOCK:X1-LCD", 20)
    fresh_db.account_cache.clear()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def ship():
        try:
            barrier.wait()
            post(fresh_db, move("HQ:STOCK:X1-LCD", "SP-0002:TRANSIT:X1-LCD", 2))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ship) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert bal(fresh_db, "SP-0002:TRANSIT:X1-LCD") == 16
    with fresh_db.reading() as s:
        opened = s.scalars(select(Account.id).where(Account.code == "SP-0002:TRANSIT:X1-LCD"))
        assert len(list(opened)) == 1
        assert queries.verify(s) == []


# --------------------------------------------------------------------------- idempotency


def test_an_empty_key_is_refused_everywhere(client, db):
    stock(db, "HQ:STOCK:X1-LCD", 5)
    clerk = login(client, db, Role.WAREHOUSE_CLERK)
    body = entry_json("HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", 1)
    assert (
        client.post("/entries", json=body, headers={**clerk, "Idempotency-Key": ""}).status_code
        == 422
    )
    assert (
        client.post("/entries", json={**body, "idempotency_key": ""}, headers=clerk).status_code
        == 422
    )
    batch = client.post("/entries/batch", json=[body], headers={**clerk, "Idempotency-Key": ""})
    assert batch.status_code == 422
    assert bal(db, "HQ:STOCK:X1-LCD") == 5
    with pytest.raises(InvalidEntry):
        services.keyed_batch([EntryIn.model_validate(body)], "")


def test_the_request_hash_ignores_key_order(client, db):
    stock(db, "HQ:STOCK:X1-LCD", 5)
    clerk = login(client, db, Role.WAREHOUSE_CLERK)
    first = entry_json("HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", 1, refs={"a": "1", "b": "2"})
    posted = client.post("/entries", json=first, headers={**clerk, "Idempotency-Key": "order-1"})
    assert posted.status_code == 201
    reordered = {
        "postings": first["postings"],
        "refs": {"b": "2", "a": "1"},
        "kind": "issue",
    }
    again = client.post("/entries", json=reordered, headers={**clerk, "Idempotency-Key": "order-1"})
    assert again.status_code == 200 and again.json()["id"] == posted.json()["id"]
    assert bal(db, "HQ:STOCK:X1-LCD") == 4


def test_a_key_belongs_to_the_user_who_first_sent_it(client, db):
    stock(db, "HQ:STOCK:X1-LCD", 5)
    clerk = login(client, db, Role.WAREHOUSE_CLERK)
    admin = login(client, db, Role.ADMIN)
    body = entry_json("HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", 1)
    first = client.post("/entries", json=body, headers={**clerk, "Idempotency-Key": "mine-1"})
    assert first.status_code == 201
    other = client.post("/entries", json=body, headers={**admin, "Idempotency-Key": "mine-1"})
    assert other.status_code == 409
    assert other.json()["type"] == "/problems/idempotency-key-taken"
    assert first.json()["id"] not in other.text
    batch = client.post("/entries/batch", json=[body], headers={**admin, "Idempotency-Key": "b-1"})
    assert batch.status_code == 201
    stolen = client.post("/entries/batch", json=[body], headers={**clerk, "Idempotency-Key": "b-1"})
    assert stolen.status_code == 409 and batch.json()[0]["entry_id"] not in stolen.text
    assert bal(db, "HQ:STOCK:X1-LCD") == 3
    with pytest.raises(IdempotencyKeyTaken):
        post(db, move("HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", 1, idempotency_key="mine-1"))


def test_a_batch_key_of_the_longest_length_works(client, db):
    """Today's defect: a 199–200 character batch key gave a 500 on PostgreSQL."""
    stock(db, "HQ:STOCK:X1-LCD", 5)
    clerk = login(client, db, Role.WAREHOUSE_CLERK)
    body = entry_json("HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", 1)
    key = "k" * 200
    first = client.post(
        "/entries/batch", json=[body, body], headers={**clerk, "Idempotency-Key": key}
    )
    assert first.status_code == 201, first.text
    again = client.post(
        "/entries/batch", json=[body, body], headers={**clerk, "Idempotency-Key": key}
    )
    assert again.status_code == 200 and again.json() == [
        {**r, "created": False} for r in first.json()
    ]
    too_long = client.post("/entries", json=body, headers={**clerk, "Idempotency-Key": "k" * 201})
    assert too_long.status_code == 422
    assert bal(db, "HQ:STOCK:X1-LCD") == 3


# --------------------------------------------------------------------------- input


@pytest.mark.parametrize("amount", [True, "5", 5.0, "5.0", None, [5]])
def test_amounts_are_strict_integers(client, db, amount):
    admin = login(client, db, Role.ADMIN)
    body = {
        "postings": [
            {"account": "OPEN:STOCK:X1-LCD", "amount": -5},
            {"account": "HQ:STOCK:X1-LCD", "amount": amount},
        ]
    }
    response = client.post("/entries", json=body, headers=admin)
    assert response.status_code == 422
    assert "amount" in response.json()["field"]


def test_postings_that_cancel_on_one_account_answer_alike(client, db):
    """Today's defect: a 500 on PostgreSQL, a 201 on SQLite."""
    admin = login(client, db, Role.ADMIN)
    body = {
        "kind": "adjustment",
        "postings": [
            {"account": "HQ:STOCK:X1-LCD", "amount": 5},
            {"account": "HQ:STOCK:X1-LCD", "amount": -5},
        ],
    }
    response = client.post("/entries", json=body, headers=admin)
    assert response.status_code == 201, response.text
    assert bal(db, "HQ:STOCK:X1-LCD") == 0
    with db.reading() as s:
        assert queries.verify(s) == []


def test_unbalanced_says_which_side_exceeds_by_how_much(db):
    network(db)
    entry = EntryIn(
        postings=[
            PostingIn(account="BANK:STOCK:CNY", amount=-1_234_567),
            PostingIn(account="OPEN:STOCK:CNY", amount=1_000_000),
        ]
    )
    with pytest.raises(InvalidEntry, match=r"credits exceed debits by 2,345.67 CNY"):
        post(db, entry)
    parts = EntryIn(
        postings=[
            PostingIn(account="OPEN:STOCK:X1-LCD", amount=-3),
            PostingIn(account="HQ:STOCK:X1-LCD", amount=5),
        ]
    )
    with pytest.raises(
        InvalidEntry, match=r"entry 1 of the batch: X1-LCD .* debits exceed credits by 2 X1-LCD;"
    ):
        post(db, move("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 1), parts)


def test_nul_bytes_and_trailing_newlines_never_reach_the_database(db):
    network(db)
    for bad in (
        {"memo": "a\x00b"},
        {"refs": {"courier": "SF\x00"}},
        {"refs": {"a\x00": "x"}},
        {"idempotency_key": "k\x00"},
    ):
        with pytest.raises(ValueError):
            move("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 1, **bad)
    with pytest.raises(ValueError):
        PostingIn(account="HQ:STOCK:X1-LCD\n", amount=1)
    with pytest.raises(InvalidInput):
        db.transact(lambda s: md.create_holder(s, "SP-0009\n", "Point", "service_point"))
    with pytest.raises(InvalidInput):
        db.transact(lambda s: md.create_holder(s, "SP-0009", "Po\x00int", "service_point"))


# --------------------------------------------------------------------------- side doors


def test_a_service_point_cannot_tell_another_points_entry_from_none(client, db):
    stock(db, "HQ:STOCK:X1-LCD", 5)
    other = post(db, move("HQ:STOCK:X1-LCD", "SP-0002:STOCK:X1-LCD", 1))[0].entry_id
    missing = "01a20609-7bda-7500-90f6-8952b02632a6"
    sp1 = login(client, db, Role.SERVICE_POINT, "SP-0001")
    theirs = client.post(f"/entries/{other}/reverse", headers=sp1)
    nothing = client.post(f"/entries/{missing}/reverse", headers=sp1)
    assert theirs.status_code == nothing.status_code == 404
    assert theirs.json()["detail"].replace(str(other), "ID") == nothing.json()["detail"].replace(
        missing, "ID"
    )
    with_theirs = client.post(
        "/entries", json=entry_json("SP-0002:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", 1), headers=sp1
    )
    with_none = client.post(
        "/entries", json=entry_json("SP-0003:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", 1), headers=sp1
    )
    assert with_theirs.status_code == with_none.status_code == 422
    assert with_theirs.json()["type"] == with_none.json()["type"] == "/problems/unknown-account"
    assert "SP-0002" not in with_theirs.json()["detail"].replace("SP-0002:STOCK:X1-LCD", "")
    # Its own accounts: it may simply not post.
    own = client.post(
        "/entries", json=entry_json("HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", 1), headers=sp1
    )
    assert own.status_code == 403
    assert bal(db, "SP-0002:STOCK:X1-LCD") == 1


def test_roles_that_may_not_post_get_403_before_any_existence_check(client, db):
    approver = login(client, db, Role.APPROVER)
    missing = "01a20609-7bda-7500-90f6-8952b02632a6"
    assert client.post(f"/entries/{missing}/reverse", headers=approver).status_code == 403
    body = entry_json("NOPE:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 1)
    assert client.post("/entries", json=body, headers=approver).status_code == 403
    finance = login(client, db, Role.FINANCE)
    assert client.post("/entries", json=body, headers=finance).status_code == 403


def test_any_reference_name_an_entry_may_carry_can_be_searched(db):
    network(db)
    refs = {"Courier No.": "SF 123", "box:1/2": "B-7"}
    posted = post(db, move("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 1, refs=refs))[0]
    with db.reading() as s:
        for key, value in refs.items():
            page = queries.list_entries(s, SYSTEM, ref_key=key, ref_value=value)
            assert [e["id"] for e in page.items] == [posted.entry_id], key
    for bad in ('say "hi"', "back\\slash", "x" * 41):
        with pytest.raises(ValueError):
            move("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 1, refs={bad: "v"})


@pytest.mark.parametrize(
    "day", ["2026-13-01", "2026-02-30", "0", "1764547200", "2026-11-30T00:00", 0]
)
def test_a_date_that_is_not_yyyy_mm_dd_says_how_to_write_it(client, db, day):
    admin = login(client, db, Role.ADMIN)
    body = entry_json("OPEN:STOCK:X1-LCD", "HQ:STOCK:X1-LCD", 1, effective_date=day)
    response = client.post("/entries", json=body, headers=admin)
    assert response.status_code == 422
    assert "YYYY-MM-DD" in response.json()["detail"], response.json()
    assert bal(db, "HQ:STOCK:X1-LCD") == 0


@pytest.mark.parametrize("key", ["tab\there", "del\x7f", "k" * 201])
def test_a_reversal_with_a_key_that_is_not_printable_text_is_refused(client, db, key):
    """Found by make fuzz: the reversal built its entry with the raw key (a 500)."""
    stock(db, "HQ:STOCK:X1-LCD", 2)
    entry = post(db, move("HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD", 1))[0].entry_id
    clerk = login(client, db, Role.WAREHOUSE_CLERK)
    response = client.post(f"/entries/{entry}/reverse", headers={**clerk, "Idempotency-Key": key})
    assert response.status_code == 422, response.text
    if key.isprintable():  # too long for a client, not for the ledger's derived keys
        return
    with pytest.raises(InvalidEntry, match="idempotency key"):
        db.transact(lambda s: services.reverse(s, SYSTEM, entry, idempotency_key=key))
    assert bal(db, "SP-0001:STOCK:X1-LCD") == 1
