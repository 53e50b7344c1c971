"""Returns to the factory (返厂): a warehouse's defective parts and handsets,
packed by model and colour, shipped to the factory and closed by the
factory's count.

A factory return is a shipment of kind "factory" from HQ or a regional
warehouse to the FACTORY holder. Shipping posts one entry: the warehouse's
DEFECTIVE → TO-FACTORY:TRANSIT (the factory is an outside party, so the units
wait in transit at a system holder of kind in_transit). Each line also knows
the handset model and colour it belongs to (the packing list groups by them)
and, for handsets, the serials shipped.

The factory's count (entered by a clerk) closes the return: what was counted
moves TO-FACTORY → FACTORY:STOCK; every difference is a discrepancy on the
shipment:
- short (fewer counted than shipped, a shipped serial not counted): the
  units move to DISCREPANCIES:TRANSIT, like a short receipt, and are resolved
  as found (to the factory) or lost (written off);
- over (more counted than shipped, a serial counted that was never shipped):
  recorded, nothing posted, since the books never held those units;
  resolving it records what was found out and posts nothing.
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    and_,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased
from sqlmodel import Field, SQLModel

from ledger import journal
from ledger.catalog.parts import HandsetModel, Part, PartCompatibleModel
from ledger.codes import SERIAL, account_code
from ledger.errors import InvalidInput, NotFound, SerialNotAtSource
from ledger.journal import EntryIn, PostingIn
from ledger.models import Account, Commodity, Holder, HolderKind, SerialUnit
from ledger.parts import documents as docs
from ledger.parts import shipments
from ledger.parts.documents import MAX_LINE_QUANTITY, MAX_LINES, ActionView
from ledger.parts.shipments import (
    Direction,
    DiscrepancyState,
    DiscrepancyView,
    Shipment,
    ShipmentKind,
    ShipmentState,
    ShipmentSummary,
)
from ledger.policy import Actor
from ledger.types import utcnow

STAFF = shipments.STAFF
COLOUR_MAX = 40
MAX_SERIALS = 10_000
_SERIAL = re.compile(SERIAL)
_COLOUR = re.compile(r"[^\x00-\x1f\x7f]{1,40}")
# What may not stand in a file name on the usual systems.
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


class SerialState(enum.StrEnum):
    SHIPPED = "shipped"  # on its way, not counted yet
    COUNTED = "counted"  # the factory counted it
    MISSING = "missing"  # shipped, not counted: short
    OVER = "over"  # counted, never shipped


class FactoryReturnLine(SQLModel, table=True):
    """What a factory return's line is beyond its shipment line: the model
    and colour it is packed under, and the factory's count."""

    __tablename__ = "factory_return_line"

    shipment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("shipment.id"), primary_key=True, autoincrement=False)
    )
    line_no: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    # The handset model the unit belongs to (a handset: itself).
    model_id: int = Field(sa_column=Column(Integer, ForeignKey("commodity.id"), nullable=False))
    # A part's colour as packed (None: not given); a handset's is its serial's.
    colour: str | None = Field(default=None, max_length=COLOUR_MAX)
    # The factory's count: every unit it counted on the line, and those
    # beyond what was shipped.
    counted: int | None = Field(default=None, sa_column=Column(BigInteger))
    over: int | None = Field(default=None, sa_column=Column(BigInteger))


class FactoryReturnSerial(SQLModel, table=True):
    """A serial shipped to the factory, or counted by it without being shipped."""

    __tablename__ = "factory_return_serial"
    __table_args__ = (
        CheckConstraint(
            "state IN (" + ", ".join(f"'{s.value}'" for s in SerialState) + ")", name="state"
        ),
    )

    shipment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("shipment.id"), primary_key=True, autoincrement=False)
    )
    serial: str = Field(sa_column=Column(String(40), primary_key=True))
    line_no: int = Field(sa_column=Column(SmallInteger, nullable=False))
    colour: str | None = Field(default=None, max_length=COLOUR_MAX)
    state: str = Field(max_length=8)


line_t = FactoryReturnLine.__table__
serial_t = FactoryReturnSerial.__table__
ship_line_t = shipments.line_t


# -- input and views ---------------------------------------------------------------


class ReturnLineIn(BaseModel):
    """A line to ship: a defective part by quantity, or handsets by serial."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str
    quantity: int | None = None
    serials: tuple[str, ...] | None = None
    model: str | None = None
    colour: str | None = None


class CountLineIn(BaseModel):
    """The factory's count of one line: units, or (handsets) the serials."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line_no: int
    quantity: int | None = None
    serials: tuple[str, ...] | None = None


class SerialView(BaseModel):
    serial: str
    colour: str | None
    state: SerialState


class FactoryLineView(BaseModel):
    line_no: int
    sku: str
    kind: str  # part or handset
    name_zh: str
    name_en: str
    model: str
    colour: str | None
    quantity: int
    counted: int | None
    received: int | None  # into the factory's stock
    short: int | None
    over: int | None
    serials: list[SerialView]


class FactoryReturnView(BaseModel):
    number: str
    state: ShipmentState
    sender: str
    centre: str  # the sender's name
    receiver: str
    courier: str | None
    tracking_number: str | None
    shipped_by: str
    shipped_at: datetime
    shipped_on: date
    received_by: str | None
    received_at: datetime | None
    quantity: int
    lines: list[FactoryLineView]
    differences: list[DiscrepancyView]
    packing_list: str  # the packing list's file name
    history: list[ActionView]


class PackedItem(BaseModel):
    line_no: int
    sku: str
    name_zh: str
    name_en: str
    quantity: int
    serials: list[str]


class PackedGroup(BaseModel):
    model: str
    model_name: str
    colour: str | None
    items: list[PackedItem]
    subtotal: int


class PackingList(BaseModel):
    """The packing list as the handbook has it: a header, then the units by
    model and colour with a subtotal per group, and the total."""

    number: str
    centre: str
    centre_code: str
    shipped_on: date
    courier: str | None
    tracking_number: str | None
    filename: str
    ascii_filename: str
    groups: list[PackedGroup]
    total: int


class HeldSerial(BaseModel):
    serial: str
    colour: str | None


class DefectiveLine(BaseModel):
    sku: str
    kind: str
    name_zh: str
    name_en: str
    models: list[str]
    quantity: int
    serials: list[HeldSerial] | None


class DefectiveStock(BaseModel):
    location: str
    name: str
    lines: list[DefectiveLine]
    quantity: int


# -- shared ------------------------------------------------------------------------


def _holder(session: Session, code: str, field: str) -> Holder:
    holder = session.scalar(select(Holder).where(Holder.code == code))
    if holder is None:
        raise InvalidInput(f"{field} {code!r} is not a location", field=field)
    return holder


def _serial_text(value: object, field: str) -> str:
    if not isinstance(value, str) or not _SERIAL.fullmatch(value):
        raise InvalidInput(
            f"{field}: {value!r} is not a serial (1 to 40 of A-Z a-z 0-9 . _ / -)", field=field
        )
    return value


def _required(value: str | None, field: str) -> str:
    text = shipments.courier_text(value, field)
    if text is None:
        words = "courier" if field == "courier" else "courier number"
        raise InvalidInput(f"a return to the factory needs its {words}", field=field)
    return text


@dataclass(frozen=True, slots=True)
class _Checked:
    commodity_id: int
    sku: str
    quantity: int
    model_id: int
    colour: str | None
    serials: tuple[str, ...]
    colours: dict[str, str | None]


def _check_lines(session: Session, sender: Holder, lines: Sequence[ReturnLineIn]) -> list[_Checked]:
    if not lines:
        raise InvalidInput("a return to the factory needs at least one line", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"a return has at most {MAX_LINES} lines", field="lines")
    codes = {line.sku for line in lines} | {line.model for line in lines if line.model}
    known = {
        code: (cid, kind, serialized)
        for code, cid, kind, serialized in session.execute(
            select(Commodity.code, Commodity.id, Commodity.kind, Commodity.serialized).where(
                Commodity.code.in_(codes)
            )
        )
    }
    part_ids = [v[0] for v in known.values() if v[1] == "part"]
    fits: dict[int, list[int]] = defaultdict(list)
    for part_id, model_id in session.execute(
        select(PartCompatibleModel.part_id, PartCompatibleModel.handset_model_id).where(
            PartCompatibleModel.part_id.in_(part_ids)
        )
    ):
        fits[part_id].append(model_id)
    fit_ids = {m for ids in fits.values() for m in ids}
    code_of = dict(
        session.execute(select(Commodity.id, Commodity.code).where(Commodity.id.in_(fit_ids))).all()
    )
    models = dict(
        session.execute(
            select(HandsetModel.commodity_id, HandsetModel.colours).where(
                HandsetModel.commodity_id.in_(fit_ids | {v[0] for v in known.values()})
            )
        ).all()
    )
    all_serials = [s for line in lines for s in (line.serials or ()) if isinstance(s, str)]
    if len(all_serials) > MAX_SERIALS:
        # Looked up in one statement: within every driver's limit on parameters.
        raise InvalidInput(
            f"a return lists at most {MAX_SERIALS:,} serials ({len(all_serials):,} here); send "
            "the rest in another return",
            field="lines",
        )
    held = {
        serial: (account, colour)
        for serial, account, colour in session.execute(
            select(SerialUnit.serial, Account.code, SerialUnit.colour)
            .join(Account, Account.id == SerialUnit.account_id)
            .where(SerialUnit.serial.in_(set(all_serials)))
        )
    }
    out: list[_Checked] = []
    seen_serials: dict[str, int] = {}
    for i, line in enumerate(lines, start=1):
        field = f"lines[{i - 1}]"
        found = known.get(line.sku)
        if found is None or found[1] not in ("part", "handset"):
            raise InvalidInput(
                f"line {i}: {line.sku!r} is not a part or handset model in the catalog",
                field=f"{field}.sku",
                line=i,
                sku=line.sku,
            )
        commodity_id, kind, serialized = found
        serials: tuple[str, ...] = ()
        if serialized:
            serials = _check_serials(line, i, field, seen_serials)
            account = account_code(sender.code, "DEFECTIVE", line.sku)
            for j, serial in enumerate(serials):
                if held.get(serial, (None,))[0] != account:
                    raise SerialNotAtSource(
                        f"line {i}: serial {serial} is not in {account}; ship only the "
                        "defective units the warehouse holds",
                        field=f"{field}.serials[{j}]",
                        serial=serial,
                        account=account,
                    )
            if line.colour is not None:
                raise InvalidInput(
                    f"line {i}: a serialized unit's colour is its serial's recorded colour; "
                    "leave colour out",
                    field=f"{field}.colour",
                    line=i,
                )
            colours = {s: held[s][1] for s in serials}
            if kind == "handset":
                if line.model not in (None, line.sku):
                    raise InvalidInput(
                        f"line {i}: a handset belongs to its own model {line.sku}, "
                        f"not {line.model}",
                        field=f"{field}.model",
                        line=i,
                    )
                out.append(
                    _Checked(
                        commodity_id, line.sku, len(serials), commodity_id, None, serials, colours
                    )
                )
                continue
        elif line.serials:
            raise InvalidInput(
                f"line {i}: {line.sku} is not serialized; give a quantity, not serials",
                field=f"{field}.serials",
                line=i,
            )
        elif type(line.quantity) is not int or not 1 <= line.quantity <= MAX_LINE_QUANTITY:
            raise InvalidInput(
                f"line {i}: quantity {line.quantity} is not valid; ship 1 to "
                f"{MAX_LINE_QUANTITY:,} units",
                field=f"{field}.quantity",
                line=i,
            )
        compatible = fits.get(commodity_id, [])
        if line.model is None:
            if len(compatible) != 1:
                raise InvalidInput(
                    f"line {i}: {line.sku} fits "
                    + (
                        "no model in the catalog"
                        if not compatible
                        else "models " + ", ".join(sorted(code_of[m] for m in compatible))
                    )
                    + "; name the handset model it is returned under",
                    field=f"{field}.model",
                    line=i,
                )
            model_id = compatible[0]
        else:
            model = known.get(line.model)
            if model is None or model[0] not in models:
                raise InvalidInput(
                    f"line {i}: {line.model!r} is not a handset model in the catalog",
                    field=f"{field}.model",
                    line=i,
                )
            model_id = model[0]
            if compatible and model_id not in compatible:
                raise InvalidInput(
                    f"line {i}: {line.sku} does not fit {line.model}; it fits "
                    + ", ".join(sorted(code_of[m] for m in compatible)),
                    field=f"{field}.model",
                    line=i,
                )
        if serialized:
            out.append(
                _Checked(commodity_id, line.sku, len(serials), model_id, None, serials, colours)
            )
            continue
        colour = _colour(line.colour, models.get(model_id) or [], i, field)
        out.append(_Checked(commodity_id, line.sku, line.quantity, model_id, colour, (), {}))
    return out


def _check_serials(line, i: int, field: str, seen: dict[str, int]) -> tuple[str, ...]:
    serials = line.serials
    if not serials:
        raise InvalidInput(
            f"line {i}: {line.sku} is serialized; list the serials returned",
            field=f"{field}.serials",
            line=i,
        )
    if len(serials) + len(seen) > MAX_SERIALS:
        raise InvalidInput(
            f"line {i}: a return lists at most {MAX_SERIALS:,} serials; send the rest in "
            "another return",
            field=f"{field}.serials",
            line=i,
        )
    for j, serial in enumerate(serials):
        _serial_text(serial, f"{field}.serials[{j}]")
        if serial in seen:
            raise InvalidInput(
                f"line {i}: serial {serial} is listed twice (also on line {seen[serial]})",
                field=f"{field}.serials[{j}]",
                line=i,
                serial=serial,
            )
        seen[serial] = i
    if line.quantity is not None and line.quantity != len(serials):
        raise InvalidInput(
            f"line {i}: quantity {line.quantity} but {len(serials)} serials; one serial a unit",
            field=f"{field}.quantity",
            line=i,
        )
    return tuple(serials)


def _colour(value: str | None, colours: list[str], i: int, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _COLOUR.fullmatch(value) or not value.strip():
        raise InvalidInput(
            f"line {i}: colour is one line of 1 to {COLOUR_MAX} printable characters",
            field=f"{field}.colour",
            line=i,
        )
    if not colours:
        return value.strip()
    for known in colours:
        if known.casefold() == value.strip().casefold():
            return known
    raise InvalidInput(
        f"line {i}: colour {value!r} is not one of the model's: " + ", ".join(colours),
        field=f"{field}.colour",
        line=i,
    )


def _lock(session: Session, actor: Actor, number: str) -> Shipment:
    shipment = shipments.lock(session, actor, number)
    if shipment.kind != ShipmentKind.FACTORY:
        raise NotFound(f"factory return {number} does not exist", shipment=number)
    return shipment


# -- actions -----------------------------------------------------------------------


def ship(
    session: Session,
    actor: Actor,
    *,
    sender: str,
    lines: Sequence[ReturnLineIn],
    courier: str | None,
    tracking_number: str | None,
    key: str | None = None,
) -> FactoryReturnView:
    """Ship a warehouse's defective parts and handsets to the factory."""
    docs.require_roles(actor, "return units to the factory", *STAFF)
    request = {
        "sender": sender,
        "lines": [line.model_dump(mode="json") for line in lines],
        "courier": courier,
        "tracking_number": tracking_number,
    }
    run = docs.begin(session, actor, "shipment", "factory_ship", key, request)
    if run.replay is not None:
        return FactoryReturnView.model_validate(run.replay)
    courier = _required(courier, "courier")
    tracking_number = _required(tracking_number, "tracking_number")
    source = _holder(session, sender, "sender")
    if not shipments.is_warehouse(source):
        raise InvalidInput(
            f"sender {source.code} is not a warehouse; HQ and the regional warehouses return "
            "to the factory (a point sends its defective units to its warehouse first)",
            field="sender",
        )
    checked = _check_lines(session, source, lines)
    factory = docs.system_holder(session, docs.FACTORY)
    docs.system_holder(session, docs.TO_FACTORY)
    shipment, result = shipments.ship(
        session,
        actor,
        kind=ShipmentKind.FACTORY,
        sender=source,
        receiver=factory,
        lines=[
            shipments.Line(c.commodity_id, c.sku, c.quantity, serials=c.serials) for c in checked
        ],
        refs={"courier_number": tracking_number},
        courier=courier,
        tracking_number=tracking_number,
        transit=docs.TO_FACTORY,
    )
    session.execute(
        insert(line_t),
        [
            {"shipment_id": shipment.id, "line_no": n, "model_id": c.model_id, "colour": c.colour}
            for n, c in enumerate(checked, start=1)
        ],
    )
    serial_rows = [
        {
            "shipment_id": shipment.id,
            "serial": serial,
            "line_no": n,
            "colour": c.colours.get(serial),
            "state": SerialState.SHIPPED.value,
        }
        for n, c in enumerate(checked, start=1)
        for serial in c.serials
    ]
    if serial_rows:
        session.execute(insert(serial_t), serial_rows)
    run.record(
        shipment.id,
        None,
        ShipmentState.IN_TRANSIT.value,
        detail={
            "courier": courier,
            "tracking_number": tracking_number,
            "quantity": sum(c.quantity for c in checked),
        },
        entry_id=result.entry_id,
    )
    return run.finish(view(session, shipment))


@dataclass(slots=True)
class _Count:
    line_no: int
    commodity_id: int
    sku: str
    shipped: int
    counted: int = 0
    received: int = 0
    short: int = 0
    over: int = 0
    counted_serials: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()


def confirm(
    session: Session,
    actor: Actor,
    number: str,
    *,
    lines: Sequence[CountLineIn] | None = None,
    key: str | None = None,
) -> FactoryReturnView:
    """Enter the factory's count and close the return: a line left out was
    counted as shipped; every difference opens a discrepancy."""
    docs.require_roles(actor, "confirm the factory's count", *STAFF)
    request = {
        "number": number,
        "lines": None if lines is None else [line.model_dump(mode="json") for line in lines],
    }
    run = docs.begin(session, actor, "shipment", "factory_confirm", key, request)
    if run.replay is not None:
        return FactoryReturnView.model_validate(run.replay)
    shipment = _lock(session, actor, number)
    if shipment.state != ShipmentState.IN_TRANSIT:
        docs.refuse_state(
            "factory return", number, shipment.state, "confirming the factory's count",
            ["in_transit"],
        )  # fmt: skip
    counts = _counts(session, shipment, number, lines or [])
    factory = session.get(Holder, shipment.to_holder_id)
    postings: list[PostingIn] = []
    differences = []
    for c in counts:
        transit = account_code(docs.TO_FACTORY, "TRANSIT", c.sku)
        kept = sorted(set(c.counted_serials) - set(c.extra))
        if c.received:
            postings += [
                PostingIn(account=transit, amount=-c.received, serials=kept),
                PostingIn(
                    account=account_code(factory.code, "STOCK", c.sku),
                    amount=c.received,
                    serials=kept,
                ),
            ]
        if c.short:
            postings += [
                PostingIn(account=transit, amount=-c.short, serials=list(c.missing)),
                PostingIn(
                    account=account_code(docs.DISCREPANCIES, "TRANSIT", c.sku),
                    amount=c.short,
                    serials=list(c.missing),
                ),
            ]
        for direction, quantity, serials in (
            (Direction.SHORT, c.short, c.missing),
            (Direction.OVER, c.over, c.extra),
        ):
            if quantity:
                differences.append(
                    {
                        "shipment_id": shipment.id,
                        "line_no": c.line_no,
                        "commodity_id": c.commodity_id,
                        "holder_id": factory.id,
                        "quantity": quantity,
                        "state": DiscrepancyState.OPEN.value,
                        "direction": direction.value,
                        "serials": list(serials) or None,
                        "chargeable": False,
                    }
                )
    if any(c.short for c in counts):
        docs.system_holder(session, docs.DISCREPANCIES)
    result = journal.post_entries(
        session,
        [
            EntryIn(
                kind="factory_confirmation",
                refs={"shipment": number, "courier_number": shipment.tracking_number or "-"},
                postings=postings,
                memo=f"factory count of {number}",
            )
        ],
        actor=actor.username,
    )[0]
    docs.update_lines(
        session, ship_line_t, "shipment_id", shipment.id,
        {
            "received": {c.line_no: c.received for c in counts},
            "short": {c.line_no: c.short for c in counts},
        },
    )  # fmt: skip
    docs.update_lines(
        session, line_t, "shipment_id", shipment.id,
        {"counted": {c.line_no: c.counted for c in counts},
         "over": {c.line_no: c.over for c in counts}},
    )  # fmt: skip
    _mark_serials(session, shipment.id, counts)
    if differences:
        session.execute(insert(shipments.Discrepancy.__table__), differences)
    shipment.state = ShipmentState.RECEIVED.value
    shipment.received_by = actor.username
    shipment.received_at = utcnow()
    session.flush()
    short = {str(c.line_no): c.short for c in counts if c.short}
    over = {str(c.line_no): c.over for c in counts if c.over}
    run.record(
        shipment.id,
        ShipmentState.IN_TRANSIT.value,
        ShipmentState.RECEIVED.value,
        detail={
            "counted": sum(c.counted for c in counts),
            **({"short": short} if short else {}),
            **({"over": over} if over else {}),
        },
        entry_id=result.entry_id,
    )
    return run.finish(view(session, shipment))


def _counts(
    session: Session, shipment: Shipment, number: str, given: Sequence[CountLineIn]
) -> list[_Count]:
    rows = session.execute(
        select(
            ship_line_t.c.line_no, ship_line_t.c.commodity_id, ship_line_t.c.quantity,
            Commodity.code, Commodity.serialized,
        )
        .join(Commodity, Commodity.id == ship_line_t.c.commodity_id)
        .where(ship_line_t.c.shipment_id == shipment.id)
        .order_by(ship_line_t.c.line_no)
    ).all()  # fmt: skip
    by_no = {row.line_no: row for row in rows}
    shipped_serials: dict[int, list[str]] = defaultdict(list)
    line_of: dict[str, int] = {}
    for serial, line_no in session.execute(
        select(serial_t.c.serial, serial_t.c.line_no)
        .where(serial_t.c.shipment_id == shipment.id)
        .order_by(serial_t.c.serial)
    ):
        shipped_serials[line_no].append(serial)
        line_of[serial] = line_no
    if len(given) > MAX_LINES:
        raise InvalidInput(f"a count has at most {MAX_LINES} lines", field="lines")
    by_line: dict[int, CountLineIn] = {}
    seen: dict[str, int] = {}
    for i, line in enumerate(given):
        field = f"lines[{i}]"
        if type(line.line_no) is not int or line.line_no not in by_no:
            raise InvalidInput(
                f"factory return {number} has no line {line.line_no}; its lines are 1 to "
                f"{len(rows)}",
                field=f"{field}.line_no",
                line=line.line_no,
            )
        if line.line_no in by_line:
            raise InvalidInput(
                f"line {line.line_no} is given twice; give each line once",
                field=f"{field}.line_no",
                line=line.line_no,
            )
        row = by_no[line.line_no]
        if line.quantity is not None and (
            type(line.quantity) is not int or not 0 <= line.quantity <= MAX_LINE_QUANTITY
        ):
            raise InvalidInput(
                f"line {line.line_no}: quantity {line.quantity} is not a count; give 0 to "
                f"{MAX_LINE_QUANTITY:,} units",
                field=f"{field}.quantity",
                line=line.line_no,
            )
        if row.serialized:
            if line.serials is None:
                raise InvalidInput(
                    f"line {line.line_no}: {row.code} is serialized; list the serials the "
                    "factory counted (an empty list: none)",
                    field=f"{field}.serials",
                    line=line.line_no,
                )
            if len(line.serials) + len(seen) > MAX_SERIALS:
                raise InvalidInput(
                    f"line {line.line_no}: a count lists at most {MAX_SERIALS:,} serials",
                    field=f"{field}.serials",
                    line=line.line_no,
                )
            for j, serial in enumerate(line.serials):
                _serial_text(serial, f"{field}.serials[{j}]")
                if serial in seen:
                    raise InvalidInput(
                        f"line {line.line_no}: serial {serial} is counted twice",
                        field=f"{field}.serials[{j}]",
                        line=line.line_no,
                        serial=serial,
                    )
                seen[serial] = line.line_no
                if line_of.get(serial, line.line_no) != line.line_no:
                    raise InvalidInput(
                        f"line {line.line_no}: serial {serial} was shipped on line "
                        f"{line_of[serial]}; count it there",
                        field=f"{field}.serials[{j}]",
                        line=line.line_no,
                        serial=serial,
                    )
            if line.quantity is not None and line.quantity != len(line.serials):
                raise InvalidInput(
                    f"line {line.line_no}: quantity {line.quantity} but {len(line.serials)} "
                    "serials; one serial a unit",
                    field=f"{field}.quantity",
                    line=line.line_no,
                )
        else:
            if line.serials:
                raise InvalidInput(
                    f"line {line.line_no}: {row.code} is not serialized; give the quantity",
                    field=f"{field}.serials",
                    line=line.line_no,
                )
            if line.quantity is None:
                raise InvalidInput(
                    f"line {line.line_no}: give the quantity the factory counted",
                    field=f"{field}.quantity",
                    line=line.line_no,
                )
        by_line[line.line_no] = line
    counts = []
    for row in rows:
        c = _Count(row.line_no, row.commodity_id, row.code, row.quantity)
        line = by_line.get(row.line_no)
        if row.serialized:
            shipped = shipped_serials[row.line_no]
            counted = tuple(shipped) if line is None else tuple(sorted(line.serials))
            c.counted_serials = counted
            c.missing = tuple(sorted(set(shipped) - set(counted)))
            c.extra = tuple(sorted(set(counted) - set(shipped)))
            c.counted = len(counted)
            c.short = len(c.missing)
            c.over = len(c.extra)
            c.received = row.quantity - c.short
        else:
            c.counted = row.quantity if line is None else line.quantity
            c.received = min(c.counted, row.quantity)
            c.short = row.quantity - c.received
            c.over = c.counted - c.received
        counts.append(c)
    return counts


def _mark_serials(session: Session, shipment_id: int, counts: list[_Count]) -> None:
    marks = [
        {"_shipment": shipment_id, "_serial": serial, "state": state.value}
        for c in counts
        for state, serials in (
            (SerialState.COUNTED, sorted(set(c.counted_serials) - set(c.extra))),
            (SerialState.MISSING, c.missing),
        )
        for serial in serials
    ]
    if marks:
        session.execute(
            update(serial_t)
            .where(
                and_(
                    serial_t.c.shipment_id == bindparam("_shipment"),
                    serial_t.c.serial == bindparam("_serial"),
                )
            )
            .values(state=bindparam("state")),
            marks,
        )
    extras = session.execute(
        select(SerialUnit.serial, SerialUnit.colour).where(
            SerialUnit.serial.in_([s for c in counts for s in c.extra])
        )
    )
    colours = dict(extras.all())
    rows = [
        {
            "shipment_id": shipment_id,
            "serial": serial,
            "line_no": c.line_no,
            "colour": colours.get(serial),
            "state": SerialState.OVER.value,
        }
        for c in counts
        for serial in c.extra
    ]
    if rows:
        session.execute(insert(serial_t), rows)


# -- reading -----------------------------------------------------------------------


def _safe(text: str) -> str:
    return re.sub(r"\s+", "_", _UNSAFE.sub("_", text)).strip("._") or "_"


def filenames(centre: str, centre_code: str, day: date, tracking: str | None) -> tuple[str, str]:
    """The packing list's file name (centre name + return date + courier
    number, as the handbook has it), and an ASCII one for old clients (the
    centre's code, anything else not ASCII as `_`)."""
    tail = f"{day:%Y%m%d}_{_safe(tracking or 'none')[:80]}.xlsx"
    name = f"{_safe(centre)[:100]}_{tail}"
    if name.isascii():
        return name, name
    ascii_tail = "".join(c if c.isascii() else "_" for c in tail)
    return name, f"{_safe(centre_code)}_{ascii_tail}"


@dataclass(frozen=True, slots=True)
class _LineRow:
    line_no: int
    sku: str
    kind: str
    name_zh: str
    name_en: str
    model: str
    model_name: str
    colour: str | None
    quantity: int
    counted: int | None
    received: int | None
    short: int | None
    over: int | None


def _line_rows(session: Session, shipment_id: int) -> list[_LineRow]:
    model_c = aliased(Commodity)
    rows = session.execute(
        select(
            ship_line_t.c.line_no, Commodity.code, Commodity.kind, Commodity.name,
            Part.name_zh, Part.name_en, model_c.code.label("model"),
            HandsetModel.name.label("model_name"), line_t.c.colour, ship_line_t.c.quantity,
            line_t.c.counted, ship_line_t.c.received, ship_line_t.c.short, line_t.c.over,
        )
        .join(Commodity, Commodity.id == ship_line_t.c.commodity_id)
        .join(
            line_t,
            and_(
                line_t.c.shipment_id == ship_line_t.c.shipment_id,
                line_t.c.line_no == ship_line_t.c.line_no,
            ),
        )
        .join(model_c, model_c.id == line_t.c.model_id)
        .join(HandsetModel, HandsetModel.commodity_id == line_t.c.model_id)
        .outerjoin(Part, Part.commodity_id == Commodity.id)
        .where(ship_line_t.c.shipment_id == shipment_id)
        .order_by(ship_line_t.c.line_no)
    ).all()  # fmt: skip
    return [
        _LineRow(
            r.line_no,
            r.code,
            r.kind,
            r.name_zh or r.name,
            r.name_en or r.name,
            r.model,
            r.model_name,
            r.colour,
            r.quantity,
            r.counted,
            r.received,
            r.short,
            r.over,
        )
        for r in rows
    ]


def _serials(session: Session, shipment_id: int) -> dict[int, list[SerialView]]:
    out: dict[int, list[SerialView]] = defaultdict(list)
    for serial, line_no, colour, state in session.execute(
        select(serial_t.c.serial, serial_t.c.line_no, serial_t.c.colour, serial_t.c.state)
        .where(serial_t.c.shipment_id == shipment_id)
        .order_by(serial_t.c.line_no, serial_t.c.serial)
    ):
        out[line_no].append(SerialView(serial=serial, colour=colour, state=SerialState(state)))
    return out


def view(session: Session, shipment: Shipment) -> FactoryReturnView:
    sender = session.get(Holder, shipment.from_holder_id)
    receiver = session.get(Holder, shipment.to_holder_id)
    serials = _serials(session, shipment.id)
    lines = [
        FactoryLineView(
            line_no=r.line_no,
            sku=r.sku,
            kind=r.kind,
            name_zh=r.name_zh,
            name_en=r.name_en,
            model=r.model,
            colour=r.colour,
            quantity=r.quantity,
            counted=r.counted,
            received=r.received,
            short=r.short,
            over=r.over,
            serials=serials.get(r.line_no, []),
        )
        for r in _line_rows(session, shipment.id)
    ]
    found = session.scalars(
        select(shipments.Discrepancy)
        .where(shipments.Discrepancy.shipment_id == shipment.id)
        .order_by(shipments.Discrepancy.id)
    ).all()
    return FactoryReturnView(
        number=shipments.number(shipment.id),
        state=ShipmentState(shipment.state),
        sender=sender.code,
        centre=sender.name,
        receiver=receiver.code,
        courier=shipment.courier,
        tracking_number=shipment.tracking_number,
        shipped_by=shipment.shipped_by,
        shipped_at=shipment.shipped_at,
        shipped_on=shipment.shipped_on,
        received_by=shipment.received_by,
        received_at=shipment.received_at,
        quantity=sum(line.quantity for line in lines),
        lines=lines,
        differences=[shipments.discrepancy_view(session, row) for row in found],
        packing_list=filenames(
            sender.name, sender.code, shipment.shipped_on, shipment.tracking_number
        )[0],
        history=docs.history(session, "shipment", shipment.id),
    )


def _find(session: Session, actor: Actor, number: str) -> Shipment:
    shipment_id = docs.document_id(shipments.PREFIX, number, "factory return")
    shipment = session.get(Shipment, shipment_id)
    if (
        shipment is None
        or shipment.kind != ShipmentKind.FACTORY
        or not (actor.sees_everything or actor.holder_id == shipment.from_holder_id)
    ):
        raise NotFound(f"factory return {number} does not exist", shipment=number)
    return shipment


def get(session: Session, actor: Actor, number: str) -> FactoryReturnView:
    return view(session, _find(session, actor, number))


def packing_list(session: Session, actor: Actor, number: str) -> PackingList:
    """The units shipped, grouped by model and colour (a handset line's
    serials split by their colours), with subtotals and the total."""
    shipment = _find(session, actor, number)
    sender = session.get(Holder, shipment.from_holder_id)
    serials = _serials(session, shipment.id)
    groups: dict[tuple[str, str], PackedGroup] = {}
    for r in _line_rows(session, shipment.id):
        shipped = [s for s in serials.get(r.line_no, []) if s.state != SerialState.OVER]
        if shipped:
            by_colour: dict[str | None, list[str]] = defaultdict(list)
            for s in shipped:
                by_colour[s.colour].append(s.serial)
            parts = [(colour, len(found), found) for colour, found in by_colour.items()]
        else:
            parts = [(r.colour, r.quantity, [])]
        for colour, quantity, found in parts:
            group = groups.setdefault(
                (r.model, colour or ""),
                PackedGroup(
                    model=r.model, model_name=r.model_name, colour=colour, items=[], subtotal=0
                ),
            )
            group.items.append(
                PackedItem(
                    line_no=r.line_no,
                    sku=r.sku,
                    name_zh=r.name_zh,
                    name_en=r.name_en,
                    quantity=quantity,
                    serials=found,
                )
            )
            group.subtotal += quantity
    ordered = [groups[k] for k in sorted(groups)]
    name, ascii_name = filenames(
        sender.name, sender.code, shipment.shipped_on, shipment.tracking_number
    )
    return PackingList(
        number=shipments.number(shipment.id),
        centre=sender.name,
        centre_code=sender.code,
        shipped_on=shipment.shipped_on,
        courier=shipment.courier,
        tracking_number=shipment.tracking_number,
        filename=name,
        ascii_filename=ascii_name,
        groups=ordered,
        total=sum(g.subtotal for g in ordered),
    )


def list_returns(
    session: Session,
    actor: Actor,
    *,
    state: ShipmentState | None = None,
    sender: str | None = None,
    older_than_days: int | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[ShipmentSummary]:
    """Factory returns, newest first; `state=in_transit` (or
    `older_than_days`) are those awaiting the factory's count."""
    return shipments.list_shipments(
        session, actor, state=state, kind=ShipmentKind.FACTORY, holder=sender,
        older_than_days=older_than_days, after=after, limit=limit,
    )  # fmt: skip


def defective_stock(session: Session, actor: Actor, location: str) -> DefectiveStock:
    """A location's DEFECTIVE balances by SKU, with the models each fits
    (a handset: itself, with its serials): what awaits a return."""
    holder = session.scalar(select(Holder).where(Holder.code == location))
    if holder is None or not (actor.sees_everything or actor.holder_id == holder.id):
        raise NotFound(f"no location {location!r}", location=location)
    if holder.kind not in (HolderKind.HQ, HolderKind.REGIONAL_WAREHOUSE, HolderKind.SERVICE_POINT):
        raise InvalidInput(f"{location} holds no defective stock", field="location")
    rows = session.execute(
        select(
            Account.id, Account.balance, Commodity.id.label("cid"), Commodity.code,
            Commodity.kind, Commodity.name, Commodity.serialized, Part.name_zh, Part.name_en,
        )
        .join(Commodity, Commodity.id == Account.commodity_id)
        .outerjoin(Part, Part.commodity_id == Commodity.id)
        .where(Account.holder_id == holder.id, Account.purpose == "DEFECTIVE", Account.balance != 0)
        .order_by(Commodity.code)
    ).all()  # fmt: skip
    fits: dict[int, list[str]] = defaultdict(list)
    for part_id, code in session.execute(
        select(PartCompatibleModel.part_id, Commodity.code)
        .join(Commodity, Commodity.id == PartCompatibleModel.handset_model_id)
        .where(PartCompatibleModel.part_id.in_([r.cid for r in rows]))
        .order_by(Commodity.code)
    ):
        fits[part_id].append(code)
    held: dict[int, list[HeldSerial]] = defaultdict(list)
    for serial, account_id, colour in session.execute(
        select(SerialUnit.serial, SerialUnit.account_id, SerialUnit.colour)
        .where(SerialUnit.account_id.in_([r.id for r in rows if r.serialized]))
        .order_by(SerialUnit.serial)
    ):
        held[account_id].append(HeldSerial(serial=serial, colour=colour))
    lines = [
        DefectiveLine(
            sku=r.code,
            kind=r.kind,
            name_zh=r.name_zh or r.name,
            name_en=r.name_en or r.name,
            models=[r.code] if r.kind == "handset" else fits.get(r.cid, []),
            quantity=r.balance,
            serials=held.get(r.id, []) if r.serialized else None,
        )
        for r in rows
    ]
    return DefectiveStock(
        location=holder.code,
        name=holder.name,
        lines=lines,
        quantity=sum(line.quantity for line in lines),
    )
