"""A factory return's packing list as an xlsx file (XlsxWriter), in the
handbook's layout: a header block (centre, return date, courier, courier
number, shipment number), then the units by model and colour, each group with
its subtotal, and the total. Shared by the HTTP and command-line doors; the
ledger knows nothing of spreadsheets."""

from __future__ import annotations

import io
from urllib.parse import quote

import xlsxwriter

from ledger.parts.factory import PackingList

COLUMNS = [
    ("机型 Model", 14),
    ("颜色 Colour", 12),
    ("物料编码 SKU", 16),
    ("中文名称 Name (zh)", 22),
    ("英文名称 Name (en)", 22),
    ("数量 Quantity", 12),
    ("串号 Serials", 40),
]
HEADER_ROWS = 7  # title, five header lines, a blank row
TABLE_ROW = HEADER_ROWS  # the column headings


def workbook(packing: PackingList) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    group = book.add_format({"bold": True, "bg_color": "#DDEBF7"})
    subtotal = book.add_format({"italic": True, "top": 1})
    total = book.add_format({"bold": True, "top": 2})
    sheet = book.add_worksheet("装箱单 Packing list")
    sheet.write(0, 0, "返厂装箱单 Packing list: return to the factory", title)
    header = [
        ("服务中心 Centre", f"{packing.centre} ({packing.centre_code})"),
        ("返厂日期 Date", packing.shipped_on.isoformat()),
        ("快递公司 Courier", packing.courier or ""),
        ("快递单号 Courier number", packing.tracking_number or ""),
        ("返厂单号 Shipment", packing.number),
    ]
    for row, (label, value) in enumerate(header, start=1):
        sheet.write_string(row, 0, label, bold)
        sheet.write_string(row, 1, value)
    for col, (heading, width) in enumerate(COLUMNS):
        sheet.write_string(TABLE_ROW, col, heading, bold)
        sheet.set_column(col, col, width)
    row = TABLE_ROW + 1
    for g in packing.groups:
        colour = g.colour  # None: not given (a blank cell)
        heading = [g.model, colour, g.model_name]
        for col in range(len(COLUMNS)):
            value = heading[col] if col < len(heading) else None
            if value:
                sheet.write_string(row, col, value, group)
            else:
                sheet.write_blank(row, col, None, group)
        row += 1
        for item in g.items:
            # Every serial is listed: a cell holds at most 32,767 characters,
            # so a long list goes on in the rows below its line.
            chunks = _serial_chunks(item.serials) or [""]
            values = [g.model, colour, item.sku, item.name_zh, item.name_en, None, chunks[0]]
            for col, value in enumerate(values):
                if value:
                    sheet.write_string(row, col, value)
            sheet.write_number(row, 5, item.quantity)
            row += 1
            for more in chunks[1:]:
                sheet.write_string(row, 6, more)
                row += 1
        sheet.write_string(row, 4, "小计 Subtotal", subtotal)
        sheet.write_number(row, 5, g.subtotal, subtotal)
        row += 1
    sheet.write_string(row, 4, "合计 Total", total)
    sheet.write_number(row, 5, packing.total, total)
    book.close()
    return out.getvalue()


CELL_MAX = 32_000  # characters, within Excel's 32,767 a cell


def _serial_chunks(serials) -> list[str]:
    """The serials as ", "-joined texts, each fitting in one cell."""
    chunks, current = [], []
    size = 0
    for serial in serials:
        if current and size + len(serial) + 2 > CELL_MAX:
            chunks.append(", ".join(current))
            current, size = [], 0
        current.append(serial)
        size += len(serial) + 2
    if current:
        chunks.append(", ".join(current))
    return chunks


def content_disposition(packing: PackingList) -> str:
    """attachment with an ASCII filename and the real one as RFC 5987 UTF-8."""
    fallback = packing.ascii_filename.replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(packing.filename)}"


MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
