"""Who may see which customer: the object-level rule every customer endpoint applies.

Supervisors and admins (`customers.read_all`) see every profile. Anyone else sees the
customers they served: a call of that customer they handled (`calls.agent_id`), a chat
of theirs they had (`chat_conversations.agent_id`) or an offline chat message (every
agent reads those), or a ticket that customer requested which they may see
(tickets.access: one of their groups, or assigned to them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, false, or_, select, true

from callcenter.auth.permissions import Permission, Principal
from callcenter.calls.models import Call
from callcenter.chat.models import ChatConversation
from callcenter.tickets.access import ALL_TICKETS, NO_TICKETS, TICKETS, TicketScope, ticket_visible

CALLS = Call.__table__  # type: ignore[attr-defined]
CHATS = ChatConversation.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Scope:
    everyone: bool  # customers.read_all
    user_id: int | None = None
    tickets: TicketScope = NO_TICKETS  # the reader's tickets (and timeline items)

    @classmethod
    def of(cls, principal: Principal) -> Scope:
        return cls(
            principal.has(Permission.CUSTOMERS_READ_ALL),
            principal.user_id,
            TicketScope.of(principal),
        )


ALL = Scope(everyone=True, tickets=ALL_TICKETS)


def visible(scope: Scope, customer_id: Any) -> Any:
    """A SQL condition: the customer whose id is `customer_id` (a column) is visible."""
    if scope.everyone:
        return true()
    if scope.user_id is None:  # an API token without a user behind it and no read_all
        return false()
    served = select(CALLS.c.id).where(
        CALLS.c.customer_id == customer_id, CALLS.c.agent_id == scope.user_id
    )
    chatted = select(CHATS.c.id).where(
        CHATS.c.customer_id == customer_id,
        or_(CHATS.c.agent_id == scope.user_id, CHATS.c.state == "offline"),
    )
    if scope.tickets.reach == "none":
        return or_(exists(served), exists(chatted))
    requested = select(TICKETS.c.id).where(
        TICKETS.c.requester_id == customer_id, ticket_visible(scope.tickets)
    )
    return or_(exists(served), exists(chatted), exists(requested))
