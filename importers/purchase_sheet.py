"""The purchase-sizing workbook: a new model's parts and its sales plan, read
into arrays for optimizer.purchase, and the empty template planners fill in.

Sheet "parts", header in row 1 (columns found by their header, in any order;
the text before a space or "(" counts, so "unit_cost (CNY)" is unit_cost):

    sku | name | unit_cost (CNY) | failure_rate (per handset-month) | weight | moq | pack
    | lead_time_days

Sheet "sales", header in row 1: region, then one column per month "YYYY-MM"
(consecutive months, the first being the launch month); one row per region
with the handsets to be sold.

Every cell is checked; the first problem is refused as an `ImportProblem`
(the importers' `ledger.errors.InvalidInput`, with the sheet, row and column
in `where`) saying what to do, and nothing is returned half-read. unit_cost
is CNY with at most two decimals, turned into integer fen; a SKU or a region
given twice is refused; a formula is refused (type or paste the value: a
formula's cached value may be stale or absent), as is an Excel error value
(#DIV/0!, #N/A, …) and text holding a NUL byte. Empty cells of name, weight,
moq, pack and lead_time_days mean "", 1, 0 (no minimum), 1 and 0; an empty
sales cell means 0. Read with openpyxl in read-only mode, within limits on
the file's size, its size unpacked, rows and columns (see importers/count_sheet.py).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

import numpy as np
import xlsxwriter

from ledger.amounts import MAX_AMOUNT
from ledger.errors import InvalidInput

PARTS = "parts"
SALES = "sales"
COLUMNS = (
    "sku", "name", "unit_cost", "failure_rate", "weight", "moq", "pack", "lead_time_days",
)  # fmt: skip
HEADERS = (
    "sku", "name", "unit_cost (CNY)", "failure_rate (per handset-month)", "weight", "moq",
    "pack", "lead_time_days",
)  # fmt: skip
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_UNPACKED_BYTES = 128 * 1024 * 1024
MAX_PARTS = 20_000
MAX_REGIONS = 1_000
MAX_MONTHS = 120
MAX_TEXT = 200
MAX_UNITS = 10**9
MAX_QUANTITY = 10**9
_EXCEL_ERRORS = {
    "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
    "#SPILL!", "#CALC!",
}  # fmt: skip
_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_MONEY = re.compile(r"[0-9]{1,13}(\.[0-9]{1,2})?")
_INT = re.compile(r"[0-9]{1,12}")
_SHOWN = 40
# A NUL as an xlsx file holds it (XlsxWriter and Excel escape it so; openpyxl
# hands the escape back as text).
_NUL_ESCAPED = re.compile(r"_x0000_", re.IGNORECASE)


class ImportProblem(InvalidInput):
    """A cell of the workbook that cannot be used: `where` names the sheet,
    row and column (as a spreadsheet shows them) and the message what to do."""

    def __init__(self, message: str, *, sheet: str, row: int | None = None, column=None):
        place = f"sheet {sheet!r}" + (f", row {row}" if row else "")
        place += f", column {column!r}" if column else ""
        super().__init__(f"{place}: {message}", sheet=sheet, row=row, column=column, field=column)
        self.sheet, self.row, self.column = sheet, row, column


@dataclass(frozen=True)
class PurchaseInput:
    sku: tuple[str, ...]
    name: tuple[str, ...]
    cost: np.ndarray  # (K,) int64 fen per unit
    failure_rate: np.ndarray  # (K,) float64 failures per handset-month in service
    weight: np.ndarray  # (K,) float64 criticality
    moq: np.ndarray  # (K,) int64 minimum order quantity (0: none)
    pack: np.ndarray  # (K,) int64 pack size
    lead_time_days: np.ndarray  # (K,) int64
    regions: tuple[str, ...]
    months: tuple[str, ...]  # "YYYY-MM", consecutive
    sales: np.ndarray  # (R, M) int64 handsets sold


# --------------------------------------------------------------------------- cells


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _raw(value, sheet, row, column):
    """Refuse what no column takes: formulas, Excel errors, NUL bytes, huge text."""
    if isinstance(value, str):
        if "\x00" in value or _NUL_ESCAPED.search(value):
            raise ImportProblem(
                "the cell holds a NUL byte (\\x00); retype the cell", sheet=sheet, row=row,
                column=column,
            )  # fmt: skip
        if value in _EXCEL_ERRORS:
            raise ImportProblem(
                f"the cell is the Excel error {value}; correct the cell (or the formula that "
                "made it) and paste the value", sheet=sheet, row=row, column=column,
            )  # fmt: skip
        if value.startswith("="):
            raise ImportProblem(
                f"the cell is a formula ({_shown(value)}); type or paste the value instead",
                sheet=sheet, row=row, column=column,
            )  # fmt: skip
        if len(value) > MAX_TEXT:
            raise ImportProblem(
                f"the cell holds {len(value):,} characters, more than {MAX_TEXT}; shorten it",
                sheet=sheet, row=row, column=column,
            )  # fmt: skip
    return value


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _text(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _fen(value, sheet, row, column) -> int:
    what = (
        f"{_shown(value)} is not a price; write the unit cost in CNY with at most two "
        "decimals, e.g. 12.50 (more than 0)"
    )
    amount: Decimal | None = None
    if isinstance(value, bool | datetime | date):
        amount = None
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value)) if np.isfinite(value) else None
    elif isinstance(value, str):
        text = value.strip().removeprefix("¥").removeprefix("CNY").strip().replace(",", "")
        amount = Decimal(text) if _MONEY.fullmatch(text) else None
    try:
        if amount is None or amount != amount.quantize(Decimal("0.01")):
            raise ImportProblem(what, sheet=sheet, row=row, column=column)
    except InvalidOperation as exc:
        raise ImportProblem(what, sheet=sheet, row=row, column=column) from exc
    fen = int(amount * 100)
    if not 0 < fen <= MAX_AMOUNT:
        raise ImportProblem(what, sheet=sheet, row=row, column=column)
    return fen


def _whole(value, sheet, row, column, *, low: int, high: int, what: str) -> int:
    number = None
    if isinstance(value, bool | datetime | date):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = int(value) if np.isfinite(value) and value.is_integer() else None
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        number = int(text) if _INT.fullmatch(text) else None
    if number is None or not low <= number <= high:
        raise ImportProblem(
            f"{_shown(value)} is not {what}; write a whole number from {low:,} to {high:,}",
            sheet=sheet, row=row, column=column,
        )  # fmt: skip
    return number


def _real(value, sheet, row, column, *, high: float, what: str) -> float:
    number = None
    if isinstance(value, bool | datetime | date):
        number = None
    elif isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not np.isfinite(number) or not 0 <= number <= high:
        raise ImportProblem(
            f"{_shown(value)} is not {what}; write a number from 0 to {high:g}",
            sheet=sheet, row=row, column=column,
        )  # fmt: skip
    return number


def _month(value, column_no: int) -> str:
    if isinstance(value, datetime | date) and value.day == 1:
        return f"{value.year:04d}-{value.month:02d}"
    text = _text(value) if value is not None else ""
    if _MONTH.fullmatch(text):
        return text
    raise ImportProblem(
        f"the header {_shown(value)} is not a month; head each sales column with its month "
        "as YYYY-MM (text), e.g. 2027-03",
        sheet=SALES, row=1, column=_letter(column_no),
    )  # fmt: skip


def _letter(col: int) -> str:
    """Spreadsheet column letters of a 0-based column number."""
    out = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        out = chr(65 + rest) + out
    return out


# --------------------------------------------------------------------------- reading


def _data(file) -> bytes:
    if isinstance(file, bytes | bytearray | memoryview):
        data = bytes(file)
    elif isinstance(file, str | Path):
        with open(file, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    else:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(
            f"the file is larger than {MAX_FILE_BYTES:,} bytes; a purchase workbook of "
            f"{MAX_PARTS:,} parts is far smaller",
            field="file",
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise InvalidInput(
            f"the file is not an xlsx workbook ({type(exc).__name__}); fill in the purchase "
            "template (.xlsx) and upload it",
            field="file",
        ) from exc
    if unpacked > MAX_UNPACKED_BYTES:
        raise InvalidInput(
            f"the file unpacks to {unpacked:,} bytes, more than {MAX_UNPACKED_BYTES:,}; upload "
            "the purchase template filled in, without other sheets or images",
            field="file",
        )
    return data


def read_purchase_workbook(file: str | Path | bytes | IO[bytes]) -> PurchaseInput:
    """The parts and the sales plan of a filled purchase workbook (a path,
    bytes or a binary file). Raises ImportProblem naming the sheet, row and
    column of the first cell that cannot be used, and what to do."""
    from openpyxl import load_workbook

    data = _data(file)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise InvalidInput(
            f"the file is not an xlsx workbook ({type(exc).__name__}); fill in the purchase "
            "template (.xlsx) and upload it",
            field="file",
        ) from exc
    try:
        names = {n.strip().lower(): n for n in book.sheetnames}
        for want in (PARTS, SALES):
            if want not in names:
                raise ImportProblem(
                    f"the workbook has no sheet {want!r} (it has {', '.join(book.sheetnames)}); "
                    "use the purchase template",
                    sheet=want,
                )
        parts = _parts(book[names[PARTS]])
        regions, months, sales = _sales(book[names[SALES]])
    except InvalidInput:
        raise
    except Exception as exc:  # a damaged sheet inside a valid zip
        raise InvalidInput(
            f"the workbook could not be read ({type(exc).__name__}); fill in the purchase "
            "template (.xlsx) and upload it",
            field="file",
        ) from exc
    finally:
        book.close()
    sku, name, cost, rate, weight, moq, pack, lead = parts
    return PurchaseInput(
        sku=tuple(sku),
        name=tuple(name),
        cost=np.array(cost, dtype=np.int64),
        failure_rate=np.array(rate, dtype=np.float64),
        weight=np.array(weight, dtype=np.float64),
        moq=np.array(moq, dtype=np.int64),
        pack=np.array(pack, dtype=np.int64),
        lead_time_days=np.array(lead, dtype=np.int64),
        regions=tuple(regions),
        months=tuple(months),
        sales=np.array(sales, dtype=np.int64).reshape(len(regions), len(months)),
    )


def _key(header) -> str:
    if header is None or not isinstance(header, str | int | float):
        return ""
    return re.split(r"[\s(]", str(header).strip().lower(), maxsplit=1)[0]


def _parts(ws):
    header = next(ws.iter_rows(max_row=1, max_col=64, values_only=True), None) or ()
    keys = [_key(h) for h in header]
    col = {}
    for want in COLUMNS:
        if want not in keys:
            raise ImportProblem(
                f"no column headed {want!r} in row 1; the header row names the columns "
                f"{', '.join(HEADERS)}",
                sheet=PARTS, row=1,
            )  # fmt: skip
        col[want] = keys.index(want)
    width = max(col.values()) + 1
    out = tuple([] for _ in COLUMNS)
    seen: dict[str, int] = {}
    for row_no, values in enumerate(
        ws.iter_rows(min_row=2, max_col=width, values_only=True), start=2
    ):
        if row_no > MAX_PARTS + 1_001:
            raise ImportProblem(
                f"the sheet goes on past row {row_no - 1:,}; a model has at most {MAX_PARTS:,} "
                "parts: clear the cells below them", sheet=PARTS, row=row_no,
            )  # fmt: skip
        values = (*values, *([None] * (width - len(values))))
        cells = {c: _raw(values[col[c]], PARTS, row_no, HEADERS[i]) for i, c in enumerate(COLUMNS)}
        if all(_empty(v) for v in cells.values()):
            continue
        h = dict(zip(COLUMNS, HEADERS, strict=True))
        if _empty(cells["sku"]):
            raise ImportProblem("a part without a SKU; give its SKU", sheet=PARTS, row=row_no,
                                column=h["sku"])  # fmt: skip
        sku = _text(cells["sku"])
        if sku in seen:
            raise ImportProblem(
                f"SKU {sku} is on row {seen[sku]} already; give each part one row",
                sheet=PARTS, row=row_no, column=h["sku"],
            )  # fmt: skip
        seen[sku] = row_no
        if len(seen) > MAX_PARTS:
            raise ImportProblem(f"more than {MAX_PARTS:,} parts", sheet=PARTS, row=row_no)
        if _empty(cells["unit_cost"]):
            raise ImportProblem("no unit cost; give the price per unit in CNY", sheet=PARTS,
                                row=row_no, column=h["unit_cost"])  # fmt: skip
        if _empty(cells["failure_rate"]):
            raise ImportProblem(
                "no failure rate; give the failures per handset-month in service (e.g. 0.0008)",
                sheet=PARTS, row=row_no, column=h["failure_rate"],
            )  # fmt: skip

        def opt(c, default, cells=cells, row_no=row_no, **kw):
            v = cells[c]
            return (
                default if _empty(v) else _whole(v, PARTS, row_no, HEADERS[COLUMNS.index(c)], **kw)
            )

        out[0].append(sku)
        out[1].append("" if _empty(cells["name"]) else _text(cells["name"]))
        out[2].append(_fen(cells["unit_cost"], PARTS, row_no, h["unit_cost"]))
        out[3].append(
            _real(cells["failure_rate"], PARTS, row_no, h["failure_rate"], high=1.0,
                  what="a failure rate per handset-month")
        )  # fmt: skip
        out[4].append(
            1.0 if _empty(cells["weight"])
            else _real(cells["weight"], PARTS, row_no, h["weight"], high=1e6, what="a weight")
        )  # fmt: skip
        out[5].append(opt("moq", 0, low=0, high=MAX_QUANTITY, what="a minimum order quantity"))
        out[6].append(opt("pack", 1, low=1, high=MAX_QUANTITY, what="a pack size"))
        out[7].append(opt("lead_time_days", 0, low=0, high=3650, what="a lead time in days"))
    if not out[0]:
        raise ImportProblem("no parts; fill in one row per part from row 2", sheet=PARTS, row=2)
    return out


def _sales(ws):
    header = next(ws.iter_rows(max_row=1, max_col=MAX_MONTHS + 2, values_only=True), None) or ()
    header = list(header)
    while header and _empty(header[-1]):
        header.pop()
    if not header or _key(header[0]) != "region":
        raise ImportProblem(
            "row 1 must start with 'region', then one column per month (YYYY-MM)",
            sheet=SALES, row=1, column="A",
        )  # fmt: skip
    if len(header) < 2:
        raise ImportProblem(
            "no months; head the columns after 'region' with the months of the sales plan "
            "(YYYY-MM)", sheet=SALES, row=1, column="B",
        )  # fmt: skip
    if len(header) - 1 > MAX_MONTHS:
        raise ImportProblem(f"more than {MAX_MONTHS} months", sheet=SALES, row=1)
    months = []
    for i, value in enumerate(header[1:], start=1):
        _raw(value, SALES, 1, _letter(i))
        m = _month(value, i)
        if months:
            y, mo = map(int, months[-1].split("-"))
            expect = f"{y + mo // 12:04d}-{mo % 12 + 1:02d}"
            if m != expect:
                raise ImportProblem(
                    f"the month {m} follows {months[-1]}; the months must be consecutive "
                    f"(expected {expect})", sheet=SALES, row=1, column=_letter(i),
                )  # fmt: skip
        months.append(m)
    width = len(months) + 1
    regions, sales, seen = [], [], {}
    for row_no, values in enumerate(
        ws.iter_rows(min_row=2, max_col=width, values_only=True), start=2
    ):
        if row_no > MAX_REGIONS + 1_001:
            raise ImportProblem(
                f"the sheet goes on past row {row_no - 1:,}; at most {MAX_REGIONS:,} regions: "
                "clear the cells below them", sheet=SALES, row=row_no,
            )  # fmt: skip
        values = [
            _raw(v, SALES, row_no, _letter(i))
            for i, v in enumerate((*values, *([None] * (width - len(values)))))
        ]
        if all(_empty(v) for v in values):
            continue
        if _empty(values[0]):
            raise ImportProblem("sales without a region; name the region", sheet=SALES,
                                row=row_no, column="A")  # fmt: skip
        region = _text(values[0])
        if region in seen:
            raise ImportProblem(
                f"region {region} is on row {seen[region]} already; give each region one row",
                sheet=SALES, row=row_no, column="A",
            )  # fmt: skip
        seen[region] = row_no
        regions.append(region)
        for i, v in enumerate(values[1:], start=1):
            sales.append(
                0 if _empty(v) else _whole(v, SALES, row_no, months[i - 1], low=0,
                                           high=MAX_UNITS, what="a number of handsets")
            )  # fmt: skip
    if not regions:
        raise ImportProblem("no regions; fill in one row per region from row 2", sheet=SALES,
                            row=2)  # fmt: skip
    return regions, months, sales


# --------------------------------------------------------------------------- template


def write_purchase_template(file: str | Path | IO[bytes] | None = None) -> bytes:
    """An empty purchase workbook: both sheets with their headers, one
    example row each, and a sheet explaining the columns. Written to `file`
    (a path or a binary file) when given; the bytes are returned either way."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    money = book.add_format({"num_format": "0.00"})
    parts = book.add_worksheet(PARTS)
    for c, (title, width) in enumerate(zip(HEADERS, (18, 30, 16, 30, 8, 8, 8, 15), strict=True)):
        parts.set_column(c, c, width)
        parts.write_string(0, c, title, bold)
    parts.freeze_panes(1, 0)
    example = ("SCR-X1-OLED", "屏幕总成 Screen assembly", 1250.00, 0.0008, 3, 100, 20, 45)
    parts.write_string(1, 0, example[0])
    parts.write_string(1, 1, example[1])
    parts.write_number(1, 2, example[2], money)
    for c, v in enumerate(example[3:], start=3):
        parts.write_number(1, c, v)
    sales = book.add_worksheet(SALES)
    sales.write_string(0, 0, "region", bold)
    sales.set_column(0, 0, 18)
    for c, m in enumerate(("2027-01", "2027-02", "2027-03"), start=1):
        sales.write_string(0, c, m, bold)  # text, so Excel does not turn it into a date
        sales.write_number(1, c, (12_000, 9_000, 7_500)[c - 1])
    sales.write_string(1, 0, "华南 South")
    sales.freeze_panes(1, 1)
    about = book.add_worksheet("about 说明")
    about.set_column(0, 0, 34)
    about.set_column(1, 1, 90)
    notes = [
        ("sku", "the part's SKU, once per part / 配件编码，每个配件一行"),
        ("name", "its name (optional) / 名称"),
        ("unit_cost (CNY)", "price per unit in CNY, at most 2 decimals / 单价（元，最多两位小数）"),
        ("failure_rate", "failures per handset-month in service, e.g. 0.0008 / 每台每月故障率"),
        ("weight", "criticality, default 1 / 重要性权重，默认 1"),
        ("moq", "supplier minimum order quantity, 0 for none / 最小起订量"),
        ("pack", "pack size: quantities are multiples of it, default 1 / 包装数量"),
        ("lead_time_days", "supplier lead time in days / 交货周期（天）"),
        ("sales sheet", "one row per region, one column per month YYYY-MM, consecutive, "
                        "the first being the launch month / 各区域每月销量，月份连续"),
        ("values only", "no formulas: type or paste values / 请粘贴数值，不要用公式"),
    ]  # fmt: skip
    for r, (k, v) in enumerate(notes):
        about.write_string(r, 0, k, bold)
        about.write_string(r, 1, v)
    book.close()
    data = buffer.getvalue()
    if isinstance(file, str | Path):
        Path(file).write_bytes(data)
    elif file is not None:
        file.write(data)
    return data


__all__ = [
    "ImportProblem",
    "PurchaseInput",
    "read_purchase_workbook",
    "write_purchase_template",
]
