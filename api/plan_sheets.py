"""The planners' spreadsheets (XlsxWriter): an allocation plan (summary, per
part, per point, the lines to send) and an initial purchase (summary, per
part, the budget ↔ fill-rate frontier). Headers in Chinese and English; money
in CNY with two decimals (kept as fen, written as yuan numbers with a CNY
format, so the sheet sums them); fill rates as percentages. Shared by the
HTTP, command-line and console doors; the optimiser knows nothing of
spreadsheets.

Every figure is computed here from the instance's and the plan's arrays
with `optimizer.poisson` (expected backorders E[(D − x)⁺], D ~ Poisson(λ)),
so the sheet and the arrays cannot disagree.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import xlsxwriter

from importers.statement_sheets import CNY, MEDIA_TYPE
from optimizer import poisson

__all__ = ["MEDIA_TYPE", "allocation_xlsx", "purchase_xlsx"]

MAX_ROWS = 1_048_576  # an xlsx sheet's rows, the heading included
PERCENT = "0.00%"
GAP = "0.000%"
UNITS = "#,##0"
DECIMAL = "#,##0.000"


class _Book:
    """One workbook and its formats."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.book = xlsxwriter.Workbook(
            self.out, {"in_memory": True, "nan_inf_to_errors": True, "strings_to_numbers": False}
        )
        add = self.book.add_format
        self.bold = add({"bold": True})
        self.title = add({"bold": True, "font_size": 14})
        self.head = add({"bold": True, "bg_color": "#DDEBF7", "bottom": 1, "text_wrap": True})
        self.formats = {
            "text": None,
            "int": add({"num_format": UNITS}),
            "money": add({"num_format": CNY}),
            "percent": add({"num_format": PERCENT}),
            "gap": add({"num_format": GAP}),
            "float": add({"num_format": DECIMAL}),
            "seconds": add({"num_format": "0.00"}),
        }

    def close(self) -> bytes:
        self.book.close()
        return self.out.getvalue()

    def cell(self, sheet, row: int, col: int, value: Any, kind: str) -> None:
        """One value: a number written as a number (money as yuan), an
        absent or non-finite one as a blank cell (never NaN in a sheet)."""
        fmt = self.formats[kind]
        if value is None:
            sheet.write_blank(row, col, None, fmt)
        elif kind == "text":
            sheet.write_string(row, col, str(value))
        elif isinstance(value, bool | np.bool_):
            sheet.write_boolean(row, col, bool(value))
        else:
            number = float(value) / 100 if kind == "money" else float(value)
            if math.isfinite(number):
                sheet.write_number(row, col, number, fmt)
            else:
                sheet.write_blank(row, col, None, fmt)

    def summary(self, name: str, heading: str, rows: list[tuple[str, Any, str]]) -> None:
        sheet = self.book.add_worksheet(name)
        sheet.write_string(0, 0, heading, self.title)
        sheet.set_column(0, 0, 36)
        sheet.set_column(1, 1, 22)
        for row, (label, value, kind) in enumerate(rows, start=2):
            sheet.write_string(row, 0, label, self.bold)
            self.cell(sheet, row, 1, value, kind)

    def table(
        self,
        name: str,
        columns: list[tuple[str, int, str]],
        data: list[Any],
        *,
        rows: int,
        freeze: int = 1,
    ) -> None:
        """A table of `rows` rows; `data[c]` is column c (an array or a
        sequence). Past an xlsx sheet's million rows it goes on in sheets
        named "name 2", "name 3", … with the same headings."""
        per_sheet = MAX_ROWS - 1
        parts = max(1, math.ceil(rows / per_sheet))
        kinds = [kind for _, _, kind in columns]
        # Plain Python values: xlsxwriter writes them faster than numpy scalars.
        values = [d.tolist() if isinstance(d, np.ndarray) else list(d) for d in data]
        for part in range(parts):
            title = name if part == 0 else f"{name} {part + 1}"
            sheet = self.book.add_worksheet(title[:31])
            for col, (heading, width, _) in enumerate(columns):
                sheet.write_string(0, col, heading, self.head)
                sheet.set_column(col, col, width)
            sheet.set_row(0, 30)
            start, stop = part * per_sheet, min(rows, (part + 1) * per_sheet)
            for col, kind in enumerate(kinds):
                column = values[col]
                for row in range(start, stop):
                    self.cell(sheet, row - start + 1, col, column[row], kind)
            if freeze:
                sheet.freeze_panes(1, freeze)
            if stop > start:
                sheet.autofilter(0, 0, stop - start, len(columns) - 1)


def _fill(lam: np.ndarray, ebo: np.ndarray) -> np.ndarray:
    """1 − Σ EBO / Σ λ along the last summed axis, 1 where nothing is demanded."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lam > 0, 1.0 - ebo / np.where(lam > 0, lam, 1.0), 1.0)


def _labels(instance) -> tuple[list[str], list[str], list[str], str]:
    labels = getattr(instance, "labels", None)
    if labels is not None:
        return list(labels.point), list(labels.part), list(labels.warehouse), labels.hq
    return (
        [f"P{p + 1}" for p in range(instance.P)],
        [f"K{k + 1}" for k in range(instance.K)],
        [f"R{r + 1}" for r in range(instance.R)],
        "HQ",
    )


def _shape_check(instance, plan) -> None:
    if plan.x.shape != instance.lam.shape:
        raise ValueError(f"plan x is {plan.x.shape}, the instance has {instance.lam.shape}")
    if plan.ship.shape != instance.reg.shape:
        raise ValueError(f"plan ship is {plan.ship.shape}, the instance has {instance.reg.shape}")


def allocation_figures(instance, plan) -> dict[str, Any]:
    """The figures of an allocation, per part and per point, from the arrays
    (the sheet's and the console's tables both read these)."""
    _shape_check(instance, plan)
    lam = np.asarray(instance.lam, dtype=np.float64)
    onhand = np.asarray(instance.onhand if instance.onhand is not None else 0, dtype=np.int64)
    onhand = np.broadcast_to(onhand, lam.shape)
    x = np.asarray(plan.x, dtype=np.int64)
    weight = np.asarray(instance.weight, dtype=np.float64)
    cost = np.asarray(instance.cost, dtype=np.int64)
    ebo_before = poisson.expected_backorders(lam, onhand)
    ebo_after = poisson.expected_backorders(lam, onhand + x)
    demand_k, before_k, after_k = lam.sum(0), ebo_before.sum(0), ebo_after.sum(0)
    demand_p, before_p, after_p = lam.sum(1), ebo_before.sum(1), ebo_after.sum(1)
    value_p = x @ cost  # fen
    headroom = np.asarray(instance.headroom, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        used = np.where(headroom > 0, value_p / np.where(headroom > 0, headroom, 1), np.nan)
    used = np.where((headroom <= 0) & (value_p == 0), 0.0, used)
    total = float(lam.sum())
    return {
        "demand_k": demand_k, "ebo_before_k": before_k, "ebo_after_k": after_k,
        "fill_before_k": _fill(demand_k, before_k), "fill_after_k": _fill(demand_k, after_k),
        "demand_p": demand_p, "ebo_before_p": before_p, "ebo_after_p": after_p,
        "fill_before_p": _fill(demand_p, before_p), "fill_after_p": _fill(demand_p, after_p),
        "units_p": x.sum(1), "units_k": x.sum(0), "value_p": value_p, "headroom_used_p": used,
        "weighted_before": float((ebo_before * weight[None, :]).sum()),
        "weighted_after": float((ebo_after * weight[None, :]).sum()),
        "fill_before": 1.0 - float(before_k.sum()) / total if total > 0 else 1.0,
        "fill_after": 1.0 - float(after_k.sum()) / total if total > 0 else 1.0,
        "demand": total, "value": int(value_p.sum()),
    }  # fmt: skip


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def allocation_xlsx(instance, plan, *, title: str | None = None) -> bytes:
    """The allocation plan as a workbook: 汇总 Summary, 配件 Parts, 网点 Points,
    明细 Lines (one row per point and part sent, x > 0)."""
    figures = allocation_figures(instance, plan)
    points, skus, warehouses, hq_code = _labels(instance)
    x = np.asarray(plan.x, dtype=np.int64)
    ship = np.asarray(plan.ship, dtype=np.int64)
    book = _Book()
    book.summary("汇总 Summary", title or "全国配件分配方案 National allocation plan", [
        ("目标值（加权期望缺货）Objective (weighted expected backorders)",
         _number(plan.objective), "float"),
        ("下界 Lower bound", _number(plan.bound), "float"),
        ("差距 Gap", _number(plan.gap), "gap"),
        ("分配前加权期望缺货 Weighted expected backorders before", figures["weighted_before"],
         "float"),
        ("分配前满足率 Fill rate before", figures["fill_before"], "percent"),
        ("分配后满足率 Fill rate after", figures["fill_after"], "percent"),
        ("期望需求 Expected demand (units)", figures["demand"], "float"),
        ("分配件数 Units to points", int(x.sum()), "int"),
        ("总部发区域仓件数 Units HQ → warehouses", int(ship.sum()), "int"),
        ("分配金额 Value to points", figures["value"], "money"),
        ("网点数 Points", instance.P, "int"),
        ("配件数 Parts", instance.K, "int"),
        ("区域仓数 Regional warehouses", instance.R, "int"),
        ("总部 HQ", hq_code, "text"),
        ("用时（秒）Seconds", _number(plan.seconds), "seconds"),
        ("求解器 Solver", getattr(plan, "solver", ""), "text"),
        ("方法 Method", getattr(plan, "method", ""), "text"),
    ])  # fmt: skip
    reg = np.asarray(instance.reg, dtype=np.int64)
    book.table("配件 Parts", [
        ("物料编码 SKU", 16, "text"),
        ("总部库存 Units at HQ", 12, "int"),
        ("区域仓库存 Units at warehouses", 14, "int"),
        ("总部发区域仓 Shipped HQ → warehouse", 14, "int"),
        ("分配到网点 To points", 12, "int"),
        ("期望需求 Expected demand", 12, "float"),
        ("分配前期望缺货 Expected backorders before", 14, "float"),
        ("分配后期望缺货 Expected backorders after", 14, "float"),
        ("分配前满足率 Fill before", 11, "percent"),
        ("分配后满足率 Fill after", 11, "percent"),
    ], [
        skus, np.asarray(instance.hq, dtype=np.int64), reg.sum(0), ship.sum(0),
        figures["units_k"], figures["demand_k"], figures["ebo_before_k"], figures["ebo_after_k"],
        figures["fill_before_k"], figures["fill_after_k"],
    ], rows=instance.K)  # fmt: skip
    region = np.asarray(instance.region, dtype=np.int64)
    book.table("网点 Points", [
        ("网点 Point", 14, "text"),
        ("区域仓 Warehouse", 14, "text"),
        ("件数 Units", 10, "int"),
        ("金额 Value", 15, "money"),
        ("可用额度 Headroom", 16, "money"),
        ("额度占用 Headroom used", 12, "percent"),
        ("期望需求 Expected demand", 12, "float"),
        ("分配前满足率 Fill before", 11, "percent"),
        ("分配后满足率 Fill after", 11, "percent"),
    ], [
        points, [warehouses[r] for r in region.tolist()], figures["units_p"], figures["value_p"],
        np.asarray(instance.headroom, dtype=np.int64), figures["headroom_used_p"],
        figures["demand_p"], figures["fill_before_p"], figures["fill_after_p"],
    ], rows=instance.P)  # fmt: skip
    rows_p, cols_k = np.nonzero(x > 0)
    book.table("明细 Lines", [
        ("网点 Point", 14, "text"),
        ("物料编码 SKU", 16, "text"),
        ("数量 Quantity", 10, "int"),
    ], [
        [points[p] for p in rows_p.tolist()], [skus[k] for k in cols_k.tolist()], x[rows_p, cols_k],
    ], rows=int(rows_p.size))  # fmt: skip
    return book.close()


def purchase_figures(cost, lam, qty) -> dict[str, np.ndarray]:
    """Per part: spend (fen), expected backorders and fill rate for `qty`."""
    cost = np.asarray(cost, dtype=np.int64)
    qty = np.asarray(qty, dtype=np.int64)
    out: dict[str, Any] = {"spend": cost * qty}
    if lam is not None:
        lam = np.asarray(lam, dtype=np.float64)
        ebo = poisson.expected_backorders(lam, qty)
        out.update(demand=lam, ebo=ebo, fill=_fill(lam, ebo))
    return out


def purchase_xlsx(input, purchase, frontier, *, lam=None, title: str | None = None) -> bytes:
    """The initial purchase as a workbook: 汇总 Summary, 配件 Parts (quantity,
    spend and, with the demand `lam` (K,) over the horizon, expected
    backorders and fill per part), 前沿 Frontier (one row per budget)."""
    qty = np.asarray(purchase.qty, dtype=np.int64)
    if qty.shape != (len(input.sku),):
        raise ValueError(f"purchase qty is {qty.shape}, the input has {len(input.sku)} parts")
    figures = purchase_figures(input.cost, lam, qty)
    sales = np.asarray(input.sales, dtype=np.int64)
    book = _Book()
    book.summary("汇总 Summary", title or "新机型首批采购 Initial purchase", [
        ("采购金额 Spend", int(purchase.spend), "money"),
        ("期望满足率 Expected fill rate", _number(purchase.fill_rate), "percent"),
        ("期望缺货 Expected backorders", _number(purchase.backorders), "float"),
        ("加权期望缺货 Weighted expected backorders", _number(purchase.weighted_backorders),
         "float"),
        ("下界 Lower bound (weighted)", _number(purchase.bound), "float"),
        ("已证明最优 Proved optimal", "是 yes" if purchase.optimal else "否 no", "text"),
        ("采购件数 Units", int(qty.sum()), "int"),
        ("采购配件种数 Parts bought", int((qty > 0).sum()), "int"),
        ("配件数 Parts", len(input.sku), "int"),
        ("区域数 Regions", len(input.regions), "int"),
        ("销售月份 Months of sales", f"{input.months[0]} … {input.months[-1]}"
         if len(input.months) else "", "text"),
        ("计划销量 Units sold (plan)", int(sales.sum()), "int"),
    ])  # fmt: skip
    columns = [
        ("物料编码 SKU", 16, "text"),
        ("名称 Name", 24, "text"),
        ("单价 Unit cost", 12, "money"),
        ("月故障率 Failure rate", 12, "float"),
        ("权重 Weight", 8, "float"),
        ("起订量 MOQ", 9, "int"),
        ("包装量 Pack", 8, "int"),
        ("交期（天）Lead time (days)", 10, "int"),
        ("采购数量 Quantity", 11, "int"),
        ("采购金额 Spend", 15, "money"),
    ]
    data = [
        list(input.sku), list(input.name), input.cost, input.failure_rate, input.weight,
        input.moq, input.pack, input.lead_time_days, qty, figures["spend"],
    ]  # fmt: skip
    if lam is not None:
        columns += [
            ("期望需求 Expected demand", 12, "float"),
            ("期望缺货 Expected backorders", 12, "float"),
            ("满足率 Fill rate", 10, "percent"),
        ]
        data += [figures["demand"], figures["ebo"], figures["fill"]]
    book.table("配件 Parts", columns, [np.asarray(d) if not isinstance(d, list) else d
                                       for d in data], rows=len(input.sku))  # fmt: skip
    if frontier is not None:
        n = len(np.asarray(frontier.budget))
        optimal = getattr(frontier, "optimal", None)
        columns = [
            ("预算 Budget", 15, "money"),
            ("采购金额 Spend", 15, "money"),
            ("满足率 Fill rate", 10, "percent"),
            ("期望缺货 Expected backorders", 12, "float"),
            ("加权期望缺货 Weighted expected backorders", 14, "float"),
            ("已证明最优 Proved optimal", 10, "text"),
        ]
        data = [
            np.asarray(frontier.budget), np.asarray(frontier.spend),
            np.asarray(frontier.fill_rate, dtype=np.float64),
            np.asarray(frontier.backorders, dtype=np.float64),
            np.asarray(frontier.weighted_backorders, dtype=np.float64),
            ["" if optimal is None else ("是 yes" if o else "否 no")
             for o in (np.ones(n, bool) if optimal is None else np.asarray(optimal, bool))],
        ]  # fmt: skip
        bound = getattr(frontier, "bound", None)
        if bound is not None and np.shape(bound) == (n,):
            columns.append(("下界（加权）Lower bound (weighted)", 14, "float"))
            data.append(np.asarray(bound, dtype=np.float64))
        book.table("前沿 Frontier", columns, data, rows=n, freeze=0)
    return book.close()
