"""Ticket types and forms, attachments, links and merge over REST (docs/tickets.md).

Thin like routes/tickets.py: parse, call the domain (callcenter.tickets.*), answer.
Refusals come back as the same shapes: 404 for a ticket one may not see, 409 for a
closed one, 422 naming the field (`["body", "custom_fields", "model"]`).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callcenter.api.deps import ServicesDep, invalid, require
from callcenter.api.multipart import FormRefused, read_form
from callcenter.api.routes.tickets import _done
from callcenter.auth.permissions import Permission, Principal
from callcenter.tickets.access import TicketScope
from callcenter.tickets.attachment_kinds import parse_allowed
from callcenter.tickets.attachment_store import AttachmentRefused, AttachmentStore, human_size
from callcenter.tickets.attachments import AttachmentNotFound, AttachmentService
from callcenter.tickets.forms import NewType, TypeChange
from callcenter.tickets.links import LinkService, NewLink, SolveIncidents
from callcenter.tickets.merge import Merge, MergeService
from callcenter.tickets.types import TicketTypeService, TypeNotFound, TypeRefused

router = APIRouter(prefix="/api", tags=["tickets"])
T = TypeVar("T")

Reader = Annotated[Principal, Depends(require(Permission.TICKETS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.TICKETS_READ, Permission.TICKETS_MANAGE))]
Admin = Annotated[Principal, Depends(require(Permission.TICKETS_ADMIN))]


async def get_types(services: ServicesDep) -> TicketTypeService:
    return TicketTypeService(services.db, services.clock)


Types = Annotated[TicketTypeService, Depends(get_types)]


async def get_attachments(services: ServicesDep) -> AttachmentService:
    settings = services.settings
    store = AttachmentStore(
        settings.attachments_dir,
        settings.attachment_max_bytes,
        parse_allowed(settings.attachment_types),
    )
    return AttachmentService(services.db, services.bus, services.clock, store)


Attachments = Annotated[AttachmentService, Depends(get_attachments)]
# A multipart envelope (boundaries, part headers, the comment) around the file.
ENVELOPE_BYTES = 64 * 1024
# What a browser may do with a downloaded file: save it. Never render it here (an HTML
# or SVG file shown on our origin could read the agent's session).
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}


# ---- types and forms ---------------------------------------------------------------------


@router.get("/ticket-types")
async def list_types(
    types: Types, _: Reader, include_inactive: Annotated[bool, Query()] = False
) -> list[dict[str, Any]]:
    """Active types in the order they were made; `include_inactive` adds the others."""
    return await types.list(include_inactive=include_inactive)


@router.get("/ticket-types/{name}")
async def get_type(name: str, types: Types, _: Reader) -> dict[str, Any]:
    return await _answer(types.get(name))


@router.get("/ticket-types/{name}/form")
async def get_form(name: str, types: Types, _: Reader) -> dict[str, Any]:
    """What a page needs to render the type's custom fields, in order."""
    found = await _answer(types.get(name))
    return {"type": found["name"], "active": found["active"], "fields": found["form"]}


@router.post("/ticket-types", status_code=status.HTTP_201_CREATED)
async def create_type(body: NewType, types: Types, _: Admin) -> dict[str, Any]:
    return await _answer(types.create(body))


@router.patch("/ticket-types/{name}")
async def change_type(name: str, body: TypeChange, types: Types, _: Admin) -> dict[str, Any]:
    """Labels, form (replaced whole), `active: false` to deactivate."""
    return await _answer(types.update(name, body))


# ---- attachments ------------------------------------------------------------------------


class AttachmentForm(BaseModel):
    """The text fields that come with the file. `public` has no default, as for
    comments: a file the customer may read is never an accident."""

    model_config = ConfigDict(extra="forbid")

    public: bool
    body: Annotated[str, Field(min_length=1, max_length=10_000)] | None = None


@router.post("/tickets/{ticket_id}/attachments", status_code=status.HTTP_201_CREATED)
async def upload(
    ticket_id: int, request: Request, attachments: Attachments, who: Writer
) -> dict[str, Any]:
    """multipart/form-data: `file`, `public` (true/false), optional `body` (a comment
    the file comes with). 413 past the size limit, 415 for a file type not accepted."""
    scope = TicketScope.of(who)
    await _answer(attachments.check_open(ticket_id, scope))
    limit = attachments.store.max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + ENVELOPE_BYTES:
        too_large = f"the file is larger than {human_size(limit)}"
        raise _refused(AttachmentRefused("too_large", too_large))
    try:
        got = await read_form(
            request, file_field="file", open_file=attachments.store.open_upload,
            text_fields=frozenset({"public", "body"}), max_text=40_000,
        )  # fmt: skip
    except AttachmentRefused as exc:
        raise _refused(exc) from None
    except FormRefused as exc:
        raise invalid(exc.message, exc.field, code=exc.status) from None
    if got.file is None:
        raise invalid("a file is required", "file")
    try:
        fields = {k: v for k, v in got.fields.items() if not (k == "body" and v == "")}
        form = AttachmentForm.model_validate(fields)
    except ValidationError as exc:
        got.file.discard()
        raise HTTPException(422, [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]) from None  # fmt: skip
    return await _answer(attachments.add(
        ticket_id, got.file, public=form.public, body=form.body, who=who, scope=scope,
    ))  # fmt: skip


@router.get("/tickets/{ticket_id}/attachments")
async def list_attachments(ticket_id: int, attachments: Attachments, who: Reader) -> dict[str, Any]:
    items = await _answer(attachments.list(ticket_id, TicketScope.of(who)))
    return {"ticket_id": ticket_id, "items": items}


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}")
async def download(
    ticket_id: int, attachment_id: int, attachments: Attachments, who: Reader
) -> FileResponse:
    """The file, as a download (never shown inline), to whoever may see the ticket."""
    found = await _answer(attachments.download(ticket_id, attachment_id, TicketScope.of(who)))
    return FileResponse(
        found.path, media_type=found.content_type, filename=found.filename,
        headers=DOWNLOAD_HEADERS, content_disposition_type="attachment",
    )  # fmt: skip


# ---- links and merge --------------------------------------------------------------------


async def get_links(services: ServicesDep) -> LinkService:
    return LinkService(services.db, services.bus, services.clock)


Links = Annotated[LinkService, Depends(get_links)]


@router.get("/tickets/{ticket_id}/links")
async def list_links(ticket_id: int, links: Links, who: Reader) -> dict[str, Any]:
    """`kind` is what the linked ticket is to this one; links to tickets the reader may
    not see are left out."""
    items = await _answer(links.of(ticket_id, TicketScope.of(who)))
    return {"ticket_id": ticket_id, "items": items}


@router.post("/tickets/{ticket_id}/links", status_code=status.HTTP_201_CREATED)
async def add_link(ticket_id: int, body: NewLink, links: Links, who: Writer) -> dict[str, Any]:
    """`{ticket_id, kind}`: "ticket_id is <kind> to this one" (related, problem, incident,
    original, duplicate)."""
    return await _answer(links.add(ticket_id, body, who, TicketScope.of(who)))


@router.delete("/tickets/{ticket_id}/links/{other_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_link(ticket_id: int, other_id: int, links: Links, who: Writer) -> Response:
    await _answer(links.remove(ticket_id, other_id, who, TicketScope.of(who)))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/tickets/{ticket_id}/solve-incidents")
async def solve_incidents(
    ticket_id: int, body: SolveIncidents, links: Links, who: Writer
) -> dict[str, Any]:
    """Solve this problem ticket and its open incidents (those the caller sees)."""
    return await _answer(links.solve_incidents(ticket_id, body, who, TicketScope.of(who)))


@router.post("/tickets/{ticket_id}/merge")
async def merge(ticket_id: int, body: Merge, services: ServicesDep, who: Writer) -> dict[str, Any]:
    """Merge this ticket into `into`: copies carried over, this one closed as its
    duplicate. Answers with the target."""
    merging = MergeService(services.db, services.bus, services.clock)
    return await _answer(merging.merge(ticket_id, body.into, who, TicketScope.of(who)))


def _refused(exc: AttachmentRefused) -> HTTPException:
    code = {"too_large": 413, "wrong_type": 415}.get(exc.reason, 422)
    return invalid(exc.message, "file", code=code)


async def _answer(work: Awaitable[T]) -> T:
    """Like routes.tickets._done, with this module's refusals."""
    try:
        return await _done(work)
    except TypeNotFound:
        raise HTTPException(404, "ticket type not found") from None
    except AttachmentNotFound:
        raise HTTPException(404, "attachment not found") from None
    except AttachmentRefused as exc:
        raise _refused(exc) from None
    except TypeRefused as exc:
        raise invalid(exc.message, exc.field, *exc.path) from None
