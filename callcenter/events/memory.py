"""The in-process event bus: one asyncio queue per subscriber, nothing leaves the process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from callcenter.events import Event

log = logging.getLogger(__name__)


class QueueSubscription:
    """A bounded queue of events for one subscriber.

    A slow subscriber (a stalled websocket) must never slow down publishers or the call
    path, so when its queue is full the oldest event is dropped and counted.
    """

    def __init__(
        self,
        prefixes: tuple[str, ...],
        maxsize: int,
        on_close: object,
        only: Callable[[Event], bool] | None = None,
    ) -> None:
        self.prefixes = prefixes
        # Judged at fan-out, so an event meant for someone else never wakes this
        # subscriber (a chat message concerns 1 agent of the hundreds connected).
        self.only = only
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self._on_close = on_close
        self._dropped = 0
        self.closed = False

    @property
    def dropped(self) -> int:
        return self._dropped

    def offer(self, event: Event) -> None:
        if self.closed or not event.matches(self.prefixes):
            return
        if self.only is not None and not self.only(event):
            return
        if self._queue.full():
            self._queue.get_nowait()
            self._dropped += 1
        self._queue.put_nowait(event)

    async def get(self) -> Event:
        return await self._queue.get()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while not self.closed:
            yield await self._queue.get()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if callable(self._on_close):
                self._on_close(self)


class InMemoryBus:
    """Fan-out to every subscriber of this process; publish never blocks."""

    name = "memory"

    def __init__(self) -> None:
        self._subscribers: set[QueueSubscription] = set()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for sub in list(self._subscribers):
            sub.close()

    async def publish(self, event: Event) -> None:
        self.deliver(event)

    def deliver(self, event: Event) -> None:
        """Hand one event to every local subscriber (the Redis bus reuses this fan-out)."""
        for sub in self._subscribers:
            sub.offer(event)

    def subscribe(
        self, *prefixes: str, maxsize: int = 1000, only: Callable[[Event], bool] | None = None
    ) -> QueueSubscription:
        sub = QueueSubscription(tuple(prefixes), maxsize, self._subscribers.discard, only)
        self._subscribers.add(sub)
        return sub

    async def ping(self) -> bool:
        return True
