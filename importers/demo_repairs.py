"""The demo's repairs: a month of repairs in every service category at a few
points, written off through the repairs service by the point's own user (or
the admin for the other points), and the defective parts they replaced on
their way back: one return in transit, one received at its warehouse and
shipped on to the factory, awaiting the factory's count.

The customers reported their handsets over the last 30 days; everything is
written off on the day the demo loads (the opening stock is dated that day,
and a take cannot be dated before it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.catalog.parts import Part
from ledger.models import Account, Commodity, Holder
from ledger.parts import factory, receiving, repairs
from ledger.parts.requisitions import LineIn
from ledger.parts.warranty import Case
from ledger.policy import SYSTEM, Actor

REPAIRS_PER_POINT = 12
FAULTS = [
    "no display after a drop", "does not charge", "battery drains in hours", "no signal",
    "touch screen dead in one corner", "restarts by itself", "speaker crackles",
    "camera will not focus", "water damage", "cracked back housing",
]  # fmt: skip
MODELS = ["X1", "X2", "X3", "Other brand Z9"]


@dataclass
class RepairsSummary:
    repairs: int
    defective_in_transit: int  # returns of defective parts, and to the factory


def _case(kind: str, reported: date, rng: random.Random) -> Case:
    """A case the rules decide as `kind`: DOA, DAP, WH, F (man-made) or
    F-expired (out of its period)."""
    made = reported - timedelta(days=rng.randint(200, 300))
    if kind == "DOA":
        return Case(
            part_class="handset", reported_on=reported, manufactured_on=made, sold=False,
            talk_minutes=rng.randint(0, 15),
        )  # fmt: skip
    bought = {
        "DAP": reported - timedelta(days=rng.randint(1, 15)),
        "WH": reported - timedelta(days=rng.randint(30, 180)),
        "F": reported - timedelta(days=rng.randint(30, 180)),
        "F-expired": made + timedelta(days=5),
    }[kind]
    if kind == "F-expired":
        made = reported - timedelta(days=500)
        bought = made + timedelta(days=5)
    return Case(
        part_class="handset", reported_on=reported, manufactured_on=made, purchased_on=bought,
        proof_of_purchase=True, man_made_damage=kind == "F",
    )  # fmt: skip


def _usable(session: Session, holder_id: int) -> list[tuple[str, int, bool]]:
    """(SKU, units in stock, returnable) of the parts a point holds 2+ of."""
    return session.execute(
        select(Commodity.code, Account.balance, Part.returnable)
        .join(Commodity, Commodity.id == Account.commodity_id)
        .join(Part, Part.commodity_id == Account.commodity_id)
        .where(Account.holder_id == holder_id, Account.purpose == "STOCK", Account.balance >= 2)
        .order_by(Commodity.code)
    ).all()


def repairs_month(
    session: Session, today: date, points: list[str], home: Actor, clerk: Actor
) -> RepairsSummary:
    """`points`: active service points, the home point (`home`'s) first."""
    rng = random.Random(11)
    kinds = ["WH", "WH", "WH", "WH", "DAP", "DOA", "F", "F-expired"]
    for point in points[:3]:
        holder = session.scalar(select(Holder).where(Holder.code == point))
        who = home if holder.id == home.holder_id else SYSTEM
        stock = {sku: units for sku, units, _ in _usable(session, holder.id)}
        returnable = [sku for sku, _, r in _usable(session, holder.id) if r]
        others = [sku for sku, _, r in _usable(session, holder.id) if not r]
        for i in range(REPAIRS_PER_POINT):
            kind = kinds[i % len(kinds)]
            wanted = [rng.choice(returnable)] if returnable else []
            if others and i % 3 == 0:
                wanted.append(rng.choice(others))  # a housing or a button besides
            used = [sku for sku in dict.fromkeys(wanted) if stock.get(sku, 0) >= 1]
            if not used:
                continue
            for sku in used:
                stock[sku] -= 1
            reported = today - timedelta(days=rng.randint(0, 29))
            repairs.write_off(
                session, who, point=point, repair_number=f"WX{reported:%Y%m%d}-{i + 1:03d}",
                customer_serial=f"86{rng.randint(10**12, 10**13 - 1)}",
                handset_model=rng.choice(MODELS), fault=rng.choice(FAULTS),
                case=_case(kind, reported, rng), parts=[LineIn(sku=s, quantity=1) for s in used],
            )  # fmt: skip

    # The home point sends its defective parts back: one parcel still on its
    # way; another point's parcel already received at the warehouse.
    in_transit = 0
    for n, point in enumerate(points[:2]):
        holder = session.scalar(select(Holder).where(Holder.code == point))
        defective = session.execute(
            select(Commodity.code, Account.balance)
            .join(Commodity, Commodity.id == Account.commodity_id)
            .where(
                Account.holder_id == holder.id,
                Account.purpose == "DEFECTIVE",
                Account.balance > 0,
            )
            .order_by(Commodity.code)
        ).all()
        if not defective:
            continue
        who = home if holder.id == home.holder_id else clerk
        parcel = receiving.return_parts(
            session, who, point=point, defective=True,
            lines=[LineIn(sku=sku, quantity=units) for sku, units in defective],
            courier="SF Express", tracking_number=f"SF8{n + 1:09d}",
        )  # fmt: skip
        in_transit += 1
        if n == 1:
            # Received at the warehouse, and sent on to the factory.
            receiving.receive(session, clerk, parcel.number)
            factory.ship(
                session, clerk, sender=parcel.receiver, courier="SF Express",
                tracking_number=f"SF9{n:09d}",
                lines=[factory.ReturnLineIn(sku=sku, quantity=units) for sku, units in defective],
            )  # fmt: skip
    return RepairsSummary(
        repairs=session.scalar(select(func.count()).select_from(repairs.Repair)),
        defective_in_transit=in_transit,
    )
