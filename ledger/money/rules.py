"""Finance's effective-dated rules (leverage ratios, subsidies): one row per
scope and day, set from today on (never in the past, which would rewrite what
documents already relied on), at most two years ahead; setting a scope's rule
for a day that has one replaces it, and every change is recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import documents as docs
from ledger.errors import InvalidInput
from ledger.policy import Actor
from ledger.types import utcnow

AHEAD_DAYS = 2 * 366
R = TypeVar("R")


def effective_day(session: Session, effective_from: date | None, what: str) -> date:
    """The day a rule takes effect: today by default, never in the past."""
    today = session.info["window"].today()
    day = effective_from or today
    if day < today:
        raise InvalidInput(
            f"effective_from {day.isoformat()} is in the past; {what} takes effect from today "
            f"({today.isoformat()}) or a later day",
            field="effective_from",
        )
    if (day - today).days > AHEAD_DAYS:
        raise InvalidInput("effective_from may be at most two years ahead", field="effective_from")
    return day


def set_rule(
    session: Session,
    actor: Actor,
    model: type[R],
    *,
    scope: str,
    day: date,
    field: str,
    value: Any,
    reason: str | None,
    document: str,
    shown: Callable[[Any], str | None],
) -> R:
    """Write `model`'s rule of `scope` from `day` (its `field` = `value`),
    replacing that day's, and record the change (before → after, as `shown`)."""
    reason = docs.reason_text(reason)
    rule = session.scalar(
        select(model).where(model.scope == scope, model.effective_from == day).with_for_update()
    )
    before = None if rule is None else getattr(rule, field)
    if rule is None:
        rule = model(scope=scope, effective_from=day, **{field: value}, set_by="", set_at=utcnow())
        session.add(rule)
    setattr(rule, field, value)
    rule.reason, rule.set_by, rule.set_at = reason, actor.username, utcnow()
    session.flush()
    docs.step(
        session, actor, document, rule.id, "set",
        None if before is None else shown(before), None if value is None else shown(value),
        reason=reason, detail={"scope": scope, "effective_from": day.isoformat()},
    )  # fmt: skip
    return rule
