"""The stock count's spreadsheets: the count sheet a counter fills in, read
back into counts, and the variance report.

Written with XlsxWriter, read with openpyxl in read-only mode: it streams
the sheet row by row, so what an upload may cost is bounded by checks made
before and while reading (the file's size, its size unpacked, the rows read,
the columns read, a cell's length). Readers that build the sheet's whole
range in memory at once (calamine) are faster, but a 2 KB file with one cell
at XFD1048576 makes them allocate half a terabyte and abort the process.
Formulas are read as written (a formula is not a count: the counter types
the units), so a cached value never stands in for one. The ledger knows
nothing of Excel: this module turns a sheet into the
`ledger.parts.counts.CountIn` lines its services take, checking every row
first, and a service's answer into a sheet.

The count sheet, first worksheet, header in row 1:

    SKU 编码 | 名称 | Name | 账面数量 Book | 实盘数量 Counted

(the book column is left out while a blind count is open). Columns are found
by their headers, so a counter may add or move columns; rows are read from
row 2. A row whose counted cell is empty is not counted (yet); a row with
neither SKU nor count is skipped. Anything else in the counted column that is
not a whole number from 0 to 1,000,000,000 (text, spaces, a fraction, a
negative number, a date) is refused, naming the sheet row and the column.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime, time

import xlsxwriter

from ledger.errors import InvalidInput
from ledger.parts.counts import MAX_COUNT_LINES, MAX_COUNTED, CountIn, Sheet, VarianceReport

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_NAME = "盘点 Count"
SKU_HEADER = "SKU 编码"
NAME_ZH_HEADER = "名称"
NAME_EN_HEADER = "Name"
BOOK_HEADER = "账面数量 Book"
COUNTED_HEADER = "实盘数量 Counted"
_DIGITS = re.compile(r"[0-9]{1,12}")
# A sheet bigger than this is refused before it is opened; unpacked, its
# parts together may be this much bigger (a 50,000-line sheet is ~10 MB).
MAX_SHEET_BYTES = 8 * 1024 * 1024
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
# Rows read at the most: every count, the header and some blank rows.
MAX_SHEET_ROWS = MAX_COUNT_LINES + 1_001
MAX_CELL_TEXT = 100
_SHOWN = 40  # characters of a cell quoted back in an error


def _workbook(buffer: io.BytesIO) -> xlsxwriter.Workbook:
    # XlsxWriter's default mode (parts staged in temporary files, shared
    # strings) closed a 20,000-line sheet in 0.7 s, constant_memory +
    # in_memory in 1.0 s (measured here: bench/stock_count.py).
    return xlsxwriter.Workbook(buffer)


def write_sheet(sheet: Sheet) -> bytes:
    """The count sheet as xlsx bytes, one row per line in SKU order."""
    buffer = io.BytesIO()
    book = _workbook(buffer)
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    counted_fmt = book.add_format({"bg_color": "#FFF2CC", "border": 1})
    ws = book.add_worksheet(SHEET_NAME)
    headers = [SKU_HEADER, NAME_ZH_HEADER, NAME_EN_HEADER]
    if not sheet.blind:
        headers.append(BOOK_HEADER)
    headers.append(COUNTED_HEADER)
    widths = [22, 30, 36, 14, 16] if not sheet.blind else [22, 30, 36, 16]
    last = len(headers) - 1
    for col, (title, width) in enumerate(zip(headers, widths, strict=True)):
        # The column to fill in is shaded as a column, not cell by cell.
        ws.set_column(col, col, width, counted_fmt if col == last else None)
        ws.write_string(0, col, title, bold)
    ws.freeze_panes(1, 0)
    write_string, write_number = ws.write_string, ws.write_number
    for row, line in enumerate(sheet.lines, start=1):
        write_string(row, 0, line.sku)
        write_string(row, 1, line.name_zh)
        write_string(row, 2, line.name_en)
        if not sheet.blind:
            write_number(row, 3, line.book)
        if line.counted is not None:
            write_number(row, last, line.counted, counted_fmt)
    info = book.add_worksheet("说明 About")
    count = sheet.count
    for row, (label, value) in enumerate(
        [
            ("盘点单 Count", count.number),
            ("地点 Location", count.location),
            ("快照日期 Snapshot date", count.snapshot_on.isoformat()),
            ("盲盘 Blind", "是 yes" if count.blind else "否 no"),
            ("行数 Lines", str(len(sheet.lines))),
            ("填写 How", f"fill in the column {COUNTED_HEADER!r} with the units found"),
        ]
    ):
        info.write_string(row, 0, label, bold)
        info.write_string(row, 1, value)
    info.set_column(0, 0, 24)
    info.set_column(1, 1, 60)
    book.close()
    return buffer.getvalue()


def _refuse(row: int, field: str, message: str, sku: str | None = None) -> InvalidInput:
    return InvalidInput(f"row {row}, {field}: {message}", field=field, row=row, sku=sku)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _counted(value: object, row: int, sku: str) -> int | None:
    """The whole number a counted cell holds; None for an empty cell."""
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, bool | datetime | date | time):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = int(value) if value.is_integer() and abs(value) < 1e15 else None
    elif isinstance(value, str):
        text = value.strip()
        if text == "" and value == "":
            return None  # an empty string is an empty cell
        number = int(text) if _DIGITS.fullmatch(text) else None
    if number is None or not 0 <= number <= MAX_COUNTED:
        raise _refuse(
            row,
            COUNTED_HEADER,
            f"{_shown(value)} is not a count; write a whole number of units from 0 to "
            f"{MAX_COUNTED:,}, or leave the cell empty (nothing of the sheet was entered)",
            sku,
        )
    return number


def _columns(header: tuple) -> tuple[int, int]:
    """The SKU and counted columns: headed as the downloaded sheet heads
    them, else the first header that reads like one ("SKU…", "…counted…")."""
    texts = [_text(cell) or "" for cell in header]
    if SKU_HEADER in texts and COUNTED_HEADER in texts:
        return texts.index(SKU_HEADER), texts.index(COUNTED_HEADER)
    sku = counted = None
    for i, cell in enumerate(header):
        text = _text(cell) or ""
        if sku is None and text.upper().startswith("SKU"):
            sku = i
        if counted is None and ("counted" in text.lower() or "实盘" in text):
            counted = i
    if sku is None or counted is None:
        missing = SKU_HEADER if sku is None else COUNTED_HEADER
        raise InvalidInput(
            f"row 1: the sheet has no {missing!r} column; fill in the count sheet downloaded "
            "for this count (its header row names the columns)",
            field="file",
            row=1,
        )
    return sku, counted


def _shown(value: object) -> str:
    """A cell's value as quoted in an error: never the whole of a huge cell."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _check_unpacked(data: bytes) -> None:
    """Refuse a zip that unpacks to far more than a count sheet (a zip bomb,
    a shared string of gigabytes) before any XML of it is read."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise InvalidInput(
            f"the file is not an xlsx workbook ({type(exc).__name__}); upload the count sheet "
            "as downloaded (.xlsx), filled in",
            field="file",
        ) from exc
    if unpacked > MAX_UNPACKED_BYTES:
        raise InvalidInput(
            f"the file unpacks to {unpacked:,} bytes, more than {MAX_UNPACKED_BYTES:,}; a count "
            "sheet is far smaller: upload the count sheet as downloaded, filled in",
            field="file",
        )


def read_sheet(data: bytes) -> list[CountIn]:
    """The counted rows of a filled count sheet (rows whose counted cell is
    empty are left out). Refuses a file that is not an xlsx workbook, and
    any row that is wrong, naming it."""
    from openpyxl import load_workbook

    if len(data) > MAX_SHEET_BYTES:
        raise InvalidInput(
            f"the file is larger than {MAX_SHEET_BYTES:,} bytes; a count sheet of "
            f"{MAX_COUNT_LINES:,} lines is far smaller",
            field="file",
        )
    _check_unpacked(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise InvalidInput(
            f"the file is not an xlsx workbook ({type(exc).__name__}); upload the count sheet "
            "as downloaded (.xlsx), filled in",
            field="file",
        ) from exc
    try:
        ws = book[SHEET_NAME] if SHEET_NAME in book.sheetnames else book.worksheets[0]
        header = next(ws.iter_rows(max_row=1, max_col=64, values_only=True), None)
        if header is None:
            raise InvalidInput("the sheet is empty; fill in the count sheet", field="file", row=1)
        sku_col, counted_col = _columns(header)
        width = max(sku_col, counted_col) + 1
        return _rows(ws.iter_rows(min_row=2, max_col=width, values_only=True), sku_col, counted_col)
    except InvalidInput:
        raise
    except Exception as exc:  # a damaged sheet inside a valid zip
        raise InvalidInput(
            f"the workbook could not be read ({type(exc).__name__}); upload the count sheet "
            "as downloaded (.xlsx), filled in",
            field="file",
        ) from exc
    finally:
        book.close()


def _rows(rows, sku_col: int, counted_col: int) -> list[CountIn]:
    width = max(sku_col, counted_col) + 1
    out: list[CountIn] = []
    seen: dict[str, int] = {}
    for row_no, values in enumerate(rows, start=2):
        if row_no > MAX_SHEET_ROWS:
            raise _refuse(
                row_no, SKU_HEADER,
                f"the sheet goes on past row {MAX_SHEET_ROWS:,}; a count sheet holds at most "
                f"{MAX_COUNT_LINES:,} lines: clear the cells below the count",
            )  # fmt: skip
        if len(values) < width:
            values = (*values, *([None] * (width - len(values))))
        sku_cell, counted_cell = values[sku_col], values[counted_col]
        sku = _text(sku_cell)
        if not sku:
            if counted_cell is None or counted_cell == "":
                continue  # an empty row
            raise _refuse(row_no, SKU_HEADER, "a count without a SKU; give the part's SKU")
        if len(sku) > MAX_CELL_TEXT:
            raise _refuse(row_no, SKU_HEADER, f"{_shown(sku)} is not a SKU; correct the cell")
        counted = _counted(counted_cell, row_no, sku)
        if counted is None:
            continue
        if sku in seen:
            raise _refuse(
                row_no, SKU_HEADER,
                f"{sku} is counted on row {seen[sku]} already; count each part on one row, "
                "with the total found",
                sku,
            )  # fmt: skip
        seen[sku] = row_no
        if len(out) >= MAX_COUNT_LINES:
            raise _refuse(
                row_no, COUNTED_HEADER, f"a sheet holds at most {MAX_COUNT_LINES:,} counts", sku
            )
        out.append(CountIn(sku=sku, counted=counted, row=row_no))
    return out


def write_variances(report: VarianceReport) -> bytes:
    """The variance report as xlsx: one row per line that differs, then totals."""
    buffer = io.BytesIO()
    book = _workbook(buffer)
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    money = book.add_format({"num_format": "#,##0.00"})
    bold_money = book.add_format({"num_format": "#,##0.00", "bold": True})
    ws = book.add_worksheet("差异 Variances")
    headers = [
        (SKU_HEADER, 22),
        (NAME_EN_HEADER, 36),
        (BOOK_HEADER, 14),
        (COUNTED_HEADER, 16),
        ("差异 Variance", 14),
        ("单位成本 Unit cost (CNY)", 22),
        ("金额 Value (CNY)", 18),
    ]
    for col, (title, width) in enumerate(headers):
        ws.set_column(col, col, width)
        ws.write_string(0, col, title, bold)
    ws.freeze_panes(1, 0)
    row = 0
    for row, line in enumerate(report.items, start=1):
        ws.write_string(row, 0, line.sku)
        ws.write_string(row, 1, line.name_en)
        ws.write_number(row, 2, line.book)
        ws.write_number(row, 3, line.counted)
        ws.write_number(row, 4, line.variance)
        if line.unit_cost is not None:
            ws.write_number(row, 5, line.unit_cost / 100, money)
            ws.write_number(row, 6, line.value / 100, money)
    row += 2
    for label, units, value in [
        ("盘盈 Gain", report.gain_units, report.gain_value),
        ("盘亏 Loss", -report.loss_units, -report.loss_value),
        ("净额 Net", report.gain_units - report.loss_units, report.net_value),
    ]:
        ws.write_string(row, 0, label, bold)
        ws.write_number(row, 4, units)
        ws.write_number(row, 6, value / 100, bold_money)
        row += 1
    ws.write_string(row + 1, 0, f"{report.number} {report.location} {report.snapshot_on}")
    book.close()
    return buffer.getvalue()


def sheet_filename(sheet: Sheet) -> str:
    return sheet.filename


def variances_filename(report: VarianceReport) -> str:
    return f"{report.number}_{report.location}_{report.snapshot_on:%Y%m%d}_variances.xlsx"


__all__ = [
    "MEDIA_TYPE",
    "read_sheet",
    "sheet_filename",
    "variances_filename",
    "write_sheet",
    "write_variances",
]
