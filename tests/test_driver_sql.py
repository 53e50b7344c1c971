"""The write path hands rows straight to the driver; what it writes must read
back through the column types exactly as if SQLAlchemy had written it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from ledger import services
from ledger.driver_sql import DriverSql
from ledger.journal import EntryIn, PostingIn
from ledger.models import entry_t, posting_t
from ledger.policy import SYSTEM
from ledger.types import uuid7, uuid7_many
from tests.factories import network, stock

CASES = [
    # created_at in another zone, with microseconds; an old date; unicode refs
    (
        datetime(2026, 3, 1, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=8))),
        date(1999, 12, 31),
        {"requisition": "RQ-2026-000123", "note": "屏幕 / écran"},
    ),
    (datetime(2026, 11, 23, 0, 0, tzinfo=UTC), date(2026, 11, 23), {}),
]


@pytest.mark.parametrize(("created_at", "day", "refs"), CASES)
def test_driver_rows_read_back_through_the_column_types(db, created_at, day, refs):
    original = uuid7()

    def write(session):
        conn = session.connection()
        sql = DriverSql.of(conn)
        entry_id = uuid7()
        for eid, reverses, key in ((original, None, None), (entry_id, original, "k-1")):
            conn.exec_driver_sql(
                sql.insert_entry,
                (
                    sql.uuid(eid),
                    "adjustment",
                    sql.date(day),
                    sql.timestamp(created_at),
                    "someone",
                    key,
                    "f" * 64,
                    "memo",
                    sql.json(refs),
                    sql.uuid(reverses),
                ),
            )
        return entry_id

    entry_id = db.transact(write)
    with db.reading() as s:
        row = s.execute(select(entry_t).where(entry_t.c.id == entry_id)).one()
    assert isinstance(row.id, uuid.UUID) and row.id == entry_id
    assert row.reverses_entry_id == original
    assert row.effective_date == day
    assert row.created_at == created_at and row.created_at.tzinfo is not None
    assert row.refs == refs


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError, match="naive datetime"):
        DriverSql(sqlite=True).timestamp(datetime(2026, 1, 1))


def test_a_posted_entry_reads_back_with_its_keys_dates_and_lines(db):
    net = network(db)
    stock(db, "HQ:STOCK:X1-LCD", 5, effective_date=date(2026, 11, 1))
    entry = EntryIn(
        kind="issue",
        effective_date=date(2026, 11, 2),
        refs={"requisition": "RQ-1"},
        idempotency_key="issue-1",
        postings=[
            PostingIn(account=net.account("HQ", "X1-LCD"), amount=-2),
            PostingIn(account=net.account("SP-0001", "X1-LCD"), amount=2),
        ],
    )
    result = db.transact(lambda s: services.post(s, SYSTEM, [entry]))[0]
    replay = db.transact(lambda s: services.post(s, SYSTEM, [entry]))[0]
    assert (replay.entry_id, replay.created) == (result.entry_id, False)
    with db.reading() as s:
        row = s.execute(select(entry_t).where(entry_t.c.id == result.entry_id)).one()
        lines = s.execute(
            select(posting_t.c.line_no, posting_t.c.amount, posting_t.c.effective_date)
            .where(posting_t.c.entry_id == result.entry_id)
            .order_by(posting_t.c.line_no)
        ).all()
    assert row.idempotency_key == "issue-1" and row.request_hash == entry.request_hash()
    assert row.refs == {"requisition": "RQ-1"} and row.actor == SYSTEM.username
    assert abs(row.created_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert [tuple(line) for line in lines] == [
        (0, -2, date(2026, 11, 2)),
        (1, 2, date(2026, 11, 2)),
    ]


def test_entry_ids_are_unique_time_ordered_uuid7s():
    before = datetime.now(UTC)
    ids = [*uuid7_many(1000), uuid7()]
    assert len(set(ids)) == len(ids)
    assert {(u.version, u.variant) for u in ids} == {(7, uuid.RFC_4122)}
    stamps = [datetime.fromtimestamp((u.int >> 80) / 1000, UTC) for u in ids]
    assert all(before - timedelta(seconds=1) <= s <= datetime.now(UTC) for s in stamps)
    assert stamps == sorted(stamps)
