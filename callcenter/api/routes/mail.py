"""A ticket's mails in and out, for agents: what the customer was sent, and whether it
left (docs/email.md). Who may see the ticket may see its mails; otherwise 404."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from sqlalchemy import select

from callcenter.api.deps import ServicesDep
from callcenter.api.routes.portal import Reader
from callcenter.auth.models import aware
from callcenter.mail.models import TicketMail
from callcenter.tickets.access import TicketScope
from callcenter.tickets.service import TicketNotFound

router = APIRouter(prefix="/api", tags=["tickets"])
MAILS = TicketMail.__table__  # type: ignore[attr-defined]


@router.get("/tickets/{ticket_id}/mails")
async def mails(ticket_id: int, services: ServicesDep, who: Reader) -> dict[str, Any]:
    try:
        await services.tickets().get(ticket_id, TicketScope.of(who))
    except TicketNotFound:
        raise HTTPException(404, "ticket not found") from None
    async with services.db.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(MAILS).where(MAILS.c.ticket_id == ticket_id).order_by(MAILS.c.id)
            )
        ).mappings()
        items = [_item(row) for row in rows]
    return {"ticket_id": ticket_id, "items": items}


def _item(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "direction": row["direction"], "message_id": row["message_id"],
            "comment_id": row["comment_id"], "address": row["address"], "status": row["status"],
            "attempts": row["attempts"], "error": row["error"],
            "created_at": _iso(row["created_at"]), "sent_at": _iso(row["sent_at"])}  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    stamped = aware(value)
    return stamped.isoformat() if stamped is not None else None
