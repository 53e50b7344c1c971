"""The command line: `aftersales --help`.

A door like HTTP: it calls the same ledger services, one unit of work per
command.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ledger import queries, services
from ledger.db import Database
from ledger.errors import LedgerError
from ledger.journal import EntryIn
from ledger.models import Role
from ledger.policy import SYSTEM
from ledger.settings import get_settings

app = typer.Typer(help="aftersales: the after-sales parts, handsets and deposits ledger.")
db_app = typer.Typer(help="Database schema.")
ledger_app = typer.Typer(help="Post and read the journal.")
export_app = typer.Typer(help="Export the books.")
users_app = typer.Typer(help="Users and roles.")
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(export_app, name="export")
app.add_typer(users_app, name="users")
console = Console()


def _db() -> Database:
    return Database.from_url(get_settings().database_url)


def _fail(exc: LedgerError) -> None:
    where = ", ".join(f"{k}={v}" for k, v in exc.where.items())
    console.print(f"[red]error:[/red] {exc.detail}" + (f" [dim]({where})[/dim]" if where else ""))
    raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: AFTERSALES_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default: AFTERSALES_PORT")] = None,
    workers: Annotated[int | None, typer.Option(help="Default: AFTERSALES_WORKERS")] = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    settings = get_settings()
    settings.signing_key()  # create the shared key before workers start
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the schema to the latest revision."""
    from ledger.migrate import upgrade

    url = get_settings().database_url
    upgrade(url, revision=revision)
    console.print(f"schema at {revision} on {url.split('@')[-1]}")


@app.command()
def demo(points: int = typer.Option(300, help="Number of service points")) -> None:
    """Load the demo national network (once)."""
    from importers.demo import DEMO_USERS, demo_password, is_loaded, load_demo

    db = _db()
    with db.reading() as session:
        if is_loaded(session):
            console.print("demo data already loaded")
            return
    with console.status("loading demo network") as status:
        summary = load_demo(db, points=points, progress=lambda step: status.update(step))
    console.print(
        f"demo loaded: {summary.holders} holders, {summary.parts} parts, "
        f"{summary.accounts} accounts, {summary.entries} entries, {summary.serials} handsets"
    )
    table = Table("user", "password", "role")
    for username, role, _ in DEMO_USERS:
        table.add_row(username, demo_password(username), role.value)
    console.print(table)


@ledger_app.command("balance")
def balance(
    account: str,
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
) -> None:
    """Balance of an account, now or at the end of a day."""
    with _db().reading() as session:
        try:
            day = date.fromisoformat(as_of) if as_of else None
            result = queries.balance(session, SYSTEM, account, day)
        except LedgerError as exc:
            _fail(exc)
    console.print(f"{account}: {result['balance']} ({result['commodity']})")


@ledger_app.command("statement")
def statement(account: str, limit: int = 50, cursor: str | None = None) -> None:
    """Postings of an account with a running balance."""
    with _db().reading() as session:
        try:
            page = queries.statement(session, SYSTEM, account, cursor=cursor, limit=limit)
        except LedgerError as exc:
            _fail(exc)
    table = Table("date", "kind", "amount", "balance", "memo", title=account)
    table.add_row("", "opening", "", str(page.opening_balance), "")
    for line in page.lines:
        table.add_row(
            str(line["effective_date"]),
            line["kind"],
            str(line["amount"]),
            str(line["balance"]),
            line["memo"],
        )
    console.print(table)
    if page.next_cursor:
        console.print(f"more: --cursor {page.next_cursor}")


@ledger_app.command("trial-balance")
def trial_balance() -> None:
    """Per commodity, all balances: they must sum to zero."""
    with _db().reading() as session:
        rows = queries.trial_balance(session)
    table = Table("commodity", "accounts", "debit balances", "credit balances", "net")
    for r in rows:
        table.add_row(
            r["commodity"],
            str(r["accounts"]),
            str(r["debit_balances"]),
            str(r["credit_balances"]),
            str(r["net"]),
        )
    console.print(table)


@ledger_app.command("verify")
def verify() -> None:
    """Check every balance and serial against the whole history."""
    with _db().reading() as session:
        problems = queries.verify(session)
    for problem in problems:
        console.print(f"[red]{problem}[/red]")
    if problems:
        raise typer.Exit(1)
    console.print("ledger verified: every balance equals its history")


@ledger_app.command("post")
def post(
    file: Annotated[Path, typer.Argument(help="JSON: one entry or a list of entries; - for stdin")],
    idempotency_key: Annotated[str | None, typer.Option("--key")] = None,
) -> None:
    """Post entries from JSON, all or nothing (as the system administrator)."""
    raw = json.loads(sys.stdin.read() if str(file) == "-" else file.read_text())
    try:
        entries = [EntryIn.model_validate(e) for e in (raw if isinstance(raw, list) else [raw])]
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    entries = services.keyed_batch(entries, idempotency_key)
    try:
        results = _db().transact(lambda s: services.post(s, SYSTEM, entries))
    except LedgerError as exc:
        _fail(exc)
    for r in results:
        console.print(f"{r.entry_id} {'posted' if r.created else 'already posted'}")


@ledger_app.command("reverse")
def reverse(entry_id: uuid.UUID, memo: str = "", key: str | None = None) -> None:
    """Reverse an entry by posting its mirror image."""
    try:
        result = _db().transact(
            lambda s: services.reverse(s, SYSTEM, entry_id, memo=memo, idempotency_key=key)
        )
    except LedgerError as exc:
        _fail(exc)
    console.print(f"{result.entry_id} reverses {entry_id}")


@ledger_app.command("serial")
def serial(serial_no: str) -> None:
    """Where a serial is, and every move it made."""
    with _db().reading() as session:
        try:
            unit = queries.serial_history(session, SYSTEM, serial_no)
        except LedgerError as exc:
            _fail(exc)
    table = Table("date", "kind", "from", "to", title=f"{serial_no} ({unit['commodity']})")
    for move in unit["history"]:
        table.add_row(
            str(move["effective_date"]), move["kind"], move["from_account"], move["to_account"]
        )
    console.print(table)
    console.print(f"now at {unit['account']}")


@export_app.command("beancount")
def export_beancount(file: Path) -> None:
    """The whole journal in Beancount syntax; check it with `bean-check FILE`."""
    from ledger.export import write_beancount

    with _db().reading() as session, file.open("w", encoding="utf-8") as out:
        summary = write_beancount(session, out)
    console.print(f"wrote {file}: {summary}")


def _username(value: str) -> str:
    """Checked before any prompt, so a bad name never asks for a password first."""
    from ledger.users import check_username

    try:
        return check_username(value)
    except LedgerError as exc:
        _fail(exc)


def _users_do(work) -> None:
    try:
        info = _db().transact(work)
    except LedgerError as exc:
        _fail(exc)
    point = f" at {info.service_point}" if info.service_point else ""
    state = "active" if info.active else "inactive"
    console.print(f"user {info.username} ({info.role.value}{point}, {state})", highlight=False)


@users_app.command("create")
def create_user(
    username: Annotated[str, typer.Argument(callback=_username)],
    role: Annotated[Role, typer.Option()],
    service_point: Annotated[str | None, typer.Option(help="For role service_point")] = None,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)] = "",
) -> None:
    """Add a user with a role."""
    from ledger.users import create_user as create

    try:
        _db().transact(lambda s: create(s, username, password, role, service_point=service_point))
    except LedgerError as exc:
        _fail(exc)
    console.print(f"user {username} ({role.value}) created")


@users_app.command("list")
def list_users(
    role: Annotated[Role | None, typer.Option(help="Only users of this role")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Only active or inactive users")
    ] = None,
    after: Annotated[str | None, typer.Option(help="Username to start after")] = None,
    limit: int = 100,
) -> None:
    """Users in username order, with role, point and whether they may log in."""
    from ledger import users

    with _db().reading() as session:
        try:
            rows = users.list_users(
                session, SYSTEM, role=role, active=active, after=after, limit=limit
            )
        except LedgerError as exc:
            _fail(exc)
    table = Table("user", "role", "service point", "active", "created")
    for r in rows:
        table.add_row(
            r.username,
            r.role.value,
            r.service_point or "",
            "yes" if r.active else "no",
            r.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)
    if len(rows) == limit:
        console.print(f"more: --after {rows[-1].username}", highlight=False)


@users_app.command("deactivate")
def deactivate_user(username: Annotated[str, typer.Argument(callback=_username)]) -> None:
    """Stop a user logging in; their tokens stop working within seconds."""
    from ledger import users

    _users_do(lambda s: users.deactivate(s, SYSTEM, username))


@users_app.command("reactivate")
def reactivate_user(username: Annotated[str, typer.Argument(callback=_username)]) -> None:
    """Let a deactivated user log in again (with a new login)."""
    from ledger import users

    _users_do(lambda s: users.reactivate(s, SYSTEM, username))


@users_app.command("role")
def change_role(
    username: Annotated[str, typer.Argument(callback=_username)],
    role: Annotated[Role, typer.Option()],
    service_point: Annotated[str | None, typer.Option(help="For role service_point")] = None,
) -> None:
    """Give a user another role (a service-point user is bound to one point)."""
    from ledger import users

    _users_do(lambda s: users.change_role(s, SYSTEM, username, role, service_point=service_point))


@users_app.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Argument(callback=_username)],
    password: Annotated[
        str, typer.Option(prompt="New password", hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Set a new password; the user's tokens and login lock end."""
    from ledger import users

    _users_do(lambda s: users.reset_password(s, SYSTEM, username, password))


if __name__ == "__main__":
    app()
