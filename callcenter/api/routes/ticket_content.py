"""Ticket types and forms, attachments, links and merge over REST (docs/tickets.md).

Thin like routes/tickets.py: parse, call the domain (callcenter.tickets.*), answer.
Refusals come back as the same shapes: 404 for a ticket one may not see, 409 for a
closed one, 422 naming the field (`["body", "custom_fields", "model"]`).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, status

from callcenter.api.deps import ServicesDep, require
from callcenter.api.routes.tickets import _done
from callcenter.auth.permissions import Permission, Principal
from callcenter.tickets.forms import NewType, TypeChange
from callcenter.tickets.types import TicketTypeService, TypeNotFound, TypeRefused

router = APIRouter(prefix="/api", tags=["tickets"])
T = TypeVar("T")

Reader = Annotated[Principal, Depends(require(Permission.TICKETS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.TICKETS_READ, Permission.TICKETS_MANAGE))]
Admin = Annotated[Principal, Depends(require(Permission.TICKETS_ADMIN))]


async def get_types(services: ServicesDep) -> TicketTypeService:
    return TicketTypeService(services.db, services.clock)


Types = Annotated[TicketTypeService, Depends(get_types)]


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


async def _answer(work: Awaitable[T]) -> T:
    """Like routes.tickets._done, with this module's refusals."""
    try:
        return await _done(work)
    except TypeNotFound:
        raise HTTPException(404, "ticket type not found") from None
    except TypeRefused as exc:
        raise HTTPException(422, [_field(exc.field, exc.message, exc.path)]) from None


def _field(field: str, message: str, path: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"loc": ["body", field, *path], "msg": message, "type": "value_error"}
