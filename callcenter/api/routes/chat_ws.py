"""`/ws/chat`: the visitor's websocket (the protocol is in docs/chat.md).

Messages are never lost and never doubled: each stored message has its conversation's
seq; the socket remembers the last seq it sent, sends live ones only in order, and
fills any gap (a message stored before the socket subscribed, or while it was cut)
from the database. A reconnecting widget says in `hello` which seq it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from callcenter.chat.hub import Frame
from callcenter.chat.identity import IdentityRefused, SignedIdentity
from callcenter.chat.service import ChatError, ChatService, Source, VisitorSession

log = logging.getLogger(__name__)
router = APIRouter()

POLICY_VIOLATION = 1008
HELLO_SECONDS = 10.0
SITE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_FRAME = 16_000


class Refused(ValueError):
    pass


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refused(f"{key} must be text")
    return value[:limit]


def _source(page: Any) -> Source:
    if not isinstance(page, dict):
        return Source()
    utm_raw = page.get("utm") or {}
    utm = {
        str(k)[:32]: str(v)[:200]
        for k, v in (utm_raw.items() if isinstance(utm_raw, dict) else [])
        if isinstance(v, str | int)
    }
    return Source(
        url=_text(page, "url", 2000), referrer=_text(page, "referrer", 2000),
        search=_text(page, "search", 200), utm=dict(list(utm.items())[:10]),
        region=_text(page, "region", 8),
    )  # fmt: skip


def _identity(raw: Any) -> SignedIdentity | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise IdentityRefused("identity must be an object")
    try:
        return SignedIdentity(
            external_id=str(raw.get("id", ""))[:200], name=str(raw.get("name", ""))[:200],
            email=str(raw.get("email", ""))[:255], timestamp=int(raw.get("ts", 0)),
            signature=str(raw.get("sig", ""))[:128],
        )  # fmt: skip
    except (TypeError, ValueError):
        raise IdentityRefused("identity: ts must be Unix seconds") from None


class VisitorConnection:
    """One visitor socket: what it has sent, and the conversation it follows."""

    def __init__(self, websocket: WebSocket, chat: ChatService, visitor: VisitorSession) -> None:
        self.ws = websocket
        self.chat = chat
        self.visitor = visitor
        self.source = Source()
        self.conversation_id: int | None = None
        self.last_sent = 0
        self.inbox: asyncio.Queue[Frame] = asyncio.Queue()  # from the hub
        self._lock = asyncio.Lock()

    async def send(self, frame: Frame) -> None:
        await self.ws.send_text(json.dumps(frame, ensure_ascii=False, default=str))

    async def follow(self, conversation_id: int, after: int) -> None:
        """Subscribe first, then send what is stored after `after`: nothing falls
        between the two, and live frames already sent are skipped by their seq."""
        if self.conversation_id == conversation_id:
            return
        self.close()
        self.conversation_id = conversation_id
        self.chat.hub.subscribe(conversation_id, self.inbox)
        async with self._lock:
            self.last_sent = after
            await self._catch_up()

    async def _catch_up(self, *, skip: int | None = None) -> None:
        assert self.conversation_id is not None
        while True:
            backlog = await self.chat.messages_after(self.conversation_id, self.last_sent,
                                                     notes=False)  # fmt: skip
            for frame in backlog:
                if frame["seq"] != skip:
                    await self.send({"type": "msg", **frame})
                self.last_sent = frame["seq"]
            if len(backlog) < 500:
                return

    async def live(self, frame: Frame) -> None:
        """A frame from the hub: messages in seq order, the rest as they come."""
        if frame.get("type") != "msg":
            await self.send(frame)
            return
        async with self._lock:
            seq = frame["seq"]
            if seq <= self.last_sent:
                return  # sent already (catch-up or the sender's own ack)
            if seq == self.last_sent + 1:
                await self.send(frame)
                self.last_sent = seq
            else:
                await self._catch_up()

    async def acked(self, message: Frame, client_id: str) -> None:
        """The visitor's own message: acked with its seq, not echoed back."""
        if self.conversation_id != message["conversation_id"]:
            await self.follow(message["conversation_id"], 0)
        async with self._lock:
            seq = message["seq"]
            if seq > self.last_sent + 1:
                await self._catch_up(skip=seq)
            await self.send({"type": "ack", "client_id": client_id, "seq": seq,
                             "conversation_id": message["conversation_id"]})  # fmt: skip
            self.last_sent = max(self.last_sent, seq)

    def close(self) -> None:
        if self.conversation_id is not None:
            self.chat.hub.unsubscribe(self.conversation_id, self.inbox)

    async def pump(self) -> None:
        """Forward hub frames until the socket closes (the reader ends it)."""
        while True:
            frame = await self.inbox.get()
            if frame.get("conversation_id") == self.conversation_id:  # not a former one
                await self.live(frame)

    async def handle(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        client_id = _text(data, "client_id", 64)
        if kind == "message":
            file_id = data.get("file_id")
            if file_id is not None and not isinstance(file_id, int):
                raise Refused("file_id must be a number")
            message = await self.chat.visitor_send(
                self.visitor, _text(data, "body", 4000), file_id=file_id, source=self.source,
                client_id=client_id,
            )  # fmt: skip
            await self.acked(message, client_id)
            await self.chat.bot_reply(self.visitor, message)
        elif kind == "choose":  # a "did you mean" button
            entry_id = data.get("entry_id")
            if not isinstance(entry_id, int):
                raise Refused("entry_id must be a number")
            message = await self.chat.visitor_choose(self.visitor, entry_id, client_id)
            await self.acked(message, client_id)
            await self.chat.bot_reply(self.visitor, message)
        elif kind == "typing":
            if self.conversation_id is not None:
                on = bool(data.get("on", True))
                await self.chat.visitor_typing(self.visitor, self.conversation_id, on)
        elif kind == "offline":
            conversation_id = await self.chat.leave_message(
                self.visitor, _text(data, "name", 200), _text(data, "email", 255),
                _text(data, "body", 4000), self.source,
            )  # fmt: skip
            await self.send({"type": "offline_saved", "conversation_id": conversation_id,
                             "client_id": client_id})  # fmt: skip
        elif kind == "end":
            await self.chat.visitor_end(self.visitor)
        elif kind == "csat":
            score = data.get("score")
            if not isinstance(score, int):
                raise ChatError("a score from 1 to 5", "score")
            await self.chat.rate(self.visitor, score, _text(data, "comment", 2000))
            await self.send({"type": "csat_saved", "client_id": client_id})
        elif kind == "ping":
            await self.send({"type": "pong"})
        else:
            raise Refused(f"unknown frame type {kind!r}")


@router.websocket("/ws/chat")
async def visitor_socket(websocket: WebSocket) -> None:
    services = websocket.app.state.services
    chat: ChatService = services.chat
    await websocket.accept()
    try:
        hello = json.loads(await asyncio.wait_for(websocket.receive_text(), HELLO_SECONDS))
        if not isinstance(hello, dict) or hello.get("type") != "hello":
            raise Refused("the first frame must be hello")
        site = hello.get("site")
        if not isinstance(site, str) or not SITE.match(site):
            raise Refused("hello needs a site: 1-64 letters, digits, _ . -")
        token = _text(hello, "token", 100) or None
        source = _source(hello.get("page"))
        visitor = await chat.visit(site, token, _identity(hello.get("identity")), source)
    except IdentityRefused as exc:
        await _refuse(websocket, "identity_refused", str(exc))
        return
    except (Refused, ValueError, TimeoutError) as exc:
        await _refuse(websocket, "bad_hello", str(exc) or "no hello")
        return
    except WebSocketDisconnect:
        return
    conn = VisitorConnection(websocket, chat, visitor)
    conn.source = source
    current = await chat.current(visitor.visitor_id)
    last_seq = hello.get("last_seq")
    last_seq = last_seq if isinstance(last_seq, int) and last_seq >= 0 else 0
    await conn.send({
        "type": "welcome", "token": visitor.token, "visitor_id": visitor.visitor_id,
        "returning": visitor.returning, "name": visitor.name, "online": chat.online(),
        "bot": chat.bot is not None,
        "conversation": _summary(current),
    })  # fmt: skip
    sender = asyncio.create_task(conn.pump())
    try:
        if current is not None:
            # A different conversation than the one the widget had: all of it.
            same = hello.get("conversation_id") == current["id"]
            await conn.follow(current["id"], last_seq if same else 0)
        while True:
            raw = await websocket.receive_text()
            try:
                data = json.loads(raw) if len(raw) <= MAX_FRAME else None
                if not isinstance(data, dict):
                    raise Refused("a frame is a JSON object of at most 16000 characters")
                await conn.handle(data)
            except (Refused, ChatError) as exc:
                field = getattr(exc, "field", "")
                await conn.send({"type": "error", "code": "refused", "message": str(exc),
                                 "field": field, "client_id": _client(raw)})  # fmt: skip
    except WebSocketDisconnect:
        pass
    finally:
        conn.close()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await sender


def _summary(conversation: dict[str, Any] | None) -> dict[str, Any] | None:
    if conversation is None:
        return None
    return {k: conversation[k] for k in ("id", "state", "last_seq", "csat_score")}


def _client(raw: str) -> str:
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        return str(json.loads(raw).get("client_id", ""))[:64]
    return ""


async def _refuse(websocket: WebSocket, code: str, message: str) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await websocket.send_text(json.dumps({"type": "error", "code": code, "message": message}))
        await websocket.close(code=POLICY_VIOLATION, reason=code)
