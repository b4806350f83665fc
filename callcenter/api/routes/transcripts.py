"""Call transcripts over REST: a call's transcript, and search across them (thin: the
domain is in callcenter.transcripts)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from callcenter.api.deps import ServicesDep, invalid
from callcenter.api.routes.calls import Reader, _found, _scope, _visible_or_ticketed
from callcenter.auth.models import aware
from callcenter.services import Services
from callcenter.transcripts.search import Filters
from callcenter.transcripts.store import BadQuery, TranscriptStore

router = APIRouter(tags=["transcripts"])


def _store(services: Services) -> TranscriptStore:
    assert services.transcripts is not None, "running_services sets the transcript store"
    return services.transcripts


@router.get("/api/calls/{call_id}/transcript")
async def call_transcript(call_id: int, services: ServicesDep, principal: Reader) -> dict[str, Any]:
    """The call's segments in spoken order; to whom the call itself is visible."""
    call = await _found(services.calls.call(call_id))
    await _visible_or_ticketed(services, call, principal)
    store = _store(services)
    segments = [s.public(store.highlighter) for s in await store.of_call(call_id)]
    return {"call_id": call_id, "answered_at": call.answered_at and _utc(call.answered_at),
            "segments": segments}  # fmt: skip


@router.get("/api/transcripts/search")
async def search(
    services: ServicesDep,
    principal: Reader,
    *,
    q: Annotated[str, Query(max_length=200)],
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
    agent_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Segments holding every word of `q` (Chinese cut into words), best match first,
    then newest. Agents search their own calls only."""
    own = _scope(principal)
    if own is not None and agent_id not in (None, own):
        raise invalid("agents search their own calls only", "agent_id", where="query")
    since, until = aware(since), aware(until)
    if since is not None and until is not None and until <= since:
        raise invalid("must be after 'from'", "to", where="query")
    store = _store(services)
    filters = Filters(since=since, until=until, agent_id=own if own is not None else agent_id)
    try:
        hits = await store.search(q, filters, limit=limit)
    except BadQuery:
        raise invalid("nothing to search for: give a word", "q", where="query") from None
    items = [
        {
            "call_id": hit.segment.call_id, "segment_id": hit.segment.id,
            "spoken_at": hit.segment.spoken_at.isoformat(), "start": hit.segment.start,
            "speaker": hit.segment.speaker, "source": hit.segment.source,
            "snippet": hit.snippet, "marks": [list(m) for m in hit.marks],
            "score": round(hit.score, 6), "call_url": f"/api/calls/{hit.segment.call_id}",
        }
        for hit in hits
    ]  # fmt: skip
    return {"items": items}


def _utc(at: datetime) -> str:
    return aware(at).isoformat()
