"""A network for the parts cycle: real locations, priced parts, approval
levels and users, and a way to stock a warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import masterdata as md
from ledger import queries, services
from ledger.catalog import locations, parts
from ledger.db import Database
from ledger.errors import NotFound
from ledger.journal import EntryIn, PostingIn
from ledger.models import Commodity, Role, User
from ledger.money import credit, deposits
from ledger.policy import SYSTEM, Actor
from ledger.users import create_user

# SKU -> standard cost in fen
COSTS = {"P-LCD": 10_000, "P-BATT": 3_000, "P-BOARD": 50_000}
POINTS = ["SP-A", "SP-B"]
DEPOSIT = 100_000_000  # fen: ¥1,000,000
PASSWORD = "a-long-password"
# level code, rank, units, fen
LEVELS = [("L1", 1, 20, 500_000), ("L2", 2, 1_000, 50_000_000)]
# username, role, point, level
USERS = [
    ("admin", Role.ADMIN, None, None),
    ("clerk", Role.WAREHOUSE_CLERK, None, None),
    ("approver1", Role.APPROVER, None, "L1"),
    ("approver2", Role.APPROVER, None, "L2"),
    ("sp-a", Role.SERVICE_POINT, "SP-A", None),
    ("sp-b", Role.SERVICE_POINT, "SP-B", None),
    ("finance", Role.FINANCE, None, None),
]


@dataclass(frozen=True)
class Net:
    skus: list[str]
    points: list[str]


def build(session: Session, today: date, *, money: bool = True) -> Net:
    def place(kind, code, served_by=None, grade=None):
        locations.create_location(
            session, SYSTEM, kind=kind, code=code, name=f"Location {code}", region="South",
            province="Guangdong", city=None if kind == "hq" else "Shenzhen", grade=grade,
            served_by=served_by,
        )  # fmt: skip

    place("hq", "HQ")
    place("regional_warehouse", "RW-S", served_by="HQ")
    place("regional_warehouse", "RW-N", served_by="HQ")
    for code in POINTS:
        place("service_point", code, served_by="RW-S", grade="A")
    place("service_point", "SP-OFF", served_by="RW-S", grade="B")
    locations.set_status(session, SYSTEM, "SP-OFF", "suspended", reason="audit")
    md.create_holder(session, "OPEN", "Opening balance", "opening_balance")
    for sku, cost in COSTS.items():
        parts.create_part(
            session, SYSTEM, sku, name_zh=f"零件 {sku}", name_en=f"Part {sku}", category="screen",
            warranty_class="handset", returnable=True,
        )  # fmt: skip
        parts.set_price(
            session, SYSTEM, sku, effective_from=today, standard_cost=cost, list_price=cost * 2
        )
    parts.create_part(
        session, SYSTEM, "P-OLD", name_zh="旧零件", name_en="Old part", category="screen",
        warranty_class="handset", active=False,
    )  # fmt: skip
    for code, rank, units, fen in LEVELS:
        locations.create_level(
            session, SYSTEM, code=code, name=f"Level {code}", rank=rank, quantity_limit=units,
            amount_limit=fen,
        )  # fmt: skip
    for username, role, point, level in USERS:
        create_user(session, username, PASSWORD, role, service_point=point)
        if level:
            locations.assign_level(session, SYSTEM, username, level)
    if not money:
        return Net(list(COSTS), POINTS)
    # Credit wide enough that the parts cycle's tests never meet a limit:
    # ¥1,000,000 deposits at 2× (the credit tests set their own).
    if session.scalar(select(Commodity.id).where(Commodity.code == "CNY")) is None:
        md.create_commodity(session, "CNY", "Renminbi", "money")
    for grade in ("A", "B"):
        credit.set_leverage(session, SYSTEM, grade=grade, ratio="2")
    for code in [*POINTS, "SP-OFF"]:
        deposits.receive(session, SYSTEM, code, DEPOSIT, method="bank_transfer")
    return Net(list(COSTS), POINTS)


def network(db: Database) -> Net:
    return db.transact(lambda s: build(s, s.info["window"].today()))


def stock(db: Database, holder: str, sku: str, quantity: int) -> None:
    entry = EntryIn(
        kind="opening",
        postings=[
            PostingIn(account=md.account_code("OPEN", "STOCK", sku), amount=-quantity),
            PostingIn(account=md.account_code(holder, "STOCK", sku), amount=quantity),
        ],
    )
    db.transact(lambda s: services.post(s, SYSTEM, [entry]))


def actor(db: Database, username: str) -> Actor:
    with db.reading() as s:
        role, holder_id = s.execute(
            select(User.role, User.holder_id).where(User.username == username)
        ).one()
    return Actor(username, Role(role), holder_id)


def balance(db: Database, account: str) -> int:
    """The account's balance; 0 for an account never opened."""
    with db.reading() as s:
        try:
            return queries.balance(s, SYSTEM, account)["balance"]
        except NotFound:
            return 0


def sound(db: Database) -> None:
    """Trial balance zero for every commodity, and verify() clean."""
    with db.reading() as s:
        assert all(row["net"] == 0 for row in queries.trial_balance(s))
        assert queries.verify(s) == []


def headers(client: TestClient, username: str) -> dict[str, str]:
    answer = client.post("/auth/token", data={"username": username, "password": PASSWORD})
    token = answer.json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def signed_in(client: TestClient):
    """headers(username, key=None): a user's bearer header (signed in once per
    test), with an Idempotency-Key if given."""
    cache: dict[str, dict[str, str]] = {}

    def who(username: str, key: str | None = None) -> dict[str, str]:
        if username not in cache:
            cache[username] = headers(client, username)
        out = dict(cache[username])
        if key:
            out["Idempotency-Key"] = key
        return out

    return who
