"""What the router works with: queues, agents' routing profiles, tasks, decisions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from callcenter.metrics import ServiceLevel


class Strategy(StrEnum):
    """How a queue picks among the agents ready for it."""

    LONGEST_IDLE = "longest_idle"  # the agent idle the longest
    ROUND_ROBIN = "round_robin"  # the agent offered a task the longest ago
    LEAST_BUSY = "least_busy"  # the lowest occupancy (busy time / logged-in time)
    SKILL_WEIGHTED = "skill_weighted"  # the highest levels in the queue's skills


class OverflowKind(StrEnum):
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"


@dataclass(frozen=True)
class Overflow:
    """Where a task goes when its queue is full or it waited too long."""

    kind: OverflowKind
    target: str = ""  # the queue's name for kind=queue


@dataclass(frozen=True)
class QueueSpec:
    """A queue as admins configure it (routing.yaml / the admin API)."""

    name: str
    channel: str = "voice"  # voice | chat: which capacity an offer takes
    skills: Mapping[str, int] = field(default_factory=dict)  # skill -> minimum level
    strategy: Strategy = Strategy.LONGEST_IDLE
    sticky: bool = True  # a returning customer's last agent is offered first when ready
    vip_first: bool = True
    ring_timeout: float = 20.0  # seconds an offer rings before the next agent
    missed_offer_break: bool = True  # a missed offer puts the agent on a "missed" break
    wrap_up: float = 10.0
    max_wait: float | None = None  # seconds; then overflow
    max_length: int | None = None  # waiting tasks; an arrival beyond it overflows
    overflow: Overflow | None = None  # None: a full queue still takes the task
    record: bool = True
    # Each side of a conversation transcribed live (calls/transcription.py).
    transcribe: bool = False
    music_on_hold: str = "default"
    announce_every: float = 30.0  # position / estimated wait announcement period
    default_handle_seconds: float = 180.0  # the estimate until real handle times exist
    service_level: ServiceLevel = field(default_factory=ServiceLevel)  # 80/20 unless set


@dataclass
class AgentProfile:
    """What routing knows of an agent: skills with levels, teams, capacity per channel."""

    id: int
    name: str = ""
    skills: dict[str, int] = field(default_factory=dict)
    teams: frozenset[str] = frozenset()
    capacity: Mapping[str, int] = field(default_factory=lambda: {"voice": 1, "chat": 3})

    def qualifies(self, required: Mapping[str, int]) -> bool:
        return all(self.skills.get(skill, 0) >= level for skill, level in required.items())


@dataclass
class Task:
    """A call or a chat waiting for a person."""

    id: str
    queue: str
    channel: str = "voice"
    skills: Mapping[str, int] = field(default_factory=dict)  # beyond the queue's own
    priority: int = 0  # higher first
    vip: bool = False
    customer_id: int | None = None
    last_agent_id: int | None = None  # for sticky routing
    direct_agent_id: int | None = None  # transferred to this agent: offered them first
    data: dict[str, Any] = field(default_factory=dict)  # IVR variables, for the screen-pop
    enqueued_at: float = 0.0  # epoch seconds, set by the router: the customer's whole wait
    entered_queue_at: float = 0.0  # ... and when it entered its present queue (max wait)
    declined_by: set[int] = field(default_factory=set)


def call_task_id(call_id: int, *, own: bool = False) -> str:
    """The id of a call's task: a queued call's routing task, or (`own`) an agent's own
    call, which routing never holds but whose conversation is kept under it too."""
    return f"{'out' if own else 'call'}-{call_id}"


@dataclass(frozen=True)
class Offer:
    """The router's decision: ring `agent_id` with `task` until the queue's ring timeout."""

    task: Task
    agent_id: int
    queue: str
    at: float
    ring_timeout: float


@dataclass(frozen=True)
class Queued:
    task: Task
    position: int  # 1 = next
    estimated_wait: float  # seconds


@dataclass(frozen=True)
class Overflowed:
    task: Task
    queue: str
    overflow: Overflow
    reason: str  # "full" | "max_wait"
