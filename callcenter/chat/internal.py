"""Internal chat (内部会话): direct messages between two agents, apart from visitors' chats.

A thread is the messages between two users, both ways. Only the two read it; the
recipient gets a `chat.internal` event (ids only) and reads the text over the API.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from callcenter.auth.models import User
from callcenter.chat.models import ChatInternalMessage
from callcenter.chat.service import MAX_BODY, ChatInvalid
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import Event, EventBus

INTERNAL = ChatInternalMessage.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]


class InternalChat:
    def __init__(self, db: Database, bus: EventBus, clock: Clock) -> None:
        self.db, self.bus, self.clock = db, bus, clock

    async def send(self, sender_id: int, recipient_id: int, body: str) -> dict[str, Any]:
        body = body.strip()
        if not body or len(body) > MAX_BODY:
            raise ChatInvalid(f"a message of 1-{MAX_BODY} characters", "body")
        if recipient_id == sender_id:
            raise ChatInvalid("a message to yourself", "recipient_id")
        now = self.clock.now()

        def store(conn: Connection) -> dict[str, Any]:
            active = conn.execute(
                select(USERS.c.id).where(USERS.c.id == recipient_id, USERS.c.is_active.is_(True))
            ).scalar()
            if active is None:
                raise ChatInvalid("no such colleague", "recipient_id")
            values = {"sender_id": sender_id, "recipient_id": recipient_id, "body": body,
                      "created_at": now}  # fmt: skip
            message_id = conn.execute(
                insert(INTERNAL).values(**values).returning(INTERNAL.c.id)
            ).scalar_one()
            return _item({"id": message_id, "read_at": None, **values})

        message = await self.db.write(store)
        await self.bus.publish(Event("chat.internal", {
            "message_id": message["id"], "sender_id": sender_id, "recipient_id": recipient_id,
            "agent_ids": [sender_id, recipient_id], "everyone": False,
        }))  # fmt: skip
        return message

    async def thread(self, user_id: int, other_id: int, after_id: int = 0) -> list[dict[str, Any]]:
        """The messages between the two, oldest first (at most 500 after `after_id`);
        what the other sent is marked read."""
        both = or_(
            and_(INTERNAL.c.sender_id == user_id, INTERNAL.c.recipient_id == other_id),
            and_(INTERNAL.c.sender_id == other_id, INTERNAL.c.recipient_id == user_id),
        )
        now = self.clock.now()

        def read(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                select(INTERNAL).where(both, INTERNAL.c.id > after_id)
                .order_by(INTERNAL.c.id).limit(500)
            ).all()  # fmt: skip
            conn.execute(
                update(INTERNAL)
                .where(INTERNAL.c.sender_id == other_id, INTERNAL.c.recipient_id == user_id,
                       INTERNAL.c.read_at.is_(None))
                .values(read_at=now)
            )  # fmt: skip
            return [_item(row._mapping) for row in rows]

        return await self.db.write(read)

    async def threads(self, user_id: int) -> list[dict[str, Any]]:
        """Everyone the user has exchanged messages with: last message id, unread count."""
        other = func.coalesce(
            func.nullif(INTERNAL.c.sender_id, user_id), INTERNAL.c.recipient_id
        ).label("other_id")
        stmt = (
            select(other, func.max(INTERNAL.c.id).label("last_id"))
            .where(or_(INTERNAL.c.sender_id == user_id, INTERNAL.c.recipient_id == user_id))
            .group_by(other)
        )
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
            unread_rows = (
                await conn.execute(
                    select(INTERNAL.c.sender_id, func.count())
                    .where(INTERNAL.c.recipient_id == user_id, INTERNAL.c.read_at.is_(None))
                    .group_by(INTERNAL.c.sender_id)
                )
            ).all()
        unread_by = {sender: count for sender, count in unread_rows}
        items = [{"user_id": r.other_id, "last_id": r.last_id,
                  "unread": unread_by.get(r.other_id, 0)} for r in rows]  # fmt: skip
        return sorted(items, key=lambda i: -i["last_id"])


def _item(m: Any) -> dict[str, Any]:
    return {
        "id": m["id"], "sender_id": m["sender_id"], "recipient_id": m["recipient_id"],
        "body": m["body"], "created_at": m["created_at"].isoformat(),
        "read_at": m["read_at"].isoformat() if m["read_at"] is not None else None,
    }  # fmt: skip
