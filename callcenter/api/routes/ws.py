"""`/ws/events`: domain events streamed live to authorized clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from callcenter.api.deps import websocket_principal
from callcenter.auth.permissions import Permission
from callcenter.auth.service import Principal
from callcenter.events import Event

log = logging.getLogger(__name__)
router = APIRouter()

POLICY_VIOLATION = 1008


def visible_to(principal: Principal, event: Event) -> bool:
    """Supervisors see everything; an agent their own calls, their own state, and that
    announcements changed."""
    if Permission.CALLS_READ_ALL in principal.permissions:
        return True
    if event.type.startswith("announcement."):
        return True  # no text in it: the desktop asks for what its agent may read
    if event.type.startswith("agent."):
        return event.data.get("agent_id") == principal.user_id
    call = event.data.get("call") or {}
    return call.get("agent_id") == principal.user_id


@router.websocket("/ws/events")
async def events(websocket: WebSocket) -> None:
    principal = await websocket_principal(websocket)
    if principal is None or Permission.EVENTS_SUBSCRIBE not in principal.permissions:
        await websocket.close(code=POLICY_VIOLATION, reason="unauthorized")
        return
    services = websocket.app.state.services
    prefixes = tuple(p for p in websocket.query_params.get("types", "").split(",") if p)
    subscription = services.bus.subscribe(*prefixes)
    await accept(websocket)

    async def next_visible() -> str:
        while True:
            event = await subscription.get()
            if visible_to(principal, event):
                return event.to_json()

    try:
        await websocket.send_text(Event("hello", {"user": principal.username}).to_json())
        await pump(websocket, next_visible)
    finally:
        subscription.close()


async def pump(websocket: WebSocket, next_message: Callable[[], Coroutine[Any, Any, str]]) -> None:
    """Send `next_message()`s until the client leaves. A reader runs beside, so a client
    leaving is noticed even while nothing is sent."""
    reader = asyncio.create_task(drain(websocket))
    try:
        while not reader.done():
            getter = asyncio.create_task(next_message())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            await websocket.send_text(getter.result())
    except WebSocketDisconnect:
        pass
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await reader


async def accept(websocket: WebSocket) -> None:
    """Accept, echoing the token's subprotocol: browsers send the token that way (they
    cannot set headers) and refuse a connection whose subprotocol is not echoed."""
    subprotocol = websocket.headers.get("sec-websocket-protocol", "").split(",")[0].strip()
    await websocket.accept(subprotocol=subprotocol or None)


async def drain(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
