# STAND-IN: a plain stand-in for the "purchase" helper's module (dropped at merge).
"""The purchase workbook (stand-in). See /work/shared-briefs/contract.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import openpyxl

from ledger.errors import InvalidInput


class ImportProblem(InvalidInput):
    pass


@dataclass(frozen=True)
class PurchaseInput:
    sku: tuple[str, ...]
    name: tuple[str, ...]
    cost: np.ndarray
    failure_rate: np.ndarray
    weight: np.ndarray
    moq: np.ndarray
    pack: np.ndarray
    lead_time_days: np.ndarray
    regions: tuple[str, ...]
    months: tuple[str, ...]
    sales: np.ndarray


def read_purchase_workbook(file) -> PurchaseInput:
    try:
        book = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:
        raise ImportProblem(f"not a readable xlsx workbook ({exc})", field="file") from None
    for sheet in ("parts", "sales"):
        if sheet not in book.sheetnames:
            raise ImportProblem(f"the workbook has no sheet {sheet!r}", sheet=sheet)
    parts = [r for r in book["parts"].iter_rows(min_row=2, values_only=True) if r and r[0]]
    sales_rows = list(book["sales"].iter_rows(values_only=True))
    if not parts:
        raise ImportProblem("sheet 'parts' has no part", sheet="parts")
    try:
        cols = list(zip(*[r[:8] for r in parts], strict=True))
        months = tuple(str(m) for m in sales_rows[0][1:] if m)
        sales = np.array([[int(v or 0) for v in r[1 : 1 + len(months)]] for r in sales_rows[1:]
                          if r and r[0]], dtype=np.int64).reshape(-1, len(months))  # fmt: skip
        return PurchaseInput(
            sku=tuple(str(v) for v in cols[0]), name=tuple(str(v) for v in cols[1]),
            cost=np.array([round(float(v) * 100) for v in cols[2]], dtype=np.int64),
            failure_rate=np.array(cols[3], dtype=float), weight=np.array(cols[4], dtype=float),
            moq=np.array(cols[5], dtype=np.int64), pack=np.array(cols[6], dtype=np.int64),
            lead_time_days=np.array(cols[7], dtype=np.int64),
            regions=tuple(str(r[0]) for r in sales_rows[1:] if r and r[0]), months=months,
            sales=sales,
        )  # fmt: skip
    except (TypeError, ValueError, IndexError) as exc:
        raise ImportProblem(f"sheet 'parts' or 'sales': {exc}", sheet="parts") from None


def write_purchase_template(file) -> None:
    book = openpyxl.Workbook()
    parts = book.active
    parts.title = "parts"
    parts.append(["sku", "name", "unit_cost", "failure_rate", "weight", "moq", "pack",
                  "lead_time_days"])  # fmt: skip
    parts.append(["X9-LCD", "X9 screen", 120.5, 0.004, 1.0, 10, 5, 30])
    sales = book.create_sheet("sales")
    sales.append(["region", "2027-01"])
    sales.append(["South", 1000])
    book.save(file)
