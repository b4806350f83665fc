"""Routing over time, with the real agent service and database: offers, rings, wrap-up.

The ringer here records what telephony would ring; the call path that rings real phones
is tested with Asterisk where it is wired in.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from callcenter.agents.service import AgentService
from callcenter.agents.state import AgentState
from callcenter.auth.passwords import FAST_INSECURE_PARAMS
from callcenter.auth.permissions import Principal
from callcenter.auth.service import AuthService
from callcenter.clock import Clock
from callcenter.config import Settings
from callcenter.events.memory import InMemoryBus
from callcenter.routing.config import load_routing_text
from callcenter.routing.model import Offer, Overflowed, Task
from callcenter.routing.service import Connected, RoutingService
from callcenter.tasks import TaskSupervisor
from tests.support.waiting import eventually

ROUTING = """
queues:
  support:
    skills: {support: 1}
    ring_timeout: 0.3
    wrap_up: 0.3
    max_wait: 1.5
    overflow: {to: voicemail}
  front:
    skills: {front: 1}
    max_wait: 0.2
    overflow: {to: queue, queue: support}
rules:
  - when: {region: CN}
    skills: {zh: 1}
"""


@dataclass
class RecordingRinger:
    rung: list[tuple[str, int]] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)

    async def ring(self, offer: Offer) -> None:
        self.rung.append((offer.task.id, offer.agent_id))

    async def stop_ringing(self, task_id: str) -> None:
        self.stopped.append(task_id)


@dataclass
class Floor:
    agents: AgentService
    routing: RoutingService
    ringer: RecordingRinger
    ids: dict[str, int]
    visits: list[tuple[str, dict]] = field(default_factory=list)  # queue.* events

    def state(self, name: str) -> tuple[AgentState, str]:
        presence = self.agents.presence(self.ids[name])
        return presence.state, presence.reason


@pytest.fixture
async def floor(database, tmp_path: Path):
    clock = Clock()
    settings = Settings(_env_file=None, env="test", data_dir=tmp_path)  # type: ignore[call-arg]
    auth = AuthService(database, settings, clock, password_params=FAST_INSECURE_PARAMS)
    agents = AgentService(database, InMemoryBus(), clock)
    ids = {}
    system = Principal.operator("test", kind="system")
    for name, skills in (("ann", {"support": 5}), ("ben", {"support": 3, "zh": 2})):
        user = await auth.create_user(name, "pw-pw-pw-pw", "agent", actor=system,
                                      check_password=False)  # fmt: skip
        ids[name] = user.id
        await agents.set_profile(user.id, extension="", skills=skills, teams=[],
                                 voice_capacity=1, chat_capacity=0)  # fmt: skip
    supervisor = TaskSupervisor("routing-test")
    ringer = RecordingRinger()
    bus = InMemoryBus()
    routing = RoutingService(
        load_routing_text(ROUTING, "r.yaml"), agents, clock, supervisor, ringer=ringer, bus=bus
    )
    routing.start()
    floor = Floor(agents, routing, ringer, ids)
    subscription = bus.subscribe("queue.")

    async def collect() -> None:
        async for event in subscription:
            floor.visits.append((event.type, event.data))

    collector = asyncio.create_task(collect())
    try:
        yield floor
    finally:
        collector.cancel()
        await supervisor.stop()


async def _available(floor: Floor, *names: str) -> None:
    for name in names:
        await floor.agents.choose_state(floor.ids[name], AgentState.AVAILABLE)
        await asyncio.sleep(0.01)  # a distinct idle-since for each


async def test_offer_answer_wrap_up_and_available_again(floor):
    await _available(floor, "ann")
    outcome = await floor.routing.submit(Task("t1", "support"), {"region": "US"})
    assert floor.ringer.rung == [("t1", floor.ids["ann"])]
    assert floor.state("ann") == (AgentState.OFFERED, "")
    assert await floor.routing.answered("t1") == floor.ids["ann"]
    assert isinstance(await outcome, Connected)
    assert floor.state("ann") == (AgentState.ON_CALL, "")
    # A second caller waits while ann talks and during her wrap-up.
    second = await floor.routing.submit(Task("t2", "support"), {})
    await floor.routing.finished("t1", handle_seconds=42)
    assert floor.state("ann") == (AgentState.WRAP_UP, "")
    assert floor.ringer.rung[-1][0] == "t1"
    await asyncio.sleep(0.45)  # wrap-up over: available, and offered the next caller
    assert floor.ringer.rung[-1] == ("t2", floor.ids["ann"])
    assert floor.state("ann") == (AgentState.OFFERED, "")
    await floor.routing.answered("t2")
    assert isinstance(await second, Connected)


async def test_an_unanswered_offer_rings_the_next_agent(floor):
    await _available(floor, "ann", "ben")
    outcome = await floor.routing.submit(Task("t1", "support"), {})
    assert floor.ringer.rung == [("t1", floor.ids["ann"])]  # idle the longest
    await asyncio.sleep(0.45)
    assert floor.ringer.stopped == ["t1"]
    assert floor.ringer.rung[-1] == ("t1", floor.ids["ben"])
    assert floor.state("ann") == (AgentState.BREAK, "missed")
    # ann's phone reporting late that it stopped ringing does not cut ben's ring short.
    await floor.routing.missed("t1", agent_id=floor.ids["ann"])
    assert floor.state("ben") == (AgentState.OFFERED, "")
    await floor.routing.answered("t1")
    assert (await outcome).agent_id == floor.ids["ben"]


async def test_rules_add_skills_a_caller_from_china_gets_the_chinese_speaker(floor):
    await _available(floor, "ann", "ben")
    await floor.routing.submit(Task("t1", "support"), {"region": "CN"})
    assert floor.ringer.rung == [("t1", floor.ids["ben"])]


async def test_nobody_free_until_max_wait_overflows_to_voicemail(floor):
    outcome = await floor.routing.submit(Task("t1", "support"), {})
    assert floor.routing.position("t1") == 1
    result = await asyncio.wait_for(outcome, 5)
    assert isinstance(result, Overflowed) and result.overflow.kind == "voicemail"


async def test_caller_hanging_up_while_ringing_stops_the_ring(floor):
    await _available(floor, "ann")
    await floor.routing.submit(Task("t1", "support"), {})
    await floor.routing.cancel("t1")
    assert floor.ringer.stopped == ["t1"]
    assert floor.state("ann") == (AgentState.AVAILABLE, "")
    await asyncio.sleep(0.45)  # the ring timer was cancelled with the task
    assert floor.state("ann") == (AgentState.AVAILABLE, "")


async def test_logging_out_while_ringing_passes_the_call_on(floor):
    await _available(floor, "ann", "ben")
    await floor.routing.submit(Task("t1", "support"), {})
    await floor.agents.choose_state(floor.ids["ann"], AgentState.OFFLINE)
    assert floor.ringer.stopped == ["t1"]  # ann's phone
    assert floor.ringer.rung[-1] == ("t1", floor.ids["ben"])
    assert floor.state("ben") == (AgentState.OFFERED, "")


async def test_overflow_into_another_queue_waits_on_there_until_connected(floor):
    await _available(floor, "ann")
    outcome = await floor.routing.submit(Task("t1", "front"), {})
    assert floor.ringer.rung == []  # nobody has the front desk's skill
    await eventually(lambda: floor.ringer.rung == [("t1", floor.ids["ann"])])
    assert not outcome.done()
    assert await floor.routing.answered("t1") == floor.ids["ann"]
    connected = await outcome
    assert isinstance(connected, Connected) and connected.task.queue == "support"


async def test_an_answer_from_a_phone_the_offer_left_is_refused(floor):
    await _available(floor, "ann", "ben")
    await floor.routing.submit(Task("t1", "support"), {})
    ((_, first),) = floor.ringer.rung
    other = next(i for i in floor.ids.values() if i != first)
    assert await floor.routing.answered("t1", agent_id=other) is None
    assert await floor.routing.answered("t1", agent_id=first) == first


async def test_two_reports_of_one_missed_ring_move_the_call_on_once(floor):
    """The ring timer and the phone's own hang-up both report the miss, the second while
    the first still waits on telephony: the next agent's offer must stand."""

    async def slow_stop(task_id: str) -> None:
        floor.ringer.stopped.append(task_id)
        await asyncio.sleep(0.05)  # an ARI hang-up in flight

    floor.ringer.stop_ringing = slow_stop  # type: ignore[method-assign]
    await _available(floor, "ann", "ben")
    await floor.routing.submit(Task("t1", "support"), {})
    first = floor.ids["ann"]
    await asyncio.gather(floor.routing.missed("t1"), floor.routing.missed("t1", agent_id=first))
    assert floor.ringer.rung == [("t1", first), ("t1", floor.ids["ben"])]
    assert await floor.routing.answered("t1", agent_id=floor.ids["ben"]) == floor.ids["ben"]


async def test_queue_visits_are_published_with_their_outcome_and_wait(floor):
    """What the wallboard and the reports count: one visit per queue, how it ended."""
    await _available(floor, "ann")
    await floor.routing.submit(Task("t1", "front", data={"call_id": 7}), {})
    await eventually(lambda: floor.ringer.rung == [("t1", floor.ids["ann"])])
    await floor.routing.answered("t1")
    await floor.routing.submit(Task("t2", "support"), {})  # ann is busy: t2 waits
    await asyncio.sleep(0.1)
    await floor.routing.cancel("t2")  # the caller hangs up
    await floor.routing.submit(Task("t3", "support"), {})
    await floor.routing.cancel("t3", abandoned=False)  # the flow's own time limit
    await eventually(lambda: len(floor.visits) == 8)
    kinds = [(kind, data["task_id"], data["queue"], data.get("outcome")) for kind, data in
             floor.visits]  # fmt: skip
    assert kinds == [
        ("queue.joined", "t1", "front", None),
        ("queue.left", "t1", "front", "overflowed"),
        ("queue.joined", "t1", "support", None),
        ("queue.left", "t1", "support", "answered"),
        ("queue.joined", "t2", "support", None),
        ("queue.left", "t2", "support", "abandoned"),
        ("queue.joined", "t3", "support", None),
        ("queue.left", "t3", "support", "overflowed"),
    ]
    left = [data for kind, data in floor.visits if kind == "queue.left"]
    assert left[0]["to"] == "queue:support" and 0.15 < left[0]["waited"] < 1.5
    assert left[1]["agent_id"] == floor.ids["ann"] and left[1]["call_id"] == 7
    assert left[2]["position"] == 1 and left[2]["waited"] >= 0.1
