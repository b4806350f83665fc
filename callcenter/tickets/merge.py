"""Merging a ticket into another (docs/tickets.md, "Merge").

One transaction: the source's comments and attachments are *copied* to the target
(`copied_from_id` names the original; the files are shared, never duplicated on disk),
so both histories stay whole and true: the source keeps what happened on it, the target
shows the copies arriving at the merge. Each ticket gets an internal note, the source a
`duplicate` link to the target, and the source is closed.

Requesters: an agent merges only tickets of the same requester; with `tickets.read_all`
(supervisors) tickets of different requesters may be merged, and then every copy is
internal, so no customer reads another customer's conversation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, RowMapping, delete, insert, select

from callcenter.auth.permissions import Principal
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import Event, EventBus
from callcenter.tickets.access import TICKETS, TicketScope, ticket_visible
from callcenter.tickets.links import LINK, LINKS, _pair, link_ticket, view_of
from callcenter.tickets.service import (
    ATTACHMENT,
    ATTACHMENTS,
    COMMENT,
    COMMENTS,
    FieldError,
    TicketClosed,
    _apply,
    _record,
    _visible_row,
    add_comment,
    public,
)


class Merge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: Annotated[int, Field(gt=0)]


class MergeService:
    def __init__(self, db: Database, bus: EventBus, clock: Clock) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock

    async def merge(
        self, source_id: int, into: int, who: Principal, scope: TicketScope
    ) -> dict[str, Any]:
        """The target as it is after the merge; TicketNotFound (source), TicketClosed
        (source), FieldError on `into` store nothing."""
        now = self.clock.now()

        def store(conn: Connection) -> tuple[Mapping[Any, Any], Mapping[Any, Any]]:
            source = _visible_row(conn, source_id, scope)
            if source["status"] == "closed":
                raise TicketClosed(source_id)
            target = _target(conn, source, into, scope)
            same = source["requester_id"] == target["requester_id"]
            _relink(conn, source, target, who, now)
            comments, files = _copy(conn, source_id, into, who, now, keep_public=same)
            add_comment(conn, target, who, now, public=False, body=(
                f"Merged #{source_id} into this ticket: {comments} comments and {files} "
                f"attachments copied.\n已将工单 #{source_id} 合并到此工单：复制了 {comments} "
                f"条评论和 {files} 个附件。"
            ))  # fmt: skip
            add_comment(conn, source, who, now, public=False, body=(
                f"Merged into #{into}; closed as its duplicate.\n"
                f"已合并到工单 #{into}，作为其重复工单关闭。"
            ))  # fmt: skip
            _apply(conn, source_id, who, now, {"status": (source["status"], "closed")})
            return source, target

        source, target = await self.db.write(store)
        await self.bus.publish(Event("ticket.merged", {
            "id": source_id, "group_id": source["group_id"], "into": into,
            "into_group_id": target["group_id"],
        }))  # fmt: skip
        await self.bus.publish(Event("ticket.updated", {
            "id": source_id, "group_id": source["group_id"], "fields": ["status"],
        }))  # fmt: skip
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(TICKETS).where(TICKETS.c.id == into))).mappings().one()
        return public(row)


def _target(
    conn: Connection, source: Mapping[Any, Any], into: int, scope: TicketScope
) -> RowMapping:
    if into == source["id"]:
        raise FieldError("into", "a ticket cannot be merged into itself")
    query = select(TICKETS).where(TICKETS.c.id == into, ticket_visible(scope))
    target = conn.execute(query).mappings().first()
    if target is None:
        raise FieldError("into", f"no ticket {into}")
    if target["status"] == "closed":
        raise FieldError("into", f"ticket {into} is closed; merge into an open one")
    if target["requester_id"] != source["requester_id"] and scope.reach != "all":
        raise FieldError(
            "into",
            f"ticket {into} has another requester; merging those needs tickets.read_all",
        )
    return target


def _relink(
    conn: Connection,
    source: Mapping[Any, Any],
    target: Mapping[Any, Any],
    who: Principal,
    now: datetime,
) -> None:
    """The source becomes the target's duplicate, replacing any link the two had."""
    old = _pair(conn, source["id"], target["id"])
    if old is not None:
        conn.execute(delete(LINKS).where(LINKS.c.id == old["id"]))
        for end in (source["id"], target["id"]):
            seen, kind = view_of(old, end)
            _record(conn, end, who, now, {LINK: ({"ticket_id": seen, "kind": kind}, None)})
    link_ticket(conn, source, target, kind="original", who=who, now=now)


def _copy(
    conn: Connection,
    source_id: int,
    target_id: int,
    who: Principal,
    now: datetime,
    *,
    keep_public: bool,
) -> tuple[int, int]:
    """Copy the source's comments, then its attachments, each with a history row on
    the target; (comments, attachments) copied."""
    comments = conn.execute(
        select(COMMENTS).where(COMMENTS.c.ticket_id == source_id).order_by(COMMENTS.c.id)
    ).mappings().all()  # fmt: skip
    copies: dict[int, int] = {}
    for c in comments:
        values = {k: c[k] for k in ("author_id", "author_name", "body", "created_at")}
        values.update(ticket_id=target_id, public=bool(c["public"]) and keep_public,
                      copied_from_id=c["id"])  # fmt: skip
        new_id = conn.execute(insert(COMMENTS).values(values).returning(COMMENTS.c.id))
        copies[c["id"]] = int(new_id.scalar_one())
        _record(conn, target_id, who, now, {COMMENT: (None, copies[c["id"]])})
    files = conn.execute(
        select(ATTACHMENTS).where(ATTACHMENTS.c.ticket_id == source_id)
        .order_by(ATTACHMENTS.c.id)
    ).mappings().all()  # fmt: skip
    for a in files:
        values = {k: a[k] for k in ("uploader_id", "uploader_name", "filename", "content_type",
                                    "size", "sha256", "storage_name", "created_at")}  # fmt: skip
        values.update(
            ticket_id=target_id, copied_from_id=a["id"],
            comment_id=copies.get(a["comment_id"]) if a["comment_id"] is not None else None,
            public=bool(a["public"]) and keep_public,
        )  # fmt: skip
        new_id = conn.execute(insert(ATTACHMENTS).values(values).returning(ATTACHMENTS.c.id))
        _record(conn, target_id, who, now, {ATTACHMENT: (None, int(new_id.scalar_one()))})
    return len(comments), len(files)
