"""Call records over REST: thin, the domain is in callcenter.calls.service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from callcenter.api.deps import ServicesDep, require
from callcenter.auth.permissions import Permission
from callcenter.auth.service import Principal
from callcenter.calls.service import CallNotFound, call_public, event_public

router = APIRouter(prefix="/api/calls", tags=["calls"])

Reader = Annotated[Principal, Depends(require(Permission.CALLS_READ_OWN))]


def _scope(principal: Principal) -> int | None:
    """Agents see the calls they handled; supervisors and admins see every call."""
    if Permission.CALLS_READ_ALL in principal.permissions:
        return None
    return principal.user_id


@router.get("")
async def list_calls(
    services: ServicesDep,
    principal: Reader,
    *,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    caller_number: str | None = None,
    state: Annotated[str | None, Query(pattern="^(ringing|answered|ended)$")] = None,
) -> dict[str, Any]:
    agent = _scope(principal)
    rows, total = await services.calls.list_calls(
        limit=limit,
        offset=offset,
        agent_id=agent,
        caller_number=caller_number,
        state=state,
    )
    return {"total": total, "items": [call_public(c) for c in rows]}


@router.get("/{call_id}")
async def get_call(call_id: int, services: ServicesDep, principal: Reader) -> dict[str, Any]:
    try:
        call, events = await services.calls.get_call(call_id)
    except CallNotFound:
        raise HTTPException(404, "call not found") from None
    agent = _scope(principal)
    if agent is not None and call.agent_id != agent:
        raise HTTPException(404, "call not found")  # don't reveal other agents' calls exist
    return {**call_public(call), "events": [event_public(e) for e in events]}
