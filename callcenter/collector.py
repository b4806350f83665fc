"""When the server's garbage collector may stop the world, and how much it walks.

A full collection walks every tracked object. Start-up's (the app, models, jieba's
dictionary) are frozen once (`gc.freeze()`), but a busy server makes its own long-lived
objects later: 2,000 chat visitors' connections and conversations. Walked by every full
collection, they stalled every websocket for 200-250 ms every few seconds at 500
messages/s (bench/chat.py); with the collector off the p99 was 37 ms.

So the server freezes again at a steady pace: what survived until now (connections,
caches) leaves the collector's walks, and the next collections only look at what is new.
Freezing also parks the cyclic garbage of the moment with the survivors (objects without
cycles are freed by reference counting as always), so at a longer pace everything is
unfrozen and collected once, in one pause, and frozen again: the parked garbage is
bounded by what one such period makes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger(__name__)


class CollectorPolicy:
    """Run by the server process only (a test process builds many apps: freezing would
    keep every one of them alive)."""

    def __init__(self, freeze_every: float = 10.0, collect_every: float = 600.0) -> None:
        self.freeze_every = freeze_every
        self.collect_every = collect_every
        self.full_collections = 0
        self.last_pause = 0.0  # seconds, of the last scheduled full collection

    def start_up(self) -> None:
        """What start-up made, out of the way for good."""
        gc.collect()
        gc.freeze()

    def freeze(self) -> None:
        gc.freeze()

    def collect(self) -> None:
        started = time.perf_counter()
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.last_pause = time.perf_counter() - started
        self.full_collections += 1
        log.info("garbage collector: full collection in %.0f ms, %d objects kept frozen",
                 self.last_pause * 1000, gc.get_freeze_count())  # fmt: skip

    async def run(self) -> None:
        """Freeze every `freeze_every` s, collect everything every `collect_every` s."""
        since_collect = 0.0
        while True:
            await asyncio.sleep(self.freeze_every)
            since_collect += self.freeze_every
            if since_collect >= self.collect_every:
                since_collect = 0.0
                self.collect()
            else:
                self.freeze()
