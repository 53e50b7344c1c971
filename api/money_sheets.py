"""Finance's spreadsheets (XlsxWriter): the network credit report. Headers in
Chinese and English; money in CNY with two decimals (stored as fen, written
as yuan numbers with a CNY format, so the sheet sums them). Shared by the
HTTP and command-line doors; the ledger knows nothing of spreadsheets."""

from __future__ import annotations

import io

import xlsxwriter

from importers.statement_sheets import CNY
from ledger.money.credit import NetworkReport

REPORT_COLUMNS = [
    ("网点 Point", "point", 12, "text"),
    ("名称 Name", "name", 28, "text"),
    ("区域 Region", "region", 12, "text"),
    ("仓库 Warehouse", "warehouse", 12, "text"),
    ("等级 Grade", "grade", 8, "text"),
    ("状态 Status", "status", 11, "text"),
    ("押金 Deposit", "deposit", 15, "money"),
    ("放大比例 Leverage", "leverage", 10, "ratio"),
    ("额度 Limit", "limit", 15, "money"),
    ("库存 Stock", "stock", 15, "money"),
    ("在途 In transit", "in_transit", 15, "money"),
    ("坏件 Defective", "defective", 15, "money"),
    ("占用 Exposure", "exposure", 15, "money"),
    ("余额 Headroom", "headroom", 15, "money"),
    ("未定价件数 Unpriced units", "unpriced_units", 12, "int"),
]


def credit_report(report: NetworkReport) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    money = book.add_format({"num_format": CNY})
    money_total = book.add_format({"num_format": CNY, "bold": True, "top": 1})
    ratio = book.add_format({"num_format": "0.00"})
    sheet = book.add_worksheet("额度 Credit")
    sheet.write_string(0, 0, f"网点额度报表 Network credit report {report.day.isoformat()}", title)
    head = 2
    for col, (heading, _, width, _kind) in enumerate(REPORT_COLUMNS):
        sheet.write_string(head, col, heading, bold)
        sheet.set_column(col, col, width)
    row = head
    for row, item in enumerate(report.items, start=head + 1):
        values = item.model_dump()
        for col, (_, field, _, kind) in enumerate(REPORT_COLUMNS):
            value = values[field]
            if kind == "money":
                sheet.write_number(row, col, value / 100, money)
            elif kind == "ratio":
                sheet.write_number(row, col, float(value), ratio)
            elif kind == "int":
                sheet.write_number(row, col, value)
            elif value is not None:
                sheet.write_string(row, col, str(value))
    total_row = row + 1
    sheet.write_string(total_row, 0, f"合计 Total ({report.total})", bold)
    for col, (_, field, _, kind) in enumerate(REPORT_COLUMNS):
        if kind == "money" and field in ("deposit", "limit", "exposure", "headroom"):
            sheet.write_number(total_row, col, getattr(report, field) / 100, money_total)
    sheet.freeze_panes(head + 1, 1)
    sheet.autofilter(head, 0, max(total_row - 1, head), len(REPORT_COLUMNS) - 1)
    book.close()
    return out.getvalue()
