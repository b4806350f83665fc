"""A subscription's `only` filter drops events at fan-out (chat events for other agents)."""

from __future__ import annotations

from callcenter.events import Event
from callcenter.events.memory import InMemoryBus


async def test_only_what_the_filter_accepts_is_queued():
    bus = InMemoryBus()
    mine = bus.subscribe("chat.", only=lambda e: 7 in e.data["agent_ids"])
    everything = bus.subscribe("chat.")
    for n, agents in enumerate(([1], [7], [2, 7], [3])):
        await bus.publish(Event("chat.message", {"seq": n, "agent_ids": agents}))
    got = [(await mine.get()).data["seq"] for _ in range(2)]
    assert got == [1, 2]
    assert mine._queue.empty()  # the others never reached the queue (nothing to wake)
    assert [(await everything.get()).data["seq"] for _ in range(4)] == [0, 1, 2, 3]
