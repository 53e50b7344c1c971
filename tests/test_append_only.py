"""History cannot be edited: the database itself refuses, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.factories import network, stock


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE posting SET amount = amount + 1",
        "DELETE FROM posting",
        "UPDATE journal_entry SET memo = 'edited'",
        "DELETE FROM journal_entry",
        "DELETE FROM serial_move",
    ],
)
def test_database_refuses_to_edit_the_journal(db, statement):
    network(db)
    stock(db, "HQ:STOCK:H-X1", 1, serials=["860000000000001"])
    with db.session() as session, pytest.raises(DBAPIError, match="append-only"):
        session.execute(text(statement))


def test_balances_are_not_history_and_stay_writable_by_the_ledger(db):
    network(db)
    stock(db, "HQ:STOCK:X1-LCD", 3)
    with db.session() as session:
        session.execute(text("UPDATE account SET balance = balance WHERE code = 'HQ:STOCK:X1-LCD'"))
