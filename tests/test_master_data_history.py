"""The change history of master data: who, when, before, after."""

from __future__ import annotations

import pytest

from ledger.catalog.history import changes_of, record_change


def test_changes_are_recorded_in_the_unit_of_work_and_read_back_in_order(db):
    def change(session):
        record_change(session, "admin", "part", "X1-LCD", None, {"name_en": "LCD", "cost": 1250})
        record_change(
            session, "li.admin", "part", "X1-LCD", {"name_en": "LCD"}, {"name_en": "X1 LCD"}
        )
        record_change(session, "admin", "part", "X1-BATT", None, {"name_en": "Battery"})

    db.transact(change)
    with db.reading() as s:
        lcd = changes_of(s, "part", "X1-LCD")
        assert [(c.actor, c.before, c.after) for c in lcd] == [
            ("admin", None, {"name_en": "LCD", "cost": 1250}),
            ("li.admin", {"name_en": "LCD"}, {"name_en": "X1 LCD"}),
        ]
        assert all(c.at.tzinfo is not None for c in lcd)
        assert [c.key for c in changes_of(s, "part", "X1-LCD", after=lcd[0].id)] == ["X1-LCD"]


def test_a_failed_unit_of_work_records_nothing(db):
    def change_then_fail(session):
        record_change(session, "admin", "part", "X1-LCD", None, {"name_en": "LCD"})
        raise RuntimeError("the change itself failed")

    with pytest.raises(RuntimeError):
        db.transact(change_then_fail)
    with db.reading() as s:
        assert changes_of(s, "part", "X1-LCD") == []
