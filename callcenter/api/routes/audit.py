"""Reading the audit log (writing happens in the service and AuditMiddleware)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from callcenter.api.deps import ServicesDep, require
from callcenter.auth.models import AuditEntry, aware
from callcenter.auth.permissions import Permission, Principal

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditPublic(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str
    actor_kind: str
    action: str
    target: str | None
    ip: str | None
    status: int | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditPublic]
    limit: int
    offset: int


def audit_public(e: AuditEntry) -> AuditPublic:
    assert e.id is not None
    return AuditPublic(
        id=e.id,
        at=aware(e.at) or e.at,
        actor_id=e.actor_id,
        actor_name=e.actor_name,
        actor_kind=e.actor_kind,
        action=e.action,
        target=e.target,
        ip=e.ip,
        status=e.status,
        details=e.details,
    )


@router.get("")
async def list_audit(
    *,
    _: Annotated[Principal, Depends(require(Permission.AUDIT_READ))],
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=200, description="prefix")] = None,
    target: Annotated[str | None, Query(max_length=200)] = None,
) -> AuditPage:
    rows = await services.auth.list_audit(limit, offset, actor, action, target=target)
    return AuditPage(items=[audit_public(e) for e in rows], limit=limit, offset=offset)
