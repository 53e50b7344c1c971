"""Suppliers: payment terms, and the minimum order and pack size of each part
they supply.

A supplier IS a holder of the book of kind `supplier`: creating one creates
the holder in the same unit of work, and the supplier row adds what the
purchase orders need to know of it (payment terms in days, a contact, an
active flag). A supplier part says how a supplier sells a catalog part: at
least `minimum_order` units, in packs of `pack_size` (the minimum is a whole
number of packs). `check_order_quantity` is what a purchase order line calls.

Writes are admin only, checked before any look-up (a refusal says nothing
about what exists); reads are for every staff role, never a service point
(suppliers' terms are not theirs to see). Every change is recorded in the
master-data history (`ledger.catalog.history`) in the caller's unit of work;
nothing here commits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Column, ForeignKey, Integer, insert, select
from sqlalchemy.orm import Session
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from ledger.amounts import MAX_AMOUNT
from ledger.catalog.history import ChangeView, MasterDataChange, changes_of, record_change
from ledger.catalog.parts import Part
from ledger.codes import COMMODITY_RE, HOLDER_RE, NAME_RE
from ledger.errors import InvalidInput, NotFound
from ledger.masterdata import create_holder
from ledger.models import Commodity, Holder, HolderKind, Role
from ledger.policy import Actor, require_role
from ledger.types import UTCDateTime, utcnow

MAX_TERMS_DAYS = 365
MAX_PACK = 1_000_000
MAX_MINIMUM = MAX_AMOUNT
CONTACT = r"[^\x00-\x1f\x7f]{1,200}"  # one printable line
CONTACT_RE = re.compile(CONTACT)
STAFF = tuple(r for r in Role if r is not Role.SERVICE_POINT)


# ----------------------------------------------------------------------------- tables


class Supplier(SQLModel, table=True):
    """A supplier: a holder of kind supplier, with its payment terms."""

    __tablename__ = "supplier"

    holder_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("holder.id"), primary_key=True, autoincrement=False)
    )
    payment_terms_days: int = SQLField(sa_column=Column(Integer, nullable=False))
    contact: str | None = SQLField(default=None, max_length=200)
    active: bool = True
    created_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))


class SupplierPart(SQLModel, table=True):
    """How a supplier sells a part: a minimum order, in packs."""

    __tablename__ = "supplier_part"

    supplier_id: int = SQLField(
        sa_column=Column(
            Integer, ForeignKey("supplier.holder_id"), primary_key=True, autoincrement=False
        )
    )
    part_id: int = SQLField(
        sa_column=Column(
            Integer, ForeignKey("part.commodity_id"), primary_key=True, autoincrement=False
        )
    )
    minimum_order: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    pack_size: int = SQLField(sa_column=Column(Integer, nullable=False))
    created_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))


supplier_t = Supplier.__table__
supplier_part_t = SupplierPart.__table__


# ----------------------------------------------------------------------------- views


class SupplierPartView(BaseModel):
    supplier: str
    sku: str
    minimum_order: int = Field(description="Units: the least one order line may ask")
    pack_size: int = Field(description="Units per pack: an order is whole packs")
    updated_at: datetime


class SupplierView(BaseModel):
    code: str
    name: str
    payment_terms_days: int
    contact: str | None
    active: bool
    created_at: datetime
    updated_at: datetime
    parts: list[SupplierPartView] | None = Field(
        default=None, description="Its parts (on one supplier; not in lists)"
    )


# ----------------------------------------------------------------------------- checks


def _code(value: Any, field: str = "code") -> str:
    if not isinstance(value, str) or not HOLDER_RE.fullmatch(value):
        raise InvalidInput(
            f"{field} {value!r} is not valid: use A-Z, 0-9 and '-', up to 40 characters",
            field=field,
        )
    return value


def _sku(value: Any) -> str:
    if not isinstance(value, str) or not COMMODITY_RE.fullmatch(value):
        raise InvalidInput(
            f"sku {value!r} is not valid: start with A-Z, use A-Z 0-9 ' . _ -, "
            "end with a letter or digit, up to 24 characters",
            field="sku",
        )
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value) or not value.strip():
        raise InvalidInput(
            "name is not valid: write one line of 1 to 200 printable characters", field="name"
        )
    return value


def _contact(value: Any) -> str:
    if not isinstance(value, str) or not CONTACT_RE.fullmatch(value) or not value.strip():
        raise InvalidInput(
            "contact is not valid: write one line of 1 to 200 printable characters",
            field="contact",
        )
    return value


def _strict_int(value: Any, field: str, low: int, high: int, unit: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(
            f"{field} is a whole number of {unit} from {low:,} to {high:,}, not {value!r}",
            field=field,
        )
    return value


def _active(value: Any) -> bool:
    if type(value) is not bool:
        raise InvalidInput("active is true or false", field="active")
    return value


def _rule(minimum_order: Any, pack_size: Any) -> tuple[int, int]:
    _strict_int(minimum_order, "minimum_order", 1, MAX_MINIMUM, "units")
    _strict_int(pack_size, "pack_size", 1, MAX_PACK, "units")
    if minimum_order % pack_size:
        raise InvalidInput(
            f"minimum_order {minimum_order:,} is not a multiple of pack_size {pack_size:,}: "
            "the minimum is a whole number of packs",
            field="minimum_order",
        )
    return minimum_order, pack_size


def _read(actor: Actor) -> None:
    """Every staff role reads suppliers; a service point does not."""
    require_role(actor, *STAFF)


# ----------------------------------------------------------------------------- look-ups


def _supplier_row(session: Session, code: str) -> tuple[Supplier, Holder]:
    row = session.execute(
        select(Supplier, Holder)
        .join(Holder, Holder.id == Supplier.holder_id)
        .where(Holder.code == code)
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"supplier {code!r} does not exist: list suppliers to see which exist",
            field="supplier",
        )
    return row[0], row[1]


def _part_id(session: Session, sku: str) -> int:
    part_id = session.scalar(
        select(Part.commodity_id)
        .join(Commodity, Commodity.id == Part.commodity_id)
        .where(Commodity.code == sku)
    )
    if part_id is None:
        raise NotFound(
            f"part {sku!r} does not exist: check the SKU, or add the part first", field="sku"
        )
    return part_id


def _rule_row(session: Session, code: str, sku: str) -> tuple[SupplierPart | None, Holder, int]:
    supplier, holder = _supplier_row(session, code)
    part_id = _part_id(session, sku)
    row = session.get(SupplierPart, (supplier.holder_id, part_id))
    return row, holder, part_id


def _parts_of(session: Session, supplier_id: int, code: str) -> list[SupplierPartView]:
    rows = session.execute(
        select(SupplierPart, Commodity.code)
        .join(Commodity, Commodity.id == SupplierPart.part_id)
        .where(SupplierPart.supplier_id == supplier_id)
        .order_by(Commodity.code)
    )
    return [_part_view(code, sku, row) for row, sku in rows]


def _part_view(code: str, sku: str, row: SupplierPart) -> SupplierPartView:
    return SupplierPartView(
        supplier=code,
        sku=sku,
        minimum_order=row.minimum_order,
        pack_size=row.pack_size,
        updated_at=row.updated_at,
    )


def _view(supplier: Supplier, holder: Holder, parts=None) -> SupplierView:
    return SupplierView(
        code=holder.code,
        name=holder.name,
        payment_terms_days=supplier.payment_terms_days,
        contact=supplier.contact,
        active=supplier.active,
        created_at=supplier.created_at,
        updated_at=supplier.updated_at,
        parts=parts,
    )


def _record(view: SupplierView) -> dict[str, Any]:
    return view.model_dump(
        mode="json", include={"code", "name", "payment_terms_days", "contact", "active"}
    )


def _rule_record(code: str, sku: str, minimum_order: int, pack_size: int) -> dict[str, Any]:
    return {"supplier": code, "sku": sku, "minimum_order": minimum_order, "pack_size": pack_size}


# ----------------------------------------------------------------------------- services


def create_supplier(
    session: Session,
    actor: Actor,
    code: str,
    *,
    name: str,
    payment_terms_days: int,
    contact: str | None = None,
    active: bool = True,
) -> SupplierView:
    """A new supplier and its holder (kind supplier)."""
    require_role(actor, Role.ADMIN)
    _code(code)
    _name(name)
    _strict_int(payment_terms_days, "payment_terms_days", 0, MAX_TERMS_DAYS, "days")
    if contact is not None:
        _contact(contact)
    _active(active)
    holder = create_holder(session, code, name, HolderKind.SUPPLIER)
    return _attach(session, actor, holder, payment_terms_days, contact, active)


def update_supplier(
    session: Session,
    actor: Actor,
    code: str,
    *,
    name: str | None = None,
    payment_terms_days: int | None = None,
    contact: str | None = None,
    active: bool | None = None,
) -> SupplierView:
    """Change what is given (None: unchanged). The code never changes."""
    require_role(actor, Role.ADMIN)
    if name is not None:
        _name(name)
    if payment_terms_days is not None:
        _strict_int(payment_terms_days, "payment_terms_days", 0, MAX_TERMS_DAYS, "days")
    if contact is not None:
        _contact(contact)
    if active is not None:
        _active(active)
    supplier, holder = _supplier_row(session, code)
    before = _record(_view(supplier, holder))
    if name is not None:
        holder.name = name  # the holder's name is the supplier's
    if payment_terms_days is not None:
        supplier.payment_terms_days = payment_terms_days
    if contact is not None:
        supplier.contact = contact
    if active is not None:
        supplier.active = active
    after = _record(_view(supplier, holder))
    if after != before:
        supplier.updated_at = utcnow()
        session.flush()
        record_change(session, actor.username, "supplier", code, before, after)
    return _view(supplier, holder, _parts_of(session, supplier.holder_id, code))


def get_supplier(session: Session, actor: Actor, code: str) -> SupplierView:
    """One supplier with its parts (SKU order)."""
    _read(actor)
    supplier, holder = _supplier_row(session, code)
    return _view(supplier, holder, _parts_of(session, supplier.holder_id, code))


def list_suppliers(
    session: Session,
    actor: Actor,
    *,
    active: bool | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[SupplierView]:
    """Suppliers in code order, a page at a time (`after`: the last code)."""
    _read(actor)
    stmt = (
        select(Supplier, Holder)
        .join(Holder, Holder.id == Supplier.holder_id)
        .order_by(Holder.code)
        .limit(max(1, min(limit, 1000)))
    )
    if active is not None:
        stmt = stmt.where(Supplier.active.is_(active))
    if after is not None:
        stmt = stmt.where(Holder.code > after)
    return [_view(s, h) for s, h in session.execute(stmt)]


def set_supplier_part(
    session: Session,
    actor: Actor,
    code: str,
    sku: str,
    *,
    minimum_order: int,
    pack_size: int,
) -> SupplierPartView:
    """Create or change how a supplier sells a catalog part."""
    require_role(actor, Role.ADMIN)
    _code(code, "supplier")
    _sku(sku)
    _rule(minimum_order, pack_size)
    row, holder, part_id = _rule_row(session, code, sku)
    key = f"{code}:{sku}"
    after = _rule_record(code, sku, minimum_order, pack_size)
    now = utcnow()
    if row is None:
        row = SupplierPart(
            supplier_id=holder.id,
            part_id=part_id,
            minimum_order=minimum_order,
            pack_size=pack_size,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        record_change(session, actor.username, "supplier_part", key, None, after)
        return _part_view(code, sku, row)
    before = _rule_record(code, sku, row.minimum_order, row.pack_size)
    if before != after:
        row.minimum_order, row.pack_size, row.updated_at = minimum_order, pack_size, now
        session.flush()
        record_change(session, actor.username, "supplier_part", key, before, after)
    return _part_view(code, sku, row)


def remove_supplier_part(session: Session, actor: Actor, code: str, sku: str) -> None:
    """The supplier no longer sells the part."""
    require_role(actor, Role.ADMIN)
    _code(code, "supplier")
    _sku(sku)
    row, _, _ = _rule_row(session, code, sku)
    if row is None:
        raise NotFound(f"supplier {code} has no rule for part {sku}", field="sku")
    before = _rule_record(code, sku, row.minimum_order, row.pack_size)
    session.delete(row)
    session.flush()
    record_change(session, actor.username, "supplier_part", f"{code}:{sku}", before, None)


def supplier_history(
    session: Session, actor: Actor, code: str, *, after: int | None = None, limit: int = 100
) -> list[ChangeView]:
    """Who changed the supplier, when, from what to what; oldest first. The
    changes of its parts are kept under "SUP:SKU" (see `supplier_part_history`)."""
    _read(actor)
    _supplier_row(session, code)
    return changes_of(session, "supplier", code, after=after, limit=limit)


def supplier_part_history(
    session: Session, actor: Actor, code: str, sku: str, *, after: int | None = None,
    limit: int = 100,
) -> list[ChangeView]:  # fmt: skip
    """The changes of one supplier part, oldest first."""
    _read(actor)
    _supplier_row(session, code)
    return changes_of(session, "supplier_part", f"{code}:{sku}", after=after, limit=limit)


# ----------------------------------------------------------------------------- orders


def order_rule(session: Session, supplier_code: str, sku: str) -> tuple[int, int]:
    """(minimum_order, pack_size) of a part from a supplier; 404 if it has none."""
    row, _, _ = _rule_row(session, supplier_code, sku)
    if row is None:
        raise NotFound(
            f"supplier {supplier_code} has no rule for part {sku}: an admin sets its "
            "minimum order and pack size first",
            field="sku",
        )
    return row.minimum_order, row.pack_size


def check_order_quantity(session: Session, supplier_code: str, sku: str, quantity: int) -> None:
    """Refuse an order quantity below the minimum or not in whole packs."""
    minimum, pack = order_rule(session, supplier_code, sku)
    if type(quantity) is not int or quantity < minimum or quantity % pack:
        raise InvalidInput(
            f"quantity {quantity!r} of {sku} from {supplier_code} is not orderable: "
            f"order at least the minimum {minimum:,} units, in packs of {pack:,}",
            field="quantity",
            minimum_order=minimum,
            pack_size=pack,
        )


# ----------------------------------------------------------------------------- bulk


def set_supplier_parts(
    session: Session, actor: Actor, code: str, rules: Sequence[tuple[str, int, int]]
) -> int:
    """Many new rules (sku, minimum_order, pack_size) for one supplier at once
    (the demo, a go-live import), each checked as `set_supplier_part` checks
    it, written set-based: the rules and their changes in one statement each."""
    require_role(actor, Role.ADMIN)
    _code(code, "supplier")
    for sku, minimum, pack in rules:
        _sku(sku)
        _rule(minimum, pack)
    supplier, _ = _supplier_row(session, code)
    if not rules:
        return 0
    wanted = sorted({sku for sku, _, _ in rules})
    ids = dict(
        session.execute(
            select(Commodity.code, Part.commodity_id)
            .join(Commodity, Commodity.id == Part.commodity_id)
            .where(Commodity.code.in_(wanted))
        ).all()
    )
    missing = [s for s in wanted if s not in ids]
    if missing:
        raise NotFound(f"part {missing[0]!r} does not exist: add the part first", field="sku")
    now = utcnow()
    session.execute(
        insert(supplier_part_t),
        [
            {
                "supplier_id": supplier.holder_id,
                "part_id": ids[sku],
                "minimum_order": minimum,
                "pack_size": pack,
                "created_at": now,
                "updated_at": now,
            }
            for sku, minimum, pack in rules
        ],
    )
    session.execute(
        insert(MasterDataChange.__table__),
        [
            {
                "entity": "supplier_part",
                "key": f"{code}:{sku}",
                "actor": actor.username,
                "at": now,
                "before": None,
                "after": _rule_record(code, sku, minimum, pack),
            }
            for sku, minimum, pack in rules
        ],
    )
    return len(rules)


def add_supplier_row(
    session: Session, actor: Actor, code: str, *, payment_terms_days: int,
    contact: str | None = None,
) -> SupplierView:  # fmt: skip
    """A supplier row for a holder of kind supplier that exists already (the
    demo's SUPPLIER, which the ledger knew before the catalog did)."""
    require_role(actor, Role.ADMIN)
    _code(code)
    _strict_int(payment_terms_days, "payment_terms_days", 0, MAX_TERMS_DAYS, "days")
    if contact is not None:
        _contact(contact)
    holder = session.scalar(select(Holder).where(Holder.code == code))
    if holder is None or holder.kind != HolderKind.SUPPLIER:
        raise NotFound(f"no holder {code!r} of kind supplier", field="code")
    return _attach(session, actor, holder, payment_terms_days, contact, True)


def _attach(
    session: Session,
    actor: Actor,
    holder: Holder,
    payment_terms_days: int,
    contact: str | None,
    active: bool,
) -> SupplierView:
    """The supplier row of a holder of kind supplier, recorded as created."""
    now = utcnow()
    supplier = Supplier(
        holder_id=holder.id,
        payment_terms_days=payment_terms_days,
        contact=contact,
        active=active,
        created_at=now,
        updated_at=now,
    )
    session.add(supplier)
    session.flush()
    view = _view(supplier, holder, [])
    record_change(session, actor.username, "supplier", holder.code, None, _record(view))
    return view


__all__ = [
    "Supplier",
    "SupplierPart",
    "SupplierPartView",
    "SupplierView",
    "add_supplier_row",
    "check_order_quantity",
    "create_supplier",
    "get_supplier",
    "list_suppliers",
    "order_rule",
    "remove_supplier_part",
    "set_supplier_part",
    "set_supplier_parts",
    "supplier_history",
    "supplier_part_history",
    "update_supplier",
]
