"""A requisition's pick list as an xlsx file (XlsxWriter): what the warehouse
picks for it now, approved and not shipped yet, line by line, with a column
to tick. Shared by the doors that offer it (the console); the ledger knows
nothing of spreadsheets."""

from __future__ import annotations

import io

import xlsxwriter

from ledger.parts.requisitions import RequisitionView

COLUMNS = [
    ("行 Line", 8),
    ("物料编码 SKU", 16),
    ("名称 Part", 28),
    ("应拣 To pick", 12),
    ("已拣 Picked", 12),
]
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def to_pick(rq: RequisitionView) -> list[tuple[int, str, str, int]]:
    """(line, SKU, name, units) of each line with approved units not shipped."""
    return [
        (line.line_no, line.sku, line.name, (line.approved or 0) - line.shipped)
        for line in rq.lines
        if (line.approved or 0) - line.shipped > 0
    ]


def workbook(rq: RequisitionView) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    total = book.add_format({"bold": True, "top": 2})
    sheet = book.add_worksheet("拣货单 Pick list")
    sheet.write_string(0, 0, f"拣货单 Pick list {rq.number}", title)
    sheet.write_string(1, 0, "仓库 Warehouse", bold)
    sheet.write_string(1, 1, rq.warehouse)
    sheet.write_string(2, 0, "收货方 Ship to", bold)
    sheet.write_string(2, 1, rq.requester)
    row = 4
    for col, (heading, width) in enumerate(COLUMNS):
        sheet.write_string(row, col, heading, bold)
        sheet.set_column(col, col, width)
    lines = to_pick(rq)
    for line_no, sku, name, units in lines:
        row += 1
        sheet.write_number(row, 0, line_no)
        sheet.write_string(row, 1, sku)
        sheet.write_string(row, 2, name)
        sheet.write_number(row, 3, units)
    row += 1
    sheet.write_string(row, 2, "合计 Total", total)
    sheet.write_number(row, 3, sum(units for *_, units in lines), total)
    book.close()
    return out.getvalue()


def content_disposition(rq: RequisitionView) -> str:
    return f'attachment; filename="pick-list-{rq.number}.xlsx"'
