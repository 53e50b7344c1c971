"""Migrations upgrade a ledger that already holds history, and downgrade it."""

from __future__ import annotations

from datetime import date

import pytest
from alembic import command
from sqlalchemy import inspect, text

from ledger.migrate import alembic_config, upgrade


@pytest.fixture
def empty_engine(databases):
    """A database at revision 0001, without the later migrations."""
    engine = databases.create()
    with engine.begin() as conn:
        command.downgrade(alembic_config(connection=conn), "0001")
    return engine


def _seed_0001(conn) -> None:
    """Holders and accounts as revision 0001 kept them (allow_negative), with
    postings on two dates."""
    now = "2026-11-01 00:00:00"
    conn.execute(
        text(
            "INSERT INTO holder (id, code, name, kind, created_at) VALUES "
            "(1, 'HQ', 'HQ', 'hq', :now), (2, 'OPEN', 'Opening', 'opening_balance', :now), "
            "(3, 'SP-0001', 'Point', 'service_point', :now), (4, 'BANK', 'Bank', 'bank', :now)"
        ),
        {"now": now},
    )
    conn.execute(
        text(
            "INSERT INTO commodity (id, code, name, kind, serialized, decimals, created_at) "
            "VALUES (1, 'X1-LCD', 'LCD', 'part', false, 0, :now), "
            "(2, 'CNY', 'Renminbi', 'money', false, 2, :now)"
        ),
        {"now": now},
    )
    accounts = [
        (1, "HQ:STOCK:X1-LCD", 1, "STOCK", 1, False, 5),
        (2, "OPEN:STOCK:X1-LCD", 2, "STOCK", 1, True, -5),
        (3, "SP-0001:DEPOSIT:CNY", 3, "DEPOSIT", 2, True, -300),
        (4, "BANK:STOCK:CNY", 4, "STOCK", 2, False, 300),
        (5, "SP-0001:SPARE:X1-LCD", 3, "SPARE", 1, False, 0),
    ]
    for row in accounts:
        conn.execute(
            text(
                "INSERT INTO account (id, code, holder_id, purpose, commodity_id, "
                "allow_negative, balance, created_at) VALUES (:i, :c, :h, :p, :m, :a, :b, :now)"
            ),
            dict(zip("ichpmab", row, strict=True), now=now),
        )
    sqlite = conn.dialect.name == "sqlite"
    for n, (day, lines) in enumerate(
        [
            (date(2026, 10, 1), [(2, 1, -5), (1, 1, 5)]),
            (date(2026, 10, 9), [(4, 2, 300), (3, 2, -300)]),
        ]
    ):
        entry_id = f"{n + 1:032x}" if sqlite else f"00000000-0000-7000-8000-{n + 1:012x}"
        conn.execute(
            text(
                "INSERT INTO journal_entry (id, kind, effective_date, created_at, actor, memo, "
                "refs) VALUES (:id, 'opening', :day, :now, 'system', '', '{}')"
            ),
            {"id": entry_id, "day": day, "now": now},
        )
        for line, (account, commodity, amount) in enumerate(lines):
            conn.execute(
                text(
                    "INSERT INTO posting (entry_id, line_no, account_id, commodity_id, amount, "
                    "effective_date) VALUES (:e, :l, :a, :c, :amount, :day)"
                ),
                {
                    "e": entry_id,
                    "l": line,
                    "a": account,
                    "c": commodity,
                    "amount": amount,
                    "day": day,
                },
            )


def test_upgrade_gives_every_account_its_side_and_guard_and_downgrade_restores(empty_engine):
    with empty_engine.begin() as conn:
        _seed_0001(conn)
        upgrade(connection=conn, revision="0002")
    with empty_engine.connect() as conn:
        rows = {
            code: (side, bool(guarded), last)
            for code, side, guarded, last in conn.execute(
                text("SELECT code, side, guarded, last_posted_on FROM account")
            )
        }
    as_date = {
        k: (s, g, None if d is None else date.fromisoformat(str(d)))
        for k, (s, g, d) in rows.items()
    }
    assert as_date == {
        "HQ:STOCK:X1-LCD": ("debit", True, date(2026, 10, 1)),
        "OPEN:STOCK:X1-LCD": ("credit", False, date(2026, 10, 1)),
        # The deposit was unguarded under allow_negative; now it is guarded on its credit side.
        "SP-0001:DEPOSIT:CNY": ("credit", True, date(2026, 10, 9)),
        "BANK:STOCK:CNY": ("debit", True, date(2026, 10, 9)),
        # A purpose from before the closed list keeps its old behaviour.
        "SP-0001:SPARE:X1-LCD": ("debit", True, None),
    }
    with empty_engine.begin() as conn:
        command.downgrade(alembic_config(connection=conn), "0001")
    with empty_engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("account")}
        assert "allow_negative" in columns and "side" not in columns
        guarded = dict(conn.execute(text("SELECT code, allow_negative FROM account")).all())
        assert {k: bool(v) for k, v in guarded.items()}["SP-0001:DEPOSIT:CNY"] is False
        assert {k: bool(v) for k, v in guarded.items()}["OPEN:STOCK:X1-LCD"] is True
    with empty_engine.begin() as conn:
        upgrade(connection=conn)


KEY_LENGTH_ON_SQLITE = ("modify_type", None, "journal_entry", "idempotency_key")


def test_the_migrations_build_exactly_the_models_schema(engine):
    """Every table, column, index and constraint the models declare, and no
    other, is what `db upgrade` built (Alembic's own comparison)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import ledger.catalog.tables  # their tables join the metadata
    import ledger.jobs
    import ledger.money.tables
    import ledger.parts.tables
    import ledger.planning  # noqa: F401

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        drift = compare_metadata(context, SQLModel.metadata)
    if engine.dialect.name == "sqlite":
        # SQLite enforces no VARCHAR length; 0002 leaves the key column's
        # declared 200 in place rather than copy the append-only journal.
        drift = [
            d
            for d in drift
            if not (isinstance(d, list) and [c[:4] for c in d] == [KEY_LENGTH_ON_SQLITE])
        ]
    assert drift == []
