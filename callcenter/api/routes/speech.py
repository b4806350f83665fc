"""Speech to text at work, for supervisors and monitors: thin, the domain is
callcenter.speech (the pool) and callcenter.calls.transcription (the live pipeline)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from callcenter.api.deps import ServicesDep, require
from callcenter.auth.permissions import Permission, Principal

router = APIRouter(prefix="/api/speech", tags=["speech"])
Reader = Annotated[Principal, Depends(require(Permission.REPORTS_READ))]


@router.get("/stats")
async def speech_stats(services: ServicesDep, _: Reader) -> dict[str, Any]:
    """The pool's own figures (workers, backlog, audio shed), and under `live` the
    pipeline's (sides transcribed now, setups that failed, RTP packets, utterances)."""
    pool = services.speech_pool.stats() if services.speech_pool else {"started": False}
    telephony = services.telephony
    live = telephony.transcription.stats() if telephony and telephony.transcription else None
    return {**pool, "live": live}
