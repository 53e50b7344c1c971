"""The purchase workbook (importers.purchase_sheet): the template, a filled
workbook read into arrays, and every cell that cannot be used refused by
sheet, row and column."""

from __future__ import annotations

import io
from datetime import datetime

import numpy as np
import pytest
import xlsxwriter
from openpyxl import Workbook, load_workbook

from importers.purchase_sheet import (
    HEADERS,
    ImportProblem,
    read_purchase_workbook,
    write_purchase_template,
)
from ledger.errors import InvalidInput

PARTS = [
    ["SCR-1", "Screen", 1250.5, 0.0008, 3, 100, 20, 45],
    ["BAT-1", "Battery", "89.90", 0.0005, 2, 200, 50, 30],
    ["SCREW-9", None, 0.05, 0.00002, None, None, None, None],
]
SALES = [
    ["region", "2027-01", "2027-02", "2027-03"],
    ["South", 1000, 800, None],
    ["North", 10, 0, 5],
]


def _book(parts=None, sales=None, *, headers=HEADERS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "parts"
    ws.append(list(headers))
    for row in PARTS if parts is None else parts:
        ws.append(row)
    ss = wb.create_sheet("sales")
    for row in SALES if sales is None else sales:
        ss.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_a_filled_workbook_reads_into_arrays():
    got = read_purchase_workbook(_book())
    assert got.sku == ("SCR-1", "BAT-1", "SCREW-9")
    assert got.name == ("Screen", "Battery", "")
    assert got.cost.tolist() == [125050, 8990, 5]  # fen
    assert got.cost.dtype == np.int64
    assert np.allclose(got.failure_rate, [0.0008, 0.0005, 0.00002])
    assert got.weight.tolist() == [3.0, 2.0, 1.0]
    assert got.moq.tolist() == [100, 200, 0]
    assert got.pack.tolist() == [20, 50, 1]
    assert got.lead_time_days.tolist() == [45, 30, 0]
    assert got.regions == ("South", "North")
    assert got.months == ("2027-01", "2027-02", "2027-03")
    assert got.sales.tolist() == [[1000, 800, 0], [10, 0, 5]]


def test_the_template_reads_back_as_its_example(tmp_path):
    path = tmp_path / "template.xlsx"
    data = write_purchase_template(path)
    assert path.read_bytes() == data
    book = load_workbook(io.BytesIO(data), read_only=True)
    assert {"parts", "sales"} <= set(book.sheetnames)
    got = read_purchase_workbook(path)
    assert got.sku == ("SCR-X1-OLED",) and got.cost.tolist() == [125000]
    assert got.months == ("2027-01", "2027-02", "2027-03") and got.sales.shape == (1, 3)
    buffer = io.BytesIO()
    write_purchase_template(buffer)
    assert read_purchase_workbook(io.BytesIO(buffer.getvalue())).sku == got.sku


def test_months_given_as_dates_are_read_as_months():
    sales = [["region", datetime(2027, 12, 1), datetime(2028, 1, 1)], ["South", 5, 6]]
    assert read_purchase_workbook(_book(sales=sales)).months == ("2027-12", "2028-01")


def _problem(data) -> ImportProblem:
    with pytest.raises(ImportProblem) as info:
        read_purchase_workbook(data)
    assert isinstance(info.value, InvalidInput)  # the importers' error, mapped by the API
    return info.value


def _with_part(row, at=1):
    parts = [list(r) for r in PARTS]
    parts[at] = row
    return _book(parts=parts)


@pytest.mark.parametrize(
    ("cost", "hint"),
    [(12.345, "at most two"), ("12,3.4.5", "at most two"), (0, "more than 0"), (-5, "more than 0"),
     ("abc", "not a price"), (True, "not a price"), (datetime(2027, 1, 1), "not a price")],
)  # fmt: skip
def test_a_bad_unit_cost_is_refused_by_row_and_column(cost, hint):
    err = _problem(_with_part(["BAT-1", "Battery", cost, 0.0005, 2, 200, 50, 30]))
    assert err.where["sheet"] == "parts" and err.where["row"] == 3
    assert err.where["column"] == "unit_cost (CNY)"
    assert hint in str(err)


def test_a_duplicate_sku_is_refused_naming_both_rows():
    err = _problem(_with_part(["SCR-1", "Again", 10, 0.001, 1, 0, 1, 0], at=2))
    assert err.where["row"] == 4 and "row 2" in str(err) and "SCR-1" in str(err)


@pytest.mark.parametrize(
    ("header", "hint"),
    [(["region", "2027-01", "2027-03"], "expected 2027-02"),
     (["region", "2027-12", "2027-13"], "not a month"),
     (["region", "Jan 2027"], "not a month"),
     (["region", "2027-12", "2027-11"], "consecutive"),
     (["area", "2027-01"], "'region'"),
     (["region"], "no months")],
)  # fmt: skip
def test_months_must_be_consecutive_yyyy_mm(header, hint):
    err = _problem(_book(sales=[header, ["South"] + [1] * (len(header) - 1)]))
    assert err.where["sheet"] == "sales" and err.where["row"] == 1
    assert hint in str(err)


def test_a_nul_byte_is_refused():
    """A NUL written by XlsxWriter (or Excel) reaches the reader as _x0000_."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    parts = book.add_worksheet("parts")
    for c, h in enumerate(HEADERS):
        parts.write_string(0, c, h)
    parts.write_string(1, 0, "BAT\x00-1")
    parts.write_number(1, 2, 10)
    parts.write_number(1, 3, 0.001)
    sales = book.add_worksheet("sales")
    for c, v in enumerate(SALES[0]):
        sales.write_string(0, c, v)
    sales.write_string(1, 0, "South")
    book.close()
    err = _problem(buffer.getvalue())
    assert err.where["row"] == 2 and err.where["column"] == "sku" and "NUL" in str(err)


def test_a_formula_error_cell_and_a_formula_are_refused():
    wb = load_workbook(io.BytesIO(_book()))
    wb["sales"]["C2"] = "#DIV/0!"
    out = io.BytesIO()
    wb.save(out)
    err = _problem(out.getvalue())
    assert (err.where["sheet"], err.where["row"], err.where["column"]) == ("sales", 2, "C")
    assert "#DIV/0!" in str(err)
    wb["sales"]["C2"] = 5
    wb["parts"]["D2"] = "=1/1000"
    out = io.BytesIO()
    wb.save(out)
    err = _problem(out.getvalue())
    assert err.where["row"] == 2 and "formula" in str(err)


@pytest.mark.parametrize(
    ("row", "column"),
    [(["BAT-1", "B", 10, -0.1, 2, 200, 50, 30], "failure_rate (per handset-month)"),
     (["BAT-1", "B", 10, float("nan"), 2, 200, 50, 30], "failure_rate (per handset-month)"),
     (["BAT-1", "B", 10, None, 2, 200, 50, 30], "failure_rate (per handset-month)"),
     (["BAT-1", "B", None, 0.1, 2, 200, 50, 30], "unit_cost (CNY)"),
     (["BAT-1", "B", 10, 0.1, -2, 200, 50, 30], "weight"),
     (["BAT-1", "B", 10, 0.1, 2, 2.5, 50, 30], "moq"),
     (["BAT-1", "B", 10, 0.1, 2, 200, 0, 30], "pack"),
     (["BAT-1", "B", 10, 0.1, 2, 200, 50, "soon"], "lead_time_days"),
     ([None, "B", 10, 0.1, 2, 200, 50, 30], "sku")],
)  # fmt: skip
def test_every_bad_cell_names_its_column(row, column):
    err = _problem(_with_part(row))
    assert err.where["row"] == 3 and err.where["column"] == column


def test_bad_sales_cells_and_regions():
    err = _problem(_book(sales=[SALES[0], ["South", 1, -2, 3]]))
    assert (err.where["row"], err.where["column"]) == (2, "2027-02")
    err = _problem(_book(sales=[SALES[0], ["South", 1, 2, 3], ["South", 1, 1, 1]]))
    assert err.where["row"] == 3 and "row 2" in str(err)
    err = _problem(_book(sales=[SALES[0], [None, 1, 2, 3]]))
    assert err.where["column"] == "A"
    err = _problem(_book(sales=[SALES[0]]))
    assert "no regions" in str(err)


def test_missing_sheet_column_or_parts():
    wb = Workbook()
    wb.active.title = "parts"
    out = io.BytesIO()
    wb.save(out)
    assert _problem(out.getvalue()).where["sheet"] == "sales"
    err = _problem(_book(headers=[h for h in HEADERS if h != "pack"]))
    assert err.where["row"] == 1 and "'pack'" in str(err)
    assert "no parts" in str(_problem(_book(parts=[])))


def test_not_a_workbook():
    with pytest.raises(InvalidInput, match="not an xlsx workbook"):
        read_purchase_workbook(b"sku,name\nA,B\n")
