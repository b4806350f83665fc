"""The in-memory sliding-window limiter, driven by a FixedClock."""

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.auth.ratelimit import SlidingWindowLimiter
from callcenter.clock import FixedClock


@pytest.fixture
def clock():
    return FixedClock(datetime(2026, 1, 1, tzinfo=UTC))


async def test_limit_reached_then_window_slides(clock):
    lim = SlidingWindowLimiter(3, timedelta(minutes=1), clock)
    for _ in range(2):
        await lim.hit("k")
        clock.advance(timedelta(seconds=10))
    assert await lim.retry_after("k") is None
    await lim.hit("k")  # hits at t=0, 10, 20
    assert await lim.retry_after("k") == 40  # first hit leaves the window at t=60
    clock.advance(timedelta(seconds=39))
    assert await lim.retry_after("k") == 1
    clock.advance(timedelta(seconds=1))
    assert await lim.retry_after("k") is None  # only two hits left in the window


async def test_keys_are_independent_and_reset(clock):
    lim = SlidingWindowLimiter(1, timedelta(minutes=1), clock)
    await lim.hit("a")
    assert await lim.retry_after("a") is not None
    assert await lim.retry_after("b") is None
    await lim.reset("a")
    assert await lim.retry_after("a") is None


async def test_stale_keys_are_swept_so_memory_stays_bounded(clock):
    lim = SlidingWindowLimiter(2, timedelta(minutes=1), clock, max_keys=100)
    for i in range(100):
        await lim.hit(f"old{i}")
    clock.advance(timedelta(minutes=2))
    await lim.hit("new")
    assert len(lim) == 1
    for i in range(500):
        await lim.hit(f"flood{i}")
    assert len(lim) <= 100


def test_limit_must_be_positive(clock):
    with pytest.raises(ValueError):
        SlidingWindowLimiter(0, timedelta(minutes=1), clock)
