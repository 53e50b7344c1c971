"""The CLI in-process, on a migrated SQLite file, for the tests of its commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rich.console import Console
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.cli import app
from ledger.db import Database
from ledger.migrate import upgrade
from ledger.settings import get_settings


def cli_database(tmp_path, monkeypatch, build: Callable[[Session], object]) -> Iterator[Database]:
    """A migrated SQLite file as DATABASE_URL, filled by `build` in one unit
    of work; wide output so tables do not wrap. For a fixture to yield from."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr("api.cli.console", Console(width=250))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    upgrade(url)
    database = Database.from_url(url)
    database.transact(build)
    yield database
    database.dispose()
    get_settings.cache_clear()


def run(*args: str, code: int = 0) -> str:
    """Run a command; it must exit with `code` and never show a traceback."""
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, result.output
    return result.output
