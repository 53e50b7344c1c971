"""Response bodies of the HTTP API (requests reuse the ledger's own models)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.params import COMMODITY_CODE, HOLDER_CODE, PURPOSE
from ledger.models import CommodityKind, HolderKind, Role


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class Me(BaseModel):
    username: str
    role: Role
    service_point: str | None = None


class HolderIn(BaseModel):
    code: str = Field(max_length=40, pattern=HOLDER_CODE, examples=["SP-0451"])
    name: str = Field(min_length=1, max_length=200)
    kind: HolderKind
    parent: str | None = Field(
        default=None,
        max_length=40,
        pattern=HOLDER_CODE,
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


class CommodityIn(BaseModel):
    code: str = Field(max_length=24, pattern=COMMODITY_CODE, examples=["X1-LCD"])
    name: str = Field(min_length=1, max_length=200)
    kind: CommodityKind
    serialized: bool = False


class CommodityOut(BaseModel):
    code: str
    name: str
    kind: CommodityKind
    serialized: bool
    decimals: int


class AccountIn(BaseModel):
    holder: str = Field(max_length=40, pattern=HOLDER_CODE, examples=["SP-0001"])
    commodity: str = Field(max_length=24, pattern=COMMODITY_CODE, examples=["X1-LCD"])
    purpose: str = Field(
        default="STOCK", max_length=24, pattern=PURPOSE, examples=["STOCK", "DEFECTIVE", "TRANSIT"]
    )
    allow_negative: bool | None = Field(
        default=None, description="Default: no for the brand's own places, yes for outside parties"
    )


class AccountOut(BaseModel):
    code: str
    holder: str
    holder_kind: HolderKind
    purpose: str
    commodity: str
    commodity_kind: CommodityKind
    decimals: int
    allow_negative: bool
    balance: int = Field(description="In the commodity's smallest unit (units, or fen)")


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


class StatementOut(BaseModel):
    account: str
    commodity: str
    opening_balance: int
    closing_balance: int
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


class PostResultOut(BaseModel):
    entry_id: uuid.UUID
    created: bool = Field(description="False when the idempotency key had already been used")
    idempotency_key: str | None


class ReverseIn(BaseModel):
    memo: str = Field(default="", max_length=500)
    effective_date: date | None = Field(default=None, description="Defaults to today")


class SerialMoveOut(BaseModel):
    entry_id: uuid.UUID
    kind: str
    effective_date: date
    created_at: datetime
    from_account: str
    to_account: str


class SerialOut(BaseModel):
    serial: str
    commodity: str
    colour: str | None
    account: str
    history: list[SerialMoveOut]


class TrialBalanceRow(BaseModel):
    commodity: str
    decimals: int
    accounts: int
    debit_balances: int
    credit_balances: int
    net: int = Field(description="Always 0 in a sound ledger")
