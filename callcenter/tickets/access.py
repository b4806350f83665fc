"""Who may see which ticket: one SQL condition, shared with the customers' rule.

`tickets.read_all` (supervisors, admins) sees every ticket. Anyone else sees the
tickets of the groups they belong to and the tickets assigned to them (an assignee
stays one even if they later leave the group). Without `tickets.read`, none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import false, or_, select, true

from callcenter.auth.permissions import Permission, Principal
from callcenter.tickets.models import Ticket, TicketGroupMember

TICKETS = Ticket.__table__  # type: ignore[attr-defined]
MEMBERS = TicketGroupMember.__table__  # type: ignore[attr-defined]

Reach = Literal["all", "groups", "none"]


@dataclass(frozen=True)
class TicketScope:
    reach: Reach
    user_id: int | None = None

    @classmethod
    def of(cls, principal: Principal) -> TicketScope:
        if principal.has(Permission.TICKETS_READ_ALL):
            return cls("all", principal.user_id)
        if principal.has(Permission.TICKETS_READ):
            return cls("groups", principal.user_id)
        return cls("none", principal.user_id)


ALL_TICKETS = TicketScope("all")
NO_TICKETS = TicketScope("none")


def my_groups(user_id: int) -> Any:
    """A subquery: the ids of the groups `user_id` belongs to."""
    return select(MEMBERS.c.group_id).where(MEMBERS.c.user_id == user_id)


def ticket_visible(scope: TicketScope) -> Any:
    """A SQL condition on the `tickets` table: this row is visible to `scope`."""
    if scope.reach == "all":
        return true()
    if scope.reach == "none" or scope.user_id is None:
        return false()
    return or_(
        TICKETS.c.group_id.in_(my_groups(scope.user_id)),
        TICKETS.c.assignee_id == scope.user_id,
    )
