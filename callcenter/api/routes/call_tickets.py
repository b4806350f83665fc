"""A ticket from a call (the agent desktop's "Create ticket"): thin, the domain is in
callcenter.tickets.from_call.

Only the agent who took the call, or whoever reads every call (supervisors), may make
one; to anyone else the call does not exist (404), as in the calls API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status

from callcenter.api.deps import ServicesDep, require
from callcenter.api.routes.tickets import _done
from callcenter.auth.permissions import Permission, Principal
from callcenter.calls.service import CallNotFound
from callcenter.services import Services
from callcenter.tickets.access import TicketScope
from callcenter.tickets.from_call import CallTicket, CallTickets, NoRequester

router = APIRouter(prefix="/api", tags=["tickets"])

Writer = Annotated[
    Principal,
    Depends(require(Permission.TICKETS_READ, Permission.TICKETS_MANAGE, Permission.CALLS_READ_OWN)),
]


def call_tickets(services: Services) -> CallTickets:
    settings = services.settings
    return CallTickets(services.tickets(), services.calls, zone=settings.zone,
                       language=settings.default_language,
                       transcripts=services.transcripts)  # fmt: skip


@router.post("/calls/{call_id}/ticket", status_code=status.HTTP_201_CREATED)
async def from_call(
    call_id: int, body: CallTicket, services: ServicesDep, who: Writer
) -> dict[str, Any]:
    """A ticket whose requester is the caller and whose description tells the call."""
    try:
        call = await services.calls.call(call_id)
    except CallNotFound:
        raise HTTPException(404, "call not found") from None
    theirs = call.agent_id is not None and call.agent_id == who.user_id
    if not theirs and Permission.CALLS_READ_ALL not in who.permissions:
        raise HTTPException(404, "call not found")
    try:
        return await _done(call_tickets(services).from_call(call_id, body, who,
                                                            TicketScope.of(who)))  # fmt: skip
    except NoRequester:
        raise HTTPException(409, "the caller's number was withheld: no customer") from None
