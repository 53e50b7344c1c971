"""Every database test runs on SQLite and on PostgreSQL.

PostgreSQL is `TEST_DATABASE_URL` (default: the local `test` database). Each
run works in a schema of its own, dropped at the end. With CI=true the
PostgreSQL tests are mandatory; elsewhere they are skipped, saying why, when
no server answers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from ledger.db import Database, make_engine
from ledger.migrate import upgrade

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
CI = os.environ.get("CI", "").lower() == "true"


def _postgres_or_skip() -> None:
    try:
        probe = make_engine(PG_URL, pool_size=1)
        with probe.connect():
            pass
        probe.dispose()
    except Exception as exc:
        message = (
            f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}); set TEST_DATABASE_URL"
        )
        if CI:
            pytest.fail(f"{message}: PostgreSQL tests are mandatory in CI")
        pytest.skip(message)


class TestDatabases:
    """Creates migrated, empty databases of one backend, and drops them."""

    def __init__(self, backend: str, tmp_dir) -> None:
        self.backend = backend
        self.tmp_dir = tmp_dir
        self._made: list[tuple[Engine, str | None]] = []

    def create(self, pool_size: int = 5) -> Engine:
        name = f"t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        if self.backend == "sqlite":
            engine = make_engine(f"sqlite:///{self.tmp_dir / name}.db")
            schema = None
        else:
            admin = make_engine(PG_URL, pool_size=1)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {name}"))
            admin.dispose()
            engine = make_engine(
                PG_URL, pool_size=pool_size, connect_args={"options": f"-csearch_path={name}"}
            )
            schema = name
        with engine.begin() as conn:
            upgrade(connection=conn)
        self._made.append((engine, schema))
        return engine

    def drop_all(self) -> None:
        for engine, schema in self._made:
            engine.dispose()
            if schema:
                admin = make_engine(PG_URL, pool_size=1)
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def databases(request, tmp_path_factory) -> Iterator[TestDatabases]:
    if request.param == "postgresql":
        _postgres_or_skip()
    made = TestDatabases(request.param, tmp_path_factory.mktemp(request.param))
    yield made
    made.drop_all()


@pytest.fixture(scope="session")
def engine(databases: TestDatabases) -> Engine:
    """One migrated database per backend, shared by the rolled-back tests."""
    return databases.create()


@pytest.fixture
def db(engine: Engine) -> Iterator[Database]:
    """A Database whose commits are savepoints inside one transaction that is
    rolled back after the test: every test starts from the empty schema."""
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield Database(conn)
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture
def fresh_db(databases: TestDatabases) -> Iterator[Database]:
    """A new, committed database, for tests of many connections at once."""
    database = Database(databases.create(pool_size=40))
    yield database
    database.dispose()


@pytest.fixture
def client(db):
    """The HTTP API over `db`, with the small test network of tests/factories."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from ledger.settings import Settings
    from tests.factories import network
    from tests.tokens import SECRET

    network(db)
    app = create_app(db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://"))
    with TestClient(app) as test_client:
        yield test_client


# The web console's fixtures (tests/console.py): console_app, as_user.
from tests.console import as_user, console_app  # noqa: E402, F401
