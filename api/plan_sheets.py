# STAND-IN: a plain stand-in for the "console" helper's module (dropped at merge).
"""Plan spreadsheets (stand-in)."""

from __future__ import annotations

import io

import xlsxwriter

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _book(rows) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("summary")
    for i, row in enumerate(rows):
        sheet.write_row(i, 0, row)
    book.close()
    return out.getvalue()


def allocation_xlsx(instance, plan, *, title=None) -> bytes:
    return _book([["objective", plan.objective], ["bound", plan.bound]])


def purchase_xlsx(input, purchase, frontier, *, lam=None, title=None) -> bytes:
    return _book([["spend", purchase.spend], ["fill_rate", purchase.fill_rate]])
