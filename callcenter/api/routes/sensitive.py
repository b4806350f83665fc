"""Sensitive-word lists (admin) and the alerts they raise (supervisors).

Thin: the lists, the matcher and the alerts are in callcenter.sensitive. The lists need
`sensitive_words.admin`; alerts need `monitor.listen`, the permission to listen to any
live call, since an alert quotes what was said in one. docs/sensitive-words.md.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from callcenter.api.deps import ServicesDep, invalid, require
from callcenter.auth.permissions import Permission, Principal
from callcenter.sensitive.service import AlertNotFound, SensitiveService
from callcenter.sensitive.words import FieldError, WordNotFound, check_language
from callcenter.services import Services

router = APIRouter(prefix="/api", tags=["sensitive words"])
T = TypeVar("T")

Admin = Annotated[Principal, Depends(require(Permission.SENSITIVE_WORDS_ADMIN))]
Supervisor = Annotated[Principal, Depends(require(Permission.MONITOR_LISTEN))]


class WordBody(BaseModel):
    phrase: str
    language: str
    severity: str = "warn"
    active: bool = True


class WordChange(BaseModel):
    phrase: str | None = None
    language: str | None = None
    severity: str | None = None
    active: bool | None = None


class ImportBody(BaseModel):
    language: str
    severity: str = "warn"
    text: str = Field(description="one phrase per line; blank lines and # comments skipped")


class TrialBody(BaseModel):
    text: str
    language: str


def _sensitive(services: Services) -> SensitiveService:
    assert services.sensitive is not None  # always set by running_services
    return services.sensitive


@router.get("/sensitive-words")
async def list_words(
    services: ServicesDep,
    _: Admin,
    language: str | None = None,
    active: bool | None = None,
) -> list[dict[str, Any]]:
    return await _sensitive(services).words.listing(language=language, active=active)


@router.post("/sensitive-words", status_code=status.HTTP_201_CREATED)
async def create_word(body: WordBody, services: ServicesDep, who: Admin) -> dict[str, Any]:
    words = _sensitive(services).words
    return await _done(
        words.create(body.phrase, body.language, body.severity, body.active, who.user_id)
    )


@router.post("/sensitive-words/import")
async def import_words(body: ImportBody, services: ServicesDep, who: Admin) -> dict[str, Any]:
    """Many phrases at once; those already listed are skipped (and named)."""
    words = _sensitive(services).words
    done = await _done(words.import_lines(body.text, body.language, body.severity, who.user_id))
    return {"created": done.created, "skipped": done.skipped}


@router.post("/sensitive-words/test")
async def try_text(body: TrialBody, services: ServicesDep, _: Admin) -> list[dict[str, Any]]:
    """What the current lists find in `text`; stores nothing, alerts nobody."""
    await _done(_checked(body.language))
    found = await _sensitive(services).find(body.text, body.language)
    return [{"phrase_id": m.phrase_id, "phrase": m.phrase, "start": m.start, "end": m.end,
             "text": body.text[m.start : m.end]} for m in found]  # fmt: skip


@router.get("/sensitive-words/{word_id}")
async def get_word(word_id: int, services: ServicesDep, _: Admin) -> dict[str, Any]:
    return await _done(_sensitive(services).words.get(word_id))


@router.patch("/sensitive-words/{word_id}")
async def change_word(
    word_id: int, body: WordChange, services: ServicesDep, _: Admin
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise invalid("may not be null", name)
    return await _done(_sensitive(services).words.update(word_id, changes))


@router.delete("/sensitive-words/{word_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_word(word_id: int, services: ServicesDep, _: Admin) -> Response:
    await _done(_sensitive(services).words.delete(word_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/sensitive-alerts")
async def list_alerts(
    services: ServicesDep,
    _: Supervisor,
    since: datetime | None = None,
    acknowledged: bool | None = None,
    source_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Newest first."""
    return await _sensitive(services).alerts(
        since=since, acknowledged=acknowledged, source_id=source_id, limit=limit
    )


@router.get("/sensitive-alerts/{alert_id}")
async def get_alert(alert_id: int, services: ServicesDep, _: Supervisor) -> dict[str, Any]:
    return await _done(_sensitive(services).alert(alert_id))


@router.post("/sensitive-alerts/{alert_id}/ack")
async def acknowledge(alert_id: int, services: ServicesDep, who: Supervisor) -> dict[str, Any]:
    return await _done(_sensitive(services).acknowledge(alert_id, who.user_id))


async def _checked(language: str) -> None:
    check_language(language)


async def _done(work: Awaitable[T]) -> T:
    try:
        return await work
    except WordNotFound:
        raise HTTPException(404, "no such phrase") from None
    except AlertNotFound:
        raise HTTPException(404, "no such alert") from None
    except FieldError as exc:
        raise invalid(exc.message, exc.field) from None
