"""The planners' two pictures, as PNG bytes: the budget ↔ fill-rate frontier
of an initial purchase, and the fill rate of each regional warehouse's points
before and after an allocation.

Drawn with matplotlib's object API on the Agg canvas (`Figure` +
`FigureCanvasAgg`): no pyplot, no global figure state, so a worker or a web
process may draw from any thread. Chinese is drawn in Noto Sans CJK (Debian's
`fonts-noto-cjk`), found through matplotlib's font manager; without it the
pictures fall back quietly to DejaVu Sans (Chinese glyphs then show as boxes,
and no warning is logged for each of them).

The words on the axes are this module's own (`LABELS`, per language): the
console's gettext catalogue lives in `api/`, which the optimiser does not
import. The title is the caller's, already in the reader's language.
"""

from __future__ import annotations

import io
import math
import warnings
from functools import lru_cache
from typing import Any

import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

# Preferred families, Simplified Chinese first; the first one installed is used.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "WenQuanYi Zen Hei",
)
FALLBACK_FAMILY = "DejaVu Sans"

LABELS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "budget": "预算",
        "fill_rate": "满足率",
        "frontier": "预算—满足率前沿",
        "chosen": "所选方案",
        "not_optimal": "未证明最优",
        "region": "区域仓",
        "before": "分配前",
        "after": "分配后",
        "no_data": "无数据",
        "no_demand": "无需求",
    },
    "en": {
        "budget": "Budget",
        "fill_rate": "Fill rate",
        "frontier": "Budget–fill-rate frontier",
        "chosen": "Chosen",
        "not_optimal": "Not proved optimal",
        "region": "Regional warehouse",
        "before": "Before",
        "after": "After",
        "no_data": "No data",
        "no_demand": "No demand",
    },
}
# Money on the budget axis: yuan, scaled to a unit that keeps the ticks short.
MONEY_UNITS: dict[str, tuple[tuple[float, str], ...]] = {
    "zh_CN": ((1e8, "亿元"), (1e4, "万元"), (1.0, "元")),
    "en": ((1e6, "million CNY"), (1e3, "thousand CNY"), (1.0, "CNY")),
}

WIDTH, HEIGHT, DPI = 8.0, 4.5, 110
BEFORE_COLOUR, AFTER_COLOUR, LINE_COLOUR, MARK_COLOUR = "#b0b7c3", "#2a6fdb", "#2a6fdb", "#d9480f"


def _lang(lang: str | None) -> str:
    """zh_CN unless English was asked for ("en", "en_US", …)."""
    return "en" if (lang or "").lower().startswith("en") else "zh_CN"


def labels(lang: str | None) -> dict[str, str]:
    return LABELS[_lang(lang)]


@lru_cache(maxsize=1)
def font_family() -> str:
    """The family the pictures are drawn in: a CJK one when installed, else DejaVu Sans."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in installed:
            return family
    # A font installed after matplotlib cached its font list: add the files.
    try:
        found = [p for p in font_manager.findSystemFonts() if "NotoSansCJK" in p]
    except Exception:  # an unreadable font directory is no reason to fail a picture
        found = []
    for path in found:
        try:
            font_manager.fontManager.addfont(path)
        except Exception:
            continue
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in installed:
            return family
    return FALLBACK_FAMILY


def has_cjk_font() -> bool:
    return font_family() != FALLBACK_FAMILY


def _font(size: float | None = None, weight: str = "normal") -> font_manager.FontProperties:
    return font_manager.FontProperties(family=[font_family(), FALLBACK_FAMILY], size=size,
                                       weight=weight)  # fmt: skip


def _figure() -> tuple[Figure, Any]:
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.tick_params(labelfontfamily=font_family())
    axes.grid(True, axis="y", color="#e3e6ea", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure, axes


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():
        # Without a CJK font every Chinese glyph would warn: the fallback is quiet.
        warnings.filterwarnings("ignore", message=r".*missing from font", category=UserWarning)
        figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _vector(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name}: one value per row is needed, got shape {array.shape}")
    return array


def _money_unit(top_yuan: float, lang: str) -> tuple[float, str]:
    for scale, unit in MONEY_UNITS[lang]:
        if top_yuan >= scale * 10 or scale == 1.0:
            return scale, unit
    return 1.0, MONEY_UNITS[lang][-1][1]


def _chosen_point(chosen: Any) -> tuple[float, float] | None:
    """(spend in fen, fill rate) of the chosen purchase: a Purchase-like
    object (`spend`, `fill_rate`), a mapping with those keys, or a pair."""
    if chosen is None:
        return None
    if isinstance(chosen, dict):
        spend, fill = chosen.get("spend"), chosen.get("fill_rate")
    elif hasattr(chosen, "spend") and hasattr(chosen, "fill_rate"):
        spend, fill = chosen.spend, chosen.fill_rate
    else:
        spend, fill = chosen
    spend, fill = float(spend), float(fill)
    if not (math.isfinite(spend) and math.isfinite(fill)):
        return None
    return spend, fill


def frontier_png(
    frontier: Any, *, chosen: Any = None, title: str = "", lang: str = "zh_CN"
) -> bytes:
    """The frontier as a PNG: budget (CNY) against the best fill rate it buys.

    `frontier` has `budget` (N,) fen and `fill_rate` (N,) (and optionally
    `optimal` (N,) bool: rows not proved optimal are drawn hollow); `chosen`,
    if given, is marked (its spend and fill rate). Rows with a non-finite
    figure are left out; an empty frontier draws empty axes saying so."""
    lang = _lang(lang)
    words = LABELS[lang]
    budget = _vector(frontier.budget, "budget")
    fill = _vector(frontier.fill_rate, "fill_rate")
    if budget.shape != fill.shape:
        raise ValueError(f"budget {budget.shape} and fill_rate {fill.shape} differ in length")
    optimal = getattr(frontier, "optimal", None)
    optimal = (np.ones(budget.shape, bool) if optimal is None
               else np.asarray(optimal, dtype=bool).reshape(budget.shape))  # fmt: skip
    keep = np.isfinite(budget) & np.isfinite(fill)
    budget, fill, optimal = budget[keep], np.clip(fill[keep], 0.0, 1.0), optimal[keep]
    order = np.argsort(budget, kind="stable")
    budget, fill, optimal = budget[order], fill[order], optimal[order]
    mark = _chosen_point(chosen)

    figure, axes = _figure()
    top = max([float(budget.max()) if budget.size else 0.0, mark[0] if mark else 0.0]) / 100
    scale, unit = _money_unit(top, lang)
    xs = budget / 100 / scale
    if xs.size:
        axes.step(xs, fill, where="post", color=LINE_COLOUR, linewidth=1.6, label=words["frontier"])
        axes.plot(xs[optimal], fill[optimal], "o", color=LINE_COLOUR, markersize=3.5)
        if (~optimal).any():
            axes.plot(
                xs[~optimal], fill[~optimal], "o", markerfacecolor="white",
                markeredgecolor=LINE_COLOUR, markersize=4.5, label=words["not_optimal"],
            )  # fmt: skip
    else:
        axes.text(0.5, 0.5, words["no_data"], transform=axes.transAxes, ha="center",
                  va="center", fontproperties=_font(12), color="#6b7280")  # fmt: skip
    if mark is not None:
        x, y = mark[0] / 100 / scale, min(max(mark[1], 0.0), 1.0)
        axes.plot([x], [y], marker="D", color=MARK_COLOUR, markersize=8, linestyle="none",
                  label=words["chosen"])  # fmt: skip
        axes.annotate(f"{y:.1%}", (x, y), textcoords="offset points", xytext=(8, -14),
                      fontproperties=_font(9), color=MARK_COLOUR)  # fmt: skip
    axes.set_ylim(0, 1.02)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}" if abs(v) >= 10
                                                 else f"{v:,.1f}"))  # fmt: skip
    axes.set_xlim(left=0)
    axes.set_xlabel(f"{words['budget']} ({unit})", fontproperties=_font(10))
    axes.set_ylabel(words["fill_rate"], fontproperties=_font(10))
    axes.set_title(title or words["frontier"], fontproperties=_font(12, "bold"))
    if xs.size or mark is not None:
        axes.legend(prop=_font(9), loc="lower right", frameon=False)
    return _png(figure)


def region_fill_png(
    names: Any, before: Any, after: Any, *, title: str = "", lang: str = "zh_CN"
) -> bytes:
    """Bars per regional warehouse: the fill rate of its points before and
    after the allocation (fractions 0..1; a non-finite value draws no bar, and
    a region with neither, one whose points have no demand, says so)."""
    lang = _lang(lang)
    words = LABELS[lang]
    names = [str(n) for n in names]
    before = _vector(before, "before")
    after = _vector(after, "after")
    if not (len(names) == before.size == after.size):
        raise ValueError(f"{len(names)} names, {before.size} before and {after.size} after: "
                         "give one of each per regional warehouse")  # fmt: skip
    figure, axes = _figure()
    many = len(names) > 12
    if names:
        xs = np.arange(len(names), dtype=np.float64)
        width = 0.4
        b = np.where(np.isfinite(before), np.clip(before, 0, 1), 0.0)
        a = np.where(np.isfinite(after), np.clip(after, 0, 1), 0.0)
        axes.bar(xs - width / 2, b, width, color=BEFORE_COLOUR, label=words["before"])
        axes.bar(xs + width / 2, a, width, color=AFTER_COLOUR, label=words["after"])
        for x in xs[~(np.isfinite(before) | np.isfinite(after))]:
            axes.text(
                x, 0.02, words["no_demand"], ha="center", va="bottom", color="#6b7280",
                rotation=90 if many else 0, fontproperties=_font(7 if many else 9),
            )  # fmt: skip
        axes.set_xticks(xs)
        axes.set_xticklabels(names, rotation=60 if many else 0, ha="right" if many else "center",
                             fontproperties=_font(7 if many else 9))  # fmt: skip
        axes.set_xlim(-0.6, len(names) - 0.4)
        figure.legend(prop=_font(9), loc="outside lower center", ncols=2, frameon=False)
    else:
        axes.set_xticks([])
        axes.text(0.5, 0.5, words["no_data"], transform=axes.transAxes, ha="center",
                  va="center", fontproperties=_font(12), color="#6b7280")  # fmt: skip
    axes.set_ylim(0, 1.05)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes.set_xlabel(words["region"], fontproperties=_font(10))
    axes.set_ylabel(words["fill_rate"], fontproperties=_font(10))
    axes.set_title(title or words["fill_rate"], fontproperties=_font(12, "bold"))
    return _png(figure)
