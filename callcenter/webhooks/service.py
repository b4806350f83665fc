"""Webhook subscriptions, the delivery queue and the dead-letter list, in the database.

A delivery is queued as a row (`pending`) in the same breath as the event it carries,
so a restart loses nothing: the dispatcher resumes every pending row. The body is
fixed when queued; retries and replays send the same bytes, so a receiver can tell a
repeat by the body's `id`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, delete, func, insert, select, update

from callcenter.auth.models import aware
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import Event
from callcenter.webhooks.models import WebhookDelivery, WebhookRow

HOOKS = WebhookRow.__table__  # type: ignore[attr-defined]
DELIVERIES = WebhookDelivery.__table__  # type: ignore[attr-defined]

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
Prefix = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.]+$")]


class WebhookNotFound(LookupError):
    pass


class DeliveryNotFound(LookupError):
    pass


class WebhookFieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class WebhookBody(BaseModel):
    """A subscription. `event_types` are type prefixes (`ticket.`, `call.ended`); an
    empty list takes no bus events, only what trigger actions send it."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64)]
    url: Annotated[str, Field(min_length=8, max_length=2000)]
    secret: Annotated[str, Field(min_length=16, max_length=200)] | None = None
    event_types: Annotated[list[Prefix], Field(max_length=50)] = Field(default_factory=list)
    active: bool = True

    @field_validator("url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
            raise ValueError("an http:// or https:// URL")
        return value


@dataclass(frozen=True)
class Subscription:
    id: int
    prefixes: tuple[str, ...]


class WebhookService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._subs: list[Subscription] | None = None  # active ones, read on first need

    # ---- subscriptions ----------------------------------------------------------------

    async def listing(self) -> list[dict[str, Any]]:
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(select(HOOKS).order_by(HOOKS.c.id))).mappings()
            return [hook_public(r) for r in rows]

    async def get(self, webhook_id: int) -> dict[str, Any]:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(HOOKS).where(HOOKS.c.id == webhook_id))).mappings()
            found = row.first()
        if found is None:
            raise WebhookNotFound(webhook_id)
        return hook_public(found)

    async def save(self, body: WebhookBody, webhook_id: int | None = None) -> dict[str, Any]:
        """Create (a secret is made when none is given, and shown this once) or replace
        (no secret: keep the old one)."""
        now = self.clock.now()
        values: dict[str, Any] = {"name": body.name, "url": body.url, "active": body.active,
                                  "event_types": body.event_types, "updated_at": now}  # fmt: skip
        made = None
        if body.secret is not None:
            values["secret"] = body.secret
        elif webhook_id is None:
            values["secret"] = made = secrets.token_urlsafe(32)

        def store(conn: Connection) -> int:
            if (
                webhook_id is not None
                and conn.execute(select(HOOKS.c.id).where(HOOKS.c.id == webhook_id)).first() is None
            ):
                raise WebhookNotFound(webhook_id)
            taken = select(HOOKS.c.id).where(HOOKS.c.name == body.name, HOOKS.c.id != webhook_id)
            if conn.execute(taken).first() is not None:
                raise WebhookFieldError("name", f"the name {body.name!r} is taken")
            if webhook_id is None:
                query = insert(HOOKS).values(created_at=now, **values).returning(HOOKS.c.id)
                return int(conn.execute(query).scalar_one())
            conn.execute(update(HOOKS).where(HOOKS.c.id == webhook_id).values(values))
            return webhook_id

        saved = await self.get(await self.db.write(store))
        self._subs = None
        if made is not None:
            saved["secret"] = made
        return saved

    async def delete(self, webhook_id: int) -> None:
        """The subscription and its deliveries (a trigger naming it then skips it)."""

        def store(conn: Connection) -> None:
            conn.execute(delete(DELIVERIES).where(DELIVERIES.c.webhook_id == webhook_id))
            if conn.execute(delete(HOOKS).where(HOOKS.c.id == webhook_id)).rowcount == 0:
                raise WebhookNotFound(webhook_id)

        await self.db.write(store)
        self._subs = None

    async def subscriptions(self) -> list[Subscription]:
        if self._subs is None:
            async with self.db.engine.connect() as conn:
                rows = await conn.execute(
                    select(HOOKS.c.id, HOOKS.c.event_types).where(HOOKS.c.active.is_(True))
                )
                self._subs = [Subscription(int(i), tuple(t or ())) for i, t in rows]
        return self._subs

    # ---- queueing ---------------------------------------------------------------------

    async def from_event(self, event: Event) -> int:
        """Queue `event` for every active subscription whose prefixes match it."""
        wanted = [s.id for s in await self.subscriptions()
                  if s.prefixes and event.type.startswith(s.prefixes)]  # fmt: skip
        if not wanted:
            return 0
        at = datetime.fromtimestamp(event.ts, UTC)
        return await self._queue(wanted, event.id, event.type, at, event.data)

    async def enqueue(self, webhook_id: int, event_type: str, data: dict[str, Any]) -> bool:
        """One delivery to one webhook (a trigger's action); False if inactive or gone."""
        if webhook_id not in {s.id for s in await self.subscriptions()}:
            return False
        event = Event(event_type, data)
        await self._queue([webhook_id], event.id, event_type, self.clock.now(), data)
        return True

    async def _queue(self, hooks: list[int], event_id: str, event_type: str, at: datetime,
                     data: Mapping[str, Any]) -> int:  # fmt: skip
        body = json.dumps({"id": event_id, "type": event_type, "at": at.isoformat(),
                           "data": data}, separators=(",", ":"), ensure_ascii=False,
                          default=str)  # fmt: skip
        now = self.clock.now()
        rows = [{"webhook_id": h, "event_id": event_id, "event_type": event_type[:64],
                 "body": body, "state": PENDING, "attempts": 0, "next_attempt_at": now,
                 "last_error": "", "created_at": now} for h in hooks]  # fmt: skip

        def store(conn: Connection) -> int:
            # A subscription deleted since the cache was read: skip it, not the others.
            alive = set(conn.execute(select(HOOKS.c.id).where(HOOKS.c.id.in_(hooks))).scalars())
            kept = [r for r in rows if r["webhook_id"] in alive]
            if kept:
                conn.execute(insert(DELIVERIES), kept)
            return len(kept)

        return await self.db.write(store)

    # ---- the queue and the dead letters ------------------------------------------------

    async def due(self, now: datetime, limit: int, skip: set[int]) -> list[dict[str, Any]]:
        """Pending deliveries whose time has come, oldest first, with their hook's URL and
        secret (an inactive hook's deliveries wait until it is active again)."""
        query = (
            select(DELIVERIES, HOOKS.c.url, HOOKS.c.secret)
            .join(HOOKS, HOOKS.c.id == DELIVERIES.c.webhook_id)
            .where(DELIVERIES.c.state == PENDING, DELIVERIES.c.next_attempt_at <= now,
                   HOOKS.c.active.is_(True))
            .order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id)
            .limit(limit + len(skip))
        )  # fmt: skip
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings()
            return [dict(r) for r in rows if r["id"] not in skip][:limit]

    async def record(self, delivery_id: int, values: dict[str, Any]) -> None:
        def store(conn: Connection) -> None:
            conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == delivery_id,
                                                  DELIVERIES.c.state == PENDING)
                         .values(values))  # fmt: skip

        await self.db.write(store)

    async def deliveries(self, *, webhook_id: int | None = None, state: str | None = None,
                         limit: int = 100) -> list[dict[str, Any]]:  # fmt: skip
        query = select(DELIVERIES).order_by(DELIVERIES.c.id.desc()).limit(limit)
        if webhook_id is not None:
            query = query.where(DELIVERIES.c.webhook_id == webhook_id)
        if state is not None:
            query = query.where(DELIVERIES.c.state == state)
        async with self.db.engine.connect() as conn:
            return [delivery_public(r) for r in (await conn.execute(query)).mappings()]

    async def replay(self, delivery_id: int | None = None) -> int:
        """Dead letters back to the queue with a fresh attempt count: one, or all."""
        now = self.clock.now()

        def store(conn: Connection) -> int:
            query = update(DELIVERIES).where(DELIVERIES.c.state == DEAD)
            if delivery_id is not None:
                query = query.where(DELIVERIES.c.id == delivery_id)
            done = conn.execute(query.values(state=PENDING, attempts=0, next_attempt_at=now,
                                             finished_at=None)).rowcount  # fmt: skip
            if delivery_id is not None and done == 0:
                raise DeliveryNotFound(delivery_id)
            return int(done)

        return await self.db.write(store)

    async def count(self, state: str) -> int:
        async with self.db.engine.connect() as conn:
            query = select(func.count()).where(DELIVERIES.c.state == state)
            return int((await conn.execute(query)).scalar_one())


def hook_public(row: Mapping[Any, Any]) -> dict[str, Any]:
    """Never the secret: it is shown once, when made."""
    return {"id": row["id"], "name": row["name"], "url": row["url"],
            "event_types": list(row["event_types"] or []),
            "active": bool(row["active"])}  # fmt: skip


def delivery_public(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "webhook_id": row["webhook_id"], "event_id": row["event_id"],
        "event_type": row["event_type"], "state": row["state"], "attempts": row["attempts"],
        "next_attempt_at": _iso(row["next_attempt_at"]), "last_status": row["last_status"],
        "last_error": row["last_error"], "created_at": _iso(row["created_at"]),
        "finished_at": _iso(row["finished_at"]), "body": json.loads(row["body"]),
    }  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    stamped = aware(value)
    return stamped.isoformat() if stamped is not None else None
