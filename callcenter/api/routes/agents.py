"""Agents: routing profiles (admins) and presence (agents themselves; supervisors read)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field, model_validator

from callcenter.agents.models import AgentStateSpanRow
from callcenter.agents.service import AgentNotFound, AgentStateError, AgentView
from callcenter.agents.state import AgentState
from callcenter.api.deps import CurrentPrincipal, ServicesDep, require
from callcenter.auth.models import aware
from callcenter.auth.permissions import Permission, Principal

router = APIRouter(prefix="/api/agents", tags=["agents"])

Reader = Annotated[Principal, Depends(require(Permission.USERS_READ))]
Manager = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]
SkillName = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
Level = Annotated[int, Field(ge=1, le=10)]


class AgentPublic(BaseModel):
    user_id: int
    username: str
    display_name: str
    extension: str
    skills: dict[str, int]
    teams: list[str]
    voice_capacity: int
    chat_capacity: int
    state: AgentState
    reason: str
    since: datetime


class ProfileUpdate(BaseModel):
    extension: str = Field(default="", max_length=32, pattern=r"^[0-9]*$")
    skills: dict[SkillName, Level] = {}
    teams: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default=[], max_length=50
    )
    voice_capacity: int = Field(default=1, ge=0, le=1)
    chat_capacity: int = Field(default=3, ge=0, le=20)


class StateChange(BaseModel):
    state: Literal[AgentState.AVAILABLE, AgentState.BREAK, AgentState.OFFLINE]
    reason: str = Field(default="", max_length=64)

    @model_validator(mode="after")
    def _break_has_a_reason(self) -> StateChange:
        if self.state == AgentState.BREAK and not self.reason.strip():
            raise ValueError("a break needs a reason (lunch, training, meeting …)")
        return self


class StateSpanPublic(BaseModel):
    state: str
    reason: str
    started_at: datetime
    ended_at: datetime
    seconds: float


def public_agent(view: AgentView) -> AgentPublic:
    return AgentPublic(
        user_id=view.user_id, username=view.username, display_name=view.display_name,
        extension=view.extension, skills=dict(view.profile.skills),
        teams=sorted(view.profile.teams), voice_capacity=view.profile.capacity.get("voice", 0),
        chat_capacity=view.profile.capacity.get("chat", 0), state=view.state,
        reason=view.reason, since=view.since,
    )  # fmt: skip


def _not_found(user_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no user {user_id}")


@router.get("", response_model=list[AgentPublic])
async def list_agents(services: ServicesDep, _: Reader) -> list[AgentPublic]:
    return [public_agent(v) for v in await services.agents.agents()]


@router.get("/me", response_model=AgentPublic)
async def me(services: ServicesDep, principal: CurrentPrincipal) -> AgentPublic:
    if principal.user_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="API tokens of systems are no agents")
    return public_agent(await services.agents.agent(principal.user_id))


@router.put("/me/state", response_model=AgentPublic)
async def set_my_state(
    body: StateChange, services: ServicesDep, principal: CurrentPrincipal
) -> AgentPublic:
    """Log in (available or a break), take a break, come back, log out (offline)."""
    if principal.user_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="API tokens of systems are no agents")
    try:
        view = await services.agents.choose_state(principal.user_id, body.state, body.reason)
    except AgentStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return public_agent(view)


@router.put("/{user_id}/profile", response_model=AgentPublic)
async def set_profile(
    user_id: int, body: ProfileUpdate, services: ServicesDep, _: Manager
) -> AgentPublic:
    try:
        view = await services.agents.set_profile(user_id, **body.model_dump())
    except AgentNotFound:
        raise _not_found(user_id) from None
    return public_agent(view)


@router.get("/{user_id}/states", response_model=list[StateSpanPublic])
async def state_history(
    user_id: int,
    services: ServicesDep,
    principal: CurrentPrincipal,
    since: Annotated[datetime, Query(description="ISO time, e.g. 2026-11-29T00:00:00Z")],
) -> list[StateSpanPublic]:
    """Time in each state; an agent sees their own, supervisors anyone's."""
    if principal.user_id != user_id and not principal.has(Permission.REPORTS_READ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="missing permission: reports.read")
    return [_span(row) for row in await services.agents.spans(user_id, since)]


def _span(row: AgentStateSpanRow) -> StateSpanPublic:
    started, ended = aware(row.started_at), aware(row.ended_at)
    assert started is not None and ended is not None
    seconds = round((ended - started).total_seconds(), 3)
    return StateSpanPublic(
        state=row.state, reason=row.reason, started_at=started, ended_at=ended, seconds=seconds
    )
