"""Waiting in tests for something that happens soon, not at once (an event, a state)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(check: Callable[[], bool], within: float = 3.0, step: float = 0.05) -> None:
    """Return once `check()` holds; fail the test if it still does not after `within` s."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not true within {within} s"
        await asyncio.sleep(step)
