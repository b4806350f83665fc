"""Visits and call records into half-hour rollups, on SQLite and PostgreSQL: the
incremental upkeep equals a rebuild, and reports read the definitions' numbers."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from callcenter.agents.models import AgentProfileRow
from callcenter.calls.service import CallService
from callcenter.clock import FixedClock
from callcenter.events.memory import InMemoryBus
from callcenter.reports import rollup
from callcenter.reports.buckets import Period, Span
from callcenter.reports.models import (
    AGENT_HALF_HOURS,
    CUSTOMER_HALF_HOURS,
    MEASURES,
    QUEUE_HALF_HOURS,
)
from callcenter.reports.service import Group, ReportService
from callcenter.reports.writer import ReportWriter
from callcenter.routing.model import Task
from tests.support.reports import DAY, OBJECTIVES, Floor, play_day, seed_agents

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def day(database):
    clock = FixedClock(DAY)
    writer = ReportWriter(database, OBJECTIVES.__getitem__)
    calls = CallService(database, InMemoryBus(), clock, on_change=writer.call_changed,
                        on_start=writer.call_started)  # fmt: skip
    agents = await seed_agents(database, ["ann", "bob"])
    played = await play_day(Floor(calls, writer, clock), agents)
    await calls.flush()
    await writer.flush()
    reports = ReportService(database, writer, SHANGHAI)
    yield reports, agents, played
    await writer.close()


async def _tables(db) -> dict[str, list[dict[str, Any]]]:
    out = {}
    async with db.engine.connect() as conn:
        for table in (QUEUE_HALF_HOURS, AGENT_HALF_HOURS, CUSTOMER_HALF_HOURS):
            rows = (await conn.execute(select(table))).mappings().all()
            keyed = sorted(
                (tuple(str(r[c.name]) for c in table.primary_key), dict(r)) for r in rows
            )
            out[table.name] = [row for _, row in keyed]
    return out


async def test_incremental_rollups_equal_a_rebuild_from_the_records(database, day):
    live = await _tables(database)
    assert live["report_queue_half_hours"], "the day left rows"
    counted = await database.write(rollup.rebuild)
    rebuilt = await _tables(database)
    assert counted == {name: len(rows) for name, rows in rebuilt.items()}
    for name in live:
        assert len(live[name]) == len(rebuilt[name]), name
        for mine, theirs in zip(live[name], rebuilt[name], strict=True):
            for measure in MEASURES if name != CUSTOMER_HALF_HOURS.name else ["value", "calls"]:
                assert mine[measure] == pytest.approx(theirs[measure]), (name, measure, mine)


def _by(rows: list[dict[str, Any]], key: str = "group") -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


async def test_a_day_by_queue_follows_the_definitions(day):
    reports, _, _ = day
    rows = await reports.service(Span(date(2026, 3, 2), date(2026, 3, 2), SHANGHAI),
                                 Period.DAY, Group.QUEUE)  # fmt: skip
    assert {row["period"] for row in rows} == {"2026-03-02"}
    support, sales = _by(rows)["support"], _by(rows)["sales"]
    # support: A answered in 12 s, B short abandon, C abandoned at 45 s, F overflowed.
    assert (support["offered"], support["answered"], support["abandoned"],
            support["short_abandoned"], support["overflowed"]) == (3, 1, 1, 1, 1)  # fmt: skip
    assert support["service_level"] == pytest.approx(1 / 3, abs=1e-4)  # 1 in time / (1 + 1 + 1)
    assert support["abandonment_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert support["abandon_30_60"] == 1 and support["abandon_lt10"] == 0
    assert support["asa"] == 12 and support["aht"] == 150  # 100 talk + 20 hold + 30 wrap-up
    assert support["service_level_target"] == 0.8
    # sales: D to a callback, E answered late (25 s), F answered in 5 s; abandons ignored.
    assert (sales["offered"], sales["answered"], sales["answered_in_time"]) == (3, 2, 1)
    assert sales["service_level"] == pytest.approx(1 / 3, abs=1e-4) and sales["callbacks"] == 1
    assert sales["handled"] == 2 and sales["aht"] == 55  # E 60 s (reported late), F 50 s
    assert sales["asa"] == 15


async def test_the_whole_floor_spans_queues_with_their_own_thresholds(day):
    reports, _, _ = day
    span = Span(date(2026, 3, 2), date(2026, 3, 2), SHANGHAI)
    (total,) = await reports.service(span, Period.WEEK, Group.NONE)
    assert total["period"] == "2026-03-02" and total["group"] == ""
    assert (total["offered"], total["answered"], total["answered_in_time"]) == (6, 3, 2)
    assert total["handled"] == 3 and total["aht"] == pytest.approx((150 + 60 + 50) / 3, abs=0.05)
    # Mixed abandon modes read as counted: 2 / (3 answered + 2 overflowed + 1 abandoned).
    assert total["service_level"] == pytest.approx(2 / 6, abs=1e-4)


async def test_agents_and_teams(database, day):
    reports, (ann, bob), _ = day

    def profile(conn: Any) -> None:
        table = AgentProfileRow.__table__  # type: ignore[attr-defined]
        for user, teams in ((ann, ["north", "vip"]), (bob, ["north"])):
            conn.execute(insert(table).values(user_id=user, teams=teams, skills={},
                                              updated_at=DAY))  # fmt: skip

    await database.write(profile)
    span = Span(date(2026, 3, 2), date(2026, 3, 2), SHANGHAI)
    agents = _by(await reports.service(span, Period.DAY, Group.AGENT))
    assert agents[str(ann)]["name"] == "Ann" and agents[str(ann)]["answered"] == 2
    assert agents[str(ann)]["aht"] == 100 and agents[str(bob)]["handled"] == 1
    teams = _by(await reports.service(span, Period.DAY, Group.TEAM))
    # An agent in two teams counts in both.
    assert teams["north"]["answered"] == 3 and teams["vip"]["answered"] == 2


async def test_hours_are_the_centers_own(day):
    reports, _, _ = day
    span = Span(date(2026, 3, 2), date(2026, 3, 2), SHANGHAI)
    hours = _by(await reports.service(span, Period.HOUR, Group.NONE), "period")
    # 09:xx UTC is 17:xx in Shanghai; E and F's visits left after 10:00 UTC.
    assert set(hours) == {"2026-03-02T17:00:00+08:00", "2026-03-02T18:00:00+08:00"}
    assert hours["2026-03-02T17:00:00+08:00"]["offered"] == 3  # A, C, D (B was short)
    outside = Span(date(2026, 3, 3), date(2026, 3, 3), SHANGHAI)
    assert await reports.service(outside, Period.DAY, Group.QUEUE) == []


async def test_a_later_wrap_up_and_a_removed_queue(database, day):
    reports, (ann, _), played = day
    writer = reports.writer
    # A queue no longer configured is read with the default objective, not an error.
    assert writer.objective("gone").seconds == 20
    # A wrap-up filed late moves the handle time; the count of conversations stays.
    calls = CallService(database, InMemoryBus(), FixedClock(DAY), on_change=writer.call_changed)
    span = Span(date(2026, 3, 2), date(2026, 3, 2), SHANGHAI)
    before = _by(await reports.service(span, Period.DAY, Group.AGENT))[str(ann)]
    calls.clock.set(DAY.replace(hour=11))  # type: ignore[attr-defined]
    await calls.wrap_up(played["f"].id, code="resolved", notes="")
    after = _by(await reports.service(span, Period.DAY, Group.AGENT))[str(ann)]
    assert after["handled"] == before["handled"] == 2
    assert after["wrap_up"] > before["wrap_up"]


async def test_customers_by_source_region_and_first_contact(day):
    reports, _, _ = day
    span = Span(date(2026, 3, 2), date(2026, 3, 2), SHANGHAI)
    rows = await reports.customers(span, Period.DAY)
    assert {r["period"] for r in rows} == {"2026-03-02"}
    counts = {(r["dimension"], r["value"]): r["calls"] for r in rows}
    assert counts[("source", "100")] == 5 and counts[("source", "200")] == 2
    assert counts[("region", "CN")] == 4 and counts[("region", "US")] == 2
    assert counts[("region", "")] == 1  # the withheld number
    # The first call from +8613800138000 made the profile; its three others returned.
    assert counts[("customer", "new")] == 3 and counts[("customer", "returning")] == 3
    assert counts[("customer", "anonymous")] == 1


async def test_an_instant_just_before_a_half_hour_stays_in_it(database):
    """SQLite's date functions round to the millisecond; the rebuild must not."""
    writer = ReportWriter(database, OBJECTIVES.__getitem__)
    boundary = DAY.replace(hour=9, minute=30).timestamp()
    task = Task(id="chat-9", queue="support", channel="chat")
    data = {"outcome": "abandoned", "waited": 10.0, "agent_id": None, "position": 1, "to": None}
    await writer.visit(task, boundary - 10.0004, data)
    await writer.close()
    live = await _tables(database)
    await database.write(rollup.rebuild)
    assert await _tables(database) == live
    assert [row["bucket"] for row in live[QUEUE_HALF_HOURS.name]] == [int(boundary) // 1800 - 1]
