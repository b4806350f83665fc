"""Counting failed logins per key (username, client address) in a sliding window.

The service talks to the `RateLimiter` protocol only, so a Redis implementation (sorted
set per key) can replace the in-memory one when several processes serve logins.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import timedelta
from typing import Protocol

from callcenter.clock import Clock


class RateLimiter(Protocol):
    async def retry_after(self, key: str) -> int | None:
        """Seconds until `key` may try again, or None when it may try now."""
        ...

    async def hit(self, key: str) -> None:
        """Record one failure for `key`."""
        ...

    async def reset(self, key: str) -> None: ...


class SlidingWindowLimiter:
    """At most `limit` hits per key within any `window`; the clock is injected for tests.

    Timestamps are kept per key (at most `limit` of them, older ones are useless), and
    stale keys are swept when the table grows, so random usernames cannot fill memory.
    """

    def __init__(
        self, limit: int, window: timedelta, clock: Clock, *, max_keys: int = 100_000
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window.total_seconds()
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _live(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    async def retry_after(self, key: str) -> int | None:
        now = self._now()
        hits = self._live(key, now)
        if hits is None or len(hits) < self.limit:
            return None
        return max(1, math.ceil(hits[0] + self.window - now))

    async def hit(self, key: str) -> None:
        now = self._now()
        hits = self._live(key, now)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._sweep(now)
            hits = self._hits[key] = deque(maxlen=self.limit)
        hits.append(now)

    async def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def _sweep(self, now: float) -> None:
        for key in list(self._hits):
            self._live(key, now)
        # Still full: everyone is hammering at once; forget the oldest keys rather than grow.
        while len(self._hits) >= self._max_keys:
            del self._hits[next(iter(self._hits))]

    def __len__(self) -> int:
        return len(self._hits)
