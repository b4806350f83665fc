"""Attachments on tickets: store a checked upload with its row and history, list, find
the file to download (docs/tickets.md, "Attachments").

The file is checked and moved into place before the transaction (attachment_store);
the row, the optional comment and the history row are one `Database.write` with the
ticket's checks inside. Refused there, the file is removed again: nothing is stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from callcenter.auth.permissions import Principal
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import Event, EventBus
from callcenter.tickets.access import TICKETS, TicketScope, ticket_visible
from callcenter.tickets.attachment_store import AttachmentStore, StoredFile, Upload
from callcenter.tickets.service import (
    ATTACHMENT,
    ATTACHMENTS,
    TicketClosed,
    TicketNotFound,
    _record,
    _visible_row,
    add_comment,
    attachment_item,
)


class AttachmentNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Download:
    path: Path
    filename: str
    content_type: str


class AttachmentService:
    def __init__(self, db: Database, bus: EventBus, clock: Clock, store: AttachmentStore) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.store = store

    async def check_open(self, ticket_id: int, scope: TicketScope) -> None:
        """Before reading an upload: the ticket is visible (else 404) and not closed
        (409), so a refused request does not make the client send megabytes first."""
        query = select(TICKETS.c.status).where(TICKETS.c.id == ticket_id, ticket_visible(scope))
        async with self.db.engine.connect() as conn:
            found = (await conn.execute(query)).scalar()
        if found is None:
            raise TicketNotFound(ticket_id)
        if found == "closed":
            raise TicketClosed(ticket_id)

    async def add(
        self,
        ticket_id: int,
        upload: Upload,
        *,
        public: bool,
        body: str | None,
        who: Principal,
        scope: TicketScope,
    ) -> dict[str, Any]:
        """Attach the received file, with a comment when `body` is given (the file is
        then as public as the comment). Discards the file on any refusal."""
        now = self.clock.now()
        try:
            stored = await asyncio.to_thread(upload.finish)

            def write(conn: Connection) -> tuple[dict[str, Any], int, dict[str, Any] | None, bool]:
                row = _visible_row(conn, ticket_id, scope)
                if row["status"] == "closed":
                    raise TicketClosed(ticket_id)
                comment, opened = None, False
                if body is not None:
                    comment, opened = add_comment(conn, row, who, now, body=body, public=public)
                values = _row(ticket_id, stored=stored, comment=comment, public=public,
                              who=who, now=now)  # fmt: skip
                new_id = conn.execute(insert(ATTACHMENTS).values(values)
                                      .returning(ATTACHMENTS.c.id)).scalar_one()  # fmt: skip
                _record(conn, ticket_id, who, now, {ATTACHMENT: (None, int(new_id))})
                if comment is None:
                    conn.execute(update(TICKETS).where(TICKETS.c.id == ticket_id)
                                 .values(updated_at=now))  # fmt: skip
                return {"id": int(new_id), **values}, int(row["group_id"]), comment, opened

            item, group_id, comment, opened = await self.db.write(write)
        except BaseException:
            await asyncio.to_thread(upload.discard)
            raise
        await self._announce(ticket_id, group_id, item, comment, opened)
        return attachment_item(item)

    async def _announce(
        self,
        ticket_id: int,
        group_id: int,
        item: dict[str, Any],
        comment: dict[str, Any] | None,
        opened: bool,
    ) -> None:
        """Ids only, like every ticket event: a listener asks the API for the rest."""
        if comment is not None:
            await self.bus.publish(Event("ticket.commented", {
                "id": ticket_id, "group_id": group_id, "comment_id": comment["id"],
                "public": comment["public"],
            }))  # fmt: skip
        if opened:
            await self.bus.publish(Event("ticket.updated", {
                "id": ticket_id, "group_id": group_id, "fields": ["status"],
            }))  # fmt: skip
        await self.bus.publish(Event("ticket.attachment_added", {
            "id": ticket_id, "group_id": group_id, "attachment_id": item["id"],
            "comment_id": item["comment_id"], "public": item["public"],
        }))  # fmt: skip

    async def list(self, ticket_id: int, scope: TicketScope) -> list[dict[str, Any]]:
        query = (
            select(ATTACHMENTS)
            .join(TICKETS, TICKETS.c.id == ATTACHMENTS.c.ticket_id)
            .where(ATTACHMENTS.c.ticket_id == ticket_id, ticket_visible(scope))
            .order_by(ATTACHMENTS.c.id)
        )
        async with self.db.engine.connect() as conn:
            await self._visible(conn, ticket_id, scope)
            rows = (await conn.execute(query)).mappings().all()
        return [attachment_item(r) for r in rows]

    async def download(self, ticket_id: int, attachment_id: int, scope: TicketScope) -> Download:
        """The file of an attachment of a ticket the reader may see; AttachmentNotFound
        for any other (or a file gone from disk)."""
        query = (
            select(ATTACHMENTS)
            .join(TICKETS, TICKETS.c.id == ATTACHMENTS.c.ticket_id)
            .where(
                ATTACHMENTS.c.id == attachment_id,
                ATTACHMENTS.c.ticket_id == ticket_id,
                ticket_visible(scope),
            )
        )
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise AttachmentNotFound(attachment_id)
        path = self.store.path(row["storage_name"])
        if not await asyncio.to_thread(path.is_file):
            raise AttachmentNotFound(attachment_id)
        return Download(path, row["filename"], row["content_type"])

    @staticmethod
    async def _visible(conn: Any, ticket_id: int, scope: TicketScope) -> None:
        query = select(TICKETS.c.id).where(TICKETS.c.id == ticket_id, ticket_visible(scope))
        if (await conn.execute(query)).first() is None:
            raise TicketNotFound(ticket_id)


def _row(
    ticket_id: int,
    *,
    stored: StoredFile,
    comment: dict[str, Any] | None,
    public: bool,
    who: Principal,
    now: Any,
) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "comment_id": comment["id"] if comment is not None else None,
        "uploader_id": who.user_id,
        "uploader_name": who.username,
        "filename": stored.filename,
        "content_type": stored.content_type,
        "size": stored.size,
        "sha256": stored.sha256,
        "storage_name": stored.storage_name,
        "public": comment["public"] if comment is not None else public,
        "copied_from_id": None,
        "created_at": now,
    }
