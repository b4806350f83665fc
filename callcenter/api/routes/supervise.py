"""Supervisors acting on the floor: monitor a call, end it, move an agent's state.

Every action here is a mutating request with the agent's id in its path, so the audit
middleware records who did what to whom (`POST /api/supervise/agents/7/monitor`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from callcenter.agents.service import AgentNotFound, AgentStateError
from callcenter.api.deps import ServicesDep, require
from callcenter.api.routes.agents import AgentPublic, StateChange, public_agent
from callcenter.auth.permissions import Permission, Principal
from callcenter.calls.agent_legs import AgentLegs
from callcenter.calls.supervision import MonitorMode, SupervisionError
from callcenter.services import Services

router = APIRouter(prefix="/api/supervise", tags=["supervise"])

Listener = Annotated[Principal, Depends(require(Permission.MONITOR_LISTEN))]
Barger = Annotated[Principal, Depends(require(Permission.MONITOR_BARGE))]
Supervisor = Annotated[Principal, Depends(require(Permission.AGENTS_SUPERVISE))]
# Joining the conversation itself takes more than listening to it.
BARGE_MODES = frozenset({MonitorMode.BARGE, MonitorMode.TAKEOVER})


class MonitorRequest(BaseModel):
    mode: MonitorMode
    # The supervisor's phone; by default the extension of their own agent profile.
    extension: str = Field(default="", max_length=32, pattern=r"^[0-9]*$")


def _legs(services: Services) -> AgentLegs:
    if services.telephony is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="no telephony here")
    return services.telephony.legs


def _conflict(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=str(exc))


@router.get("/monitors")
async def monitors(services: ServicesDep, _: Listener) -> list[dict[str, Any]]:
    return [m.public() for m in _legs(services).monitors()]


@router.post("/agents/{agent_id}/monitor")
async def monitor(
    agent_id: int, body: MonitorRequest, services: ServicesDep, principal: Listener
) -> dict[str, Any]:
    """Call the supervisor's phone into the agent's call (or switch the running monitor
    of that call to another mode)."""
    if body.mode in BARGE_MODES and (missing := principal.missing(Permission.MONITOR_BARGE)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"missing permission: {missing}")
    if principal.user_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="a person monitors, not a token")
    extension = body.extension
    if not extension:
        try:
            extension = (await services.agents.agent(principal.user_id)).extension
        except AgentNotFound:
            extension = ""
    try:
        running = await _legs(services).monitor(principal.user_id, agent_id, body.mode, extension)
    except SupervisionError as exc:
        raise _conflict(exc) from None
    return running.public()


@router.delete("/monitors/{monitor_id}", status_code=status.HTTP_204_NO_CONTENT)
async def stop_monitor(monitor_id: str, services: ServicesDep, _: Listener) -> None:
    if not await _legs(services).stop_monitor(monitor_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no monitor {monitor_id}")


@router.post("/agents/{agent_id}/hangup", status_code=status.HTTP_204_NO_CONTENT)
async def force_hangup(agent_id: int, services: ServicesDep, principal: Barger) -> None:
    """End the agent's current call for everyone in it."""
    try:
        await _legs(services).force_hangup(principal.user_id, agent_id)
    except SupervisionError as exc:
        raise _conflict(exc) from None


@router.put("/agents/{agent_id}/state", response_model=AgentPublic)
async def set_state(
    agent_id: int, body: StateChange, services: ServicesDep, _: Supervisor
) -> AgentPublic:
    """Put an agent on a break, make them available, or log them out (offline)."""
    try:
        view = await services.agents.choose_state(agent_id, body.state, body.reason)
    except AgentNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no agent {agent_id}") from None
    except AgentStateError as exc:
        raise _conflict(exc) from None
    return public_agent(view)
