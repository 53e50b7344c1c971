"""Response bodies of the HTTP API (requests reuse the ledger's own models)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.params import IsoDate
from ledger import codes
from ledger.codes import NAME_PATTERN
from ledger.models import CommodityKind, HolderKind, Purpose, Role, Side
from ledger.users import PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, USERNAME_PATTERN


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class Me(BaseModel):
    username: str
    role: Role
    service_point: str | None = None


class UserOut(BaseModel):
    username: str
    role: Role
    service_point: str | None = Field(description="Code of the point a service-point user sees")
    active: bool
    created_at: datetime


class UserPage(BaseModel):
    items: list[UserOut]
    next_after: str | None = Field(description="Pass as `after` for the next page")


class UserIn(BaseModel):
    username: str = Field(max_length=USERNAME_MAX, pattern=USERNAME_PATTERN, examples=["li.clerk"])
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    role: Role
    service_point: str | None = Field(
        default=None, max_length=40, description="For role service_point: the point's code"
    )


class RoleIn(BaseModel):
    role: Role
    service_point: str | None = Field(
        default=None, max_length=40, description="Required for service_point, refused otherwise"
    )


class PasswordIn(BaseModel):
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class HolderIn(BaseModel):
    code: str = Field(max_length=40, pattern=f"^{codes.HOLDER}$", examples=["SP-0451"])
    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN)
    kind: HolderKind
    parent: str | None = Field(
        default=None,
        max_length=40,
        pattern=f"^{codes.HOLDER}$",
        description="Code of the region or warehouse above",
    )
    grade: Literal["A", "B", "C"] | None = Field(
        default=None, description="A, B or C for a service point"
    )


class HolderOut(BaseModel):
    code: str
    name: str
    kind: HolderKind
    grade: str | None
    parent: str | None = Field(default=None, description="Code of the holder above, if any")


class HolderPage(BaseModel):
    items: list[HolderOut]
    next_after: str | None = Field(description="Pass as `after` for the next page")


class CommodityIn(BaseModel):
    code: str = Field(max_length=24, pattern=f"^{codes.COMMODITY}$", examples=["X1-LCD"])
    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN)
    kind: CommodityKind
    serialized: bool = False


class CommodityOut(BaseModel):
    code: str
    name: str
    kind: CommodityKind
    serialized: bool
    decimals: int


class AccountIn(BaseModel):
    holder: str = Field(max_length=40, pattern=f"^{codes.HOLDER}$", examples=["SP-0001"])
    commodity: str = Field(max_length=24, pattern=f"^{codes.COMMODITY}$", examples=["X1-LCD"])
    purpose: Purpose = Field(
        default=Purpose.STOCK,
        description="From the ledger's closed list; it decides the account's side and guard",
    )


class AccountOut(BaseModel):
    code: str
    holder: str
    holder_kind: HolderKind
    purpose: str
    commodity: str
    commodity_kind: CommodityKind
    decimals: int
    side: Side = Field(description="Normal side: debit (stock, cash) or credit (deposits)")
    guarded: bool = Field(
        description="Never past zero against its side: stock never below zero, a deposit "
        "never refunded beyond what was paid in"
    )
    balance: int = Field(
        description="In the commodity's smallest unit (units, or fen); debit positive, so a "
        "credit-normal account's balance is negative"
    )
    last_posted_on: date | None = Field(description="Latest effective date posted to it")


class AccountPage(BaseModel):
    items: list[AccountOut]
    next_after: str | None = Field(description="Pass as `after` for the next page")


class BalanceOut(BaseModel):
    account: str
    commodity: str
    decimals: int
    balance: int
    as_of: date | None


class StatementLine(BaseModel):
    entry_id: uuid.UUID
    effective_date: date
    kind: str
    memo: str
    refs: dict[str, str]
    amount: int
    balance: int
    created_at: datetime
    counter_accounts: list[str] = Field(
        description="The entry's other accounts, in line order (another service point's hidden)"
    )
    serials: list[str] = Field(description="The serials this posting moved")


class StatementOut(BaseModel):
    account: str
    commodity: str
    decimals: int
    opening_balance: int = Field(description="Balance before this page's first line")
    closing_balance: int = Field(
        description="Balance at the end of the statement's period (`to`, or now), on every page"
    )
    page_closing_balance: int = Field(description="Running balance after this page's last line")
    lines: list[StatementLine]
    next_cursor: str | None


class PostingOut(BaseModel):
    line_no: int
    account: str
    commodity: str
    amount: int
    serials: list[str]


class EntryOut(BaseModel):
    id: uuid.UUID
    kind: str
    effective_date: date
    created_at: datetime
    actor: str
    idempotency_key: str | None
    memo: str
    refs: dict[str, str]
    reverses_entry_id: uuid.UUID | None
    reversed_by_entry_id: uuid.UUID | None
    postings: list[PostingOut]


class EntryPage(BaseModel):
    items: list[EntryOut] = Field(description="Newest first: by effective date, then posting order")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class PostResultOut(BaseModel):
    entry_id: uuid.UUID
    created: bool = Field(description="False when the idempotency key had already been used")
    idempotency_key: str | None


class ReverseIn(BaseModel):
    memo: str = Field(default="", max_length=500, pattern=r"^[^\x00]*$")
    effective_date: IsoDate | None = Field(
        default=None, description="YYYY-MM-DD, inside the open window; defaults to today"
    )


class SerialMoveOut(BaseModel):
    entry_id: uuid.UUID
    kind: str
    effective_date: date
    created_at: datetime
    from_account: str | None = Field(description="None: another service point's account")
    to_account: str | None = Field(description="None: another service point's account")


class SerialOut(BaseModel):
    serial: str
    commodity: str
    colour: str | None
    account: str | None = Field(
        description="Where it is now; None for a service point that neither holds it nor "
        "put it there"
    )
    history: list[SerialMoveOut]


class TrialBalanceRow(BaseModel):
    commodity: str
    decimals: int
    accounts: int
    debit_balances: int
    credit_balances: int
    net: int = Field(description="Always 0 in a sound ledger")
