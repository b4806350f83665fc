"""Routing decision time as the floor grows: 50 agents against 5,000, 1,000 tasks waiting.

Two decisions, each timed on its own call into the router (perf_counter_ns):

* agent ready: an agent comes back from wrap-up while 1,000 tasks wait in its queues,
  and the router picks the task to offer it;
* task arrives: a new call reaches a queue with ready agents, and the router picks the
  agent (longest idle), while 1,000 other tasks wait in queues whose agents are busy.

Ten queues, each agent skilled for two or three of them, one task in ten also needing
a language skill. After each timed decision the state is put back (offer withdrawn,
the agent parked), so every sample sees the same floor. In the same run, a naive
router that scans every agent or every task shows what the indexes save.

    .venv/bin/python bench/routing.py [--samples 3000]

Not a test: prints numbers, never fails on a timing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.routing.model import AgentProfile, Offer, QueueSpec, Task
from callcenter.routing.router import Router

QUEUES = [f"q{n}" for n in range(10)]
BUSY_QUEUES = QUEUES[:5]  # where the 1,000 tasks wait: every agent of these is busy
WAITING = 1000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def build(agents: int, seed: int = 7) -> tuple[Router, list[int], list[int]]:
    """A floor: half the agents serve busy queues (none ready), half the others."""
    rng = random.Random(seed)
    router = Router([QueueSpec(name=q, skills={q: 1}) for q in QUEUES])
    busy_side, free_side = [], []
    for agent_id in range(1, agents + 1):
        side = BUSY_QUEUES if agent_id % 2 else QUEUES[5:]
        skills = {q: rng.randint(1, 5) for q in rng.sample(side, rng.choice((2, 3)))}
        if rng.random() < 0.3:
            skills["zh"] = 3
        router.login(AgentProfile(id=agent_id, skills=skills), 0.0)
        (busy_side if agent_id % 2 else free_side).append(agent_id)
    at = 1.0  # the busy side's agents are logged in but on calls or in wrap-up
    for n in range(WAITING):
        extra = {"zh": 2} if n % 10 == 0 else {}
        router.enqueue(Task(f"w{n}", rng.choice(BUSY_QUEUES), skills=extra), at)
        at += 0.001
    for agent_id in free_side:
        router.set_ready(agent_id, at)
        at += 0.001
    return router, busy_side, free_side


def time_agent_ready(router: Router, busy: list[int], samples: int) -> list[float]:
    rng, spent, at = random.Random(1), [], 10_000.0
    for n in range(samples):
        agent_id = rng.choice(busy)
        started = time.perf_counter_ns()
        decisions = router.set_ready(agent_id, at)
        spent.append((time.perf_counter_ns() - started) / 1000)
        router.set_not_ready(agent_id)
        for decision in decisions:  # put the floor back: the task waits again
            if isinstance(decision, Offer):
                task = decision.task
                router.cancel(task.id, at)
                router.enqueue(Task(f"r{n}-{task.id}", task.queue, skills=task.skills), at)
        at += 0.01
    return spent


def time_task_arrives(router: Router, samples: int) -> list[float]:
    rng, spent, at = random.Random(2), [], 20_000.0
    for n in range(samples):
        task = Task(f"new{n}", rng.choice(QUEUES[5:]))
        started = time.perf_counter_ns()
        decision = router.enqueue(task, at)
        spent.append((time.perf_counter_ns() - started) / 1000)
        router.cancel(task.id, at)  # the agent is ready again, as it was
        assert isinstance(decision, Offer)
        at += 0.01
    return spent


def naive_agent_ready(agents: int, samples: int) -> list[float]:
    """Scan all waiting tasks for the agent's best one: what indexes replace."""
    rng = random.Random(3)
    waiting = [(rng.choice(BUSY_QUEUES), n, n % 10 == 0) for n in range(WAITING)]
    pool = [{q: 1 for q in rng.sample(BUSY_QUEUES, 2)} | {"zh": 3} for _ in range(agents)]
    spent = []
    for _ in range(samples):
        skills = rng.choice(pool)
        started = time.perf_counter_ns()
        min((t for t in waiting if t[0] in skills and (not t[2] or "zh" in skills)),
            key=lambda t: t[1], default=None)  # fmt: skip
        spent.append((time.perf_counter_ns() - started) / 1000)
    return spent


def naive_task_arrives(agents: int, samples: int) -> list[float]:
    """Scan all agents for the longest idle qualified one."""
    rng = random.Random(4)
    floor = [(rng.random(), set(rng.sample(QUEUES, 3))) for _ in range(agents)]
    spent = []
    for _ in range(samples):
        queue = rng.choice(QUEUES)
        started = time.perf_counter_ns()
        min((a for a in floor if queue in a[1]), key=lambda a: a[0], default=None)
        spent.append((time.perf_counter_ns() - started) / 1000)
    return spent


def report(label: str, runs: dict[int, list[float]]) -> None:
    small, large = runs[min(runs)], runs[max(runs)]
    for agents, values in runs.items():
        p50, p99 = percentile(values, 50), percentile(values, 99)
        mean = statistics.fmean(values)
        print(f"  {label:<24} {agents:>5} agents: p50 {p50:8.1f} us  p99 {p99:8.1f} us  "
              f"(mean {mean:.1f})")  # fmt: skip
    ratio = percentile(large, 99) / percentile(small, 99)
    print(f"  {label:<24} p99 {max(runs)} / {min(runs)} agents: {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3000)
    args = parser.parse_args()
    sizes = (50, 5000)
    ready: dict[int, list[float]] = {}
    arrive: dict[int, list[float]] = {}
    for agents in sizes:
        started = time.perf_counter()
        router, busy, _ = build(agents)
        print(f"{agents} agents, {router_waiting(router)} tasks waiting "
              f"(built in {time.perf_counter() - started:.2f} s)")  # fmt: skip
        time_agent_ready(router, busy, 200)  # warm-up
        ready[agents] = time_agent_ready(router, busy, args.samples)
        arrive[agents] = time_task_arrives(router, args.samples)
    print("\nRouter (indexed)")
    report("agent ready -> task", ready)
    report("task arrives -> agent", arrive)
    both = {n: ready[n] + arrive[n] for n in sizes}
    report("any decision", both)
    print("\nNaive scan, same sizes (the baseline the indexes beat)")
    report("agent ready -> task", {n: naive_agent_ready(n, args.samples) for n in sizes})
    report("task arrives -> agent", {n: naive_task_arrives(n, args.samples) for n in sizes})


def router_waiting(router: Router) -> int:
    return sum(router.waiting(q) for q in router.queue_names)


if __name__ == "__main__":
    main()
