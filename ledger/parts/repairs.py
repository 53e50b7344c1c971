"""Repairs and their write-off (核销): the parts a service point used in a
repair leave its stock against a repair record, in one entry.

A repair record carries the point's own repair number (unique at the point
while the repair stands), the customer's handset (serial and model, which
need not be one of ours), the fault and the warranty case. Its service
category is the warranty rules' answer (`ledger.parts.warranty.decide`); a
category claimed by the point that the rules refuse is refused with their
reason.

The write-off entry, per part used:
- the point's STOCK → CONSUMED (consumed in repair), whatever the category;
- in warranty (DOA, DAP, WH) and the part `returnable` (boards, screens,
  electronic parts, batteries): the replaced defective unit enters the
  point's DEFECTIVE stock, from CONSUMED, to travel back to the warehouse and
  the factory. What the repair cost the brand is then net of the cores it
  gets back; housings and the like are not returned;
- out of warranty (F): nothing comes back, and the repair is chargeable at
  the list price (`charge`): the point's RECEIVABLE against CHARGES;
- the subsidy the repair earns the point (its category at the point's grade,
  ledger/money/accruals.py): SUBSIDIES against the point's PAYABLE.
The charge and the subsidy accrue in this entry, so the monthly settlement
reads balances.

Units are valued at the standard cost and list price in force on the day of
the write-off; the repair keeps both, so a later price change revalues
nothing. Reversing a write-off posts the mirror entry (linked to the
original): the parts return to the point's stock, the defective units leave
its defective stock, the charge and the subsidy are taken back; if the
defective units have already been shipped back the guard refuses, naming the
account. A reversed repair's number may be used again.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlalchemy import (
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
    UniqueConstraint,
    Uuid,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Session
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from ledger import journal
from ledger.amounts import MAX_AMOUNT, format_amount
from ledger.catalog.locations import Location, LocationStatus
from ledger.catalog.parts import Part, prices_on
from ledger.codes import account_code
from ledger.errors import Duplicate, InsufficientBalance, InvalidInput, InvalidState, NotFound
from ledger.journal import EntryIn, PostingIn
from ledger.models import Account, Commodity, Holder, HolderKind, Role, posting_t
from ledger.money import accruals
from ledger.parts import documents as docs
from ledger.parts import requisitions
from ledger.parts.documents import ActionView
from ledger.parts.requisitions import LineIn
from ledger.parts.warranty import Case, Category, Decision, PartClass, decide
from ledger.policy import Actor
from ledger.types import UTCDateTime, utcnow

PREFIX = "RP"
MAX_PARTS = 50  # parts lines of one repair
NUMBER_MAX = 40
SERIAL_MAX = 40
MODEL_MAX = 80
WRITERS = (Role.SERVICE_POINT, Role.ADMIN)
IN_WARRANTY = frozenset({Category.DOA, Category.DAP, Category.WH})


class RepairState(enum.StrEnum):
    WRITTEN_OFF = "written_off"
    REVERSED = "reversed"


def _one_of(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Repair(SQLModel, table=True):
    __tablename__ = "repair"
    __table_args__ = (
        # The point's repair number, once among the repairs that stand.
        UniqueConstraint("holder_id", "repair_number", "retired_as"),
        CheckConstraint(f"state IN ({_one_of(RepairState)})", name="state"),
        CheckConstraint(f"category IN ({_one_of(Category)})", name="category"),
        Index("ix_repair_holder_id_written_off_on", "holder_id", "written_off_on", "id"),
        Index("ix_repair_written_off_on", "written_off_on", "id"),
    )

    id: int | None = SQLField(default=None, sa_column=Column(Integer, primary_key=True))
    holder_id: int = SQLField(sa_column=Column(Integer, ForeignKey("holder.id"), nullable=False))
    repair_number: str = SQLField(max_length=NUMBER_MAX)
    # 0 while the repair stands; its own id once reversed, so that the number
    # may be written off again.
    retired_as: int = SQLField(default=0, sa_column=Column(Integer, nullable=False))
    state: str = SQLField(max_length=12)
    customer_serial: str = SQLField(max_length=SERIAL_MAX)
    handset_model: str = SQLField(max_length=MODEL_MAX)
    fault: str = SQLField(max_length=docs.REASON_MAX)
    # The warranty case, as the point entered it.
    part_class: str = SQLField(max_length=16)
    reported_on: date = SQLField(sa_column=Column(Date, nullable=False))
    manufactured_on: date = SQLField(sa_column=Column(Date, nullable=False))
    purchased_on: date | None = SQLField(default=None, sa_column=Column(Date))
    proof_of_purchase: bool = SQLField(sa_column=Column(Boolean, nullable=False))
    sold: bool = SQLField(sa_column=Column(Boolean, nullable=False))
    man_made_damage: bool = SQLField(sa_column=Column(Boolean, nullable=False))
    talk_minutes: int = SQLField(sa_column=Column(Integer, nullable=False))
    cosmetic_ok: bool = SQLField(sa_column=Column(Boolean, nullable=False))
    extended_months: int = SQLField(sa_column=Column(SmallInteger, nullable=False))
    # The rules' decision.
    category: str = SQLField(max_length=4)
    warranty_ends_on: date | None = SQLField(default=None, sa_column=Column(Date))
    decision_reason: str = SQLField(sa_column=Column(String(500), nullable=False))
    decision_reason_zh: str = SQLField(sa_column=Column(String(500), nullable=False))
    # What the parts cost the brand (standard cost) and, out of warranty, what
    # the point is to be charged (list price); fen.
    cost: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    chargeable: bool = SQLField(sa_column=Column(Boolean, nullable=False))
    charge: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    # The subsidy the repair earned the point (its category at the point's
    # grade, by the rule in force), accrued in the write-off's entry; fen.
    subsidy: int = SQLField(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    written_off_on: date = SQLField(sa_column=Column(Date, nullable=False))
    written_off_by: str = SQLField(max_length=80)
    written_off_at: datetime = SQLField(sa_column=Column(UTCDateTime(), nullable=False))
    # Set in the unit of work that writes the repair (its entry names it).
    entry_id: object | None = SQLField(
        default=None, sa_column=Column(Uuid, ForeignKey("journal_entry.id"))
    )
    reversed_by: str | None = SQLField(default=None, max_length=80)
    reversed_at: datetime | None = SQLField(default=None, sa_column=Column(UTCDateTime()))
    reversal_reason: str | None = SQLField(default=None, max_length=docs.REASON_MAX)
    reversal_entry_id: object | None = SQLField(
        default=None, sa_column=Column(Uuid, ForeignKey("journal_entry.id"))
    )


class RepairPart(SQLModel, table=True):
    __tablename__ = "repair_part"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("defective >= 0 AND defective <= quantity", name="defective_in_range"),
    )

    repair_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("repair.id"), primary_key=True, autoincrement=False)
    )
    line_no: int = SQLField(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    commodity_id: int = SQLField(
        sa_column=Column(Integer, ForeignKey("commodity.id"), nullable=False, index=True)
    )
    quantity: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    unit_cost: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    unit_list_price: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    # Replaced units that entered the point's defective stock, to be returned.
    defective: int = SQLField(sa_column=Column(BigInteger, nullable=False))


repair_t = Repair.__table__
part_t = RepairPart.__table__


# -- views -------------------------------------------------------------------------


class RepairPartView(BaseModel):
    line_no: int
    sku: str
    quantity: int
    unit_cost: int = Field(description="Standard cost on the day of the write-off, fen")
    unit_list_price: int = Field(description="List price on the day of the write-off, fen")
    defective: int = Field(description="Replaced units that entered the point's defective stock")


class RepairSummary(BaseModel):
    number: str
    point: str
    repair_number: str
    state: RepairState
    category: Category
    customer_serial: str
    handset_model: str
    written_off_on: date
    cost: int = Field(description="The parts at standard cost, fen")
    chargeable: bool = Field(description="Out of warranty: the point is charged the list price")
    charge: int = Field(description="The parts at list price when chargeable, else 0; fen")
    subsidy: int = Field(description="The subsidy the repair earned the point, fen")
    quantity: int


class RepairView(RepairSummary):
    fault: str
    case: Case
    decision: Decision
    parts: list[RepairPartView]
    written_off_by: str
    written_off_at: datetime
    entry_id: object
    reversed_by: str | None
    reversed_at: datetime | None
    reversal_reason: str | None
    reversal_entry_id: object | None
    history: list[ActionView]


class CategoryTotal(BaseModel):
    category: Category
    repairs: int
    quantity: int = Field(description="Parts written off")
    cost: int = Field(description="At standard cost, fen")
    charge: int = Field(description="Chargeable at list price, fen")


class MonthSummary(BaseModel):
    month: str
    point: str | None
    categories: list[CategoryTotal]


def number(repair_id: int) -> str:
    return docs.document_number(PREFIX, repair_id)


def _text(value: str, field: str, limit: int) -> str:
    """One line of printable text (no control, format or separator
    characters: a zero-width space or a right-to-left mark is refused)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > limit or not text.isprintable():
        raise InvalidInput(f"{field} is 1 to {limit} characters of printable text", field=field)
    return text


def repair_number_text(value: str) -> str:
    """The point's repair number as kept: printable, full-width forms folded
    (NFKC) and upper case, so that `r-1` and `Ｒ-1` are the repair `R-1`."""
    return unicodedata.normalize("NFKC", _text(value, "repair_number", NUMBER_MAX)).upper()


def _case(row: Repair) -> Case:
    return Case(
        part_class=PartClass(row.part_class),
        reported_on=row.reported_on,
        manufactured_on=row.manufactured_on,
        purchased_on=row.purchased_on,
        proof_of_purchase=row.proof_of_purchase,
        sold=row.sold,
        man_made_damage=row.man_made_damage,
        talk_minutes=row.talk_minutes,
        cosmetic_ok=row.cosmetic_ok,
        extended_months=row.extended_months,
    )


def _summary(row: Repair, point: str, quantity: int) -> dict:
    return {
        "number": number(row.id),
        "point": point,
        "repair_number": row.repair_number,
        "state": RepairState(row.state),
        "category": Category(row.category),
        "customer_serial": row.customer_serial,
        "handset_model": row.handset_model,
        "written_off_on": row.written_off_on,
        "cost": row.cost,
        "chargeable": row.chargeable,
        "charge": row.charge,
        "subsidy": row.subsidy,
        "quantity": quantity,
    }


def view(
    session: Session,
    row: Repair,
    *,
    point: str | None = None,
    parts: list[RepairPartView] | None = None,
) -> RepairView:
    """The repair as the doors show it; `point` and `parts`, when the caller
    has just written them, are not read back."""
    if parts is None:
        parts = [
            RepairPartView.model_validate(line, from_attributes=True)
            for line in session.execute(
                select(part_t, Commodity.code.label("sku"))
                .join(Commodity, Commodity.id == part_t.c.commodity_id)
                .where(part_t.c.repair_id == row.id)
                .order_by(part_t.c.line_no)
            )
        ]
    if point is None:
        point = session.scalar(select(Holder.code).where(Holder.id == row.holder_id))
    return RepairView(
        **_summary(row, point, sum(p.quantity for p in parts)),
        fault=row.fault,
        case=_case(row),
        # As decided when it was written off, whatever the rules say today.
        decision=Decision(
            category=Category(row.category),
            warranty_ends_on=row.warranty_ends_on,
            reason=row.decision_reason,
            reason_zh=row.decision_reason_zh,
        ),
        parts=parts,
        written_off_by=row.written_off_by,
        written_off_at=row.written_off_at,
        entry_id=row.entry_id,
        reversed_by=row.reversed_by,
        reversed_at=row.reversed_at,
        reversal_reason=row.reversal_reason,
        reversal_entry_id=row.reversal_entry_id,
        history=docs.history(session, "repair", row.id),
    )


# -- writing -----------------------------------------------------------------------


def _point(session: Session, actor: Actor, point: str | None) -> Holder:
    """The repairing point: a point's own user writes off at its own point
    only (another point's code answers as unknown); an admin names it."""
    if actor.role is Role.SERVICE_POINT:
        own = session.get(Holder, actor.holder_id)
        if point not in (None, own.code):
            raise NotFound(f"no location {point!r}", location=point)
        holder = own
    else:
        if point is None:
            raise InvalidInput("name the service point that did the repair", field="point")
        holder = session.scalar(select(Holder).where(Holder.code == point))
        if holder is None or holder.kind != HolderKind.SERVICE_POINT:
            raise InvalidInput(
                f"point {point!r} is not a service point; repairs are written off at points",
                field="point",
            )
    _require_not_terminated(session, holder)
    return holder


def _require_not_terminated(session: Session, holder: Holder) -> None:
    """A terminated point may write off and reverse nothing; a suspended one
    still writes off the repairs it did (it may requisition nothing)."""
    status = session.scalar(select(Location.status).where(Location.holder_id == holder.id))
    if status == LocationStatus.TERMINATED:
        raise InvalidState(
            f"{holder.code} is terminated and may write off nothing", location=holder.code
        )


def _decide(case: Case, today: date) -> Decision:
    """The rules' decision for a repair written off `today`: a case cannot be
    reported after the day it is written off. A refusal names the case's
    field (`case.purchased_on`)."""
    if case.reported_on > today:
        raise InvalidInput(
            f"case.reported_on {case.reported_on} is after today ({today}): a repair is "
            "written off once the customer has brought the handset",
            field="case.reported_on",
        )
    try:
        return decide(case)
    except InvalidInput as exc:
        field = exc.where.get("field")
        raise InvalidInput(
            exc.detail, **{**exc.where, "field": f"case.{field}" if field else "case"}
        ) from None


def _write_off_postings(point: str, sku: str, quantity: int, defective: int) -> list[PostingIn]:
    """One part's postings: used from the point's stock, and the replaced
    defective units into its defective stock."""
    consumed = account_code(docs.CONSUMED, "STOCK", sku)
    postings = [
        PostingIn(account=account_code(point, "STOCK", sku), amount=-quantity),
        PostingIn(account=consumed, amount=quantity),
    ]
    if defective:
        postings += [
            PostingIn(account=consumed, amount=-defective),
            PostingIn(account=account_code(point, "DEFECTIVE", sku), amount=defective),
        ]
    return postings


def write_off(
    session: Session,
    actor: Actor,
    *,
    repair_number: str,
    customer_serial: str,
    handset_model: str,
    fault: str,
    case: Case,
    parts: Sequence[LineIn],
    point: str | None = None,
    category: Category | None = None,
    key: str | None = None,
) -> RepairView:
    """Record a repair and write off the parts it used, in one entry (see the
    module's docstring). `category`, if given, is the point's claim: refused
    with the rules' reason where they decide otherwise."""
    docs.require_roles(actor, "write off a repair", *WRITERS)
    request = {
        "point": point,
        "repair_number": repair_number,
        "customer_serial": customer_serial,
        "handset_model": handset_model,
        "fault": fault,
        "case": case.model_dump(mode="json"),
        "parts": [line.model_dump() for line in parts],
        "category": category.value if category else None,
    }
    run = docs.begin(session, actor, "repair", "write_off", key, request)
    if run.replay is not None:
        return RepairView.model_validate(run.replay)
    repair_number = repair_number_text(repair_number)
    customer_serial = _text(customer_serial, "customer_serial", SERIAL_MAX)
    handset_model = _text(handset_model, "handset_model", MODEL_MAX)
    fault = docs.reason_text(fault, required=True, field="fault")
    holder = _point(session, actor, point)
    today = session.info["window"].today()
    decision = _decide(case, today)
    if category is not None and category is not decision.category:
        raise InvalidInput(
            f"the warranty rules make this repair {decision.category.value}, not "
            f"{category.value}: {decision.reason}",
            field="category",
            decided=decision.category.value,
        )
    existing = session.scalar(
        select(repair_t.c.id).where(
            repair_t.c.holder_id == holder.id,
            repair_t.c.repair_number == repair_number,
            repair_t.c.retired_as == 0,
        )
    )
    if existing is not None:
        raise Duplicate(
            f"repair {repair_number} is already written off at {holder.code} as "
            f"{number(existing)}; reverse it first to write it off again",
            field="repair_number",
            repair=number(existing),
        )
    checked = requisitions.check_lines(
        session, parts, active_only=False, what="a repair's write-off", field="parts",
        max_lines=MAX_PARTS,
    )  # fmt: skip
    ids = [cid for cid, _, _ in checked]
    prices = prices_on(session, ids, today)
    returnable = dict(
        session.execute(
            select(Part.commodity_id, Part.returnable).where(Part.commodity_id.in_(ids))
        ).all()
    )
    in_warranty = decision.category in IN_WARRANTY
    rows, postings, skus = [], [], {}
    for i, (commodity_id, sku, quantity) in enumerate(checked, start=1):
        if commodity_id not in prices:
            raise InvalidInput(
                f"line {i}: part {sku} has no price on {today.isoformat()}; an admin must set "
                "its standard cost and list price before it is written off",
                field=f"parts[{i - 1}].sku",
                line=i,
                sku=sku,
            )
        defective = quantity if in_warranty and returnable.get(commodity_id) else 0
        cost, list_price = prices[commodity_id]
        if quantity * max(cost, list_price) > MAX_AMOUNT:
            raise InvalidInput(
                f"line {i}: {quantity:,} x {sku} is worth more than {format_amount(MAX_AMOUNT, 2)} "
                "CNY; a repair uses a handful of parts: check the quantity",
                field=f"parts[{i - 1}].quantity",
                line=i,
                sku=sku,
            )
        rows.append(
            {
                "line_no": i, "commodity_id": commodity_id, "quantity": quantity,
                "unit_cost": cost, "unit_list_price": list_price, "defective": defective,
            }
        )  # fmt: skip
        skus[i] = sku
        postings += _write_off_postings(holder.code, sku, quantity, defective)
    docs.system_holder(session, docs.CONSUMED)
    cost = sum(r["quantity"] * r["unit_cost"] for r in rows)
    charge = 0 if in_warranty else sum(r["quantity"] * r["unit_list_price"] for r in rows)
    if max(cost, charge) > MAX_AMOUNT:
        raise InvalidInput(
            f"the parts of this repair are worth more than {format_amount(MAX_AMOUNT, 2)} CNY "
            "together; check the quantities",
            field="parts",
        )
    # The charge and the subsidy accrue in the same entry as the parts.
    accrued = accruals.for_repair(
        session, holder, category=decision.category.value, charge=charge, day=today
    )
    postings += accrued.postings
    now = utcnow()
    row = Repair(
        holder_id=holder.id,
        repair_number=repair_number,
        state=RepairState.WRITTEN_OFF.value,
        customer_serial=customer_serial,
        handset_model=handset_model,
        fault=fault,
        **case.model_dump(),
        category=decision.category.value,
        warranty_ends_on=decision.warranty_ends_on,
        decision_reason=decision.reason,
        decision_reason_zh=decision.reason_zh,
        cost=cost,
        chargeable=not in_warranty,
        charge=charge,
        subsidy=accrued.subsidy,
        written_off_on=today,
        written_off_by=actor.username,
        written_off_at=now,
        entry_id=None,
    )
    session.add(row)
    session.flush()
    session.execute(insert(part_t), [{"repair_id": row.id, **r} for r in rows])
    result = _post(session, actor, row, holder, postings, kind="repair_write_off")
    row.entry_id = result.entry_id
    session.flush()
    run.record(
        row.id,
        None,
        RepairState.WRITTEN_OFF.value,
        detail={
            "category": decision.category.value,
            "cost": cost,
            "charge": charge,
            "subsidy": accrued.subsidy,
            "defective": sum(r["defective"] for r in rows),
        },
        entry_id=result.entry_id,
    )
    written = [RepairPartView(sku=skus[r["line_no"]], **r) for r in rows]
    return run.finish(view(session, row, point=holder.code, parts=written))


def _refs(row: Repair, holder: Holder) -> dict[str, str]:
    return {
        "repair": number(row.id),
        "point": holder.code,
        "repair_number": row.repair_number,
        "category": row.category,
    }


def _post(session, actor, row: Repair, holder: Holder, postings, *, kind, reverses=None):
    try:
        return journal.post_entries(
            session,
            [
                EntryIn(
                    kind=kind,
                    refs=_refs(row, holder),
                    postings=postings,
                    memo=f"repair {row.repair_number} at {holder.code} ({row.category})",
                )
            ],
            actor=actor.username,
            reverses=[reverses] if reverses else None,
        )[0]
    except InsufficientBalance as exc:
        if kind == "repair_write_off":
            raise InsufficientBalance(
                f"{holder.code} does not hold the parts this repair used: "
                f"{exc.detail.split(';')[0]}; receive them first, or requisition them",
                **exc.where,
            ) from None
        raise InsufficientBalance(
            f"the write-off of repair {row.repair_number} cannot be reversed: "
            f"{exc.detail.split(';')[0]}; the defective parts it put in the point's defective "
            "stock have left it (returned to the warehouse?)",
            **exc.where,
        ) from None


def _lock(session: Session, actor: Actor, repair: str) -> Repair:
    repair_id = docs.document_id(PREFIX, repair, "repair")
    row = session.scalar(select(Repair).where(Repair.id == repair_id).with_for_update())
    if row is None or not _visible(actor, row):
        raise NotFound(f"repair {repair} does not exist", repair=repair)
    return row


def _visible(actor: Actor, row: Repair) -> bool:
    return actor.sees_everything or actor.holder_id == row.holder_id


def reverse(
    session: Session, actor: Actor, repair: str, *, reason: str, key: str | None = None
) -> RepairView:
    """Undo a write-off with the mirror entry: the parts go back into the
    point's stock and the defective units out of its defective stock. The
    repair number is free again."""
    docs.require_roles(actor, "reverse a repair's write-off", *WRITERS)
    run = docs.begin(session, actor, "repair", "reverse", key, {"repair": repair, "reason": reason})
    if run.replay is not None:
        return RepairView.model_validate(run.replay)
    reason = docs.reason_text(reason, required=True)
    row = _lock(session, actor, repair)
    if row.state != RepairState.WRITTEN_OFF:
        docs.refuse_state("repair", repair, row.state, "reversing", [RepairState.WRITTEN_OFF])
    holder = session.get(Holder, row.holder_id)
    _require_not_terminated(session, holder)
    # The mirror of the write-off's entry: parts, charge and subsidy alike.
    original = session.execute(
        select(Account.code, posting_t.c.amount)
        .join(Account, Account.id == posting_t.c.account_id)
        .where(posting_t.c.entry_id == row.entry_id)
        .order_by(posting_t.c.line_no)
    ).all()
    postings = [PostingIn(account=code, amount=-amount) for code, amount in original]
    result = _post(
        session, actor, row, holder, postings, kind="repair_reversal", reverses=row.entry_id
    )
    row.state = RepairState.REVERSED.value
    row.retired_as = row.id
    # Nothing is left to charge: settlement charges standing repairs only.
    row.chargeable = False
    row.charge = 0
    row.reversed_by = actor.username
    row.reversed_at = utcnow()
    row.reversal_reason = reason
    row.reversal_entry_id = result.entry_id
    session.flush()
    run.record(
        row.id,
        RepairState.WRITTEN_OFF.value,
        RepairState.REVERSED.value,
        reason=reason,
        entry_id=result.entry_id,
    )
    return run.finish(view(session, row))


# -- reading -----------------------------------------------------------------------


def get(session: Session, actor: Actor, repair: str) -> RepairView:
    row = session.get(Repair, docs.document_id(PREFIX, repair, "repair"))
    if row is None or not _visible(actor, row):
        raise NotFound(f"repair {repair} does not exist", repair=repair)
    return view(session, row)


MONTH_RE = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def month_range(month: str) -> tuple[date, date]:
    """The first and the last day of a month written YYYY-MM."""
    match = MONTH_RE.fullmatch(month or "")
    if match is None:
        raise InvalidInput(
            f"month {month!r} is not a month: write YYYY-MM, e.g. 2026-11", field="month"
        )
    if not 2000 <= int(match.group(1)) <= 2100:
        raise InvalidInput(f"month {month} is out of range: from 2000-01 to 2100-12", field="month")
    year, mon = int(match.group(1)), int(match.group(2))
    first = date(year, mon, 1)
    following = date(year + mon // 12, mon % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)


def _point_filter(session: Session, actor: Actor, point: str | None) -> tuple[int, str] | None:
    """The point a list is limited to, (holder id, code): the one asked for,
    and a service point's own in any case. An unknown location, or another
    point asked for by a point, is not found (the same answer)."""
    if point is None:
        if actor.sees_everything:
            return None
        return actor.holder_id, session.scalar(
            select(Holder.code).where(Holder.id == actor.holder_id)
        )
    holder_id = session.scalar(
        select(Holder.id).where(Holder.code == point, Holder.kind == HolderKind.SERVICE_POINT.value)
    )
    if holder_id is None or not (actor.sees_everything or holder_id == actor.holder_id):
        raise NotFound(f"no service point {point!r}", location=point)
    return holder_id, point


def _scope(stmt, actor: Actor, session: Session, point: str | None):
    scope = _point_filter(session, actor, point)
    return stmt if scope is None else stmt.where(repair_t.c.holder_id == scope[0])


def list_repairs(
    session: Session,
    actor: Actor,
    *,
    point: str | None = None,
    month: str | None = None,
    category: Category | None = None,
    state: RepairState | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[RepairSummary]:
    """Repairs, newest first, by point, month (written off in it), category
    and state."""
    quantity = (
        select(func.sum(part_t.c.quantity))
        .where(part_t.c.repair_id == repair_t.c.id)
        .scalar_subquery()
    )
    stmt = (
        select(Repair, Holder.code, quantity)
        .join(Holder, Holder.id == Repair.holder_id)
        .order_by(Repair.id.desc())
        .limit(max(1, min(limit, 1000)))
    )
    stmt = _scope(stmt, actor, session, point)
    if month is not None:
        first, last = month_range(month)
        stmt = stmt.where(Repair.written_off_on.between(first, last))
    if category is not None:
        stmt = stmt.where(Repair.category == category.value)
    if state is not None:
        stmt = stmt.where(Repair.state == state.value)
    if after is not None:
        stmt = stmt.where(Repair.id < docs.cursor_id(PREFIX, after, "repair"))
    return [
        RepairSummary(**_summary(row, code, qty or 0)) for row, code, qty in session.execute(stmt)
    ]


def month_summary(
    session: Session, actor: Actor, month: str, *, point: str | None = None
) -> MonthSummary:
    """Repairs written off in a month and standing (reversals excluded), per
    category: how many, the parts, their cost and what is chargeable."""
    first, last = month_range(month)
    parts_of = (
        select(part_t.c.repair_id, func.sum(part_t.c.quantity).label("quantity"))
        .group_by(part_t.c.repair_id)
        .subquery()
    )
    stmt = (
        select(
            repair_t.c.category,
            func.count(),
            func.coalesce(func.sum(parts_of.c.quantity), 0),
            func.coalesce(func.sum(repair_t.c.cost), 0),
            func.coalesce(func.sum(repair_t.c.charge), 0),
        )
        .join(parts_of, parts_of.c.repair_id == repair_t.c.id)
        .where(
            repair_t.c.written_off_on.between(first, last),
            repair_t.c.state == RepairState.WRITTEN_OFF.value,
        )
        .group_by(repair_t.c.category)
    )
    scope = _point_filter(session, actor, point)
    if scope is not None:
        stmt = stmt.where(repair_t.c.holder_id == scope[0])
    found = {row[0]: row for row in session.execute(stmt)}
    return MonthSummary(
        month=month,
        point=scope[1] if scope else None,
        categories=[
            CategoryTotal(
                category=c,
                repairs=found[c][1] if c in found else 0,
                quantity=int(found[c][2]) if c in found else 0,
                cost=int(found[c][3]) if c in found else 0,
                charge=int(found[c][4]) if c in found else 0,
            )
            for c in Category
        ],
    )
