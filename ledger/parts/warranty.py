"""The warranty rules as one pure function: which service category a case is
(DOA, DAP, WH or F), when its warranty ends, and why (../shared/DOMAIN.md,
"Service categories"). No database, no clock, no I/O: the same case always
gets the same decision.

The rules, in the order they are applied:

1. Man-made damage is always F (no warranty applies: `warranty_ends_on` null).
2. A never-sold unit: DOA if it is a handset with at most 15 minutes of talk
   time; otherwise WH, whatever its age (it has not reached a customer). Its
   `warranty_ends_on` is what it would have without proof: manufacture date
   + 3 months + the class's period.
3. DAP: a sold handset with valid proof, reported no later than the purchase
   date + 15 days, cosmetically intact. Its `warranty_ends_on` is the WH one.
4. Otherwise the period: handset 12 months (+ extended months), charger 12,
   battery 6, other accessories 3; from the purchase date with valid proof,
   from the manufacture date + 3 months without (a handset 15 months from
   manufacture, a battery 9, other accessories 6). The last covered day is the
   start + the period, inclusive (calendar months, the day clamped to the
   month's end: 31 January + 1 month = 28/29 February); reported on or before
   it is WH, after it F. Without proof the months are added to the
   manufacture date in one step (3 + period), so a handset is exactly
   "15 months from manufacture".

Open cases, decided here (and in the README, "Warranty rules"), each refused
as `InvalidInput` naming the field (HTTP 422):

- `extended_months` > 0 for a part class other than `handset` (only the
  handset's period is extended), or for a never-sold unit (an extended
  warranty is sold with the unit);
- a sold unit with valid proof but no `purchased_on`;
- a never-sold unit with a `purchased_on` or with `proof_of_purchase`;
- dates out of order: `purchased_on` before `manufactured_on`, `reported_on`
  before `manufactured_on` or before `purchased_on`.

A sold unit without proof may still give `purchased_on` (the customer's word):
its order with the other dates is checked, but the period runs from
manufacture. DAP is for the `handset` class only; DOA for handsets only (a
never-sold charger with 0 minutes is WH). Cosmetic condition matters for DAP
only (a worn handset within 15 days is WH, not DAP).

Bounds of a `Case`: every date is YYYY-MM-DD between 2000-01-01 and
2100-12-31 (fixed, so the rules stay pure: no "today"); `talk_minutes`
0 … 1,000,000; `extended_months` 0 … 120.
"""

from __future__ import annotations

import calendar
import enum
import re
from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
)

from ledger.errors import InvalidInput

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
MAX_TALK_MINUTES = 1_000_000
MAX_EXTENDED_MONTHS = 120
DOA_TALK_MINUTES = 15  # at most this many minutes of talk time: still DOA
DAP_DAYS = 15  # reported at most this many days after purchase: DAP
NO_PROOF_DELAY_MONTHS = 3  # without proof the period starts 3 months after manufacture


class PartClass(enum.StrEnum):
    """The warranty class of what failed (the catalog's `WarrantyClass`)."""

    HANDSET = "handset"  # the handset and its internal parts
    CHARGER = "charger"
    BATTERY = "battery"
    ACCESSORY = "accessory"  # other accessories


PERIOD_MONTHS = {
    PartClass.HANDSET: 12,
    PartClass.CHARGER: 12,
    PartClass.BATTERY: 6,
    PartClass.ACCESSORY: 3,
}


class Category(enum.StrEnum):
    DOA = "DOA"  # dead on arrival: never-sold handset, swapped for new
    DAP = "DAP"  # swap after test: within 15 days of purchase
    WH = "WH"  # in warranty
    F = "F"  # out of warranty: the customer pays


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_HINT = "a date is written YYYY-MM-DD, e.g. 2026-11-30"


def _iso_date(v: Any) -> Any:
    # pydantic would also read 0 or "1700000000" as a date (Unix time).
    if isinstance(v, bool | int | float):
        raise ValueError(_DATE_HINT)
    if isinstance(v, str):
        try:
            if _ISO_DATE.fullmatch(v):
                return date.fromisoformat(v)
        except ValueError:
            pass
        raise ValueError(f"{v[:40]!r} is not a date: {_DATE_HINT}")
    return v


def _within_bounds(v: date) -> date:
    if not FIRST_DAY <= v <= LAST_DAY:
        raise ValueError(
            f"{v.isoformat()} is out of bounds: a date lies between "
            f"{FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}"
        )
    return v


Day = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_within_bounds)]


class Case(BaseModel):
    """A repair case as the service point sees it, before the repair."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    part_class: PartClass = Field(
        description="handset (the handset and its internal parts), charger, battery, accessory"
    )
    reported_on: Day = Field(description="The day the customer brought it (YYYY-MM-DD)")
    manufactured_on: Day = Field(description="The manufacture date (YYYY-MM-DD)")
    purchased_on: Day | None = Field(
        default=None, description="The purchase date; required for a sold unit with proof"
    )
    proof_of_purchase: StrictBool = Field(
        default=False, description="A valid warranty card or invoice"
    )
    sold: StrictBool = Field(default=True, description="False for a unit never sold")
    man_made_damage: StrictBool = Field(
        default=False, description="Misuse, unauthorised repair, disaster, torn seals"
    )
    talk_minutes: StrictInt = Field(default=0, ge=0, le=MAX_TALK_MINUTES)
    cosmetic_ok: StrictBool = Field(default=True, description="No wear, labels and seals intact")
    extended_months: StrictInt = Field(
        default=0,
        ge=0,
        le=MAX_EXTENDED_MONTHS,
        description="Extended warranty, handset only (> 0 for another class is refused)",
    )


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: Category
    warranty_ends_on: date | None = Field(
        description="The last covered day, inclusive; null where no warranty applies"
    )
    reason: str
    reason_zh: str


def add_months(day: date, months: int) -> date:
    """`day` + `months` calendar months, the day clamped to the month's end:
    31 January + 1 month = 28 (or 29) February."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _check(case: Case) -> None:
    """The open cases the rules leave: refused, naming the field."""
    if case.extended_months and case.part_class is not PartClass.HANDSET:
        raise InvalidInput(
            f"extended_months applies to the handset only, not to a {case.part_class.value}: "
            "send 0",
            field="extended_months",
        )
    if not case.sold:
        if case.purchased_on is not None:
            raise InvalidInput(
                "a never-sold unit has no purchase date: leave purchased_on out, or send sold=true",
                field="purchased_on",
            )
        if case.proof_of_purchase:
            raise InvalidInput(
                "a never-sold unit has no proof of purchase: send proof_of_purchase=false, "
                "or sold=true",
                field="proof_of_purchase",
            )
        if case.extended_months:
            raise InvalidInput(
                "an extended warranty is sold with the unit: a never-sold unit has none",
                field="extended_months",
            )
    elif case.proof_of_purchase and case.purchased_on is None:
        raise InvalidInput(
            "a sold unit with proof of purchase needs purchased_on (the date on the card "
            "or invoice, YYYY-MM-DD)",
            field="purchased_on",
        )
    if case.purchased_on is not None and case.purchased_on < case.manufactured_on:
        raise InvalidInput(
            f"purchased_on {case.purchased_on} is before manufactured_on "
            f"{case.manufactured_on}: check both dates",
            field="purchased_on",
        )
    if case.reported_on < case.manufactured_on:
        raise InvalidInput(
            f"reported_on {case.reported_on} is before manufactured_on "
            f"{case.manufactured_on}: check both dates",
            field="reported_on",
        )
    if case.purchased_on is not None and case.reported_on < case.purchased_on:
        raise InvalidInput(
            f"reported_on {case.reported_on} is before purchased_on {case.purchased_on}: "
            "check both dates",
            field="reported_on",
        )


_CLASS_ZH = {
    PartClass.HANDSET: "整机",
    PartClass.CHARGER: "充电器",
    PartClass.BATTERY: "电池",
    PartClass.ACCESSORY: "配件",
}


def warranty_end(case: Case) -> date:
    """The last covered day of the case's period (inclusive), ignoring damage
    and DOA/DAP: from the purchase date with proof, else from manufacture +
    3 months."""
    months = PERIOD_MONTHS[case.part_class] + case.extended_months
    if case.sold and case.proof_of_purchase:
        assert case.purchased_on is not None  # refused by _check otherwise
        return add_months(case.purchased_on, months)
    return add_months(case.manufactured_on, NO_PROOF_DELAY_MONTHS + months)


def decide(case: Case) -> Decision:
    """The service category of `case`, its warranty end and the reason (see
    the module's docstring for the rules and the open cases). Raises
    `InvalidInput` naming the field for a case the rules refuse."""
    _check(case)
    cls, cls_zh = case.part_class.value, _CLASS_ZH[case.part_class]
    if case.man_made_damage:
        return Decision(
            category=Category.F,
            warranty_ends_on=None,
            reason="man-made damage is never covered: out of warranty, the customer pays",
            reason_zh="人为损坏不在保修范围内：保外维修，由客户付费",
        )
    ends = warranty_end(case)
    months = PERIOD_MONTHS[case.part_class] + case.extended_months
    if not case.sold:
        if case.part_class is PartClass.HANDSET and case.talk_minutes <= DOA_TALK_MINUTES:
            return Decision(
                category=Category.DOA,
                warranty_ends_on=ends,
                reason=(
                    f"never-sold handset with {case.talk_minutes} minutes of talk time "
                    f"(at most {DOA_TALK_MINUTES}): dead on arrival, swap for a new unit"
                ),
                reason_zh=(
                    f"未售出整机，通话时间 {case.talk_minutes} 分钟"
                    f"（不超过 {DOA_TALK_MINUTES} 分钟）：开箱损，换新机"
                ),
            )
        why = (
            f"with {case.talk_minutes} minutes of talk time (more than {DOA_TALK_MINUTES})"
            if case.part_class is PartClass.HANDSET
            else "(DOA is for handsets only)"
        )
        why_zh = (
            f"通话时间 {case.talk_minutes} 分钟（超过 {DOA_TALK_MINUTES} 分钟）"
            if case.part_class is PartClass.HANDSET
            else "（开箱损仅适用于整机）"
        )
        return Decision(
            category=Category.WH,
            warranty_ends_on=ends,
            reason=(
                f"never-sold {cls} {why}: in warranty; sold without proof it would be "
                f"covered until {ends.isoformat()} (manufacture + {NO_PROOF_DELAY_MONTHS} "
                f"+ {months} months)"
            ),
            reason_zh=(
                f"未售出{cls_zh}{why_zh}：保修；如无凭证售出，保修至 {ends.isoformat()}"
                f"（生产日期 + {NO_PROOF_DELAY_MONTHS} + {months} 个月）"
            ),
        )
    if case.proof_of_purchase:
        assert case.purchased_on is not None
        dap_until = case.purchased_on + timedelta(days=DAP_DAYS)
        start = f"purchase {case.purchased_on.isoformat()} + {months} months"
        start_zh = f"购买日期 {case.purchased_on.isoformat()} + {months} 个月"
        if (
            case.part_class is PartClass.HANDSET
            and case.reported_on <= dap_until
            and case.cosmetic_ok
        ):
            return Decision(
                category=Category.DAP,
                warranty_ends_on=ends,
                reason=(
                    f"sold handset with proof, reported within {DAP_DAYS} days of purchase "
                    f"(until {dap_until.isoformat()}) and cosmetically intact: swap after test"
                ),
                reason_zh=(
                    f"已售整机，有有效凭证，购买后 {DAP_DAYS} 天内（至 {dap_until.isoformat()}）"
                    "报修且外观完好：检测换机"
                ),
            )
    else:
        start = (
            f"no valid proof: manufacture {case.manufactured_on.isoformat()} "
            f"+ {NO_PROOF_DELAY_MONTHS} + {months} months"
        )
        start_zh = (
            f"无有效凭证：生产日期 {case.manufactured_on.isoformat()} "
            f"+ {NO_PROOF_DELAY_MONTHS} + {months} 个月"
        )
    if case.reported_on <= ends:
        return Decision(
            category=Category.WH,
            warranty_ends_on=ends,
            reason=f"{cls} in warranty until {ends.isoformat()} ({start})",
            reason_zh=f"{cls_zh}在保修期内，保修至 {ends.isoformat()}（{start_zh}）",
        )
    return Decision(
        category=Category.F,
        warranty_ends_on=ends,
        reason=(
            f"{cls} warranty ended on {ends.isoformat()} ({start}): out of warranty, "
            "the customer pays"
        ),
        reason_zh=f"{cls_zh}保修已于 {ends.isoformat()} 到期（{start_zh}）：保外维修，由客户付费",
    )
