"""Master data the ledger needs: holders, commodities, accounts.

Codes are upper-case and follow Beancount's rules, so the whole journal can be
exported and checked by an independent tool without renaming anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import Duplicate, InvalidEntry, NotFound
from ledger.models import Account, Commodity, CommodityKind, Holder, HolderKind
from ledger.types import utcnow

HOLDER_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,39}$")
PURPOSE = re.compile(r"^[A-Z][A-Z0-9-]{0,23}$")
# Beancount's commodity syntax: starts with a letter, ends with a letter or digit.
COMMODITY_CODE = re.compile(r"^[A-Z](?:[A-Z0-9'._-]{0,22}[A-Z0-9])?$")

STOCK = "STOCK"  # the default purpose: usable stock, or cash for CNY


def account_code(holder_code: str, purpose: str, commodity_code: str) -> str:
    return f"{holder_code}:{purpose}:{commodity_code}"


def _check(pattern: re.Pattern, value: str, field: str, hint: str) -> None:
    if not pattern.match(value):
        raise InvalidEntry(f"{field} {value!r} is not valid: {hint}", field=field)


def create_holder(
    session: Session,
    code: str,
    name: str,
    kind: HolderKind | str,
    *,
    parent: str | None = None,
    grade: str | None = None,
) -> Holder:
    _check(HOLDER_CODE, code, "code", "use A-Z, 0-9 and '-', up to 40 characters")
    kind = HolderKind(kind)
    if grade is not None and grade not in ("A", "B", "C"):
        raise InvalidEntry(f"grade {grade!r} is not valid: use A, B or C", field="grade")
    if session.scalar(select(Holder.id).where(Holder.code == code)):
        raise Duplicate(f"holder {code} already exists", field="code")
    parent_id = get_holder(session, parent).id if parent else None
    holder = Holder(
        code=code, name=name, kind=kind, parent_id=parent_id, grade=grade, created_at=utcnow()
    )
    session.add(holder)
    session.flush()
    return holder


def get_holder(session: Session, code: str) -> Holder:
    holder = session.scalar(select(Holder).where(Holder.code == code))
    if holder is None:
        raise NotFound(f"holder {code!r} does not exist", holder=code)
    return holder


def create_commodity(
    session: Session,
    code: str,
    name: str,
    kind: CommodityKind | str,
    *,
    serialized: bool = False,
    decimals: int | None = None,
) -> Commodity:
    _check(
        COMMODITY_CODE,
        code,
        "code",
        "start with A-Z, use A-Z 0-9 ' . _ -, end with a letter or digit, up to 24 characters",
    )
    kind = CommodityKind(kind)
    if serialized and kind is CommodityKind.MONEY:
        raise InvalidEntry("money cannot be serialized", field="serialized")
    if session.scalar(select(Commodity.id).where(Commodity.code == code)):
        raise Duplicate(f"commodity {code} already exists", field="code")
    commodity = Commodity(
        code=code,
        name=name,
        kind=kind,
        serialized=serialized,
        decimals=decimals if decimals is not None else (2 if kind is CommodityKind.MONEY else 0),
        created_at=utcnow(),
    )
    session.add(commodity)
    session.flush()
    return commodity


def open_account(
    session: Session,
    holder: str,
    commodity: str,
    *,
    purpose: str = STOCK,
    allow_negative: bool | None = None,
) -> Account:
    """Open holder × purpose × commodity. The brand's own places may not go
    negative; outside parties (supplier, factory, scrap…) may, unless told."""
    _check(PURPOSE, purpose, "purpose", "use A-Z, 0-9 and '-', e.g. STOCK, DEFECTIVE, TRANSIT")
    owner = get_holder(session, holder)
    item = session.scalar(select(Commodity).where(Commodity.code == commodity))
    if item is None:
        raise NotFound(f"commodity {commodity!r} does not exist", commodity=commodity)
    code = account_code(owner.code, purpose, item.code)
    if session.scalar(select(Account.id).where(Account.code == code)):
        raise Duplicate(f"account {code} is already open", account=code)
    if allow_negative is None:
        allow_negative = not HolderKind(owner.kind).holds_stock
    account = Account(
        code=code,
        holder_id=owner.id,
        purpose=purpose,
        commodity_id=item.id,
        allow_negative=allow_negative,
        balance=0,
        created_at=utcnow(),
    )
    session.add(account)
    session.flush()
    return account


def ensure_accounts(
    session: Session,
    wanted: Iterable[tuple[str, str, str]],
    *,
    allow_negative: bool | None = None,
) -> dict[str, Account]:
    """Open every (holder, purpose, commodity) not open yet; for bulk set-up.
    `allow_negative` as in `open_account` (default: by the holder's kind)."""
    wanted = set(wanted)
    codes = {account_code(h, p, c): (h, p, c) for h, p, c in wanted}
    existing = {
        a.code: a for a in session.scalars(select(Account).where(Account.code.in_(list(codes))))
    }
    holders = {
        h.code: h
        for h in session.scalars(select(Holder).where(Holder.code.in_({h for h, _, _ in wanted})))
    }
    commodities = {
        c.code: c
        for c in session.scalars(
            select(Commodity).where(Commodity.code.in_({c for _, _, c in wanted}))
        )
    }
    now = utcnow()
    for code, (h, p, c) in sorted(codes.items()):
        if code in existing:
            continue
        if h not in holders:
            raise NotFound(f"holder {h!r} does not exist", holder=h)
        if c not in commodities:
            raise NotFound(f"commodity {c!r} does not exist", commodity=c)
        _check(PURPOSE, p, "purpose", "use A-Z, 0-9 and '-'")
        account = Account(
            code=code,
            holder_id=holders[h].id,
            purpose=p,
            commodity_id=commodities[c].id,
            allow_negative=(
                not HolderKind(holders[h].kind).holds_stock
                if allow_negative is None
                else allow_negative
            ),
            balance=0,
            created_at=now,
        )
        session.add(account)
        existing[code] = account
    session.flush()
    return existing
