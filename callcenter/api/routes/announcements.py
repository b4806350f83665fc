"""Announcements to agents' desktops (客服公告): supervisors post, agents read theirs."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from callcenter.agents.service import AgentNotFound
from callcenter.api.deps import CurrentPrincipal, ServicesDep, require
from callcenter.auth.permissions import Permission, Principal

router = APIRouter(prefix="/api/announcements", tags=["announcements"])
Announcer = Annotated[Principal, Depends(require(Permission.ANNOUNCE))]


class NewAnnouncement(BaseModel):
    text: str = Field(min_length=1, max_length=1000)
    team: str | None = Field(default=None, min_length=1, max_length=64)  # none: everybody
    hours: float = Field(default=8.0, gt=0, le=168)  # shown this long


@router.post("", status_code=status.HTTP_201_CREATED)
async def post(body: NewAnnouncement, services: ServicesDep, who: Announcer) -> dict[str, Any]:
    return await services.announcements.post(
        body.text.strip(), team=body.team, hours=body.hours, author_id=who.user_id,
        author=who.username,
    )  # fmt: skip


@router.get("")
async def current(services: ServicesDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """What is current: everything for who may post, else what is for your teams."""
    if principal.has(Permission.ANNOUNCE):
        return await services.announcements.current(None)
    teams: frozenset[str] = frozenset()
    if principal.user_id is not None:
        with contextlib.suppress(AgentNotFound):
            teams = (await services.agents.agent(principal.user_id)).profile.teams
    return await services.announcements.current(teams)


@router.delete("/{announcement_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove(announcement_id: int, services: ServicesDep, _: Announcer) -> None:
    if not await services.announcements.remove(announcement_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no announcement {announcement_id}")
