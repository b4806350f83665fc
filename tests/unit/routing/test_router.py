"""Routing decisions: strategies, ordering, offers, overflow, capacity (pure logic)."""

import pytest

from callcenter.routing.model import (
    AgentProfile,
    Offer,
    Overflow,
    Overflowed,
    OverflowKind,
    Queued,
    QueueSpec,
    Strategy,
    Task,
)
from callcenter.routing.router import Router


def _router(**spec) -> Router:
    return Router([QueueSpec(name="support", skills={"support": 1}, **spec)])


def _agent(agent_id: int, **skills: int) -> AgentProfile:
    return AgentProfile(id=agent_id, skills={"support": 1, **skills})


def _login(router: Router, at: float, *agents: AgentProfile) -> None:
    for n, profile in enumerate(agents):
        router.login(profile, at)
        router.set_ready(profile.id, at + n)


def _offered(decision) -> int:
    assert isinstance(decision, Offer), decision
    return decision.agent_id


def test_longest_idle_agent_gets_the_call():
    router = _router()
    _login(router, 0, _agent(1), _agent(2), _agent(3))  # ready at 0, 1, 2
    assert _offered(router.enqueue(Task("t1", "support"), 10)) == 1
    assert _offered(router.enqueue(Task("t2", "support"), 11)) == 2


def test_an_agent_without_the_queue_skill_is_never_offered():
    router = _router()
    router.login(AgentProfile(id=9, skills={"sales": 5}), 0)
    router.set_ready(9, 0)
    assert isinstance(router.enqueue(Task("t1", "support"), 1), Queued)


def test_round_robin_rotates_through_the_agents():
    router = _router(strategy=Strategy.ROUND_ROBIN)
    _login(router, 0, _agent(1), _agent(2), _agent(3))
    got = []
    for n in range(4):
        agent = _offered(router.enqueue(Task(f"t{n}", "support"), 10 + n))
        router.accept(f"t{n}", 10 + n)
        router.finish(f"t{n}", 10.5 + n, handle_seconds=0.5)
        got.append(agent)
    assert got == [1, 2, 3, 1]


def test_least_busy_prefers_the_agent_with_the_lowest_occupancy():
    router = _router(strategy=Strategy.LEAST_BUSY)
    _login(router, 0, _agent(1), _agent(2))
    router.set_not_ready(2)
    assert _offered(router.enqueue(Task("long", "support"), 1)) == 1
    router.accept("long", 1)
    router.finish("long", 301, handle_seconds=300)  # agent 1 busy 300 of 301 s
    router.set_ready(2, 301)
    assert _offered(router.enqueue(Task("next", "support"), 302)) == 2


def test_skill_weighted_prefers_the_most_skilled_agent():
    router = _router(strategy=Strategy.SKILL_WEIGHTED)
    router.login(AgentProfile(id=1, skills={"support": 2}), 0)
    router.login(AgentProfile(id=2, skills={"support": 9}), 0)
    router.set_ready(1, 0)
    router.set_ready(2, 5)  # idle for less time, but more skilled
    assert _offered(router.enqueue(Task("t1", "support"), 10)) == 2


def test_returning_customer_goes_to_their_last_agent_first():
    router = _router()
    _login(router, 0, _agent(1), _agent(2))
    assert _offered(router.enqueue(Task("t1", "support", last_agent_id=2), 10)) == 2
    # Their agent busy: anyone else rather than wait.
    assert _offered(router.enqueue(Task("t2", "support", last_agent_id=2), 11)) == 1


def test_an_agent_freed_takes_its_own_returning_customer_before_older_tasks():
    router = _router()
    _login(router, 0, _agent(1))
    router.enqueue(Task("busy", "support"), 1)
    router.accept("busy", 1)
    router.enqueue(Task("older", "support"), 2)
    router.enqueue(Task("mine", "support", last_agent_id=1), 3)
    decisions = router.finish("busy", 60, handle_seconds=59)
    assert [d.task.id for d in decisions] == ["mine"]


def test_vip_and_priority_jump_the_queue():
    router = _router()
    router.login(_agent(1), 0)
    for n, task in enumerate(
        [
            Task("plain", "support"),
            Task("urgent", "support", priority=5),
            Task("vip", "support", vip=True),
        ]
    ):
        assert isinstance(router.enqueue(task, n), Queued)
    assert [router.position(t) for t in ("vip", "urgent", "plain")] == [1, 2, 3]
    assert [d.task.id for d in router.set_ready(1, 10)] == ["vip"]


def test_unanswered_offer_rings_the_next_agent_and_parks_the_first():
    router = _router(ring_timeout=15)
    _login(router, 0, _agent(1), _agent(2))
    offer = router.enqueue(Task("t1", "support"), 10)
    assert _offered(offer) == 1 and offer.ring_timeout == 15
    (following,) = router.reject("t1", 25, missed=True)
    assert _offered(following) == 2
    assert router.ready_agents("support") == 0  # agent 1 on a missed break, 2 ringing
    router.set_ready(1, 30)
    (again,) = router.reject("t1", 40, missed=False)  # declined by 2 as well
    assert isinstance(again, Queued)  # never rings an agent who let it go
    assert router.position("t1") == 1


def test_a_full_queue_overflows_new_arrivals():
    target = Overflow(OverflowKind.QUEUE, "overflow")
    router = Router(
        [
            QueueSpec(name="support", max_length=2, overflow=target),
            QueueSpec(name="overflow"),
        ]
    )
    assert isinstance(router.enqueue(Task("t1", "support"), 0), Queued)
    assert isinstance(router.enqueue(Task("t2", "support"), 1), Queued)
    full = router.enqueue(Task("t3", "support"), 2)
    assert isinstance(full, Overflowed) and full.reason == "full" and full.overflow == target
    full.task.queue = "overflow"
    moved = router.enqueue(full.task, 3)
    assert isinstance(moved, Queued) and moved.task.enqueued_at == 2  # keeps its wait


def test_an_overflowed_task_gets_the_next_queues_full_max_wait():
    callback = Overflow(OverflowKind.CALLBACK)
    router = Router(
        [
            QueueSpec(name="support", max_wait=600, overflow=Overflow(OverflowKind.QUEUE, "more")),
            QueueSpec(name="more", max_wait=300, overflow=callback),
        ]
    )
    router.enqueue(Task("t1", "support"), 1)
    (out,) = router.expire(601)
    out.task.queue = "more"
    assert isinstance(router.enqueue(out.task, 601), Queued)
    assert router.expire(900) == []  # 15 minutes in all, as routing.yaml promises
    (last,) = router.expire(901)
    assert last.overflow == callback and last.task.enqueued_at == 1


def test_max_wait_sends_waiting_tasks_to_voicemail():
    router = _router(max_wait=60, overflow=Overflow(OverflowKind.VOICEMAIL))
    router.enqueue(Task("t1", "support"), 0)
    router.enqueue(Task("t2", "support"), 30)
    assert router.expire(59) == []
    (out,) = router.expire(60)
    assert out.task.id == "t1" and out.reason == "max_wait"
    assert router.position("t2") == 1


def test_a_task_past_its_max_wait_overflows_when_its_offer_fails():
    router = _router(max_wait=60, overflow=Overflow(OverflowKind.CALLBACK))
    _login(router, 0, _agent(1), _agent(2))
    router.enqueue(Task("t1", "support"), 10)
    assert router.expire(80) == []  # ringing: not taken from the agent's screen
    (out,) = router.reject("t1", 80, missed=True)
    assert isinstance(out, Overflowed) and out.overflow.kind == OverflowKind.CALLBACK


def test_position_and_estimated_wait():
    router = _router(default_handle_seconds=120)
    for agent_id in (1, 2):
        router.login(_agent(agent_id), 0)  # logged in, both on break
    for n in range(4):
        router.enqueue(Task(f"t{n}", "support"), n)
    assert [router.position(f"t{n}") for n in range(4)] == [1, 2, 3, 4]
    assert router.estimated_wait("t3") == 4 * 120 / 2
    router.cancel("t0", 5)
    assert router.position("t3") == 3


def test_extra_skills_wait_for_an_agent_who_has_them():
    router = _router()
    router.login(_agent(1), 0)
    router.login(_agent(2, zh=3), 0)
    router.enqueue(Task("zh", "support", skills={"zh": 2}), 1)
    router.enqueue(Task("plain", "support"), 2)
    assert [d.task.id for d in router.set_ready(1, 3)] == ["plain"]
    assert [d.task.id for d in router.set_ready(2, 4)] == ["zh"]


def test_chats_share_an_agent_a_call_takes_it_whole():
    router = Router([QueueSpec(name="chat", channel="chat"), QueueSpec(name="voice")])
    router.login(AgentProfile(id=1, capacity={"voice": 1, "chat": 2}), 0)
    router.set_ready(1, 0)
    assert _offered(router.enqueue(Task("c1", "chat", channel="chat"), 1)) == 1
    assert _offered(router.enqueue(Task("c2", "chat", channel="chat"), 2)) == 1
    assert isinstance(router.enqueue(Task("c3", "chat", channel="chat"), 3), Queued)
    assert isinstance(router.enqueue(Task("call", "voice"), 4), Queued)
    for chat in ("c1", "c2"):
        router.accept(chat, 5)
    assert [d.task.id for d in router.finish("c1", 6, handle_seconds=1)] == ["c3"]
    router.accept("c3", 7)
    router.finish("c2", 8, handle_seconds=3)
    assert [d.task.id for d in router.finish("c3", 9, handle_seconds=2)] == ["call"]


def test_caller_hanging_up_while_ringing_frees_the_agent_for_the_next():
    router = _router()
    _login(router, 0, _agent(1))
    router.enqueue(Task("t1", "support"), 1)
    router.enqueue(Task("t2", "support"), 2)
    assert [d.task.id for d in router.cancel("t1", 3)] == ["t2"]


def test_logout_passes_a_ringing_task_on():
    router = _router()
    _login(router, 0, _agent(1), _agent(2))
    router.enqueue(Task("t1", "support"), 5)
    (following,) = router.logout(1)
    assert _offered(following) == 2


def test_the_same_task_cannot_be_routed_twice():
    router = _router()
    router.enqueue(Task("t1", "support"), 0)
    with pytest.raises(ValueError, match="already routed"):
        router.enqueue(Task("t1", "support"), 1)


def test_new_queue_settings_keep_waiting_tasks_and_reach_new_agents():
    router = _router()
    router.enqueue(Task("t1", "support"), 0)
    router.login(AgentProfile(id=7, skills={"billing": 1}), 1)
    router.set_ready(7, 1)
    # The admin now staffs support with billing agents: the waiting call is offered.
    (offer,) = router.configure([QueueSpec(name="support", skills={"billing": 1})], 2)
    assert _offered(offer) == 7
    assert router.queue("support").skills == {"billing": 1}


def test_a_queue_holding_tasks_cannot_be_removed_but_an_empty_one_can():
    router = Router([QueueSpec(name="support"), QueueSpec(name="sales")])
    router.enqueue(Task("t1", "support"), 0)
    with pytest.raises(ValueError, match="support"):
        router.configure([QueueSpec(name="sales")], 1)
    assert router.holding("support") == 1
    router.configure([QueueSpec(name="support")], 1)
    assert router.queue_names == ["support"]


def test_a_task_for_a_named_agent_skips_the_pool_and_falls_back_to_the_queue():
    router = _router()
    _login(router, 0, _agent(1))  # idle the longest in support
    router.login(AgentProfile(id=5, skills={"billing": 1}), 0)  # outside the pool
    router.set_ready(5, 3)
    assert router.free(5) and not router.free(99)
    task = Task("t1", "support", direct_agent_id=5)
    assert _offered(router.enqueue(task, 10)) == 5
    # The colleague lets it ring out: the queue's own agent gets it.
    assert _offered(router.reject("t1", 14, missed=True)[0]) == 1
