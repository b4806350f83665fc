"""The ACD: which agent gets which task, decided in time that does not grow with the floor.

Everything is indexed so that a decision touches only what it needs:

* each queue keeps its ready agents sorted by the queue's strategy, so a new task's
  agent is the first one in that order that may take it;
* each queue keeps its waiting tasks sorted (VIP first where configured, then priority,
  then waiting time), split by the extra skills tasks require, so an agent that becomes
  ready looks at one head per (queue, skill set) it qualifies for, never at every task.

A decision with 5,000 agents and 1,000 waiting tasks costs about what it costs with 50
(bench/routing.py). The router is pure and in memory, with time passed in: the call and
chat services drive it and carry out its decisions (ring, bridge, announce, overflow).
Its public methods are the interface a shared (Redis) router for several controllers
would implement.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from sortedcontainers import SortedList

from callcenter.routing.model import (
    AgentProfile,
    Offer,
    Overflowed,
    Queued,
    QueueSpec,
    Strategy,
    Task,
)

Decision = Offer | Queued | Overflowed
TaskKey = tuple[int, int, float, int, str]  # (vip class, -priority, enqueued at, seq, id)
AgentKey = tuple[float, float, int]
SkillSet = frozenset[tuple[str, int]]
HANDLE_TIME_WEIGHT = 0.1  # of each new handle time in the queue's running average


class UnknownTask(KeyError):
    pass


class UnknownAgent(KeyError):
    pass


@dataclass
class _Agent:
    profile: AgentProfile
    logged_in_at: float
    pools: list[str] = field(default_factory=list)  # queues whose skills the agent has
    ready: bool = False  # present and willing (available); capacity is counted apart
    load: dict[str, int] = field(default_factory=dict)  # channel -> tasks offered or held
    idle_since: float = 0.0
    last_offer_at: float = 0.0
    busy_seconds: float = 0.0

    def has_room(self, channel: str) -> bool:
        """A call takes the whole agent; chats share it up to the chat capacity."""
        if not self.ready:
            return False
        if channel == "voice":
            return not any(self.load.values())
        if self.load.get("voice", 0):
            return False
        return self.load.get(channel, 0) < self.profile.capacity.get(channel, 0)


@dataclass
class _Queue:
    spec: QueueSpec
    subqueues: dict[SkillSet, SortedList] = field(default_factory=dict)
    keys: dict[str, tuple[SkillSet, TaskKey]] = field(default_factory=dict)  # waiting tasks
    ready: SortedList = field(default_factory=SortedList)  # AgentKeys
    ready_keys: dict[int, AgentKey] = field(default_factory=dict)
    staffed: set[int] = field(default_factory=set)  # logged-in agents of the pool
    handle_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.handle_seconds = self.spec.default_handle_seconds


class Router:
    """In-memory router: one per controller until the shared one exists."""

    def __init__(self, queues: Iterable[QueueSpec]) -> None:
        self._queues: dict[str, _Queue] = {q.name: _Queue(q) for q in queues}
        self._agents: dict[int, _Agent] = {}
        self._tasks: dict[str, Task] = {}  # every task the router holds, by id
        self._offers: dict[str, Offer] = {}  # ringing, by task id
        self._assigned: dict[str, int] = {}  # accepted: task id -> agent id
        self._deadlines: list[tuple[float, int, str]] = []  # max-wait heap
        self._sticky: dict[int, set[str]] = {}  # agent id -> waiting tasks last theirs
        self._seq = itertools.count()

    # ---- configuration -------------------------------------------------------------

    def queue(self, name: str) -> QueueSpec:
        return self._queues[name].spec

    @property
    def queue_names(self) -> list[str]:
        return list(self._queues)

    def holding(self, queue: str) -> int:
        """Tasks the queue holds now, waiting or ringing: it cannot be removed meanwhile."""
        return sum(1 for task in self._tasks.values() if task.queue == queue)

    def configure(self, queues: Iterable[QueueSpec], at: float) -> list[Decision]:
        """Take new queue settings while running: waiting tasks keep their places.

        Pools are rebuilt from the new skills and ready lists from the new strategies, and
        ready agents are offered whatever they can now take. A new max wait applies to
        tasks that enter the queue from now on.
        """
        specs = {spec.name: spec for spec in queues}
        held = [name for name in self._queues if name not in specs and self.holding(name)]
        if held:
            raise ValueError(f"queue {held[0]!r} still holds tasks")
        for name in [name for name in self._queues if name not in specs]:
            del self._queues[name]
        for name, spec in specs.items():
            queue = self._queues.setdefault(name, _Queue(spec))
            queue.spec = spec
            queue.ready.clear()
            queue.ready_keys.clear()
            queue.staffed.clear()
        decisions: list[Decision] = []
        for agent in self._agents.values():
            self._join_pools(agent)
            self._refresh(agent)
        for agent in list(self._agents.values()):
            decisions += self._fill(agent, at)
        return decisions

    # ---- agents --------------------------------------------------------------------

    def login(self, profile: AgentProfile, at: float) -> None:
        """The agent joins the floor, not ready yet; pools follow from its skills."""
        self.logout(profile.id)
        agent = _Agent(profile, logged_in_at=at, idle_since=at)
        self._join_pools(agent)
        self._agents[profile.id] = agent

    def logout(self, agent_id: int) -> list[Decision]:
        """Leave the floor; a task ringing on the agent goes to the next one."""
        agent = self._agents.get(agent_id)
        if agent is None:
            return []
        agent.ready = False
        self._refresh(agent)
        decisions: list[Decision] = []
        for offer in self.offers_to(agent_id):
            decisions += self._withdraw(offer, offer.at, declined=True)
        for name in agent.pools:
            self._queues[name].staffed.discard(agent_id)
        del self._agents[agent_id]
        return decisions

    def set_ready(self, agent_id: int, at: float) -> list[Decision]:
        """The agent is available: offer it the best waiting work it can take."""
        agent = self._agent(agent_id)
        if not agent.ready:
            agent.ready, agent.idle_since = True, at
        self._refresh(agent)
        return self._fill(agent, at)

    def set_not_ready(self, agent_id: int) -> None:
        """Break, wrap-up or busy elsewhere: no new offers (what it holds is untouched)."""
        agent = self._agent(agent_id)
        agent.ready = False
        self._refresh(agent)

    # ---- tasks ---------------------------------------------------------------------

    def enqueue(self, task: Task, at: float) -> Decision:
        """A task arrives: offered at once if an agent is ready, else queued or overflowed."""
        queue = self._queues[task.queue]
        spec = queue.spec
        if task.id in self._tasks:
            raise ValueError(f"task {task.id} is already routed")
        if task.enqueued_at <= 0:
            task.enqueued_at = at  # an overflowed task keeps the wait it already has
        task.entered_queue_at = at  # but each queue's max wait counts from its own start
        full = spec.max_length is not None and len(queue.keys) >= spec.max_length
        if full and spec.overflow is not None:
            return Overflowed(task, spec.name, spec.overflow, "full")
        self._tasks[task.id] = task
        agent = self._agent_for(queue, task)
        if agent is not None:
            return self._offer(agent, task, at)
        self._wait(queue, task)
        if spec.max_wait is not None and spec.overflow is not None:
            deadline = task.entered_queue_at + spec.max_wait
            heapq.heappush(self._deadlines, (deadline, next(self._seq), task.id))
        return Queued(task, self.position(task.id), self.estimated_wait(task.id))

    def cancel(self, task_id: str, at: float) -> list[Decision]:
        """The customer left (hung up, closed the chat): forget the task wherever it is."""
        task = self._tasks.pop(task_id, None)
        if task is None:
            return []
        if task_id in self._offers:
            offer = self._offers.pop(task_id)
            agent = self._agents.get(offer.agent_id)
            if agent is not None:
                self._release(agent, task.channel)
                return self._fill(agent, at)
            return []
        if task_id in self._assigned:
            self._assigned.pop(task_id)
            return []
        self._unwait(task)
        return []

    def accept(self, task_id: str, at: float) -> int:
        """The offered agent answered; returns its id. The task is now theirs."""
        offer = self._offers.pop(task_id, None)
        if offer is None:
            raise UnknownTask(task_id)
        self._assigned[task_id] = offer.agent_id
        return offer.agent_id

    def reject(self, task_id: str, at: float, *, missed: bool) -> list[Decision]:
        """Declined (`missed=False`) or rang out (`missed=True`): on to the next agent.

        A missed offer takes the agent off the queue when the queue says so (the
        desktop shows a "missed" break), so the next caller does not ring a desk
        nobody is at.
        """
        offer = self._offers.get(task_id)
        if offer is None:
            raise UnknownTask(task_id)
        decisions = self._withdraw(offer, at, declined=True)
        agent = self._agents.get(offer.agent_id)
        if agent is not None:
            if missed and self._queues[offer.queue].spec.missed_offer_break:
                agent.ready = False
                self._refresh(agent)
            else:
                decisions += self._fill(agent, at)
        return decisions

    def finish(self, task_id: str, at: float, handle_seconds: float) -> list[Decision]:
        """The agent is done with the task (hung up; wrap-up is the caller's to time)."""
        agent_id = self._assigned.pop(task_id, None)
        task = self._tasks.pop(task_id, None)
        if agent_id is None or task is None:
            raise UnknownTask(task_id)
        queue = self._queues[task.queue]
        queue.handle_seconds += HANDLE_TIME_WEIGHT * (handle_seconds - queue.handle_seconds)
        agent = self._agents.get(agent_id)
        if agent is None:
            return []
        agent.busy_seconds += handle_seconds
        self._release(agent, task.channel)
        if agent.ready:
            agent.idle_since = at
        return self._fill(agent, at)

    def expire(self, at: float) -> list[Overflowed]:
        """Tasks that waited past their queue's max wait leave it for its overflow."""
        overflowed: list[Overflowed] = []
        while self._deadlines and self._deadlines[0][0] <= at:
            _, _, task_id = heapq.heappop(self._deadlines)
            task = self._tasks.get(task_id)
            if task is None or task_id not in self._queues[task.queue].keys:
                continue  # answered, gone, or ringing (judged again if the offer fails)
            overflowed.append(self._overflow(task, "max_wait"))
        return overflowed

    # ---- what callers are told -----------------------------------------------------

    def has_task(self, task_id: str) -> bool:
        return task_id in self._tasks

    def position(self, task_id: str) -> int:
        """1 for the next task to be offered in its queue."""
        task = self._tasks.get(task_id)
        if task is None:
            raise UnknownTask(task_id)
        queue = self._queues[task.queue]
        if task_id not in queue.keys:
            return 0  # ringing or answered
        _, key = queue.keys[task_id]
        return 1 + sum(waiting.bisect_left(key) for waiting in queue.subqueues.values())

    def estimated_wait(self, task_id: str) -> float:
        """Seconds: position x average handle time / agents staffing the queue."""
        position = self.position(task_id)
        if position == 0:
            return 0.0
        queue = self._queues[self._tasks[task_id].queue]
        return position * queue.handle_seconds / max(1, len(queue.staffed))

    def waiting(self, queue: str) -> int:
        return len(self._queues[queue].keys)

    def staffed(self, queue: str) -> frozenset[int]:
        """The logged-in agents of the queue's pool, ready or not."""
        return frozenset(self._queues[queue].staffed)

    def ready_agents(self, queue: str) -> int:
        return len(self._queues[queue].ready)

    def offer_of(self, task_id: str) -> Offer | None:
        return self._offers.get(task_id)

    def agent_of(self, task_id: str) -> int:
        """The agent handling an accepted task."""
        agent_id = self._assigned.get(task_id)
        if agent_id is None:
            raise UnknownTask(task_id)
        return agent_id

    def task(self, task_id: str) -> Task:
        task = self._tasks.get(task_id)
        if task is None:
            raise UnknownTask(task_id)
        return task

    def free(self, agent_id: int, channel: str = "voice") -> bool:
        """Logged in, ready, and with room for a task of `channel` now."""
        agent = self._agents.get(agent_id)
        return agent is not None and agent.has_room(channel)

    def offers_to(self, agent_id: int) -> list[Offer]:
        return [offer for offer in self._offers.values() if offer.agent_id == agent_id]

    def knows(self, agent_id: int) -> bool:
        return agent_id in self._agents

    # ---- internals -----------------------------------------------------------------

    def _agent(self, agent_id: int) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(agent_id)
        return agent

    def _join_pools(self, agent: _Agent) -> None:
        profile = agent.profile
        agent.pools = [n for n, q in self._queues.items() if profile.qualifies(q.spec.skills)]
        for name in agent.pools:
            self._queues[name].staffed.add(profile.id)

    def _agent_key(self, queue: _Queue, agent: _Agent) -> AgentKey:
        match queue.spec.strategy:
            case Strategy.LONGEST_IDLE:
                return (agent.idle_since, 0.0, agent.profile.id)
            case Strategy.ROUND_ROBIN:
                return (agent.last_offer_at, 0.0, agent.profile.id)
            case Strategy.LEAST_BUSY:
                shift = max(agent.idle_since - agent.logged_in_at, 1.0)
                return (agent.busy_seconds / shift, agent.idle_since, agent.profile.id)
            case Strategy.SKILL_WEIGHTED:
                levels = sum(agent.profile.skills.get(s, 0) for s in queue.spec.skills)
                return (-float(levels), agent.idle_since, agent.profile.id)
        raise ValueError(queue.spec.strategy)

    def _refresh(self, agent: _Agent) -> None:
        """Re-file the agent in each pool's ready list under its current key and room."""
        agent_id = agent.profile.id
        for name in agent.pools:
            queue = self._queues[name]
            old = queue.ready_keys.pop(agent_id, None)
            if old is not None:
                queue.ready.remove(old)
            if agent.has_room(queue.spec.channel):
                key = self._agent_key(queue, agent)
                queue.ready.add(key)
                queue.ready_keys[agent_id] = key

    def _eligible(self, agent: _Agent, task: Task) -> bool:
        return agent.profile.id not in task.declined_by and agent.profile.qualifies(task.skills)

    def _agent_for(self, queue: _Queue, task: Task) -> _Agent | None:
        """The agent the queue's strategy puts first among those who may take the task.

        A task transferred to a named agent goes to them whatever the queue's pool and
        skills (a person chose them), as long as they are free and have not let it pass;
        after that, to the queue.
        """
        direct = self._direct(task)
        if direct is not None:
            return direct
        if queue.spec.sticky and task.last_agent_id in queue.ready_keys:
            agent = self._agents[task.last_agent_id]
            if self._eligible(agent, task):
                return agent
        for key in queue.ready:
            agent = self._agents[key[2]]
            if self._eligible(agent, task):
                return agent
        return None

    def _direct(self, task: Task) -> _Agent | None:
        agent = self._agents.get(task.direct_agent_id or 0)
        if agent is None or agent.profile.id in task.declined_by:
            return None
        return agent if agent.has_room(task.channel) else None

    def _task_for(self, agent: _Agent) -> Task | None:
        """The best waiting task among the heads of every subqueue the agent may serve."""
        best: tuple[TaskKey, Task] | None = None
        agent_id = agent.profile.id
        for task_id in self._sticky.get(agent_id, ()):
            task = self._tasks[task_id]
            queue = self._queues[task.queue]
            if queue.spec.sticky and agent_id in queue.ready_keys and self._eligible(agent, task):
                key = queue.keys[task_id][1]
                if best is None or key < best[0]:
                    best = (key, task)
        if best is not None:
            return best[1]
        for name in agent.pools:
            queue = self._queues[name]
            if agent_id not in queue.ready_keys:
                continue
            for skills, waiting in queue.subqueues.items():
                if not waiting or not all(agent.profile.skills.get(s, 0) >= v for s, v in skills):
                    continue
                for key in waiting:  # past the head only for tasks this agent declined
                    if best is not None and key >= best[0]:
                        break
                    task = self._tasks[key[4]]
                    if agent_id not in task.declined_by:
                        best = (key, task)
                        break
        return best[1] if best is not None else None

    def _fill(self, agent: _Agent, at: float) -> list[Decision]:
        """Offer a ready agent work until it has no room or nothing fits."""
        decisions: list[Decision] = []
        while agent.ready:
            task = self._task_for(agent)
            if task is None:
                break
            self._unwait(task)
            decisions.append(self._offer(agent, task, at))
        return decisions

    def _offer(self, agent: _Agent, task: Task, at: float) -> Offer:
        spec = self._queues[task.queue].spec
        agent.load[task.channel] = agent.load.get(task.channel, 0) + 1
        agent.last_offer_at = at
        self._refresh(agent)
        offer = Offer(task, agent.profile.id, task.queue, at, spec.ring_timeout)
        self._offers[task.id] = offer
        return offer

    def _release(self, agent: _Agent, channel: str) -> None:
        agent.load[channel] = max(0, agent.load.get(channel, 0) - 1)
        self._refresh(agent)

    def _withdraw(self, offer: Offer, at: float, *, declined: bool) -> list[Decision]:
        """Take an offer back from its agent and route the task again."""
        self._offers.pop(offer.task.id, None)
        task = offer.task
        agent = self._agents.get(offer.agent_id)
        if agent is not None:
            self._release(agent, task.channel)
        if declined:
            task.declined_by.add(offer.agent_id)
        spec = self._queues[task.queue].spec
        waited_out = spec.max_wait is not None and at - task.entered_queue_at >= spec.max_wait
        if waited_out and spec.overflow is not None:
            self._tasks.pop(task.id, None)
            return [Overflowed(task, spec.name, spec.overflow, "max_wait")]
        following = self._agent_for(self._queues[task.queue], task)
        if following is not None:
            return [self._offer(following, task, at)]
        self._wait(self._queues[task.queue], task)
        return [Queued(task, self.position(task.id), self.estimated_wait(task.id))]

    def _wait(self, queue: _Queue, task: Task) -> None:
        vip = 0 if task.vip and queue.spec.vip_first else 1
        key: TaskKey = (vip, -task.priority, task.enqueued_at, next(self._seq), task.id)
        skills: SkillSet = frozenset(task.skills.items())
        queue.subqueues.setdefault(skills, SortedList()).add(key)
        queue.keys[task.id] = (skills, key)
        if task.last_agent_id is not None:
            self._sticky.setdefault(task.last_agent_id, set()).add(task.id)

    def _unwait(self, task: Task) -> None:
        queue = self._queues[task.queue]
        entry = queue.keys.pop(task.id, None)
        if entry is None:
            return
        skills, key = entry
        queue.subqueues[skills].remove(key)
        if task.last_agent_id is not None:
            self._sticky.get(task.last_agent_id, set()).discard(task.id)

    def _overflow(self, task: Task, reason: str) -> Overflowed:
        spec = self._queues[task.queue].spec
        assert spec.overflow is not None
        self._unwait(task)
        self._tasks.pop(task.id, None)
        return Overflowed(task, spec.name, spec.overflow, reason)
