"""Engines and the unit of work.

Services take a Session and never commit. `Database.transact` is the one unit
of work: it runs a service function, commits, and runs it again when a race
with another writer was lost (a unique key taken meanwhile, a deadlock, a
serialization failure), so the retry sees the winner's result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ledger.calendar import OpenWindow
from ledger.errors import RetryableConflict
from ledger.settings import get_settings

T = TypeVar("T")

READ_ONLY = "aftersales_read_only"

# PostgreSQL SQLSTATEs worth a retry: serialization failure, deadlock.
_RETRY_SQLSTATES = {"40001", "40P01"}


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, *, pool_size: int = 10, **kwargs) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 60}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE.

    A transaction that reads and then writes must hold the write lock from the
    start, or two of them deadlock on the upgrade (SQLITE_BUSY); pysqlite's own
    transaction handling is switched off so the BEGIN is ours.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Readers take no lock: in WAL mode a deferred BEGIN reads a snapshot.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, RetryableConflict | IntegrityError):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        return sqlstate in _RETRY_SQLSTATES
    return False


class Database:
    """One database: where sessions come from, and the unit of work.

    `bind` may be an Engine (the service) or a Connection already inside a
    transaction (tests: every commit becomes a savepoint, rolled back after).
    """

    def __init__(
        self, bind: Engine | Connection, *, retries: int = 5, window: OpenWindow | None = None
    ) -> None:
        self.bind = bind
        self.retries = retries
        self.engine = bind if isinstance(bind, Engine) else bind.engine
        self.dialect = self.engine.dialect.name
        self._sessions = sessionmaker(
            bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        # Readers see one consistent snapshot across their queries (a statement
        # page, an export) and, on SQLite, do not wait for the write lock.
        reader_bind = bind
        if isinstance(bind, Engine):
            options = {READ_ONLY: True}
            if self.dialect == "postgresql":
                options["isolation_level"] = "REPEATABLE READ"
            reader_bind = bind.execution_options(**options)
        self._readers = sessionmaker(
            bind=reader_bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        # Account look-ups are immutable facts (code, commodity, guard); they
        # are cached per Database, filled only from committed transactions.
        self.account_cache: dict = {}
        # The dates entries may carry (first open day … today).
        self.window = window or OpenWindow.from_settings(get_settings())

    @classmethod
    def from_url(cls, url: str, **kwargs) -> Database:
        return cls(make_engine(url, **kwargs))

    def session(self, *, read_only: bool = False) -> Session:
        session = (self._readers if read_only else self._sessions)()
        session.info["account_cache"] = self.account_cache
        session.info["window"] = self.window
        return session

    def transact(self, work: Callable[[Session], T]) -> T:
        for attempt in range(self.retries + 1):
            with self.session() as session:
                try:
                    result = work(session)
                    session.commit()
                except Exception as exc:
                    session.rollback()
                    if attempt < self.retries and is_retryable(exc):
                        continue
                    raise
                self.account_cache.update(session.info.get("account_cache_new", {}))
                return result
        raise AssertionError("unreachable")

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for queries, on one snapshot; nothing it does is committed."""
        with self.session(read_only=True) as session:
            try:
                yield session
            finally:
                session.rollback()

    def dispose(self) -> None:
        if isinstance(self.bind, Engine):
            self.bind.dispose()
