"""Routing hands each finished queue visit to the report writer, once, with its wait."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlmodel import select as select_model

from callcenter.agents.service import AgentService
from callcenter.clock import FixedClock
from callcenter.events.memory import InMemoryBus
from callcenter.metrics import ServiceLevel
from callcenter.reports.models import QUEUE_HALF_HOURS, QueueVisitRow
from callcenter.reports.writer import ReportWriter
from callcenter.routing.config import load_routing_text
from callcenter.routing.model import Task
from callcenter.routing.service import RoutingService
from callcenter.tasks import TaskSupervisor

ROUTING = """
queues:
  support:
    skills: {support: 1}
    service_level: {seconds: 10, target: 90, short_abandon: 2}
"""


async def test_a_caller_who_gives_up_is_one_stored_visit(database):
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    routing_config = load_routing_text(ROUTING, "routing.yaml")
    supervisor = TaskSupervisor("test-routing")
    agents = AgentService(database, InMemoryBus(), clock)
    routing: RoutingService
    writer = ReportWriter(database, lambda queue: routing.router.queue(queue).service_level)
    routing = RoutingService(routing_config, agents, clock, supervisor, on_visit=writer.visit)
    try:
        await routing.submit(Task(id="chat-1", queue="support", channel="chat"), {})
        clock.advance(timedelta(seconds=40))
        await routing.cancel("chat-1")  # the customer left
        await routing.cancel("chat-1")  # a second report of the same end counts nothing
        await writer.flush()
    finally:
        await writer.close()
        await supervisor.stop()
    async with database.session() as s:
        (visit,) = (await s.exec(select_model(QueueVisitRow))).all()
        rollups = (await s.exec(select(QUEUE_HALF_HOURS))).mappings().all()
    assert (visit.queue, visit.outcome, visit.waited) == ("support", "abandoned", 40.0)
    assert visit.channel == "chat" and visit.call_id is None and visit.position == 1
    assert visit.left_at.replace(tzinfo=UTC) == datetime(2026, 3, 2, 9, 0, 40, tzinfo=UTC)
    (row,) = rollups
    assert (row["entered"], row["abandoned"], row["short_abandoned"]) == (1, 1, 0)
    assert row["abandon_30_60"] == 1 and row["abandon_wait"] == 40


async def test_a_batch_the_database_refuses_is_given_up_not_retried_forever(database, caplog):
    writer = ReportWriter(database, lambda queue: ServiceLevel())
    task = Task(id="call-404", queue="support", data={"call_id": 404})  # no such call
    data = {"outcome": "abandoned", "waited": 9.0, "agent_id": None, "position": 2, "to": None}
    await writer.visit(task, datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp(), data)
    await writer.flush()
    assert "report batch refused (1 visits)" in caplog.text
    await writer.visit(replace(task, id="chat-1", data={}), 1772442000.0, data)
    await writer.close()  # the next batch is written
    async with database.session() as s:
        assert [v.task_id for v in (await s.exec(select_model(QueueVisitRow))).all()] == ["chat-1"]
