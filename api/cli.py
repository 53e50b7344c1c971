"""The command line: `aftersales --help`.

A door like HTTP: it calls the same ledger services, one unit of work per
command.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ledger import queries, services
from ledger.amounts import format_amount
from ledger.db import Database
from ledger.errors import LedgerError
from ledger.journal import EntryIn
from ledger.models import Role
from ledger.policy import SYSTEM
from ledger.settings import get_settings


class _Cli(typer.Typer):
    """The command line, which answers every failure with a message and exit
    code 1, never a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except SQLAlchemyError as exc:
            _print_error(
                f"the database failed: {type(exc).__name__}: {str(exc).splitlines()[0]}; check "
                "DATABASE_URL and run `aftersales db upgrade`"
            )
        except Exception as exc:
            _print_error(f"{type(exc).__name__}: {exc}")
        sys.exit(1)


app = _Cli(help="aftersales: the after-sales parts, handsets and deposits ledger.")
db_app = typer.Typer(help="Database schema.")
ledger_app = typer.Typer(help="Post and read the journal.")
export_app = typer.Typer(help="Export the books.")
users_app = typer.Typer(help="Users and roles.")
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(export_app, name="export")
app.add_typer(users_app, name="users")
parts_app = typer.Typer(help="The parts catalog: parts, prices, handset models.")
app.add_typer(parts_app, name="parts")
console = Console()


def _db() -> Database:
    return Database.from_url(get_settings().database_url)


def _fail(exc: LedgerError) -> NoReturn:
    where = ", ".join(f"{k}={v}" for k, v in exc.where.items())
    text = Text.assemble(("error:", "red"), " ", exc.detail)
    if where:
        text.append(f" ({where})", style="dim")
    console.print(text)
    raise typer.Exit(1)


# User data (memos, codes, errors) is printed as Text, never as Rich markup:
# "[urgent]" in a memo must come out as typed.


def _print_error(message: str) -> None:
    console.print(Text.assemble(("error:", "red"), " ", message))


def _error(message: str) -> NoReturn:
    _print_error(message)
    raise typer.Exit(1)


def _say(message: str) -> None:
    console.print(Text(message))


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option, or a clear error naming the option."""
    if value is None:
        return None
    try:
        if not _DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        _error(f"{option} {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-30")


def _money(amount: int, decimals: int, commodity: str | None = None) -> str:
    return format_amount(amount, decimals, commodity)


# Commas only between groups of three digits (5,000.00); never a decimal comma.
_CNY = re.compile(r"(?:[0-9]{1,13}|[0-9]{1,3}(?:,[0-9]{3}){1,4})(?:\.[0-9]+)?")


def _fen(value: str, option: str, *, least: int = 0) -> int:
    """CNY as people write it (12.50, or 5,000.00) into fen (1250): at most 2
    decimals, within `least` fen … the ledger's amount bound; otherwise a
    clear error naming the option."""
    from decimal import Decimal

    from ledger.amounts import MAX_AMOUNT

    if not _CNY.fullmatch(value):
        _error(
            f"{option} {value!r} is not an amount of CNY; write it like 12.50 or 5,000.00 "
            "(a point for the decimals, commas only between thousands)"
        )
    amount = Decimal(value.replace(",", ""))
    if amount != amount.quantize(Decimal("0.01")):
        _error(f"{option} {value!r} has more than 2 decimals; CNY is counted in fen (0.01)")
    fen = int(amount.scaleb(2))
    if not least <= fen <= MAX_AMOUNT:
        _error(
            f"{option} {value!r} is out of bounds: from {_money(least, 2, 'CNY')} "
            f"to {_money(MAX_AMOUNT, 2, 'CNY')}"
        )
    return fen


def _cell(value: Any) -> Text:
    return Text("" if value is None else str(value))


def _read_json(file: Path) -> Any:
    name = "stdin" if str(file) == "-" else str(file)
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        _error(f"{name} is not UTF-8 text")
    except OSError as exc:
        _error(f"cannot read {name}: {exc.strerror or exc}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _error(f"{name} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except RecursionError:
        _error(f"{name} is nested too deeply to be an entry")


def _invalid(exc: ValidationError, prefix: str = "") -> NoReturn:
    problems = [
        f"{prefix}{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}" for e in exc.errors()
    ]
    _error("; ".join(problems))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: AFTERSALES_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default: AFTERSALES_PORT")] = None,
    workers: Annotated[int | None, typer.Option(help="Default: AFTERSALES_WORKERS")] = None,
) -> None:
    """Serve the web console (at /) and the HTTP API (OpenAPI docs at /docs)."""
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
        f"{summary.accounts} accounts, {summary.entries} entries, {summary.serials} handsets; "
        f"{summary.requisitions} requisitions, {summary.in_transit} shipments in transit, "
        f"{summary.open_discrepancies} open discrepanc"
        + ("y" if summary.open_discrepancies == 1 else "ies")
        + f", {summary.repairs} repairs written off"
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
    day = _day(as_of, "--as-of")
    result = _read(lambda session: queries.balance(session, SYSTEM, account, day))
    amount = _money(result["balance"], result["decimals"], result["commodity"])
    _say(f"{account}: {amount}" + (f" (end of {day})" if day else ""))


@ledger_app.command("statement")
def statement(
    account: str,
    date_from: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    cursor: str | None = None,
) -> None:
    """Postings of an account with a running balance, counter-accounts and serials."""
    start, end = _day(date_from, "--from"), _day(date_to, "--to")
    with _db().reading() as session:
        try:
            page = queries.statement(
                session, SYSTEM, account, date_from=start, date_to=end, cursor=cursor, limit=limit
            )
        except LedgerError as exc:
            _fail(exc)
    decimals, commodity = page.account["decimals"], page.account["commodity"]
    table = Table(
        "date",
        "kind",
        "amount",
        "balance",
        "counter-accounts",
        "serials",
        "memo",
        title=Text(f"{account} ({commodity})"),
    )
    table.add_row("", "opening", "", _money(page.opening_balance, decimals), "", "", "")
    for line in page.lines:
        table.add_row(
            _cell(line["effective_date"]),
            _cell(line["kind"]),
            _money(line["amount"], decimals),
            _money(line["balance"], decimals),
            _cell("\n".join(line["counter_accounts"])),
            _cell(" ".join(line["serials"])),
            _cell(line["memo"]),
        )
    console.print(table)
    closing = _money(page.closing_balance, decimals, commodity)
    _say(f"closing balance {closing}" + (f" (end of {end})" if end else " (now)"))
    if page.next_cursor:
        _say(f"more: --cursor {page.next_cursor}")


@ledger_app.command("trial-balance")
def trial_balance(
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD: at the end of this day")] = None,
) -> None:
    """Per commodity, all balances: they must sum to zero."""
    day = _day(as_of, "--as-of")
    with _db().reading() as session:
        rows = queries.trial_balance(session, day)
    table = Table(
        "commodity",
        "accounts",
        "debit balances",
        "credit balances",
        "net",
        title=f"trial balance, end of {day}" if day else "trial balance",
    )
    for r in rows:
        table.add_row(
            _cell(r["commodity"]),
            f"{r['accounts']:,}",
            _money(r["debit_balances"], r["decimals"]),
            _money(r["credit_balances"], r["decimals"]),
            _money(r["net"], r["decimals"]),
        )
    console.print(table)


@ledger_app.command("verify")
def verify() -> None:
    """Check every balance and serial against the whole history."""
    with _db().reading() as session:
        problems = queries.verify(session)
    for problem in problems:
        console.print(Text(problem, style="red"))
    if problems:
        raise typer.Exit(1)
    console.print("ledger verified: every balance equals its history")


@ledger_app.command("post")
def post(
    file: Annotated[Path, typer.Argument(help="JSON: one entry or a list of entries; - for stdin")],
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="As Idempotency-Key over HTTP: one entry's key, or a list's batch key "
            "(entry i without a key of its own gets KEY/i)",
        ),
    ] = None,
) -> None:
    """Post entries from JSON, all or nothing (as the system administrator)."""
    raw = _read_json(file)
    if isinstance(raw, list):
        if not raw:
            _error("the file holds an empty list: nothing to post")
        entries = []
        for i, item in enumerate(raw):
            try:
                entries.append(EntryIn.model_validate(item))
            except ValidationError as exc:
                _invalid(exc, f"entry {i}: ")
        entries = services.keyed_batch(entries, idempotency_key)
    else:
        try:
            entry = EntryIn.model_validate(raw)
        except ValidationError as exc:
            _invalid(exc)
        if idempotency_key is not None:
            if entry.idempotency_key not in (None, idempotency_key):
                _error("--key and the entry's idempotency_key differ; give one")
            entry = entry.model_copy(update={"idempotency_key": idempotency_key})
        entries = [entry]
    try:
        results = _db().transact(lambda s: services.post(s, SYSTEM, entries))
    except LedgerError as exc:
        _fail(exc)
    for r in results:
        _say(f"{r.entry_id} {'posted' if r.created else 'already posted'}")


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
    unit = _read(lambda session: queries.serial_history(session, SYSTEM, serial_no))
    table = Table("date", "kind", "from", "to", title=Text(f"{serial_no} ({unit['commodity']})"))
    for move in unit["history"]:
        table.add_row(
            _cell(move["effective_date"]),
            _cell(move["kind"]),
            _cell(move["from_account"]),
            _cell(move["to_account"]),
        )
    console.print(table)
    _say(f"now at {unit['account']}")


def _postings_text(postings: list[dict[str, Any]], decimals: dict[str, int]) -> Text:
    lines = []
    for p in postings:
        amount = _money(p["amount"], decimals.get(p["commodity"], 0))
        serials = f" [{' '.join(p['serials'])}]" if p["serials"] else ""
        lines.append(f"{p['account']} {amount}{serials}")
    return Text("\n".join(lines))


@ledger_app.command("entries")
def entries(
    ref_key: Annotated[str | None, typer.Option(help="Entries whose refs have this key")] = None,
    ref_value: Annotated[str | None, typer.Option(help="...with this value")] = None,
    kind: str | None = None,
    account: Annotated[str | None, typer.Option(help="With a posting on this account")] = None,
    holder: Annotated[str | None, typer.Option(help="With a posting on this holder")] = None,
    actor: Annotated[str | None, typer.Option(help="Posted by this user")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD")] = None,
    cursor: str | None = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """List and search entries, newest first (the filters of GET /entries)."""
    start, end = _day(date_from, "--from"), _day(date_to, "--to")
    with _db().reading() as session:
        try:
            page = queries.list_entries(
                session,
                SYSTEM,
                ref_key=ref_key,
                ref_value=ref_value,
                kind=kind,
                account=account,
                holder=holder,
                actor_name=actor,
                date_from=start,
                date_to=end,
                cursor=cursor,
                limit=limit,
            )
        except LedgerError as exc:
            _fail(exc)
        decimals = queries.commodity_decimals(
            session, {p["commodity"] for e in page.items for p in e["postings"]}
        )
    table = Table("date", "entry", "kind", "actor", "memo", "refs", "postings")
    for e in page.items:
        table.add_row(
            _cell(e["effective_date"]),
            _cell(e["id"]),
            _cell(e["kind"]),
            _cell(e["actor"]),
            _cell(e["memo"]),
            _cell("\n".join(f"{k}={v}" for k, v in e["refs"].items())),
            _postings_text(e["postings"], decimals),
        )
    console.print(table) if page.items else _say("no entries match")
    if page.next_cursor:
        _say(f"more: --cursor {page.next_cursor}")


@ledger_app.command("entry")
def entry(entry_id: Annotated[str, typer.Argument(help="The entry's id")]) -> None:
    """One entry: its postings and the serials they moved."""
    try:
        key = uuid.UUID(entry_id)
    except ValueError:
        _error(f"{entry_id!r} is not an entry id (a UUID such as 0196a5c2-…)")
    with _db().reading() as session:
        try:
            view = queries.get_entry(session, SYSTEM, key)
        except LedgerError as exc:
            _fail(exc)
        decimals = queries.commodity_decimals(session, {p["commodity"] for p in view["postings"]})
    _say(f"entry {view['id']} ({view['kind']}), effective {view['effective_date']}")
    _say(f"posted {view['created_at']:%Y-%m-%d %H:%M:%S} UTC by {view['actor']}")
    for label, value in [
        ("idempotency key", view["idempotency_key"]),
        ("memo", view["memo"]),
        ("refs", ", ".join(f"{k}={v}" for k, v in view["refs"].items())),
        ("reverses", view["reverses_entry_id"]),
        ("reversed by", view["reversed_by_entry_id"]),
    ]:
        if value:
            _say(f"{label}: {value}")
    table = Table("line", "account", "commodity", "amount", "serials")
    for p in view["postings"]:
        table.add_row(
            str(p["line_no"]),
            _cell(p["account"]),
            _cell(p["commodity"]),
            _money(p["amount"], decimals.get(p["commodity"], 0)),
            _cell(" ".join(p["serials"])),
        )
    console.print(table)


@export_app.command("beancount")
def export_beancount(file: Path) -> None:
    """The whole journal in Beancount syntax; check it with `bean-check FILE`."""
    from ledger.export import write_beancount

    try:
        out = file.open("w", encoding="utf-8")
    except OSError as exc:
        _error(f"cannot write {file}: {exc.strerror or exc}")
    with _db().reading() as session, out:
        summary = write_beancount(session, out)
    _say(f"wrote {file}: {summary}")


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


# -- stock -------------------------------------------------------------------------


@app.command("stock")
def location_stock(
    code: str,
    sku: Annotated[
        str | None, typer.Option(help="SKU prefix, any case (X1- keeps the X1 parts)")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list parts whose every figure is zero")
    ] = False,
) -> None:
    """A location's stock per part: on hand, reserved, available, in transit
    toward it, defective, and its value at today's standard cost."""
    from ledger.parts import stock

    lines = []
    after = None
    with _db().reading() as session:
        try:
            while True:  # every page: a location holds a few thousand parts at most
                page = stock.location_stock(
                    session, SYSTEM, code, sku=sku, after=after, limit=1000, include_zero=show_all
                )
                lines.extend(page.items)
                if page.next_after is None:
                    break
                after = page.next_after
        except LedgerError as exc:
            _fail(exc)
    if not lines:
        _say(f"{code} holds no stock" + (f" of SKUs starting {sku!r}" if sku else ""))
        return
    table = Table(
        "sku", "name", "on hand", "reserved", "available", "in transit", "defective",
        "unit cost CNY", "value CNY", title=Text(f"stock at {code}"),
    )  # fmt: skip
    for line in lines:
        table.add_row(
            _cell(line.sku),
            _cell(line.name),
            *(
                _money(n, 0)
                for n in (
                    line.on_hand,
                    line.reserved,
                    line.available,
                    line.in_transit,
                    line.defective,
                )
            ),
            "unpriced" if line.unit_cost is None else _money(line.unit_cost, 2),
            "" if line.value is None else _money(line.value, 2),
        )
    console.print(table)
    valued = sum(line.value or 0 for line in lines)
    unpriced = sum(1 for line in lines if line.unit_cost is None)
    _say(
        f"{len(lines):,} parts, on hand valued at {_money(valued, 2, 'CNY')}"
        + (f" ({unpriced:,} unpriced, not valued)" if unpriced else "")
    )


# -- locations and approval levels ------------------------------------------------

locations_app = typer.Typer(help="Locations: HQ, regional warehouses, service points.")
levels_app = typer.Typer(help="Approval levels and the approvers given them.")
app.add_typer(locations_app, name="locations")
app.add_typer(levels_app, name="approval-levels")


def _catalog_do(work):
    try:
        return _db().transact(work)
    except LedgerError as exc:
        _fail(exc)


def _location_line(view) -> Text:
    where = ", ".join(p for p in (view.city, view.province, view.region) if p)
    served = f", served by {view.served_by}" if view.served_by else ""
    grade = f", grade {view.grade}" if view.grade else ""
    return Text(
        f"{view.code} {view.name} ({view.kind.value}{grade}, {where}{served}): {view.status.value}"
    )


@locations_app.command("list")
def list_locations(
    kind: Annotated[
        str | None, typer.Option(help="hq, regional_warehouse or service_point")
    ] = None,
    region: str | None = None,
    status: Annotated[str | None, typer.Option(help="active, suspended or terminated")] = None,
    after: Annotated[str | None, typer.Option(help="Code to start after")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Locations in code order."""
    from ledger.catalog import locations as loc

    with _db().reading() as session:
        try:
            rows = loc.list_locations(
                session, SYSTEM, kind=kind, region=region, status=status, after=after, limit=limit
            )
        except LedgerError as exc:
            _fail(exc)
    table = Table(
        "code", "name", "kind", "grade", "region", "province", "city", "served by", "status"
    )
    for r in rows:
        table.add_row(
            *(
                _cell(v)
                for v in (
                    r.code,
                    r.name,
                    r.kind.value,
                    r.grade,
                    r.region,
                    r.province,
                    r.city,
                    r.served_by,
                    r.status.value,
                )
            )
        )
    console.print(table) if rows else _say("no locations match")
    if len(rows) == limit:
        _say(f"more: --after {rows[-1].code}")


@locations_app.command("add")
def add_location(
    code: str,
    kind: Annotated[str, typer.Option(help="hq, regional_warehouse or service_point")],
    name: Annotated[str, typer.Option()],
    region: Annotated[str, typer.Option()],
    province: Annotated[str, typer.Option()],
    city: Annotated[str | None, typer.Option(help="Required but for HQ")] = None,
    grade: Annotated[str | None, typer.Option(help="A, B or C: a service point's")] = None,
    served_by: Annotated[
        str | None, typer.Option(help="A point's regional warehouse; a warehouse's HQ")
    ] = None,
) -> None:
    """Add HQ, a regional warehouse or a service point (and its holder)."""
    from ledger.catalog import locations as loc

    view = _catalog_do(
        lambda s: loc.create_location(
            s,
            SYSTEM,
            kind=kind,
            code=code,
            name=name,
            region=region,
            province=province,
            city=city,
            grade=grade,
            served_by=served_by,
        )
    )
    console.print(Text.assemble("added ", _location_line(view)))


@locations_app.command("show")
def show_location(code: str) -> None:
    """One location, with its status and why."""
    from ledger.catalog import locations as loc

    view = _read(lambda session: loc.get_location(session, SYSTEM, code))
    console.print(_location_line(view))
    since = f"{view.status_changed_at:%Y-%m-%d %H:%M} UTC"
    reason = f": {view.status_reason}" if view.status_reason else ""
    _say(f"status {view.status.value} since {since}{reason}")


@locations_app.command("status")
def location_status(
    code: str,
    set_to: Annotated[str, typer.Option("--set", help="active, suspended or terminated")],
    reason: Annotated[str, typer.Option(help="Why; recorded in the history")],
) -> None:
    """Suspend, reactivate or terminate a service point (termination is final)."""
    from ledger.catalog import locations as loc

    view = _catalog_do(lambda s: loc.set_status(s, SYSTEM, code, set_to, reason))
    console.print(_location_line(view))


def _level_row(level) -> tuple[Text, ...]:
    return tuple(
        _cell(v)
        for v in (
            level.code,
            level.name,
            level.rank,
            f"{level.quantity_limit:,}",
            _money(level.amount_limit, 2, "CNY"),
            "yes" if level.active else "no",
        )
    )


@levels_app.command("list")
def list_levels() -> None:
    """Approval levels, lowest rank first, with their per-requisition limits."""
    from ledger.catalog import locations as loc

    with _db().reading() as session:
        levels = loc.list_levels(session, SYSTEM)
    table = Table("code", "name", "rank", "quantity limit", "amount limit", "active")
    for level in levels:
        table.add_row(*_level_row(level))
    console.print(table) if levels else _say("no approval levels yet")


@levels_app.command("add")
def add_level(
    code: str,
    name: Annotated[str, typer.Option()],
    rank: Annotated[int, typer.Option(help="Higher = more authority")],
    quantity_limit: Annotated[int, typer.Option(help="Units per requisition")],
    amount_limit: Annotated[str, typer.Option(help="CNY at standard cost, e.g. 5000.00")],
) -> None:
    """Add an approval level (a higher rank never has lower limits)."""
    from ledger.catalog import locations as loc

    fen = _fen(amount_limit, "--amount-limit", least=1)
    level = _catalog_do(
        lambda s: loc.create_level(
            s,
            SYSTEM,
            code=code,
            name=name,
            rank=rank,
            quantity_limit=quantity_limit,
            amount_limit=fen,
        )
    )
    console.print(Text.assemble("added ", *(" ".join(str(c) for c in _level_row(level)),)))


@levels_app.command("assign")
def assign_level(username: str, level: str) -> None:
    """Give an approver their approval level."""
    from ledger.catalog import locations as loc

    done = _catalog_do(lambda s: loc.assign_level(s, SYSTEM, username, level))
    _say(f"{done.username} approves at {done.level.code} (rank {done.level.rank})")


# ----------------------------------------------------------------------------- parts catalog


def _price_text(price) -> str:
    if price is None:
        return "no price in force"
    cost = _money(price.standard_cost, 2, "CNY")
    listed = _money(price.list_price, 2, "CNY")
    return f"cost {cost}, list {listed} (from {price.effective_from.isoformat()})"


@parts_app.command("list")
def parts_list(
    q: Annotated[str | None, typer.Option(help="SKU prefix or part of a name")] = None,
    category: str | None = None,
    warranty_class: Annotated[
        str | None, typer.Option(help="handset, charger, battery, accessory")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Only parts that fit this model")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
    after: Annotated[str | None, typer.Option(help="SKU to start after")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Parts in SKU order, with their models and the price in force today."""
    from ledger.catalog import parts

    with _db().reading() as session:
        try:
            rows = parts.list_parts(
                session,
                SYSTEM,
                q=q,
                category=category,
                warranty_class=warranty_class,
                model=model,
                active=active,
                after=after,
                limit=limit,
            )
        except LedgerError as exc:
            _fail(exc)
    if not rows:
        _say("no parts match")
        return
    table = Table(
        "sku", "name (zh)", "name (en)", "category", "warranty", "models", "price", "active"
    )
    for p in rows:
        table.add_row(
            _cell(p.sku),
            _cell(p.name_zh),
            _cell(p.name_en),
            _cell(p.category),
            _cell(p.warranty_class.value),
            _cell(" ".join(p.models)),
            _cell(_price_text(p.current_price)),
            "yes" if p.active else "no",
        )
    console.print(table)
    if len(rows) == limit:
        _say(f"more: --after {rows[-1].sku}")


@parts_app.command("add")
def parts_add(
    sku: str,
    zh: Annotated[str, typer.Option("--zh", help="Chinese name")],
    en: Annotated[str, typer.Option("--en", help="English name")],
    category: Annotated[str, typer.Option(help="screen, board, battery…")],
    warranty_class: Annotated[str, typer.Option(help="handset, charger, battery, accessory")],
    model: Annotated[
        list[str] | None, typer.Option("--model", help="A model it fits (repeat)")
    ] = None,
    serialized: Annotated[bool, typer.Option("--serialized", help="Tracked by serial")] = False,
    returnable: Annotated[
        bool,
        typer.Option(
            "--returnable", help="Replaced in warranty, it goes back to the factory (boards, …)"
        ),
    ] = False,
) -> None:
    """Add a part (its SKU becomes a commodity of the ledger)."""
    from ledger.catalog import parts

    try:
        part = _db().transact(
            lambda s: parts.create_part(
                s,
                SYSTEM,
                sku,
                name_zh=zh,
                name_en=en,
                category=category,
                warranty_class=warranty_class,
                models=model or [],
                serialized=serialized,
                returnable=returnable,
            )
        )
    except LedgerError as exc:
        _fail(exc)
    _say(f"part {part.sku} added ({part.name_en}, {part.warranty_class.value})")


@parts_app.command("show")
def parts_show(sku: str) -> None:
    """One part: names, class, models and the price in force today."""
    from ledger.catalog import parts

    p = _read(lambda session: parts.get_part(session, SYSTEM, sku))
    _say(f"{p.sku}: {p.name_zh} / {p.name_en}")
    _say(f"category {p.category}, warranty class {p.warranty_class.value}")
    _say(f"returned to the factory when replaced: {'yes' if p.returnable else 'no'}")
    _say(f"serialized: {'yes' if p.serialized else 'no'}, active: {'yes' if p.active else 'no'}")
    _say(f"fits: {' '.join(p.models) or 'no model'}")
    _say(f"price: {_price_text(p.current_price)}")


@parts_app.command("price")
def parts_price(
    sku: str,
    date_from: Annotated[str, typer.Option("--from", help="YYYY-MM-DD: effective from")],
    cost: Annotated[str, typer.Option(help="Standard cost in CNY, e.g. 12.50")],
    list_price: Annotated[str, typer.Option("--list", help="Out-of-warranty list price in CNY")],
) -> None:
    """Set a part's price from a day on (a day already priced is refused)."""
    from ledger.catalog import parts

    day = _day(date_from, "--from")
    standard, listed = _fen(cost, "--cost"), _fen(list_price, "--list")
    try:
        price = _db().transact(
            lambda s: parts.set_price(
                s, SYSTEM, sku, effective_from=day, standard_cost=standard, list_price=listed
            )
        )
    except LedgerError as exc:
        _fail(exc)
    _say(f"{price.sku}: {_price_text(price)}")


# ----------------------------------------------------------------------------- suppliers

suppliers_app = typer.Typer(help="Suppliers: payment terms, minimum order and pack per part.")
app.add_typer(suppliers_app, name="suppliers")


@suppliers_app.command("list")
def suppliers_list(
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
    after: Annotated[str | None, typer.Option(help="Code to start after")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Suppliers in code order."""
    from ledger.catalog import suppliers

    with _db().reading() as session:
        try:
            rows = suppliers.list_suppliers(
                session, SYSTEM, active=active, after=after, limit=limit
            )
        except LedgerError as exc:
            _fail(exc)
    if not rows:
        _say("no suppliers match")
        return
    table = Table("code", "name", "terms (days)", "contact", "active")
    for row in rows:
        table.add_row(
            _cell(row.code),
            _cell(row.name),
            str(row.payment_terms_days),
            _cell(row.contact or ""),
            "yes" if row.active else "no",
        )
    console.print(table)
    if len(rows) == limit:
        _say(f"more: --after {rows[-1].code}")


@suppliers_app.command("add")
def suppliers_add(
    code: str,
    name: Annotated[str, typer.Option(help="The supplier's name")],
    terms: Annotated[int, typer.Option(help="Payment terms in days (0 to 365)")],
    contact: Annotated[str | None, typer.Option(help="Who to call, one line")] = None,
) -> None:
    """Add a supplier (it becomes a holder of the ledger, of kind supplier)."""
    from ledger.catalog import suppliers

    view = _catalog_do(
        lambda s: suppliers.create_supplier(
            s, SYSTEM, code, name=name, payment_terms_days=terms, contact=contact
        )
    )
    _say(f"supplier {view.code} added ({view.name}, pays in {view.payment_terms_days} days)")


@suppliers_app.command("show")
def suppliers_show(code: str) -> None:
    """One supplier: its terms and the minimum order and pack of each part."""
    from ledger.catalog import suppliers

    view = _read(lambda session: suppliers.get_supplier(session, SYSTEM, code))
    _say(f"{view.code}: {view.name}")
    _say(f"payment terms: {view.payment_terms_days} days, active: {'yes' if view.active else 'no'}")
    _say(f"contact: {view.contact or 'none'}")
    if not view.parts:
        _say("no parts")
    for rule in view.parts or []:
        _say(f"{rule.sku}: minimum {rule.minimum_order:,}, pack {rule.pack_size:,}")


@suppliers_app.command("part")
def suppliers_part(
    code: str,
    sku: str,
    minimum: Annotated[int, typer.Option(help="Minimum order, units (whole packs)")],
    pack: Annotated[int, typer.Option(help="Pack size, units")],
) -> None:
    """Set how a supplier sells a part: a minimum order, in packs."""
    from ledger.catalog import suppliers

    rule = _catalog_do(
        lambda s: suppliers.set_supplier_part(
            s, SYSTEM, code, sku, minimum_order=minimum, pack_size=pack
        )
    )
    _say(
        f"{rule.supplier} sells {rule.sku}: minimum {rule.minimum_order:,}, pack {rule.pack_size:,}"
    )


# -- the parts cycle ----------------------------------------------------------------

requisitions_app = typer.Typer(help="Requisitions: raise, approve, issue.")
shipments_app = typer.Typer(help="Shipments in transit and their receipt; shortages.")
app.add_typer(requisitions_app, name="requisitions")
app.add_typer(shipments_app, name="shipments")

AsUser = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Act as this user, with their role and limits (default: the system administrator)",
    ),
]
Lines = Annotated[
    list[str] | None,
    typer.Option("--line", help="LINE=UNITS, repeatable (e.g. --line 2=6); default: every line"),
]
Key = Annotated[str | None, typer.Option("--key", help="As Idempotency-Key over HTTP")]


def _acting(session, username: str | None):
    """The actor a command runs as: a named active user, or the system."""
    from ledger.models import User
    from ledger.policy import Actor

    if username is None:
        return SYSTEM
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        _error(f"--as {username!r}: no active user of that name; see `aftersales users list`")
    return Actor(user.username, Role(user.role), user.holder_id)


_LINE_UNITS = re.compile(r"[0-9]{1,4}=[0-9]{1,9}")


def _line_units(values: list[str] | None) -> dict[int, int] | None:
    if not values:
        return None
    out: dict[int, int] = {}
    for value in values:
        if not _LINE_UNITS.fullmatch(value):
            _error(f"--line {value!r}: write LINE=UNITS in digits 0-9, e.g. --line 2=6")
        line, _, units = value.partition("=")
        if int(line) in out:
            _error(f"--line {line} is given twice; give each line once")
        out[int(line)] = int(units)
    return out


def _read(work):
    """Read in one session as the system; a problem is a message and exit 1."""
    with _db().reading() as session:
        try:
            return work(session)
        except LedgerError as exc:
            _fail(exc)


def _act(work, username: str | None):
    """Run one document action as `username` in one unit of work."""
    db = _db()
    try:
        return db.transact(lambda s: work(s, _acting(s, username)))
    except LedgerError as exc:
        _fail(exc)


def _show_requisition(view) -> None:
    amount = "" if view.amount is None else f", {_money(view.amount, 2, 'CNY')}"
    _say(
        f"{view.number} {view.state.value}: {view.requester} from {view.warehouse}, "
        f"{view.quantity:,} units{amount}"
    )
    table = Table("line", "sku", "name", "requested", "approved", "shipped", "received", "short")
    for line in view.lines:
        table.add_row(
            str(line.line_no), Text(line.sku), Text(line.name), f"{line.requested:,}",
            "" if line.approved is None else f"{line.approved:,}", f"{line.shipped:,}",
            f"{line.received:,}", f"{line.short:,}",
        )  # fmt: skip
    console.print(table)
    for step in view.history:
        why = f": {step.reason}" if step.reason else ""
        _say(f"  {step.at:%Y-%m-%d %H:%M} {step.actor} {step.action}{why}")


@requisitions_app.command("list")
def requisitions_list(
    state: Annotated[str | None, typer.Option(help="draft, submitted, approved, issued…")] = None,
    requester: Annotated[str | None, typer.Option(help="A point or regional warehouse")] = None,
    awaiting: Annotated[
        str | None, typer.Option(help="within or above: the --as approver's queue")
    ] = None,
    to_ship: Annotated[
        bool, typer.Option("--to-ship", help="Only those with approved units not shipped yet")
    ] = False,
    as_user: AsUser = None,
    limit: int = 100,
) -> None:
    """Requisitions, oldest first."""
    from ledger.parts import requisitions

    try:
        state_ = requisitions.State(state) if state else None
        awaiting_ = requisitions.Awaiting(awaiting) if awaiting else None
    except ValueError as exc:
        _error(str(exc))
    with _db().reading() as session:
        try:
            items = requisitions.list_requisitions(
                session, _acting(session, as_user), state=state_, requester=requester,
                awaiting=awaiting_, to_ship=to_ship, limit=limit,
            )  # fmt: skip
        except LedgerError as exc:
            _fail(exc)
    table = Table("number", "state", "requester", "warehouse", "units", "amount", "submitted")
    for r in items:
        table.add_row(
            r.number, r.state.value, Text(r.requester), Text(r.warehouse), f"{r.quantity:,}",
            "" if r.amount is None else _money(r.amount, 2),
            r.submitted_at.strftime("%Y-%m-%d") if r.submitted_at else "",
        )  # fmt: skip
    console.print(table)


@requisitions_app.command("show")
def requisitions_show(number: str) -> None:
    """A requisition: its lines and every decision."""
    from ledger.parts import requisitions

    view = _read(lambda session: requisitions.get(session, SYSTEM, number))
    _show_requisition(view)


@requisitions_app.command("approve")
def requisitions_approve(
    number: str,
    as_user: Annotated[str, typer.Option("--as", help="The approver")],
    line: Lines = None,
    reason: str | None = None,
    key: Key = None,
) -> None:
    """Approve in full, or in part with --line LINE=UNITS, within the approver's limits."""
    from ledger.parts import requisitions

    lines = _line_units(line)
    view = _act(
        lambda s, who: requisitions.approve(s, who, number, lines=lines, reason=reason, key=key),
        as_user,
    )
    _show_requisition(view)


@requisitions_app.command("reject")
def requisitions_reject(
    number: str,
    as_user: Annotated[str, typer.Option("--as", help="The approver")],
    reason: Annotated[str, typer.Option(help="Why, in words")],
    key: Key = None,
) -> None:
    """Reject a submitted requisition, with a reason."""
    from ledger.parts import requisitions

    view = _act(lambda s, who: requisitions.reject(s, who, number, reason=reason, key=key), as_user)
    _show_requisition(view)


def _show_shipment(view) -> None:
    courier = f" by {view.courier} {view.tracking_number or ''}".rstrip() if view.courier else ""
    _say(
        f"{view.number} {view.kind.value} {view.state.value}: {view.sender} -> {view.receiver}"
        f"{courier}"
    )
    table = Table("line", "sku", "shipped", "received", "short")
    for ln in view.lines:
        table.add_row(
            str(ln.line_no), Text(ln.sku), f"{ln.quantity:,}",
            "" if ln.received is None else f"{ln.received:,}",
            "" if ln.short is None else f"{ln.short:,}",
        )  # fmt: skip
    console.print(table)
    for number in view.discrepancies:
        _say(f"  shortage {number}: resolve it with `aftersales shipments resolve {number}`")


@requisitions_app.command("issue")
def requisitions_issue(
    number: str,
    line: Lines = None,
    courier: str | None = None,
    tracking: Annotated[str | None, typer.Option(help="The courier's tracking number")] = None,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Ship approved units (all of them, or --line LINE=UNITS) in one shipment."""
    from ledger.parts import requisitions

    lines = _line_units(line)
    view = _act(
        lambda s, who: requisitions.issue(
            s, who, number, lines=lines, courier=courier, tracking_number=tracking, key=key
        ),
        as_user,
    )
    _show_shipment(view)


@shipments_app.command("list")
def shipments_list(
    in_transit: Annotated[bool, typer.Option("--in-transit", help="Only those in transit")] = False,
    older_than: Annotated[
        int | None, typer.Option(min=0, max=3650, help="In transit longer than this many days")
    ] = None,
    holder: Annotated[str | None, typer.Option(help="From or to this location")] = None,
    limit: int = 100,
) -> None:
    """Shipments, newest first."""
    from ledger.parts import shipments

    state = shipments.ShipmentState.IN_TRANSIT if in_transit else None
    with _db().reading() as session:
        try:
            items = shipments.list_shipments(
                session, SYSTEM, state=state, holder=holder, older_than_days=older_than,
                limit=limit,
            )  # fmt: skip
        except LedgerError as exc:
            _fail(exc)
    table = Table("number", "kind", "state", "from", "to", "units", "shipped", "days")
    for sh in items:
        table.add_row(
            sh.number, sh.kind.value, sh.state.value, Text(sh.sender), Text(sh.receiver),
            f"{sh.quantity:,}", f"{sh.shipped_on}",
            "" if sh.days_in_transit is None else str(sh.days_in_transit),
        )  # fmt: skip
    console.print(table)


@shipments_app.command("receive")
def shipments_receive(
    number: str,
    line: Annotated[
        list[str] | None,
        typer.Option(
            "--line", help="LINE=UNITS that arrived, repeatable; a line left out arrived in full"
        ),
    ] = None,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Confirm a shipment; what is short opens a discrepancy."""
    from ledger.parts import receiving

    received = _line_units(line)
    view = _act(
        lambda s, who: receiving.receive(s, who, number, received=received, key=key), as_user
    )
    _show_shipment(view)


@shipments_app.command("resolve")
def shipments_resolve(
    number: Annotated[str, typer.Argument(help="The discrepancy, DS-…")],
    outcome: Annotated[str, typer.Argument(help="found or lost")],
    reason: Annotated[str, typer.Option(help="What was found out")],
    charge: Annotated[
        bool, typer.Option(help="Lost: charge the point on the shipment (finance)")
    ] = False,
    unit_price: Annotated[
        str | None, typer.Option(help="CNY per unit charged (the list price by default)")
    ] = None,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Resolve a shortage: found (into stock) or lost (written off, chargeable)."""
    from ledger.parts import receiving
    from ledger.parts.shipments import DiscrepancyState

    if outcome not in ("found", "lost"):
        _error(f"outcome {outcome!r}: write found or lost")
    price = None if unit_price is None else _fen(unit_price, "--unit-price", least=1)
    view = _act(
        lambda s, who: receiving.resolve(
            s, who, number, outcome=DiscrepancyState(outcome), reason=reason, key=key,
            charge=charge, unit_price=price,
        ),
        as_user,
    )  # fmt: skip
    _say(f"{view.number} {view.state.value}: {view.quantity:,} x {view.sku} at {view.holder}")


# ----------------------------------------------------------------------------- stock counts

counts_app = typer.Typer(help="Stock counts (盘点): snapshot, sheet, counts, variances, approval.")
app.add_typer(counts_app, name="counts")

_SKU_UNITS = re.compile(r"([A-Z0-9'._-]{1,24})=([0-9]{1,10})")


def _show_count(view) -> None:
    blind = ", blind" if view.blind else ""
    _say(
        f"{view.number} {view.state.value}: {view.location}, {view.counted:,} of "
        f"{view.lines:,} counted{blind}, snapshot {view.snapshot_on}"
    )
    for step in view.history:
        why = f": {step.reason}" if step.reason else ""
        _say(f"  {step.at:%Y-%m-%d %H:%M} {step.actor} {step.action}{why}")


def _read_as(work, as_user: str | None):
    with _db().reading() as session:
        try:
            return work(session, _acting(session, as_user))
        except LedgerError as exc:
            _fail(exc)


@counts_app.command("open")
def counts_open(
    location: str,
    blind: Annotated[
        bool, typer.Option("--blind", help="Hide the book from the sheet until submitted")
    ] = False,
    sku: Annotated[list[str] | None, typer.Option("--sku", help="Count only this SKU")] = None,
    category: Annotated[str | None, typer.Option(help="Count only this category")] = None,
    note: str | None = None,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Open a count at a location: a snapshot of its book."""
    from ledger.parts import counts

    view = _act(
        lambda s, who: counts.open_count(
            s, who, location=location, blind=blind, skus=sku or None, category=category,
            note=note, key=key,
        ),
        as_user,
    )  # fmt: skip
    _show_count(view)


@counts_app.command("list")
def counts_list(
    location: Annotated[str | None, typer.Option(help="At this location")] = None,
    state: Annotated[str | None, typer.Option(help="open, submitted, approved, cancelled")] = None,
    as_user: AsUser = None,
    limit: int = 100,
) -> None:
    """Stock counts, newest first."""
    from ledger.parts import counts

    try:
        state_ = counts.CountState(state) if state else None
    except ValueError as exc:
        _error(str(exc))
    items = _read_as(
        lambda s, who: counts.list_counts(s, who, location=location, state=state_, limit=limit),
        as_user,
    )
    table = Table("number", "state", "location", "lines", "counted", "blind", "snapshot")
    for c in items:
        table.add_row(
            c.number, c.state.value, Text(c.location), f"{c.lines:,}", f"{c.counted:,}",
            "yes" if c.blind else "", f"{c.snapshot_on}",
        )  # fmt: skip
    console.print(table)


@counts_app.command("show")
def counts_show(
    number: str,
    lines: Annotated[int, typer.Option(min=0, max=10_000, help="Lines to show")] = 50,
    as_user: AsUser = None,
) -> None:
    """A count, its first lines and its history."""
    from ledger.parts import counts

    view = _read_as(lambda s, who: counts.get(s, who, number, limit=max(lines, 1)), as_user)
    _show_count(view)
    if lines:
        table = Table("line", "sku", "name", "book", "counted")
        for ln in view.items:
            table.add_row(
                str(ln.line_no), Text(ln.sku), Text(ln.name_en),
                "" if ln.book is None else f"{ln.book:,}",
                "" if ln.counted is None else f"{ln.counted:,}",
            )  # fmt: skip
        console.print(table)
        if view.next_after is not None:
            _say(f"  … more lines: GET /counts/{number}?after={view.next_after}")


@counts_app.command("sheet")
def counts_sheet(
    number: str,
    out: Annotated[Path | None, typer.Option(help="Where to write it (default: its name)")] = None,
    as_user: AsUser = None,
) -> None:
    """Write the count sheet (xlsx) to fill in."""
    from importers import count_sheet
    from ledger.parts import counts

    sheet = _read_as(lambda s, who: counts.sheet(s, who, number), as_user)
    path = out or Path(sheet.filename)
    path.write_bytes(count_sheet.write_sheet(sheet))
    _say(f"{path}: {len(sheet.lines):,} lines of {number}")


@counts_app.command("enter")
def counts_enter(
    number: str,
    counted: Annotated[list[str], typer.Argument(help="SKU=UNITS, e.g. X1-LCD=12")],
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Enter counts by SKU (a later value for a SKU replaces an earlier one)."""
    from ledger.parts import counts

    lines = []
    for i, value in enumerate(counted, start=1):
        match = _SKU_UNITS.fullmatch(value)
        if match is None:
            _error(f"{value!r}: write SKU=UNITS with the units in digits 0-9, e.g. X1-LCD=12")
        lines.append(counts.CountIn(match.group(1), int(match.group(2)), i))
    view = _act(lambda s, who: counts.enter(s, who, number, lines, key=key), as_user)
    _show_count(view)


@counts_app.command("upload")
def counts_upload(
    number: str,
    file: Annotated[Path, typer.Argument(help="The filled count sheet (.xlsx)")],
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Enter the counts of a filled count sheet."""
    from importers import count_sheet
    from ledger.parts import counts

    try:
        data = file.read_bytes()
    except OSError as exc:
        _error(f"{file}: {exc.strerror or exc}")
    try:
        lines = count_sheet.read_sheet(data)
    except LedgerError as exc:
        _fail(exc)
    if not lines:
        _error(f"{file}: the sheet has no counts; fill in the counted column")
    view = _act(lambda s, who: counts.enter(s, who, number, lines, key=key), as_user)
    _show_count(view)


@counts_app.command("submit")
def counts_submit(
    number: str,
    uncounted_as_zero: Annotated[
        bool, typer.Option("--uncounted-as-zero", help="Count every line not counted as 0")
    ] = False,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Freeze the counts."""
    from ledger.parts import counts

    view = _act(
        lambda s, who: counts.submit(s, who, number, uncounted_as_zero=uncounted_as_zero, key=key),
        as_user,
    )
    _show_count(view)


@counts_app.command("variances")
def counts_variances(
    number: str,
    out: Annotated[Path | None, typer.Option(help="Also write the report as xlsx here")] = None,
    as_user: AsUser = None,
) -> None:
    """Counted − book per line that differs, at standard cost, with totals."""
    from importers import count_sheet
    from ledger.parts import counts

    report = _read_as(lambda s, who: counts.variances(s, who, number), as_user)
    table = Table("line", "sku", "book", "counted", "variance", "unit cost", "value")
    for ln in report.items:
        table.add_row(
            str(ln.line_no), Text(ln.sku), f"{ln.book:,}", f"{ln.counted:,}", f"{ln.variance:+,}",
            "" if ln.unit_cost is None else _money(ln.unit_cost, 2),
            "" if ln.value is None else _money(ln.value, 2),
        )  # fmt: skip
    console.print(table)
    _say(
        f"{report.number} at {report.location}: {report.differing:,} of {report.lines:,} lines "
        f"differ; gain {report.gain_units:,} units {_money(report.gain_value, 2, 'CNY')}, "
        f"loss {report.loss_units:,} units {_money(report.loss_value, 2, 'CNY')}, "
        f"net {_money(report.net_value, 2, 'CNY')}"
    )
    if out is not None:
        out.write_bytes(count_sheet.write_variances(report))
        _say(f"{out}: written")


@counts_app.command("approve")
def counts_approve(
    number: str,
    as_user: Annotated[str, typer.Option("--as", help="The approver")],
    reason: str | None = None,
    key: Key = None,
) -> None:
    """Approve a submitted count: posts its variances against the snapshot."""
    from ledger.parts import counts

    view = _act(lambda s, who: counts.approve(s, who, number, reason=reason, key=key), as_user)
    _show_count(view)


@counts_app.command("cancel")
def counts_cancel(
    number: str,
    reason: str | None = None,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Cancel an open or submitted count (nothing is posted)."""
    from ledger.parts import counts

    view = _act(lambda s, who: counts.cancel(s, who, number, reason=reason, key=key), as_user)
    _show_count(view)


# ----------------------------------------------------------------------------- purchase orders

po_app = typer.Typer(help="Purchase orders: HQ buying parts from suppliers.")
app.add_typer(po_app, name="po")


@po_app.command("list")
def po_list(
    open_only: Annotated[
        bool, typer.Option("--open", help="Approved or partly received only")
    ] = False,
    late: Annotated[bool, typer.Option("--late", help="Open and expected before today")] = False,
    supplier: Annotated[str | None, typer.Option(help="One supplier's orders")] = None,
    awaiting: Annotated[
        str | None, typer.Option(help="within or above: the --as approver's queue")
    ] = None,
    as_user: AsUser = None,
    after: Annotated[str | None, typer.Option(help="Number to start after")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Purchase orders, oldest first."""
    from ledger.parts import purchasing

    with _db().reading() as session:
        try:
            rows = purchasing.list_purchase_orders(
                session, _acting(session, as_user), supplier=supplier, open_only=open_only,
                late_only=late, awaiting=awaiting, after=after, limit=limit,
            )  # fmt: skip
        except LedgerError as exc:
            _fail(exc)
    if not rows:
        _say("no purchase orders match")
        return
    table = Table("number", "state", "supplier", "expected", "amount", "created by")
    for row in rows:
        table.add_row(
            _cell(row.number),
            _cell(row.state.value),
            _cell(row.supplier),
            row.expected_on.isoformat(),
            _money(row.amount, 2, "CNY"),
            _cell(row.created_by),
        )
    console.print(table)
    if len(rows) == limit:
        _say(f"more: --after {rows[-1].number}")


def _po_print(view) -> None:
    escalated = f", escalated to {view.escalated_to}" if view.escalated_to else ""
    _say(f"{view.number} to {view.supplier}: {view.state.value}{escalated}")
    _say(f"expected {view.expected_on.isoformat()}, {_money(view.amount, 2, 'CNY')}")
    table = Table("line", "sku", "name", "ordered", "received", "unit price", "amount")
    for line in view.lines:
        table.add_row(
            str(line.line_no), _cell(line.sku), _cell(line.name), f"{line.quantity:,}",
            f"{line.received:,}", _money(line.unit_price, 2), _money(line.amount, 2),
        )  # fmt: skip
    console.print(table)
    for step in view.history:
        moved = f"{step.state_before or '-'} → {step.state_after or '-'}"
        why = f": {step.reason}" if step.reason else ""
        _say(f"{step.at:%Y-%m-%d %H:%M} {step.actor} {step.action} ({moved}){why}")


@po_app.command("show")
def po_show(number: str) -> None:
    """One purchase order: its lines, what is received, and its history."""
    from ledger.parts import purchasing

    view = _read(lambda session: purchasing.get(session, SYSTEM, number))
    _po_print(view)


@po_app.command("receive")
def po_receive(
    number: str,
    line: Annotated[
        list[str] | None,
        typer.Option("--line", help="LINE=UNITS received, repeatable (e.g. --line 1=50)"),
    ] = None,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Receive units of an approved purchase order at HQ (one journal entry)."""
    from ledger.parts import purchasing

    received = _line_units(line)
    if not received:
        _error("give what arrived: --line LINE=UNITS, repeatable")
    view = _act(lambda s, who: purchasing.receive(s, who, number, lines=received, key=key), as_user)
    _say(f"received: {number} is now {view.state.value}, receipt entry {view.receipts[-1]}")
    _po_print(view)


warranty_app = typer.Typer(help="The warranty rules: DOA, DAP, WH or F for a case.")
app.add_typer(warranty_app, name="warranty")


# The fields of a warranty case, as options: `warranty decide` and
# `repairs write-off` take the same ones.
PartClassOption = Annotated[
    str,
    typer.Option(
        "--class", help="handset (the handset and its internal parts), charger, battery, accessory"
    ),
]
ReportedOption = Annotated[str, typer.Option(help="Reported on, YYYY-MM-DD")]
ManufacturedOption = Annotated[str, typer.Option(help="Manufactured on, YYYY-MM-DD")]
PurchasedOption = Annotated[
    str | None, typer.Option(help="Purchased on, YYYY-MM-DD (required with --proof)")
]
ProofOption = Annotated[
    bool, typer.Option("--proof/--no-proof", help="A valid warranty card or invoice")
]
SoldOption = Annotated[bool, typer.Option("--sold/--never-sold", help="Sold to a customer")]
ManMadeOption = Annotated[
    bool, typer.Option("--man-made", help="Man-made damage (misuse, torn seals…)")
]
TalkOption = Annotated[int, typer.Option(help="Talk time in minutes")]
CosmeticOption = Annotated[
    bool, typer.Option("--cosmetic-ok/--worn", help="No wear, labels and seals intact")
]
ExtendedOption = Annotated[int, typer.Option(help="Extended warranty months (handset only)")]
_CASE_OPTIONS = {
    "part_class": "--class",
    "reported_on": "--reported",
    "manufactured_on": "--manufactured",
    "purchased_on": "--purchased",
    "proof_of_purchase": "--proof",
    "sold": "--sold",
    "talk_minutes": "--talk-minutes",
    "extended_months": "--extended-months",
}


def _case(
    part_class, reported, manufactured, purchased, proof, sold, man_made, talk_minutes,
    cosmetic_ok, extended_months,
):  # fmt: skip
    """The warranty case the options describe, checked by the rules (an
    error names the option)."""
    from ledger.parts.warranty import Case, decide

    try:
        case = Case(
            part_class=part_class,
            reported_on=_day(reported, "--reported"),
            manufactured_on=_day(manufactured, "--manufactured"),
            purchased_on=_day(purchased, "--purchased"),
            proof_of_purchase=proof,
            sold=sold,
            man_made_damage=man_made,
            talk_minutes=talk_minutes,
            cosmetic_ok=cosmetic_ok,
            extended_months=extended_months,
        )
    except ValidationError as exc:
        _error(
            "; ".join(
                f"{_CASE_OPTIONS.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else 'case'}: "
                f"{e['msg']}"
                for e in exc.errors()
            )
        )
    try:
        return case, decide(case)
    except LedgerError as exc:
        field = exc.where.get("field")
        _error(f"{_CASE_OPTIONS.get(field, field)}: {exc.detail}" if field else exc.detail)


def _show_decision(decision) -> None:
    ends = decision.warranty_ends_on
    table = Table(show_header=False)
    table.add_row("category", _cell(decision.category.value))
    table.add_row("warranty ends", _cell(ends.isoformat() if ends else "none"))
    table.add_row("reason", _cell(decision.reason))
    table.add_row("原因", _cell(decision.reason_zh))
    console.print(table)


@warranty_app.command("decide")
def warranty_decide(
    part_class: PartClassOption,
    reported: ReportedOption,
    manufactured: ManufacturedOption,
    purchased: PurchasedOption = None,
    proof: ProofOption = False,
    sold: SoldOption = True,
    man_made: ManMadeOption = False,
    talk_minutes: TalkOption = 0,
    cosmetic_ok: CosmeticOption = True,
    extended_months: ExtendedOption = 0,
) -> None:
    """Check a case before repairing it: its service category, warranty end and why.

    Reads and writes nothing (ledger/parts/warranty.py; README "Warranty rules")."""
    _, decision = _case(
        part_class, reported, manufactured, purchased, proof, sold, man_made, talk_minutes,
        cosmetic_ok, extended_months,
    )  # fmt: skip
    _show_decision(decision)


# ----------------------------------------------------------------------------- repairs

repairs_app = typer.Typer(help="Repairs: write off the parts a repair used, by the warranty rules.")
app.add_typer(repairs_app, name="repairs")

_SKU_UNITS = re.compile(r"([^=\s]{1,24})=([0-9]{1,9})")


def _sku_units(values: list[str] | None, option: str):
    from ledger.parts.requisitions import LineIn

    out = []
    for value in values or []:
        match = _SKU_UNITS.fullmatch(value)
        if match is None:
            _error(f"{option} {value!r}: write SKU=UNITS, e.g. {option} X1-LCD=1")
        out.append(LineIn(sku=match.group(1), quantity=int(match.group(2))))
    return out


def _show_repair(view) -> None:
    charge = f", chargeable {_money(view.charge, 2, 'CNY')}" if view.chargeable else ""
    _say(
        f"{view.number} {view.state.value}: repair {view.repair_number} at {view.point}, "
        f"{view.category.value}, cost {_money(view.cost, 2, 'CNY')}{charge}"
    )
    _say(f"  {view.decision.reason}")
    table = Table("line", "sku", "units", "unit cost", "defective")
    for p in view.parts:
        table.add_row(
            str(p.line_no), Text(p.sku), f"{p.quantity:,}", _money(p.unit_cost, 2, "CNY"),
            f"{p.defective:,}",
        )  # fmt: skip
    console.print(table)
    for step in view.history:
        why = f": {step.reason}" if step.reason else ""
        _say(f"  {step.at:%Y-%m-%d %H:%M} {step.actor} {step.action}{why}")


@repairs_app.command("write-off")
def repairs_write_off(
    repair_number: Annotated[str, typer.Argument(help="The point's own repair number")],
    serial: Annotated[str, typer.Option(help="The customer's handset serial (IMEI)")],
    model: Annotated[str, typer.Option(help="The customer's handset model")],
    fault: Annotated[str, typer.Option(help="The fault, in words")],
    part_class: PartClassOption,
    reported: ReportedOption,
    manufactured: ManufacturedOption,
    part: Annotated[
        list[str] | None, typer.Option("--part", help="SKU=UNITS used, repeatable")
    ] = None,
    point: Annotated[str | None, typer.Option(help="The service point (default: --as's)")] = None,
    category: Annotated[
        str | None, typer.Option(help="The category you claim; refused if the rules disagree")
    ] = None,
    purchased: PurchasedOption = None,
    proof: ProofOption = False,
    sold: SoldOption = True,
    man_made: ManMadeOption = False,
    talk_minutes: TalkOption = 0,
    cosmetic_ok: CosmeticOption = True,
    extended_months: ExtendedOption = 0,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Record a repair and write off the parts it used, in one entry."""
    from ledger.parts import repairs
    from ledger.parts.warranty import Category

    case, _ = _case(
        part_class, reported, manufactured, purchased, proof, sold, man_made, talk_minutes,
        cosmetic_ok, extended_months,
    )  # fmt: skip
    if category is not None and category not in {c.value for c in Category}:
        _error(f"--category {category!r}: write DOA, DAP, WH or F")
    used = _sku_units(part, "--part")
    view = _act(
        lambda s, who: repairs.write_off(
            s, who, point=point, repair_number=repair_number, customer_serial=serial,
            handset_model=model, fault=fault, case=case, parts=used,
            category=Category(category) if category else None, key=key,
        ),
        as_user,
    )  # fmt: skip
    _show_repair(view)


@repairs_app.command("reverse")
def repairs_reverse(
    number: Annotated[str, typer.Argument(help="The repair, RP-…")],
    reason: Annotated[str, typer.Option(help="Why the write-off was wrong")],
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Reverse a write-off: the parts back into stock, the defective units out."""
    from ledger.parts import repairs

    _show_repair(
        _act(lambda s, who: repairs.reverse(s, who, number, reason=reason, key=key), as_user)
    )


@repairs_app.command("show")
def repairs_show(number: Annotated[str, typer.Argument(help="The repair, RP-…")]) -> None:
    """One repair: its case, decision, parts and history."""
    from ledger.parts import repairs

    view = _read(lambda session: repairs.get(session, SYSTEM, number))
    _show_repair(view)


@repairs_app.command("list")
def repairs_list(
    point: Annotated[str | None, typer.Option(help="One service point")] = None,
    month: Annotated[str | None, typer.Option(help="Written off in this month, YYYY-MM")] = None,
    category: Annotated[str | None, typer.Option(help="DOA, DAP, WH or F")] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Per category totals for --month")
    ] = False,
    limit: int = 100,
) -> None:
    """Repairs, newest first; with --summary the month's totals per category."""
    from ledger.parts import repairs
    from ledger.parts.warranty import Category

    if category is not None and category not in {c.value for c in Category}:
        _error(f"--category {category!r}: write DOA, DAP, WH or F")
    if summary and month is None:
        _error("--summary needs --month YYYY-MM")
    with _db().reading() as session:
        try:
            if summary:
                totals = repairs.month_summary(session, SYSTEM, month, point=point)
            else:
                items = repairs.list_repairs(
                    session, SYSTEM, point=point, month=month,
                    category=Category(category) if category else None, limit=limit,
                )  # fmt: skip
        except LedgerError as exc:
            _fail(exc)
    if summary:
        table = Table("category", "repairs", "parts", "cost", "chargeable")
        for c in totals.categories:
            table.add_row(
                c.category.value, f"{c.repairs:,}", f"{c.quantity:,}",
                _money(c.cost, 2, "CNY"), _money(c.charge, 2, "CNY"),
            )  # fmt: skip
        console.print(table)
        return
    table = Table("number", "point", "repair", "category", "state", "on", "parts", "cost")
    for r in items:
        table.add_row(
            r.number, Text(r.point), Text(r.repair_number), r.category.value, r.state.value,
            f"{r.written_off_on}", f"{r.quantity:,}", _money(r.cost, 2, "CNY"),
        )  # fmt: skip
    console.print(table)


@shipments_app.command("return")
def shipments_return(
    part: Annotated[
        list[str] | None, typer.Option("--part", help="SKU=UNITS to return, repeatable")
    ] = None,
    point: Annotated[str | None, typer.Option(help="The returning point (default: --as's)")] = None,
    defective: Annotated[
        bool, typer.Option("--defective", help="Defective parts replaced in warranty")
    ] = False,
    courier: Annotated[str | None, typer.Option(help="Courier")] = None,
    tracking: Annotated[str | None, typer.Option(help="Courier number")] = None,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Return unused (or --defective) parts from a point to its warehouse."""
    from ledger.parts import receiving

    lines = _sku_units(part, "--part")
    view = _act(
        lambda s, who: receiving.return_parts(
            s, who, lines=lines, point=point, defective=defective, courier=courier,
            tracking_number=tracking, key=key,
        ),
        as_user,
    )  # fmt: skip
    _show_shipment(view)


# ------------------------------------------------------------------ returns to the factory

factory_app = typer.Typer(
    help="Returns to the factory (返厂): ship, packing list, the factory's count."
)
defective_app = typer.Typer(help="Defective stock awaiting return.")
app.add_typer(factory_app, name="factory")
app.add_typer(defective_app, name="defective")

_ITEM = re.compile(
    r"([A-Z][A-Z0-9'._-]{0,23})=([0-9]{1,9})(?::([A-Z][A-Z0-9'._-]{0,23}))?(?::(.+))?"
)
_SERIALS = re.compile(r"([A-Z][A-Z0-9'._-]{0,23}|[0-9]{1,4})=(.+)")


def _factory_lines(items: list[str] | None, serials: list[str] | None):
    from ledger.parts.factory import ReturnLineIn

    lines = []
    for value in items or []:
        match = _ITEM.fullmatch(value)
        if match is None:
            _error(f"--item {value!r}: write SKU=UNITS, SKU=UNITS:MODEL or SKU=UNITS:MODEL:COLOUR")
        sku, units, model, colour = match.groups()
        lines.append(ReturnLineIn(sku=sku, quantity=int(units), model=model, colour=colour))
    by_model: dict[str, list[str]] = {}
    for value in serials or []:
        match = _SERIALS.fullmatch(value)
        if match is None or match.group(1).isdigit():
            _error(f"--serial {value!r}: write MODEL=SERIAL[,SERIAL…], e.g. --serial X1=8600001")
        by_model.setdefault(match.group(1), []).extend(
            s.strip() for s in match.group(2).split(",") if s.strip()
        )
    lines += [ReturnLineIn(sku=model, serials=tuple(found)) for model, found in by_model.items()]
    if not lines:
        _error("name what goes back: --item SKU=UNITS and/or --serial MODEL=SERIAL")
    return lines


def _serial_note(s) -> str:
    return s.serial if s.state.value in ("shipped", "counted") else f"{s.serial} ({s.state.value})"


def _show_factory_return(view) -> None:
    _say(
        f"{view.number} {view.state.value}: {view.sender} -> {view.receiver} by "
        f"{view.courier} {view.tracking_number}, {view.quantity:,} units"
    )
    table = Table(
        "line", "sku", "model", "colour", "shipped", "counted", "short", "over", "serials"
    )
    for ln in view.lines:
        table.add_row(
            str(ln.line_no), Text(ln.sku), Text(ln.model), Text(ln.colour or ""),
            f"{ln.quantity:,}", "" if ln.counted is None else f"{ln.counted:,}",
            "" if ln.short is None else f"{ln.short:,}", "" if ln.over is None else f"{ln.over:,}",
            Text(", ".join(_serial_note(s) for s in ln.serials)),
        )  # fmt: skip
    console.print(table)
    for d in view.differences:
        _say(
            f"  {d.direction.value} {d.number} {d.state.value}: {d.quantity:,} x {d.sku}"
            + (f" ({', '.join(d.serials)})" if d.serials else "")
        )
    for step in view.history:
        why = f": {step.reason}" if step.reason else ""
        _say(f"  {step.at:%Y-%m-%d %H:%M} {step.actor} {step.action}{why}")


@factory_app.command("ship")
def factory_ship(
    sender: Annotated[str, typer.Argument(help="HQ or a regional warehouse")],
    courier: Annotated[str, typer.Option(help="The courier")],
    tracking: Annotated[str, typer.Option(help="The courier number")],
    item: Annotated[
        list[str] | None,
        typer.Option("--item", help="SKU=UNITS[:MODEL[:COLOUR]] of a defective part, repeatable"),
    ] = None,
    serial: Annotated[
        list[str] | None,
        typer.Option("--serial", help="MODEL=SERIAL[,SERIAL…] of defective handsets, repeatable"),
    ] = None,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Ship a warehouse's defective parts and handsets to the factory."""
    from ledger.parts import factory

    lines = _factory_lines(item, serial)
    view = _act(
        lambda s, who: factory.ship(
            s, who, sender=sender, lines=lines, courier=courier, tracking_number=tracking, key=key
        ),
        as_user,
    )
    _show_factory_return(view)
    _say(f"  packing list: `aftersales factory packing-list {view.number}`")


@factory_app.command("list")
def factory_list(
    awaiting: Annotated[
        bool, typer.Option("--awaiting", help="Only those awaiting the factory's count")
    ] = False,
    older_than: Annotated[
        int | None, typer.Option(min=0, max=3650, help="Awaiting longer than this many days")
    ] = None,
    sender: Annotated[str | None, typer.Option(help="From this warehouse")] = None,
    limit: int = 100,
) -> None:
    """Returns to the factory, newest first."""
    from ledger.parts import factory
    from ledger.parts.shipments import ShipmentState

    state = ShipmentState.IN_TRANSIT if awaiting else None
    with _db().reading() as session:
        try:
            items = factory.list_returns(
                session, SYSTEM, state=state, sender=sender, older_than_days=older_than,
                limit=limit,
            )  # fmt: skip
        except LedgerError as exc:
            _fail(exc)
    table = Table(
        "number", "state", "from", "courier", "courier number", "units", "shipped", "days"
    )
    for sh in items:
        table.add_row(
            sh.number, sh.state.value, Text(sh.sender), Text(sh.courier or ""),
            Text(sh.tracking_number or ""), f"{sh.quantity:,}", f"{sh.shipped_on}",
            "" if sh.days_in_transit is None else str(sh.days_in_transit),
        )  # fmt: skip
    console.print(table)


@factory_app.command("show")
def factory_show(number: str) -> None:
    """A return to the factory: lines, serials, differences and history."""
    from ledger.parts import factory

    view = _read(lambda session: factory.get(session, SYSTEM, number))
    _show_factory_return(view)


@factory_app.command("packing-list")
def factory_packing_list(
    number: str,
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to write the xlsx file (default: here)")
    ] = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON instead")] = False,
) -> None:
    """Write the packing list as centre_YYYYMMDD_courier-number.xlsx."""
    from api import packing
    from ledger.parts import factory

    listed = _read(lambda session: factory.packing_list(session, SYSTEM, number))
    if as_json:
        sys.stdout.write(listed.model_dump_json(indent=2) + "\n")
        return
    if not directory.is_dir():
        _error(f"--dir {directory}: no such directory")
    target = directory / listed.filename
    try:
        target.write_bytes(packing.workbook(listed))
    except OSError as exc:
        _error(f"--dir {directory}: cannot write {listed.filename} there ({exc.strerror})")
    _say(f"{listed.number}: {listed.total:,} units in {len(listed.groups)} groups -> {target}")


@factory_app.command("confirm")
def factory_confirm(
    number: str,
    line: Annotated[
        list[str] | None,
        typer.Option(
            "--line", help="LINE=UNITS the factory counted, repeatable; default: as shipped"
        ),
    ] = None,
    serials: Annotated[
        list[str] | None,
        typer.Option(
            "--serials", help="LINE=SERIAL[,SERIAL…] the factory counted on a handset line"
        ),
    ] = None,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Enter the factory's count; every difference opens a discrepancy."""
    from ledger.parts import factory
    from ledger.parts.factory import CountLineIn

    units = _line_units(line) or {}
    counted: dict[int, tuple[str, ...]] = {}
    for value in serials or []:
        match = _SERIALS.fullmatch(value)
        if match is None or not match.group(1).isdigit():
            _error(f"--serials {value!r}: write LINE=SERIAL[,SERIAL…], e.g. --serials 3=8600001")
        counted[int(match.group(1))] = tuple(
            s.strip() for s in match.group(2).split(",") if s.strip()
        )
    lines = [
        CountLineIn(line_no=n, quantity=units.get(n), serials=counted.get(n))
        for n in sorted(set(units) | set(counted))
    ]
    view = _act(
        lambda s, who: factory.confirm(s, who, number, lines=lines or None, key=key), as_user
    )
    _show_factory_return(view)


@defective_app.command("list")
def defective_list(location: Annotated[str, typer.Argument(help="A warehouse or point")]) -> None:
    """A location's defective stock awaiting return, by SKU with its models."""
    from ledger.parts import factory

    stock = _read(lambda session: factory.defective_stock(session, SYSTEM, location))
    _say(f"{stock.location} {stock.name}: {stock.quantity:,} defective units")
    table = Table("sku", "name", "models", "units", "serials")
    for ln in stock.lines:
        table.add_row(
            Text(ln.sku), Text(f"{ln.name_zh} / {ln.name_en}"), Text(", ".join(ln.models)),
            f"{ln.quantity:,}",
            Text(", ".join(f"{s.serial} {s.colour or ''}".strip() for s in ln.serials or [])),
        )  # fmt: skip
    console.print(table)


# -- long jobs ---------------------------------------------------------------------

jobs_app = typer.Typer(help="Long jobs: follow, list, resume; `aftersales worker` runs them.")
app.add_typer(jobs_app, name="jobs")
Params = Annotated[
    list[str] | None,
    typer.Option("--param", help="NAME=JSON, repeatable (e.g. --param entries=20)"),
]


def _show_job(view) -> None:
    total = "?" if view.progress_total is None else f"{view.progress_total:,}"
    _say(
        f"{view.number} {view.kind}: {view.status.value}, {view.progress_done:,}/{total}"
        f" (attempt {view.attempts}, by {view.created_by})"
    )
    if view.progress_note:
        _say(f"  {view.progress_note}")
    for label, at in (
        ("created", view.created_at), ("started", view.started_at),
        ("heartbeat", view.heartbeat_at), ("finished", view.finished_at),
    ):  # fmt: skip
        if at is not None:
            _say(f"  {label}: {at:%Y-%m-%d %H:%M:%S} UTC")
    _say(f"  params: {json.dumps(view.params, ensure_ascii=False, sort_keys=True)}")
    if view.result is not None:
        _say(f"  result: {json.dumps(view.result, ensure_ascii=False, sort_keys=True)}")
    if view.error:
        console.print(Text.assemble(("  error:", "red"), " ", view.error))


def _watch(number: str, *, poll: float = 0.5):
    """A Rich bar over the job row until the job finishes; exit 1 unless it
    succeeded."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ledger import jobs

    db = _db()

    def read():
        with db.reading() as session:
            try:
                return jobs.get_job(session, number)
            except LedgerError as exc:
                _fail(exc)

    view = read()
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("{task.fields[note]}"),
    )  # fmt: skip
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(view.number, total=None, status="", note="")
        while True:
            bar.update(
                task,
                completed=view.progress_done,
                total=view.progress_total,
                status=view.status.value,
                note=view.progress_note or "",
            )
            if view.finished:
                break
            time.sleep(poll)
            view = read()
    _show_job(view)
    if view.status is not jobs.JobStatus.SUCCEEDED:
        if view.status is jobs.JobStatus.INTERRUPTED:
            _say(f"resume it with `aftersales jobs resume {view.number}` once a worker runs")
        raise typer.Exit(1)
    return view


def _run_job(
    kind: str,
    params: dict[str, Any],
    key: str | None = None,
    wait: bool = True,
    as_user: str | None = None,
):
    """Enqueue a job (a worker runs it) and, with `wait`, show its bar until
    it finishes: for commands that start long work."""
    from ledger import jobs

    db = _db()
    jobs.load_kinds()
    with db.reading() as session:
        who = _acting(session, as_user)
    try:
        view = jobs.enqueue(db, kind, params, actor=who, idempotency_key=key)
    except LedgerError as exc:
        _fail(exc)
    _say(f"{view.number} {view.kind} {view.status.value}")
    return _watch(view.number) if wait else view


def _params(values: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for value in values or []:
        name, sep, text = value.partition("=")
        if not sep or not name:
            _error(f"--param {value!r}: write NAME=JSON, e.g. --param entries=20")
        try:
            out[name] = json.loads(text)
        except json.JSONDecodeError:
            out[name] = text
    return out


@jobs_app.command("start")
def jobs_start(
    kind: str,
    param: Params = None,
    wait: Annotated[bool, typer.Option(help="Show its progress until it finishes")] = True,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Start a job of a registered kind; a worker runs it."""
    _run_job(kind, _params(param), key, wait=wait, as_user=as_user)


@jobs_app.command("show")
def jobs_show(number: str) -> None:
    """A job: status, progress, result or error."""
    from ledger import jobs

    _show_job(_read(lambda s: jobs.get_job(s, number)))


@jobs_app.command("list")
def jobs_list(
    kind: Annotated[str | None, typer.Option(help="Of this kind")] = None,
    status: Annotated[
        str | None, typer.Option(help="queued, running, succeeded, failed, interrupted")
    ] = None,
    limit: int = 100,
) -> None:
    """Jobs, newest first."""
    from ledger import jobs

    try:
        status_ = jobs.JobStatus(status) if status else None
    except ValueError as exc:
        _error(str(exc))
    items = _read(lambda s: jobs.list_jobs(s, kind=kind, status=status_, limit=limit))
    table = Table("number", "kind", "status", "progress", "attempts", "by", "created")
    for j in items:
        total = "?" if j.progress_total is None else f"{j.progress_total:,}"
        table.add_row(
            j.number, Text(j.kind), j.status.value, f"{j.progress_done:,}/{total}",
            str(j.attempts), Text(j.created_by), f"{j.created_at:%Y-%m-%d %H:%M:%S}",
        )  # fmt: skip
    console.print(table)


@jobs_app.command("watch")
def jobs_watch(number: str) -> None:
    """Follow a job's progress until it finishes (exit 1 unless it succeeded)."""
    _watch(number)


@jobs_app.command("resume")
def jobs_resume(
    number: str,
    wait: Annotated[bool, typer.Option(help="Show its progress until it finishes")] = False,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Queue an interrupted or failed job again (same parameters, same row)."""
    from ledger import jobs

    db = _db()
    with db.reading() as session:
        who = _acting(session, as_user)
    try:
        view = jobs.resume(db, number, who, key=key)
    except LedgerError as exc:
        _fail(exc)
    _show_job(view)
    if wait:
        _watch(view.number)


@app.command()
def worker(
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Jobs run at once (threads of this process)")
    ] = 2,
    imports: Annotated[
        list[str] | None,
        typer.Option("--import", help="A module defining job kinds, repeatable"),
    ] = None,
    poll: Annotated[
        float,
        typer.Option(min=0.05, max=60, help="Longest pause between looks at an idle queue"),
    ] = 1.0,
) -> None:
    """Run jobs from the queue (AFTERSALES_JOBS_URL) in the foreground, until
    Ctrl-C (which lets running jobs finish) or SIGTERM."""
    import logging
    import threading

    from ledger import jobs

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = get_settings()
    jobs.load_kinds(imports or ())
    db = _db()
    queue = jobs.queue_for(settings.jobs_url)
    queue.database = db
    timeout = settings.job_heartbeat_timeout

    def sweeping() -> None:
        while True:
            try:
                for number in jobs.sweep(db, stale_after=timeout):
                    logging.getLogger("aftersales.jobs").warning(
                        "job %s lost its worker: interrupted", number
                    )
            except Exception:
                logging.getLogger("aftersales.jobs").exception("sweep failed")
            stop.wait(max(timeout / 2, 0.5))

    stop = threading.Event()
    threading.Thread(target=sweeping, name="job-sweep", daemon=True).start()
    kinds = ", ".join(sorted(jobs.kinds())) or "none"
    console.print(
        Text(f"worker on {settings.jobs_url.split('@')[-1]}: {workers} at once; kinds: {kinds}")
    )
    consumer = queue.huey.create_consumer(
        workers=workers, worker_type="thread", periodic=False, max_delay=poll
    )
    try:
        consumer.run()
    finally:
        stop.set()
        db.dispose()


if __name__ == "__main__":
    app()


# -- deposits and credit -------------------------------------------------------------

deposits_app = typer.Typer(help="Deposits: instalments paid in by points, and refunds.")
credit_app = typer.Typer(help="Credit limits: leverage ratios, positions, the network report.")
app.add_typer(deposits_app, name="deposits")
app.add_typer(credit_app, name="credit")


def _show_position(p) -> None:
    _say(
        f"{p.point} ({p.grade or '-'}, {p.status}): deposit {_money(p.deposit, 2, 'CNY')} × "
        f"{p.leverage} = limit {_money(p.limit, 2, 'CNY')}; exposure "
        f"{_money(p.exposure, 2, 'CNY')} (stock {_money(p.stock, 2, 'CNY')}, in transit "
        f"{_money(p.in_transit, 2, 'CNY')}, defective {_money(p.defective, 2, 'CNY')}); "
        f"headroom {_money(p.headroom, 2, 'CNY')}"
    )
    if p.unpriced_units:
        _say(f"  {p.unpriced_units:,} units of parts without a standard cost are not valued")


def _bank_move(move, point, amount, method, reference, on, as_user, key) -> None:
    """Money between the bank and a point (a deposit movement, a payment):
    `move` is the service, the rest its arguments as typed."""
    fen = _fen(amount, "AMOUNT", least=1)
    day = _day(on, "--on")
    done = _act(
        lambda s, who: move(
            s, who, point, fen, method=method, reference=reference, on=day, key=key
        ),
        as_user,
    )
    _say(
        f"{done.movement} of {_money(abs(done.amount), 2, 'CNY')} "
        f"{'from' if done.amount > 0 else 'to'} {point} on {done.on.isoformat()} "
        f"({done.method}{', ' + done.reference if done.reference else ''}); entry {done.entry_id}"
    )


_Method = Annotated[str, typer.Option(help="bank_transfer, cash, cheque or online")]
_Reference = Annotated[str | None, typer.Option(help="Bank slip, cheque or transaction number")]
_On = Annotated[str | None, typer.Option("--on", help="The day paid, YYYY-MM-DD (today)")]


@deposits_app.command("receive")
def deposits_receive(
    point: Annotated[str, typer.Argument(help="The service point, SP-…")],
    amount: Annotated[str, typer.Argument(help="CNY, e.g. 5000.00")],
    method: _Method = "bank_transfer",
    reference: _Reference = None,
    on: _On = None,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Record a deposit instalment paid in by a point."""
    from ledger.money import deposits

    _bank_move(deposits.receive, point, amount, method, reference, on, as_user, key)


@deposits_app.command("refund")
def deposits_refund(
    point: Annotated[str, typer.Argument(help="The service point, SP-…")],
    amount: Annotated[str, typer.Argument(help="CNY, e.g. 5000.00")],
    method: _Method = "bank_transfer",
    reference: _Reference = None,
    on: _On = None,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Refund part of a point's deposit: never beyond what was paid in, nor
    below what the point holds."""
    from ledger.money import deposits

    _bank_move(deposits.refund, point, amount, method, reference, on, as_user, key)


@deposits_app.command("show")
def deposits_show(point: Annotated[str, typer.Argument(help="The service point, SP-…")]) -> None:
    """A point's deposit ledger: its position and every movement, newest first."""
    from ledger.money import deposits

    ledger = _read(lambda s: deposits.deposit_ledger(s, SYSTEM, point))
    _show_position(ledger.position)
    table = Table("date", "movement", "amount", "method", "reference", "by")
    for m in ledger.movements:
        table.add_row(
            m.on.isoformat(), m.movement, _money(m.amount, 2, "CNY"), _cell(m.method),
            _cell(m.reference), Text(m.actor),
        )  # fmt: skip
    console.print(table)


@credit_app.command("show")
def credit_show(point: Annotated[str, typer.Argument(help="The service point, SP-…")]) -> None:
    """A point's deposit, leverage, limit, exposure and headroom today."""
    from ledger.money import credit

    _show_position(_read(lambda s: credit.position(s, SYSTEM, point)))


@credit_app.command("report")
def credit_report(
    xlsx: Annotated[
        Path | None, typer.Option(help="Write every matching point to this xlsx")
    ] = None,
    region: Annotated[str | None, typer.Option()] = None,
    grade: Annotated[str | None, typer.Option()] = None,
    over_limit: Annotated[bool, typer.Option(help="Only points past their limit")] = False,
    at_least_use: Annotated[
        float | None, typer.Option(help="Only points using at least this share (0.9: 90 %)")
    ] = None,
    sort: Annotated[str, typer.Option(help="point, deposit, limit, exposure, headroom, use")] = (
        "use"
    ),
    ascending: Annotated[bool, typer.Option(help="Smallest first (default: largest)")] = False,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
) -> None:
    """Every point's deposit, limit, exposure and headroom."""
    from api import money_sheets
    from ledger.money import credit

    try:
        order = credit.ReportSort(sort)
    except ValueError:
        _error(f"--sort {sort!r}: use one of {', '.join(s.value for s in credit.ReportSort)}")
    report = _read(
        lambda s: credit.network_report(
            s, SYSTEM, region=region, grade=grade, over_limit=True if over_limit else None,
            at_least_use=at_least_use, sort=order, descending=not ascending,
            limit=None if xlsx else limit,
        )
    )  # fmt: skip
    _say(
        f"{report.total:,} points on {report.day.isoformat()}: deposits "
        f"{_money(report.deposit, 2, 'CNY')}, limits {_money(report.limit, 2, 'CNY')}, exposure "
        f"{_money(report.exposure, 2, 'CNY')}; {report.over_limit:,} past their limit"
    )
    if xlsx:
        xlsx.write_bytes(money_sheets.credit_report(report))
        _say(f"wrote {xlsx}")
        return
    table = Table("point", "grade", "deposit", "leverage", "limit", "exposure", "headroom")
    for p in report.items:
        table.add_row(
            Text(p.point), _cell(p.grade), _money(p.deposit, 2, "CNY"), p.leverage,
            _money(p.limit, 2, "CNY"), _money(p.exposure, 2, "CNY"),
            _money(p.headroom, 2, "CNY"),
        )  # fmt: skip
    console.print(table)


@credit_app.command("leverage")
def credit_leverage(
    ratio: Annotated[
        str | None, typer.Argument(help="Such as 2.5; omit with --point to clear its own")
    ] = None,
    grade: Annotated[str | None, typer.Option(help="A, B or C")] = None,
    point: Annotated[str | None, typer.Option(help="One point's own ratio")] = None,
    effective_from: Annotated[str | None, typer.Option(help="YYYY-MM-DD (today)")] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    as_user: AsUser = None,
) -> None:
    """Set a grade's or a point's leverage ratio from a day on; with neither,
    list the rules."""
    from ledger.money import credit

    if grade is None and point is None:
        table = Table("scope", "ratio", "from", "set by", "reason")
        for r in _read(lambda s: credit.list_leverage(s, SYSTEM)):
            table.add_row(
                Text(r.scope), _cell(r.ratio), r.effective_from.isoformat(), Text(r.set_by),
                _cell(r.reason),
            )  # fmt: skip
        console.print(table)
        return
    day = _day(effective_from, "--effective-from")
    rule = _act(
        lambda s, who: credit.set_leverage(
            s, who, grade=grade, point=point, ratio=ratio, effective_from=day, reason=reason
        ),
        as_user,
    )
    _say(f"{rule.scope}: {rule.ratio or 'its grade’s ratio'} from {rule.effective_from}")


@credit_app.command("override")
def credit_override(
    requisition: Annotated[str, typer.Argument(help="The requisition, RQ-…")],
    reason: Annotated[str, typer.Option(help="Why the limit may be passed")],
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Let a requisition's next shipment pass the point's credit limit."""
    from ledger.parts import requisitions

    view = _act(
        lambda s, who: requisitions.grant_credit_override(s, who, requisition, reason, key),
        as_user,
    )
    _say(f"{view.number} open: the next shipment of {view.document} to {view.point} may pass")


# -- settlement, statements, closing, termination --------------------------------------

statements_app = typer.Typer(help="Monthly statements: show, write as xlsx, mark signed back.")
months_app = typer.Typer(help="Months: closed by settlement, reopened by an admin.")
points_app = typer.Typer(help="Service points leaving the network.")
app.add_typer(statements_app, name="statements")
app.add_typer(months_app, name="months")
app.add_typer(points_app, name="points")
_MonthArg = Annotated[str, typer.Argument(help="The month, YYYY-MM")]


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    )  # fmt: skip


@statements_app.command("list")
def statements_list(
    month: _MonthArg,
    late: Annotated[bool, typer.Option(help="Only those not signed back within 48 hours")] = False,
) -> None:
    """A month's statements by point."""
    from ledger.money import statements

    items = _read(
        lambda s: statements.list_statements(s, SYSTEM, month, late=late or None, limit=100_000)
    )
    table = Table("point", "opening", "charges", "subsidies", "payments", "closing", "signed back")
    for v in items:
        table.add_row(
            Text(v.point), _money(v.opening, 2, "CNY"), _money(v.charges, 2, "CNY"),
            _money(v.subsidies, 2, "CNY"), _money(v.payments, 2, "CNY"),
            _money(v.closing, 2, "CNY"),
            f"{v.signed_back_at:%Y-%m-%d}" if v.signed_back_at else ("LATE" if v.late else ""),
        )  # fmt: skip
    console.print(table)
    _say(f"{len(items):,} statements for {month}")


@statements_app.command("show")
def statements_show(month: _MonthArg, point: Annotated[str, typer.Argument()]) -> None:
    """One point's statement of a month, line by line."""
    from ledger.money import statements

    v = _read(lambda s: statements.get(s, SYSTEM, month, point))
    _say(
        f"{v.point} {v.month}: opening {_money(v.opening, 2, 'CNY')}, charges "
        f"{_money(v.charges, 2, 'CNY')}, subsidies {_money(v.subsidies, 2, 'CNY')}, payments "
        f"{_money(v.payments, 2, 'CNY')}, closing {_money(v.closing, 2, 'CNY')}"
    )
    table = Table("date", "kind", "document", "charge", "subsidy", "payment")
    for line in v.lines or []:
        table.add_row(
            line.on.isoformat(), line.kind, _cell(line.document), _money(line.charge, 2, "CNY"),
            _money(line.subsidy, 2, "CNY"), _money(line.payment, 2, "CNY"),
        )  # fmt: skip
    console.print(table)


@statements_app.command("write")
def statements_write(
    month: _MonthArg,
    out: Annotated[Path, typer.Option(help="The folder to write them to")] = Path("statements"),
) -> None:
    """Write every statement of a month as xlsx, and the month's summary."""
    from importers import statement_sheets

    with _progress() as bar:
        task = bar.add_task(f"statements {month}", total=None)
        try:
            count = statement_sheets.write_all(
                _db(), month, out / month,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
        except LedgerError as exc:
            _fail(exc)
    _say(f"wrote {count:,} statements and the summary to {out / month}")


@statements_app.command("signed-back")
def statements_signed_back(
    month: _MonthArg, point: Annotated[str, typer.Argument()], as_user: AsUser = None
) -> None:
    """Record that a point's signed statement came back."""
    from ledger.money import statements

    v = _act(lambda s, who: statements.mark_signed_back(s, who, month, point), as_user)
    _say(f"{v.point} {v.month} signed back on {v.signed_back_at:%Y-%m-%d %H:%M} by "
         f"{v.signed_back_by}")  # fmt: skip


@app.command("settle")
def settle(
    month: _MonthArg,
    wait: Annotated[bool, typer.Option(help="Show its progress until it finishes")] = True,
    as_user: AsUser = None,
) -> None:
    """Settle a month for every point and close it, on the job runner
    (`aftersales worker` must run): a Rich bar shows the points settled."""
    from ledger import jobs
    from ledger.money import settlement

    db = _db()
    jobs.load_kinds()
    with db.reading() as session:
        who = _acting(session, as_user)
    try:
        view, job = settlement.start(db, who, month)
    except LedgerError as exc:
        _fail(exc)
    if view.already_running:
        _say(f"{view.month} is being settled already (run {view.run}): {job.number}")
    else:
        _say(f"{view.month} closed; settling run {view.run} as {job.number}")
    if not wait:
        return
    done = _watch(job.number)
    result = done.result or {}
    if result.get("nothing_new"):
        _say(f"{month} was settled already: nothing new to post")
    elif result:
        _say(
            f"{month} settled: {result['points']:,} points, {result['entries']:,} entries; "
            f"owed to points {_money(result['payable'], 2, 'CNY')}, owed by points "
            f"{_money(result['receivable'], 2, 'CNY')}"
        )


@months_app.command("show")
def months_show() -> None:
    """The last month closed and the first open day."""
    from ledger.money import periods

    view = _read(periods.view)
    closed = view.closed_through.isoformat() if view.closed_through else "nothing"
    _say(f"closed through {closed}; first open day {view.first_open_day.isoformat()}")


@months_app.command("reopen")
def months_reopen(
    month: _MonthArg,
    reason: Annotated[str, typer.Option(help="Why the month must take entries again")],
    as_user: AsUser = None,
) -> None:
    """Reopen a settled month (an admin's action, recorded)."""
    from ledger.money import settlement

    view = _act(lambda s, who: settlement.reopen(s, who, month, reason), as_user)
    _say(f"{view.month} reopened; first open day {view.first_open_day.isoformat()}")


@points_app.command("terminate")
def points_terminate(
    point: Annotated[str, typer.Argument(help="The service point, SP-…")],
    reason: Annotated[str, typer.Option()],
    method: _Method = "bank_transfer",
    reference: _Reference = None,
    as_user: AsUser = None,
) -> None:
    """Terminate a point: its deposit and what it is owed paid out, once it
    holds nothing and owes nothing (otherwise: what blocks it)."""
    from ledger.parts import requisitions

    done = _act(
        lambda s, who: requisitions.terminate_point(
            s, who, point, reason=reason, method=method, reference=reference
        ),
        as_user,
    )
    _say(f"{done.point} terminated: deposit {_money(done.deposit, 2, 'CNY')} refunded, "
         f"{_money(done.paid_out, 2, 'CNY')} paid out")  # fmt: skip


subsidies_app = typer.Typer(help="Subsidies: per repair by category and grade, monthly by grade.")
app.add_typer(subsidies_app, name="subsidies")


@subsidies_app.command("set")
def subsidies_set(
    grade: Annotated[str, typer.Argument(help="A, B or C")],
    amount: Annotated[str, typer.Argument(help="CNY, e.g. 30.00")],
    category: Annotated[
        str | None, typer.Option(help="DOA, DAP, WH or F: per repair; omitted: per month")
    ] = None,
    effective_from: Annotated[str | None, typer.Option(help="YYYY-MM-DD (today)")] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    as_user: AsUser = None,
) -> None:
    """Set a subsidy from a day on."""
    from ledger.money import accruals

    fen = _fen(amount, "AMOUNT")
    day = _day(effective_from, "--effective-from")
    rule = _act(
        lambda s, who: accruals.set_subsidy(
            s, who, grade=grade, amount=fen, category=category, effective_from=day, reason=reason
        ),
        as_user,
    )
    what = f"per {rule.category} repair" if rule.category else "per month"
    _say(f"grade {rule.grade}: {_money(rule.amount, 2, 'CNY')} {what} from {rule.effective_from}")


@subsidies_app.command("list")
def subsidies_list() -> None:
    """Every subsidy rule, in force and to come."""
    from ledger.money import accruals

    table = Table("kind", "category", "grade", "amount", "from", "set by")
    for r in _read(lambda s: accruals.list_subsidies(s, SYSTEM)):
        table.add_row(
            r.kind.value, _cell(r.category), r.grade, _money(r.amount, 2, "CNY"),
            r.effective_from.isoformat(), Text(r.set_by),
        )  # fmt: skip
    console.print(table)


payments_app = typer.Typer(help="Settled months paid to points, or collected from them.")
app.add_typer(payments_app, name="payments")


@payments_app.command("pay")
def payments_pay(
    point: Annotated[str, typer.Argument(help="The service point, SP-…")],
    amount: Annotated[str, typer.Argument(help="CNY, e.g. 1,250.00")],
    method: _Method = "bank_transfer",
    reference: _Reference = None,
    on: _On = None,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Pay a point (part of) what its settled months owe it."""
    from ledger.money import payments

    _bank_move(payments.pay, point, amount, method, reference, on, as_user, key)


@payments_app.command("collect")
def payments_collect(
    point: Annotated[str, typer.Argument(help="The service point, SP-…")],
    amount: Annotated[str, typer.Argument(help="CNY, e.g. 1,250.00")],
    method: _Method = "bank_transfer",
    reference: _Reference = None,
    on: _On = None,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Record a point paying (part of) what its settled months owe the brand."""
    from ledger.money import payments

    _bank_move(payments.collect, point, amount, method, reference, on, as_user, key)


# -- planning ---------------------------------------------------------------------------

plan_app = typer.Typer(
    help="Planning: the network as an instance file, national allocations, purchase sizing."
)
app.add_typer(plan_app, name="plan")
Horizon = Annotated[int, typer.Option(help="Months of demand to plan for", min=1, max=24)]


def _plan_problem(exc: Exception) -> NoReturn:
    """A bad instance, plan or workbook: what and where, exit 1, no traceback."""
    if isinstance(exc, LedgerError):
        _fail(exc)
    _error(str(exc))


def _allocation_bar():
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        "{task.description}", BarColumn(), TimeElapsedColumn(), TextColumn("{task.fields[note]}"),
        console=console, transient=False,
    )  # fmt: skip


def _say_plan(plan) -> None:
    _say(
        f"objective {plan.objective:,.6f}  bound {plan.bound:,.6f}  gap {plan.gap:.4%}  "
        f"seconds {plan.seconds:.2f}  ({plan.solver}: {plan.method})"
    )


@plan_app.command("snapshot")
def plan_snapshot(
    file: Annotated[Path, typer.Argument(help="The .npz file to write")],
    horizon_months: Horizon = 3,
) -> None:
    """Write the live network as an allocation instance (numpy .npz): demand,
    stock net of reservations, credit headroom, with the codes as labels."""
    from optimizer import adapter, allocate

    instance = _read(lambda s: adapter.snapshot(s, horizon_months=horizon_months))
    try:
        allocate.save_instance(instance, str(file))
    except OSError as exc:
        _error(f"{file}: cannot be written ({exc.strerror or exc})")
    _say(
        f"wrote {file}: {instance.P:,} points × {instance.K:,} parts over {instance.R:,} "
        f"regional warehouses; demand {instance.lam.sum():,.1f} units over {horizon_months} months"
    )


def _offline_allocation(instance_file: Path, out: Path | None, time_limit, target_gap) -> None:
    from optimizer import allocate

    if out is None:
        _error("--instance needs --out PLAN.npz, the file the plan is written to")
    if not instance_file.is_file():
        _error(f"--instance {instance_file}: no such file")
    try:
        instance = allocate.load_instance(str(instance_file))
    except allocate.InstanceError as exc:
        _error(f"{instance_file}: {exc}")
    with _allocation_bar() as bar:
        task = bar.add_task(f"{instance.P:,} × {instance.K:,}", total=None, note="")

        def progress(done, total, note):
            bar.update(task, completed=done, total=total, note=note)

        plan = allocate.allocate(
            instance, time_limit=time_limit, target_gap=target_gap, progress=progress
        )
    try:
        allocate.check_plan(instance, plan)
        allocate.save_plan(plan, str(out))
    except allocate.InstanceError as exc:
        _error(f"the plan breaks its instance: {exc}")
    except OSError as exc:
        _error(f"{out}: cannot be written ({exc.strerror or exc})")
    _say_plan(plan)
    _say(f"wrote {out}: x {plan.x.shape[0]:,} × {plan.x.shape[1]:,}, ship "
         f"{plan.ship.shape[0]:,} × {plan.ship.shape[1]:,}; {int(plan.x.sum()):,} units to points, "
         f"{int(plan.ship.sum()):,} from HQ")  # fmt: skip


def _in_process_queue(db: Database):
    """A queue whose jobs run here, in a thread beside the command's bar."""
    import threading

    from ledger import jobs

    queue = jobs.JobQueue("memory://", database=db)
    threads: list[threading.Thread] = []

    def submit(job_id: int) -> None:
        thread = threading.Thread(target=jobs.run_job, args=(db, job_id), daemon=True)
        thread.start()
        threads.append(thread)

    queue.submit = submit
    return queue, threads


def _release(db: Database, who, number: str, key: str | None) -> None:
    from optimizer import adapter

    try:
        done = db.transact(lambda s: adapter.release(s, who, number, key=key))
    except LedgerError as exc:
        _fail(exc)
    if done.released_before:
        _say(f"{done.plan} was released already: {len(done.requisitions):,} requisitions")
    else:
        approved = done.created - len(done.awaiting)
        _say(f"{done.plan} released: {done.created:,} requisitions raised, {approved:,} approved")
    if done.awaiting:
        more = " …" if len(done.awaiting) > 10 else ""
        _say(
            f"{len(done.awaiting):,} of them wait for units from HQ (approve them once "
            f"received): {', '.join(done.awaiting[:10])}{more}"
        )
    for n in done.requisitions[:20]:
        _say(f"  {n}")


@plan_app.command("allocate")
def plan_allocate(
    instance: Annotated[
        Path | None, typer.Option(help="Allocate this instance file offline (no database)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="With --instance: the plan file to write")
    ] = None,
    release: Annotated[bool, typer.Option(help="Release the plan as requisitions")] = False,
    horizon_months: Horizon = 3,
    time_limit: Annotated[float, typer.Option(help="Seconds", min=1, max=600)] = 30.0,
    target_gap: Annotated[float, typer.Option(help="Stop within this gap", min=0, max=0.5)] = 1e-4,
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Allocate the stock on hand over the network. With --instance, offline
    from a file (--out the plan); otherwise from the live ledger, recorded as
    a plan (run here, on the job runner's records), released with --release."""
    if instance is not None:
        if release:
            _error("--release releases a plan of the ledger; it cannot go with --instance")
        _offline_allocation(instance, out, time_limit, target_gap)
        return
    if out is not None:
        _error("--out goes with --instance; a live plan is recorded in the ledger")
    from ledger import jobs
    from optimizer import jobs as plan_jobs

    db = _db()
    jobs.load_kinds()
    with db.reading() as session:
        who = _acting(session, as_user)
    queue, threads = _in_process_queue(db)
    params = {"horizon_months": horizon_months, "time_limit": time_limit, "target_gap": target_gap}
    try:
        view = jobs.enqueue(
            db, plan_jobs.ALLOCATION, params, actor=who, idempotency_key=key, queue=queue
        )
    except LedgerError as exc:
        _fail(exc)
    done = _watch(view.number, poll=0.2)
    for thread in threads:
        thread.join()
    result = done.result or {}
    number = result.get("plan")
    _say(
        f"plan {number}: objective {result.get('objective') or 0:,.6f}, bound "
        f"{result.get('bound') or 0:,.6f}, gap {result.get('gap') or 0:.4%}, "
        f"{result.get('seconds') or 0:.2f} s"
    )
    if release and number:
        _release(db, who, number, f"{number}/release" if key is None else f"{key}/release")


@plan_app.command("release")
def plan_release(
    number: Annotated[str, typer.Argument(help="The plan, PL-000001")],
    as_user: AsUser = None,
    key: Key = None,
) -> None:
    """Release a proposed allocation as requisitions, approved under your own
    approval level (once: a second release raises nothing)."""
    db = _db()
    with db.reading() as session:
        who = _acting(session, as_user)
    _release(db, who, number.strip().upper(), key)


@plan_app.command("template")
def plan_template(
    out: Annotated[Path, typer.Argument(help="Where to write the empty purchase workbook")],
) -> None:
    """Write an empty purchase workbook (sheets parts and sales, one example
    row each, and what every column means) to fill in for `plan purchase`."""
    from importers.purchase_sheet import write_purchase_template

    try:
        write_purchase_template(out)
    except OSError as exc:
        _error(f"{out}: cannot be written ({exc.strerror or exc})")
    _say(f"wrote {out}")


@plan_app.command("purchase")
def plan_purchase(
    workbook: Annotated[Path, typer.Argument(help="The purchase workbook (sheets parts, sales)")],
    budget: Annotated[str | None, typer.Option(help="Budget in CNY, e.g. 2,000,000")] = None,
    target_fill: Annotated[
        float | None, typer.Option(help="Target fill rate, e.g. 0.95", min=0, max=1)
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the result as xlsx")] = None,
    horizon_months: Annotated[int, typer.Option(help="Months of demand", min=1, max=60)] = 12,
) -> None:
    """Size a new model's first purchase for a budget or a target fill rate,
    with the budget ↔ fill-rate frontier (offline: no database)."""
    import numpy as np

    from api import plan_sheets
    from optimizer import jobs as plan_jobs

    if (budget is None) == (target_fill is None):
        _error("give exactly one of --budget CNY and --target-fill 0.95")
    if target_fill is not None and not 0 < target_fill < 1:
        _error(f"--target-fill {target_fill} is a fill rate above 0 and below 1, e.g. 0.95")
    fen = None if budget is None else _fen(budget, "--budget")
    try:
        data = workbook.read_bytes()
    except OSError as exc:
        _error(f"{workbook}: cannot be read ({exc.strerror or exc})")
    try:
        input_ = plan_jobs.read_workbook(data)
        with _progress() as bar:
            bar.add_task(f"sizing {len(input_.sku):,} parts", total=None)
            chosen, curve, lam = plan_jobs.size(
                input_, budget=fen, target_fill=target_fill, horizon_months=horizon_months
            )
    except (LedgerError, ValueError) as exc:
        _plan_problem(exc)
    _say(
        f"{len(input_.sku):,} parts: spend {_money(int(chosen.spend), 2, 'CNY')}, fill rate "
        f"{chosen.fill_rate:.2%}, expected backorders {chosen.backorders:,.2f} "
        f"(weighted {chosen.weighted_backorders:,.2f}, bound {chosen.bound:,.2f})"
        + ("" if chosen.optimal else "; not proven optimal")
    )
    table = Table("sku", "name", "qty", "spend")
    for k in np.argsort(-np.asarray(chosen.qty), kind="stable")[:20]:
        if chosen.qty[k] == 0:
            break
        table.add_row(
            Text(input_.sku[k]), Text(input_.name[k]), f"{int(chosen.qty[k]):,}",
            _money(int(chosen.qty[k] * input_.cost[k]), 2, "CNY"),
        )  # fmt: skip
    console.print(table)
    if out is not None:
        try:
            out.write_bytes(plan_sheets.purchase_xlsx(input_, chosen, curve, lam=lam))
        except OSError as exc:
            _error(f"{out}: cannot be written ({exc.strerror or exc})")
        _say(f"wrote {out}")
