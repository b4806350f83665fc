"""A small floor's day for report tests: calls and their queue visits, played through
the real call service and report writer (the hooks the server wires), on a set clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from callcenter.auth.models import User
from callcenter.calls.models import Call
from callcenter.calls.service import CallService, NewCall
from callcenter.clock import FixedClock
from callcenter.db import Database
from callcenter.metrics import ServiceLevel
from callcenter.reports.writer import ReportWriter
from callcenter.routing.model import Task, call_task_id

# support: 80/20 with abandons counted; sales: 90 % in 20 s, abandons ignored.
OBJECTIVES = {
    "support": ServiceLevel(20, 0.8, "counted", 5),
    "sales": ServiceLevel(20, 0.9, "ignored", 5),
}
DAY = datetime(2026, 3, 2, tzinfo=UTC)


async def seed_agents(db: Database, names: list[str]) -> list[int]:
    """Users to answer calls (call records point at them)."""

    def write(conn: Any) -> list[int]:
        table = User.__table__  # type: ignore[attr-defined]
        ids = []
        for name in names:
            row = {"username": name, "display_name": name.title(), "role": "agent",
                   "password_hash": "x", "extra_permissions": [], "revoked_permissions": [],
                   "created_at": DAY}  # fmt: skip
            ids.append(conn.execute(insert(table).values(row).returning(table.c.id)).scalar_one())
        return ids

    return await db.write(write)


@dataclass
class Floor:
    calls: CallService
    writer: ReportWriter
    clock: FixedClock
    number: int = 0

    async def call(self, at: datetime, caller: str = "+8613800138000", dialed: str = "100") -> Call:
        self.clock.set(at)
        self.number += 1
        new = NewCall(f"chan-{self.number}-{at.timestamp()}", caller, "", dialed)
        call = await self.calls.start(new)
        await self.calls.answered(call.id or 0)
        return call

    async def visit(
        self, call: Call, queue: str, waited: float, outcome: str, *,
        agent_id: int | None = None, to: str | None = None, position: int | None = None,
    ) -> None:  # fmt: skip
        """The call waits `waited` seconds in `queue` from now, and leaves as `outcome`."""
        entered = self.clock.now()
        self.clock.advance(timedelta(seconds=waited))
        task = Task(id=call_task_id(call.id or 0), queue=queue, data={"call_id": call.id})
        data = {"outcome": outcome, "waited": waited, "agent_id": agent_id,
                "position": position, "to": to}  # fmt: skip
        await self.writer.visit(task, entered.timestamp(), data)
        abandoned = outcome == "abandoned"
        await self.calls.queue_left(
            call.id or 0, queue=queue, seconds=waited, abandoned=abandoned, position=position
        )

    async def talk(self, call: Call, agent_id: int, talk: float, hold: float = 0.0) -> None:
        await self.calls.connected(call.id or 0, agent_id, ring_seconds=2.0)
        self.clock.advance(timedelta(seconds=talk + hold))
        if hold:
            await self.calls.held(call.id or 0, seconds=hold)
        await self.calls.talk_ended(call.id or 0, seconds=talk, by="agent")

    async def end(self, call: Call) -> None:
        await self.calls.end(call.id or 0, cause=16, cause_text="Normal Clearing", ended_by="agent")

    async def wrap_up(self, call: Call, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        await self.calls.wrap_up(call.id or 0, code="resolved", notes="")


async def play_day(floor: Floor, agents: list[int]) -> dict[str, Call]:
    """Seven calls on 2026-03-02 between 09:00 and 10:05 UTC (17:00-18:05 in Shanghai)."""
    first, second = agents[0], agents[1]
    at = DAY.replace(hour=9)
    calls = {}
    # A: support, answered after 12 s, 100 s talk and 20 s hold, 30 s of wrap-up.
    calls["a"] = a = await floor.call(at)
    await floor.visit(a, "support", 12, "answered", agent_id=first)
    await floor.talk(a, first, 100, hold=20)
    await floor.end(a)
    await floor.wrap_up(a, 30)
    # B: gives up after 3 s: a short abandon. C: after 45 s, third in line.
    calls["b"] = b = await floor.call(at + timedelta(minutes=10), caller="+14155550100")
    await floor.visit(b, "support", 3, "abandoned", position=1)
    await floor.end(b)
    calls["c"] = c = await floor.call(at + timedelta(minutes=20), caller="+14155550101")
    await floor.visit(c, "support", 45, "abandoned", position=3)
    await floor.end(c)
    # D: sales sends it to a callback after 30 s.
    calls["d"] = d = await floor.call(at + timedelta(minutes=40), dialed="200")
    await floor.visit(d, "sales", 30, "overflowed", to="callback")
    await floor.end(d)
    # E: sales, answered after 25 s (late for 20 s); the talk is reported after the
    # record closed (caller and agent hang-ups run on separate lanes); no wrap-up form.
    calls["e"] = e = await floor.call(at + timedelta(minutes=60), dialed="200")
    await floor.visit(e, "sales", 25, "answered", agent_id=second)
    await floor.calls.connected(e.id or 0, second, ring_seconds=1.0)
    floor.clock.advance(timedelta(seconds=60))
    await floor.end(e)
    await floor.calls.talk_ended(e.id or 0, seconds=60, by="caller")
    # F: support overflows to sales after 60 s; answered there after 5 s by the first.
    calls["f"] = f = await floor.call(at + timedelta(minutes=62))
    await floor.visit(f, "support", 60, "overflowed", to="queue:sales")
    await floor.visit(f, "sales", 5, "answered", agent_id=first)
    await floor.talk(f, first, 50)
    await floor.end(f)
    # G: a withheld number that hangs up in the IVR: no visit, an anonymous customer.
    calls["g"] = g = await floor.call(at + timedelta(minutes=50), caller="")
    await floor.end(g)
    return calls
