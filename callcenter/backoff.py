"""Capped exponential backoff with jitter, shared by the ARI and AMI clients.

Why jitter: after an Asterisk restart every client of every controller reconnects at
once; spreading the retries avoids a thundering herd on the HTTP/AMI listeners.
Why a floor: `delay * (1 - jitter * random())` with jitter in [0, 1) is always
strictly positive, so a reconnect loop that waits on this can never busy-spin.

One `Backoff` instance holds retry state: give each client its own instance (or
`clone()` one that only carries the timings).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays `initial, initial*factor, ...` capped at `max`, each shrunk by up to `jitter`.

    `rand` returns floats in [0, 1); inject a constant in tests for exact delays.
    """

    initial: float = 0.5
    factor: float = 2.0
    max: float = 30.0
    jitter: float = 0.2
    rand: Callable[[], float] = field(default=random.random, repr=False)
    attempts: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.initial <= 0:
            raise ValueError("initial must be > 0 (a zero delay would busy-spin)")
        if self.factor < 1:
            raise ValueError("factor must be >= 1")
        if self.max < self.initial:
            raise ValueError("max must be >= initial")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be within [0, 1): 1 could yield a zero delay")

    def peek(self) -> float:
        """The un-jittered delay the next `next_delay()` is based on."""
        # min() before the power would overflow for large attempt counts.
        exponent = min(self.attempts, 1000)
        try:
            raw = self.initial * self.factor**exponent
        except OverflowError:
            raw = self.max
        return min(raw, self.max)

    def next_delay(self) -> float:
        """Return the delay before the next attempt and count that attempt."""
        base = self.peek()
        self.attempts += 1
        spread = min(max(self.rand(), 0.0), 1.0)
        return base * (1.0 - self.jitter * spread)

    def reset(self) -> None:
        """Forget past failures: call when a connection succeeded."""
        self.attempts = 0

    def clone(self) -> Backoff:
        """A fresh instance with the same timings and no retry history."""
        return Backoff(
            initial=self.initial,
            factor=self.factor,
            max=self.max,
            jitter=self.jitter,
            rand=self.rand,
        )
