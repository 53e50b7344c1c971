"""Domain errors: what went wrong, where, and what to do.

They know nothing of HTTP; `api/problems.py` maps each `code` to a problem
type and status. `where` names the offending account, posting, field or serial.
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    code = "ledger-error"
    title = "Ledger error"

    def __init__(self, detail: str, **where: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.where = {k: v for k, v in where.items() if v is not None}


class InvalidInput(LedgerError):
    """A request other than a journal entry is not valid: a query, master
    data, a user."""

    code = "invalid-request"
    title = "The request is not valid"


class InvalidEntry(LedgerError):
    code = "invalid-entry"
    title = "The entry is not valid"


class Unbalanced(InvalidEntry):
    code = "unbalanced-entry"
    title = "Debits and credits differ"


class UnknownAccount(LedgerError):
    code = "unknown-account"
    title = "No such account"


class NotFound(LedgerError):
    code = "not-found"
    title = "Not found"


class InsufficientBalance(LedgerError):
    code = "insufficient-balance"
    title = "Not enough on the account"


class BackDatedTake(LedgerError):
    code = "back-dated-take"
    title = "Taken before the account's latest posting"


class OutOfBounds(LedgerError):
    code = "out-of-bounds"
    title = "The balance would leave the ledger's bounds"


class SerialNotAtSource(LedgerError):
    code = "serial-not-at-source"
    title = "The serial is not held by the account it leaves"


class IdempotencyConflict(LedgerError):
    code = "idempotency-conflict"
    title = "Idempotency key reused with a different request"


class IdempotencyKeyTaken(LedgerError):
    code = "idempotency-key-taken"
    title = "Idempotency key belongs to another user"


class AlreadyReversed(LedgerError):
    code = "already-reversed"
    title = "The entry has already been reversed"


class Duplicate(LedgerError):
    code = "duplicate"
    title = "Already exists"


class InvalidState(LedgerError):
    """Not allowed in the record's current state (a terminated point, a
    suspended point requisitioning, limits out of rank order)."""

    code = "invalid-state"
    title = "Not allowed in the current state"


class Forbidden(LedgerError):
    code = "forbidden"
    title = "Not allowed for this role"


class BeyondApprovalLimit(Forbidden):
    """An approver tried to approve more than their level allows."""

    code = "beyond-approval-limit"
    title = "Beyond the approver's limit"


class CreditLimitExceeded(LedgerError):
    """An issue would take a point's exposure past its credit limit
    (deposit × leverage); `where` carries limit, exposure, headroom and the
    amount asked for, in fen."""

    code = "credit-limit-exceeded"
    title = "Beyond the point's credit limit"


class SelfLockout(LedgerError):
    code = "self-lockout"
    title = "An admin may not lock themself out"


class TooManyAttempts(LedgerError):
    code = "too-many-attempts"
    title = "Too many failed attempts; wait before trying again"

    def __init__(self, detail: str, *, retry_after: int, **where: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **where)
        self.retry_after = retry_after


class RetryableConflict(Exception):
    """A race with another writer was lost; the unit of work runs again."""
