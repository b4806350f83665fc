"""The wallboard: the floor's tiles now (`GET /api/wallboard`) and live (`/ws/wallboard`).

The websocket sends a `snapshot` first, then `update` messages holding only the tiles
that changed (see monitoring/wallboard.py). A token with `reports.read` is enough, so a
big screen on the wall can run on an API token that can do nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, WebSocket

from callcenter.api.deps import ServicesDep, require
from callcenter.api.routes.ws import accept, allowed, pump
from callcenter.auth.permissions import Permission, Principal

router = APIRouter(tags=["wallboard"])
Reader = Annotated[Principal, Depends(require(Permission.REPORTS_READ))]


@router.get("/api/wallboard")
async def wallboard(services: ServicesDep, _: Reader) -> dict[str, Any]:
    return services.wallboard.snapshot()


@router.websocket("/ws/wallboard")
async def live(websocket: WebSocket) -> None:
    if await allowed(websocket, Permission.REPORTS_READ) is None:
        return
    board = websocket.app.state.services.wallboard
    await accept(websocket)
    screen = board.connect()
    try:
        await pump(websocket, lambda: board.next_message(screen))
    finally:
        board.disconnect(screen)
