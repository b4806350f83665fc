"""Domain events: every state change is published once and fanned out to whoever listens.

The bus is in-process by default and Redis (streams) when `CALLCENTER_REDIS_URL` is set,
so several controller processes see the same events. Both implement `EventBus`; domain
code only publishes, transports (websockets, webhooks, metrics) only subscribe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from callcenter.ids import unique_id

if TYPE_CHECKING:
    from callcenter.config import Settings


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened. `type` is dotted, e.g. `call.answered`; `data` is JSON-safe."""

    type: str
    data: dict[str, Any]
    id: str = field(default_factory=unique_id)
    ts: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps(
            {"id": self.id, "type": self.type, "ts": self.ts, "data": self.data},
            separators=(",", ":"),
            ensure_ascii=False,
            default=str,
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        obj = json.loads(raw)
        return cls(type=obj["type"], data=obj["data"], id=obj["id"], ts=obj["ts"])

    def matches(self, prefixes: tuple[str, ...]) -> bool:
        """Subscribers filter by type prefix (`call.` gets every call event); empty = all."""
        return not prefixes or self.type.startswith(prefixes)


class Subscription(Protocol):
    """What `EventBus.subscribe` returns: iterate it, close it when done."""

    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def get(self) -> Event: ...

    def close(self) -> None: ...

    @property
    def dropped(self) -> int:
        """Events this subscriber lost because it did not keep up (bounded queue)."""
        ...


class EventBus(Protocol):
    """Publish/subscribe of domain events, the same for the in-process and Redis buses."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, event: Event) -> None: ...

    def subscribe(
        self, *prefixes: str, maxsize: int = 1000, only: Callable[[Event], bool] | None = None
    ) -> Subscription: ...

    async def ping(self) -> bool: ...


async def handle_each(
    subscription: Subscription,
    handle: Callable[[Event], Awaitable[object]],
    *,
    log: logging.Logger,
    what: str,
) -> None:
    """A listener's loop: every event, in order, to `handle`. One that fails is logged
    and the next is handled, since one bad event must not silence a listener for good;
    the subscription is closed when the loop ends (cancelled)."""
    try:
        while True:
            event = await subscription.get()
            try:
                await handle(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: event %s %s failed", what, event.type, event.data)
    finally:
        subscription.close()


def create_bus(settings: Settings) -> EventBus:
    """The configured bus: Redis when a URL is set, else in-process."""
    if settings.redis_url:
        from callcenter.events.redis import RedisBus

        return RedisBus(settings.redis_url)
    from callcenter.events.memory import InMemoryBus

    return InMemoryBus()
