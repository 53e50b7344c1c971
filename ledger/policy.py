"""Who may do what. Roles are business rules, so they live in the core; the
doors only turn a token into an Actor."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ledger.errors import Forbidden
from ledger.models import CommodityKind, Role


@dataclass(frozen=True, slots=True)
class Actor:
    username: str
    role: Role
    # Set for a service-point user: the one point whose books they may see.
    holder_id: int | None = None

    @property
    def sees_everything(self) -> bool:
        return self.role is not Role.SERVICE_POINT


SYSTEM = Actor("system", Role.ADMIN)

# What each role may move by a raw journal entry; workflows add their own checks.
_POSTS = {
    Role.ADMIN: set(CommodityKind),
    Role.WAREHOUSE_CLERK: {CommodityKind.PART, CommodityKind.HANDSET},
    Role.FINANCE: {CommodityKind.MONEY},
}


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(f"role {actor.role.value} may not do this; it needs one of: {allowed}")


def require_may_post(actor: Actor) -> None:
    """Refuse a role that may post nothing, before anything is looked up:
    the answer then says nothing about what exists."""
    if not _POSTS.get(actor.role):
        raise Forbidden(f"role {actor.role.value} may not post or reverse entries")


def require_can_post(actor: Actor, commodity_kinds: Iterable[str]) -> None:
    allowed = _POSTS.get(actor.role, set())
    for kind in set(commodity_kinds):
        if CommodityKind(kind) not in allowed:
            raise Forbidden(
                f"role {actor.role.value} may not post {kind} entries",
                commodity_kind=kind,
            )
