"""The Redis event bus: one Redis stream shared by every controller process.

Why a stream and not pub/sub: pub/sub forgets whatever is published while a subscriber is
disconnected, so a Redis blip or a reconnect would silently lose call events. A stream
keeps the last ~100k entries with ordered ids; each bus remembers the last id it handed
out and, after reconnecting, asks for everything after it, so nothing is lost and
nothing is delivered twice.

Every process reads the whole stream (plain XREAD, no consumer group), because every
process has its own websockets and wallboards that must see every event. Within a
process a single reader task fans events out to local subscribers through the
in-memory bus, so slow-subscriber handling is the same for both buses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from callcenter.backoff import Backoff
from callcenter.events import Event
from callcenter.events.memory import InMemoryBus, QueueSubscription

log = logging.getLogger(__name__)

DEFAULT_STREAM = "callcenter:events"
DEFAULT_MAXLEN = 100_000

State = Literal["new", "starting", "running", "reconnecting", "stopped"]


def redacted(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class EventBusUnavailable(Exception):
    """Redis cannot be reached; the message names CALLCENTER_REDIS_URL and what to do."""


class RedisBus:
    """`EventBus` over a Redis stream: XADD to publish, one XREAD BLOCK reader per bus.

    `start()` fixes the read position at the stream's current end (what `$` means, but as a
    concrete id, so events published right after `start()` returns are never skipped).
    """

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        stream: str = DEFAULT_STREAM,
        maxlen: int = DEFAULT_MAXLEN,
        block_ms: int = 5000,
        batch: int = 500,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        socket_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.stream = stream
        self.maxlen = maxlen
        self._block_ms = block_ms
        self._batch = batch
        self._backoff = Backoff(initial=backoff_initial, max=backoff_max)
        common: dict[str, Any] = {
            "socket_connect_timeout": 2.0,
            # Must exceed the XREAD block time, or every idle read would "time out".
            "socket_timeout": socket_timeout + block_ms / 1000,
            "health_check_interval": 30,
        }
        # Publishing retries briefly on a dropped connection (a Redis restart), then
        # raises: the caller decides, instead of the call path stalling for long.
        self._redis = aioredis.Redis.from_url(
            url,
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=2),
            retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError],
            **common,
        )
        # The reader has a client of its own without redis-py's retries: its loop does
        # the backing off, so its state says at once when the link is down.
        self._reader_redis = aioredis.Redis.from_url(
            url, retry=Retry(NoBackoff(), retries=0), **common
        )
        self._local = InMemoryBus()
        self._last_id = "0-0"
        self._state: State = "new"
        self._reader: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self._state_changed = asyncio.Event()
        self.reconnects = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def state(self) -> State:
        return self._state

    @property
    def last_id(self) -> str:
        """Id of the last stream entry handed to local subscribers (resume point)."""
        return self._last_id

    def _set_state(self, state: State) -> None:
        if state != self._state:
            log.info("redis bus %s: %s -> %s", self.stream, self._state, state)
            self._state = state
            self._state_changed.set()
            self._state_changed = asyncio.Event()

    async def wait_for_state(self, *states: State) -> None:
        """Return once the bus is in one of `states` (readiness checks, tests)."""
        while self._state not in states:
            await self._state_changed.wait()

    async def start(self) -> None:
        """Connect, fix the read position and start the reader; a second call waits."""
        if self._state != "new":
            await self._started.wait()
            return
        self._set_state("starting")
        try:
            self._last_id = await self._stream_end()
        except (RedisError, OSError) as exc:
            self._set_state("stopped")
            self._started.set()
            await self._redis.aclose()
            await self._reader_redis.aclose()
            raise EventBusUnavailable(
                f"cannot reach Redis at {redacted(self.url)} (CALLCENTER_REDIS_URL): {exc}. "
                "Start Redis or fix the URL; unset CALLCENTER_REDIS_URL to use the "
                "in-process bus."
            ) from exc
        self._reader = asyncio.create_task(self._read_loop(), name=f"redis-bus:{self.stream}")
        self._set_state("running")
        self._started.set()

    async def stop(self) -> None:
        """Stop reading, close local subscriptions and the connection pool. Idempotent."""
        if self._state == "stopped":
            return
        self._set_state("stopped")
        self._started.set()
        if self._reader is not None:
            # The reader is most likely parked in XREAD BLOCK; cancelling is the only way
            # out before the block time ends. Python 3.11's asyncio.wait_for (which
            # redis-py uses around socket writes) loses a cancel that lands just as the
            # write completes, so cancel again until the task is really gone.
            while not self._reader.done():
                self._reader.cancel()
                await asyncio.wait([self._reader], timeout=0.1)
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        await self._local.stop()
        await self._reader_redis.aclose()
        await self._redis.aclose()

    # ------------------------------------------------------------------ bus API

    async def publish(self, event: Event) -> None:
        """Append the event to the stream; local subscribers get it via the reader.

        Going through the stream even locally gives every process the same order.
        Trimming is approximate (`MAXLEN ~`) so Redis trims whole nodes, which is cheap.
        """
        try:
            await self._redis.xadd(
                self.stream,
                {"event": event.to_json()},
                maxlen=self.maxlen,
                approximate=True,
            )
        except (RedisError, OSError) as exc:
            raise EventBusUnavailable(
                f"cannot publish {event.type} to Redis at {redacted(self.url)}: {exc}"
            ) from exc

    def subscribe(
        self, *prefixes: str, maxsize: int = 1000, only: Callable[[Event], bool] | None = None
    ) -> QueueSubscription:
        return self._local.subscribe(*prefixes, maxsize=maxsize, only=only)

    async def ping(self) -> bool:
        # The reader's client: no retries, so a health check answers at once.
        try:
            return bool(await self._reader_redis.ping())
        except (RedisError, OSError):
            return False

    # ------------------------------------------------------------------ reader

    async def _stream_end(self) -> str:
        last = await self._redis.xrevrange(self.stream, count=1)
        if not last:
            return "0-0"
        entry_id = last[0][0]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def _read_loop(self) -> None:
        while self._state != "stopped":
            try:
                response = await self._reader_redis.xread(
                    {self.stream: self._last_id}, count=self._batch, block=self._block_ms
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Redis and socket errors are the expected outage; anything else is a
                # bug, logged with its traceback, but the reader must survive it too or
                # this process would silently stop seeing events.
                if self._state == "stopped":
                    return
                if not isinstance(exc, RedisError | OSError):
                    log.exception("redis bus %s: unexpected reader error", self.stream)
                delay = self._backoff.next_delay()
                # Warn once per outage; each retry after that is only debug noise.
                level = logging.WARNING if self._state == "running" else logging.DEBUG
                if self._state == "running":
                    self._set_state("reconnecting")
                log.log(
                    level,
                    "redis bus %s: read failed (%s); retrying in %.1fs from %s",
                    self.stream,
                    exc,
                    delay,
                    self._last_id,
                )
                await asyncio.sleep(delay)
                continue
            if self._state == "reconnecting":
                self.reconnects += 1
                self._set_state("running")
            self._backoff.reset()
            for entry_id, fields in _entries(response):
                self._dispatch(entry_id, fields)

    def _dispatch(self, entry_id: bytes | str, fields: dict[bytes, bytes]) -> None:
        self._last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        raw = fields.get(b"event")
        try:
            event = Event.from_json(raw) if raw is not None else None
        except (ValueError, KeyError, TypeError):
            event = None
        if event is None:
            # Someone else wrote to our stream; skip it rather than kill the reader.
            log.warning("redis bus %s: skipping malformed entry %s", self.stream, self._last_id)
            return
        self._local.deliver(event)


def _entries(response: Any) -> list[tuple[bytes | str, dict[bytes, bytes]]]:
    """The (id, fields) pairs of an XREAD reply on one stream.

    RESP2 replies are `[[stream, entries]]`; under RESP3 some redis-py versions give
    `{stream: entries}` instead, so accept both.
    """
    if not response:
        return []
    streams = response.values() if isinstance(response, dict) else (s for _, s in response)
    return [(entry_id, fields) for entries in streams for entry_id, fields in entries]
