"""Amounts as people read them, and the bounds every amount stays within.

Amounts are stored as integers in the commodity's smallest unit (units, or fen
for CNY). People read money as money: 1234567 fen is "12,345.67 CNY", never
"1234567"; quantities are plain integers with thousands separators.

The bounds keep every stored figure and every sum the ledger computes far
inside 64 bits on both databases: a posting moves at most MAX_AMOUNT, an
account holds at most MAX_BALANCE either way, so a SQL sum over history or
over accounts needs millions of maximal postings before it nears 2**63.
"""

from __future__ import annotations

from decimal import Decimal

MAX_AMOUNT = 10**12  # per posting: 10 billion CNY in fen, or a trillion units
MAX_BALANCE = 10**15  # per account, either sign


def format_amount(amount: int, decimals: int = 0, commodity: str | None = None) -> str:
    """1234567, 2, "CNY" -> "12,345.67 CNY"; 1500, 0 -> "1,500"."""
    text = f"{Decimal(amount).scaleb(-decimals):,.{decimals}f}" if decimals else f"{amount:,}"
    return f"{text} {commodity}" if commodity else text


__all__ = ["MAX_AMOUNT", "MAX_BALANCE", "format_amount"]
