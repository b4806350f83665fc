"""The server's garbage-collector policy: freezing parks survivors (and the cyclic
garbage of the moment) out of the collector's walks; the periodic full collection frees
that garbage and freezes the survivors again."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from callcenter.collector import CollectorPolicy


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture
def thawed() -> Iterator[None]:
    """This test process's collector is left as it was found: nothing frozen."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_frozen_garbage_waits_for_the_full_collection(thawed) -> None:
    policy = CollectorPolicy()
    kept, garbage = Node(), Node()
    dead = weakref.ref(garbage)
    policy.freeze()
    assert gc.get_freeze_count() > 0
    del garbage
    gc.collect()
    assert dead() is not None  # parked with the survivors: no walk reaches it
    policy.collect()
    assert dead() is None and policy.full_collections == 1
    assert gc.get_freeze_count() > 0 and kept.me is kept  # the survivors frozen again


async def test_the_pace_freezes_often_and_collects_seldom(thawed) -> None:
    policy = CollectorPolicy(freeze_every=0.01, collect_every=0.05)
    running = asyncio.create_task(policy.run())
    try:
        await asyncio.sleep(0.2)
    finally:
        running.cancel()
    assert 1 <= policy.full_collections <= 4  # one in five rounds, whatever the load
    assert gc.get_freeze_count() > 0
