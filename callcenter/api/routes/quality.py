"""Quality review (质检) over REST: thin, the domain is in callcenter.quality.service.

Reviewers (`quality.review`: supervisors and admins) score any call and manage
scorecards; an agent reads and acknowledges the reviews of their own calls only, and
another agent's review does not exist for them (404, as calls do).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field

from callcenter.agents.service import AgentNotFound
from callcenter.api.deps import CurrentPrincipal, ServicesDep, invalid, require
from callcenter.auth.permissions import Permission, Principal
from callcenter.calls.service import call_public
from callcenter.quality.models import Review
from callcenter.quality.scoring import Invalid
from callcenter.quality.service import (
    Period,
    QualityConflict,
    QualityNotFound,
    QualityService,
    scorecard_public,
)
from callcenter.services import Services

router = APIRouter(prefix="/api/quality", tags=["quality"])
T = TypeVar("T")
Reviewer = Annotated[Principal, Depends(require(Permission.QUALITY_REVIEW))]
MAX_DAYS = 366
DEFAULT_DAYS = 28  # four weeks: enough for a trend


async def get_quality(services: ServicesDep) -> QualityService:
    # Stateless over the app's services: built per request rather than kept in the
    # composition root, so this domain adds no field to `Services`.
    return quality_service(services)


def quality_service(services: Services) -> QualityService:
    return QualityService(
        services.db, services.calls, services.agents, services.clock, services.settings.zone
    )


Quality = Annotated[QualityService, Depends(get_quality)]


# ---- request bodies ---------------------------------------------------------------------

Key = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]


class Labels(BaseModel):
    en: str = Field(default="", max_length=200)
    zh: str = Field(default="", max_length=200)


class CriterionIn(BaseModel):
    key: Key
    label: Labels = Field(default_factory=Labels)
    weight: float = Field(gt=0, le=100)
    max_points: int = Field(default=5, ge=1, le=100)
    critical: bool = False  # zero points here fails the whole review (score 0)


class ScorecardIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    labels: Labels = Field(default_factory=Labels)
    active: bool = True
    criteria: list[CriterionIn] = Field(min_length=1, max_length=50)


class ItemIn(BaseModel):
    key: Key
    points: int = Field(ge=0, le=100)
    comment: str = Field(default="", max_length=2000)


class ReviewIn(BaseModel):
    call_id: int
    scorecard_id: int
    items: list[ItemIn] = Field(min_length=1, max_length=50)
    comment: str = Field(default="", max_length=4000)


class Amendment(BaseModel):
    items: list[ItemIn] = Field(min_length=1, max_length=50)
    comment: str = Field(default="", max_length=4000)


# ---- scorecards -------------------------------------------------------------------------


@router.get("/scorecards")
async def list_scorecards(
    quality: Quality, _: CurrentPrincipal, active: bool = False
) -> list[dict[str, Any]]:
    """The current version of each scorecard (agents may read what they are judged by)."""
    return [scorecard_public(c) for c in await quality.scorecards(active_only=active)]


@router.get("/scorecards/{scorecard_id}")
async def get_scorecard(scorecard_id: int, quality: Quality, _: CurrentPrincipal) -> dict[str, Any]:
    card = await _found(quality.scorecard(scorecard_id))
    versions = await quality.versions(scorecard_id)
    return {**scorecard_public(card), "versions": [scorecard_public(v) for v in versions]}


@router.post("/scorecards", status_code=status.HTTP_201_CREATED)
async def create_scorecard(body: ScorecardIn, quality: Quality, who: Reviewer) -> dict[str, Any]:
    card = await _checked(quality.create_scorecard(**_definition(body), author_id=who.user_id))
    return scorecard_public(card)


@router.put("/scorecards/{scorecard_id}")
async def update_scorecard(
    scorecard_id: int, body: ScorecardIn, quality: Quality, who: Reviewer
) -> dict[str, Any]:
    """Replace the definition; once reviews use it, new criteria make a new version (a new
    id), and the old version stays for those reviews."""
    card = await _checked(
        quality.update_scorecard(scorecard_id, **_definition(body), author_id=who.user_id)
    )
    return scorecard_public(card)


@router.delete("/scorecards/{scorecard_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_scorecard(scorecard_id: int, quality: Quality, _: Reviewer) -> None:
    await _checked(quality.delete_scorecard(scorecard_id))


def _definition(body: ScorecardIn) -> dict[str, Any]:
    return {
        "name": body.name.strip(),
        "labels": body.labels.model_dump(),
        "active": body.active,
        "criteria": [c.model_dump() for c in body.criteria],
    }


# ---- reviews ----------------------------------------------------------------------------


@router.get("/queue")
async def review_queue(
    quality: Quality,
    _: Reviewer,
    *,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
    agent_id: int | None = None,
    unreviewed: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Recorded calls an agent took, to pick one to review: `{total, items}`."""
    period = _period(quality, first, last)
    rows, total = await quality.queue(
        period, agent_id=agent_id, unreviewed=unreviewed, limit=limit, offset=offset
    )
    names = await quality.names({call.agent_id for call, _ in rows if call.agent_id})
    items = [{**call_public(call), "agent_name": names.get(call.agent_id or 0, ""), "reviews": n}
             for call, n in rows]  # fmt: skip
    return {"total": total, "items": items}


@router.post("/reviews", status_code=status.HTTP_201_CREATED)
async def create_review(body: ReviewIn, quality: Quality, who: Reviewer) -> dict[str, Any]:
    review = await _checked(
        quality.review(
            call_id=body.call_id, scorecard_id=body.scorecard_id,
            items=[i.model_dump() for i in body.items], comment=body.comment.strip(),
            reviewer_id=who.user_id,
        )
    )  # fmt: skip
    return (await quality.review_public([review]))[0]


@router.get("/reviews")
async def list_reviews(
    quality: Quality,
    principal: CurrentPrincipal,
    *,
    agent_id: int | None = None,
    call_id: int | None = None,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Reviews, newest call first: every agent's for reviewers, else the caller's own."""
    if not principal.has(Permission.QUALITY_REVIEW):
        agent_id = principal.user_id if agent_id in (None, principal.user_id) else -1
    period = _period(quality, first, last) if first or last else None
    rows, total = await quality.reviews(
        agent_id=agent_id, call_id=call_id, period=period, limit=limit, offset=offset
    )
    return {"total": total, "items": await quality.review_public(rows)}


@router.get("/reviews/{review_id}")
async def get_review(
    review_id: int, quality: Quality, principal: CurrentPrincipal
) -> dict[str, Any]:
    review = await _visible(quality, review_id, principal)
    return (await quality.review_public([review]))[0]


@router.put("/reviews/{review_id}")
async def amend_review(
    review_id: int, body: Amendment, quality: Quality, who: Reviewer
) -> dict[str, Any]:
    """Its reviewer corrects a review (same scorecard version); the agent's
    acknowledgement is cleared, since they acknowledged other scores."""
    try:
        review = await _checked(
            quality.amend(review_id, items=[i.model_dump() for i in body.items],
                          comment=body.comment.strip(), reviewer_id=who.user_id)
        )  # fmt: skip
    except PermissionError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    return (await quality.review_public([review]))[0]


@router.post("/reviews/{review_id}/acknowledge")
async def acknowledge(
    review_id: int, quality: Quality, principal: CurrentPrincipal
) -> dict[str, Any]:
    """The reviewed agent confirms they read it."""
    review = await _visible(quality, review_id, principal)
    if review.agent_id != principal.user_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the reviewed agent acknowledges")
    review = await _found(quality.acknowledge(review_id))
    return (await quality.review_public([review]))[0]


async def _visible(quality: QualityService, review_id: int, principal: Principal) -> Review:
    review = await _found(quality.get_review(review_id))
    if not principal.has(Permission.QUALITY_REVIEW) and review.agent_id != principal.user_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no review {review_id}")
    return review


# ---- per agent --------------------------------------------------------------------------


@router.get("/agents")
async def agents(
    quality: Quality,
    _: Reviewer,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
) -> list[dict[str, Any]]:
    """Every agent's summary over the period (see `/agents/{id}/summary`)."""
    return await quality.summaries(_period(quality, first, last))


@router.get("/agents/{agent_id}/summary")
async def summary(
    agent_id: int,
    quality: Quality,
    principal: CurrentPrincipal,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """One agent's reviews, average score and weekly trend, online time, handled calls
    and handle time, from `from` to `to` (whole days in the center's time zone; the last
    four weeks by default). Agents read their own only."""
    if agent_id != principal.user_id and not principal.has(Permission.QUALITY_REVIEW):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing permission: quality.review")
    period = _period(quality, first, last)
    try:
        await quality.agents.agent(agent_id)
    except AgentNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no agent {agent_id}") from None
    return (await quality.summaries(period, [agent_id]))[0]


def _period(quality: QualityService, first: date | None, last: date | None) -> Period:
    last = last or quality.today()
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise _unprocessable(("query", "from"), "must not be after to")
    if (last - first).days >= MAX_DAYS:
        raise _unprocessable(("query", "from"), f"at most {MAX_DAYS} days at a time")
    return Period(first, last, quality.zone)


async def _found(lookup: Awaitable[T]) -> T:
    try:
        return await lookup
    except QualityNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


async def _checked(work: Awaitable[T]) -> T:
    """The domain's refusals as HTTP: field errors in pydantic's 422 shape, conflicts 409."""
    try:
        return await _found(work)
    except Invalid as exc:
        raise _unprocessable(("body", *exc.loc), exc.message) from None
    except QualityConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


def _unprocessable(loc: tuple[str | int, ...], message: str) -> HTTPException:
    where, *rest = loc
    return invalid(message, *rest, where=str(where))
