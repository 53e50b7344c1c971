"""Master data the ledger needs: holders, commodities, accounts.

Codes are upper-case and follow Beancount's rules, so the whole journal can be
exported and checked by an independent tool without renaming anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ledger.codes import COMMODITY_RE, HOLDER_RE, NAME_RE, account_code, split_account_code
from ledger.errors import Duplicate, InvalidInput, NotFound
from ledger.models import (
    Account,
    Commodity,
    CommodityKind,
    Holder,
    HolderKind,
    Purpose,
    account_nature,
    account_t,
)
from ledger.types import utcnow

STOCK = Purpose.STOCK.value  # the default purpose: usable stock, or cash for CNY

__all__ = [
    "STOCK",
    "account_code",
    "create_commodity",
    "create_holder",
    "ensure_accounts",
    "get_holder",
    "open_account",
    "open_on_demand",
    "why_not_openable",
]


def _check(pattern: re.Pattern, value: str, field: str, hint: str) -> None:
    if not pattern.fullmatch(value):
        raise InvalidInput(f"{field} {value!r} is not valid: {hint}", field=field)


def _purpose(value: str) -> Purpose:
    try:
        return Purpose(value)
    except ValueError:
        known = ", ".join(p.value for p in Purpose)
        raise InvalidInput(
            f"purpose {value!r} is not one of the ledger's purposes: {known}", field="purpose"
        ) from None


def _nature(purpose: Purpose, holder: Holder, commodity: Commodity):
    """Side and guard of purpose × holder × commodity, or a clear refusal."""
    try:
        nature = account_nature(purpose, HolderKind(holder.kind))
    except ValueError as exc:
        raise InvalidInput(f"{holder.code}: {exc}", field="purpose") from None
    rule = purpose.rule
    if commodity.kind not in rule.commodities:
        raise InvalidInput(
            f"purpose {purpose} holds {', '.join(sorted(rule.commodities))}, "
            f"not {commodity.kind} ({commodity.code})",
            field="purpose",
        )
    return nature


def create_holder(
    session: Session,
    code: str,
    name: str,
    kind: HolderKind | str,
    *,
    parent: str | None = None,
    grade: str | None = None,
) -> Holder:
    _check(HOLDER_RE, code, "code", "use A-Z, 0-9 and '-', up to 40 characters")
    _check(NAME_RE, name, "name", "one line of 1 to 200 printable characters")
    kind = HolderKind(kind)
    if grade is not None and grade not in ("A", "B", "C"):
        raise InvalidInput(f"grade {grade!r} is not valid: use A, B or C", field="grade")
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
        COMMODITY_RE,
        code,
        "code",
        "start with A-Z, use A-Z 0-9 ' . _ -, end with a letter or digit, up to 24 characters",
    )
    _check(NAME_RE, name, "name", "one line of 1 to 200 printable characters")
    kind = CommodityKind(kind)
    if serialized and kind is CommodityKind.MONEY:
        raise InvalidInput("money cannot be serialized", field="serialized")
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


def _new_account(holder: Holder, purpose: Purpose, commodity: Commodity, now) -> dict:
    nature = _nature(purpose, holder, commodity)
    return {
        "code": account_code(holder.code, purpose.value, commodity.code),
        "holder_id": holder.id,
        "purpose": purpose.value,
        "commodity_id": commodity.id,
        "side": nature.side.value,
        "guarded": nature.guarded,
        "balance": 0,
        "created_at": now,
    }


def open_account(session: Session, holder: str, commodity: str, *, purpose: str = STOCK) -> Account:
    """Open holder × purpose × commodity. The purpose, from a closed list,
    decides the account's side and guard (see `ledger.models.Purpose`)."""
    chosen = _purpose(purpose)
    owner = get_holder(session, holder)
    item = session.scalar(select(Commodity).where(Commodity.code == commodity))
    if item is None:
        raise NotFound(f"commodity {commodity!r} does not exist", commodity=commodity)
    row = _new_account(owner, chosen, item, utcnow())
    if session.scalar(select(Account.id).where(Account.code == row["code"])):
        raise Duplicate(f"account {row['code']} is already open", account=row["code"])
    account = Account(**row)
    session.add(account)
    session.flush()
    return account


def ensure_accounts(session: Session, wanted: Iterable[tuple[str, str, str]]) -> dict[str, Account]:
    """Open every (holder, purpose, commodity) not open yet; for bulk set-up."""
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
        account = Account(**_new_account(holders[h], _purpose(p), commodities[c], now))
        session.add(account)
        existing[code] = account
    session.flush()
    return existing


def _openable(session: Session, codes: Iterable[str]) -> tuple[list[dict], dict[str, str]]:
    """Rows for the codes that can be opened, and why each other one cannot."""
    parts = {}
    why: dict[str, str] = {}
    for code in codes:
        split = split_account_code(code)
        if split is None:
            why[code] = "an account code is HOLDER:PURPOSE:COMMODITY"
        else:
            parts[code] = split
    holders = {
        h.code: h
        for h in session.scalars(
            select(Holder).where(Holder.code.in_({h for h, _, _ in parts.values()}))
        )
    }
    commodities = {
        c.code: c
        for c in session.scalars(
            select(Commodity).where(Commodity.code.in_({c for _, _, c in parts.values()}))
        )
    }
    rows, now = [], utcnow()
    for code, (h, p, c) in sorted(parts.items()):
        if h not in holders:
            why[code] = f"holder {h} does not exist"
        elif c not in commodities:
            why[code] = f"commodity {c} does not exist"
        else:
            try:
                rows.append(_new_account(holders[h], _purpose(p), commodities[c], now))
            except InvalidInput as exc:
                why[code] = exc.detail
    return rows, why


def open_on_demand(session: Session, codes: Iterable[str]) -> bool:
    """Open, in the caller's transaction, every account of `codes` whose
    holder and commodity exist and whose purpose fits them; the others stay
    unknown. Race-free: two first postings to one account at once both find
    it open (the second insert does nothing). True if any could be opened."""
    rows, _ = _openable(session, codes)
    if not rows:
        return False
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(account_t).on_conflict_do_nothing(), rows)
    return True


def why_not_openable(session: Session, code: str) -> str:
    """In words: why a posting's account is neither open nor openable."""
    _, why = _openable(session, [code])
    return why.get(code, "it could not be opened")
