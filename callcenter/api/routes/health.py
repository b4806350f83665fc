"""Liveness of every part the contact center depends on, for monitors and `callcenter up`."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from callcenter.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/api/health")
async def health(services: ServicesDep) -> JSONResponse:
    """200 when everything answers, 503 with the failing parts named otherwise.

    Unauthenticated on purpose (load balancers and monitors poll it), so it tells
    only up/down per component, nothing else.
    """
    checks = {"database": services.db.ping(), "event_bus": services.bus.ping()}
    telephony = services.telephony
    results = dict(zip(checks, await asyncio.gather(*checks.values()), strict=True))
    components = {name: "ok" if ok else "down" for name, ok in results.items()}
    if telephony is not None:
        components["asterisk_ari"] = "ok" if telephony.ari.connected else "down"
        components["asterisk_ami"] = "ok" if telephony.ami.connected else "down"
    else:
        components["asterisk_ari"] = components["asterisk_ami"] = "disabled"
    healthy = all(v in ("ok", "disabled") for v in components.values())
    body = {"status": "ok" if healthy else "degraded", "components": components}
    return JSONResponse(body, status_code=200 if healthy else 503)
