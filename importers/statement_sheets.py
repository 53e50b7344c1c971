"""Statements as spreadsheets (XlsxWriter, which writes them faster than
openpyxl): one point's month, and the network's summary of a month. Headers
in Chinese and English; money in CNY with two decimals (stored as fen,
written as yuan numbers in a CNY format, so the sheet sums them).

`write_all` writes every statement of a month and the summary into a
folder: the statements job's work (ledger/money/settlement.py settles; this
module only writes)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import xlsxwriter
from pydantic import BaseModel, ConfigDict, Field

from ledger import jobs
from ledger.db import Database
from ledger.models import Role
from ledger.money import statements
from ledger.money.statements import StatementLine, StatementView
from ledger.settings import VAR_DIR

CNY = '"¥"#,##0.00;[Red]-"¥"#,##0.00'
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LINE_COLUMNS = [
    ("日期 Date", 11),
    ("类型 Kind", 18),
    ("单据 Document", 14),
    ("摘要 Memo", 44),
    ("扣款 Charge", 14),
    ("补贴 Subsidy", 14),
    ("付款 Payment", 14),
    ("余额 Balance", 15),
]
KINDS = {
    "repair_write_off": "维修核销 Repair",
    "repair_reversal": "核销冲回 Reversal",
    "subsidy_monthly": "月度补贴 Monthly subsidy",
    "charge": "扣款 Charge",
    "termination": "退网 Termination",
}
SUMMARY_COLUMNS = [
    ("网点 Point", "point", 12, "text"),
    ("名称 Name", "name", 28, "text"),
    ("等级 Grade", "grade", 8, "text"),
    ("期初 Opening", "opening", 15, "money"),
    ("扣款 Charges", "charges", 15, "money"),
    ("补贴 Subsidies", "subsidies", 15, "money"),
    ("付款 Payments", "payments", 15, "money"),
    ("期末 Closing", "closing", 15, "money"),
    ("本月结算 Settled", "settled", 15, "money"),
    ("已签回 Signed back", "signed_back_at", 18, "text"),
]


def file_name(view: StatementView) -> str:
    return f"{view.point}_{view.month}.xlsx"


def _book(out: io.BytesIO):
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    formats = {
        "bold": book.add_format({"bold": True}),
        "title": book.add_format({"bold": True, "font_size": 14}),
        "money": book.add_format({"num_format": CNY}),
        "total": book.add_format({"num_format": CNY, "bold": True, "top": 1}),
    }
    return book, formats


def statement(view: StatementView, lines: list[StatementLine]) -> bytes:
    out = io.BytesIO()
    book, f = _book(out)
    _statement_sheet(book, f, view, lines)
    book.close()
    return out.getvalue()


def _statement_sheet(book, f, view: StatementView, lines: list[StatementLine]) -> None:
    sheet = book.add_worksheet("对账单 Statement")
    sheet.write_string(0, 0, f"对账单 Statement {view.month}", f["title"])
    header = [
        ("网点 Point", view.point),
        ("名称 Name", view.name),
        ("等级 Grade", view.grade or ""),
        ("月份 Month", view.month),
        ("签发 Issued", f"{view.issued_at:%Y-%m-%d %H:%M} UTC"),
    ]
    for row, (label, value) in enumerate(header, start=1):
        sheet.write_string(row, 0, label, f["bold"])
        sheet.write_string(row, 1, value)
    table = len(header) + 2
    for col, (heading, width) in enumerate(LINE_COLUMNS):
        sheet.write_string(table, col, heading, f["bold"])
        sheet.set_column(col, col, width)
    row = table + 1
    sheet.write_string(row, 3, "期初余额 Opening balance", f["bold"])
    sheet.write_number(row, 7, view.opening / 100, f["money"])
    balance = view.opening
    for line in lines:
        row += 1
        balance += line.subsidy - line.charge - line.payment
        sheet.write_string(row, 0, line.on.isoformat())
        sheet.write_string(row, 1, KINDS.get(line.kind, line.kind))
        sheet.write_string(row, 2, line.document or "")
        sheet.write_string(row, 3, line.memo)
        for col, fen in ((4, line.charge), (5, line.subsidy), (6, line.payment)):
            if fen:
                sheet.write_number(row, col, fen / 100, f["money"])
        sheet.write_number(row, 7, balance / 100, f["money"])
    row += 1
    sheet.write_string(row, 3, "合计 Total", f["bold"])
    for col, fen in ((4, view.charges), (5, view.subsidies), (6, view.payments)):
        sheet.write_number(row, col, fen / 100, f["total"])
    row += 1
    sheet.write_string(row, 3, "期末余额 Closing balance", f["bold"])
    sheet.write_number(row, 7, view.closing / 100, f["total"])
    row += 2
    owed = "应付网点 owed to the point" if view.settled >= 0 else "网点应付 owed by the point"
    sheet.write_string(row, 0, f"本月结算 Settled this month ({owed})", f["bold"])
    sheet.write_number(row, 7, abs(view.settled) / 100, f["money"])
    row += 1
    sheet.write_string(row, 0, "正余额为品牌应付网点 A positive balance is owed to the point; "
                       "请于 48 小时内签回 sign and return within 48 hours")  # fmt: skip
    sheet.freeze_panes(table + 1, 0)


def summary(month: str, views: list[StatementView]) -> bytes:
    out = io.BytesIO()
    book, f = _book(out)
    sheet = book.add_worksheet("汇总 Summary")
    sheet.write_string(0, 0, f"结算汇总 Settlement summary {month}", f["title"])
    head = 2
    for col, (heading, _, width, _kind) in enumerate(SUMMARY_COLUMNS):
        sheet.write_string(head, col, heading, f["bold"])
        sheet.set_column(col, col, width)
    row = head
    for row, view in enumerate(views, start=head + 1):
        values = view.model_dump()
        for col, (_, name, _, kind) in enumerate(SUMMARY_COLUMNS):
            value = values[name]
            if kind == "money":
                sheet.write_number(row, col, value / 100, f["money"])
            elif value is not None:
                sheet.write_string(row, col, f"{value:%Y-%m-%d %H:%M}" if name.endswith("_at")
                                   else str(value))  # fmt: skip
    total = row + 1
    sheet.write_string(total, 0, f"合计 Total ({len(views)})", f["bold"])
    for col, (_, name, _, kind) in enumerate(SUMMARY_COLUMNS):
        if kind == "money":
            sheet.write_number(total, col, sum(getattr(v, name) for v in views) / 100, f["total"])
    sheet.freeze_panes(head + 1, 1)
    sheet.autofilter(head, 0, max(total - 1, head), len(SUMMARY_COLUMNS) - 1)
    book.close()
    return out.getvalue()


def write_all(
    db: Database,
    month: str,
    folder: Path,
    *,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Every statement of `month` into `folder` (one xlsx per point) and the
    summary; the number of statements written. Rewriting is harmless."""
    folder.mkdir(parents=True, exist_ok=True)
    with db.reading() as session:
        everything = statements.all_of(session, month)
    total = len(everything)
    progress(0, total)
    for i, (view, lines) in enumerate(everything, start=1):
        target = folder / file_name(view)
        partial = target.with_suffix(".part")
        partial.write_bytes(statement(view, lines))
        partial.replace(target)  # a reader never sees half a file
        if i % 50 == 0 or i == total:
            progress(i, total)
    (folder / f"summary_{month}.xlsx").write_bytes(summary(month, [v for v, _ in everything]))
    return total


# -- as a job ------------------------------------------------------------------------------

JOB_KIND = "statements"
FOLDER = VAR_DIR / "statements"


class StatementsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])


@jobs.job_kind(JOB_KIND, roles=(Role.FINANCE,), params=StatementsParams)
def statements_job(ctx: jobs.JobContext, params: dict) -> dict:
    """Write a month's statements under var/statements/<month>/ (rewriting
    is harmless, so a resumed job simply writes them again)."""
    month = params["month"]
    folder = FOLDER / month
    count = write_all(
        ctx.db, month, folder,
        progress=lambda d, t: ctx.progress(d, t, f"{d:,} of {t:,} statements written"),
    )  # fmt: skip
    return {"month": month, "statements": count, "folder": str(folder)}
