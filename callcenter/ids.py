"""Unique ids for things the controller makes many of per second (events, playbacks).

uuid4 and `secrets` read the kernel's random source on every call, which showed up in
the IVR's CPU profile; a random per-process prefix and a counter are as unique here.
"""

from __future__ import annotations

import itertools
import os

_PREFIX = os.urandom(8).hex()
_COUNTER = itertools.count(1)


def unique_id() -> str:
    """A 16-hex-digit process prefix and a counter: unique across processes and restarts."""
    return f"{_PREFIX}{next(_COUNTER):x}"
