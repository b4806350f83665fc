"""An agent's state over a shift, and the time spent in each state.

The states are the ones a contact-center floor talks about. Who may move an agent
where is decided here, once; routing, the desktop and supervisors all go through it.
Every change closes a span (state, reason, start, end) that reports add up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class AgentState(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    OFFERED = "offered"  # a task is ringing on the agent's desktop or phone
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    BREAK = "break"  # not ready, with a reason code (lunch, training, missed offer …)


S = AgentState
ALLOWED: dict[AgentState, frozenset[AgentState]] = {
    # On a call straight from offline: a conversation found going on after a restart.
    S.OFFLINE: frozenset({S.AVAILABLE, S.BREAK, S.ON_CALL}),
    S.AVAILABLE: frozenset({S.OFFERED, S.ON_CALL, S.BREAK, S.OFFLINE}),
    # An offer ends answered, declined, missed (the queue decides: back to available or
    # a "missed" break) or withdrawn because the caller hung up.
    S.OFFERED: frozenset({S.ON_CALL, S.AVAILABLE, S.BREAK, S.OFFLINE}),
    S.ON_CALL: frozenset({S.WRAP_UP, S.AVAILABLE, S.BREAK}),
    S.WRAP_UP: frozenset({S.AVAILABLE, S.BREAK, S.OFFLINE, S.ON_CALL}),
    S.BREAK: frozenset({S.AVAILABLE, S.BREAK, S.OFFLINE, S.ON_CALL}),
}
READY = frozenset({S.AVAILABLE})
LOGGED_IN = frozenset(set(AgentState) - {S.OFFLINE})


class InvalidTransition(ValueError):
    """Raised for a move the floor's rules forbid, e.g. wrap-up while offline."""


@dataclass(frozen=True)
class StateSpan:
    """Time an agent spent in one state: what reports and the wallboard add up."""

    agent_id: int
    state: AgentState
    reason: str
    started: float  # epoch seconds
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Presence:
    """One agent's current state and the totals of the shift so far."""

    agent_id: int
    since: float
    state: AgentState = AgentState.OFFLINE
    reason: str = ""
    totals: dict[AgentState, float] = field(default_factory=dict)

    def change(self, state: AgentState, at: float, reason: str = "") -> StateSpan:
        """Move to `state` at `at`; returns the span that just ended.

        A break needs a reason code (reports count breaks by reason); other states
        carry none.
        """
        if state not in ALLOWED[self.state]:
            raise InvalidTransition(f"agent {self.agent_id}: {self.state} -> {state} not allowed")
        if state == AgentState.BREAK and not reason:
            raise InvalidTransition("a break needs a reason code")
        at = max(at, self.since)  # a late event never makes a negative span
        span = StateSpan(self.agent_id, self.state, self.reason, self.since, at)
        self.totals[self.state] = self.totals.get(self.state, 0.0) + span.seconds
        self.state, self.reason, self.since = state, reason if state == S.BREAK else "", at
        return span

    def seconds_in(self, state: AgentState, at: float) -> float:
        """Total time in `state` this shift, the current stretch included."""
        current = at - self.since if self.state == state else 0.0
        return self.totals.get(state, 0.0) + max(current, 0.0)

    @property
    def logged_in(self) -> bool:
        return self.state in LOGGED_IN
