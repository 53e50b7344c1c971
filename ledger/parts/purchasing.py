"""Purchase orders (采购计划): HQ buys parts from a supplier at agreed prices;
an approver decides within their amount limit; the warehouse receives.

    draft ─submit→ submitted ─approve→ approved ─receive→ partly_received ─receive→ received
      │               │  ↺ escalate        │    └──────────(all of it)──────────────↗
      └─cancel─┬──────┴─reject→ rejected   │
               └───────────────────────────┴─cancel (nothing received)→ cancelled

A line's quantity obeys the supplier's minimum order and pack size
(`suppliers.check_order_quantity`). The amount of the order is its lines at
the agreed unit prices; approvers approve only within their level's AMOUNT
limit and escalate what is beyond it. A level's quantity limit is for
requisitions (units leaving a warehouse) and does not apply to purchases:
what a purchase commits is money.

Receiving is one journal entry per receipt: the units move from the
supplier's STOCK to HQ's, and their cost at the agreed prices is owed to the
supplier (PURCHASES:STOCK:CNY debit, SUPPLIER:STOCK:CNY credit). Locking the
order before reading what is left to receive makes two receipts of the same
last units at once take turns: the second sees the first and is refused.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    select,
)
from sqlalchemy.orm import Session
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from ledger import journal
from ledger.amounts import MAX_AMOUNT, MAX_BALANCE, format_amount
from ledger.catalog import suppliers as sup
from ledger.catalog.parts import Part
from ledger.codes import account_code
from ledger.errors import BeyondApprovalLimit, InvalidInput, InvalidState, NotFound
from ledger.journal import EntryIn, PostingIn
from ledger.models import Commodity, CommodityKind, Holder, HolderKind, Role
from ledger.parts import approval
from ledger.parts import documents as docs
from ledger.parts.documents import ActionView
from ledger.policy import Actor
from ledger.types import UTCDateTime, utcnow

PREFIX = "PO"
DOCUMENT = "purchase_order"
MAX_LINES = docs.MAX_LINES
MAX_LINE_QUANTITY = docs.MAX_LINE_QUANTITY
MAX_YEARS_AHEAD = 3
MONEY = "CNY"
# Who raises, submits and withdraws purchase orders; who receives them.
BUYERS = (Role.ADMIN, Role.WAREHOUSE_CLERK, Role.PLANNER)
RECEIVERS = (Role.WAREHOUSE_CLERK, Role.ADMIN)
# Every staff role reads purchase orders; a service point does not (prices
# agreed with suppliers are not theirs to see).
READERS = sup.STAFF


class State(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    PARTLY_RECEIVED = "partly_received"
    RECEIVED = "received"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


OPEN = (State.APPROVED, State.PARTLY_RECEIVED)
_STATES = ", ".join(f"'{s.value}'" for s in State)


class PurchaseOrder(SQLModel, table=True):
    __tablename__ = "purchase_order"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATES})", name="state"),
        Index("ix_purchase_order_state", "state", "id"),
        Index("ix_purchase_order_supplier_holder_id", "supplier_holder_id", "id"),
    )

    id: int | None = SQLField(default=None, sa_column=Column(Integer, primary_key=True))
    supplier_holder_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("holder.id"), nullable=False)
    )
    state: str = SQLField(max_length=16)
    expected_on: date = SQLField(sa_column=Column(Date, nullable=False))
    note: str | None = SQLField(default=None, max_length=docs.REASON_MAX)
    # Fen at the agreed prices: what the approval compares with the limit.
    amount: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    # Set by an escalation: only approvers of this rank or above decide.
    escalated_to_rank: int | None = SQLField(default=None, sa_column=Column(Integer))
    created_by: str = SQLField(max_length=80)
    created_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))
    submitted_at: datetime | None = SQLField(default=None, sa_column=Column(UTCDateTime()))
    updated_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))


class PurchaseOrderLine(SQLModel, table=True):
    __tablename__ = "purchase_order_line"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price > 0", name="unit_price_positive"),
        CheckConstraint("received >= 0 AND received <= quantity", name="received_within"),
    )

    purchase_order_id: int = SQLField(
        sa_column=Column(
            Integer, ForeignKey("purchase_order.id"), primary_key=True, autoincrement=False
        )
    )
    line_no: int = SQLField(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    commodity_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("commodity.id"), nullable=False)
    )
    quantity: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    # Agreed with the supplier, fen per unit: what a receipt owes them.
    unit_price: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    received: int = SQLField(default=0, sa_column=Column(BigInteger, nullable=False))


# -- views -------------------------------------------------------------------------


class LineIn(BaseModel):
    sku: str
    quantity: int
    unit_price: int


class LineView(BaseModel):
    line_no: int
    sku: str
    name: str
    quantity: int
    unit_price: int = Field(description="Agreed fen per unit")
    received: int
    amount: int = Field(description="quantity × unit_price, fen")


class PurchaseOrderSummary(BaseModel):
    number: str
    state: State
    supplier: str
    expected_on: date
    amount: int = Field(description="Fen at the agreed prices")
    escalated_to: str | None = Field(description="The level it was escalated to, if any")
    created_by: str
    created_at: datetime
    submitted_at: datetime | None


class PurchaseOrderView(PurchaseOrderSummary):
    note: str | None
    lines: list[LineView]
    receipts: list[str] = Field(description="The journal entry of each receipt, oldest first")
    history: list[ActionView]


def number(purchase_order_id: int) -> str:
    return docs.document_number(PREFIX, purchase_order_id)


def _money(fen: int) -> str:
    return format_amount(fen, 2, MONEY)


# -- reading -----------------------------------------------------------------------


def _summary(session: Session, po: PurchaseOrder, supplier: str) -> dict[str, Any]:
    escalated = approval.level_code(session, po.escalated_to_rank)
    return {
        "number": number(po.id),
        "state": State(po.state),
        "supplier": supplier,
        "expected_on": po.expected_on,
        "amount": po.amount,
        "escalated_to": escalated,
        "created_by": po.created_by,
        "created_at": po.created_at,
        "submitted_at": po.submitted_at,
    }


def view(session: Session, po: PurchaseOrder) -> PurchaseOrderView:
    supplier = session.get(Holder, po.supplier_holder_id)
    lines = session.execute(
        select(PurchaseOrderLine, Commodity.code, Part.name_en, Commodity.name)
        .join(Commodity, Commodity.id == PurchaseOrderLine.commodity_id)
        .outerjoin(Part, Part.commodity_id == Commodity.id)
        .where(PurchaseOrderLine.purchase_order_id == po.id)
        .order_by(PurchaseOrderLine.line_no)
    )
    receipts = session.scalars(
        select(docs.DocumentAction.entry_id)
        .where(
            docs.DocumentAction.document == DOCUMENT,
            docs.DocumentAction.document_id == po.id,
            docs.DocumentAction.action == "receive",
            docs.DocumentAction.entry_id.is_not(None),
        )
        .order_by(docs.DocumentAction.id)
    )
    return PurchaseOrderView(
        **_summary(session, po, supplier.code),
        note=po.note,
        lines=[
            LineView(
                line_no=line.line_no,
                sku=sku,
                name=name_en or name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                received=line.received,
                amount=line.quantity * line.unit_price,
            )
            for line, sku, name_en, name in lines
        ],
        receipts=[str(entry_id) for entry_id in receipts],
        history=docs.history(session, DOCUMENT, po.id),
    )


def _not_found(po_number: str) -> NotFound:
    return NotFound(f"purchase order {po_number} does not exist", purchase_order=po_number)


def get(session: Session, actor: Actor, po_number: str) -> PurchaseOrderView:
    docs.require_roles(actor, "see purchase orders", *READERS)
    po = session.get(PurchaseOrder, docs.document_id(PREFIX, po_number, "purchase order"))
    if po is None:
        raise _not_found(po_number)
    return view(session, po)


def list_purchase_orders(
    session: Session,
    actor: Actor,
    *,
    state: State | None = None,
    supplier: str | None = None,
    open_only: bool = False,
    late_only: bool = False,
    awaiting: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[PurchaseOrderSummary]:
    """Purchase orders, oldest first. Open: approved or partly received (goods
    still to come); late: open and expected before today. `awaiting` is the
    caller's approval queue: submitted orders within their amount limit (and
    not escalated past their level), or `above` it."""
    docs.require_roles(actor, "see purchase orders", *READERS)
    stmt = (
        select(PurchaseOrder, Holder.code)
        .join(Holder, Holder.id == PurchaseOrder.supplier_holder_id)
        .order_by(PurchaseOrder.id)
        .limit(max(1, min(limit, 1000)))
    )
    if state is not None:
        stmt = stmt.where(PurchaseOrder.state == State(state).value)
    if supplier is not None:
        stmt = stmt.where(Holder.code == supplier)
    if open_only or late_only:
        stmt = stmt.where(PurchaseOrder.state.in_([s.value for s in OPEN]))
    if late_only:
        stmt = stmt.where(PurchaseOrder.expected_on < session.info["window"].today())
    if awaiting is not None:
        if awaiting not in ("within", "above"):
            raise InvalidInput("awaiting is within or above", field="awaiting")
        limits = approval.limits_of(session, actor, "purchase order")
        within = (PurchaseOrder.amount <= limits.amount_limit) & (
            PurchaseOrder.escalated_to_rank.is_(None)
            | (PurchaseOrder.escalated_to_rank <= limits.rank)
        )
        stmt = stmt.where(PurchaseOrder.state == State.SUBMITTED.value)
        stmt = stmt.where(within if awaiting == "within" else ~within)
    if after is not None:
        stmt = stmt.where(PurchaseOrder.id > docs.cursor_id(PREFIX, after, "purchase order"))
    return [
        PurchaseOrderSummary(**_summary(session, po, code)) for po, code in session.execute(stmt)
    ]


# -- checks ------------------------------------------------------------------------


def _lock(session: Session, po_number: str) -> PurchaseOrder:
    po_id = docs.document_id(PREFIX, po_number, "purchase order")
    po = session.scalar(select(PurchaseOrder).where(PurchaseOrder.id == po_id).with_for_update())
    if po is None:
        raise _not_found(po_number)
    return po


def _supplier(session: Session, code: Any) -> Holder:
    """The supplier's holder; refused unless it is an active supplier."""
    if not isinstance(code, str):
        raise InvalidInput("name the supplier by its code", field="supplier")
    row = session.execute(
        select(sup.Supplier, Holder)
        .join(Holder, Holder.id == sup.Supplier.holder_id)
        .where(Holder.code == code)
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"supplier {code!r} does not exist: list suppliers to see which exist",
            field="supplier",
        )
    if not row[0].active:
        raise InvalidState(
            f"supplier {code} is inactive; purchase orders go to active suppliers only",
            supplier=code,
        )
    return row[1]


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _expected_on(session: Session, value: Any) -> date:
    if type(value) is not date:
        raise InvalidInput("expected_on is a date, written YYYY-MM-DD", field="expected_on")
    today = session.info["window"].today()
    latest = _add_years(today, MAX_YEARS_AHEAD)
    if not today <= value <= latest:
        when = "in the past" if value < today else f"more than {MAX_YEARS_AHEAD} years ahead"
        raise InvalidInput(
            f"expected_on {value.isoformat()} is {when}; expect the delivery between "
            f"{today.isoformat()} and {latest.isoformat()}",
            field="expected_on",
        )
    return value


def check_lines(
    session: Session, supplier: str, lines: Sequence[LineIn]
) -> list[tuple[int, int, int]]:
    """(commodity id, quantity, unit price) of each line, or a problem naming
    the line: active parts, each once, in the supplier's minimum and packs."""
    if not lines:
        raise InvalidInput("a purchase order needs at least one line", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"a purchase order has at most {MAX_LINES} lines", field="lines")
    known = {
        code: (cid, kind, serialized, active)
        for code, cid, kind, serialized, active in session.execute(
            select(Commodity.code, Commodity.id, Commodity.kind, Commodity.serialized, Part.active)
            .outerjoin(Part, Part.commodity_id == Commodity.id)
            .where(Commodity.code.in_({line.sku for line in lines}))
        )
    }
    out = []
    seen: dict[str, int] = {}
    for i, line in enumerate(lines, start=1):
        field = f"lines[{i - 1}]"
        where = {"line": i, "sku": line.sku}
        found = known.get(line.sku)
        if found is None or found[1] != CommodityKind.PART:
            raise InvalidInput(
                f"line {i}: {line.sku!r} is not a part in the catalog; look it up under /parts",
                field=f"{field}.sku",
                **where,
            )
        commodity_id, _, serialized, active = found
        if serialized or active is not True:
            why = "serialized (bought by serial elsewhere)" if serialized else "inactive"
            raise InvalidInput(
                f"line {i}: part {line.sku} is {why} and may not be ordered",
                field=f"{field}.sku",
                **where,
            )
        if line.sku in seen:
            raise InvalidInput(
                f"line {i}: {line.sku} is already line {seen[line.sku]}; "
                "order each part once, with the total quantity",
                field=f"{field}.sku",
                **where,
            )
        seen[line.sku] = i
        if type(line.quantity) is not int or not 1 <= line.quantity <= MAX_LINE_QUANTITY:
            raise InvalidInput(
                f"line {i}: quantity {line.quantity!r} is not valid; order 1 to "
                f"{MAX_LINE_QUANTITY:,} units",
                field=f"{field}.quantity",
                **where,
            )
        try:
            sup.check_order_quantity(session, supplier, line.sku, line.quantity)
        except (InvalidInput, NotFound) as exc:
            raise InvalidInput(
                f"line {i}: {exc.detail}", **{**exc.where, "field": f"{field}.quantity", **where}
            ) from None
        if type(line.unit_price) is not int or not 0 < line.unit_price <= MAX_AMOUNT:
            raise InvalidInput(
                f"line {i}: unit price {line.unit_price!r} is not valid; agree 1 fen to "
                f"{_money(MAX_AMOUNT)} per unit",
                field=f"{field}.unit_price",
                **where,
            )
        out.append((commodity_id, line.quantity, line.unit_price))
    amount = sum(q * p for _, q, p in out)
    if amount > MAX_BALANCE:
        raise InvalidInput(
            f"the purchase order is worth {_money(amount)}, beyond what one document may carry "
            f"({_money(MAX_BALANCE)}); split it",
            field="lines",
        )
    return out


def _line_rows(session: Session, po: PurchaseOrder) -> list[PurchaseOrderLine]:
    return list(
        session.scalars(
            select(PurchaseOrderLine)
            .where(PurchaseOrderLine.purchase_order_id == po.id)
            .order_by(PurchaseOrderLine.line_no)
        )
    )


def _submit(session: Session, po: PurchaseOrder) -> dict[str, int]:
    supplier = session.get(Holder, po.supplier_holder_id)
    _supplier(session, supplier.code)
    po.state = State.SUBMITTED.value
    po.submitted_at = po.updated_at = utcnow()
    return {"amount": po.amount}


def _submitted(po: PurchaseOrder, po_number: str, action: str) -> None:
    if po.state != State.SUBMITTED:
        docs.refuse_state("purchase order", po_number, po.state, action, ["submitted"])


# -- writing -----------------------------------------------------------------------


def create(
    session: Session,
    actor: Actor,
    *,
    supplier: str,
    expected_on: date,
    lines: Sequence[LineIn],
    note: str | None = None,
    submit: bool = False,
    key: str | None = None,
) -> PurchaseOrderView:
    """A new purchase order, as a draft (or submitted at once with `submit`)."""
    docs.require_roles(actor, "raise a purchase order", *BUYERS)
    request = {
        "supplier": supplier,
        "expected_on": expected_on,
        "lines": [line.model_dump() for line in lines],
        "note": note,
        "submit": submit,
    }
    run = docs.begin(session, actor, DOCUMENT, "create", key, request)
    if run.replay is not None:
        return PurchaseOrderView.model_validate(run.replay)
    note = docs.reason_text(note, field="note")
    holder = _supplier(session, supplier)
    expected_on = _expected_on(session, expected_on)
    checked = check_lines(session, holder.code, lines)
    now = utcnow()
    po = PurchaseOrder(
        supplier_holder_id=holder.id,
        state=State.DRAFT.value,
        expected_on=expected_on,
        note=note,
        amount=sum(q * p for _, q, p in checked),
        created_by=actor.username,
        created_at=now,
        updated_at=now,
    )
    session.add(po)
    session.flush()
    for i, (commodity_id, quantity, price) in enumerate(checked, start=1):
        session.add(
            PurchaseOrderLine(
                purchase_order_id=po.id, line_no=i, commodity_id=commodity_id,
                quantity=quantity, unit_price=price, received=0,
            )
        )  # fmt: skip
    session.flush()
    run.record(po.id, None, State.DRAFT.value, reason=note, detail={"amount": po.amount})
    if submit:
        detail = _submit(session, po)
        docs.step(
            session, actor, DOCUMENT, po.id, "submit", State.DRAFT.value, State.SUBMITTED.value,
            detail=detail,
        )  # fmt: skip
    return run.finish(view(session, po))


def submit(
    session: Session, actor: Actor, po_number: str, *, key: str | None = None
) -> PurchaseOrderView:
    docs.require_roles(actor, "submit a purchase order", *BUYERS)
    run = docs.begin(session, actor, DOCUMENT, "submit", key, {"number": po_number})
    if run.replay is not None:
        return PurchaseOrderView.model_validate(run.replay)
    po = _lock(session, po_number)
    if po.state != State.DRAFT:
        docs.refuse_state("purchase order", po_number, po.state, "submitting", ["draft"])
    detail = _submit(session, po)
    run.record(po.id, State.DRAFT.value, State.SUBMITTED.value, detail=detail)
    return run.finish(view(session, po))


def approve(
    session: Session,
    actor: Actor,
    po_number: str,
    *,
    reason: str | None = None,
    key: str | None = None,
) -> PurchaseOrderView:
    """Approve the whole order, if its amount is within the approver's limit."""
    docs.require_roles(actor, "approve a purchase order", Role.APPROVER)
    request = {"number": po_number, "reason": reason}
    run = docs.begin(session, actor, DOCUMENT, "approve", key, request)
    if run.replay is not None:
        return PurchaseOrderView.model_validate(run.replay)
    reason = docs.reason_text(reason)
    limits = approval.limits_of(session, actor, "purchase order")
    po = _lock(session, po_number)
    _submitted(po, po_number, "approving")
    approval.require_level(po.escalated_to_rank, f"purchase order {po_number}", limits)
    # A supplier deactivated since the order was submitted is ordered from no
    # more (what an approved order brings is still received).
    _supplier(session, session.get(Holder, po.supplier_holder_id).code)
    if po.amount > limits.amount_limit:
        raise BeyondApprovalLimit(
            f"approving purchase order {po_number} of {_money(po.amount)} is beyond your amount "
            f"limit of {_money(limits.amount_limit)} (level {limits.code}); escalate it to the "
            "next level",
            limit="amount",
            amount_limit=limits.amount_limit,
            amount=po.amount,
            level=limits.code,
        )
    po.state = State.APPROVED.value
    po.updated_at = utcnow()
    run.record(
        po.id, State.SUBMITTED.value, State.APPROVED.value, reason=reason,
        detail={"level": limits.code, "amount": po.amount},
    )  # fmt: skip
    return run.finish(view(session, po))


def reject(
    session: Session, actor: Actor, po_number: str, *, reason: str, key: str | None = None
) -> PurchaseOrderView:
    docs.require_roles(actor, "reject a purchase order", Role.APPROVER)
    request = {"number": po_number, "reason": reason}
    run = docs.begin(session, actor, DOCUMENT, "reject", key, request)
    if run.replay is not None:
        return PurchaseOrderView.model_validate(run.replay)
    reason = docs.reason_text(reason, required=True)
    limits = approval.limits_of(session, actor, "purchase order")
    po = _lock(session, po_number)
    _submitted(po, po_number, "rejecting")
    approval.require_level(po.escalated_to_rank, f"purchase order {po_number}", limits)
    po.state = State.REJECTED.value
    po.updated_at = utcnow()
    run.record(
        po.id, State.SUBMITTED.value, State.REJECTED.value, reason=reason,
        detail={"level": limits.code, "amount": po.amount},
    )  # fmt: skip
    return run.finish(view(session, po))


def escalate(
    session: Session,
    actor: Actor,
    po_number: str,
    *,
    reason: str | None = None,
    key: str | None = None,
) -> PurchaseOrderView:
    """Pass a purchase order beyond the approver's amount limit to the next level up."""
    docs.require_roles(actor, "escalate a purchase order", Role.APPROVER)
    request = {"number": po_number, "reason": reason}
    run = docs.begin(session, actor, DOCUMENT, "escalate", key, request)
    if run.replay is not None:
        return PurchaseOrderView.model_validate(run.replay)
    reason = docs.reason_text(reason)
    limits = approval.limits_of(session, actor, "purchase order")
    po = _lock(session, po_number)
    _submitted(po, po_number, "escalating")
    approval.require_level(po.escalated_to_rank, f"purchase order {po_number}", limits)
    if po.amount <= limits.amount_limit:
        raise InvalidState(
            f"purchase order {po_number} ({_money(po.amount)}) is within your amount limit "
            f"(level {limits.code}); approve or reject it yourself",
            number=po_number,
            state=po.state,
        )
    higher = approval.next_level(
        session, limits, f"purchase order {po_number}", po.state,
        "Reject it, or split it into smaller orders",
    )  # fmt: skip
    po.escalated_to_rank = higher.rank
    po.updated_at = utcnow()
    run.record(
        po.id, State.SUBMITTED.value, State.SUBMITTED.value, reason=reason,
        detail={"from_level": limits.code, "to_level": higher.code, "amount": po.amount},
    )  # fmt: skip
    return run.finish(view(session, po))


def cancel(
    session: Session,
    actor: Actor,
    po_number: str,
    *,
    reason: str | None = None,
    key: str | None = None,
) -> PurchaseOrderView:
    """Withdraw a draft, submitted or approved order while nothing is received
    (nothing was posted yet, so nothing is reversed)."""
    docs.require_roles(actor, "cancel a purchase order", *BUYERS)
    request = {"number": po_number, "reason": reason}
    run = docs.begin(session, actor, DOCUMENT, "cancel", key, request)
    if run.replay is not None:
        return PurchaseOrderView.model_validate(run.replay)
    reason = docs.reason_text(reason)
    po = _lock(session, po_number)
    if po.state not in (State.DRAFT, State.SUBMITTED, State.APPROVED):
        why = " (something is received)" if po.state == State.PARTLY_RECEIVED else ""
        docs.refuse_state(
            "purchase order", po_number, po.state + why, "cancelling",
            ["draft", "submitted", "approved with nothing received"],
        )  # fmt: skip
    before = po.state
    po.state = State.CANCELLED.value
    po.updated_at = utcnow()
    run.record(po.id, before, State.CANCELLED.value, reason=reason)
    return run.finish(view(session, po))


def _money_commodity(session: Session) -> None:
    kind = session.scalar(select(Commodity.kind).where(Commodity.code == MONEY))
    if kind != CommodityKind.MONEY:
        raise InvalidState(
            f"there is no money commodity {MONEY}, so a receipt cannot be valued; an admin "
            f"creates commodity {MONEY} (kind money) first",
            commodity=MONEY,
        )


def _hq(session: Session) -> Holder:
    hq = session.scalar(
        select(Holder).where(Holder.kind == HolderKind.HQ.value).order_by(Holder.id).limit(1)
    )
    if hq is None:
        raise InvalidState("there is no HQ warehouse to receive purchases into")
    return hq


def _chunks(amount: int) -> list[int]:
    """An amount as postings of at most MAX_AMOUNT each."""
    out = [MAX_AMOUNT] * (amount // MAX_AMOUNT)
    if amount % MAX_AMOUNT:
        out.append(amount % MAX_AMOUNT)
    return out


def receive(
    session: Session,
    actor: Actor,
    po_number: str,
    *,
    lines: dict[int, int],
    key: str | None = None,
) -> PurchaseOrderView:
    """Receive units at HQ (`lines`: line no → units), in one or more parts;
    one journal entry per receipt moves the units and owes their cost."""
    docs.require_roles(actor, "receive a purchase order", *RECEIVERS)
    request = {"number": po_number, "lines": {str(k): v for k, v in sorted(lines.items())}}
    run = docs.begin(session, actor, DOCUMENT, "receive", key, request)
    if run.replay is not None:
        return PurchaseOrderView.model_validate(run.replay)
    po = _lock(session, po_number)
    if po.state not in OPEN:
        docs.refuse_state(
            "purchase order", po_number, po.state, "receiving", ["approved", "partly_received"]
        )
    rows = _line_rows(session, po)
    by_no = {line.line_no: line for line in rows}
    taken: list[tuple[PurchaseOrderLine, int]] = []
    for line_no, units in sorted(lines.items()):
        line = by_no.get(line_no)
        if line is None:
            raise InvalidInput(
                f"purchase order {po_number} has no line {line_no}; its lines are 1 to {len(rows)}",
                field="lines",
                line=line_no,
            )
        left = line.quantity - line.received
        if type(units) is not int or not 0 <= units <= left:
            raise InvalidInput(
                f"line {line_no}: {units} received, but {line.quantity:,} were ordered and "
                f"{line.received:,} received so far; receive at most {left:,}",
                field="lines",
                line=line_no,
                ordered=line.quantity,
                received=line.received,
            )
        if units:
            taken.append((line, units))
    if not taken:
        raise InvalidInput("nothing to receive: give at least one line more than 0", field="lines")
    _money_commodity(session)
    hq = _hq(session)
    supplier = session.get(Holder, po.supplier_holder_id)
    purchases = docs.system_holder(session, docs.PURCHASES)
    skus = dict(
        session.execute(
            select(Commodity.id, Commodity.code).where(
                Commodity.id.in_([line.commodity_id for line, _ in taken])
            )
        ).all()
    )
    postings = []
    amount = 0
    for line, units in taken:
        sku = skus[line.commodity_id]
        postings += [
            PostingIn(account=account_code(supplier.code, "STOCK", sku), amount=-units),
            PostingIn(account=account_code(hq.code, "STOCK", sku), amount=units),
        ]
        amount += units * line.unit_price
        line.received += units
    for part in _chunks(amount):
        postings += [
            PostingIn(account=account_code(purchases.code, "STOCK", MONEY), amount=part),
            PostingIn(account=account_code(supplier.code, "STOCK", MONEY), amount=-part),
        ]
    result = journal.post_entries(
        session,
        [
            EntryIn(
                kind="purchase_receipt",
                refs={"purchase_order": po_number},
                memo=f"received at {hq.code} from {supplier.code}",
                postings=postings,
            )
        ],
        actor=actor.username,
    )[0]
    before = po.state
    done = all(line.received == line.quantity for line in rows)
    po.state = (State.RECEIVED if done else State.PARTLY_RECEIVED).value
    po.updated_at = utcnow()
    run.record(
        po.id,
        before,
        po.state,
        detail={
            "lines": {str(line.line_no): units for line, units in taken},
            "units": sum(units for _, units in taken),
            "amount": amount,
        },
        entry_id=result.entry_id,
    )
    return run.finish(view(session, po))
