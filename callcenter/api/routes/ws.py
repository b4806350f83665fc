"""`/ws/events`: domain events streamed live to authorized clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from callcenter.api.deps import websocket_principal, websocket_subprotocol
from callcenter.auth.permissions import Permission
from callcenter.auth.service import Principal
from callcenter.events import Event
from callcenter.sensitive.service import ALERT
from callcenter.tickets.audience import MEMBERS_CHANGED, TicketAudience
from callcenter.transcripts.live import TRANSCRIPT_EVENT, sees_transcript, transcript_message

log = logging.getLogger(__name__)
router = APIRouter()

POLICY_VIOLATION = 1008
SENSITIVE = "sensitive."  # sensitive-word alerts and their acknowledgements


def visible_to(principal: Principal, event: Event, tickets: TicketAudience | None = None) -> bool:
    """Supervisors see everything; an agent their own calls, their own state, that
    announcements changed, and the ticket events of their groups and their tickets
    (`tickets`, kept by the connection). Sensitive-word alerts quote what was said:
    only those who may listen to any call (`monitor.listen`) get them."""
    if event.type.startswith(SENSITIVE):
        return Permission.MONITOR_LISTEN in principal.permissions
    if event.type == TRANSCRIPT_EVENT:  # the call's agent, supervisors and listeners
        return sees_transcript(principal, event)
    if Permission.CALLS_READ_ALL in principal.permissions:
        return True
    if event.type.startswith(("ticket.", "ticket_group.")):
        if Permission.TICKETS_READ_ALL in principal.permissions:
            return True
        return tickets is not None and tickets.sees(event)
    if event.type.startswith("chat."):  # ids only; the agents in (or offered) the chat
        return bool(event.data.get("everyone")) or principal.user_id in event.data.get(
            "agent_ids", ()
        )
    if event.type.startswith("announcement."):
        return True  # no text in it: the desktop asks for what its agent may read
    if event.type.startswith("agent."):
        return event.data.get("agent_id") == principal.user_id
    call = event.data.get("call") or {}
    return call.get("agent_id") == principal.user_id


async def allowed(websocket: WebSocket, permission: Permission) -> Principal | None:
    """Who opened the websocket if they hold `permission`; else it is closed (1008)."""
    principal = await websocket_principal(websocket)
    if principal is None or permission not in principal.permissions:
        await websocket.close(code=POLICY_VIOLATION, reason="unauthorized")
        return None
    return principal


@router.websocket("/ws/events")
async def events(websocket: WebSocket) -> None:
    principal = await allowed(websocket, Permission.EVENTS_SUBSCRIBE)
    if principal is None:
        return
    services = websocket.app.state.services
    prefixes = tuple(p for p in websocket.query_params.get("types", "").split(",") if p)
    follows_groups = _follows_groups(principal, prefixes)
    if follows_groups and prefixes:
        prefixes += (MEMBERS_CHANGED,)
    subscription = services.bus.subscribe(*prefixes, only=_chats_addressed(principal))
    tickets: TicketAudience | None = None
    if follows_groups and principal.user_id is not None:
        # Read after subscribing: a change made meanwhile is applied after, not lost.
        groups = await services.tickets().groups_of(principal.user_id)
        tickets = TicketAudience(principal.user_id, groups)
    await accept(websocket)

    async def next_visible() -> str:
        while True:
            event = await subscription.get()
            if tickets is not None:
                tickets.apply(event)
            if not visible_to(principal, event, tickets):
                continue
            if event.type == TRANSCRIPT_EVENT:  # ids on the bus, the segment to the screen
                message = await transcript_message(services.transcripts, event)
                if message is not None:
                    return message
                continue
            if event.type == ALERT and services.sensitive is not None:
                event = await services.sensitive.for_screen(event)  # the alert itself
            return event.to_json()

    try:
        await websocket.send_text(Event("hello", {"user": principal.username}).to_json())
        await pump(websocket, next_visible)
    finally:
        subscription.close()


def _chats_addressed(principal: Principal) -> Callable[[Event], bool] | None:
    """Chat events (every message of every chat) for one agent are a handful of the
    chats going on: dropped at the bus's fan-out instead of waking this connection."""
    if Permission.CALLS_READ_ALL in principal.permissions:
        return None
    return lambda event: not event.type.startswith("chat.") or visible_to(principal, event)


def _follows_groups(principal: Principal, prefixes: tuple[str, ...]) -> bool:
    """An agent who reads the tickets of their groups, on a connection that asked for
    ticket events: it needs their groups, one query at the start and none per event."""
    perms = principal.permissions
    if Permission.TICKETS_READ not in perms or Permission.CALLS_READ_ALL in perms:
        return False
    if Permission.TICKETS_READ_ALL in perms:
        return False
    return not prefixes or any("ticket.".startswith(p) or p.startswith("ticket.") for p in prefixes)


async def pump(websocket: WebSocket, next_message: Callable[[], Coroutine[Any, Any, str]]) -> None:
    """Send `next_message()`s until the client leaves.

    Two tasks per connection, not per message: a sender, and a reader that notices the
    client leaving even while nothing is sent. A wallboard pushes to hundreds of screens
    many times a second, and a task and a wait per message per screen cost more than the
    sending itself.
    """

    async def send_all() -> None:
        while True:
            await websocket.send_text(await next_message())

    sender = asyncio.create_task(send_all())
    reader = asyncio.create_task(drain(websocket))
    try:
        await asyncio.wait({sender, reader}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, reader):
            task.cancel()
        for task in (sender, reader):
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task


async def accept(websocket: WebSocket) -> None:
    """Accept with a subprotocol the client offered other than its token (browsers send
    the token that way, since they cannot set headers, and refuse a connection whose
    offered subprotocols are all left unanswered): the token is never echoed."""
    await websocket.accept(subprotocol=websocket_subprotocol(websocket))


async def drain(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
