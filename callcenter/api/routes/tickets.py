"""Tickets and ticket groups over REST: thin, the domain is in callcenter.tickets.

Who sees what (docs/tickets.md): `tickets.read_all` every ticket; anyone else with
`tickets.read` those of their groups and those assigned to them. A ticket one may not
see answers 404, as if it did not exist. Writing needs `tickets.manage`; groups and
their members `tickets.admin`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, status

from callcenter.api.deps import ServicesDep, invalid, require
from callcenter.auth.permissions import Permission, Principal
from callcenter.tickets.access import TicketScope
from callcenter.tickets.fields import Members, NewComment, NewGroup, NewTicket, Status, TicketChange
from callcenter.tickets.service import (
    FieldError,
    GroupNotFound,
    TicketClosed,
    TicketNotFound,
    TicketService,
)

router = APIRouter(prefix="/api", tags=["tickets"])
T = TypeVar("T")

Reader = Annotated[Principal, Depends(require(Permission.TICKETS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.TICKETS_READ, Permission.TICKETS_MANAGE))]
Admin = Annotated[Principal, Depends(require(Permission.TICKETS_ADMIN))]


async def get_tickets(services: ServicesDep) -> TicketService:
    return services.tickets()


Tickets = Annotated[TicketService, Depends(get_tickets)]


# ---- groups -----------------------------------------------------------------------------


@router.get("/ticket-groups")
async def groups(tickets: Tickets, _: Reader) -> list[dict[str, Any]]:
    return await tickets.groups()


@router.post("/ticket-groups", status_code=status.HTTP_201_CREATED)
async def create_group(body: NewGroup, tickets: Tickets, _: Admin) -> dict[str, Any]:
    return await _done(tickets.create_group(body.name))


@router.put("/ticket-groups/{group_id}/members")
async def set_members(group_id: int, body: Members, tickets: Tickets, _: Admin) -> dict[str, Any]:
    """Replace the group's members with `user_ids`."""
    return await _done(tickets.set_members(group_id, body.user_ids))


# ---- tickets ----------------------------------------------------------------------------


@router.post("/tickets", status_code=status.HTTP_201_CREATED)
async def create(body: NewTicket, tickets: Tickets, who: Writer) -> dict[str, Any]:
    return await _done(tickets.create(body, who, TicketScope.of(who)))


@router.get("/tickets")
async def search(
    tickets: Tickets,
    who: Reader,
    *,
    status: Status | None = None,
    group_id: Annotated[int | None, Query(gt=0)] = None,
    assignee: Annotated[Literal["me"] | None, Query()] = None,
    requester_id: Annotated[int | None, Query(gt=0)] = None,
    q: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Visible tickets, newest first. `assignee=me`: those assigned to the caller."""
    mine = who.user_id if assignee == "me" else None
    if assignee == "me" and mine is None:  # an API token without a user: nobody is "me"
        return {"total": 0, "items": []}
    items, total = await tickets.search(
        TicketScope.of(who), status=status or "", group_id=group_id, assignee_id=mine,
        requester_id=requester_id, q=q, limit=limit, offset=offset,
    )  # fmt: skip
    return {"total": total, "items": items}


@router.get("/tickets/{ticket_id}")
async def get(ticket_id: int, tickets: Tickets, who: Reader) -> dict[str, Any]:
    return await _done(tickets.get(ticket_id, TicketScope.of(who)))


@router.patch("/tickets/{ticket_id}")
async def change(
    ticket_id: int, body: TicketChange, tickets: Tickets, who: Writer
) -> dict[str, Any]:
    return await _done(tickets.update(ticket_id, body, who, TicketScope.of(who)))


@router.post("/tickets/{ticket_id}/comments", status_code=status.HTTP_201_CREATED)
async def comment(
    ticket_id: int, body: NewComment, tickets: Tickets, who: Writer
) -> dict[str, Any]:
    return await _done(tickets.comment(ticket_id, body, who, TicketScope.of(who)))


@router.get("/tickets/{ticket_id}/history")
async def history(ticket_id: int, tickets: Tickets, who: Reader) -> dict[str, Any]:
    items = await _done(tickets.history(ticket_id, TicketScope.of(who)))
    return {"ticket_id": ticket_id, "items": items}


async def _done(work: Awaitable[T]) -> T:
    """The service's answer, or its refusal as HTTP: 404, 409 for a closed ticket,
    422 naming the field."""
    try:
        return await work
    except TicketNotFound:
        raise HTTPException(404, "ticket not found") from None
    except GroupNotFound:
        raise HTTPException(404, "group not found") from None
    except TicketClosed:
        raise HTTPException(409, "the ticket is closed; a closed ticket is final") from None
    except FieldError as exc:
        raise invalid(exc.message, *exc.loc) from None
