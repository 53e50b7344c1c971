"""Alembic environment: runs on the connection or URL handed in by ledger.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import ledger.catalog.tables  # their tables join the one metadata
import ledger.jobs
import ledger.money.tables
import ledger.parts.tables
import ledger.planning  # noqa: F401
from ledger.db import make_engine

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        # SQLite alters tables by copying them; constraint names are stable
        # thanks to the metadata's naming convention.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
