"""Time-based automations: "pending for 48 hours -> remind", "solved 7 days -> close".

On every tick (`automation_tick_seconds`) each active automation, in order, looks for
tickets whose field has held its value for at least N hours. The moment the field took
that value is the start of an **episode**; a run row (automation, ticket, episode) is
written before the actions, so an automation applies at most once per episode, even
across restarts. If the field changes and comes back, a new episode begins and the
automation may apply again. Closed tickets are final and never considered.

Time comes from the injected clock, so tests move a `FixedClock` and call `tick()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from callcenter.auth.models import aware
from callcenter.auth.permissions import Principal
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.tasks import TaskSupervisor, every
from callcenter.tickets.access import TICKETS
from callcenter.tickets.actions import ActionRunner
from callcenter.tickets.automation_models import TicketAutomationRun
from callcenter.tickets.rule_store import RuleStore
from callcenter.tickets.rules import AutomationBody, Happening, Since, matches
from callcenter.tickets.service import CHANGES, public

log = logging.getLogger(__name__)

RUNS = TicketAutomationRun.__table__  # type: ignore[attr-defined]
BATCH = 200  # tickets per automation per tick; the rest wait for the next tick


class AutomationScheduler:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        store: RuleStore,
        actions: ActionRunner,
        *,
        tick_seconds: float = 60.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.store = store
        self.actions = actions
        self.tick_seconds = tick_seconds
        self.state = "idle"
        self._tasks = TaskSupervisor("ticket-automations", logger=log)
        self._lock = asyncio.Lock()  # a tick called by hand never overlaps the timer's

    def _set_state(self, state: str) -> None:
        log.info("ticket automations: %s -> %s", self.state, state)
        self.state = state

    async def start(self) -> None:
        if self.state != "idle":
            return
        ticking = every(self.tick_seconds, self.tick, log=log, what="ticket automations: tick")
        self._tasks.spawn(ticking, name="ticket-automations")
        self._set_state("running")

    async def stop(self) -> None:
        if self.state == "stopped":
            return
        self._set_state("stopped")
        await self._tasks.stop()

    async def tick(self) -> int:
        """Apply every automation that is due; how many (automation, ticket) runs."""
        async with self._lock:
            runs = 0
            for row in await self.store.listing(active_only=True):
                rule = AutomationBody.model_validate(
                    {k: row[k] for k in ("name", "position", "active", "conditions", "actions")}
                )
                runs += await self._apply(row, rule)
            return runs

    async def _apply(self, row: Mapping[str, Any], rule: AutomationBody) -> int:
        now = self.clock.now()
        due = await self._due(int(row["id"]), rule.conditions.since, now)
        who = Principal.operator(f"automation:{row['name']}", kind="system")
        runs = 0
        for ticket, since in due:
            if not matches(rule.conditions, Happening(ticket)):
                continue
            if not await self._claim(int(row["id"]), int(ticket["id"]), since, now):
                continue
            done = await self.actions.run(
                ticket, rule.actions, who, cause={"chain": [], "depth": 0},
                event_type="ticket.automation",
                source={"automation_id": row["id"]},
            )  # fmt: skip
            log.info("ticket %s: automation %r: %s", ticket["id"], row["name"], "; ".join(done))
            await self._outcome(int(row["id"]), int(ticket["id"]), since, "; ".join(done))
            runs += 1
        return runs

    async def _due(
        self, automation_id: int, since: Since, now: datetime
    ) -> list[tuple[dict[str, Any], datetime]]:
        """Tickets whose episode began at least `hours` ago and has no run yet."""
        cutoff = now - timedelta(hours=since.hours)
        if since.field == "created":
            start: Any = TICKETS.c.created_at
            query = select(TICKETS, start.label("since"))
        elif since.field == "updated":
            start = TICKETS.c.updated_at
            query = select(TICKETS, start.label("since"))
        else:
            last = (
                select(CHANGES.c.ticket_id, func.max(CHANGES.c.at).label("at"))
                .where(CHANGES.c.field == since.field)
                .group_by(CHANGES.c.ticket_id)
                .subquery()
            )
            # A field set when the ticket was made has no history row: the episode
            # began with the ticket.
            start = func.coalesce(last.c.at, TICKETS.c.created_at)
            query = select(TICKETS, start.label("since")).outerjoin(
                last, last.c.ticket_id == TICKETS.c.id
            )
            if since.value is not None:
                query = query.where(TICKETS.c[since.field] == since.value)
        # Episodes already handled are left out in SQL, so tickets reminded long ago do
        # not come back on every tick; the run's `since` is the very value read here.
        handled = (
            select(RUNS.c.ticket_id)
            .where(RUNS.c.automation_id == automation_id, RUNS.c.ticket_id == TICKETS.c.id,
                   RUNS.c.since == start)
            .exists()
        )  # fmt: skip
        query = query.where(TICKETS.c.status != "closed", start <= cutoff, ~handled)
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(query.order_by(TICKETS.c.id).limit(BATCH))
            return [(public(r), _stamp(r["since"])) for r in rows.mappings()]

    async def _claim(self, automation_id: int, ticket_id: int, since: datetime,
                     now: datetime) -> bool:  # fmt: skip
        def store(conn: Connection) -> bool:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(RUNS).values(
                            automation_id=automation_id, ticket_id=ticket_id, since=since, at=now
                        )
                    )
            except IntegrityError:  # another process claimed this episode first
                return False
            return True

        return await self.db.write(store)

    async def _outcome(self, automation_id: int, ticket_id: int, since: datetime,
                       outcome: str) -> None:  # fmt: skip
        def store(conn: Connection) -> None:
            conn.execute(
                RUNS.update()
                .where(RUNS.c.automation_id == automation_id, RUNS.c.ticket_id == ticket_id,
                       RUNS.c.since == since)
                .values(outcome=outcome[:200])
            )  # fmt: skip

        await self.db.write(store)


def _stamp(value: Any) -> datetime:
    """Times read back from SQLite come naive or as text; one comparable aware value."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    stamped = aware(value)
    assert stamped is not None
    return stamped
