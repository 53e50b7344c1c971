"""The approval rules both requisitions and purchase orders follow: an
approver decides with their level's limits, a document escalated past a
level is decided at that level or above, and escalation goes to the next
level up."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.catalog import locations
from ledger.catalog.locations import Limits
from ledger.errors import Forbidden, InvalidState
from ledger.policy import Actor


def limits_of(session: Session, actor: Actor, documents: str) -> Limits:
    """The actor's limits; Forbidden for one without an active level."""
    limits = locations.limits_of(session, actor.username)
    if limits is None:
        raise Forbidden(
            f"{actor.username} has no active approval level and may decide no {documents}; "
            "an admin gives approvers a level"
        )
    return limits


def require_level(escalated_to_rank: int | None, what: str, limits: Limits) -> None:
    """Refuse an approver below the level `what` was escalated to."""
    if escalated_to_rank is not None and limits.rank < escalated_to_rank:
        raise Forbidden(
            f"{what} was escalated beyond your level {limits.code}; "
            "an approver of the level it was escalated to decides it",
            level=limits.code,
        )


def next_level(session: Session, limits: Limits, what: str, state: str, otherwise: str) -> Limits:
    """The level to escalate to from the approver's; InvalidState at the top,
    saying what to do `otherwise`."""
    higher = locations.next_level_above(session, limits.rank)
    if higher is None:
        raise InvalidState(
            f"level {limits.code} is the highest approval level; there is no one to escalate "
            f"{what} to. {otherwise}",
            number=what.rsplit(" ", 1)[-1],
            state=state,
        )
    return higher


def level_code(session: Session, rank: int | None) -> str | None:
    """The code of the level a document was escalated to (None if it was not)."""
    if rank is None:
        return None
    code = session.scalar(
        select(locations.ApprovalLevel.code).where(locations.ApprovalLevel.rank == rank)
    )
    return code or f"rank {rank}"
