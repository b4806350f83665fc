"""The one writer of queue visits and rollups: batched like the call records.

Routing calls `visit` as each visit ends (a direct hook: exactly once per visit, in the
process that routed it) and the call service calls `call_changed` with a record before
and after each change. Both only add to memory; one transaction per `FLUSH_SECONDS`
writes the visits and adds the rollup deltas, and every report flushes first.

Rollups get *deltas* of what a call record contributes (`rollup.handling`): the talk
time reported after the record closed (the caller's and the agent's hang-up run on
separate lanes) or the wrap-up filed minutes later just adds what changed, so whatever
the order of changes the rollup ends equal to a rebuild from the final records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.exc import DataError, IntegrityError

from callcenter.calls.models import Call
from callcenter.db import Database
from callcenter.metrics import ServiceLevel, Tally, VisitOutcome
from callcenter.reports import rollup
from callcenter.reports.buckets import bucket_of
from callcenter.reports.models import QueueVisitRow
from callcenter.routing.model import Task

log = logging.getLogger(__name__)
FLUSH_SECONDS = 0.5
VISITS = QueueVisitRow.__table__  # type: ignore[attr-defined]


class ReportWriter:
    def __init__(self, db: Database, service_level: Callable[[str], ServiceLevel]) -> None:
        self.db = db
        self._service_level = service_level
        self._visits: list[dict[str, Any]] = []
        self._deltas: dict[rollup.Key, rollup.Measures] = {}
        self._customers: dict[rollup.CustomerKey, int] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def objective(self, queue: str) -> ServiceLevel:
        """The queue's service-level objective now (the default for a queue gone since)."""
        try:
            return self._service_level(queue)
        except KeyError:
            return ServiceLevel()

    async def visit(self, task: Task, entered: float, data: Mapping[str, Any]) -> None:
        """Routing's hook: `task` left its queue (`data` as in the `queue.left` event)."""
        outcome = VisitOutcome(data["outcome"])
        waited = float(data["waited"])
        tally = Tally()
        tally.count(outcome, waited, self.objective(task.queue))
        left = entered + waited
        call_id = task.data.get("call_id")
        self._visits.append({
            "call_id": call_id if isinstance(call_id, int) else None,
            "task_id": task.id, "queue": task.queue, "channel": task.channel,
            "entered_at": _utc(entered), "left_at": _utc(left), "waited": waited,
            "outcome": str(outcome), "agent_id": data.get("agent_id"),
            "position": data.get("position"), "overflow_to": data.get("to"),
            "answered_in_time": bool(tally.answered_in_time),
            "short_abandoned": bool(tally.short_abandoned),
        })  # fmt: skip
        key = rollup.Key(bucket_of(_utc(left)), task.queue, task.channel, data.get("agent_id"))
        rollup.add(self._deltas, key, rollup.visit_measures(tally, waited, data.get("to")))
        self._flush_later()

    def call_changed(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        """The call service's hook: a record changed; its handle time moves with it."""
        old, new = rollup.handling(before), rollup.handling(after)
        if old == new:
            return
        if old is not None:
            rollup.add(self._deltas, *old, sign=-1)
        if new is not None:
            rollup.add(self._deltas, *new)
        self._flush_later()

    def call_started(self, call: Call, customer_class: str | None) -> None:
        """The call service's hook: a call arrived (`customer_class` as it was then,
        None without a profile); an inbound one counts on the customer side."""
        for key in rollup.customer_keys(call, customer_class):
            self._customers[key] = self._customers.get(key, 0) + 1
            self._flush_later()

    def _flush_later(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        try:
            # Shielded: `close` cancelling this sleeper must not cut a write in half.
            await asyncio.shield(self.flush())
        except Exception:
            # Kept for the next try: a database hiccup must not lose the counts.
            log.exception("report rollups not written; retrying in %s s", FLUSH_SECONDS)
            self._flush_later()

    async def flush(self) -> None:
        """Write the visits and rollup changes noted so far, in one transaction."""
        async with self._lock:
            self._flusher = None
            visits, self._visits = self._visits, []
            deltas, self._deltas = self._deltas, {}
            customers, self._customers = self._customers, {}
            if not visits and not deltas and not customers:
                return

            def write(conn: Connection) -> None:
                if visits:
                    conn.execute(insert(VISITS), visits)
                rollup.apply(conn, deltas)
                rollup.apply_customers(conn, customers)

            try:
                # The write runs on the writer thread and commits even if this waiter is
                # cancelled (a report request dropped): never put it back then.
                await asyncio.shield(self.db.write(write))
            except (IntegrityError, DataError):
                # Rows the database refuses (a visit of a call record that is gone, a
                # value too long) would be refused again at every retry while the batch
                # grows: this batch is given up, loudly.
                log.exception("report batch refused (%d visits): not stored", len(visits))
            except Exception:
                self._visits[:0] = visits
                for key, measures in deltas.items():
                    rollup.add(self._deltas, key, measures)
                for customer, calls in customers.items():
                    self._customers[customer] = self._customers.get(customer, 0) + calls
                raise

    async def close(self) -> None:
        """Write what is pending; called when the services stop."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        await self.flush()


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
