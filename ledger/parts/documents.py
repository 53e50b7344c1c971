"""The parts cycle's documents: the bounds on their lines, and the holders
the cycle keeps its own stock at (shortages, consumption, the factory…).
What every document shares lives in ledger/documents.py."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import masterdata as md
from ledger.documents import (
    REASON_MAX,
    ActionView,
    DocumentAction,
    Run,
    action_t,
    begin,
    cursor_id,
    document_id,
    document_number,
    history,
    reason_text,
    refuse_state,
    require_roles,
    step,
    update_lines,
)
from ledger.errors import InvalidState
from ledger.models import Holder, HolderKind

__all__ = [
    "REASON_MAX",
    "ActionView",
    "DocumentAction",
    "Run",
    "action_t",
    "begin",
    "cursor_id",
    "document_id",
    "document_number",
    "history",
    "reason_text",
    "refuse_state",
    "require_roles",
    "step",
    "system_holder",
    "update_lines",
]

# Every document's bounds on its lines.
MAX_LINES = 500
MAX_LINE_QUANTITY = 1_000_000
# Where units short on receipt wait until they are found or written off as
# lost; both holders are opened by the first shortage.
DISCREPANCIES = "DISCREPANCIES"
LOST = "LOST-IN-TRANSIT"
# The cost of parts bought from suppliers (Expenses), opened by the first
# purchase receipt.
PURCHASES = "PURCHASES"
# Parts used in repairs (Expenses), and the factory that takes defective
# units back (an outside party).
CONSUMED = "CONSUMED"
FACTORY = "FACTORY"
# Defective units on their way to the factory (shipped, not yet counted by
# it): the factory is an outside party and holds no TRANSIT of its own.
TO_FACTORY = "TO-FACTORY"
# Stock-count differences (Income: gains credit it, losses debit it), opened
# by the first approved count that finds one.
STOCK_COUNT = "STOCK-COUNT"
_SYSTEM_HOLDERS = {
    DISCREPANCIES: ("Units short on receipt, awaiting resolution", HolderKind.IN_TRANSIT),
    LOST: ("Units lost in transit", HolderKind.SCRAP),
    PURCHASES: ("Parts bought from suppliers, at agreed prices", HolderKind.PURCHASES),
    CONSUMED: ("Consumed in repair", HolderKind.CONSUMED),
    FACTORY: ("Factory", HolderKind.FACTORY),
    TO_FACTORY: ("Defective units in transit to the factory", HolderKind.IN_TRANSIT),
    STOCK_COUNT: ("Stock-count differences", HolderKind.COUNT_DIFFERENCE),
}


def system_holder(session: Session, code: str) -> Holder:
    """One of the parts cycle's own holders (DISCREPANCIES, CONSUMED, …),
    created by the first use."""
    name, kind = _SYSTEM_HOLDERS[code]
    holder = session.scalar(select(Holder).where(Holder.code == code))
    if holder is None:
        return md.create_holder(session, code, name, kind.value)
    if holder.kind != kind:
        # Someone took the code for something else: refuse rather than mix books.
        raise InvalidState(
            f"holder {code} is a {holder.kind}, but the parts cycle keeps {name.lower()} "
            f"there; an admin must rename that holder",
            holder=code,
        )
    return holder
