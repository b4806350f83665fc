"""Web chat over HTTP: visitors' file uploads, and the agents' side (docs/chat.md).

Thin: conversations, routing and delivery are in callcenter.chat. The visitor's
websocket is in chat_ws.py. Agents need `calls.read_own` (every role has it) and see
their own chats; `calls.read_all` (supervisors) sees every chat.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from callcenter.api.deps import ServicesDep, invalid, require
from callcenter.api.multipart import FormRefused, read_form
from callcenter.api.routes.ticket_content import DOWNLOAD_HEADERS, ENVELOPE_BYTES
from callcenter.api.routes.tickets import _done
from callcenter.auth.permissions import Permission, Principal
from callcenter.chat.internal import InternalChat
from callcenter.chat.service import ChatError, ChatService, Viewer
from callcenter.chat.tickets import ChatTicket, ChatTickets
from callcenter.services import Services
from callcenter.tickets.access import TicketScope
from callcenter.tickets.attachment_kinds import parse_allowed
from callcenter.tickets.attachment_store import AttachmentRefused, AttachmentStore, human_size

router = APIRouter(prefix="/api", tags=["chat"])
T = TypeVar("T")

Agent = Annotated[Principal, Depends(require(Permission.CALLS_READ_OWN))]


def chat_of(services: Services) -> ChatService:
    assert services.chat is not None, "running_services sets the chat service"
    return services.chat


def file_store(services: Services) -> AttachmentStore:
    s = services.settings
    return AttachmentStore(
        s.data_dir / "chat-files", s.chat_file_max_bytes, parse_allowed(s.chat_file_types)
    )


def viewer_of(principal: Principal) -> Viewer:
    assert principal.user_id is not None
    return Viewer(principal.user_id, Permission.CALLS_READ_ALL in principal.permissions)


async def answer(work: Awaitable[T]) -> T:
    try:
        return await work
    except ChatError as exc:
        if exc.status == status.HTTP_422_UNPROCESSABLE_CONTENT or exc.field:
            raise invalid(exc.message, exc.field or "body", code=exc.status) from None
        raise HTTPException(exc.status, exc.message) from None


# ---- visitors' files ------------------------------------------------------------------


async def _visitor(services: Services, token: str | None) -> int:
    visitor_id = await chat_of(services).visitor_by_token(token) if token else None
    if visitor_id is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown visitor token")
    return visitor_id


@router.post("/chat/files", status_code=status.HTTP_201_CREATED)
async def upload(request: Request, services: ServicesDep) -> dict[str, Any]:
    """multipart/form-data `file`, with the visitor's token in `X-Chat-Token`; the
    answer's `id` goes into a `message` frame (`file_id`). 413 past the size limit,
    415 for a file type not accepted (CALLCENTER_CHAT_FILE_TYPES)."""
    visitor_id = await _visitor(services, request.headers.get("x-chat-token"))
    store = file_store(services)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > store.max_bytes + ENVELOPE_BYTES:
        raise invalid(f"the file is larger than {human_size(store.max_bytes)}", "file", code=413)
    try:
        got = await read_form(request, file_field="file", open_file=store.open_upload,
                              text_fields=frozenset(), max_text=0)  # fmt: skip
    except AttachmentRefused as exc:
        code = {"too_large": 413, "wrong_type": 415}.get(exc.reason, 422)
        raise invalid(exc.message, "file", code=code) from None
    except FormRefused as exc:
        raise invalid(exc.message, exc.field, code=exc.status) from None
    if got.file is None:
        raise invalid("a file is required", "file")
    try:
        stored = got.file.finish()
    except AttachmentRefused as exc:
        got.file.discard()
        code = {"too_large": 413, "wrong_type": 415}.get(exc.reason, 422)
        raise invalid(exc.message, "file", code=code) from None
    try:
        return await chat_of(services).add_file(visitor_id, stored)
    except BaseException:
        got.file.discard()
        raise


def _download(services: Services, row: dict[str, Any]) -> FileResponse:
    return FileResponse(
        file_store(services).path(row["storage_name"]), media_type=row["content_type"],
        filename=row["filename"], headers=DOWNLOAD_HEADERS, content_disposition_type="attachment",
    )  # fmt: skip


@router.get("/chat/files/{file_id}")
async def visitor_download(
    file_id: int, services: ServicesDep, token: Annotated[str, Query(max_length=100)] = ""
) -> FileResponse:
    """The visitor's own file (their token in `token`)."""
    visitor_id = await _visitor(services, token)
    row = await answer(chat_of(services).file_for(file_id, visitor_id=visitor_id))
    return _download(services, row)


@router.get("/chats/files/{file_id}")
async def agent_download(file_id: int, services: ServicesDep, who: Agent) -> FileResponse:
    """A file sent in a chat the agent may read."""
    row = await answer(chat_of(services).file_for(file_id, viewer=viewer_of(who)))
    return _download(services, row)


# ---- agents ---------------------------------------------------------------------------


class SendBody(BaseModel):
    body: str = Field(min_length=1, max_length=4000)
    kind: Literal["text", "note"] = "text"


class TypingBody(BaseModel):
    on: bool = True


class TransferBody(BaseModel):
    queue: str | None = Field(default=None, max_length=64)
    agent_id: int | None = None


class InviteBody(BaseModel):
    agent_id: int


class InternalBody(BaseModel):
    body: str = Field(min_length=1, max_length=4000)


def internal_of(services: Services) -> InternalChat:
    return InternalChat(services.db, services.bus, services.clock)


@router.get("/chats/internal")
async def internal_threads(services: ServicesDep, who: Agent) -> dict[str, Any]:
    """Colleagues I exchanged direct messages with (内部会话), newest first, with unread."""
    return {"items": await internal_of(services).threads(viewer_of(who).user_id)}


@router.get("/chats/internal/{user_id}")
async def internal_thread(
    user_id: int, services: ServicesDep, who: Agent, after_id: Annotated[int, Query(ge=0)] = 0
) -> dict[str, Any]:
    """The messages between me and `user_id` (marked read)."""
    me = viewer_of(who).user_id
    return {"items": await internal_of(services).thread(me, user_id, after_id)}


@router.post("/chats/internal/{user_id}", status_code=status.HTTP_201_CREATED)
async def internal_send(
    user_id: int, body: InternalBody, services: ServicesDep, who: Agent
) -> dict[str, Any]:
    """A direct message to a colleague; they get a `chat.internal` event."""
    chat = internal_of(services)
    return await answer(chat.send(viewer_of(who).user_id, user_id, body.body))


@router.get("/chats")
async def list_chats(
    services: ServicesDep,
    who: Agent,
    state: Annotated[Literal["bot", "queued", "active", "ended", "offline"] | None, Query()] = None,
) -> dict[str, Any]:
    """My chats: offered to me, open with me in them, and offline messages
    (supervisors: everyone's)."""
    chat = chat_of(services)
    items = await chat.list_for(viewer_of(who), state)
    return {"items": items, "online": chat.online()}


@router.get("/chats/{conversation_id}")
async def get_chat(
    conversation_id: int,
    services: ServicesDep,
    who: Agent,
    after: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The conversation, its visitor and its messages after seq `after` (notes too)."""
    return await answer(chat_of(services).get(conversation_id, viewer_of(who), after))


@router.post("/chats/{conversation_id}/accept")
async def accept(conversation_id: int, services: ServicesDep, who: Agent) -> dict[str, Any]:
    return await answer(chat_of(services).accept(conversation_id, viewer_of(who).user_id))


@router.post("/chats/{conversation_id}/decline", status_code=status.HTTP_204_NO_CONTENT)
async def decline(conversation_id: int, services: ServicesDep, who: Agent) -> None:
    await answer(chat_of(services).decline(conversation_id, viewer_of(who).user_id))


@router.post("/chats/{conversation_id}/messages", status_code=status.HTTP_201_CREATED)
async def send(
    conversation_id: int, body: SendBody, services: ServicesDep, who: Agent
) -> dict[str, Any]:
    """`kind: text` goes to the visitor; `kind: note` to the chat's agents only."""
    chat = chat_of(services)
    return await answer(chat.agent_send(conversation_id, viewer_of(who), body.body, body.kind))


@router.post("/chats/{conversation_id}/typing", status_code=status.HTTP_204_NO_CONTENT)
async def typing(conversation_id: int, body: TypingBody, services: ServicesDep, who: Agent) -> None:
    await answer(chat_of(services).agent_typing(conversation_id, viewer_of(who), body.on))


@router.post("/chats/{conversation_id}/transfer", status_code=status.HTTP_204_NO_CONTENT)
async def transfer(
    conversation_id: int, body: TransferBody, services: ServicesDep, who: Agent
) -> None:
    """To a chat queue (`queue`) or a colleague (`agent_id`), one of the two."""
    chat = chat_of(services)
    await answer(chat.transfer(conversation_id, viewer_of(who), queue=body.queue,
                               agent_id=body.agent_id))  # fmt: skip


@router.post("/chats/{conversation_id}/invite")
async def invite(
    conversation_id: int, body: InviteBody, services: ServicesDep, who: Agent
) -> dict[str, Any]:
    """Bring a colleague into the chat (多人接待)."""
    chat = chat_of(services)
    return await answer(chat.invite(conversation_id, viewer_of(who), body.agent_id))


@router.post("/chats/{conversation_id}/join")
async def join(
    conversation_id: int,
    services: ServicesDep,
    who: Annotated[Principal, Depends(require(Permission.CALLS_READ_ALL))],
) -> dict[str, Any]:
    """A supervisor joins a chat they are watching."""
    viewer = viewer_of(who)
    return await answer(chat_of(services).invite(conversation_id, viewer, viewer.user_id))


@router.post("/chats/{conversation_id}/end", status_code=status.HTTP_204_NO_CONTENT)
async def end(conversation_id: int, services: ServicesDep, who: Agent) -> None:
    """The visitor is asked to rate the chat (1-5 and a comment)."""
    await answer(chat_of(services).end(conversation_id, viewer_of(who)))


TicketWriter = Annotated[
    Principal,
    Depends(require(Permission.TICKETS_READ, Permission.TICKETS_MANAGE, Permission.CALLS_READ_OWN)),
]


@router.post("/chats/{conversation_id}/ticket", status_code=status.HTTP_201_CREATED)
async def make_ticket(
    conversation_id: int, body: ChatTicket, response: Response, services: ServicesDep,
    who: TicketWriter,
) -> dict[str, Any]:  # fmt: skip
    """A ticket from the chat (an offline message too), its transcript the description,
    linked as the chat's `ticket_id`. Again: the same ticket, 200."""
    settings = services.settings
    tickets = ChatTickets(chat_of(services), services.tickets(), zone=settings.zone,
                          language=settings.default_language)  # fmt: skip
    work = tickets.from_chat(conversation_id, body, who, TicketScope.of(who), viewer_of(who))
    result = await answer(_done(work))
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result.ticket
