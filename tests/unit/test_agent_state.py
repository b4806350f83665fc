"""The agent state machine and the time it records."""

import pytest

from callcenter.agents.state import AgentState, InvalidTransition, Presence


def test_a_shift_adds_up_time_in_each_state():
    p = Presence(agent_id=7, since=0.0)
    p.change(AgentState.AVAILABLE, 0)
    p.change(AgentState.OFFERED, 30)
    p.change(AgentState.ON_CALL, 36)
    p.change(AgentState.WRAP_UP, 216)
    p.change(AgentState.BREAK, 246, reason="lunch")
    span = p.change(AgentState.AVAILABLE, 1446)
    assert (span.state, span.reason, span.seconds) == (AgentState.BREAK, "lunch", 1200)
    assert p.seconds_in(AgentState.ON_CALL, 2000) == 180
    assert p.seconds_in(AgentState.AVAILABLE, 1500) == 30 + 54
    assert p.logged_in


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (AgentState.OFFLINE, AgentState.OFFERED),  # offers go to agents who are in
        (AgentState.OFFLINE, AgentState.WRAP_UP),
        (AgentState.ON_CALL, AgentState.OFFLINE),  # hang up first
        (AgentState.ON_CALL, AgentState.OFFERED),
    ],
)
def test_forbidden_moves_are_refused(start, to):
    p = Presence(agent_id=1, since=0.0, state=start)
    with pytest.raises(InvalidTransition):
        p.change(to, 1)
    assert p.state == start


def test_an_agent_found_talking_after_a_restart_goes_on_call_from_offline():
    # The restarted controller's floor starts empty; the conversation it adopts says
    # the agent is on a call, and nothing may be offered to them on the way there.
    p = Presence(agent_id=1, since=0.0)
    p.change(AgentState.ON_CALL, 1)
    assert p.state == AgentState.ON_CALL


def test_a_break_needs_a_reason_code():
    p = Presence(agent_id=1, since=0.0, state=AgentState.AVAILABLE)
    with pytest.raises(InvalidTransition, match="reason"):
        p.change(AgentState.BREAK, 1)


def test_late_events_never_make_negative_time():
    p = Presence(agent_id=1, since=10.0, state=AgentState.AVAILABLE)
    span = p.change(AgentState.OFFERED, 5.0)
    assert span.seconds == 0 and p.since == 10.0
