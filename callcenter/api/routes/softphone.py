"""`/ws/softphone`: the agent desktop's phone line (WebRTC signaling and call buttons).

One websocket per agent; its messages are described in softphone/lines.py. Only people
have softphones: a system's API token is refused.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from callcenter.api.deps import websocket_principal
from callcenter.api.routes.ws import POLICY_VIOLATION, accept

log = logging.getLogger(__name__)
router = APIRouter()
TRY_AGAIN_LATER = 1013


@router.websocket("/ws/softphone")
async def softphone(websocket: WebSocket) -> None:
    principal = await websocket_principal(websocket)
    if principal is None or principal.user_id is None:
        await websocket.close(code=POLICY_VIOLATION, reason="unauthorized")
        return
    telephony = websocket.app.state.services.telephony
    if telephony is None:
        await websocket.close(code=TRY_AGAIN_LATER, reason="no telephony on this server")
        return
    softphones = telephony.softphones
    await accept(websocket)

    async def send(message: dict[str, Any]) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.send_text(json.dumps(message))

    line = await softphones.open(principal.user_id, send)
    try:
        while True:
            try:
                message = json.loads(await websocket.receive_text())
            except json.JSONDecodeError:
                await send({"type": "error", "message": "messages are JSON objects"})
                continue
            if isinstance(message, dict):
                await softphones.handle(line, message)
    except WebSocketDisconnect:
        pass
    finally:
        await softphones.close(line)
