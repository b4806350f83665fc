"""Announcements: a supervisor tells all agents, or one team, something (客服公告).

Stored, so a desktop that opens later (or after a restart) still shows what is current
until it expires. The `announcement.*` events carry no text, only which team it is
for: every desktop hears of a change and asks for what it may read, so a team's notice
never reaches another team's screens.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select

from callcenter.auth.models import aware
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import Event, EventBus
from callcenter.monitoring.models import Announcement

TABLE = Announcement.__table__  # type: ignore[attr-defined]


class Announcements:
    def __init__(self, db: Database, bus: EventBus, clock: Clock) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock

    async def post(
        self, text: str, *, team: str | None, hours: float, author_id: int | None, author: str
    ) -> dict[str, Any]:
        now = self.clock.now()
        values = {"text": text, "team": team, "author_id": author_id, "author_name": author,
                  "created_at": now, "expires_at": now + timedelta(hours=hours)}  # fmt: skip

        def store(conn: Connection) -> int:
            return int(
                conn.execute(insert(TABLE).values(values).returning(TABLE.c.id)).scalar_one()
            )

        posted = {"id": await self.db.write(store), **values}
        await self.bus.publish(Event("announcement.posted", {"id": posted["id"], "team": team}))
        return public(posted)

    async def current(self, teams: Collection[str] | None) -> list[dict[str, Any]]:
        """Unexpired announcements, newest first: all of them (`teams=None`, for who posts
        them), else those for everyone or for one of `teams`."""
        query = select(TABLE).where(TABLE.c.expires_at > self.clock.now())
        if teams is not None:
            query = query.where(or_(TABLE.c.team.is_(None), TABLE.c.team.in_(list(teams))))
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(TABLE.c.id.desc()))).mappings().all()
        return [public(dict(row)) for row in rows]

    async def remove(self, announcement_id: int) -> bool:
        def drop(conn: Connection) -> tuple[bool, str | None]:
            team = conn.execute(select(TABLE.c.team).where(TABLE.c.id == announcement_id)).first()
            conn.execute(delete(TABLE).where(TABLE.c.id == announcement_id))
            return team is not None, team[0] if team else None

        found, team = await self.db.write(drop)
        if found:
            await self.bus.publish(Event("announcement.removed", {"id": announcement_id,
                                                                  "team": team}))  # fmt: skip
        return found


def public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "text": row["text"],
        "team": row["team"],
        "author": row["author_name"],
        "created_at": _iso(row["created_at"]),
        "expires_at": _iso(row["expires_at"]),
    }


def _iso(value: datetime) -> str:
    stamped = aware(value)
    assert stamped is not None
    return stamped.isoformat()
