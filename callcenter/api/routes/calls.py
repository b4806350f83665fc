"""Call records over REST: thin, the domain is in callcenter.calls.service."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from callcenter.agents.state import AgentState
from callcenter.api.deps import ServicesDep, require
from callcenter.auth.permissions import Permission
from callcenter.auth.service import Principal
from callcenter.calls.models import Call
from callcenter.calls.service import CallNotFound, call_public, event_public
from callcenter.services import Services
from callcenter.tickets.access import TicketScope
from callcenter.tickets.from_call import call_of_visible_ticket

router = APIRouter(prefix="/api/calls", tags=["calls"])
T = TypeVar("T")

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


class WrapUp(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    notes: str = Field(default="", max_length=4000)


@router.get("/wrap-up-codes")
async def wrap_up_codes(services: ServicesDep, _: Reader) -> dict[str, dict[str, str]]:
    """The dispositions agents choose from after a call (routing.yaml), in both languages."""
    codes = services.routing.wrap_up_codes
    return {code: label.model_dump() for code, label in codes.items()}


@router.get("/transfer-targets")
async def transfer_targets(services: ServicesDep, principal: Reader) -> dict[str, Any]:
    """Where an agent on a call may send the caller through routing: every queue (with
    the callers waiting there) and the colleagues logged in (`free`: can take it now)."""
    router = services.routing.router
    queues = [{"name": name, "waiting": router.waiting(name)} for name in router.queue_names]
    agents = [
        {"id": view.user_id, "name": view.display_name or view.username,
         "state": view.state.value, "free": router.free(view.user_id)}
        for view in await services.agents.agents()
        if view.state != AgentState.OFFLINE and view.user_id != principal.user_id
    ]  # fmt: skip
    return {"queues": queues, "agents": agents}


@router.post("/{call_id}/wrap-up")
async def wrap_up(
    call_id: int, body: WrapUp, services: ServicesDep, principal: Reader
) -> dict[str, Any]:
    """The call's agent closes it: a code and notes; a wrap-up still running ends now."""
    if body.code not in services.routing.wrap_up_codes:
        known = ", ".join(services.routing.wrap_up_codes)
        raise HTTPException(422, [{"loc": ["body", "code"], "msg": f"unknown code; use {known}"}])
    call = await _found(services.calls.call(call_id))
    theirs = call.agent_id is not None and call.agent_id == principal.user_id
    if not theirs and Permission.CALLS_CONTROL not in principal.permissions:
        raise HTTPException(404, "call not found")
    if call.ended_at is None:
        raise HTTPException(409, "the call is still in progress")
    call = await services.calls.wrap_up(call_id, code=body.code, notes=body.notes)
    agent = call.agent_id
    if agent is not None and services.agents.presence(agent).state == AgentState.WRAP_UP:
        await services.agents.change(agent, AgentState.AVAILABLE)
    return call_public(call)


@router.get("/{call_id}")
async def get_call(call_id: int, services: ServicesDep, principal: Reader) -> dict[str, Any]:
    call, events = await _found(services.calls.get_call(call_id))
    await _visible_or_ticketed(services, call, principal)
    return {**call_public(call), "events": [event_public(e) for e in events]}


async def _found(lookup: Awaitable[T]) -> T:
    try:
        return await lookup
    except CallNotFound:
        raise HTTPException(404, "call not found") from None


def _visible(call: Call, principal: Principal) -> None:
    agent = _scope(principal)
    if agent is not None and call.agent_id != agent:
        raise HTTPException(404, "call not found")  # don't reveal other agents' calls exist


async def _visible_or_ticketed(services: Services, call: Call, principal: Principal) -> None:
    """Visible as above, or the call of a ticket the reader may see: whoever works the
    ticket hears the call (or voicemail) it came from."""
    if _scope(principal) is None or call.agent_id == principal.user_id or call.id is None:
        return
    if not await call_of_visible_ticket(services.db, call.id, TicketScope.of(principal)):
        raise HTTPException(404, "call not found")


@router.get("/{call_id}/recording")
async def recording(call_id: int, services: ServicesDep, principal: Reader) -> FileResponse:
    """The conversation's WAV (byte ranges served, for seeking in a player); only to whom
    the call is visible."""
    call = await _found(services.calls.call(call_id))
    await _visible_or_ticketed(services, call, principal)
    root = services.settings.recordings_path.resolve()
    path = (root / call.recording).resolve() if call.recording else None
    if path is None or not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(404, "no recording")
    return FileResponse(path, media_type="audio/wav", filename=f"call-{call_id}.wav")
