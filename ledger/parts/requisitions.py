"""Requisitions (申请): a service point, or a regional warehouse from HQ, asks
for parts; an approver decides within their limits; the warehouse ships.

    draft ─submit→ submitted ─approve→ approved ─issue→ issued ─(all shipped, all received)→ closed
      │               │ ↺ escalate          │            └─(a shortage still open)→ received
      │               └─reject→ rejected    │                            └─(resolved)→ closed
      └─cancel (from draft, submitted, or approved with nothing shipped)→ cancelled

Approving reserves the approved units at the issuing warehouse: its STOCK
moves to RESERVED through the guarded write path, so the database refuses to
promise the same last unit twice. Cancelling an approved requisition moves
them back; issuing ships from RESERVED.

The amount of a line is its quantity at the standard cost in force on the
day it was submitted; an approver approves only within both their quantity
and amount limits, and escalates what is beyond them to the next level.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Session, aliased
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from ledger import journal
from ledger.amounts import MAX_BALANCE, format_amount
from ledger.catalog import locations
from ledger.catalog.parts import Part, standard_costs_on
from ledger.codes import account_code
from ledger.errors import BeyondApprovalLimit, Forbidden, InvalidInput, InvalidState, NotFound
from ledger.journal import EntryIn, PostingIn
from ledger.models import Account, Commodity, Holder, HolderKind, Purpose, Role
from ledger.money import credit, termination
from ledger.parts import approval, shipments
from ledger.parts import documents as docs
from ledger.parts.documents import ActionView
from ledger.policy import Actor
from ledger.types import UTCDateTime, utcnow

PREFIX = "RQ"
MAX_LINES = docs.MAX_LINES
MAX_LINE_QUANTITY = docs.MAX_LINE_QUANTITY
# Who raises and withdraws requisitions: the point itself, or staff for a
# point or a regional warehouse (planners release their plans as requisitions).
REQUESTERS = (Role.SERVICE_POINT, Role.WAREHOUSE_CLERK, Role.ADMIN, Role.PLANNER)
# Who approve, within their own approval level, the requisitions they raised
# themselves: planners (and admins) releasing a plan (ledger/planning.py).
SELF_APPROVERS = (Role.PLANNER, Role.ADMIN)


class State(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    ISSUED = "issued"
    RECEIVED = "received"
    CLOSED = "closed"
    CANCELLED = "cancelled"


_STATES = ", ".join(f"'{s.value}'" for s in State)


class Requisition(SQLModel, table=True):
    __tablename__ = "requisition"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATES})", name="state"),
        Index("ix_requisition_state", "state", "id"),
        Index("ix_requisition_requester_holder_id", "requester_holder_id", "id"),
    )

    id: int | None = SQLField(default=None, sa_column=Column(Integer, primary_key=True))
    requester_holder_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("holder.id"), nullable=False)
    )
    warehouse_holder_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("holder.id"), nullable=False, index=True)
    )
    state: str = SQLField(max_length=12)
    note: str | None = SQLField(default=None, max_length=docs.REASON_MAX)
    # Requested totals, valued when submitted: what the approval queue compares
    # with each approver's limits.
    quantity: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    amount: int | None = SQLField(default=None, sa_column=Column(BigInteger))
    approved_quantity: int | None = SQLField(default=None, sa_column=Column(BigInteger))
    approved_amount: int | None = SQLField(default=None, sa_column=Column(BigInteger))
    # Set by an escalation: only approvers of this rank or above decide.
    escalated_to_rank: int | None = SQLField(default=None, sa_column=Column(Integer))
    created_by: str = SQLField(max_length=80)
    created_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))
    submitted_at: datetime | None = SQLField(default=None, sa_column=Column(UTCDateTime()))
    updated_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))


class RequisitionLine(SQLModel, table=True):
    __tablename__ = "requisition_line"

    requisition_id: int = SQLField(
        sa_column=Column(
            Integer, ForeignKey("requisition.id"), primary_key=True, autoincrement=False
        )
    )
    line_no: int = SQLField(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    commodity_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("commodity.id"), nullable=False)
    )
    requested: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    approved: int | None = SQLField(default=None, sa_column=Column(BigInteger))
    shipped: int = SQLField(default=0, sa_column=Column(BigInteger, nullable=False))
    received: int = SQLField(default=0, sa_column=Column(BigInteger, nullable=False))
    short: int = SQLField(default=0, sa_column=Column(BigInteger, nullable=False))
    # Standard cost in force when submitted (fen per unit): a later price
    # change never revalues the requisition.
    unit_cost: int | None = SQLField(default=None, sa_column=Column(BigInteger))


# Lines are written and read set-based, through the table: a 50-line
# document is a statement, not 50 ORM objects.
line_t = RequisitionLine.__table__


# -- views -------------------------------------------------------------------------


class LineIn(BaseModel):
    sku: str
    quantity: int


class LineView(BaseModel):
    line_no: int
    sku: str
    name: str
    requested: int
    approved: int | None
    shipped: int
    received: int
    short: int
    unit_cost: int | None = Field(description="Standard cost (fen) when submitted")


class RequisitionSummary(BaseModel):
    number: str
    state: State
    requester: str
    warehouse: str
    quantity: int
    amount: int | None = Field(description="Fen at standard cost, once submitted")
    approved_quantity: int | None
    approved_amount: int | None
    escalated_to: str | None = Field(description="The level it was escalated to, if any")
    created_by: str
    created_at: datetime
    submitted_at: datetime | None


class RequisitionView(RequisitionSummary):
    note: str | None
    lines: list[LineView]
    shipments: list[str]
    history: list[ActionView]


def number(requisition_id: int) -> str:
    return docs.document_number(PREFIX, requisition_id)


def _money(fen: int) -> str:
    return format_amount(fen, 2, "CNY")


# -- reading -----------------------------------------------------------------------

_Requester = aliased(Holder)
_Warehouse = aliased(Holder)


def _summary(session: Session, rq: Requisition, requester: str, warehouse: str) -> dict[str, Any]:
    escalated = approval.level_code(session, rq.escalated_to_rank)
    return {
        "number": number(rq.id),
        "state": State(rq.state),
        "requester": requester,
        "warehouse": warehouse,
        "quantity": rq.quantity,
        "amount": rq.amount,
        "approved_quantity": rq.approved_quantity,
        "approved_amount": rq.approved_amount,
        "escalated_to": escalated,
        "created_by": rq.created_by,
        "created_at": rq.created_at,
        "submitted_at": rq.submitted_at,
    }


def view(session: Session, rq: Requisition) -> RequisitionView:
    codes = dict(
        session.execute(
            select(Holder.id, Holder.code).where(
                Holder.id.in_([rq.requester_holder_id, rq.warehouse_holder_id])
            )
        ).all()
    )
    lines = session.execute(
        select(line_t, Commodity.code.label("sku"), Part.name_en, Commodity.name)
        .join(Commodity, Commodity.id == line_t.c.commodity_id)
        .outerjoin(Part, Part.commodity_id == Commodity.id)
        .where(line_t.c.requisition_id == rq.id)
        .order_by(line_t.c.line_no)
    ).all()
    sent = session.scalars(
        select(shipments.Shipment.id)
        .where(shipments.Shipment.requisition_id == rq.id)
        .order_by(shipments.Shipment.id)
    )
    return RequisitionView(
        **_summary(session, rq, codes[rq.requester_holder_id], codes[rq.warehouse_holder_id]),
        note=rq.note,
        lines=[
            LineView(
                line_no=line.line_no,
                sku=line.sku,
                name=line.name_en or line.name,
                requested=line.requested,
                approved=line.approved,
                shipped=line.shipped,
                received=line.received,
                short=line.short,
                unit_cost=line.unit_cost,
            )
            for line in lines
        ],
        shipments=[shipments.number(i) for i in sent],
        history=docs.history(session, "requisition", rq.id),
    )


def _visible(actor: Actor, rq: Requisition) -> bool:
    return actor.sees_everything or actor.holder_id == rq.requester_holder_id


def _not_found(requisition_number: str) -> NotFound:
    return NotFound(
        f"requisition {requisition_number} does not exist", requisition=requisition_number
    )


def get(session: Session, actor: Actor, requisition_number: str) -> RequisitionView:
    rq = session.get(Requisition, docs.document_id(PREFIX, requisition_number, "requisition"))
    if rq is None or not _visible(actor, rq):
        raise _not_found(requisition_number)
    return view(session, rq)


class Awaiting(enum.StrEnum):
    """An approver's queue: what they may decide, and what is beyond them."""

    WITHIN = "within"
    ABOVE = "above"


def list_requisitions(
    session: Session,
    actor: Actor,
    *,
    state: State | None = None,
    requester: str | None = None,
    warehouse: str | None = None,
    awaiting: Awaiting | None = None,
    to_ship: bool = False,
    after: str | None = None,
    limit: int = 100,
    descending: bool = False,
) -> list[RequisitionSummary]:
    """Requisitions, oldest first (a queue is worked from its oldest), or
    newest first with `descending` (`after` then pages on to older ones).
    `awaiting` is the caller's approval queue: submitted requisitions within
    both of their limits (and not escalated past their level), or above.
    `to_ship` is the warehouse's: approved units not shipped yet."""
    stmt = (
        select(Requisition, _Requester.code, _Warehouse.code)
        .join(_Requester, _Requester.id == Requisition.requester_holder_id)
        .join(_Warehouse, _Warehouse.id == Requisition.warehouse_holder_id)
        .order_by(Requisition.id.desc() if descending else Requisition.id)
        .limit(max(1, min(limit, 1000)))
    )
    if not actor.sees_everything:
        stmt = stmt.where(Requisition.requester_holder_id == actor.holder_id)
    if state is not None:
        stmt = stmt.where(Requisition.state == state.value)
    if requester is not None:
        stmt = stmt.where(_Requester.code == requester)
    if warehouse is not None:
        stmt = stmt.where(_Warehouse.code == warehouse)
    if awaiting is not None:
        limits = approval.limits_of(session, actor, "requisition")
        within = (
            (Requisition.quantity <= limits.quantity_limit)
            & (Requisition.amount <= limits.amount_limit)
            & (
                Requisition.escalated_to_rank.is_(None)
                | (Requisition.escalated_to_rank <= limits.rank)
            )
        )
        stmt = stmt.where(Requisition.state == State.SUBMITTED.value)
        stmt = stmt.where(within if awaiting is Awaiting.WITHIN else ~within)
    if to_ship:
        unshipped = select(RequisitionLine.requisition_id).where(
            RequisitionLine.requisition_id == Requisition.id,
            RequisitionLine.approved > RequisitionLine.shipped,
        )
        stmt = stmt.where(
            Requisition.state.in_([State.APPROVED.value, State.ISSUED.value]), unshipped.exists()
        )
    if after is not None:
        cursor = docs.cursor_id(PREFIX, after, "requisition")
        stmt = stmt.where(Requisition.id < cursor if descending else Requisition.id > cursor)
    return [
        RequisitionSummary(**_summary(session, rq, requester_code, warehouse_code))
        for rq, requester_code, warehouse_code in session.execute(stmt)
    ]


class AvailabilityView(BaseModel):
    requester: str
    warehouse: str = Field(description="The warehouse that issues to the requester")
    available: dict[str, int] = Field(
        description="Units usable and not promised there (STOCK), per part asked about; "
        "a SKU that is no part is left out"
    )


def availability(
    session: Session, actor: Actor, skus: Sequence[str], *, requester: str | None = None
) -> AvailabilityView:
    """What the warehouse that issues to `requester` has available of each
    part in `skus`: what a requisition raised now could be approved from.
    A service point asks for itself only (it may not read the warehouse's
    stock view); staff name the requester."""
    docs.require_roles(actor, "see what a warehouse has available", *REQUESTERS, Role.APPROVER)
    if len(skus) > MAX_LINES:
        raise InvalidInput(f"ask about at most {MAX_LINES} parts at once", field="skus")
    holder, warehouse = _requester(session, actor, requester)
    wanted = sorted({sku for sku in skus if isinstance(sku, str) and sku})
    if not wanted:
        return AvailabilityView(requester=holder.code, warehouse=warehouse.code, available={})
    parts = session.execute(
        select(Commodity.code, Commodity.id).where(
            Commodity.code.in_(wanted), Commodity.kind == "part"
        )
    ).all()
    balances = dict(
        session.execute(
            select(Account.commodity_id, Account.balance).where(
                Account.holder_id == warehouse.id,
                Account.purpose == Purpose.STOCK.value,
                Account.commodity_id.in_([cid for _, cid in parts]),
            )
        ).all()
    )
    return AvailabilityView(
        requester=holder.code,
        warehouse=warehouse.code,
        available={code: balances.get(cid, 0) for code, cid in parts},
    )


# -- writing -----------------------------------------------------------------------


def _lock(session: Session, actor: Actor, requisition_number: str) -> Requisition:
    requisition_id = docs.document_id(PREFIX, requisition_number, "requisition")
    rq = session.scalar(
        select(Requisition).where(Requisition.id == requisition_id).with_for_update()
    )
    if rq is None or not _visible(actor, rq):
        raise _not_found(requisition_number)
    return rq


def check_lines(
    session: Session,
    lines: Sequence[LineIn],
    *,
    active_only: bool = True,
    what: str = "a requisition",
    field: str = "lines",
    max_lines: int = MAX_LINES,
) -> list[tuple[int, str, int]]:
    """(commodity id, SKU, quantity) of each line, or a problem naming the
    line (`field[i]`, in the words of `what` the lines belong to). Only
    active parts are requisitioned; any part may travel back."""
    lines_field = field
    if not lines:
        raise InvalidInput(f"{what} needs at least one line", field=lines_field)
    if len(lines) > max_lines:
        raise InvalidInput(f"{what} has at most {max_lines} lines", field=lines_field)
    skus = [line.sku for line in lines]
    known = {
        code: (cid, kind, serialized, active)
        for code, cid, kind, serialized, active in session.execute(
            select(Commodity.code, Commodity.id, Commodity.kind, Commodity.serialized, Part.active)
            .outerjoin(Part, Part.commodity_id == Commodity.id)
            .where(Commodity.code.in_(set(skus)))
        )
    }
    out = []
    seen: dict[str, int] = {}
    for i, line in enumerate(lines, start=1):
        field = f"{lines_field}[{i - 1}]"
        if type(line.quantity) is not int or not 1 <= line.quantity <= MAX_LINE_QUANTITY:
            raise InvalidInput(
                f"line {i}: quantity {line.quantity} is not valid; ask for 1 to "
                f"{MAX_LINE_QUANTITY:,} units",
                field=f"{field}.quantity",
                line=i,
            )
        found = known.get(line.sku)
        if found is None or found[1] != "part":
            raise InvalidInput(
                f"line {i}: {line.sku!r} is not a part in the catalog; look it up under /parts",
                field=f"{field}.sku",
                line=i,
                sku=line.sku,
            )
        commodity_id, _, serialized, active = found
        if serialized:
            raise InvalidInput(
                f"line {i}: {line.sku} is serialized; serialized units move by serial, "
                "not in these documents",
                field=f"{field}.sku",
                line=i,
                sku=line.sku,
            )
        if active_only and active is not True:
            raise InvalidInput(
                f"line {i}: part {line.sku} is inactive and may not be requisitioned",
                field=f"{field}.sku",
                line=i,
                sku=line.sku,
            )
        if line.sku in seen:
            raise InvalidInput(
                f"line {i}: {line.sku} is already line {seen[line.sku]}; "
                "ask for each part once, with the total quantity",
                field=f"{field}.sku",
                line=i,
                sku=line.sku,
            )
        seen[line.sku] = i
        out.append((commodity_id, line.sku, line.quantity))
    return out


def _requester(session: Session, actor: Actor, requester: str | None) -> tuple[Holder, Holder]:
    """The requesting location and the warehouse that issues to it."""
    if actor.role is Role.SERVICE_POINT:
        own = session.get(Holder, actor.holder_id)
        if requester not in (None, own.code):
            # Another point answers exactly like an unknown one.
            raise NotFound(f"no location {requester!r}", location=requester)
        requester = own.code
    if requester is None:
        raise InvalidInput("name the requesting location", field="requester")
    try:
        located = locations.require_may_requisition(session, requester)
    except NotFound:
        raise InvalidInput(
            f"requester {requester!r} is not a location; name a service point or a regional "
            "warehouse (see /locations)",
            field="requester",
        ) from None
    holder = session.scalar(select(Holder).where(Holder.code == requester))
    if located.kind is locations.LocationKind.SERVICE_POINT:
        if located.served_by is None:
            raise InvalidState(
                f"{requester} has no regional warehouse serving it; an admin must set one",
                location=requester,
            )
        warehouse = session.scalar(select(Holder).where(Holder.code == located.served_by))
    elif located.kind is locations.LocationKind.REGIONAL_WAREHOUSE:
        warehouse = session.scalar(
            select(Holder).where(Holder.kind == HolderKind.HQ.value).order_by(Holder.id).limit(1)
        )
        if warehouse is None:
            raise InvalidState("there is no HQ warehouse to requisition from", location=requester)
    else:
        raise InvalidInput(
            f"{requester} is HQ; HQ buys from suppliers with purchase orders", field="requester"
        )
    return holder, warehouse


def create(
    session: Session,
    actor: Actor,
    *,
    lines: Sequence[LineIn],
    requester: str | None = None,
    note: str | None = None,
    submit: bool = False,
    key: str | None = None,
) -> RequisitionView:
    """A new requisition, as a draft (or submitted at once with `submit`)."""
    docs.require_roles(actor, "raise a requisition", *REQUESTERS)
    request = {
        "requester": requester,
        "lines": [line.model_dump() for line in lines],
        "note": note,
        "submit": submit,
    }
    run = docs.begin(session, actor, "requisition", "create", key, request)
    if run.replay is not None:
        return RequisitionView.model_validate(run.replay)
    note = docs.reason_text(note, field="note")
    holder, warehouse = _requester(session, actor, requester)
    checked = check_lines(session, lines)
    now = utcnow()
    rq = Requisition(
        requester_holder_id=holder.id,
        warehouse_holder_id=warehouse.id,
        state=State.DRAFT.value,
        note=note,
        quantity=sum(q for *_, q in checked),
        created_by=actor.username,
        created_at=now,
        updated_at=now,
    )
    session.add(rq)
    session.flush()
    session.execute(
        insert(line_t),
        [
            {
                "requisition_id": rq.id, "line_no": i, "commodity_id": commodity_id,
                "requested": quantity, "shipped": 0, "received": 0, "short": 0,
            }
            for i, (commodity_id, _, quantity) in enumerate(checked, start=1)
        ],
    )  # fmt: skip
    run.record(rq.id, None, State.DRAFT.value, reason=note)
    if submit:
        detail = _submit(session, rq, checked=True)
        docs.step(
            session, actor, "requisition", rq.id, "submit", State.DRAFT.value,
            State.SUBMITTED.value, detail=detail,
        )  # fmt: skip
    return run.finish(view(session, rq))


def _submit(session: Session, rq: Requisition, *, checked: bool = False) -> dict[str, int]:
    """Value the lines at today's standard cost and put it in the queue;
    the figures for the history step. `checked`: the requester was found
    active in this unit of work already."""
    if not checked:
        requester = session.get(Holder, rq.requester_holder_id)
        locations.require_may_requisition(session, requester.code)
    lines = _line_rows(session, rq)
    costs = standard_costs_on(
        session, (line.commodity_id for line in lines), session.info["window"].today()
    )
    amount = 0
    for line in lines:
        cost = costs.get(line.commodity_id)
        if cost is None:
            raise InvalidState(
                f"line {line.line_no}: {line.sku} has no standard cost in force today, so the "
                "requisition cannot be valued; an admin must set its price",
                line=line.line_no,
                sku=line.sku,
            )
        amount += line.requested * cost
    if amount > MAX_BALANCE:
        raise InvalidInput(
            f"the requisition is worth {_money(amount)}, beyond what one document may carry "
            f"({_money(MAX_BALANCE)}); split it",
            field="lines",
        )
    docs.update_lines(
        session, line_t, "requisition_id", rq.id,
        {"unit_cost": {line.line_no: costs[line.commodity_id] for line in lines}},
    )  # fmt: skip
    rq.amount = amount
    rq.state = State.SUBMITTED.value
    rq.submitted_at = rq.updated_at = utcnow()
    return {"quantity": rq.quantity, "amount": amount}


def _line_rows(session: Session, rq: Requisition) -> list:
    """The lines as rows (line_no, commodity_id, sku, requested, approved,
    shipped, received, short, unit_cost); changed with docs.update_lines."""
    return session.execute(
        select(line_t, Commodity.code.label("sku"))
        .join(Commodity, Commodity.id == line_t.c.commodity_id)
        .where(line_t.c.requisition_id == rq.id)
        .order_by(line_t.c.line_no)
    ).all()


def submit(
    session: Session, actor: Actor, requisition_number: str, *, key: str | None = None
) -> RequisitionView:
    docs.require_roles(actor, "submit a requisition", *REQUESTERS)
    run = docs.begin(session, actor, "requisition", "submit", key, {"number": requisition_number})
    if run.replay is not None:
        return RequisitionView.model_validate(run.replay)
    rq = _lock(session, actor, requisition_number)
    if rq.state != State.DRAFT:
        docs.refuse_state("requisition", requisition_number, rq.state, "submitting", ["draft"])
    detail = _submit(session, rq)
    run.record(rq.id, State.DRAFT.value, State.SUBMITTED.value, detail=detail)
    return run.finish(view(session, rq))


@dataclass(frozen=True, slots=True)
class _Decision:
    approved: dict[int, int]  # line no → units
    quantity: int
    amount: int


def _decide(rq_number: str, lines: list, approved: dict[int, int] | None):
    approved = dict(approved or {})
    by_no = {line.line_no: line for line in lines}
    for line_no, quantity in approved.items():
        line = by_no.get(line_no)
        if line is None:
            raise InvalidInput(
                f"requisition {rq_number} has no line {line_no}; its lines are 1 to {len(lines)}",
                field="lines",
                line=line_no,
            )
        if type(quantity) is not int or not 0 <= quantity <= line.requested:
            raise InvalidInput(
                f"line {line_no}: {quantity} approved, but {line.requested} were asked for; "
                f"approve 0 to {line.requested}",
                field="lines",
                line=line_no,
                requested=line.requested,
            )
    out = {line.line_no: approved.get(line.line_no, line.requested) for line in lines}
    quantity = sum(out.values())
    if quantity == 0:
        raise InvalidInput(
            "nothing would be approved; reject the requisition instead, with a reason",
            field="lines",
        )
    amount = sum(out[line.line_no] * (line.unit_cost or 0) for line in lines)
    return _Decision(out, quantity, amount)


def approve(
    session: Session,
    actor: Actor,
    requisition_number: str,
    *,
    lines: dict[int, int] | None = None,
    reason: str | None = None,
    key: str | None = None,
) -> RequisitionView:
    """Approve in full, or in part per line (`lines`: line no → units; a line
    left out is approved in full), within the approver's limits, and reserve
    the approved units at the issuing warehouse."""
    docs.require_roles(actor, "approve a requisition", Role.APPROVER, *SELF_APPROVERS)
    request = {"number": requisition_number, "lines": lines, "reason": reason}
    run = docs.begin(session, actor, "requisition", "approve", key, request)
    if run.replay is not None:
        return RequisitionView.model_validate(run.replay)
    reason = docs.reason_text(reason)
    limits = approval.limits_of(session, actor, "requisition")
    rq = _lock(session, actor, requisition_number)
    if actor.role in SELF_APPROVERS and rq.created_by != actor.username:
        raise Forbidden(
            f"requisition {requisition_number} was raised by {rq.created_by}; a "
            f"{actor.role.value} approves only the requisitions they raise releasing a plan, "
            "an approver decides the others",
            requisition=requisition_number,
        )
    if rq.state != State.SUBMITTED:
        docs.refuse_state("requisition", requisition_number, rq.state, "approving", ["submitted"])
    requester = session.get(Holder, rq.requester_holder_id)
    locations.require_may_requisition(session, requester.code)
    approval.require_level(rq.escalated_to_rank, f"requisition {requisition_number}", limits)
    rows = _line_rows(session, rq)
    decision = _decide(requisition_number, rows, lines)
    if decision.quantity > limits.quantity_limit:
        raise BeyondApprovalLimit(
            f"approving {decision.quantity:,} units is beyond your quantity limit of "
            f"{limits.quantity_limit:,} (level {limits.code}); escalate it to the next level",
            limit="quantity",
            quantity_limit=limits.quantity_limit,
            quantity=decision.quantity,
            level=limits.code,
        )
    if decision.amount > limits.amount_limit:
        raise BeyondApprovalLimit(
            f"approving {_money(decision.amount)} is beyond your amount limit of "
            f"{_money(limits.amount_limit)} (level {limits.code}); escalate it to the next level",
            limit="amount",
            amount_limit=limits.amount_limit,
            amount=decision.amount,
            level=limits.code,
        )
    warehouse = session.get(Holder, rq.warehouse_holder_id)
    postings = []
    for line in rows:
        units = decision.approved[line.line_no]
        if units:
            postings += [
                PostingIn(account=account_code(warehouse.code, "STOCK", line.sku), amount=-units),
                PostingIn(account=account_code(warehouse.code, "RESERVED", line.sku), amount=units),
            ]
    docs.update_lines(session, line_t, "requisition_id", rq.id, {"approved": decision.approved})
    result = journal.post_entries(
        session,
        [
            EntryIn(
                kind="requisition_reserve",
                refs={"requisition": requisition_number},
                memo=f"reserved at {warehouse.code} for {requester.code}",
                postings=postings,
            )
        ],
        actor=actor.username,
    )[0]
    rq.state = State.APPROVED.value
    rq.approved_quantity = decision.quantity
    rq.approved_amount = decision.amount
    rq.updated_at = utcnow()
    requested = {line.line_no: line.requested for line in rows}
    partial = {str(k): v for k, v in decision.approved.items() if v != requested[k]}
    run.record(
        rq.id,
        State.SUBMITTED.value,
        State.APPROVED.value,
        reason=reason,
        detail={
            "level": limits.code,
            "quantity": decision.quantity,
            "amount": decision.amount,
            **({"approved_in_part": partial} if partial else {}),
        },
        entry_id=result.entry_id,
    )
    return run.finish(view(session, rq))


def reject(
    session: Session,
    actor: Actor,
    requisition_number: str,
    *,
    reason: str,
    key: str | None = None,
) -> RequisitionView:
    docs.require_roles(actor, "reject a requisition", Role.APPROVER)
    request = {"number": requisition_number, "reason": reason}
    run = docs.begin(session, actor, "requisition", "reject", key, request)
    if run.replay is not None:
        return RequisitionView.model_validate(run.replay)
    reason = docs.reason_text(reason, required=True)
    limits = approval.limits_of(session, actor, "requisition")
    rq = _lock(session, actor, requisition_number)
    if rq.state != State.SUBMITTED:
        docs.refuse_state("requisition", requisition_number, rq.state, "rejecting", ["submitted"])
    approval.require_level(rq.escalated_to_rank, f"requisition {requisition_number}", limits)
    rq.state = State.REJECTED.value
    rq.updated_at = utcnow()
    run.record(
        rq.id, State.SUBMITTED.value, State.REJECTED.value, reason=reason,
        detail={"level": limits.code},
    )  # fmt: skip
    return run.finish(view(session, rq))


def escalate(
    session: Session,
    actor: Actor,
    requisition_number: str,
    *,
    reason: str | None = None,
    key: str | None = None,
) -> RequisitionView:
    """Pass a requisition beyond the approver's limits to the next level up."""
    docs.require_roles(actor, "escalate a requisition", Role.APPROVER)
    request = {"number": requisition_number, "reason": reason}
    run = docs.begin(session, actor, "requisition", "escalate", key, request)
    if run.replay is not None:
        return RequisitionView.model_validate(run.replay)
    reason = docs.reason_text(reason)
    limits = approval.limits_of(session, actor, "requisition")
    rq = _lock(session, actor, requisition_number)
    if rq.state != State.SUBMITTED:
        docs.refuse_state("requisition", requisition_number, rq.state, "escalating", ["submitted"])
    approval.require_level(rq.escalated_to_rank, f"requisition {requisition_number}", limits)
    if rq.quantity <= limits.quantity_limit and (rq.amount or 0) <= limits.amount_limit:
        raise InvalidState(
            f"requisition {requisition_number} ({rq.quantity:,} units, {_money(rq.amount or 0)}) "
            f"is within your limits (level {limits.code}); approve or reject it yourself",
            number=requisition_number,
            state=rq.state,
        )
    higher = approval.next_level(
        session, limits, f"requisition {requisition_number}", rq.state,
        "Approve it in part within your limits, or reject it",
    )  # fmt: skip
    rq.escalated_to_rank = higher.rank
    rq.updated_at = utcnow()
    run.record(
        rq.id,
        State.SUBMITTED.value,
        State.SUBMITTED.value,
        reason=reason,
        detail={"from_level": limits.code, "to_level": higher.code},
    )
    return run.finish(view(session, rq))


def cancel(
    session: Session,
    actor: Actor,
    requisition_number: str,
    *,
    reason: str | None = None,
    key: str | None = None,
) -> RequisitionView:
    """Withdraw a draft or submitted requisition, or an approved one while
    nothing is shipped (its reservation goes back to stock)."""
    # The requesting side withdraws; an approver decides (rejects) instead.
    docs.require_roles(actor, "cancel a requisition", *REQUESTERS)
    request = {"number": requisition_number, "reason": reason}
    run = docs.begin(session, actor, "requisition", "cancel", key, request)
    if run.replay is not None:
        return RequisitionView.model_validate(run.replay)
    reason = docs.reason_text(reason)
    rq = _lock(session, actor, requisition_number)
    allowed = (State.DRAFT, State.SUBMITTED, State.APPROVED)
    if rq.state not in allowed:
        why = " (something is shipped)" if rq.state == State.ISSUED else ""
        docs.refuse_state(
            "requisition", requisition_number, rq.state + why, "cancelling",
            ["draft", "submitted", "approved with nothing shipped"],
        )  # fmt: skip
    entry_id = None
    if rq.state == State.APPROVED:
        entry_id = _release(session, actor, rq, requisition_number, "cancelled")
    before = rq.state
    rq.state = State.CANCELLED.value
    rq.updated_at = utcnow()
    run.record(rq.id, before, State.CANCELLED.value, reason=reason, entry_id=entry_id)
    return run.finish(view(session, rq))


def _release(session: Session, actor: Actor, rq: Requisition, rq_number: str, why: str):
    """Move what is still reserved for `rq` back to the warehouse's stock."""
    warehouse = session.get(Holder, rq.warehouse_holder_id)
    rows = _line_rows(session, rq)
    postings = []
    for line in rows:
        left = (line.approved or 0) - line.shipped
        if left:
            postings += [
                PostingIn(account=account_code(warehouse.code, "RESERVED", line.sku), amount=-left),
                PostingIn(account=account_code(warehouse.code, "STOCK", line.sku), amount=left),
            ]
    if not postings:
        return None
    return journal.post_entries(
        session,
        [
            EntryIn(
                kind="requisition_release",
                refs={"requisition": rq_number},
                memo=f"reservation released: {why}",
                postings=postings,
            )
        ],
        actor=actor.username,
    )[0].entry_id


def issue(
    session: Session,
    actor: Actor,
    requisition_number: str,
    *,
    lines: dict[int, int] | None = None,
    courier: str | None = None,
    tracking_number: str | None = None,
    key: str | None = None,
) -> shipments.ShipmentView:
    """Ship approved units (`lines`: line no → units; by default everything
    approved and not yet shipped) from the warehouse's reserved stock."""
    docs.require_roles(actor, "issue parts", *shipments.STAFF)
    request = {
        "number": requisition_number,
        "lines": lines,
        "courier": courier,
        "tracking_number": tracking_number,
    }
    run = docs.begin(session, actor, "requisition", "issue", key, request)
    if run.replay is not None:
        return shipments.ShipmentView.model_validate(run.replay)
    courier = shipments.courier_text(courier, "courier")
    tracking_number = shipments.courier_text(tracking_number, "tracking_number")
    rq = _lock(session, actor, requisition_number)
    if rq.state not in (State.APPROVED, State.ISSUED):
        docs.refuse_state(
            "requisition", requisition_number, rq.state, "issuing", ["approved", "issued"]
        )
    rows = _line_rows(session, rq)
    open_ = {line.line_no: (line.approved or 0) - line.shipped for line in rows}
    if not any(open_.values()):
        docs.refuse_state(
            "requisition",
            requisition_number,
            f"{rq.state} with everything approved already shipped",
            "issuing",
            ["approved", "issued with units left to ship"],
        )
    wanted = dict(lines) if lines is not None else {k: v for k, v in open_.items() if v}
    by_no = {line.line_no: line for line in rows}
    to_ship = []
    shipped = {}
    for line_no, units in sorted(wanted.items()):
        if line_no not in by_no:
            raise InvalidInput(
                f"requisition {requisition_number} has no line {line_no}; "
                f"its lines are 1 to {len(rows)}",
                field="lines",
                line=line_no,
            )
        if type(units) is not int or not 0 <= units <= open_[line_no]:
            raise InvalidInput(
                f"line {line_no}: {units} to ship, but {open_[line_no]} approved units are left "
                "to ship; ship at most what was approved",
                field="lines",
                line=line_no,
                left_to_ship=open_[line_no],
            )
        if units:
            line = by_no[line_no]
            shipped[line_no] = line.shipped + units
            to_ship.append(shipments.Line(line.commodity_id, line.sku, units, line_no))
    if not to_ship:
        raise InvalidInput("nothing to ship: give at least one line more than 0", field="lines")
    receiver = session.get(Holder, rq.requester_holder_id)
    check = None
    if receiver.kind == HolderKind.SERVICE_POINT:
        # Under the point's credit lock until the commit: clerks issuing to
        # one point at once are checked one after another.
        check = credit.require_headroom(
            session,
            receiver,
            [(line.commodity_id, line.sku, line.quantity) for line in to_ship],
            document=requisition_number,
        )
    docs.update_lines(session, line_t, "requisition_id", rq.id, {"shipped": shipped})
    shipment, result = shipments.ship(
        session,
        actor,
        kind=shipments.ShipmentKind.ISSUE,
        sender=session.get(Holder, rq.warehouse_holder_id),
        receiver=receiver,
        lines=to_ship,
        refs={"requisition": requisition_number},
        requisition_id=rq.id,
        courier=courier,
        tracking_number=tracking_number,
    )
    before = rq.state
    rq.state = State.ISSUED.value
    rq.updated_at = utcnow()
    shipment_number = shipments.number(shipment.id)
    detail = {"shipment": shipment_number, "units": sum(line.quantity for line in to_ship)}
    shipped_detail = {"courier": courier, "tracking_number": tracking_number}
    if check is not None:
        detail["value"] = check.value
        override = credit.spend_override(session, check, shipment_number)
        if override is not None:
            detail["credit_override"] = shipped_detail["credit_override"] = override
            detail["over_limit_by"] = check.value - check.headroom
    run.record(rq.id, before, State.ISSUED.value, detail=detail, entry_id=result.entry_id)
    docs.step(
        session, actor, "shipment", shipment.id, "ship", None,
        shipments.ShipmentState.IN_TRANSIT.value, entry_id=result.entry_id,
        detail=shipped_detail,
    )  # fmt: skip
    return run.finish(shipments.view(session, shipment))


def grant_credit_override(
    session: Session, actor: Actor, requisition_number: str, reason: str, key: str | None = None
) -> credit.OverrideView:
    """Finance lets the next shipment of a point's requisition pass the
    point's credit limit, with a reason (ledger/money/credit.py)."""
    docs.require_roles(actor, "override a credit limit", *credit.FINANCE)
    rq = _lock(session, actor, requisition_number)
    requester = session.get(Holder, rq.requester_holder_id)
    if requester.kind != HolderKind.SERVICE_POINT:
        raise InvalidInput(
            f"requisition {requisition_number} is {requester.code}'s, a warehouse's: only a "
            "service point has a credit limit",
            field="number",
        )
    if rq.state not in (State.SUBMITTED, State.APPROVED, State.ISSUED):
        docs.refuse_state(
            "requisition", requisition_number, rq.state, "a credit override",
            ["submitted", "approved", "issued"],
        )  # fmt: skip
    return credit.grant_override(session, actor, requester, requisition_number, reason, key)


def terminate_point(
    session: Session,
    actor: Actor,
    point: str,
    *,
    reason: str,
    method: str = "bank_transfer",
    reference: str | None = None,
) -> termination.TerminationView:
    """Terminate a point (ledger/money/termination.py), blocked also by its
    requisitions and shipments still under way."""
    holder = session.scalar(select(Holder).where(Holder.code == point))
    under_way: list[str] = []
    if holder is not None:
        ship_t = shipments.Shipment.__table__
        under_way += [
            number(rid)
            for rid in session.scalars(
                select(Requisition.id).where(
                    Requisition.requester_holder_id == holder.id,
                    Requisition.state.not_in(
                        [State.CLOSED.value, State.CANCELLED.value, State.REJECTED.value]
                    ),
                )
            )
        ]
        under_way += [
            shipments.number(sid)
            for sid in session.scalars(
                select(ship_t.c.id).where(
                    (ship_t.c.from_holder_id == holder.id) | (ship_t.c.to_holder_id == holder.id),
                    ship_t.c.state == shipments.ShipmentState.IN_TRANSIT.value,
                )
            )
        ]
    return termination.terminate(
        session, actor, point, reason=reason, method=method, reference=reference,
        open_documents=under_way,
    )  # fmt: skip


def lock_by_id(session: Session, requisition_id: int) -> Requisition:
    """Row-lock a requisition whose shipment is being received, before any
    account is touched: every action then locks requisition before accounts,
    as an issue does, so a receipt and an issue cannot deadlock."""
    return session.scalar(
        select(Requisition).where(Requisition.id == requisition_id).with_for_update()
    )


def after_receipt(
    session: Session,
    actor: Actor,
    requisition_id: int,
    settled: Sequence[shipments.Settled] = (),
) -> None:
    """Bring a requisition up to date with its shipments: add a receipt's
    `settled` lines to its own, then received once every approved unit is
    shipped and every shipment received, closed once no shortage of it is
    still open. The caller holds the requisition's lock."""
    rq = session.get(Requisition, requisition_id)
    if settled:
        by_line = {s.requisition_line_no: s for s in settled}
        current = {
            line.line_no: line for line in _line_rows(session, rq) if line.line_no in by_line
        }
        docs.update_lines(
            session, line_t, "requisition_id", rq.id,
            {
                "received": {n: line.received + by_line[n].received for n, line in current.items()},
                "short": {n: line.short + by_line[n].short for n, line in current.items()},
            },
        )  # fmt: skip
    ship_t = shipments.Shipment.__table__
    left_to_ship = (
        select(func.count())
        .select_from(line_t)
        .where(
            line_t.c.requisition_id == rq.id,
            func.coalesce(line_t.c.approved, 0) > line_t.c.shipped,
        )
        .scalar_subquery()
    )
    in_transit = (
        select(func.count())
        .select_from(ship_t)
        .where(
            ship_t.c.requisition_id == rq.id,
            ship_t.c.state == shipments.ShipmentState.IN_TRANSIT.value,
        )
        .scalar_subquery()
    )
    open_short = (
        select(func.count())
        .select_from(shipments.Discrepancy)
        .join(ship_t, ship_t.c.id == shipments.Discrepancy.shipment_id)
        .where(
            ship_t.c.requisition_id == rq.id,
            shipments.Discrepancy.state == shipments.DiscrepancyState.OPEN.value,
        )
        .scalar_subquery()
    )
    left, travelling, open_ = session.execute(select(left_to_ship, in_transit, open_short)).one()
    target = rq.state
    if not left and not travelling:
        target = State.RECEIVED.value if open_ else State.CLOSED.value
    if target != rq.state:
        action = "close" if target == State.CLOSED else "receive"
        docs.step(session, actor, "requisition", rq.id, action, rq.state, target)
        rq.state = target
        rq.updated_at = utcnow()
