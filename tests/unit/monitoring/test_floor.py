"""The live floor counted from events, on a scripted day (no I/O: pure bookkeeping)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from callcenter.events import Event
from callcenter.metrics import ServiceLevel
from callcenter.monitoring.floor import Floor
from callcenter.routing.model import AgentProfile, QueueSpec

SHANGHAI = ZoneInfo("Asia/Shanghai")
NINE = datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI).timestamp()
SUPPORT = QueueSpec("support", skills={"support": 1}, service_level=ServiceLevel(20, 0.8))


def _floor() -> Floor:
    floor = Floor(SHANGHAI, [SUPPORT, QueueSpec("sales", skills={"sales": 1})], NINE)
    floor.agent_known(AgentProfile(7, "amy", skills={"support": 3}, teams=frozenset({"t1"})))
    floor.agent_known(AgentProfile(8, "bob", skills={"sales": 3}))
    return floor


def _state(agent: int, state: str, at: float, previous: str = "", reason: str = "") -> Event:
    since = datetime.fromtimestamp(at, UTC).isoformat()
    data = {"agent_id": agent, "state": state, "reason": reason, "previous": previous,
            "since": since}  # fmt: skip
    return Event("agent.state", data, ts=at)


def _visit(kind: str, task: str, at: float, **data: object) -> Event:
    return Event(f"queue.{kind}", {"queue": "support", "task_id": task, **data}, ts=at)


def _call(kind: str, at: float, call: dict, **data: object) -> Event:
    return Event(f"call.{kind}", {"call": call, "event": {"data": data}}, ts=at)


def test_a_scripted_morning_gives_the_defined_numbers():
    floor = _floor()
    t = NINE
    # amy serves support: its tile counts her by state too.
    assert floor.apply(_state(7, "available", t, "offline")) == {"agent:7", "totals",
                                                                 "queue:support"}  # fmt: skip
    floor.apply(_visit("joined", "a", t + 10))
    floor.apply(_visit("joined", "b", t + 11))
    tile = floor.snapshot(t + 12)["queues"]["support"]
    assert tile["waiting"] == 2 and tile["oldest_since"] == t + 10
    assert tile["agents"]["available"] == 1 and tile["agents"]["offline"] == 0
    # a: answered after 15 s, talks 60 s with 10 s on hold, 20 s of wrap-up.
    floor.apply(_visit("left", "a", t + 25, outcome="answered", waited=15.0))
    floor.apply(_state(7, "on_call", t + 25, "available"))
    call = {"agent_id": 7, "queue": "support", "hold_seconds": 0}
    floor.apply(_call("agent.connected", t + 25, call, agent_id=7, queue="support"))
    call = {**call, "hold_seconds": 10}
    floor.apply(_call("agent.ended", t + 95, call, talk_seconds=60))
    floor.apply(_state(7, "wrap_up", t + 95, "on_call"))
    # b: gives up after 30 s; c: gives up after 2 s (a short abandon, no real offer).
    floor.apply(_visit("left", "b", t + 41, outcome="abandoned", waited=30.0))
    floor.apply(_visit("joined", "c", t + 50))
    floor.apply(_visit("left", "c", t + 52, outcome="abandoned", waited=2.0))
    call = {**call, "id": 1, "wrap_up_seconds": 20}
    assert floor.apply(_call("wrap_up", t + 115, call)) == {"agent:7", "queue:support", "totals"}
    assert floor.apply(_call("wrap_up", t + 120, call)) == set()  # a second form: counted once
    floor.apply(_state(7, "available", t + 115, "wrap_up"))
    snap = floor.snapshot(t + 135)
    support = snap["queues"]["support"]
    assert support["offered"] == 2 and support["answered"] == 1 and support["abandoned"] == 1
    assert support["short_abandoned"] == 1 and support["service_level"] == 0.5
    assert support["asa"] == 15.0 and support["aht"] == 90.0  # 60 + 10 + 20
    assert support["abandonment_rate"] == 0.5 and support["waiting"] == 0
    amy = snap["agents"]["7"]
    assert amy["handled"] == 1 and amy["talk"] == 60 and amy["state"] == "available"
    # busy 25..115 = 90 s; available 0..25 and 115..135 = 45 s.
    assert amy["occupancy"] == pytest.approx(90 / 135, abs=1e-4)
    assert snap["totals"]["offered"] == 2 and snap["totals"]["agents"]["available"] == 1
    assert snap["day"] == "2026-11-30"


def test_only_the_changed_tiles_are_read_out():
    floor = _floor()
    keys = floor.apply(_visit("joined", "a", NINE))
    part = floor.snapshot(NINE, keys)
    assert set(part["queues"]) == {"support"} and part["agents"] == {} and "totals" in part


def test_transfers_and_callbacks_are_counted_where_the_call_waited():
    floor = _floor()
    call = {"agent_id": 7, "queue": "support"}
    floor.apply(_call("transferred", NINE, call))
    floor.apply(_visit("joined", "a", NINE))
    floor.apply(_visit("left", "a", NINE + 60, outcome="overflowed", waited=60.0, to="callback"))
    floor.apply(_visit("joined", "b", NINE))
    floor.apply(_visit("left", "b", NINE + 60, outcome="overflowed", waited=60.0, to="voicemail"))
    snap = floor.snapshot(NINE)
    assert snap["queues"]["support"]["transfers"] == 1
    assert snap["queues"]["support"]["callbacks"] == 1 and snap["totals"]["callbacks"] == 1
    assert snap["agents"]["7"]["transfers"] == 1


def test_midnight_starts_a_new_day_but_callers_keep_waiting():
    floor = _floor()
    late = datetime(2026, 11, 30, 23, 59, 50, tzinfo=SHANGHAI).timestamp()
    floor.apply(_visit("joined", "a", late))
    floor.apply(_visit("joined", "b", late - 100))
    floor.apply(_visit("left", "b", late, outcome="answered", waited=100.0))
    assert not floor.roll(late + 5)
    assert floor.roll(late + 20)
    floor.apply(_visit("left", "a", late + 30, outcome="answered", waited=30.0))
    snap = floor.snapshot(late + 30)
    support = snap["queues"]["support"]
    # a entered yesterday: answered today, but offered yesterday.
    assert support["answered"] == 1 and support["offered"] == 0
    assert snap["day"] == "2026-12-01"


def test_a_queue_removed_from_routing_leaves_the_board():
    floor = _floor()
    floor.configure([SUPPORT])
    assert set(floor.snapshot(NINE)["queues"]) == {"support"}


def test_agents_are_counted_by_state_in_the_queues_their_skills_meet():
    floor = _floor()
    floor.apply(_state(7, "available", NINE, "offline"))
    floor.apply(_state(8, "break", NINE, "offline", reason="lunch"))
    snap = floor.snapshot(NINE)
    assert snap["queues"]["support"]["agents"]["available"] == 1
    assert snap["queues"]["sales"]["agents"] == {**{s: 0 for s in snap["totals"]["agents"]},
                                                 "break": 1}  # fmt: skip
    assert snap["totals"]["agents"]["offline"] == 0
    # bob learns support: he is counted there from now on, in his state.
    floor.agent_known(AgentProfile(8, "bob", skills={"sales": 3, "support": 1}))
    assert floor.snapshot(NINE)["queues"]["support"]["agents"]["break"] == 1
    # support now asks for level 2: only amy still serves it.
    floor.configure([QueueSpec("support", skills={"support": 2}), QueueSpec("sales")])
    support = floor.snapshot(NINE)["queues"]["support"]["agents"]
    assert (support["available"], support["break"]) == (1, 0)
