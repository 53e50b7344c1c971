"""Shipments: units on their way from one location to another, and the
discrepancies found when they arrive.

A shipment is an issue against a requisition (from the warehouse's RESERVED
stock), a transfer between warehouses or a return from a point to its
warehouse (from the sender's STOCK). Shipping moves the units to the
receiver's TRANSIT account; receiving moves what arrived to its STOCK and
what is short to DISCREPANCIES, one discrepancy per short line, resolved as
found (into the receiver's stock) or lost (written off, flagged for
charging). So at every moment: in transit toward a holder = shipped −
received − short.

A return to the factory (`ledger.parts.factory`) is a shipment too, from a
warehouse's DEFECTIVE to TO-FACTORY:TRANSIT (the factory, an outside party,
holds no transit); the factory's count closes it instead of a receipt, and
its differences are discrepancies with a direction: short (resolved like any
shortage, by serial for serialized units) or over (nothing posted).

This module knows nothing of requisitions; `ledger.parts.receiving` tells a
requisition what its shipments did.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    insert,
    select,
)
from sqlalchemy.orm import Session, aliased
from sqlmodel import Field, SQLModel

from ledger import journal
from ledger.codes import account_code
from ledger.errors import Forbidden, InvalidInput, InvalidState, NotFound
from ledger.journal import EntryIn, PostingIn
from ledger.models import Commodity, Holder, HolderKind, Role
from ledger.money import accruals
from ledger.parts import documents as docs
from ledger.parts.documents import ActionView
from ledger.policy import Actor
from ledger.types import UTCDateTime, utcnow

PREFIX = "SH"
DISCREPANCY_PREFIX = "DS"
TEXT_MAX = 80
STAFF = (Role.WAREHOUSE_CLERK, Role.ADMIN)


# The longest a shipment is looked back on as late (ten years).
MAX_DAYS_IN_TRANSIT = 3650


class ShipmentKind(enum.StrEnum):
    ISSUE = "issue"  # against a requisition, from the warehouse's reserved stock
    TRANSFER = "transfer"  # warehouse to warehouse
    RETURN = "return"  # unused parts, a point back to its warehouse
    # A point's defective stock (parts replaced in warranty) back to its
    # warehouse: from the point's DEFECTIVE, received into the warehouse's.
    DEFECTIVE = "defective"
    FACTORY = "factory"  # a warehouse's defective parts and handsets to the factory


# The sender's account a shipment leaves, and the receiver's account it
# arrives in (otherwise STOCK): defective units stay defective all the way.
_LEAVES = {
    ShipmentKind.ISSUE: "RESERVED",
    ShipmentKind.DEFECTIVE: "DEFECTIVE",
    ShipmentKind.FACTORY: "DEFECTIVE",
}
_ARRIVES = {ShipmentKind.DEFECTIVE: "DEFECTIVE"}


def leaves_from(kind: ShipmentKind | str) -> str:
    return _LEAVES.get(ShipmentKind(kind), "STOCK")


def arrives_in(kind: ShipmentKind | str) -> str:
    return _ARRIVES.get(ShipmentKind(kind), "STOCK")


class ShipmentState(enum.StrEnum):
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"


class DiscrepancyState(enum.StrEnum):
    OPEN = "open"
    FOUND = "found"
    LOST = "lost"


class Direction(enum.StrEnum):
    """A shortage (fewer units arrived than were shipped: they wait in
    DISCREPANCIES) or an over count (more arrived than the books sent: the
    books never held them, so nothing is posted; a factory's count can say so)."""

    SHORT = "short"
    OVER = "over"


def _one_of(enum_type: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{s.value}'" for s in enum_type)


class Shipment(SQLModel, table=True):
    __tablename__ = "shipment"
    __table_args__ = (
        CheckConstraint(f"state IN ({_one_of(ShipmentState)})", name="state"),
        CheckConstraint(f"kind IN ({_one_of(ShipmentKind)})", name="kind"),
        Index("ix_shipment_state_shipped_on", "state", "shipped_on"),
        Index("ix_shipment_to_holder_id", "to_holder_id", "id"),
        Index("ix_shipment_from_holder_id", "from_holder_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    kind: str = Field(max_length=12)
    requisition_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("requisition.id"), index=True)
    )
    from_holder_id: int = Field(sa_column=Column(Integer, ForeignKey("holder.id"), nullable=False))
    to_holder_id: int = Field(sa_column=Column(Integer, ForeignKey("holder.id"), nullable=False))
    state: str = Field(max_length=12)
    courier: str | None = Field(default=None, max_length=TEXT_MAX)
    tracking_number: str | None = Field(default=None, max_length=TEXT_MAX)
    shipped_by: str = Field(max_length=80)
    shipped_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    shipped_on: date = Field(sa_column=Column(Date, nullable=False))
    received_by: str | None = Field(default=None, max_length=80)
    received_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class ShipmentLine(SQLModel, table=True):
    __tablename__ = "shipment_line"

    shipment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("shipment.id"), primary_key=True, autoincrement=False)
    )
    line_no: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    commodity_id: int = Field(sa_column=Column(Integer, ForeignKey("commodity.id"), nullable=False))
    # The requisition line an issue ships (None for transfers and returns).
    requisition_line_no: int | None = Field(default=None, sa_column=Column(SmallInteger))
    quantity: int = Field(sa_column=Column(BigInteger, nullable=False))
    received: int | None = Field(default=None, sa_column=Column(BigInteger))
    short: int | None = Field(default=None, sa_column=Column(BigInteger))


class Discrepancy(SQLModel, table=True):
    """Units a receipt found short, until they are found or written off."""

    __tablename__ = "discrepancy"
    __table_args__ = (
        CheckConstraint(f"state IN ({_one_of(DiscrepancyState)})", name="state"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(f"direction IN ({_one_of(Direction)})", name="direction"),
        Index("ix_discrepancy_state", "state", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    shipment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("shipment.id"), nullable=False, index=True)
    )
    line_no: int = Field(sa_column=Column(SmallInteger, nullable=False))
    commodity_id: int = Field(sa_column=Column(Integer, ForeignKey("commodity.id"), nullable=False))
    holder_id: int = Field(
        sa_column=Column(Integer, ForeignKey("holder.id"), nullable=False, index=True)
    )
    quantity: int = Field(sa_column=Column(BigInteger, nullable=False))
    state: str = Field(max_length=8)
    direction: str = Field(
        default=Direction.SHORT.value,
        sa_column=Column(String(5), nullable=False, server_default=Direction.SHORT.value),
    )
    # The serials short (or over) when the commodity is serialized: resolving
    # a shortage moves exactly these units out of DISCREPANCIES.
    serials: list[str] | None = Field(default=None, sa_column=Column(JSON))
    # Lost units are to be charged to whoever lost them once deposits exist.
    chargeable: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    resolved_by: str | None = Field(default=None, max_length=80)
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    reason: str | None = Field(default=None, max_length=docs.REASON_MAX)


# Lines are written and read set-based, through the table: a 50-line
# document is a statement, not 50 ORM objects.
line_t = ShipmentLine.__table__


# -- views -------------------------------------------------------------------------


class ShipmentLineView(BaseModel):
    line_no: int
    sku: str
    quantity: int
    received: int | None
    short: int | None


class ShipmentView(BaseModel):
    number: str
    kind: ShipmentKind
    state: ShipmentState
    requisition: str | None
    sender: str
    receiver: str
    courier: str | None
    tracking_number: str | None
    shipped_by: str
    shipped_at: datetime
    shipped_on: date
    received_by: str | None
    received_at: datetime | None
    lines: list[ShipmentLineView]
    discrepancies: list[str]
    history: list[ActionView]


class ShipmentSummary(BaseModel):
    number: str
    kind: ShipmentKind
    state: ShipmentState
    requisition: str | None
    sender: str
    receiver: str
    courier: str | None
    tracking_number: str | None
    shipped_on: date
    days_in_transit: int | None
    quantity: int


class DiscrepancyView(BaseModel):
    number: str
    shipment: str
    line_no: int
    sku: str
    holder: str
    quantity: int
    state: DiscrepancyState
    direction: Direction = Direction.SHORT
    serials: list[str] | None = None
    chargeable: bool
    resolved_by: str | None
    resolved_at: datetime | None
    reason: str | None
    history: list[ActionView]


@dataclass(frozen=True, slots=True)
class Line:
    """A line to ship: the commodity, how many, and (for an issue) which
    requisition line it fills."""

    commodity_id: int
    sku: str
    quantity: int
    requisition_line_no: int | None = None
    # Serialized units move by serial: one per unit.
    serials: tuple[str, ...] = ()


def number(shipment_id: int) -> str:
    return docs.document_number(PREFIX, shipment_id)


def discrepancy_number(discrepancy_id: int) -> str:
    return docs.document_number(DISCREPANCY_PREFIX, discrepancy_id)


def courier_text(value: str | None, field: str) -> str | None:
    """A courier or courier number: one line of printable text."""
    text = docs.reason_text(value, field=field)
    if text is not None and (len(text) > TEXT_MAX or not text.isprintable()):
        raise InvalidInput(
            f"{field} is one line of at most {TEXT_MAX} printable characters", field=field
        )
    return text


# -- writing -----------------------------------------------------------------------


def ship(
    session: Session,
    actor: Actor,
    *,
    kind: ShipmentKind,
    sender: Holder,
    receiver: Holder,
    lines: Sequence[Line],
    refs: dict[str, str],
    requisition_id: int | None = None,
    courier: str | None = None,
    tracking_number: str | None = None,
    transit: str | None = None,
) -> tuple[Shipment, journal.PostResult]:
    """Create a shipment in transit and post its entry: the sender's RESERVED
    (an issue), DEFECTIVE (defective units) or STOCK to the receiver's
    TRANSIT (or that of the `transit` holder given, for a receiver that is an
    outside party: the factory). The guard refuses what the sender does not
    have, naming the account."""
    today = session.info["window"].today()
    shipment = Shipment(
        kind=kind.value,
        requisition_id=requisition_id,
        from_holder_id=sender.id,
        to_holder_id=receiver.id,
        state=ShipmentState.IN_TRANSIT.value,
        courier=courier,
        tracking_number=tracking_number,
        shipped_by=actor.username,
        shipped_at=utcnow(),
        shipped_on=today,
    )
    session.add(shipment)
    session.flush()
    source = leaves_from(kind)
    transit = transit or receiver.code
    # The lines go in as one multi-row INSERT: a 50-line issue is one statement.
    session.execute(
        insert(line_t),
        [
            {
                "shipment_id": shipment.id,
                "line_no": i,
                "commodity_id": line.commodity_id,
                "requisition_line_no": line.requisition_line_no,
                "quantity": line.quantity,
            }
            for i, line in enumerate(lines, start=1)
        ],
    )
    postings = []
    for line in lines:
        serials = list(line.serials)
        postings += [
            PostingIn(
                account=account_code(sender.code, source, line.sku),
                amount=-line.quantity,
                serials=serials,
            ),
            PostingIn(
                account=account_code(transit, "TRANSIT", line.sku),
                amount=line.quantity,
                serials=serials,
            ),
        ]
    result = journal.post_entries(
        session,
        [
            EntryIn(
                kind=f"shipment_{kind.value}",
                refs={**refs, "shipment": number(shipment.id)},
                postings=postings,
                memo=f"{kind.value} {sender.code} -> {receiver.code}",
            )
        ],
        actor=actor.username,
    )[0]
    return shipment, result


@dataclass(frozen=True, slots=True)
class Settled:
    """One line of a receipt: what arrived, what is short."""

    line_no: int
    requisition_line_no: int | None
    received: int
    short: int


@dataclass(frozen=True, slots=True)
class Receipt:
    shipment: Shipment
    lines: list[Settled]
    entry_id: object


def lock(session: Session, actor: Actor, shipment_number: str) -> Shipment:
    """The shipment, row-locked, if the actor may see it (a point: only its
    own, in or out; another's answers as unknown)."""
    shipment_id = docs.document_id(PREFIX, shipment_number, "shipment")
    shipment = session.scalar(select(Shipment).where(Shipment.id == shipment_id).with_for_update())
    if shipment is None or not _visible(actor, shipment):
        raise NotFound(f"shipment {shipment_number} does not exist", shipment=shipment_number)
    return shipment


def _visible(actor: Actor, shipment: Shipment) -> bool:
    return actor.sees_everything or actor.holder_id in (
        shipment.from_holder_id,
        shipment.to_holder_id,
    )


def require_receiver(actor: Actor, shipment: Shipment) -> None:
    """The receiving point's own user, or a clerk or admin."""
    if actor.role is Role.SERVICE_POINT:
        if actor.holder_id != shipment.to_holder_id:
            raise Forbidden(f"only {number(shipment.id)}'s receiver confirms its receipt")
        return
    docs.require_roles(actor, "receive a shipment", Role.SERVICE_POINT, *STAFF)


def receive(
    session: Session,
    actor: Actor,
    shipment: Shipment,
    received: dict[int, int] | None,
) -> Receipt:
    """Confirm a shipment in transit: `received` maps line number → units
    that arrived (every line in full when None; a line left out arrived in
    full). Units not received are short: they move to DISCREPANCIES and a
    discrepancy is opened per short line."""
    number_ = number(shipment.id)
    if shipment.state != ShipmentState.IN_TRANSIT:
        docs.refuse_state("shipment", number_, shipment.state, "receiving", ["in_transit"])
    if shipment.kind == ShipmentKind.FACTORY:
        raise InvalidState(
            f"shipment {number_} is a return to the factory; the factory's count closes it "
            f"(POST /factory-returns/{number_}/confirm)",
            number=number_,
            state=shipment.state,
        )
    lines = session.execute(
        select(
            line_t.c.line_no, line_t.c.commodity_id, line_t.c.requisition_line_no,
            line_t.c.quantity, Commodity.code,
        )
        .join(Commodity, Commodity.id == line_t.c.commodity_id)
        .where(line_t.c.shipment_id == shipment.id)
        .order_by(line_t.c.line_no)
    ).all()  # fmt: skip
    by_no = {line.line_no: line for line in lines}
    received = dict(received or {})
    for line_no, quantity in received.items():
        line = by_no.get(line_no)
        if line is None:
            raise InvalidInput(
                f"shipment {number_} has no line {line_no}; its lines are 1 to {len(lines)}",
                field="lines",
                line=line_no,
            )
        if not 0 <= quantity <= line.quantity:
            raise InvalidInput(
                f"line {line_no}: {quantity} received, but {line.quantity} were shipped; "
                "receive at most what was shipped (more is a count difference, not a receipt)",
                field="received",
                line=line_no,
                shipped=line.quantity,
            )
    receiver = session.get(Holder, shipment.to_holder_id)
    arrives = arrives_in(shipment.kind)
    settled = []
    postings = []
    shortages = []
    for line in lines:
        got = received.get(line.line_no, line.quantity)
        short = line.quantity - got
        transit = account_code(receiver.code, "TRANSIT", line.code)
        if got:
            postings += [
                PostingIn(account=transit, amount=-got),
                PostingIn(account=account_code(receiver.code, arrives, line.code), amount=got),
            ]
        if short:
            postings += [
                PostingIn(account=transit, amount=-short),
                PostingIn(
                    account=account_code(docs.DISCREPANCIES, "TRANSIT", line.code), amount=short
                ),
            ]
            shortages.append(
                {
                    "shipment_id": shipment.id,
                    "line_no": line.line_no,
                    "commodity_id": line.commodity_id,
                    "holder_id": receiver.id,
                    "quantity": short,
                    "state": DiscrepancyState.OPEN.value,
                    "chargeable": False,
                }
            )
        settled.append(Settled(line.line_no, line.requisition_line_no, got, short))
    if shortages:
        docs.system_holder(session, docs.DISCREPANCIES)
    result = journal.post_entries(
        session,
        [
            EntryIn(
                kind="shipment_receipt",
                refs=_refs(session, shipment),
                postings=postings,
                memo=f"receipt at {receiver.code}",
            )
        ],
        actor=actor.username,
    )[0]
    docs.update_lines(
        session, line_t, "shipment_id", shipment.id,
        {
            "received": {s.line_no: s.received for s in settled},
            "short": {s.line_no: s.short for s in settled},
        },
    )  # fmt: skip
    if shortages:
        session.execute(insert(Discrepancy.__table__), shortages)
    shipment.state = ShipmentState.RECEIVED.value
    shipment.received_by = actor.username
    shipment.received_at = utcnow()
    session.flush()
    return Receipt(shipment, settled, result.entry_id)


def _refs(session: Session, shipment: Shipment) -> dict[str, str]:
    refs = {"shipment": number(shipment.id)}
    if shipment.requisition_id is not None:
        refs["requisition"] = docs.document_number("RQ", shipment.requisition_id)
    return refs


def lock_discrepancy(session: Session, actor: Actor, discrepancy_number_: str) -> Discrepancy:
    discrepancy_id = docs.document_id(DISCREPANCY_PREFIX, discrepancy_number_, "discrepancy")
    row = session.scalar(
        select(Discrepancy).where(Discrepancy.id == discrepancy_id).with_for_update()
    )
    if row is None or not (actor.sees_everything or actor.holder_id == row.holder_id):
        raise NotFound(
            f"discrepancy {discrepancy_number_} does not exist", discrepancy=discrepancy_number_
        )
    return row


@dataclass(frozen=True, slots=True)
class Noted:
    """A resolution that posts nothing (an over count: the books never held
    the units)."""

    entry_id: None = None


def resolve(
    session: Session,
    actor: Actor,
    discrepancy: Discrepancy,
    outcome: DiscrepancyState,
    reason,
    *,
    charge: tuple[str, int] | None = None,
):
    """Found: the units go into the receiver's stock (its defective stock
    for defective units; the factory's for a factory return). Lost: they are
    written off to LOST-IN-TRANSIT and the discrepancy is flagged for
    charging. Serialized units move by the serials the shortage recorded.

    An over count (more counted than shipped, in a factory's count) posts
    nothing either way, since the books never held those units: found
    records that they were traced (and are booked by a document of their
    own, a count or another return), lost that the count was wrong.

    `charge` (point, fen): the point is charged for the lost units in the
    same entry (its RECEIVABLE against CHARGES)."""
    number_ = discrepancy_number(discrepancy.id)
    if discrepancy.state != DiscrepancyState.OPEN:
        docs.refuse_state("discrepancy", number_, discrepancy.state, "resolving", ["open"])
    result: journal.PostResult | Noted
    if discrepancy.direction == Direction.OVER:
        result = Noted()
    else:
        result = _post_resolution(session, actor, discrepancy, outcome, reason, number_, charge)
    discrepancy.state = outcome.value
    discrepancy.chargeable = (
        outcome is DiscrepancyState.LOST and discrepancy.direction == Direction.SHORT
    )
    discrepancy.resolved_by = actor.username
    discrepancy.resolved_at = utcnow()
    discrepancy.reason = reason
    session.flush()
    return result


def _post_resolution(session, actor, discrepancy, outcome, reason, number_, charge=None):
    sku = _skus(session, [discrepancy.commodity_id])[discrepancy.commodity_id]
    receiver = session.get(Holder, discrepancy.holder_id)
    shipment = session.get(Shipment, discrepancy.shipment_id)
    if outcome is DiscrepancyState.FOUND:
        target = account_code(receiver.code, arrives_in(shipment.kind), sku)
    else:
        docs.system_holder(session, docs.LOST)
        target = account_code(docs.LOST, "STOCK", sku)
    serials = list(discrepancy.serials or [])
    return journal.post_entries(
        session,
        [
            EntryIn(
                kind=f"discrepancy_{outcome.value}",
                refs={**_refs(session, shipment), "discrepancy": number_},
                memo=reason or "",
                postings=[
                    PostingIn(
                        account=account_code(docs.DISCREPANCIES, "TRANSIT", sku),
                        amount=-discrepancy.quantity,
                        serials=serials,
                    ),
                    PostingIn(account=target, amount=discrepancy.quantity, serials=serials),
                    *(accruals.charge_postings(session, *charge) if charge else ()),
                ],
            )
        ],
        actor=actor.username,
    )[0]


# -- reading -----------------------------------------------------------------------


def _skus(session: Session, commodity_ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(
        select(Commodity.id, Commodity.code).where(Commodity.id.in_(set(commodity_ids)))
    )
    return dict(rows.all())


def view(session: Session, shipment: Shipment) -> ShipmentView:
    lines = session.execute(
        select(line_t, Commodity.code.label("sku"))
        .join(Commodity, Commodity.id == line_t.c.commodity_id)
        .where(line_t.c.shipment_id == shipment.id)
        .order_by(line_t.c.line_no)
    ).all()
    codes = dict(
        session.execute(
            select(Holder.id, Holder.code).where(
                Holder.id.in_([shipment.from_holder_id, shipment.to_holder_id])
            )
        ).all()
    )
    found = session.scalars(
        select(Discrepancy.id)
        .where(Discrepancy.shipment_id == shipment.id)
        .order_by(Discrepancy.id)
    )
    return ShipmentView(
        number=number(shipment.id),
        kind=ShipmentKind(shipment.kind),
        state=ShipmentState(shipment.state),
        requisition=(
            docs.document_number("RQ", shipment.requisition_id)
            if shipment.requisition_id is not None
            else None
        ),
        sender=codes[shipment.from_holder_id],
        receiver=codes[shipment.to_holder_id],
        courier=shipment.courier,
        tracking_number=shipment.tracking_number,
        shipped_by=shipment.shipped_by,
        shipped_at=shipment.shipped_at,
        shipped_on=shipment.shipped_on,
        received_by=shipment.received_by,
        received_at=shipment.received_at,
        lines=[
            ShipmentLineView(
                line_no=line.line_no,
                sku=line.sku,
                quantity=line.quantity,
                received=line.received,
                short=line.short,
            )
            for line in lines
        ],
        discrepancies=[discrepancy_number(i) for i in found],
        history=docs.history(session, "shipment", shipment.id),
    )


def get(session: Session, actor: Actor, shipment_number: str) -> ShipmentView:
    shipment_id = docs.document_id(PREFIX, shipment_number, "shipment")
    shipment = session.get(Shipment, shipment_id)
    if shipment is None or not _visible(actor, shipment):
        raise NotFound(f"shipment {shipment_number} does not exist", shipment=shipment_number)
    return view(session, shipment)


_Sender = aliased(Holder)
_Receiver = aliased(Holder)


def list_shipments(
    session: Session,
    actor: Actor,
    *,
    state: ShipmentState | None = None,
    kind: ShipmentKind | None = None,
    holder: str | None = None,
    older_than_days: int | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[ShipmentSummary]:
    """Shipments, newest first; `older_than_days` lists those in transit
    longer than that (shipped before today − N days); `holder` those from or
    to a location."""
    from sqlalchemy import func

    today = session.info["window"].today()
    quantity = (
        select(func.sum(ShipmentLine.quantity))
        .where(ShipmentLine.shipment_id == Shipment.id)
        .scalar_subquery()
    )
    stmt = (
        select(Shipment, _Sender.code, _Receiver.code, quantity)
        .join(_Sender, _Sender.id == Shipment.from_holder_id)
        .join(_Receiver, _Receiver.id == Shipment.to_holder_id)
        .order_by(Shipment.id.desc())
        .limit(max(1, min(limit, 1000)))
    )
    if not actor.sees_everything:
        stmt = stmt.where(
            (Shipment.from_holder_id == actor.holder_id)
            | (Shipment.to_holder_id == actor.holder_id)
        )
    if state is not None:
        stmt = stmt.where(Shipment.state == state.value)
    if kind is not None:
        stmt = stmt.where(Shipment.kind == kind.value)
    if holder is not None:
        stmt = stmt.where((_Sender.code == holder) | (_Receiver.code == holder))
    if older_than_days is not None:
        if not 0 <= older_than_days <= MAX_DAYS_IN_TRANSIT:
            raise InvalidInput(
                f"older_than_days is 0 to {MAX_DAYS_IN_TRANSIT:,}, not {older_than_days}",
                field="older_than_days",
            )
        stmt = stmt.where(
            Shipment.state == ShipmentState.IN_TRANSIT.value,
            Shipment.shipped_on < today - timedelta(days=older_than_days),
        )
    if after is not None:
        stmt = stmt.where(Shipment.id < docs.cursor_id(PREFIX, after, "shipment"))
    return [
        ShipmentSummary(
            number=number(s.id),
            kind=ShipmentKind(s.kind),
            state=ShipmentState(s.state),
            requisition=(
                docs.document_number("RQ", s.requisition_id) if s.requisition_id else None
            ),
            sender=sender,
            receiver=receiver,
            courier=s.courier,
            tracking_number=s.tracking_number,
            shipped_on=s.shipped_on,
            days_in_transit=(today - s.shipped_on).days if s.state == "in_transit" else None,
            quantity=qty or 0,
        )
        for s, sender, receiver, qty in session.execute(stmt)
    ]


def discrepancy_view(session: Session, row: Discrepancy) -> DiscrepancyView:
    sku = _skus(session, [row.commodity_id])[row.commodity_id]
    holder = session.scalar(select(Holder.code).where(Holder.id == row.holder_id))
    return DiscrepancyView(
        number=discrepancy_number(row.id),
        shipment=number(row.shipment_id),
        line_no=row.line_no,
        sku=sku,
        holder=holder,
        quantity=row.quantity,
        state=DiscrepancyState(row.state),
        direction=Direction(row.direction),
        serials=row.serials,
        chargeable=row.chargeable,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        reason=row.reason,
        history=docs.history(session, "discrepancy", row.id),
    )


def get_discrepancy(session: Session, actor: Actor, discrepancy_number_: str) -> DiscrepancyView:
    discrepancy_id = docs.document_id(DISCREPANCY_PREFIX, discrepancy_number_, "discrepancy")
    row = session.get(Discrepancy, discrepancy_id)
    if row is None or not (actor.sees_everything or actor.holder_id == row.holder_id):
        raise NotFound(
            f"discrepancy {discrepancy_number_} does not exist", discrepancy=discrepancy_number_
        )
    return discrepancy_view(session, row)


def list_discrepancies(
    session: Session,
    actor: Actor,
    *,
    state: DiscrepancyState | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[DiscrepancyView]:
    stmt = select(Discrepancy).order_by(Discrepancy.id).limit(max(1, min(limit, 1000)))
    if not actor.sees_everything:
        stmt = stmt.where(Discrepancy.holder_id == actor.holder_id)
    if state is not None:
        stmt = stmt.where(Discrepancy.state == state.value)
    if after is not None:
        stmt = stmt.where(Discrepancy.id > docs.cursor_id(DISCREPANCY_PREFIX, after, "discrepancy"))
    return [discrepancy_view(session, row) for row in session.scalars(stmt)]


def is_warehouse(holder: Holder) -> bool:
    return holder.kind in (HolderKind.HQ, HolderKind.REGIONAL_WAREHOUSE)
