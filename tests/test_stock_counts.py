"""Stock counts (盘点) on both databases: the sheet out and back, variances
as deltas against the snapshot, wrong input that changes nothing, retries
and races, and the command line."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from api.app import create_app
from ledger.errors import InsufficientBalance, InvalidState, LedgerError
from ledger.models import JournalEntry
from ledger.parts import counts, receiving
from ledger.parts.counts import CountIn
from ledger.parts.documents import DocumentAction
from ledger.parts.requisitions import LineIn
from ledger.settings import Settings
from tests import parts_network as pn
from tests.cli import cli_database, run
from tests.test_parts_races import _at_once
from tests.tokens import SECRET

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def client(db):
    pn.network(db)
    app = create_app(db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://"))
    with TestClient(app) as test_client:
        yield test_client


class Caller:
    """HTTP calls as the network's users; the ledger checked sound after each."""

    def __init__(self, client: TestClient, db) -> None:
        self.client, self.db, self.tokens = client, db, {}

    def __call__(self, method, path, user, body=None, status=200, files=None, headers=None):
        if user not in self.tokens:
            self.tokens[user] = pn.headers(self.client, user)
        response = self.client.request(
            method, path, json=body, files=files, headers={**self.tokens[user], **(headers or {})}
        )
        assert response.status_code == status, response.text
        pn.sound(self.db)
        if response.headers["content-type"].startswith(XLSX):
            return response
        return response.json()


@pytest.fixture
def call(client, db):
    return Caller(client, db)


def _rows(db) -> tuple[int, int]:
    """Journal entries and document actions: what a refused request must not add."""
    with db.reading() as s:
        return (
            s.scalar(select(func.count()).select_from(JournalEntry)),
            s.scalar(select(func.count()).select_from(DocumentAction)),
        )


def _sheet(response) -> list[tuple]:
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    rows = [tuple(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    return rows


def _filled(response, counted: dict[str, object]) -> bytes:
    """The downloaded sheet with the counted column filled in for `counted`."""
    book = load_workbook(io.BytesIO(response.content))
    ws = book.worksheets[0]
    header = [c.value for c in ws[1]]
    column = header.index("实盘数量 Counted") + 1
    for row in range(2, ws.max_row + 1):
        sku = ws.cell(row, 1).value
        if sku in counted:
            ws.cell(row, column).value = counted[sku]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    ws = book.active
    ws.append(["SKU 编码", "名称", "Name", "实盘数量 Counted"])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(data: bytes, name: str = "sheet.xlsx"):
    return {"file": (name, data, XLSX)}


def _stock(db, **quantities: int) -> None:
    for sku, quantity in quantities.items():
        pn.stock(db, "RW-S", sku, quantity)


# -- the whole flow --------------------------------------------------------------------


def test_a_blind_count_over_http_from_sheet_to_posted_variances(call, db):
    _stock(db, **{"P-LCD": 10, "P-BATT": 5, "P-BOARD": 3})
    opened = call("POST", "/counts", "clerk", {"location": "RW-S", "blind": True}, 201)
    number = opened["number"]
    assert number.startswith("SC-") and opened["state"] == "open" and opened["lines"] == 3

    sheet = call("GET", f"/counts/{number}/sheet.xlsx", "clerk")
    disposition = sheet.headers["content-disposition"]
    day = opened["snapshot_on"].replace("-", "")
    assert f'filename="{number}_RW-S_{day}.xlsx"' in disposition
    rows = _sheet(sheet)
    assert rows[0] == ("SKU 编码", "名称", "Name", "实盘数量 Counted")  # no book: blind
    assert [r[0] for r in rows[1:]] == ["P-BATT", "P-BOARD", "P-LCD"]
    assert rows[1][1] == "零件 P-BATT" and rows[1][2] == "Part P-BATT"
    shown = call("GET", f"/counts/{number}", "clerk")
    assert all(line["book"] is None for line in shown["items"])
    call("GET", f"/counts/{number}/variances", "clerk", status=409)

    filled = _filled(sheet, {"P-LCD": 8, "P-BATT": 6, "P-BOARD": 3})
    entered = call("POST", f"/counts/{number}/sheet", "clerk", files=_upload(filled))
    assert entered["counted"] == 3
    call("POST", f"/counts/{number}/submit", "clerk")
    shown = call("GET", f"/counts/{number}", "clerk")
    assert {line["sku"]: line["book"] for line in shown["items"]} == {
        "P-BATT": 5, "P-BOARD": 3, "P-LCD": 10,
    }  # fmt: skip

    report = call("GET", f"/counts/{number}/variances", "approver1")
    assert {i["sku"]: (i["variance"], i["value"]) for i in report["items"]} == {
        "P-LCD": (-2, -20_000), "P-BATT": (1, 3_000),
    }  # fmt: skip
    assert (report["gain_units"], report["gain_value"]) == (1, 3_000)
    assert (report["loss_units"], report["loss_value"]) == (2, 20_000)
    assert report["net_value"] == -17_000 and report["differing"] == 2
    xlsx = call("GET", f"/counts/{number}/variances.xlsx", "approver1")
    assert "_variances.xlsx" in xlsx.headers["content-disposition"]
    assert _sheet(xlsx)[1][0] == "P-BATT"

    call("POST", f"/counts/{number}/approve", "clerk", status=403)
    approved = call("POST", f"/counts/{number}/approve", "approver1", {"reason": "checked"})
    assert approved["state"] == "approved"
    assert [h["action"] for h in approved["history"]] == ["open", "count", "submit", "approve"]
    assert approved["history"][-1]["entry_id"] is not None
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 8
    assert pn.balance(db, "RW-S:STOCK:P-BATT") == 6
    assert pn.balance(db, "RW-S:STOCK:P-BOARD") == 3
    assert pn.balance(db, "STOCK-COUNT:STOCK:P-LCD") == 2
    assert pn.balance(db, "STOCK-COUNT:STOCK:P-BATT") == -1
    listed = call("GET", "/counts?location=RW-S&state=approved", "clerk")
    assert [c["number"] for c in listed["items"]] == [number]


def test_an_open_count_shows_the_book_and_pages_its_lines(call, db):
    _stock(db, **{"P-LCD": 10, "P-BATT": 5})
    number = call("POST", "/counts", "clerk", {"location": "RW-S"}, 201)["number"]
    rows = _sheet(call("GET", f"/counts/{number}/sheet.xlsx", "clerk"))
    assert rows[0] == ("SKU 编码", "名称", "Name", "账面数量 Book", "实盘数量 Counted")
    assert rows[1][0] == "P-BATT" and rows[1][3] == 5 and rows[1][4] is None
    page = call("GET", f"/counts/{number}?limit=1", "clerk")
    assert [i["sku"] for i in page["items"]] == ["P-BATT"] and page["next_after"] == 1
    rest = call("GET", f"/counts/{number}?after=1&limit=1", "clerk")
    assert [i["sku"] for i in rest["items"]] == ["P-LCD"]
    # In batches: the later value for a SKU wins; a part beyond the snapshot is added.
    call("POST", f"/counts/{number}/lines", "clerk", {"lines": [{"sku": "P-LCD", "counted": 1}]})
    body = {"lines": [{"sku": "P-LCD", "counted": 11}, {"sku": "P-BOARD", "counted": 2}]}
    entered = call("POST", f"/counts/{number}/lines", "clerk", body)
    assert entered["lines"] == 3 and entered["counted"] == 2
    refused = call("POST", f"/counts/{number}/submit", "clerk", status=409)
    assert "1 line(s) not counted (P-BATT)" in refused["detail"]
    call("POST", f"/counts/{number}/submit", "clerk", {"uncounted_as_zero": True})
    report = call("GET", f"/counts/{number}/variances", "clerk")
    assert {i["sku"]: i["variance"] for i in report["items"]} == {
        "P-BATT": -5, "P-LCD": 1, "P-BOARD": 2,
    }  # fmt: skip
    call("POST", f"/counts/{number}/approve", "admin")
    assert pn.balance(db, "RW-S:STOCK:P-BATT") == 0
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 11
    assert pn.balance(db, "RW-S:STOCK:P-BOARD") == 2


def test_a_count_limited_to_a_category_or_skus(call, db):
    _stock(db, **{"P-LCD": 10, "P-BATT": 5})
    one = call("POST", "/counts", "clerk", {"location": "RW-S", "skus": ["P-LCD"]}, 201)
    assert one["lines"] == 1 and one["scope"] == {"skus": ["P-LCD"]}
    again = call("POST", "/counts", "clerk", {"location": "RW-S"}, status=409)
    assert one["number"] in again["detail"]
    call("POST", f"/counts/{one['number']}/cancel", "clerk", {"reason": "wrong scope"})
    by_category = call("POST", "/counts", "clerk", {"location": "RW-S", "category": "none"}, 201)
    assert by_category["lines"] == 0
    call("POST", f"/counts/{by_category['number']}/cancel", "clerk")
    refused = call("POST", "/counts", "clerk", {"location": "RW-S", "skus": ["NOPE"]}, 422)
    assert "NOPE" in refused["detail"]


# -- movements during a count --------------------------------------------------------------


def test_a_receipt_and_an_issue_during_the_count_stay(db):
    pn.network(db)
    pn.stock(db, "RW-S", "P-LCD", 10)
    pn.stock(db, "RW-S", "P-BATT", 10)
    clerk, approver = pn.actor(db, "clerk"), pn.actor(db, "approver1")
    number = db.transact(lambda s: counts.open_count(s, clerk, location="RW-S")).number
    pn.stock(db, "RW-S", "P-LCD", 5)  # a receipt after the snapshot
    db.transact(
        lambda s: receiving.transfer(
            s, clerk, sender="RW-S", receiver="HQ", lines=[LineIn(sku="P-BATT", quantity=3)]
        )
    )  # an issue after the snapshot
    lines = [CountIn("P-LCD", 9), CountIn("P-BATT", 8)]  # counted at the snapshot: 1 and 2 short
    db.transact(lambda s: counts.enter(s, clerk, number, lines))
    db.transact(lambda s: counts.submit(s, clerk, number))
    pn.stock(db, "RW-S", "P-LCD", 2)  # and another before approval
    pn.sound(db)
    db.transact(lambda s: counts.approve(s, approver, number))
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 10 + 5 + 2 - 1
    assert pn.balance(db, "RW-S:STOCK:P-BATT") == 10 - 3 - 2
    pn.sound(db)


def test_a_loss_beyond_what_is_left_now_is_refused_naming_the_sku(db):
    pn.network(db)
    pn.stock(db, "RW-S", "P-LCD", 10)
    clerk, approver = pn.actor(db, "clerk"), pn.actor(db, "approver1")
    number = db.transact(lambda s: counts.open_count(s, clerk, location="RW-S")).number
    db.transact(lambda s: counts.enter(s, clerk, number, [CountIn("P-LCD", 7)]))
    db.transact(lambda s: counts.submit(s, clerk, number))
    db.transact(
        lambda s: receiving.transfer(
            s, clerk, sender="RW-S", receiver="HQ", lines=[LineIn(sku="P-LCD", quantity=9)]
        )
    )
    before = _rows(db)
    with pytest.raises(InsufficientBalance) as refused:
        db.transact(lambda s: counts.approve(s, approver, number))
    assert "P-LCD" in refused.value.detail and refused.value.where["sku"] == "P-LCD"
    assert _rows(db) == before
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 1
    with db.reading() as s:
        assert counts.get(s, approver, number).state == "submitted"
    pn.sound(db)


def test_a_large_variance_is_posted_as_several_entries_in_one_unit(db, monkeypatch):
    monkeypatch.setattr(counts, "LINES_PER_ENTRY", 2)
    pn.network(db)
    for sku in pn.COSTS:
        pn.stock(db, "RW-S", sku, 10)
    clerk, approver = pn.actor(db, "clerk"), pn.actor(db, "approver1")
    number = db.transact(lambda s: counts.open_count(s, clerk, location="RW-S")).number
    lines = [CountIn("P-LCD", 9), CountIn("P-BATT", 12), CountIn("P-BOARD", 7)]
    db.transact(lambda s: counts.enter(s, clerk, number, lines))
    db.transact(lambda s: counts.submit(s, clerk, number))
    before = _rows(db)[0]
    view = db.transact(lambda s: counts.approve(s, approver, number))
    assert _rows(db)[0] == before + 2
    assert len(view.history[-1].detail["entries"]) == 2
    with db.reading() as s:
        refs = s.scalars(select(JournalEntry.refs).where(JournalEntry.kind == "stock_count")).all()
    assert sorted(r["part"] for r in refs) == ["1/2", "2/2"]
    assert {r["stock_count"] for r in refs} == {number}
    assert pn.balance(db, "RW-S:STOCK:P-BATT") == 12
    pn.sound(db)


# -- wrong input changes nothing ---------------------------------------------------------


def test_wrong_input_is_refused_and_changes_nothing(call, db):
    _stock(db, **{"P-LCD": 10, "P-BATT": 5})
    number = call("POST", "/counts", "clerk", {"location": "RW-S"}, 201)["number"]

    def refused(method, path, user, status, body=None, files=None) -> dict:
        before = _rows(db)
        answer = call(method, path, user, body, status, files=files)
        assert _rows(db) == before, answer
        return answer

    lines = f"/counts/{number}/lines"
    body = {"lines": [{"sku": "P-LCD", "counted": 3}, {"sku": "P-NOPE", "counted": 1}]}
    answer = refused("POST", lines, "clerk", 422, body)
    assert "line 2" in answer["detail"] and "P-NOPE" in answer["detail"]
    refused("POST", lines, "clerk", 422, {"lines": [{"sku": "P-LCD", "counted": -1}]})
    refused("POST", lines, "clerk", 422, {"lines": [{"sku": "P-LCD", "counted": "5"}]})
    refused("POST", lines, "clerk", 422, {"lines": [{"sku": "P-LCD", "counted": 10**10}]})
    refused("POST", lines, "clerk", 422, {"lines": [{"sku": "P-LCD", "counted": 2.5}]})

    upload = f"/counts/{number}/sheet"
    bad_sku = _xlsx([["P-LCD", None, None, 3], ["P-NOPE", None, None, 1]])
    answer = refused("POST", upload, "clerk", 422, files=_upload(bad_sku))
    assert "row 3" in answer["detail"] and "P-NOPE" in answer["detail"]
    for garbage in (-1, 1.5, "abc", "   ", 2_000_000_000, True):
        sheet = _xlsx([["P-BATT", None, None, 2], ["P-LCD", None, None, garbage]])
        answer = refused("POST", upload, "clerk", 422, files=_upload(sheet))
        assert "row 3" in answer["detail"] and "Counted" in answer["detail"], garbage
    answer = refused("POST", upload, "clerk", 422, files=_upload(b"PK\x03\x04 not a zip\x00"))
    assert "not an xlsx workbook" in answer["detail"]
    refused("POST", upload, "clerk", 422, files=_upload(b"\x00" * 100, "sheet.txt"))
    no_column = Workbook()
    no_column.active.append(["SKU", "something"])
    out = io.BytesIO()
    no_column.save(out)
    assert (
        "Counted" in refused("POST", upload, "clerk", 422, files=_upload(out.getvalue()))["detail"]
    )

    refused("POST", f"/counts/{number}/approve", "approver1", 409)  # before submit
    refused("POST", "/counts", "sp-a", 404, {"location": "SP-B"})  # another point's
    refused("POST", "/counts", "sp-a", 404, {"location": "NOWHERE"})
    refused("POST", "/counts", "approver1", 403, {"location": "RW-S"})
    refused("POST", "/counts", "clerk", 409, {"location": "RW-S"})  # one open at a time
    refused("GET", f"/counts/{number}", "sp-a", 404)

    call("POST", lines, "clerk", {"lines": [{"sku": "P-LCD", "counted": 10}]})
    call("POST", f"/counts/{number}/submit", "clerk", {"uncounted_as_zero": True})
    answer = refused("POST", lines, "clerk", 409, {"lines": [{"sku": "P-LCD", "counted": 9}]})
    assert "is submitted" in answer["detail"]
    refused("POST", f"/counts/{number}/submit", "clerk", 409)
    call("POST", f"/counts/{number}/approve", "approver1")
    answer = refused("POST", f"/counts/{number}/approve", "approver1", 409)
    assert "is approved" in answer["detail"] and answer["state"] == "approved"
    refused("POST", f"/counts/{number}/cancel", "clerk", 409)
    assert pn.balance(db, "RW-S:STOCK:P-BATT") == 0


def test_a_service_point_counts_its_own_stock(call, db):
    pn.stock(db, "SP-A", "P-LCD", 4)
    opened = call("POST", "/counts", "sp-a", {"location": "SP-A", "blind": True}, 201)
    number = opened["number"]
    assert opened["lines"] == 1
    call("GET", f"/counts/{number}", "sp-b", status=404)
    assert call("GET", "/counts", "sp-b")["items"] == []
    assert [c["number"] for c in call("GET", "/counts", "sp-a")["items"]] == [number]
    call("POST", f"/counts/{number}/lines", "sp-a", {"lines": [{"sku": "P-LCD", "counted": 5}]})
    call("POST", f"/counts/{number}/submit", "sp-a")
    call("POST", f"/counts/{number}/approve", "sp-a", status=403)
    call("POST", f"/counts/{number}/approve", "approver2")
    assert pn.balance(db, "SP-A:STOCK:P-LCD") == 5


def test_a_double_clicked_approve_with_one_key_posts_once(call, db):
    _stock(db, **{"P-LCD": 10})
    number = call("POST", "/counts", "clerk", {"location": "RW-S"}, 201)["number"]
    call("POST", f"/counts/{number}/lines", "clerk", {"lines": [{"sku": "P-LCD", "counted": 12}]})
    call("POST", f"/counts/{number}/submit", "clerk")
    before = _rows(db)[0]
    key = {"Idempotency-Key": "approve-once"}
    first = call("POST", f"/counts/{number}/approve", "approver1", headers=key)
    second = call("POST", f"/counts/{number}/approve", "approver1", headers=key)
    assert first == second
    assert _rows(db)[0] == before + 1
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 12


def test_two_approvals_at_once_post_once(fresh_db):
    db = fresh_db
    pn.network(db)
    pn.stock(db, "RW-S", "P-LCD", 10)
    clerk = pn.actor(db, "clerk")
    number = db.transact(lambda s: counts.open_count(s, clerk, location="RW-S")).number
    db.transact(lambda s: counts.enter(s, clerk, number, [CountIn("P-LCD", 7)]))
    db.transact(lambda s: counts.submit(s, clerk, number))
    approvers = [pn.actor(db, "approver1"), pn.actor(db, "approver2")]

    results = _at_once(lambda i: db.transact(lambda s: counts.approve(s, approvers[i], number)), 2)
    approved = [r for r in results if not isinstance(r, LedgerError)]
    assert len(approved) == 1, results
    [other] = [r for r in results if isinstance(r, LedgerError)]
    assert isinstance(other, InvalidState)
    assert pn.balance(db, "RW-S:STOCK:P-LCD") == 7
    with db.reading() as s:
        posted = s.scalar(
            select(func.count()).select_from(JournalEntry).where(JournalEntry.kind == "stock_count")
        )
    assert posted == 1
    pn.sound(db)


def test_two_counts_opened_at_once_at_one_location_make_one(fresh_db):
    db = fresh_db
    pn.network(db)
    pn.stock(db, "RW-S", "P-LCD", 10)
    clerk = pn.actor(db, "clerk")
    results = _at_once(
        lambda i: db.transact(lambda s: counts.open_count(s, clerk, location="RW-S")), 3
    )
    assert sum(not isinstance(r, LedgerError) for r in results) == 1, results
    assert all(isinstance(r, InvalidState) for r in results if isinstance(r, LedgerError))


# -- the command line --------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    yield from cli_database(tmp_path, monkeypatch, lambda s: pn.build(s, s.info["window"].today()))


def test_a_count_from_the_command_line(cli_db, tmp_path):
    pn.stock(cli_db, "RW-S", "P-LCD", 10)
    pn.stock(cli_db, "RW-S", "P-BATT", 4)
    out = run("counts", "open", "RW-S", "--as", "clerk")
    number = out.split()[0]
    assert number.startswith("SC-") and "open" in out
    assert number in run("counts", "list", "--location", "RW-S")
    sheet = tmp_path / "sheet.xlsx"
    assert str(sheet.name) in run("counts", "sheet", number, "--out", str(sheet))
    assert _sheet_rows(sheet)[1][0] == "P-BATT"
    assert "SKU=UNITS" in run("counts", "enter", number, "P-LCD", "--as", "clerk", code=1)
    run("counts", "enter", number, "P-LCD=8", "P-BATT=4", "--as", "clerk")
    assert "not a part" in run("counts", "enter", number, "P-NOPE=1", "--as", "clerk", code=1)
    run("counts", "submit", number, "--as", "clerk")
    shown = run("counts", "variances", number)
    assert "P-LCD" in shown and "-2" in shown and "200.00" in shown
    assert "may not approve" in run("counts", "approve", number, "--as", "clerk", code=1)
    assert f"{number} approved" in run("counts", "approve", number, "--as", "approver1")
    assert "is approved" in run("counts", "approve", number, "--as", "approver1", code=1)
    assert "approver1 approve" in run("counts", "show", number)
    assert pn.balance(cli_db, "RW-S:STOCK:P-LCD") == 8
    pn.sound(cli_db)


def test_uploading_a_sheet_from_the_command_line(cli_db, tmp_path):
    pn.stock(cli_db, "RW-S", "P-LCD", 10)
    number = run("counts", "open", "RW-S", "--blind", "--as", "clerk").split()[0]
    sheet = tmp_path / "sheet.xlsx"
    run("counts", "sheet", number, "--out", str(sheet))
    book = load_workbook(sheet)
    assert [c.value for c in book.worksheets[0][1]] == [
        "SKU 编码", "名称", "Name", "实盘数量 Counted",
    ]  # fmt: skip
    book.worksheets[0].cell(2, 4).value = 11
    book.save(sheet)
    assert "1 of 1 counted" in run("counts", "upload", number, str(sheet), "--as", "clerk")
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    assert "not an xlsx workbook" in run("counts", "upload", number, str(bad), code=1)
    run("counts", "cancel", number, "--as", "clerk", "--reason", "redo")
    assert pn.balance(cli_db, "RW-S:STOCK:P-LCD") == 10


def _sheet_rows(path) -> list[tuple]:
    book = load_workbook(path, read_only=True)
    rows = [tuple(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    return rows


def test_only_the_sheet_upload_takes_a_binary_multipart_body(call, client):
    _stock(client.app.state.db, **{"P-LCD": 1})
    number = call("POST", "/counts", "clerk", {"location": "RW-S"}, 201)["number"]
    binary = {"file": ("x.bin", b"\x00\x01", "application/octet-stream")}
    answer = call("POST", f"/counts/{number}/lines", "clerk", status=422, files=binary)
    assert answer["field"] == "body" and "NUL" in answer["detail"]
    answer = call("POST", f"/counts/{number}/sheet", "clerk", status=422, files=binary)
    assert "not an xlsx workbook" in answer["detail"]


# -- what an upload may be, and what it may cost ------------------------------------------


def _open_at_rws(call, db, blind=False, **stock) -> str:
    _stock(db, **stock)
    return call("POST", "/counts", "clerk", {"location": "RW-S", "blind": blind}, 201)["number"]


def test_a_sheet_reaching_the_last_cell_is_refused_quickly_and_in_little_memory(call, db):
    import resource
    import time

    from tests import xlsx_files as xf

    number = _open_at_rws(call, db, **{"P-LCD": 10})
    corner = '<row r="1048576">' + xf.number("XFD1048576", 1) + "</row>"
    data = xf.workbook(xf.HEADER + '<row r="2">' + xf.text("A2", "P-LCD") + xf.number("B2", 3)
                       + "</row>" + corner)  # fmt: skip
    assert len(data) < 4096
    before, started = _rows(db), time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    answer = call("POST", f"/counts/{number}/sheet", "clerk", status=422, files=_upload(data))
    assert "past row 51,001" in answer["detail"]
    assert time.perf_counter() - started < 30
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200 * 1024  # KiB
    assert _rows(db) == before


def test_a_huge_cell_is_refused_without_echoing_it(call, db):
    from tests import xlsx_files as xf

    number = _open_at_rws(call, db, **{"P-LCD": 10})
    row = '<row r="2"><c r="A2" t="s"><v>0</v></c>' + xf.number("B2", 3) + "</row>"
    # 20 MiB in one shared string: unpacks within bounds, but is no SKU.
    big = xf.workbook(xf.HEADER + row, shared=["A" * (20 * 1024 * 1024)])
    answer = call("POST", f"/counts/{number}/sheet", "clerk", status=422, files=_upload(big))
    assert "row 2" in answer["detail"] and len(answer["detail"]) < 300
    # 100 MiB unpacked: refused before any XML is read.
    bomb = xf.workbook(xf.HEADER + row, shared=["A" * (100 * 1024 * 1024)])
    answer = call("POST", f"/counts/{number}/sheet", "clerk", status=422, files=_upload(bomb))
    assert "unpacks to" in answer["detail"]


def test_formulas_error_cells_twice_counted_parts_and_other_formats_are_refused(call, db):
    import zipfile

    import xlsxwriter

    from tests import xlsx_files as xf

    number = _open_at_rws(call, db, **{"P-LCD": 10, "P-BATT": 5})
    before = _rows(db)

    def refused(data, *words):
        answer = call("POST", f"/counts/{number}/sheet", "clerk", status=422, files=_upload(data))
        assert all(w in answer["detail"] for w in words), answer
        assert _rows(db) == before

    # An error cell, and a formula whose cached value would read as 0.
    refused(
        xf.workbook(xf.HEADER + '<row r="2">' + xf.text("A2", "P-LCD")
                    + '<c r="B2" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>'),
        "row 2",
    )  # fmt: skip
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet("盘点 Count")
    sheet.write_row(0, 0, ["SKU 编码", "实盘数量 Counted"])
    sheet.write(1, 0, "P-LCD")
    sheet.write_formula(1, 1, "=4+6")
    book.close()
    refused(buffer.getvalue(), "row 2", "=4+6")
    # Two shelves of one part: the counter is told, not the last one kept.
    refused(_xlsx([["P-LCD", None, None, 6], ["P-LCD", None, None, 4]]), "row 3", "row 2")
    # An OpenDocument spreadsheet is not an xlsx.
    ods = io.BytesIO()
    with zipfile.ZipFile(ods, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    refused(ods.getvalue(), "xlsx")


def test_a_limited_count_counts_its_own_parts_only(call, db):
    _stock(db, **{"P-LCD": 10, "P-BATT": 5})
    number = call("POST", "/counts", "clerk", {"location": "RW-S", "skus": ["P-LCD"]}, 201)[
        "number"
    ]
    before = _rows(db)
    body = {"lines": [{"sku": "P-LCD", "counted": 10}, {"sku": "P-BATT", "counted": 5}]}
    answer = call("POST", f"/counts/{number}/lines", "clerk", body, 422)
    assert "P-BATT is not in stock count" in answer["detail"] and "P-LCD only" in answer["detail"]
    assert _rows(db) == before
    twice = {"lines": [{"sku": "P-LCD", "counted": 6}, {"sku": "P-LCD", "counted": 4}]}
    assert "already" in call("POST", f"/counts/{number}/lines", "clerk", twice, 422)["detail"]


def test_a_blind_count_cancelled_unsubmitted_keeps_its_book_hidden(call, db):
    number = _open_at_rws(call, db, blind=True, **{"P-LCD": 10})
    call("POST", f"/counts/{number}/cancel", "clerk", {})
    shown = call("GET", f"/counts/{number}", "clerk")
    assert [line["book"] for line in shown["items"]] == [None]
    rows = _sheet(call("GET", f"/counts/{number}/sheet.xlsx", "clerk"))
    assert "账面数量 Book" not in rows[0]
