"""Master data and stock for tests: a small network and a way to stock it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from ledger import masterdata as md
from ledger import services
from ledger.db import Database
from ledger.journal import EntryIn, PostingIn
from ledger.policy import SYSTEM

PARTS = ["X1-LCD", "X1-BATT", "X1-BOARD"]
HANDSET = "H-X1"
POINTS = ["SP-0001", "SP-0002"]
OUTSIDE = {"OPEN": "opening_balance", "SUP": "supplier", "FACTORY": "factory", "SCRAP": "scrap"}


@dataclass(frozen=True)
class Network:
    parts: list[str]
    handset: str
    points: list[str]

    @staticmethod
    def account(holder: str, commodity: str, purpose: str = "STOCK") -> str:
        return md.account_code(holder, purpose, commodity)


def build_network(session: Session) -> Network:
    """HQ, one regional warehouse, two service points, outside parties, three
    parts, one serialized handset model and CNY, every account open."""
    md.create_holder(session, "HQ", "Headquarters warehouse", "hq")
    md.create_holder(session, "RW-GD", "Guangdong regional warehouse", "regional_warehouse")
    for i, code in enumerate(POINTS):
        md.create_holder(session, code, f"Service point {i + 1}", "service_point", grade="A")
    for code, kind in OUTSIDE.items():
        md.create_holder(session, code, code.title(), kind)
    md.create_holder(session, "BANK", "Bank", "bank")
    for part in PARTS:
        md.create_commodity(session, part, f"Part {part}", "part")
    md.create_commodity(session, HANDSET, "X1 handset", "handset", serialized=True)
    md.create_commodity(session, "CNY", "Renminbi", "money")
    holders = ["HQ", "RW-GD", *POINTS, *OUTSIDE]
    md.ensure_accounts(
        session,
        [(h, "STOCK", c) for h in holders for c in [*PARTS, HANDSET]]
        + [("BANK", "STOCK", "CNY"), ("OPEN", "STOCK", "CNY"), ("SUP", "STOCK", "CNY")],
    )
    return Network(PARTS, HANDSET, POINTS)


def network(db: Database) -> Network:
    return db.transact(build_network)


def stock(
    db: Database,
    account: str,
    quantity: int,
    *,
    serials: list[str] | None = None,
    effective_date: date | None = None,
):
    """Bring `quantity` into `account` from the opening balance (today, or
    on `effective_date`)."""
    commodity = account.rsplit(":", 1)[1]
    source = md.account_code("OPEN", "STOCK", commodity)
    entry = EntryIn(
        kind="opening",
        effective_date=effective_date,
        postings=[
            PostingIn(account=source, amount=-quantity, serials=serials or []),
            PostingIn(account=account, amount=quantity, serials=serials or []),
        ],
    )
    return db.transact(lambda s: services.post(s, SYSTEM, [entry]))[0]


def move(account_from: str, account_to: str, quantity: int, **kwargs) -> EntryIn:
    serials = kwargs.pop("serials", [])
    return EntryIn(
        postings=[
            PostingIn(account=account_from, amount=-quantity, serials=serials),
            PostingIn(account=account_to, amount=quantity, serials=serials),
        ],
        **kwargs,
    )
