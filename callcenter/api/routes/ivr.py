"""IVR flows for the admin pages: what is loaded, what is wrong, and each flow's graph."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response

from callcenter.api.deps import ServicesDep, require
from callcenter.auth.permissions import Permission, Principal
from callcenter.ivr.graph import GraphError, to_svg
from callcenter.ivr.registry import FlowRegistry
from callcenter.services import Services

router = APIRouter(prefix="/api/ivr", tags=["ivr"])
Admin = Annotated[Principal, Depends(require(Permission.PBX_MANAGE))]


async def flow_registry(services: Services) -> FlowRegistry:
    """The running controller's flows; without a PBX link, the files as they are now."""
    if services.telephony is not None:
        return services.telephony.flows
    registry = FlowRegistry(services.settings.flows_dir, services.settings.media_dir)
    await asyncio.to_thread(registry.reload)
    return registry


@router.get("/flows")
async def list_flows(services: ServicesDep, _: Admin) -> dict[str, Any]:
    registry = await flow_registry(services)
    flows = [
        {
            "name": flow.name,
            "description": flow.description,
            "language": flow.language,
            "numbers": flow.numbers,
            "start": flow.start,
            "nodes": len(flow.nodes),
        }
        for flow in sorted(registry.flows, key=lambda f: f.name)
    ]
    problems = [
        {
            "file": p.file,
            "line": p.line,
            "column": p.column,
            "severity": p.severity,
            "message": p.message,
        }
        for p in registry.problems
    ]
    return {"flows": flows, "problems": problems}


@router.get("/flows/{name}/graph.svg")
async def flow_graph(name: str, services: ServicesDep, _: Admin) -> Response:
    flow = (await flow_registry(services)).flow(name)
    if flow is None:
        raise HTTPException(404, f"no flow named {name!r}")
    try:
        svg = await asyncio.to_thread(to_svg, flow)
    except GraphError as exc:
        raise HTTPException(503, str(exc)) from None
    return Response(svg, media_type="image/svg+xml")
