"""The customer portal's API (docs/portal.md), and the agents' way to a ticket's link.

A portal caller is a customer, never a user: the bearer is a portal token (a ticket
link's or a session's, callcenter.portal.tokens), not a login token. A token altered or
expired answers 403; a ticket that is not theirs (or not the link's) 404.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from callcenter.api.deps import ServicesDep, invalid, require
from callcenter.auth.permissions import Permission, Principal
from callcenter.mail.desk import MailDesk
from callcenter.portal.service import BadCode, MailUnavailable, PortalService, TooManyCodes
from callcenter.portal.tokens import BadToken, PortalAccess
from callcenter.services import Services
from callcenter.tickets.access import TicketScope
from callcenter.tickets.service import FieldError, TicketClosed, TicketNotFound

router = APIRouter(prefix="/api", tags=["portal"])
T = TypeVar("T")

Reader = Annotated[Principal, Depends(require(Permission.TICKETS_READ))]


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(min_length=3, max_length=254)]


class SessionRequest(CodeRequest):
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, Field(min_length=1, max_length=10_000)]


def mail_desk(services: Services) -> MailDesk:
    if services.mail is None:  # running_services always builds it; a bare test app may not
        raise HTTPException(503, "mail and portal are not running")
    return services.mail


async def get_portal(services: ServicesDep) -> PortalService:
    desk = mail_desk(services)
    return PortalService(
        services.db, services.clock, tickets=services.tickets(), mailer=desk.mailer,
        tokens=desk.tokens, secret=desk.config.secret, background=desk.background,
    )  # fmt: skip


Portal = Annotated[PortalService, Depends(get_portal)]


async def get_access(request: Request, services: ServicesDep) -> PortalAccess:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "a portal link or session is needed",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    try:
        return mail_desk(services).tokens.read(token.strip())
    except BadToken as exc:
        raise HTTPException(403, str(exc)) from None


Access = Annotated[PortalAccess, Depends(get_access)]


# ---- agents ------------------------------------------------------------------------------


@router.get("/tickets/{ticket_id}/portal-link")
async def portal_link(ticket_id: int, services: ServicesDep, who: Reader) -> dict[str, Any]:
    """A link the requester opens to see this ticket and reply, without an account."""
    ticket = await _done(services.tickets().get(ticket_id, TicketScope.of(who)))
    desk = mail_desk(services)
    token, expires = desk.tokens.link(ticket_id, ticket["requester_id"])
    return {"ticket_id": ticket_id, "url": f"{desk.config.public_url}/portal.html#token={token}",
            "token": token, "expires_at": expires.isoformat()}  # fmt: skip


# ---- customers ---------------------------------------------------------------------------


@router.post("/portal/code", status_code=status.HTTP_202_ACCEPTED)
async def request_code(body: CodeRequest, portal: Portal) -> dict[str, str]:
    """Mail a sign-in code. The same answer for an address we do not know."""
    await _done(portal.request_code(body.email))
    return {"detail": "if the address is a customer's, a code is on its way"}


@router.post("/portal/session")
async def login(body: SessionRequest, portal: Portal) -> dict[str, Any]:
    session = await _done(portal.login(body.email, body.code))
    return {"token": session.token, "expires_at": session.expires_at.isoformat(),
            "customer_id": session.customer_id}  # fmt: skip


@router.get("/portal/me")
async def me(portal: Portal, access: Access) -> dict[str, Any]:
    return await portal.me(access)


@router.get("/portal/tickets")
async def tickets(portal: Portal, access: Access) -> dict[str, Any]:
    return {"items": await portal.own_tickets(access)}


@router.get("/portal/tickets/{ticket_id}")
async def ticket(ticket_id: int, portal: Portal, access: Access) -> dict[str, Any]:
    return await _done(portal.ticket(access, ticket_id))


@router.post("/portal/tickets/{ticket_id}/replies", status_code=status.HTTP_201_CREATED)
async def reply(ticket_id: int, body: Reply, portal: Portal, access: Access) -> dict[str, Any]:
    return await _done(portal.reply(access, ticket_id, body.body))


async def _done(work: Awaitable[T]) -> T:
    try:
        return await work
    except TicketNotFound:
        raise HTTPException(404, "ticket not found") from None
    except TicketClosed:
        raise HTTPException(409, "the ticket is closed") from None
    except BadCode:
        raise HTTPException(401, "wrong or expired code") from None
    except TooManyCodes as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    except MailUnavailable:
        raise HTTPException(503, "sign-in by mail is not available here") from None
    except FieldError as exc:
        raise invalid(exc.message, exc.field) from None
