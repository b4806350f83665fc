"""The floor right now, counted from domain events: what the wallboard shows.

Pure bookkeeping, no I/O: `apply(event)` folds one event in and says which tiles
changed, `snapshot()` reads them out. Today's counts start at midnight in the center's
time zone. The definitions are callcenter/metrics.py's (docs/metrics.md), the same the
reports use, so the wallboard and a report of today agree.

Events used: `queue.joined` / `queue.left` (routing's queue visits: waiting, answered,
abandoned, overflowed), `call.agent.connected` / `call.agent.ended` / `call.wrap_up` /
`call.transferred` (handle time), and `agent.state` (states and occupancy).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.agents.state import AgentState
from callcenter.events import Event
from callcenter.metrics import ServiceLevel, Tally, VisitOutcome, occupancy
from callcenter.routing.model import AgentProfile, QueueSpec

BUSY = frozenset({AgentState.OFFERED, AgentState.ON_CALL, AgentState.WRAP_UP})
TOTALS = "totals"
FLOOR_SL = ServiceLevel()  # the floor's own figure counts abandons, like the default


@dataclass
class QueueBoard:
    spec: QueueSpec
    waiting: dict[str, float] = field(default_factory=dict)  # task id -> since (epoch)
    today: Tally = field(default_factory=Tally)
    callbacks: int = 0  # visits overflowed to a callback offer today (none dialed yet)
    staffed: Counter[str] = field(default_factory=Counter)  # its agents by state


@dataclass
class AgentBoard:
    profile: AgentProfile
    state: AgentState = AgentState.OFFLINE
    reason: str = ""
    since: float = 0.0  # epoch
    today: Tally = field(default_factory=Tally)
    busy: float = 0.0  # seconds today in busy states, up to `since`
    available: float = 0.0
    logged_in: float = 0.0  # not offline
    queue: str | None = None  # the queue of the call they talk on
    hold_before: float = 0.0  # the call's hold time when they got it (transfers)
    serves: frozenset[str] = frozenset()  # the queues whose skills they have

    def add_time(self, start: float, end: float) -> None:
        seconds = max(0.0, end - start)
        if self.state in BUSY:
            self.busy += seconds
        elif self.state == AgentState.AVAILABLE:
            self.available += seconds
        if self.state != AgentState.OFFLINE:
            self.logged_in += seconds


class Floor:
    def __init__(self, zone: ZoneInfo, queues: Iterable[QueueSpec], now: float) -> None:
        self.zone = zone
        self.queues: dict[str, QueueBoard] = {}
        self.agents: dict[int, AgentBoard] = {}
        self._wrapped: set[int] = set()  # calls whose wrap-up time is counted today
        # Agents by state, per queue and for the floor, kept as states change: a push
        # never scans every agent for every queue.
        self._states: Counter[str] = Counter()
        self.configure(queues)
        self.day_start = self._day_start(now)

    # ---- configuration and the day ------------------------------------------------------

    def configure(self, queues: Iterable[QueueSpec]) -> None:
        """Queues as routing has them now; a removed queue's tile goes."""
        specs = {spec.name: spec for spec in queues}
        for name in list(self.queues):
            if name not in specs:
                del self.queues[name]
        for name, spec in specs.items():
            board = self.queues.setdefault(name, QueueBoard(spec))
            board.spec = spec
        for agent in self.agents.values():
            agent.serves = frozenset()  # counted again below, against the new skills
        for board in self.queues.values():
            board.staffed.clear()
        for agent in self.agents.values():
            self._serve(agent)

    def agent_known(self, profile: AgentProfile) -> None:
        """An agent's name, teams and skills (at start, and on every login)."""
        board = self.agents.get(profile.id)
        if board is None:
            board = self.agents[profile.id] = AgentBoard(profile)
            self._states[str(board.state)] += 1
        board.profile = profile
        self._serve(board)

    def _serve(self, agent: AgentBoard) -> set[str]:
        """Count the agent in the queues their skills meet now; the tiles that changed."""
        serves = frozenset(name for name, q in self.queues.items()
                           if agent.profile.qualifies(q.spec.skills))  # fmt: skip
        state = str(agent.state)
        for name in agent.serves - serves:
            if name in self.queues:
                self.queues[name].staffed[state] -= 1
        for name in serves - agent.serves:
            self.queues[name].staffed[state] += 1
        changed = agent.serves ^ serves
        agent.serves = serves
        return {f"queue:{name}" for name in changed}

    def seed(self, queues: dict[str, tuple[Tally, int]], agents: dict[int, Tally]) -> None:
        """Today so far, from the stored history (after a restart): tallies and callbacks
        per queue, tallies per agent. Events counted already are added on top."""
        for name, (tally, callbacks) in queues.items():
            if name in self.queues:
                board = self.queues[name]
                board.today, board.callbacks = tally + board.today, callbacks + board.callbacks
        for agent_id, tally in agents.items():
            if agent_id in self.agents:
                self.agents[agent_id].today = tally + self.agents[agent_id].today

    def roll(self, now: float) -> bool:
        """At midnight today's counts start again (waiting callers stay); True if so."""
        if now < self.day_start + 86400 and now >= self.day_start:
            return False
        new_start = self._day_start(now)
        for queue in self.queues.values():
            queue.today, queue.callbacks = Tally(), 0
        self._wrapped.clear()
        for agent in self.agents.values():
            agent.today = Tally()
            agent.busy = agent.available = agent.logged_in = 0.0  # `since` is clipped
        self.day_start = new_start
        return True

    def _day_start(self, now: float) -> float:
        day = datetime.fromtimestamp(now, self.zone).date()
        return datetime.combine(day, time(), self.zone).timestamp()

    def today(self) -> str:
        return datetime.fromtimestamp(self.day_start + 3600, self.zone).date().isoformat()

    # ---- events -------------------------------------------------------------------------

    def apply(self, event: Event) -> set[str]:
        """Fold one event in; the keys of the tiles it changed (`queue:NAME`, `agent:ID`,
        `totals`)."""
        handler = _HANDLERS.get(event.type)
        return handler(self, event) if handler is not None else set()

    def _joined(self, event: Event) -> set[str]:
        queue = self.queues.get(event.data["queue"])
        if queue is None:
            return set()
        queue.waiting[event.data["task_id"]] = event.ts
        return {f"queue:{queue.spec.name}", TOTALS}

    def _left(self, event: Event) -> set[str]:
        data = event.data
        queue = self.queues.get(data["queue"])
        if queue is None:
            return set()
        since = queue.waiting.pop(data["task_id"], None)
        entered_today = since is None or since >= self.day_start
        queue.today.count(VisitOutcome(data["outcome"]), float(data["waited"]),
                          queue.spec.service_level, entered=entered_today)  # fmt: skip
        if data.get("to") == "callback":
            queue.callbacks += 1
        return {f"queue:{queue.spec.name}", TOTALS}

    def _connected(self, event: Event) -> set[str]:
        agent = self.agents.get(_int(event.data["event"]["data"].get("agent_id")))
        if agent is None:
            return set()
        agent.queue = event.data["event"]["data"].get("queue")
        agent.hold_before = float(event.data["call"].get("hold_seconds") or 0.0)
        return set()

    def _talk_ended(self, event: Event) -> set[str]:
        """A conversation is handled once its talk is over; its wrap-up joins when the
        agent files the form (`_wrapped_up`), as in the reports."""
        call = event.data["call"]
        agent = self.agents.get(_int(call.get("agent_id")))
        # The queue it was answered from; a conversation adopted after a restart has no
        # `agent.connected` here, but its record knows the queue.
        queue_name = (agent.queue if agent else None) or call.get("queue")
        if agent is None or queue_name is None:
            return set()  # an agent's own call: no queue's handle time
        talk = float(event.data["event"]["data"].get("talk_seconds") or 0.0)
        hold = max(0.0, float(call.get("hold_seconds") or 0.0) - agent.hold_before)
        agent.today.handle(talk, hold, 0.0)
        changed = {f"agent:{agent.profile.id}"}
        queue = self.queues.get(queue_name)
        if queue is not None:
            queue.today.handle(talk, hold, 0.0)
            changed |= {f"queue:{queue.spec.name}", TOTALS}
        agent.queue, agent.hold_before = None, 0.0
        return changed

    def _wrapped_up(self, event: Event) -> set[str]:
        """The agent's wrap-up form: its time (from the end of the talk) is counted once,
        with the call's queue and agent."""
        call = event.data["call"]
        seconds = float(call.get("wrap_up_seconds") or 0.0)
        call_id = _int(call.get("id"))
        if not seconds or call_id in self._wrapped:
            return set()
        self._wrapped.add(call_id)
        changed = set()
        agent = self.agents.get(_int(call.get("agent_id")))
        if agent is not None:
            agent.today.wrap_up += seconds
            changed.add(f"agent:{agent.profile.id}")
        queue = self.queues.get(call.get("queue") or "")
        if queue is not None:
            queue.today.wrap_up += seconds
            changed |= {f"queue:{queue.spec.name}", TOTALS}
        return changed

    def _transferred(self, event: Event) -> set[str]:
        call = event.data["call"]
        changed = set()
        agent = self.agents.get(_int(call.get("agent_id")))
        if agent is not None:
            agent.today.transfers += 1
            changed.add(f"agent:{agent.profile.id}")
        queue = self.queues.get(call.get("queue") or "")
        if queue is not None:
            queue.today.transfers += 1
            changed |= {f"queue:{queue.spec.name}", TOTALS}
        return changed

    def _state(self, event: Event) -> set[str]:
        data = event.data
        agent = self.agents.get(int(data["agent_id"]))
        if agent is None:
            return set()
        since = datetime.fromisoformat(data["since"]).timestamp()
        if agent.since:
            agent.add_time(max(agent.since, self.day_start), since)
        old, new = str(agent.state), str(data["state"])
        agent.state = AgentState(new)
        agent.reason, agent.since = data.get("reason") or "", since
        self._states[old] -= 1
        self._states[new] += 1
        for name in agent.serves:
            self.queues[name].staffed[old] -= 1
            self.queues[name].staffed[new] += 1
        return {f"agent:{agent.profile.id}", TOTALS, *(f"queue:{q}" for q in agent.serves)}

    # ---- reading it out -----------------------------------------------------------------

    def snapshot(self, now: float, keys: set[str] | None = None) -> dict[str, Any]:
        """Tiles as the wallboard draws them (all, or only `keys`)."""
        queues = {name: self._queue_tile(q) for name, q in self.queues.items()
                  if keys is None or f"queue:{name}" in keys}  # fmt: skip
        agents = {str(i): self._agent_tile(a, now) for i, a in self.agents.items()
                  if keys is None or f"agent:{i}" in keys}  # fmt: skip
        out: dict[str, Any] = {"at": now, "day": self.today(), "day_start": self.day_start,
                               "queues": queues, "agents": agents}  # fmt: skip
        if keys is None or TOTALS in keys:
            out["totals"] = self._totals()
        return out

    def _queue_tile(self, queue: QueueBoard) -> dict[str, Any]:
        sl = queue.spec.service_level
        return {
            **queue.today.summary(sl),
            "waiting": len(queue.waiting),
            "oldest_since": min(queue.waiting.values(), default=None),
            "agents": _by_state(queue.staffed),
            "callbacks": queue.callbacks,
            "sl_seconds": sl.seconds,
            "sl_target": sl.target,
            "channel": queue.spec.channel,
        }

    def _agent_tile(self, agent: AgentBoard, now: float) -> dict[str, Any]:
        running = max(0.0, now - max(agent.since, self.day_start)) if agent.since else 0.0
        busy = agent.busy + (running if agent.state in BUSY else 0.0)
        available = agent.available + (running if agent.state == AgentState.AVAILABLE else 0.0)
        return {
            "name": agent.profile.name,
            "teams": sorted(agent.profile.teams),
            "state": str(agent.state),
            "reason": agent.reason,
            "since": agent.since or None,
            "handled": agent.today.handled,
            "talk": round(agent.today.talk, 1),
            "aht": agent.today.summary(FLOOR_SL)["aht"],
            "transfers": agent.today.transfers,
            "busy_before": round(agent.busy, 1),  # the desk adds the running state's time
            "available_before": round(agent.available, 1),
            "logged_in_before": round(agent.logged_in, 1),
            "occupancy": _rounded(occupancy(busy, available)),
            "rating": None,  # customer satisfaction, once surveys exist
        }

    def _totals(self) -> dict[str, Any]:
        total = Tally()
        for queue in self.queues.values():
            total += queue.today
        return {
            **total.summary(FLOOR_SL),
            "waiting": sum(len(q.waiting) for q in self.queues.values()),
            "oldest_since": min(
                (since for q in self.queues.values() for since in q.waiting.values()),
                default=None,
            ),
            "agents": _by_state(self._states),
            "sl_seconds": FLOOR_SL.seconds,
            "sl_target": FLOOR_SL.target,
            "callbacks": sum(q.callbacks for q in self.queues.values()),
        }


def _by_state(counts: Counter[str]) -> dict[str, int]:
    return {str(state): counts[str(state)] for state in AgentState}


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


_HANDLERS = {
    "queue.joined": Floor._joined,
    "queue.left": Floor._left,
    "call.agent.connected": Floor._connected,
    "call.agent.ended": Floor._talk_ended,
    "call.wrap_up": Floor._wrapped_up,
    "call.transferred": Floor._transferred,
    "agent.state": Floor._state,
}
