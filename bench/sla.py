"""SLA evaluation for 100k open tickets (target <= 1 s).

Synthetic open tickets on a Shanghai business-hours calendar (Mon-Fri 09:00-12:00 and
13:00-18:00, Saturday mornings, two holidays), created over the past 30 days, each with
2 to 6 events: some answered, some answered and written back to (a next-response
cycle), some pending then reopened, a few raised to urgent. Timed, each the median of 5
runs after a warm-up:

* `evaluate`: every ticket's history replayed at one `now` (what a scheduler does at
  start-up, and for one ticket whenever that ticket gets an event);
* `refresh`: every evaluated ticket judged again a minute later (a scheduler's tick);
* `due_events` over that minute, and `percent_met` over all.

    .venv/bin/python bench/sla.py [--tickets 100000]

Not a test: prints numbers, never fails on a timing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.tickets.calendars import calendar_from_dict
from callcenter.tickets.sla import (
    EventKind,
    SlaPolicy,
    Status,
    Targets,
    TicketEvent,
    due_events,
    evaluate,
    percent_met,
    refresh,
)

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 15, 15, 30, tzinfo=ZONE)
WEEKDAY = ["09:00-12:00", "13:00-18:00"]
CALENDAR = calendar_from_dict(
    {
        "timezone": "Asia/Shanghai",
        "hours": {
            **{d: WEEKDAY for d in ("mon", "tue", "wed", "thu", "fri")},
            "sat": ["09:00-12:00"],
        },
        "holidays": ["2026-05-01", "2026-06-19"],
    },
    "support-cn",
)
POLICY = SlaPolicy(
    "standard",
    "support-cn",
    default=Targets(first_response=4 * 60, next_response=8 * 60, resolution=5 * 8 * 60),
    targets={
        ("urgent", None): Targets(first_response=30, next_response=60, resolution=8 * 60),
        ("high", None): Targets(first_response=60, next_response=4 * 60, resolution=2 * 8 * 60),
    },
    on_breach=("notify:supervisor",),
)


def synthetic(count: int, seed: int = 7) -> list[list[TicketEvent]]:
    rng = random.Random(seed)
    span = 30 * 86400
    histories = []
    for _ in range(count):
        created = NOW - timedelta(seconds=rng.uniform(60, span))
        left = (NOW - created).total_seconds()

        def later(after: datetime, rng: random.Random = rng, left: float = left) -> datetime:
            return after + timedelta(seconds=rng.uniform(1, left / 6))

        prio = rng.choice(("low", "normal", "normal", "normal", "high", "urgent"))
        events = [TicketEvent(created, EventKind.CREATED, priority=prio, type="question")]
        shape = rng.random()
        at = created
        if shape > 0.25:  # answered
            at = later(at)
            events.append(TicketEvent(at, EventKind.AGENT_REPLY))
        if shape > 0.5:  # the customer wrote back: next response running
            at = later(at)
            events.append(TicketEvent(at, EventKind.CUSTOMER_REPLY))
        if shape > 0.7:  # answered again and pending, then the customer reopened it
            at = later(at)
            events.append(TicketEvent(at, EventKind.AGENT_REPLY))
            events.append(TicketEvent(at, EventKind.STATUS, status=Status.PENDING))
            if shape > 0.85:
                at = later(at)
                events.append(TicketEvent(at, EventKind.CUSTOMER_REPLY))
        if rng.random() < 0.05:
            events.append(TicketEvent(later(at), EventKind.PRIORITY, priority="urgent"))
        histories.append(events)
    return histories


CPU: list[str] = []


def timed(run, repeat: int = 5) -> tuple[float, object]:
    """Median wall time; the median CPU time of this process goes to CPU, since on a
    shared machine the wall clock also counts the waits for a core."""
    result = run()  # warm-up (and the calendar's year is built)
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    CPU.append(f"{statistics.median(cpu):.3f} s CPU")
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    args = parser.parse_args()
    histories = synthetic(args.tickets)
    events = sum(len(h) for h in histories)
    print(f"{args.tickets} open tickets, {events} events, calendar {CALENDAR.name}")

    def evaluate_all():
        return {f"T-{i}": evaluate(h, POLICY, CALENDAR, NOW) for i, h in enumerate(histories)}

    seconds, states = timed(evaluate_all)
    assert isinstance(states, dict)
    print(f"evaluate: {seconds:.3f} s ({seconds / args.tickets * 1e6:.1f} us/ticket), {CPU[-1]}")
    tick = NOW + timedelta(minutes=1)

    def refresh_all():
        return {key: refresh(sla, CALENDAR, tick) for key, sla in states.items()}

    seconds, ticked = timed(refresh_all)
    assert isinstance(ticked, dict)
    print(f"refresh: {seconds:.3f} s ({seconds / args.tickets * 1e6:.1f} us/ticket), {CPU[-1]}")
    seconds, due = timed(lambda: due_events(ticked, NOW, tick))
    assert isinstance(due, list)
    print(f"due_events (one minute): {seconds:.3f} s, {len(due)} events")
    seconds, met = timed(lambda: percent_met(ticked.values()))
    print(f"percent_met: {seconds:.3f} s, {met:.1f} % met")
    clocks = [s.status.value for sla in states.values() for s in sla.metrics]
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("clocks:", {k: clocks.count(k) for k in sorted(set(clocks))})


if __name__ == "__main__":
    main()
