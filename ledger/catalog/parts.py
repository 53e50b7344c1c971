"""The parts catalog: parts, their effective-dated prices, handset models and
their colours.

A part IS a commodity of kind `part` (its SKU is the commodity's code, its
serialized flag the commodity's), and a handset model IS a serialized
commodity of kind `handset`: creating either creates the commodity in the same
unit of work, and the catalog row adds what the book does not need to know.

Prices are history. The price of a part on a day is the price row with the
latest `effective_from` on or before that day; a future date is a planned
change. A price is never replaced or edited: a new price takes a new date. A
price change never revalues past documents: every document copies the price
it used when it is made, so setting a price today changes nothing written
before it.

Writes are for admins (checked before any look-up, so a refusal says nothing
about what exists); reads are open to every logged-in role (a service point
searches parts for its requisitions). Every write records its change
(`ledger.catalog.history`) in the caller's unit of work; nothing here commits.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from ledger import masterdata
from ledger.amounts import MAX_AMOUNT, format_amount
from ledger.calendar import OpenWindow
from ledger.catalog.history import ChangeView, MasterDataChange, changes_of, record_change
from ledger.codes import COMMODITY_RE, NAME_RE
from ledger.errors import Duplicate, InvalidInput, NotFound
from ledger.models import BigId, Commodity, CommodityKind, Role
from ledger.policy import Actor, require_role
from ledger.settings import get_settings
from ledger.types import UTCDateTime, utcnow

CATEGORY = r"[^\x00-\x1f\x7f]{1,40}"  # free text, one printable line
COLOUR = r"[^\x00-\x1f\x7f]{1,40}"
CATEGORY_RE = re.compile(CATEGORY)
COLOUR_RE = re.compile(COLOUR)
MAX_COLOURS = 20
MAX_MODELS = 100  # handset models one part fits
# A planned price may lie this far ahead; further is a typo, not a plan.
PLAN_AHEAD = timedelta(days=3 * 366)
CNY = "CNY"


class WarrantyClass(enum.StrEnum):
    """Which warranty period covers a part (../shared/DOMAIN.md, WH)."""

    HANDSET = "handset"  # the handset and its internal parts: 1 year
    CHARGER = "charger"  # 1 year
    BATTERY = "battery"  # 6 months
    ACCESSORY = "accessory"  # other accessories: 3 months


# ----------------------------------------------------------------------------- tables


class HandsetModel(SQLModel, table=True):
    """A handset model: a serialized commodity of kind handset, with colours."""

    __tablename__ = "handset_model"

    commodity_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("commodity.id"), primary_key=True)
    )
    name: str = SQLField(max_length=200)
    colours: list[str] = SQLField(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True
    created_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))


class Part(SQLModel, table=True):
    """A spare part: a commodity of kind part. Its SKU is the commodity code."""

    __tablename__ = "part"
    __table_args__ = (Index("ix_part_category", "category"),)

    commodity_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("commodity.id"), primary_key=True)
    )
    name_zh: str = SQLField(max_length=200)
    name_en: str = SQLField(max_length=200)
    category: str = SQLField(max_length=40)
    warranty_class: str = SQLField(max_length=16)
    # A unit replaced in warranty goes back to the factory (boards, screens,
    # electronic parts, batteries): a write-off puts it in the point's
    # DEFECTIVE stock. Housings and the like are not returned.
    returnable: bool = False
    active: bool = True
    created_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))


class PartCompatibleModel(SQLModel, table=True):
    """A part fits a handset model (zero or more per part)."""

    __tablename__ = "part_compatible_model"
    __table_args__ = (
        # "Parts that fit this model" reads by model.
        Index("ix_part_compatible_model_handset_model_id", "handset_model_id"),
    )

    part_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("part.commodity_id"), primary_key=True)
    )
    handset_model_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("handset_model.commodity_id"), primary_key=True)
    )


class PartPrice(SQLModel, table=True):
    """A part's standard cost and out-of-warranty list price (fen) from a day on."""

    __tablename__ = "part_price"
    __table_args__ = (
        # One price per part and day; also the index price_on walks.
        UniqueConstraint("part_id", "effective_from"),
    )

    id: int | None = SQLField(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    part_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("part.commodity_id"), nullable=False)
    )
    effective_from: date = SQLField(sa_column=Column(Date, nullable=False))
    standard_cost: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    list_price: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    set_by: str = SQLField(max_length=80)
    set_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))


part_t = Part.__table__
compat_t = PartCompatibleModel.__table__
price_t = PartPrice.__table__
model_t = HandsetModel.__table__


# ----------------------------------------------------------------------------- views


class PriceView(BaseModel):
    sku: str
    effective_from: date
    standard_cost: int = Field(description="Standard cost in fen")
    list_price: int = Field(description="Out-of-warranty list price in fen")
    set_by: str
    set_at: datetime


class PartView(BaseModel):
    sku: str
    name_zh: str
    name_en: str
    category: str
    warranty_class: WarrantyClass
    returnable: bool = Field(
        description="A unit replaced in warranty goes back to the factory (boards, screens, "
        "electronic parts, batteries); a write-off puts it in the point's defective stock"
    )
    serialized: bool
    active: bool
    models: list[str] = Field(description="Codes of the handset models the part fits")
    current_price: PriceView | None = Field(
        default=None, description="The price in force today (business day), if any"
    )
    created_at: datetime
    updated_at: datetime


class ModelView(BaseModel):
    code: str
    name: str
    colours: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


# ----------------------------------------------------------------------------- checks


def _window(session: Session) -> OpenWindow:
    return session.info.get("window") or OpenWindow.from_settings(get_settings())


def _sku(value: str, field: str = "sku") -> str:
    if not isinstance(value, str) or not COMMODITY_RE.fullmatch(value):
        raise InvalidInput(
            f"{field} {value!r} is not valid: start with A-Z, use A-Z 0-9 ' . _ -, "
            "end with a letter or digit, up to 24 characters",
            field=field,
        )
    return value


def _name(value: str, field: str) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value) or not value.strip():
        raise InvalidInput(
            f"{field} is not valid: write one line of 1 to 200 printable characters",
            field=field,
        )
    return value


def _category(value: str) -> str:
    if not isinstance(value, str) or not CATEGORY_RE.fullmatch(value) or not value.strip():
        raise InvalidInput(
            "category is not valid: one line of 1 to 40 printable characters, "
            "such as screen, board or battery",
            field="category",
        )
    return value


def _warranty(value: WarrantyClass | str) -> WarrantyClass:
    try:
        return WarrantyClass(value)
    except ValueError:
        known = ", ".join(w.value for w in WarrantyClass)
        raise InvalidInput(
            f"warranty_class {value!r} is not known: use one of {known}", field="warranty_class"
        ) from None


def _colours(values: Sequence[str]) -> list[str]:
    colours = list(values)
    if len(colours) > MAX_COLOURS:
        raise InvalidInput(
            f"a model has at most {MAX_COLOURS} colours, not {len(colours)}", field="colours"
        )
    seen: set[str] = set()
    for colour in colours:
        if not isinstance(colour, str) or not COLOUR_RE.fullmatch(colour) or not colour.strip():
            raise InvalidInput(
                f"colour {colour!r} is not valid: one line of 1 to 40 printable characters",
                field="colours",
            )
        if colour.casefold() in seen:
            raise InvalidInput(f"colour {colour!r} is listed twice", field="colours")
        seen.add(colour.casefold())
    return colours


def _amount(value: int, field: str) -> int:
    if type(value) is not int:
        raise InvalidInput(f"{field} is a whole number of fen (12.50 CNY is 1250)", field=field)
    if not 0 <= value <= MAX_AMOUNT:
        raise InvalidInput(
            f"{field} {format_amount(value, 2, CNY)} is out of bounds: "
            f"from 0.00 CNY to {format_amount(MAX_AMOUNT, 2, CNY)}",
            field=field,
        )
    return value


def _effective_from(session: Session, day: date) -> date:
    if not isinstance(day, date) or isinstance(day, datetime):
        raise InvalidInput("effective_from is a date, YYYY-MM-DD", field="effective_from")
    window = _window(session)
    latest = window.today() + PLAN_AHEAD
    if day < window.first_open_day:
        raise InvalidInput(
            f"effective_from {day.isoformat()} is before the journal's first open day "
            f"{window.first_open_day.isoformat()}: a price can take effect from then on",
            field="effective_from",
        )
    if day > latest:
        raise InvalidInput(
            f"effective_from {day.isoformat()} is more than 3 years ahead: "
            f"plan a price up to {latest.isoformat()}",
            field="effective_from",
        )
    return day


# ----------------------------------------------------------------------------- look-ups


def _part_row(session: Session, sku: str) -> tuple[Part, Commodity]:
    row = session.execute(
        select(Part, Commodity)
        .join(Commodity, Commodity.id == Part.commodity_id)
        .where(Commodity.code == sku)
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"part {sku!r} does not exist: check the SKU, or add the part first", field="sku"
        )
    return row[0], row[1]


def _model_row(session: Session, code: str, field: str = "code") -> tuple[HandsetModel, Commodity]:
    row = session.execute(
        select(HandsetModel, Commodity)
        .join(Commodity, Commodity.id == HandsetModel.commodity_id)
        .where(Commodity.code == code)
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"handset model {code!r} does not exist: check the code, or add the model first",
            field=field,
        )
    return row[0], row[1]


def _model_ids(session: Session, codes: Iterable[str]) -> dict[str, int]:
    """Ids of the handset models named (each must exist)."""
    wanted = sorted(set(codes))
    if len(wanted) > MAX_MODELS:
        raise InvalidInput(f"a part fits at most {MAX_MODELS} models", field="models")
    for code in wanted:
        _sku(code, "models")
    found = dict(
        session.execute(
            select(Commodity.code, HandsetModel.commodity_id)
            .join(Commodity, Commodity.id == HandsetModel.commodity_id)
            .where(Commodity.code.in_(wanted))
        ).all()
    )
    missing = [c for c in wanted if c not in found]
    if missing:
        raise NotFound(
            f"handset model {missing[0]!r} does not exist: add the model first "
            "or leave it out of models",
            field="models",
        )
    return found


def _models_of(session: Session, part_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in part_ids}
    if not part_ids:
        return out
    rows = session.execute(
        select(PartCompatibleModel.part_id, Commodity.code)
        .join(Commodity, Commodity.id == PartCompatibleModel.handset_model_id)
        .where(PartCompatibleModel.part_id.in_(list(part_ids)))
        .order_by(Commodity.code)
    )
    for part_id, code in rows:
        out[part_id].append(code)
    return out


def _prices_on(session: Session, parts: dict[int, str], day: date) -> dict[int, PriceView]:
    """The price in force on `day` of each part (id → SKU), one query."""
    if not parts:
        return {}
    latest = (
        select(PartPrice.part_id, func.max(PartPrice.effective_from).label("day"))
        .where(PartPrice.part_id.in_(list(parts)), PartPrice.effective_from <= day)
        .group_by(PartPrice.part_id)
        .subquery()
    )
    rows = session.scalars(
        select(PartPrice).join(
            latest,
            (latest.c.part_id == PartPrice.part_id) & (latest.c.day == PartPrice.effective_from),
        )
    )
    return {p.part_id: _price_view(parts[p.part_id], p) for p in rows}


def _build_prices_on():
    # Built once, with bound parameters: documents value their lines on every
    # action, and building the statement cost more than running it.
    latest = (
        select(price_t.c.part_id, func.max(price_t.c.effective_from).label("day"))
        .where(
            price_t.c.part_id.in_(bindparam("ids", expanding=True)),
            price_t.c.effective_from <= bindparam("day"),
        )
        .group_by(price_t.c.part_id)
        .subquery()
    )
    return select(price_t.c.part_id, price_t.c.standard_cost, price_t.c.list_price).join(
        latest,
        (latest.c.part_id == price_t.c.part_id) & (latest.c.day == price_t.c.effective_from),
    )


_PRICES_ON = _build_prices_on()


def prices_on(session: Session, part_ids: Iterable[int], day: date) -> dict[int, tuple[int, int]]:
    """The (standard cost, list price) in fen in force on `day` of each part
    (commodity id → prices), in one query; a part without a price is left
    out. For documents that value their lines."""
    ids = list(set(part_ids))
    if not ids:
        return {}
    rows = session.execute(_PRICES_ON, {"ids": ids, "day": day})
    return {part_id: (cost, list_price) for part_id, cost, list_price in rows}


def standard_costs_on(session: Session, part_ids: Iterable[int], day: date) -> dict[int, int]:
    """The standard cost (fen) in force on `day` of each part; see `prices_on`."""
    return {part_id: cost for part_id, (cost, _) in prices_on(session, part_ids, day).items()}


def _price_view(sku: str, price: PartPrice) -> PriceView:
    return PriceView(
        sku=sku,
        effective_from=price.effective_from,
        standard_cost=price.standard_cost,
        list_price=price.list_price,
        set_by=price.set_by,
        set_at=price.set_at,
    )


def _view(session: Session, part: Part, commodity: Commodity, *, priced: bool = True) -> PartView:
    current = None
    if priced:
        current = _prices_on(session, {part.commodity_id: commodity.code}, _window(session).today())
    return _part_view(
        part,
        commodity.code,
        commodity.serialized,
        _models_of(session, [part.commodity_id])[part.commodity_id],
        (current or {}).get(part.commodity_id),
    )


def _part_view(
    part: Part, sku: str, serialized: bool, models: list[str], price: PriceView | None
) -> PartView:
    return PartView(
        sku=sku,
        name_zh=part.name_zh,
        name_en=part.name_en,
        category=part.category,
        warranty_class=WarrantyClass(part.warranty_class),
        returnable=part.returnable,
        serialized=serialized,
        active=part.active,
        models=models,
        current_price=price,
        created_at=part.created_at,
        updated_at=part.updated_at,
    )


def _part_record(view: PartView) -> dict[str, Any]:
    """What the change history keeps of a part."""
    return view.model_dump(mode="json", exclude={"current_price", "created_at", "updated_at"})


def _model_view(model: HandsetModel, code: str) -> ModelView:
    return ModelView(
        code=code,
        name=model.name,
        colours=list(model.colours),
        active=model.active,
        created_at=model.created_at,
        updated_at=model.updated_at,
    )


def _model_record(view: ModelView) -> dict[str, Any]:
    return view.model_dump(mode="json", exclude={"created_at", "updated_at"})


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ----------------------------------------------------------------------------- parts


def create_part(
    session: Session,
    actor: Actor,
    sku: str,
    *,
    name_zh: str,
    name_en: str,
    category: str,
    warranty_class: WarrantyClass | str,
    models: Sequence[str] = (),
    serialized: bool = False,
    returnable: bool = False,
    active: bool = True,
) -> PartView:
    """A new part and its commodity (the SKU), in the caller's unit of work."""
    require_role(actor, Role.ADMIN)
    _sku(sku)
    _name(name_zh, "name_zh")
    _name(name_en, "name_en")
    _category(category)
    warranty = _warranty(warranty_class)
    model_ids = _model_ids(session, models)
    commodity = masterdata.create_commodity(
        session, sku, name_en, CommodityKind.PART, serialized=bool(serialized)
    )
    now = utcnow()
    part = Part(
        commodity_id=commodity.id,
        name_zh=name_zh,
        name_en=name_en,
        category=category,
        warranty_class=warranty.value,
        returnable=bool(returnable),
        active=bool(active),
        created_at=now,
        updated_at=now,
    )
    session.add(part)
    session.flush()
    if model_ids:
        session.execute(
            insert(compat_t),
            [{"part_id": commodity.id, "handset_model_id": i} for i in model_ids.values()],
        )
    view = _view(session, part, commodity, priced=False)
    record_change(session, actor.username, "part", sku, None, _part_record(view))
    return view


def update_part(
    session: Session,
    actor: Actor,
    sku: str,
    *,
    name_zh: str | None = None,
    name_en: str | None = None,
    category: str | None = None,
    warranty_class: WarrantyClass | str | None = None,
    returnable: bool | None = None,
    active: bool | None = None,
    models: Sequence[str] | None = None,
) -> PartView:
    """Change what is given (None: unchanged; `models` replaces the list).
    The SKU and the serialized flag belong to the commodity and never change."""
    require_role(actor, Role.ADMIN)
    if name_zh is not None:
        _name(name_zh, "name_zh")
    if name_en is not None:
        _name(name_en, "name_en")
    if category is not None:
        _category(category)
    warranty = _warranty(warranty_class) if warranty_class is not None else None
    part, commodity = _part_row(session, sku)
    model_ids = _model_ids(session, models) if models is not None else None
    before = _view(session, part, commodity, priced=False)
    if name_zh is not None:
        part.name_zh = name_zh
    if name_en is not None:
        part.name_en = name_en
        commodity.name = name_en  # the book's name of the commodity follows
    if category is not None:
        part.category = category
    if warranty is not None:
        part.warranty_class = warranty.value
    if returnable is not None:
        part.returnable = bool(returnable)
    if active is not None:
        part.active = bool(active)
    if model_ids is not None and sorted(model_ids) != before.models:
        session.execute(compat_t.delete().where(compat_t.c.part_id == part.commodity_id))
        if model_ids:
            session.execute(
                insert(compat_t),
                [{"part_id": part.commodity_id, "handset_model_id": i} for i in model_ids.values()],
            )
    after = _view(session, part, commodity, priced=False)
    if _part_record(after) != _part_record(before):
        part.updated_at = utcnow()
        session.flush()
        record_change(
            session, actor.username, "part", sku, _part_record(before), _part_record(after)
        )
    return _view(session, part, commodity)


def get_part(session: Session, actor: Actor, sku: str) -> PartView:
    """One part with its models and the price in force today."""
    part, commodity = _part_row(session, sku)
    return _view(session, part, commodity)


def list_parts(
    session: Session,
    actor: Actor,
    *,
    q: str | None = None,
    category: str | None = None,
    warranty_class: WarrantyClass | str | None = None,
    model: str | None = None,
    active: bool | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[PartView]:
    """Parts in SKU order, a page at a time (`after`: the last SKU of the
    previous page). `q` matches a SKU prefix or part of either name, ignoring
    case; `model` keeps the parts that fit that handset model."""
    stmt = (
        select(Part, Commodity.code, Commodity.serialized)
        .join(Commodity, Commodity.id == Part.commodity_id)
        .order_by(Commodity.code)
        .limit(max(1, min(limit, 1000)))
    )
    if q:
        text = _escape_like(q.lower())
        stmt = stmt.where(
            or_(
                func.lower(Commodity.code).like(f"{text}%", escape="\\"),
                func.lower(Part.name_zh).like(f"%{text}%", escape="\\"),
                func.lower(Part.name_en).like(f"%{text}%", escape="\\"),
            )
        )
    if category is not None:
        stmt = stmt.where(Part.category == category)
    if warranty_class is not None:
        stmt = stmt.where(Part.warranty_class == _warranty(warranty_class).value)
    if model is not None:
        fits = (
            select(PartCompatibleModel.part_id)
            .join(Commodity, Commodity.id == PartCompatibleModel.handset_model_id)
            .where(Commodity.code == model)
        )
        stmt = stmt.where(Part.commodity_id.in_(fits))
    if active is not None:
        stmt = stmt.where(Part.active.is_(active))
    if after is not None:
        stmt = stmt.where(Commodity.code > after)
    rows = session.execute(stmt).all()
    skus = {part.commodity_id: code for part, code, _ in rows}
    models = _models_of(session, list(skus))
    prices = _prices_on(session, skus, _window(session).today())
    return [
        _part_view(part, code, serialized, models[part.commodity_id], prices.get(part.commodity_id))
        for part, code, serialized in rows
    ]


# ----------------------------------------------------------------------------- prices


def set_price(
    session: Session,
    actor: Actor,
    sku: str,
    *,
    effective_from: date,
    standard_cost: int,
    list_price: int,
) -> PriceView:
    """A new price of a part from `effective_from` on (a future day plans a
    change). A day that has a price already is refused: prices are history,
    set the change on a new day. Past documents keep the price they copied."""
    require_role(actor, Role.ADMIN)
    _amount(standard_cost, "standard_cost")
    _amount(list_price, "list_price")
    _effective_from(session, effective_from)
    part, commodity = _part_row(session, sku)
    existing = session.scalar(
        select(PartPrice).where(
            PartPrice.part_id == part.commodity_id, PartPrice.effective_from == effective_from
        )
    )
    if existing is not None:
        raise Duplicate(
            f"part {sku} already has a price from {effective_from.isoformat()} "
            f"(cost {format_amount(existing.standard_cost, 2, CNY)}, list "
            f"{format_amount(existing.list_price, 2, CNY)}): prices are history and are "
            "never replaced; set the change with another effective date",
            field="effective_from",
        )
    price = PartPrice(
        part_id=part.commodity_id,
        effective_from=effective_from,
        standard_cost=standard_cost,
        list_price=list_price,
        set_by=actor.username,
        set_at=utcnow(),
    )
    session.add(price)
    session.flush()
    view = _price_view(commodity.code, price)
    record_change(
        session,
        actor.username,
        "part_price",
        sku,
        None,
        view.model_dump(
            mode="json", include={"sku", "effective_from", "standard_cost", "list_price"}
        ),
    )
    return view


def price_on(session: Session, actor: Actor, sku: str, day: date) -> PriceView:
    """The price in force on `day`: the latest effective on or before it."""
    part, commodity = _part_row(session, sku)
    price = _prices_on(session, {part.commodity_id: commodity.code}, day).get(part.commodity_id)
    if price is None:
        first = session.scalar(
            select(func.min(PartPrice.effective_from)).where(PartPrice.part_id == part.commodity_id)
        )
        hint = (
            f"its first price takes effect on {first.isoformat()}"
            if first
            else "it has no price yet; an admin sets one"
        )
        raise NotFound(f"part {sku} has no price on {day.isoformat()}: {hint}", field="on")
    return price


def part_prices(session: Session, actor: Actor, sku: str) -> list[PriceView]:
    """Every price of a part, oldest effective date first (planned ones too)."""
    part, commodity = _part_row(session, sku)
    rows = session.scalars(
        select(PartPrice)
        .where(PartPrice.part_id == part.commodity_id)
        .order_by(PartPrice.effective_from)
    )
    return [_price_view(commodity.code, p) for p in rows]


def part_history(
    session: Session, actor: Actor, sku: str, *, after: int | None = None, limit: int = 100
) -> list[ChangeView]:
    """Who changed the part and its prices, when, from what to what; oldest first."""
    _part_row(session, sku)
    return changes_of(session, ("part", "part_price"), sku, after=after, limit=limit)


# ----------------------------------------------------------------------------- models


def create_model(
    session: Session,
    actor: Actor,
    code: str,
    *,
    name: str,
    colours: Sequence[str] = (),
    active: bool = True,
) -> ModelView:
    """A new handset model and its serialized commodity."""
    require_role(actor, Role.ADMIN)
    _sku(code, "code")
    _name(name, "name")
    chosen = _colours(colours)
    commodity = masterdata.create_commodity(
        session, code, name, CommodityKind.HANDSET, serialized=True
    )
    now = utcnow()
    model = HandsetModel(
        commodity_id=commodity.id,
        name=name,
        colours=chosen,
        active=bool(active),
        created_at=now,
        updated_at=now,
    )
    session.add(model)
    session.flush()
    view = _model_view(model, code)
    record_change(session, actor.username, "handset_model", code, None, _model_record(view))
    return view


def update_model(
    session: Session,
    actor: Actor,
    code: str,
    *,
    name: str | None = None,
    colours: Sequence[str] | None = None,
    active: bool | None = None,
) -> ModelView:
    """Change what is given (None: unchanged; `colours` replaces the list)."""
    require_role(actor, Role.ADMIN)
    if name is not None:
        _name(name, "name")
    chosen = _colours(colours) if colours is not None else None
    model, commodity = _model_row(session, code)
    before = _model_record(_model_view(model, code))
    if name is not None:
        model.name = name
        commodity.name = name
    if chosen is not None:
        model.colours = chosen
    if active is not None:
        model.active = bool(active)
    after = _model_record(_model_view(model, code))
    if after != before:
        model.updated_at = utcnow()
        session.flush()
        record_change(session, actor.username, "handset_model", code, before, after)
    return _model_view(model, code)


def get_model(session: Session, actor: Actor, code: str) -> ModelView:
    model, _ = _model_row(session, code)
    return _model_view(model, code)


def list_models(
    session: Session,
    actor: Actor,
    *,
    active: bool | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[ModelView]:
    """Handset models in code order, a page at a time."""
    stmt = (
        select(HandsetModel, Commodity.code)
        .join(Commodity, Commodity.id == HandsetModel.commodity_id)
        .order_by(Commodity.code)
        .limit(max(1, min(limit, 1000)))
    )
    if active is not None:
        stmt = stmt.where(HandsetModel.active.is_(active))
    if after is not None:
        stmt = stmt.where(Commodity.code > after)
    return [_model_view(m, code) for m, code in session.execute(stmt)]


# ----------------------------------------------------------------------------- bulk


@dataclass(frozen=True, slots=True)
class PartSpec:
    """One part for `create_parts`, with its first price."""

    sku: str
    name_zh: str
    name_en: str
    category: str
    warranty_class: WarrantyClass | str
    models: tuple[str, ...] = ()
    serialized: bool = False
    returnable: bool = False
    standard_cost: int | None = None
    list_price: int | None = None


def create_parts(
    session: Session, actor: Actor, specs: Sequence[PartSpec], *, effective_from: date
) -> int:
    """Many parts at once (a go-live import, the demo), each checked as
    `create_part` checks it, written set-based: parts, their models, their
    first prices and their changes in one statement per table."""
    require_role(actor, Role.ADMIN)
    _effective_from(session, effective_from)
    model_ids = _model_ids(session, {m for s in specs for m in s.models}) if specs else {}
    for s in specs:
        _sku(s.sku)
        _name(s.name_zh, "name_zh")
        _name(s.name_en, "name_en")
        _category(s.category)
        _warranty(s.warranty_class)
        if (s.standard_cost is None) != (s.list_price is None):
            raise InvalidInput(
                f"part {s.sku}: give both standard_cost and list_price, or neither",
                field="list_price",
            )
        if s.standard_cost is not None:
            _amount(s.standard_cost, "standard_cost")
            _amount(s.list_price, "list_price")
    now = utcnow()
    ids = {
        s.sku: masterdata.create_commodity(
            session, s.sku, s.name_en, CommodityKind.PART, serialized=s.serialized
        ).id
        for s in specs
    }
    if not specs:
        return 0
    session.execute(
        insert(part_t),
        [
            {
                "commodity_id": ids[s.sku],
                "name_zh": s.name_zh,
                "name_en": s.name_en,
                "category": s.category,
                "warranty_class": WarrantyClass(s.warranty_class).value,
                "returnable": bool(s.returnable),
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for s in specs
        ],
    )
    fits = [
        {"part_id": ids[s.sku], "handset_model_id": model_ids[m]}
        for s in specs
        for m in sorted(set(s.models))
    ]
    if fits:
        session.execute(insert(compat_t), fits)
    priced = [s for s in specs if s.standard_cost is not None]
    if priced:
        session.execute(
            insert(price_t),
            [
                {
                    "part_id": ids[s.sku],
                    "effective_from": effective_from,
                    "standard_cost": s.standard_cost,
                    "list_price": s.list_price,
                    "set_by": actor.username,
                    "set_at": now,
                }
                for s in priced
            ],
        )
    changes = []
    for s in specs:
        record = {
            "sku": s.sku,
            "name_zh": s.name_zh,
            "name_en": s.name_en,
            "category": s.category,
            "warranty_class": WarrantyClass(s.warranty_class).value,
            "serialized": s.serialized,
            "active": True,
            "models": sorted(set(s.models)),
        }
        changes.append(("part", s.sku, record))
        if s.standard_cost is not None:
            changes.append(
                (
                    "part_price",
                    s.sku,
                    {
                        "sku": s.sku,
                        "effective_from": effective_from.isoformat(),
                        "standard_cost": s.standard_cost,
                        "list_price": s.list_price,
                    },
                )
            )
    session.execute(
        insert(MasterDataChange.__table__),
        [
            {"entity": e, "key": k, "actor": actor.username, "at": now, "before": None, "after": a}
            for e, k, a in changes
        ],
    )
    return len(specs)


__all__ = [
    "HandsetModel",
    "ModelView",
    "Part",
    "PartCompatibleModel",
    "PartPrice",
    "PartSpec",
    "PartView",
    "PriceView",
    "WarrantyClass",
    "create_model",
    "create_part",
    "create_parts",
    "get_model",
    "get_part",
    "list_models",
    "list_parts",
    "part_history",
    "part_prices",
    "price_on",
    "set_price",
    "update_model",
    "update_part",
]
