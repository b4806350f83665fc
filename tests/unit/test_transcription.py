"""Pure parts of live transcription: the byte order of slin RTP, the lazily started pool."""

from __future__ import annotations

import asyncio
import sys
from array import array
from collections.abc import Callable
from typing import Any

import pytest

from callcenter.calls.transcription import LazyPool, slin_to_s16le
from callcenter.speech.engine import Utterance


def test_big_endian_samples_become_little_endian():
    samples = array("h", [0, 1, -2, 1000, -32768, 32767])
    big = array("h", samples)
    if sys.byteorder == "little":
        big.byteswap()
    little = slin_to_s16le(big.tobytes())
    assert array("h", little).tolist() == samples.tolist()
    assert slin_to_s16le(b"\x01\x02\x03") == b"\x02\x01"  # a stray odd byte is dropped


class CountingPool:
    """Only the lifecycle a LazyPool drives (a fake for its pure logic)."""

    starts = 0

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.stopped = False

    async def start(self) -> None:
        CountingPool.starts += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise RuntimeError("no model")

    async def stop(self) -> None:
        self.stopped = True

    def open(self, on_utterance: Callable[[Utterance], None]) -> Any:
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        return {"workers": 1}


async def test_the_pool_starts_once_for_concurrent_first_callers_and_stops():
    CountingPool.starts = 0
    made: list[CountingPool] = []

    def factory() -> CountingPool:
        made.append(CountingPool())
        return made[-1]

    lazy = LazyPool(factory)
    assert lazy.stats() == {"started": False}
    first, second = await asyncio.gather(lazy.get(), lazy.get())
    assert first is second and CountingPool.starts == 1 and len(made) == 1
    assert lazy.stats() == {"started": True, "workers": 1}
    await lazy.stop()
    assert made[0].stopped and lazy.stats() == {"started": False}
    with pytest.raises(RuntimeError, match="stopped"):
        await lazy.get()


async def test_a_pool_that_failed_to_start_is_tried_again():
    attempts = iter([True, False])
    lazy = LazyPool(lambda: CountingPool(fail=next(attempts)))
    with pytest.raises(RuntimeError, match="no model"):
        await lazy.get()
    assert not lazy.started
    await lazy.get()
    assert lazy.started
    await lazy.stop()
