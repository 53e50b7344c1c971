"""What a planner takes away from a plan: the PNG pictures (the purchase
frontier, fill rate by region before and after) and the spreadsheets of an
allocation and of a purchase, whose figures are the arrays' own."""

from __future__ import annotations

import dataclasses
import io
import struct
import warnings
from types import SimpleNamespace

import numpy as np
import openpyxl
import pytest
from matplotlib import font_manager

from api import plan_sheets
from importers.purchase_sheet import PurchaseInput
from optimizer import plots, poisson
from optimizer.allocate import Instance, Labels, Plan
from optimizer.purchase import Frontier, Purchase

PNG = b"\x89PNG\r\n\x1a\n"


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _frontier(n: int = 30) -> Frontier:
    budget = np.linspace(0, 5_000_000_00, n).astype(np.int64)  # up to ¥5,000,000
    fill = 1 - np.exp(-np.arange(n) / 6)
    return Frontier(
        budget=budget, spend=budget - budget // 50, fill_rate=fill, backorders=100 * (1 - fill),
        weighted_backorders=150 * (1 - fill), optimal=np.arange(n) < n - 3,
    )  # fmt: skip


# -- the pictures ---------------------------------------------------------------------


def test_the_frontier_is_a_png_with_the_chosen_purchase_marked():
    chosen = SimpleNamespace(spend=2_000_000_00, fill_rate=0.9)
    png = plots.frontier_png(_frontier(), chosen=chosen, title="新机型首批采购", lang="zh_CN")
    assert _size(png) == (880, 495)
    assert len(png) > 15_000
    # the mark is drawn: the picture differs from the one without it
    plain = plots.frontier_png(_frontier(), title="新机型首批采购", lang="zh_CN")
    assert plain != png


def test_fill_by_region_is_a_png_in_either_language():
    names = [f"RW-{r:02d}" for r in range(30)]
    before, after = np.linspace(0.6, 0.9, 30), np.linspace(0.9, 0.99, 30)
    zh = plots.region_fill_png(names, before, after, title="各区域满足率", lang="zh_CN")
    en = plots.region_fill_png(names, before, after, title="Fill rate by region", lang="en")
    assert _size(zh) == _size(en) == (880, 495)
    assert len(zh) > 15_000 and len(en) > 15_000 and zh != en


def test_odd_inputs_draw_a_picture_or_say_what_is_wrong():
    empty = Frontier(*(np.zeros(0),) * 5, optimal=np.zeros(0, bool))
    assert plots.frontier_png(empty, title="", lang="en")[:8] == PNG
    base = _frontier()
    fill, budget = base.fill_rate.copy(), base.budget.astype(np.float64)
    fill[3], budget[5] = np.nan, np.inf
    nan = dataclasses.replace(base, fill_rate=fill, budget=budget)
    assert plots.frontier_png(nan, chosen=(np.nan, 0.5), title="x", lang="zh_CN")[:8] == PNG
    out_of_range = plots.region_fill_png(["A", "B"], [-0.5, np.nan], [7.0, np.inf], title="",
                                         lang="en")  # fmt: skip
    assert out_of_range[:8] == PNG
    assert plots.region_fill_png([], [], [], title="", lang="zh_CN")[:8] == PNG
    with pytest.raises(ValueError, match="one of each per regional warehouse"):
        plots.region_fill_png(["A", "B"], [0.5], [0.6, 0.7], title="", lang="en")
    with pytest.raises(ValueError, match="differ in length"):
        plots.frontier_png(SimpleNamespace(budget=[1, 2], fill_rate=[0.5]), title="", lang="en")


def _cjk_installed() -> bool:
    return any("NotoSansCJK" in path for path in font_manager.findSystemFonts())


@pytest.mark.skipif(not _cjk_installed(), reason="fonts-noto-cjk is not installed")
def test_chinese_labels_are_drawn_in_the_cjk_font_without_a_missing_glyph():
    assert plots.font_family().startswith("Noto Sans CJK")
    found = font_manager.findfont(font_manager.FontProperties(family=plots.font_family()),
                                  fallback_to_default=False)  # fmt: skip
    assert "NotoSansCJK" in found
    with warnings.catch_warnings():
        # A missing glyph warns; here it fails the test (plots._png would hide it).
        warnings.simplefilter("error")
        figure, axes = plots._figure()
        axes.set_title("满足率 分配前 分配后", fontproperties=plots._font(12))
        out = io.BytesIO()
        figure.savefig(out, format="png")


def test_without_a_cjk_font_the_pictures_fall_back_quietly(monkeypatch):
    monkeypatch.setattr(plots, "font_family", lambda: plots.FALLBACK_FAMILY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = plots.region_fill_png(["华南", "华北"], [0.5, 0.6], [0.7, 0.8], title="各区域",
                                    lang="zh_CN")  # fmt: skip
    assert png[:8] == PNG


# -- the allocation workbook ------------------------------------------------------------


def _instance() -> tuple[Instance, Plan]:
    rng = np.random.default_rng(7)
    P, K = 5, 4
    lam = rng.uniform(0.0, 4.0, (P, K))
    lam[0, 0] = 0.0
    lam[4] = 0.0  # a point with no demand at all
    instance = Instance(
        lam=lam, weight=np.array([1.0, 2.0, 1.5, 0.5]),
        cost=np.array([10_000, 3_000, 50_000, 1_234], dtype=np.int64),
        hq=np.array([5, 3, 2, 9], dtype=np.int64), reg=np.array([[1, 0, 0, 2], [0, 2, 1, 0]]),
        region=np.array([0, 0, 1, 1, 0]), headroom=np.array([100_000, 0, 60_000, 1_000_000, 5]),
        onhand=np.array([[1, 0, 0, 0]] + [[0, 0, 0, 0]] * 3 + [[0, 0, 0, 1]]),
        labels=Labels(point=("SP-1", "SP-2", "SP-3", "SP-4", "SP-5"),
                      part=("P-LCD", "P-BATT", "P-BOARD", "P-SCREW"),
                      warehouse=("RW-S", "RW-N"), hq="HQ"),
    )  # fmt: skip
    x = np.array([[2, 0, 1, 3], [0, 0, 0, 0], [1, 2, 0, 0], [3, 1, 1, 1], [0, 0, 0, 0]])
    ship = np.array([[1, 0, 1, 1], [4, 1, 0, 1]])
    ebo = poisson.expected_backorders(lam, instance.onhand + x)
    objective = float((ebo * instance.weight).sum())
    return instance, Plan(x=x, ship=ship, objective=objective, bound=objective * 0.9999,
                          gap=1e-4, seconds=1.25, solver="CP-SAT", method="lagrangian")  # fmt: skip


def _rows(sheet) -> list[tuple]:
    return list(sheet.iter_rows(min_row=2, values_only=True))


def _summary(sheet) -> dict[str, object]:
    return {label.split(" ", 1)[0]: value for label, value in sheet.iter_rows(
        min_row=3, max_col=2, values_only=True) if label}  # fmt: skip


def test_the_allocation_workbook_states_the_arrays_figures():
    instance, plan = _instance()
    book = openpyxl.load_workbook(io.BytesIO(plan_sheets.allocation_xlsx(instance, plan)))
    assert book.sheetnames == ["汇总 Summary", "配件 Parts", "网点 Points", "明细 Lines"]
    onhand, x = instance.onhand, plan.x
    summary = _summary(book["汇总 Summary"])
    assert summary["目标值（加权期望缺货）Objective"] == pytest.approx(plan.objective)
    assert summary["下界"] == pytest.approx(plan.bound)
    assert summary["差距"] == pytest.approx(1e-4)
    assert summary["分配前满足率"] == pytest.approx(poisson.fill_rate(instance.lam, onhand))
    assert summary["分配后满足率"] == pytest.approx(poisson.fill_rate(instance.lam, onhand + x))
    assert summary["分配件数"] == x.sum() == 15
    assert summary["总部发区域仓件数"] == plan.ship.sum()
    assert summary["分配金额"] == pytest.approx((x @ instance.cost).sum() / 100)
    assert summary["求解器"] == "CP-SAT" and summary["用时（秒）Seconds"] == 1.25

    parts = _rows(book["配件 Parts"])
    assert [r[0] for r in parts] == ["P-LCD", "P-BATT", "P-BOARD", "P-SCREW"]
    for k, row in enumerate(parts):
        lam = instance.lam[:, k]
        before = poisson.expected_backorders(lam, onhand[:, k]).sum()
        after = poisson.expected_backorders(lam, onhand[:, k] + x[:, k]).sum()
        assert row[1:5] == (instance.hq[k], instance.reg[:, k].sum(), plan.ship[:, k].sum(),
                            x[:, k].sum())  # fmt: skip
        assert row[5] == pytest.approx(lam.sum())
        assert row[6] == pytest.approx(before) and row[7] == pytest.approx(after)
        assert row[8] == pytest.approx(1 - before / lam.sum())
        assert row[9] == pytest.approx(1 - after / lam.sum())
        assert after <= before

    points = _rows(book["网点 Points"])
    assert [r[:2] for r in points] == [("SP-1", "RW-S"), ("SP-2", "RW-S"), ("SP-3", "RW-N"),
                                       ("SP-4", "RW-N"), ("SP-5", "RW-S")]  # fmt: skip
    sp1 = points[0]
    value = 2 * 10_000 + 50_000 + 3 * 1_234
    assert sp1[2:6] == (6, pytest.approx(value / 100), 1_000.0, pytest.approx(value / 100_000))
    assert points[1][5] == 0  # nothing sent, no headroom: none of it used
    assert points[4][6] == 0 and points[4][7] == points[4][8] == 1  # no demand: all met
    assert sum(r[3] for r in points) == pytest.approx((x @ instance.cost).sum() / 100)

    lines = _rows(book["明细 Lines"])
    assert len(lines) == np.count_nonzero(x)
    assert ("SP-1", "P-LCD", 2) in lines and ("SP-4", "P-SCREW", 1) in lines
    assert sum(r[2] for r in lines) == x.sum()
    assert not any(r[0] in ("SP-2", "SP-5") for r in lines)


def test_an_allocation_without_labels_or_bound_still_makes_a_workbook():
    instance, plan = _instance()
    bare = Instance(lam=instance.lam, weight=instance.weight, cost=instance.cost,
                    hq=instance.hq, reg=instance.reg, region=instance.region,
                    headroom=instance.headroom)  # fmt: skip
    plan.bound, plan.gap = float("nan"), float("nan")  # the spreadsheet method's plan
    book = openpyxl.load_workbook(io.BytesIO(plan_sheets.allocation_xlsx(bare, plan)))
    summary = _summary(book["汇总 Summary"])
    assert summary["下界"] is None and summary["差距"] is None  # blank, never NaN
    assert summary["分配前满足率"] == pytest.approx(0.0)  # nothing on hand before
    assert [r[0] for r in _rows(book["网点 Points"])] == ["P1", "P2", "P3", "P4", "P5"]
    with pytest.raises(ValueError, match="plan x is"):
        plan_sheets.allocation_xlsx(bare, Plan(x=plan.x[:2], ship=plan.ship, objective=0,
                                               bound=0, gap=0))  # fmt: skip


def test_an_allocation_of_nothing_has_empty_tables():
    instance, plan = _instance()
    plan.x = np.zeros_like(plan.x)
    plan.ship = np.zeros_like(plan.ship)
    book = openpyxl.load_workbook(io.BytesIO(plan_sheets.allocation_xlsx(instance, plan)))
    assert _rows(book["明细 Lines"]) == []
    summary = _summary(book["汇总 Summary"])
    assert summary["分配前满足率"] == summary["分配后满足率"]


# -- the purchase workbook -----------------------------------------------------------------


def _purchase() -> tuple[PurchaseInput, Purchase, Frontier, np.ndarray]:
    K = 3
    input_ = PurchaseInput(
        sku=("P-LCD", "P-BATT", "P-SCREW"), name=("屏幕", "电池", "螺丝"),
        cost=np.array([12_000, 4_550, 5], dtype=np.int64),
        failure_rate=np.array([0.01, 0.02, 0.001]),
        weight=np.array([2.0, 1.0, 0.2]), moq=np.array([10, 20, 100]), pack=np.array([5, 10, 100]),
        lead_time_days=np.array([30, 20, 7]), regions=("South", "North"),
        months=("2027-01", "2027-02"), sales=np.array([[1000, 2000], [500, 800]]),
    )  # fmt: skip
    lam = np.array([30.0, 40.0, 2.0])
    qty = np.array([35, 50, 0], dtype=np.int64)
    ebo = poisson.expected_backorders(lam, qty)
    purchase = Purchase(
        qty=qty, spend=int(qty @ input_.cost), fill_rate=1 - ebo.sum() / lam.sum(),
        backorders=float(ebo.sum()), weighted_backorders=float((ebo * input_.weight).sum()),
        bound=float((ebo * input_.weight).sum()), optimal=True,
    )  # fmt: skip
    assert len(qty) == K
    return input_, purchase, _frontier(12), lam


def test_the_purchase_workbook_states_quantities_spend_fill_and_the_frontier():
    input_, purchase, frontier, lam = _purchase()
    data = plan_sheets.purchase_xlsx(input_, purchase, frontier, lam=lam)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["汇总 Summary", "配件 Parts", "前沿 Frontier"]
    summary = _summary(book["汇总 Summary"])
    assert summary["采购金额"] == pytest.approx(purchase.spend / 100) == 6_475.0
    assert summary["期望满足率"] == pytest.approx(purchase.fill_rate)
    assert summary["采购件数"] == 85 and summary["采购配件种数"] == 2
    assert summary["计划销量"] == 4_300 and summary["已证明最优"] == "是 yes"
    parts = _rows(book["配件 Parts"])
    assert [r[0] for r in parts] == list(input_.sku)
    lcd = parts[0]
    assert lcd[1] == "屏幕" and lcd[2] == 120.0 and lcd[5:10] == (10, 5, 30, 35, 4_200.0)
    for k, row in enumerate(parts):
        ebo = float(poisson.expected_backorders(lam[k], purchase.qty[k]))
        assert row[10] == pytest.approx(lam[k])
        assert row[11] == pytest.approx(ebo)
        assert row[12] == pytest.approx(1 - ebo / lam[k])
    assert sum(r[9] for r in parts) == pytest.approx(purchase.spend / 100)
    rows = _rows(book["前沿 Frontier"])
    assert len(rows) == 12
    assert [r[0] for r in rows] == pytest.approx(list(frontier.budget / 100))
    assert [r[2] for r in rows] == pytest.approx(list(frontier.fill_rate))
    assert rows[-1][5] == "否 no" and rows[0][5] == "是 yes"
    assert len(rows[0]) == 6  # no bounds given: no bound column
    bounded = SimpleNamespace(**{**vars(frontier), "bound": frontier.weighted_backorders * 0.99})
    with_bound = openpyxl.load_workbook(
        io.BytesIO(plan_sheets.purchase_xlsx(input_, purchase, bounded, lam=lam))
    )
    rows = _rows(with_bound["前沿 Frontier"])
    assert [r[6] for r in rows] == pytest.approx(list(frontier.weighted_backorders * 0.99))


def test_a_purchase_without_demand_or_frontier_leaves_those_columns_out():
    input_, purchase, _, _ = _purchase()
    book = openpyxl.load_workbook(io.BytesIO(plan_sheets.purchase_xlsx(input_, purchase, None)))
    assert book.sheetnames == ["汇总 Summary", "配件 Parts"]
    assert len(next(book["配件 Parts"].iter_rows(values_only=True))) == 10
    with pytest.raises(ValueError, match="parts"):
        plan_sheets.purchase_xlsx(input_, dataclasses.replace(purchase, qty=purchase.qty[:2]), None)


def test_a_region_without_demand_says_so_rather_than_drawing_nothing():
    silent = plots.region_fill_png(["RW-N", "RW-S"], [np.nan, 0.5], [np.nan, 0.9], title="",
                                   lang="zh_CN")  # fmt: skip
    empty = plots.region_fill_png(["RW-N", "RW-S"], [0.0, 0.5], [0.0, 0.9], title="",
                                  lang="zh_CN")  # fmt: skip
    assert silent[:8] == empty[:8] == PNG and silent != empty
    assert plots.LABELS["zh_CN"]["no_demand"] == "无需求"
