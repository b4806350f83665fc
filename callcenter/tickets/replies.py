"""The requester writes on their ticket (by mail or in the portal): a public comment
whose author is the customer, not a user.

A reply to a pending or solved ticket opens it again (docs/sla.md: the customer is
waiting once more); on hold stays on hold, new stays new (nobody has acted yet).
A closed ticket takes nothing (TicketClosed); a ticket that is not theirs is absent
(TicketNotFound), whatever its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from callcenter.auth.permissions import Principal
from callcenter.customers.models import Customer
from callcenter.tickets.access import TICKETS

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
MAX_BODY = 10_000  # as an agent's comment (tickets.fields.NewComment)
VIA = ("email", "portal")


@dataclass(frozen=True)
class StoredReply:
    comment: dict[str, Any]
    group_id: int
    assignee_id: int | None
    reopened_from: str | None  # the status it left, when it went back to open


def customer_principal(customer_id: int, name: str) -> Principal:
    """Who the history names for a change the customer caused: no user, no rights."""
    return Principal(
        user_id=None,
        username=name or f"customer {customer_id}",
        role="customer",
        permissions=frozenset(),
        kind="system",
    )


def store_reply(
    conn: Connection, ticket_id: int, customer_id: int, body: str, now: datetime
) -> StoredReply:
    """In the caller's transaction: the comment, its history row, the reopen."""
    from callcenter.tickets.service import FieldError, TicketClosed, TicketNotFound, add_comment

    if not body.strip():
        raise FieldError("body", "may not be empty")
    if len(body) > MAX_BODY:
        raise FieldError("body", f"at most {MAX_BODY} characters")
    row = (
        conn.execute(
            select(TICKETS).where(TICKETS.c.id == ticket_id, TICKETS.c.requester_id == customer_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise TicketNotFound(ticket_id)
    if row["status"] == "closed":
        raise TicketClosed(ticket_id)
    name = conn.execute(
        select(CUSTOMERS.c.display_name).where(CUSTOMERS.c.id == customer_id)
    ).scalar()
    who = customer_principal(customer_id, str(name or ""))
    comment, opened = add_comment(conn, row, who, now, body=body, public=True,
                                  customer_id=customer_id)  # fmt: skip
    reopened = row["status"] if opened else None
    return StoredReply(comment, int(row["group_id"]), row["assignee_id"], reopened)
