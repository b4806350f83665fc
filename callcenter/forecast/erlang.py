"""Erlang C: how many agents a stream of calls needs to meet a service-level objective.

The model (A. K. Erlang, 1917) is the M/M/N queue: calls arrive at random (Poisson) at a
steady rate, handle times are exponential with mean AHT, N agents serve one queue and
callers wait as long as it takes (nobody abandons). Traffic `A` in Erlangs is the
arrival rate times the AHT: the number of agents that would be busy on average.

* the probability that a caller waits at all, `C(N, A)` (Erlang C);
* the service level, `P(wait <= t) = 1 - C(N, A) * exp(-(N - A) * t / AHT)`;
* the average speed of answer, `ASA = C(N, A) * AHT / (N - A)`.

`C` is computed from Erlang B with the recursion `B(0) = 1`,
`B(k) = A·B(k-1) / (k + A·B(k-1))`, then `C = N·B / (N - A·(1 - B))`: no factorial and
no power of A, so it stays exact to float precision for thousands of agents where the
textbook formula overflows. With `N <= A` the queue grows without end: every caller
waits (C = 1) and the service level is 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability of `agents` servers offered `traffic` Erlangs (no queue)."""
    _check(agents, traffic)
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return blocking


def _erlang_b_steps(traffic: float) -> Iterator[tuple[int, float]]:
    """(k, B(k, traffic)) for k = 0, 1, 2, …: the search for the team size walks up
    the recursion once instead of starting it again for every size it tries."""
    k, blocking = 0, 1.0
    while True:
        yield k, blocking
        k += 1
        blocking = traffic * blocking / (k + traffic * blocking)


def _erlang_c_from_b(agents: int, traffic: float, blocking: float) -> float:
    if agents <= traffic:
        return 1.0
    return agents * blocking / (agents - traffic * (1.0 - blocking))


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a caller waits at all (1.0 when agents <= traffic)."""
    if traffic == 0:
        _check(agents, traffic)
        return 0.0
    return _erlang_c_from_b(agents, traffic, erlang_b(agents, traffic))


def service_level(agents: int, traffic: float, aht: float, threshold: float) -> float:
    """Share of callers answered within `threshold` seconds."""
    _check_aht(aht)
    return _service_level(agents, traffic, aht, threshold, erlang_c(agents, traffic))


def _service_level(
    agents: int, traffic: float, aht: float, threshold: float, waits: float
) -> float:
    if traffic == 0:
        return 1.0  # nobody calls, nobody waits
    if agents <= traffic:
        return 0.0
    return max(0.0, 1.0 - waits * math.exp(-(agents - traffic) * threshold / aht))


def asa(agents: int, traffic: float, aht: float) -> float:
    """Average speed of answer in seconds (inf when agents <= traffic)."""
    _check_aht(aht)
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return erlang_c(agents, traffic) * aht / (agents - traffic)


@dataclass(frozen=True)
class Staffing:
    """The smallest team that meets the objective, and how it does at that size."""

    agents: int  # on the phones at once
    scheduled: int  # agents ÷ (1 - shrinkage), rounded up: breaks, training, absence
    traffic: float  # Erlangs
    service_level: float
    asa: float  # seconds
    occupancy: float  # traffic / agents: the share of their time on calls
    limited_by: str  # "service_level", "occupancy" or "none" (no traffic)


def agents_needed(
    traffic: float,
    aht: float,
    threshold: float,
    target: float,
    *,
    max_occupancy: float | None = None,
    shrinkage: float = 0.0,
) -> Staffing:
    """The fewest agents with service level >= `target` (a fraction, e.g. 0.8 for 80 %).

    `max_occupancy` (e.g. 0.85) adds agents until traffic / agents is at most that: on
    big queues Erlang C alone reaches 80/20 with agents busy 95 % of the time, which
    nobody sustains for a shift, and the formula's promise falls apart as soon as they
    slow down. `shrinkage` (0 <= s < 1) is the share of paid time not on the phones;
    `scheduled` is what to plan for it. No traffic needs no agents.
    """
    _check(0, traffic)
    _check_aht(aht)
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target must be a fraction in [0, 1], got {target}")
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0 seconds, got {threshold}")
    if max_occupancy is not None and not 0.0 < max_occupancy <= 1.0:
        raise ValueError(f"max_occupancy must be in (0, 1], got {max_occupancy}")
    if not 0.0 <= shrinkage < 1.0:
        raise ValueError(f"shrinkage must be in [0, 1), got {shrinkage}")
    if traffic == 0:
        return Staffing(0, 0, 0.0, 1.0, 0.0, 0.0, "none")
    # The service level tends to 1 as agents are added, and in floats it reaches exactly
    # 1.0 soon after the probability of waiting underflows: any target <= 1 is met. The
    # bound is only a guard against a bug looping forever.
    bound = math.ceil(traffic) + 1000 + math.ceil(10 * math.sqrt(traffic))
    by_service: tuple[int, float, float] | None = None
    for k, blocking in _erlang_b_steps(traffic):
        if k > bound:
            raise ArithmeticError(f"no staffing found for {traffic} Erlangs below {bound}")
        if k <= traffic:
            continue
        waits = _erlang_c_from_b(k, traffic, blocking)
        level = _service_level(k, traffic, aht, threshold, waits)
        if by_service is None and level >= target:
            by_service = (k, level, waits)
        if by_service is not None and (max_occupancy is None or traffic / k <= max_occupancy):
            limited_by = "service_level" if k == by_service[0] else "occupancy"
            scheduled = math.ceil(k / (1.0 - shrinkage) - 1e-9)
            return Staffing(
                agents=k,
                scheduled=scheduled,
                traffic=traffic,
                service_level=level,
                asa=waits * aht / (k - traffic),
                occupancy=traffic / k,
                limited_by=limited_by,
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _check(agents: int, traffic: float) -> None:
    if agents < 0:
        raise ValueError(f"agents must be >= 0, got {agents}")
    if not traffic >= 0 or math.isinf(traffic):
        raise ValueError(f"traffic must be a finite number >= 0 Erlangs, got {traffic}")


def _check_aht(aht: float) -> None:
    if not aht > 0 or math.isinf(aht):
        raise ValueError(f"AHT must be a finite number of seconds > 0, got {aht}")
