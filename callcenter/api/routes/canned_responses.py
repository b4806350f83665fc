"""Canned responses (快捷回复) over REST (docs/bot.md, docs/api.md). Any signed-in user
keeps personal ones; team ones need `canned_responses.manage` to change. Another's
personal response is 404, as if it did not exist."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, status

from callcenter.api.deps import CurrentPrincipal, ServicesDep, invalid
from callcenter.bot.canned import (
    CannedChange,
    CannedForbidden,
    CannedNotFound,
    CannedRefused,
    CannedResponses,
    NewCanned,
)

router = APIRouter(prefix="/api/canned-responses", tags=["canned responses"])
T = TypeVar("T")


async def get_canned(services: ServicesDep) -> CannedResponses:
    assert services.bot is not None  # always set by running_services
    return services.bot.canned


Canned = Annotated[CannedResponses, Depends(get_canned)]


async def _answer(work: Awaitable[T]) -> T:
    try:
        return await work
    except CannedNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except CannedForbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except CannedRefused as exc:
        raise invalid(exc.message, exc.field) from None


@router.get("")
async def search(
    canned: Canned,
    who: CurrentPrincipal,
    *,
    q: Annotated[str | None, Query(max_length=100)] = None,
    language: Annotated[str | None, Query(pattern="^(zh|en)$")] = None,
    scope: Annotated[str | None, Query(pattern="^(personal|team)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    """Your personal and the team's responses; `q` is a prefix of the shortcut (with or
    without the /) or the title, as the composer types it."""
    return await canned.search(who, q=q, language=language, scope=scope, limit=limit)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create(body: NewCanned, canned: Canned, who: CurrentPrincipal) -> dict[str, Any]:
    return await _answer(canned.create(who, body))


@router.get("/{canned_id}")
async def get(canned_id: int, canned: Canned, who: CurrentPrincipal) -> dict[str, Any]:
    return await _answer(canned.get(who, canned_id))


@router.patch("/{canned_id}")
async def change(
    canned_id: int, body: CannedChange, canned: Canned, who: CurrentPrincipal
) -> dict[str, Any]:
    return await _answer(canned.update(who, canned_id, body))


@router.delete("/{canned_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete(canned_id: int, canned: Canned, who: CurrentPrincipal) -> None:
    await _answer(canned.delete(who, canned_id))
