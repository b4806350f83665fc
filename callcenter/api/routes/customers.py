"""Customer profiles over REST: thin, the domain is in callcenter.customers.

Who sees what (docs/customers.md): `customers.read_all` every profile; anyone else the
customers whose calls they handled, and of those they may change only notes and tags.
Everything else that writes (other fields, identities, merge, import) needs
`customers.manage`. A profile one may not see answers 404, as if it did not exist.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from callcenter.api.deps import CurrentPrincipal, ServicesDep, invalid, require
from callcenter.auth.permissions import Permission, Principal
from callcenter.customers import csvio
from callcenter.customers.access import Scope
from callcenter.customers.fields import NewIdentity, NewProfile, ProfileChange
from callcenter.customers.models import CLASSES
from callcenter.customers.service import (
    CustomerMerged,
    CustomerNotFound,
    FieldError,
    IdentityNotFound,
    IdentityTaken,
)

router = APIRouter(prefix="/api/customers", tags=["customers"])
T = TypeVar("T")

Manager = Annotated[Principal, Depends(require(Permission.CUSTOMERS_MANAGE))]
AllReader = Annotated[Principal, Depends(require(Permission.CUSTOMERS_READ_ALL))]
# What an agent may change on a customer they served.
AGENT_FIELDS = frozenset({"tags", "notes"})


class Merge(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_id: int = Field(alias="from", gt=0)


@router.get("")
async def search(
    services: ServicesDep,
    principal: CurrentPrincipal,
    *,
    q: Annotated[str, Query(max_length=100)] = "",
    tag: Annotated[str, Query(max_length=40)] = "",
    customer_class: Annotated[str, Query(alias="class", pattern=f"^({'|'.join(CLASSES)})?$")] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    items, total = await services.customers.search(
        Scope.of(principal), q=q, tag=tag, customer_class=customer_class, limit=limit,
        offset=offset,
    )  # fmt: skip
    return {"total": total, "items": items}


@router.post("", status_code=status.HTTP_201_CREATED)
async def create(body: NewProfile, services: ServicesDep, _: Manager) -> dict[str, Any]:
    return await _done(services.customers.create(body))


@router.get("/export.csv")
async def export(services: ServicesDep, _: AllReader) -> Response:
    text = csvio.to_csv(await services.customers.export())
    return Response(
        text.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="customers.csv"'},
    )


@router.post("/import")
async def import_csv(request: Request, services: ServicesDep, _: Manager) -> dict[str, int]:
    """A CSV file as multipart/form-data (field `file`) or as the body (text/csv)."""
    declared = int(request.headers.get("content-length") or 0)
    if declared > csvio.MAX_BYTES + 64 * 1024:
        raise HTTPException(413, f"the file is larger than {csvio.MAX_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > csvio.MAX_BYTES + 64 * 1024:  # a multipart envelope adds a little
            raise HTTPException(413, f"the file is larger than {csvio.MAX_BYTES} bytes")
    data = _uploaded(request.headers.get("content-type", ""), body)
    try:
        rows = csvio.parse(data)
        return await services.customers.import_rows(rows)
    except csvio.ImportRejected as exc:
        raise HTTPException(422, [e.public() for e in exc.errors]) from None


@router.get("/{customer_id}")
async def get(customer_id: int, services: ServicesDep, who: CurrentPrincipal) -> dict[str, Any]:
    return await _done(services.customers.get(customer_id, Scope.of(who)))


@router.patch("/{customer_id}")
async def change(
    customer_id: int, body: ProfileChange, services: ServicesDep, who: CurrentPrincipal
) -> dict[str, Any]:
    """Managers change any field; an agent who served the customer notes and tags."""
    await _done(services.customers.get(customer_id, Scope.of(who)))
    extra = body.model_fields_set - AGENT_FIELDS
    if extra and not who.has(Permission.CUSTOMERS_MANAGE):
        raise HTTPException(
            403, f"missing permission: {Permission.CUSTOMERS_MANAGE} (to change "
            f"{', '.join(sorted(extra))}; agents change notes and tags)",
        )  # fmt: skip
    return await _done(services.customers.update(customer_id, body))


@router.get("/{customer_id}/timeline")
async def timeline(
    customer_id: int,
    services: ServicesDep,
    who: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    items = await _done(services.customers.timeline(customer_id, Scope.of(who), limit=limit))
    return {"customer_id": customer_id, "items": items}


@router.post("/{customer_id}/identities", status_code=status.HTTP_201_CREATED)
async def add_identity(
    customer_id: int, body: NewIdentity, services: ServicesDep, _: Manager
) -> dict[str, Any]:
    return await _done(services.customers.add_identity(customer_id, body.kind, body.value))


@router.delete("/{customer_id}/identities/{identity_id}")
async def remove_identity(
    customer_id: int, identity_id: int, services: ServicesDep, _: Manager
) -> dict[str, Any]:
    return await _done(services.customers.remove_identity(customer_id, identity_id))


@router.post("/{customer_id}/merge")
async def merge(customer_id: int, body: Merge, services: ServicesDep, _: Manager) -> dict[str, Any]:
    """Fold profile `from` into this one (docs/customers.md says what wins)."""
    return await _done(services.customers.merge(customer_id, body.from_id))


async def _done(work: Awaitable[T]) -> T:
    """The service's answer, or its refusal as HTTP: 404, 308 to a merged profile's
    successor, 409 for an identity another profile has, 422 naming the field."""
    try:
        return await work
    except CustomerMerged as exc:
        # 308 keeps the method and body: a client that follows it reads (or changes)
        # the profile the id was merged into; one that does not reads `merged_into`.
        raise HTTPException(
            status.HTTP_308_PERMANENT_REDIRECT,
            {"msg": str(exc), "merged_into": exc.merged_into},
            headers={"Location": f"/api/customers/{exc.merged_into}"},
        ) from None
    except CustomerNotFound:
        raise HTTPException(404, "customer not found") from None
    except IdentityNotFound:
        raise HTTPException(404, "the customer has no such identity") from None
    except IdentityTaken as exc:
        detail = {"loc": ["body", exc.field], "msg": exc.message, "type": "conflict",
                  "customer_id": exc.customer_id}  # fmt: skip
        raise HTTPException(409, [detail]) from None
    except FieldError as exc:
        raise invalid(exc.message, exc.field) from None


def _uploaded(content_type: str, body: bytes) -> bytes:
    """The CSV bytes of an upload. Multipart is read with the standard library's MIME
    parser (RFC 7578 form data is MIME), so the import needs no extra dependency."""
    if not content_type.lower().startswith("multipart/form-data"):
        return body
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    for part in message.iter_parts() if message.is_multipart() else ():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload
    raise HTTPException(
        422, [{"loc": ["body", "file"], "msg": "a CSV file in the form field `file`"}]
    )
