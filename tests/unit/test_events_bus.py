"""The event bus contract, run against the in-process bus and the Redis bus alike.

The Redis-only tests use a real redis-server (tests/support/servers.py), because what
they check is exactly what a fake would get wrong: stream ids, blocking reads and
reconnecting after the server goes away.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from callcenter.events import Event, EventBus, Subscription
from callcenter.events.redis import EventBusUnavailable, RedisBus, State
from tests.support.servers import RedisServer, free_port

TIMEOUT = 5.0


async def receive(sub: Subscription, n: int) -> list[Event]:
    return [await asyncio.wait_for(sub.get(), TIMEOUT) for _ in range(n)]


async def wait_for_state(bus: RedisBus, state: State) -> None:
    await asyncio.wait_for(bus.wait_for_state(state), TIMEOUT)


# --------------------------------------------------------------------------- both buses


async def test_publish_reaches_every_subscriber(bus: EventBus) -> None:
    a, b = bus.subscribe(), bus.subscribe()
    event = Event("call.answered", {"call_id": "c1", "agent": "alice"})
    await bus.publish(event)
    (got_a,) = await receive(a, 1)
    (got_b,) = await receive(b, 1)
    assert got_a == event
    assert got_b == event
    a.close()
    b.close()


async def test_prefix_filters(bus: EventBus) -> None:
    calls = bus.subscribe("call.")
    agents_and_queues = bus.subscribe("agent.", "queue.")
    everything = bus.subscribe()
    types = ["agent.ready", "call.ringing", "queue.joined", "chat.message", "call.ended"]
    for t in types:
        await bus.publish(Event(t, {}))
    assert [e.type for e in await receive(everything, 5)] == types
    assert [e.type for e in await receive(calls, 2)] == ["call.ringing", "call.ended"]
    assert [e.type for e in await receive(agents_and_queues, 2)] == ["agent.ready", "queue.joined"]
    # Nothing else is waiting: the filter dropped the rest instead of queueing them.
    await asyncio.sleep(0.05)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(calls.get(), 0.05)


async def test_order_is_kept(bus: EventBus) -> None:
    sub = bus.subscribe("seq.")
    for i in range(300):
        await bus.publish(Event("seq.n", {"i": i}))
    got = await receive(sub, 300)
    assert [e.data["i"] for e in got] == list(range(300))


async def test_slow_subscriber_drops_oldest_and_counts(bus: EventBus) -> None:
    slow = bus.subscribe(maxsize=3)
    fast = bus.subscribe(maxsize=100)
    for i in range(10):
        await bus.publish(Event("tick", {"i": i}))
    # The fast one having everything means the bus has delivered all ten.
    await receive(fast, 10)
    assert slow.dropped == 7
    assert fast.dropped == 0
    assert [e.data["i"] for e in await receive(slow, 3)] == [7, 8, 9]


async def test_closed_subscription_gets_nothing(bus: EventBus) -> None:
    closed, open_ = bus.subscribe(), bus.subscribe()
    closed.close()
    await bus.publish(Event("x.y", {}))
    await receive(open_, 1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(closed.get(), 0.05)


async def test_ping_and_idempotent_stop(bus: EventBus) -> None:
    assert await bus.ping()
    await bus.stop()
    await bus.stop()  # the fixture stops it a third time


# --------------------------------------------------------------------------- Redis only


@pytest.mark.redis
async def test_every_redis_bus_gets_every_event(redis_url: str) -> None:
    stream = f"test:{uuid.uuid4().hex}"
    buses = [RedisBus(redis_url, stream=stream, block_ms=500) for _ in range(3)]
    for b in buses:
        await b.start()
    try:
        subs = [b.subscribe("call.") for b in buses]
        # Each process publishes; every process sees all, in the same order.
        for i, b in enumerate(buses):
            await b.publish(Event("call.created", {"from": i}))
        orders = [[e.data["from"] for e in await receive(s, 3)] for s in subs]
        assert orders[0] == orders[1] == orders[2]
        assert sorted(orders[0]) == [0, 1, 2]
    finally:
        for b in buses:
            await b.stop()


@pytest.mark.redis
async def test_start_skips_history(redis_url: str) -> None:
    stream = f"test:{uuid.uuid4().hex}"
    early = RedisBus(redis_url, stream=stream)
    await early.start()
    await early.publish(Event("old.event", {}))
    late = RedisBus(redis_url, stream=stream, block_ms=500)
    await late.start()
    try:
        sub = late.subscribe()
        await early.publish(Event("new.event", {}))
        assert [e.type for e in await receive(sub, 1)] == ["new.event"]
    finally:
        await early.stop()
        await late.stop()


@pytest.mark.redis
async def test_redis_restart_reconnects(own_redis_server: RedisServer) -> None:
    stream = "test:restart"
    bus = RedisBus(
        own_redis_server.url, stream=stream, block_ms=300, backoff_initial=0.05, backoff_max=0.2
    )
    await bus.start()
    try:
        sub = bus.subscribe()
        await bus.publish(Event("before.restart", {}))
        assert [e.type for e in await receive(sub, 1)] == ["before.restart"]

        own_redis_server.kill()
        await wait_for_state(bus, "reconnecting")
        assert not await bus.ping()
        own_redis_server.start()  # same port, empty (no persistence)
        await wait_for_state(bus, "running")
        assert await bus.ping()

        await bus.publish(Event("after.restart", {}))
        assert [e.type for e in await receive(sub, 1)] == ["after.restart"]
        assert bus.reconnects >= 1
    finally:
        await bus.stop()


@pytest.mark.redis
async def test_events_published_while_a_reader_is_away_are_not_lost(
    own_redis_server: RedisServer,
) -> None:
    """A connection blip on one process: it resumes from its last id and misses nothing."""
    stream = "test:blip"
    reader = RedisBus(own_redis_server.url, stream=stream, block_ms=300, backoff_initial=0.5)
    writer = RedisBus(own_redis_server.url, stream=stream, block_ms=300)
    await reader.start()
    await writer.start()
    try:
        sub = reader.subscribe()
        await writer.publish(Event("n", {"i": 0}))
        await receive(sub, 1)
        # Drop every client connection, then publish at once: the reader's XREAD fails
        # and is re-issued from its last id, so whatever it missed meanwhile comes back.
        import redis.asyncio as aioredis

        admin = aioredis.Redis.from_url(own_redis_server.url)
        killed = await admin.client_kill_filter(_type="normal", skipme=True)
        await admin.aclose()
        assert killed >= 2
        for i in range(1, 21):
            await writer.publish(Event("n", {"i": i}))
        assert [e.data["i"] for e in await receive(sub, 20)] == list(range(1, 21))
    finally:
        await reader.stop()
        await writer.stop()


@pytest.mark.redis
async def test_unreachable_redis_is_a_clear_error() -> None:
    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(EventBusUnavailable, match="CALLCENTER_REDIS_URL"):
        await bus.start()
    await bus.stop()


@pytest.mark.redis
async def test_malformed_entries_are_skipped(redis_url: str) -> None:
    stream = f"test:{uuid.uuid4().hex}"
    bus = RedisBus(redis_url, stream=stream, block_ms=300)
    await bus.start()
    try:
        sub = bus.subscribe()
        import redis.asyncio as aioredis

        raw = aioredis.Redis.from_url(redis_url)
        await raw.xadd(stream, {"something": "else"})
        await raw.xadd(stream, {"event": "not json"})
        await raw.aclose()
        await bus.publish(Event("ok", {}))
        assert [e.type for e in await receive(sub, 1)] == ["ok"]
    finally:
        await bus.stop()


@pytest.mark.redis
async def test_stream_is_trimmed(redis_url: str) -> None:
    stream = f"test:{uuid.uuid4().hex}"
    bus = RedisBus(redis_url, stream=stream, maxlen=100)
    await bus.start()
    try:
        for i in range(1000):
            await bus.publish(Event("n", {"i": i}))
        import redis.asyncio as aioredis

        raw = aioredis.Redis.from_url(redis_url)
        length = await raw.xlen(stream)
        await raw.aclose()
        # Approximate trimming keeps whole radix-tree nodes: a bit more than maxlen.
        assert 100 <= length < 1000
    finally:
        await bus.stop()
