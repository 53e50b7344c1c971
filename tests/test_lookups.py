"""Look-ups people asked for: GET /entries and its filters, statements with
counter-accounts, serials and the period's closing balance, the trial
balance as of a day, holders a page at a time, a service point's view of
serial history, and the CLI that shows all of it."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.cli import app as cli
from ledger import masterdata as md
from ledger import queries
from ledger.db import Database
from ledger.models import Commodity, Posting, Role
from ledger.policy import SYSTEM
from ledger.settings import get_settings
from tests.factories import build_network, stock
from tests.test_api import auth, issue

TODAY = datetime.now(UTC).date()
# Dates in the past, oldest first; entries are posted in date order.
D3, D2, D1 = (TODAY - timedelta(days=n) for n in (3, 2, 1))


def post(client, headers, body, day=None, **extra) -> str:
    if day is not None:
        body = {**body, "effective_date": day.isoformat()}
    response = client.post("/entries", json={**body, **extra}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def ids(client, headers, query: str = "") -> list[str]:
    response = client.get(f"/entries?{query}", headers=headers)
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["items"]]


def opening(quantity: int, target: str = "HQ:STOCK:X1-LCD") -> dict:
    return {**issue(quantity, source=f"OPEN:STOCK:{target.rsplit(':', 1)[1]}", target=target)}


def handset(serial: str, source: str, target: str) -> dict:
    return {
        "kind": "handset_move",
        "postings": [
            {"account": source, "amount": -1, "serials": [serial]},
            {"account": target, "amount": 1, "serials": [serial]},
        ],
    }


@pytest.fixture
def journal(client, db):
    """Four entries over three days by two users, with references."""
    admin, clerk = auth(db, Role.ADMIN), auth(db, Role.WAREHOUSE_CLERK)
    made = {
        "a": post(client, admin, {**opening(10), "kind": "opening"}, D3, refs={"batch": "B-1"}),
        "b": post(client, clerk, issue(2), D2, refs={"requisition": "RQ-1"}),
        "c": post(
            client, clerk, issue(3, target="SP-0002:STOCK:X1-LCD"), D1, refs={"requisition": "RQ-2"}
        ),
        "d": post(
            client,
            clerk,
            issue(1, target="RW-GD:STOCK:X1-LCD"),
            D1,
            refs={"requisition": "RQ-1", "courier": "SF-9"},
        ),
    }
    return made


def test_entries_are_filtered_by_each_filter_newest_first(client, db, journal):
    a, b, c, d = (journal[k] for k in "abcd")
    admin = auth(db, Role.ADMIN)
    assert ids(client, admin) == [d, c, b, a]
    assert ids(client, admin, "ref_key=requisition") == [d, c, b]
    assert ids(client, admin, "ref_key=requisition&ref_value=RQ-1") == [d, b]
    assert ids(client, admin, "ref_key=courier") == [d]
    assert ids(client, admin, "ref_key=courier&ref_value=RQ-1") == []
    assert ids(client, admin, "kind=opening") == [a]
    assert ids(client, admin, "account=SP-0001:STOCK:X1-LCD") == [b]
    assert ids(client, admin, "holder=SP-0002") == [c]
    assert ids(client, admin, "holder=HQ") == [d, c, b, a]
    assert ids(client, admin, "actor=admin-user") == [a]
    assert ids(client, admin, "actor=warehouse_clerk-user") == [d, c, b]
    assert ids(client, admin, f"from={D2}") == [d, c, b]
    assert ids(client, admin, f"to={D2}") == [b, a]
    assert ids(client, admin, f"from={D2}&to={D2}") == [b]
    assert ids(client, admin, f"kind=issue&holder=HQ&to={D2}&ref_key=requisition") == [b]
    # Each item is the entry as GET /entries/{id} shows it.
    listed = client.get("/entries", headers=admin).json()["items"]
    for item in listed:
        assert item == client.get(f"/entries/{item['id']}", headers=admin).json()


def test_entry_filters_are_bounded_and_checked(client, db, journal):
    admin = auth(db, Role.ADMIN)
    for query, field in [
        ("ref_value=RQ-1", "ref_value"),
        (f"ref_key={'k' * 101}", "query.ref_key"),
        ('ref_key=a"b', "query.ref_key"),
        ("ref_key=requisition%0A", "query.ref_key"),
        (f"ref_key=requisition&ref_value={'v' * 501}", "query.ref_value"),
        ("kind=Not-A-Kind", "query.kind"),
        (f"account={'A' * 121}", "query.account"),
        (f"holder={'H' * 41}", "query.holder"),
        (f"actor={'u' * 81}", "query.actor"),
        (f"cursor={'c' * 101}", "query.cursor"),
        ("from=2026-13-01", "query.from"),
        ("limit=0", "query.limit"),
        ("limit=1001", "query.limit"),
    ]:
        response = client.get(f"/entries?{query}", headers=admin)
        assert response.status_code == 422, query
        assert response.json()["field"] == field, query
    unknown = client.get("/entries?account=SP-0404:STOCK:X1-LCD", headers=admin)
    assert unknown.status_code == 404
    assert unknown.json()["account"] == "SP-0404:STOCK:X1-LCD"
    assert client.get("/entries?holder=SP-0404", headers=admin).status_code == 404


def test_entries_page_by_cursor(client, db, journal):
    admin = auth(db, Role.ADMIN)
    everything = ids(client, admin)
    seen, cursor = [], None
    while True:
        query = "limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/entries?{query}", headers=admin).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything
    two = client.get("/entries?limit=2&ref_key=requisition", headers=admin).json()
    rest = client.get(
        f"/entries?limit=2&ref_key=requisition&cursor={two['next_cursor']}", headers=admin
    ).json()
    assert [e["id"] for e in two["items"] + rest["items"]] == everything[:3]
    assert rest["next_cursor"] is None
    for cursor in ["garbage", "2026-13-01~" + "0" * 32, "2026-01-01~xyz", "~", f"{D1}~1"]:
        response = client.get(f"/entries?cursor={cursor}", headers=admin)
        assert response.status_code == 422, cursor
        assert response.json()["field"] == "cursor"


def test_a_service_point_lists_only_its_own_entries_and_lines(client, db, journal):
    admin, sp1 = auth(db, Role.ADMIN), auth(db, Role.SERVICE_POINT, "SP-0001")
    both = post(
        client,
        admin,
        {
            "kind": "issue",
            "postings": [
                {"account": "HQ:STOCK:X1-LCD", "amount": -2},
                {"account": "SP-0001:STOCK:X1-LCD", "amount": 1},
                {"account": "SP-0002:STOCK:X1-LCD", "amount": 1},
            ],
        },
    )
    assert ids(client, sp1) == [both, journal["b"]]
    listed = client.get("/entries", headers=sp1)
    assert "SP-0002" not in listed.text
    shared = listed.json()["items"][0]
    assert [p["account"] for p in shared["postings"]] == ["HQ:STOCK:X1-LCD", "SP-0001:STOCK:X1-LCD"]
    assert shared == client.get(f"/entries/{both}", headers=sp1).json()
    assert ids(client, sp1, "holder=SP-0001&ref_key=requisition") == [journal["b"]]
    assert ids(client, sp1, "account=SP-0001:STOCK:X1-LCD") == [both, journal["b"]]
    # Another point's account or holder answers as one that does not exist.
    for foreign, unknown in [
        ("account=SP-0002:STOCK:X1-LCD", "account=SP-0404:STOCK:X1-LCD"),
        ("holder=SP-0002", "holder=SP-0404"),
    ]:
        theirs = client.get(f"/entries?{foreign}", headers=sp1)
        nobody = client.get(f"/entries?{unknown}", headers=sp1)
        assert theirs.status_code == nobody.status_code == 404
        assert theirs.text.replace("SP-0002", "X") == nobody.text.replace("SP-0404", "X")


def test_statement_lines_show_counter_accounts_serials_and_the_period_closing(client, db):
    admin, sp1 = auth(db, Role.ADMIN), auth(db, Role.SERVICE_POINT, "SP-0001")
    serials = ["860000000000101", "860000000000102", "860000000000103"]
    post(
        client,
        admin,
        {
            "kind": "opening",
            "postings": [
                {"account": "OPEN:STOCK:H-X1", "amount": -3, "serials": serials},
                {"account": "HQ:STOCK:H-X1", "amount": 3, "serials": serials},
            ],
        },
        D3,
    )
    post(client, admin, handset(serials[0], "HQ:STOCK:H-X1", "SP-0001:STOCK:H-X1"), D2)
    post(
        client,
        admin,
        {
            "kind": "issue",
            "postings": [
                {"account": "HQ:STOCK:H-X1", "amount": -2, "serials": serials[1:]},
                {"account": "SP-0001:STOCK:H-X1", "amount": 1, "serials": [serials[2]]},
                {"account": "SP-0002:STOCK:H-X1", "amount": 1, "serials": [serials[1]]},
                {"account": "OPEN:STOCK:X1-LCD", "amount": -1},
                {"account": "SP-0001:STOCK:X1-LCD", "amount": 1},
            ],
        },
        D1,
    )
    url = "/accounts/HQ:STOCK:H-X1/statement"
    lines, closings, page_closings, cursor = [], set(), [], None
    while True:
        page = client.get(url + "?limit=1" + (f"&cursor={cursor}" if cursor else ""), headers=admin)
        body = page.json()
        lines += body["lines"]
        closings.add(body["closing_balance"])
        page_closings.append(body["page_closing_balance"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert closings == {0}  # on every page: the balance now, not the page's
    assert page_closings == [3, 2, 0]
    assert [line["counter_accounts"] for line in lines] == [
        ["OPEN:STOCK:H-X1"],
        ["SP-0001:STOCK:H-X1"],
        ["SP-0001:STOCK:H-X1", "SP-0002:STOCK:H-X1"],  # only the commodity's other side
    ]
    assert [line["serials"] for line in lines] == [serials, serials[:1], serials[1:]]
    until = client.get(f"{url}?to={D2}&limit=1", headers=admin).json()
    assert (until["closing_balance"], until["page_closing_balance"]) == (2, 3)
    mine = client.get("/accounts/SP-0001:STOCK:H-X1/statement", headers=sp1).json()
    assert [line["counter_accounts"] for line in mine["lines"]] == [["HQ:STOCK:H-X1"]] * 2
    assert [line["serials"] for line in mine["lines"]] == [serials[:1], serials[2:]]
    assert mine["closing_balance"] == 2 and "SP-0002" not in json.dumps(mine)


def test_statement_cursor_out_of_range_is_a_422_naming_the_cursor(client, db):
    stock(db, "HQ:STOCK:X1-LCD", 2)
    admin = auth(db, Role.ADMIN)
    url = "/accounts/HQ:STOCK:X1-LCD/statement?cursor="
    for cursor in [
        "garbage",
        "2026-13-01~5",
        f"2026-01-01~{2**63}",
        "2026-01-01~99999999999999999999",
        "2026-01-01~-1",
        "2026-01-01~1.5",
        "2026-01-01~+5",
        "2026-01-01~",
        "20260101~5",
        "~",
    ]:
        response = client.get(url + cursor.replace("+", "%2B"), headers=admin)
        assert response.status_code == 422, cursor
        assert response.json()["field"] == "cursor", cursor
    last = client.get(f"{url}9999-12-31~{2**63 - 1}", headers=admin)
    assert last.status_code == 200 and last.json()["lines"] == []
    assert client.get(url + "x" * 65, headers=admin).status_code == 422


def _history_trial_balance(db: Database, as_of) -> dict[str, tuple[int, int]]:
    """Per commodity, the debit and credit balances summed from all history."""
    with db.reading() as s:
        per_account = s.execute(
            select(Commodity.code, Posting.account_id, func.sum(Posting.amount))
            .join(Commodity, Commodity.id == Posting.commodity_id)
            .where(Posting.effective_date <= as_of)
            .group_by(Commodity.code, Posting.account_id)
        ).all()
    totals: dict[str, tuple[int, int]] = {}
    for code, _, amount in per_account:
        debit, credit = totals.get(code, (0, 0))
        totals[code] = (debit + max(int(amount), 0), credit + min(int(amount), 0))
    return totals


def test_trial_balance_as_of_a_day_sums_to_zero_and_equals_history(client, db, journal):
    post(client, auth(db, Role.FINANCE), opening(12_345_67, target="BANK:STOCK:CNY"), D2)
    admin = auth(db, Role.ADMIN)
    for day in [D3 - timedelta(days=1), D3, D2, D1, TODAY]:
        response = client.get(f"/trial-balance?as_of={day}", headers=admin)
        assert response.status_code == 200
        rows = response.json()
        assert rows and all(row["net"] == 0 for row in rows)
        shown = {
            r["commodity"]: (r["debit_balances"], r["credit_balances"])
            for r in rows
            if r["debit_balances"] or r["credit_balances"]
        }
        history = {k: v for k, v in _history_trial_balance(db, day).items() if v != (0, 0)}
        assert shown == history, day
    before = client.get(f"/trial-balance?as_of={D3 - timedelta(days=1)}", headers=admin).json()
    now = client.get("/trial-balance", headers=admin).json()
    assert all(r["debit_balances"] == 0 for r in before)
    assert any(r["debit_balances"] for r in now)
    assert client.get("/trial-balance?as_of=2026-02-30", headers=admin).status_code == 422


def test_holders_come_a_page_at_a_time_with_their_parent(client, db):
    admin = auth(db, Role.ADMIN)
    created = client.post(
        "/holders",
        json={
            "code": "SP-0003",
            "name": "Point 3",
            "kind": "service_point",
            "parent": "RW-GD",
            "grade": "B",
        },
        headers=admin,
    )
    assert created.status_code == 201
    assert created.json() == {
        "code": "SP-0003",
        "name": "Point 3",
        "kind": "service_point",
        "grade": "B",
        "parent": "RW-GD",
    }
    codes, after = [], None
    while True:
        page = client.get(
            "/holders?limit=3" + (f"&after={after}" if after else ""), headers=admin
        ).json()
        assert set(page) == {"items", "next_after"}
        codes += [h["code"] for h in page["items"]]
        parents = {h["code"]: h["parent"] for h in page["items"]}
        if "SP-0003" in parents:
            assert parents["SP-0003"] == "RW-GD"
        if "HQ" in parents:
            assert parents["HQ"] is None
        after = page["next_after"]
        if after is None:
            break
    assert codes == sorted(codes) and len(codes) == len(set(codes)) == 10
    points = client.get("/holders?kind=service_point", headers=admin).json()
    assert [h["code"] for h in points["items"]] == ["SP-0001", "SP-0002", "SP-0003"]
    assert points["next_after"] is None


@pytest.fixture
def lent(client, db):
    """Handsets through SP-0001's hands, and one that never was there."""
    db.transact(
        lambda s: (
            md.create_holder(s, "CUST", "Customers", "customer"),
            md.ensure_accounts(s, [("CUST", "STOCK", "H-X1")]),
        )
    )
    serials = ["860000000000201", "860000000000202", "860000000000203", "860000000000204"]
    stock(db, "HQ:STOCK:H-X1", 4, serials=serials)
    clerk = auth(db, Role.WAREHOUSE_CLERK)
    lent_out, came_back, never, passed_on = serials
    for serial, path in [
        (lent_out, ["HQ", "SP-0001", "CUST"]),
        (came_back, ["HQ", "SP-0001", "CUST", "HQ", "SP-0002"]),
        (passed_on, ["HQ", "SP-0001", "SP-0002"]),
    ]:
        for source, target in itertools.pairwise(path):
            post(client, clerk, handset(serial, f"{source}:STOCK:H-X1", f"{target}:STOCK:H-X1"))
    return {"lent_out": lent_out, "came_back": came_back, "never": never, "passed_on": passed_on}


def moves(unit: dict) -> list[tuple[str | None, str | None]]:
    return [(m["from_account"], m["to_account"]) for m in unit["history"]]


def test_a_service_point_follows_a_handset_it_lent_out(client, db, lent):
    sp1 = auth(db, Role.SERVICE_POINT, "SP-0001")
    unit = client.get(f"/serials/{lent['lent_out']}", headers=sp1)
    assert unit.status_code == 200
    assert unit.json()["account"] == "CUST:STOCK:H-X1"  # its own move put it there
    assert moves(unit.json()) == [
        ("HQ:STOCK:H-X1", "SP-0001:STOCK:H-X1"),
        ("SP-0001:STOCK:H-X1", "CUST:STOCK:H-X1"),
    ]
    admin = client.get(f"/serials/{lent['lent_out']}", headers=auth(db, Role.ADMIN)).json()
    assert len(admin["history"]) == 3 and admin["account"] == "CUST:STOCK:H-X1"


def test_a_service_point_sees_only_its_own_moves_of_a_serial(client, db, lent):
    sp1, sp2 = auth(db, Role.SERVICE_POINT, "SP-0001"), auth(db, Role.SERVICE_POINT, "SP-0002")
    back = client.get(f"/serials/{lent['came_back']}", headers=sp1).json()
    # Moved on by others since: where it is now is not its business.
    assert back["account"] is None
    assert moves(back) == [
        ("HQ:STOCK:H-X1", "SP-0001:STOCK:H-X1"),
        ("SP-0001:STOCK:H-X1", "CUST:STOCK:H-X1"),
    ]
    at_sp2 = client.get(f"/serials/{lent['came_back']}", headers=sp2).json()
    assert at_sp2["account"] == "SP-0002:STOCK:H-X1"
    assert moves(at_sp2) == [("HQ:STOCK:H-X1", "SP-0002:STOCK:H-X1")]
    passed = client.get(f"/serials/{lent['passed_on']}", headers=sp1)
    assert moves(passed.json()) == [
        ("HQ:STOCK:H-X1", "SP-0001:STOCK:H-X1"),
        ("SP-0001:STOCK:H-X1", None),
    ]
    assert passed.json()["account"] is None and "SP-0002" not in passed.text
    admin = client.get(f"/serials/{lent['came_back']}", headers=auth(db, Role.ADMIN)).json()
    assert len(admin["history"]) == 5


def test_another_points_serial_answers_as_an_unknown_one(client, db, lent):
    sp2 = auth(db, Role.SERVICE_POINT, "SP-0002")
    unknown = client.get("/serials/869999999999999", headers=sp2)
    assert unknown.status_code == 404
    for serial in [lent["lent_out"], lent["never"]]:
        theirs = client.get(f"/serials/{serial}", headers=sp2)
        assert theirs.status_code == 404
        assert theirs.text.replace(serial, "X") == unknown.text.replace("869999999999999", "X")


# ----------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    """A migrated SQLite file with the test network, as DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr("api.cli.console", Console(width=250))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    database = Database.from_url(url)
    from ledger.migrate import upgrade

    upgrade(url)
    database.transact(build_network)
    yield database
    database.dispose()
    get_settings.cache_clear()


def run(*args: str, code: int = 0, stdin: str | None = None):
    result = CliRunner().invoke(cli, list(args), input=stdin)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, result.output
    return result.output


def write(path, body) -> str:
    path.write_text(json.dumps(body))
    return str(path)


def test_cli_prints_text_in_square_brackets_intact(cli_db, tmp_path):
    stock(cli_db, "HQ:STOCK:X1-LCD", 5)
    entry = {**issue(2), "memo": "[urgent] swap for [b]customer[/b]", "refs": {"rq": "[RQ-1]"}}
    entry_id = run("ledger", "post", write(tmp_path / "e.json", entry)).split()[0]
    statement = run("ledger", "statement", "SP-0001:STOCK:X1-LCD")
    assert "[urgent] swap for [b]customer[/b]" in statement
    assert "[urgent] swap for [b]customer[/b]" in run("ledger", "entry", entry_id)
    listed = run("ledger", "entries", "--ref-key", "rq", "--ref-value", "[RQ-1]")
    assert "rq=[RQ-1]" in listed and "[urgent]" in listed
    missing = run("ledger", "balance", "[red]SP-0404[/red]:STOCK:X1-LCD", code=1)
    assert "'[red]SP-0404[/red]:STOCK:X1-LCD' does not exist" in missing


def test_cli_bad_input_is_a_message_and_exit_1(cli_db, tmp_path):
    (tmp_path / "bad.json").write_text('{"kind": "issue", ')
    for args, said in [
        (["ledger", "balance", "HQ:STOCK:X1-LCD", "--as-of", "2026-13-01"], "YYYY-MM-DD"),
        (["ledger", "balance", "HQ:STOCK:X1-LCD", "--as-of", "yesterday"], "YYYY-MM-DD"),
        (["ledger", "statement", "HQ:STOCK:X1-LCD", "--from", "2026-02-30"], "YYYY-MM-DD"),
        (["ledger", "statement", "HQ:STOCK:X1-LCD", "--to", "soon"], "YYYY-MM-DD"),
        (["ledger", "trial-balance", "--as-of", "20261130"], "YYYY-MM-DD"),
        (["ledger", "entries", "--from", "last week"], "YYYY-MM-DD"),
        (
            [
                "ledger",
                "statement",
                "HQ:STOCK:X1-LCD",
                "--cursor",
                "2026-01-01~99999999999999999999",
            ],
            "cursor",
        ),
        (["ledger", "entries", "--cursor", "garbage"], "cursor"),
        (["ledger", "entries", "--ref-key", 'a"b'], "ref_key"),
        (["ledger", "entries", "--account", "SP-0404:STOCK:X1-LCD"], "does not exist"),
        (["ledger", "entry", "not-an-id"], "not an entry id"),
        (["ledger", "entry", "01a20609-7bda-7500-90f6-8952b02632a6"], "does not exist"),
        (["ledger", "statement", "SP-0404:STOCK:X1-LCD"], "does not exist"),
        (["ledger", "post", "bad.json"], "not valid JSON"),
        (["ledger", "post", "missing.json"], "cannot read missing.json"),
        (["ledger", "post", str(tmp_path)], "cannot read"),
        (["ledger", "post", write(tmp_path / "n.json", 5)], "error"),
        (["ledger", "post", write(tmp_path / "l.json", [])], "nothing to post"),
        (["ledger", "post", write(tmp_path / "z.json", [issue(0)])], "entry 0: postings.0.amount"),
        (
            ["ledger", "post", write(tmp_path / "u.json", issue(1, target="SP-0404:STOCK:X1-LCD"))],
            "does not exist",
        ),
        (["export", "beancount", str(tmp_path / "no" / "such" / "dir.beancount")], "cannot write"),
    ]:
        output = run(*args, code=1)
        assert said in output, (args, output)
        assert "error" in output, args


def test_cli_key_means_what_the_idempotency_key_header_means(cli_db, tmp_path):
    stock(cli_db, "HQ:STOCK:X1-LCD", 10)
    one = write(tmp_path / "one.json", issue(1))
    first = run("ledger", "post", one, "--key", "rq-1").split()[0]
    assert f"{first} already posted" in run("ledger", "post", one, "--key", "rq-1")
    with cli_db.reading() as s:
        assert queries.get_entry(s, SYSTEM, uuid.UUID(first))["idempotency_key"] == "rq-1"
    assert "idempotency key: rq-1" in run("ledger", "entry", first)
    keyed = write(tmp_path / "keyed.json", {**issue(1), "idempotency_key": "other"})
    assert "differ" in run("ledger", "post", keyed, "--key", "rq-2", code=1)
    many = write(tmp_path / "many.json", [issue(1), issue(1, target="SP-0002:STOCK:X1-LCD")])
    posted = run("ledger", "post", many, "--key", "batch-7").split("\n")
    again = run("ledger", "post", many, "--key", "batch-7")
    assert again.count("already posted") == 2
    with cli_db.reading() as s:
        keys = [
            queries.get_entry(s, SYSTEM, uuid.UUID(line.split()[0]))["idempotency_key"]
            for line in posted
            if line
        ]
    assert keys == ["batch-7/0", "batch-7/1"]


def test_cli_shows_money_as_money(cli_db, tmp_path):
    stock(cli_db, "HQ:STOCK:X1-LCD", 1500)
    run("ledger", "post", write(tmp_path / "cny.json", opening(1234567, "BANK:STOCK:CNY")))
    assert "BANK:STOCK:CNY: 12,345.67 CNY" in run("ledger", "balance", "BANK:STOCK:CNY")
    assert "HQ:STOCK:X1-LCD: 1,500 X1-LCD" in run("ledger", "balance", "HQ:STOCK:X1-LCD")
    before = run("ledger", "balance", "BANK:STOCK:CNY", "--as-of", str(TODAY - timedelta(days=1)))
    assert "BANK:STOCK:CNY: 0.00 CNY" in before
    statement = run("ledger", "statement", "BANK:STOCK:CNY")
    assert "12,345.67" in statement and "1234567" not in statement
    assert "OPEN:STOCK:CNY" in statement  # the counter-account
    trial = run("ledger", "trial-balance")
    assert "12,345.67" in trial and "-12,345.67" in trial and "1,500" in trial
    assert "1234567" not in trial
    as_of = run("ledger", "trial-balance", "--as-of", str(TODAY - timedelta(days=1)))
    assert "12,345.67" not in as_of
    listed = run("ledger", "entries", "--account", "BANK:STOCK:CNY")
    assert "BANK:STOCK:CNY 12,345.67" in listed and "OPEN:STOCK:CNY -12,345.67" in listed


def test_cli_lists_searches_and_shows_entries(cli_db, tmp_path):
    serial = "860000000000301"
    stock(cli_db, "HQ:STOCK:H-X1", 1, serials=[serial])
    stock(cli_db, "HQ:STOCK:X1-LCD", 5)
    for n in range(3):
        run(
            "ledger", "post", write(tmp_path / f"{n}.json", {**issue(1), "refs": {"rq": f"RQ-{n}"}})
        )
    swap = handset(serial, "HQ:STOCK:H-X1", "SP-0001:STOCK:H-X1")
    swap_id = run("ledger", "post", write(tmp_path / "swap.json", swap)).split()[0]
    found = run("ledger", "entries", "--ref-key", "rq", "--ref-value", "RQ-1")
    assert "RQ-1" in found and "RQ-0" not in found and "RQ-2" not in found
    first = run("ledger", "entries", "--kind", "issue", "--limit", "2")
    assert "RQ-2" in first and "RQ-1" in first and "more: --cursor" in first
    cursor = first.split("more: --cursor ")[1].split()[0]
    rest = run("ledger", "entries", "--kind", "issue", "--limit", "2", "--cursor", cursor)
    assert "RQ-0" in rest and "RQ-1" not in rest and "more:" not in rest
    assert swap_id in run("ledger", "entries", "--holder", "SP-0001", "--actor", "system")
    assert "no entries match" in run("ledger", "entries", "--to", str(TODAY - timedelta(days=1)))
    shown = run("ledger", "entry", swap_id)
    assert "SP-0001:STOCK:H-X1" in shown and serial in shown and "handset_move" in shown
    around = ["--from", str(TODAY - timedelta(days=1)), "--to", str(TODAY + timedelta(days=1))]
    statement = run("ledger", "statement", "SP-0001:STOCK:X1-LCD", *around)
    assert statement.count("HQ:STOCK:X1-LCD") == 3 and "closing balance 3 X1-LCD" in statement
    before = run("ledger", "statement", "SP-0001:STOCK:X1-LCD", "--to", str(TODAY - timedelta(1)))
    assert "HQ:STOCK:X1-LCD" not in before and "closing balance 0 X1-LCD" in before


def test_cli_database_trouble_is_a_message_not_a_traceback(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "aftersales"), "ledger", "balance", "HQ:STOCK:X1-LCD"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "db upgrade" in done.stdout + done.stderr
