"""The SLA scheduler: applies the stored policies to tickets, keeps each ticket's clocks
in `ticket_sla_metrics`, and emits every warning and breach once (docs/sla.md).

Two ways in, both serialised by one lock:

* a ticket's own events (`ticket.*` on the bus, except the scheduler's `ticket.sla_*`):
  the ticket's history is read back and replayed (`sla.evaluate`) under the policy its
  priority and type select now;
* ticks, every `tick_seconds`: every open ticket is judged again without its history
  (`sla.refresh`, ~8 µs a ticket); only tickets whose clocks changed status are written.

A warning or breach goes out when the clock's state has one that was not sent yet; the
"sent" marks are stored with the clock, so a re-evaluation, a priority change or a
restart never repeats one. A breach of a clock still running carries out the policy's
`on_breach` actions: raising the priority, moving the ticket to a group (unassigned);
`notify:` actions are carried by the event itself, which supervisors see on /ws/events.

Tests drive it with a `FixedClock`, `tick()` and `settle()` (the bus drained).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, delete, insert, select

from callcenter.auth.permissions import Principal
from callcenter.events import Event, Subscription
from callcenter.tasks import TaskSupervisor, every
from callcenter.tickets.access import ALL_TICKETS, TICKETS
from callcenter.tickets.calendars import Calendar
from callcenter.tickets.fields import TicketChange
from callcenter.tickets.models import TicketComment, TicketEvent, TicketGroup
from callcenter.tickets.sla import MetricState, TicketSla, evaluate, refresh
from callcenter.tickets.sla_config import (
    ConfigError,
    StoredPolicy,
    check_calendar,
    check_policy,
    choose_policy,
    parse_action,
    raised,
)
from callcenter.tickets.sla_history import COMMENT, history
from callcenter.tickets.sla_models import SlaCalendar, SlaPolicyRow, TicketSlaMetric, TicketSlaRow

if TYPE_CHECKING:
    from callcenter.tickets.service import TicketService

log = logging.getLogger(__name__)

CALENDARS = SlaCalendar.__table__  # type: ignore[attr-defined]
POLICIES = SlaPolicyRow.__table__  # type: ignore[attr-defined]
STATES = TicketSlaRow.__table__  # type: ignore[attr-defined]
METRICS = TicketSlaMetric.__table__  # type: ignore[attr-defined]
CHANGES = TicketEvent.__table__  # type: ignore[attr-defined]
COMMENTS = TicketComment.__table__  # type: ignore[attr-defined]
GROUPS = TicketGroup.__table__  # type: ignore[attr-defined]

DONE = ("solved", "closed")  # no clock runs; an event (a reopen) evaluates it again
SYSTEM = Principal.operator("sla", kind="system")
_SETTLE_SECONDS = 10.0
_GATHER_SECONDS = 0.05
_CHUNK = 500  # ids per IN (...): SQLite's bound-parameter limit
State = Literal["idle", "starting", "running", "stopping", "stopped"]
Sent = dict[tuple[str, int], list[bool]]  # (metric, cycle) -> [warning sent, breach sent]


@dataclass
class _Tracked:
    """An open ticket under a policy, as last judged."""

    sla: TicketSla
    calendar: Calendar
    policy_id: int
    group_id: int
    priority: str
    sent: Sent = field(default_factory=dict)


@dataclass(frozen=True)
class _Due:
    ticket: int
    group_id: int
    policy_id: int
    kind: Literal["warning", "breach"]
    state: MetricState
    running: bool


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


class SlaScheduler:
    """A long-lived component: `start()` subscribes and starts its tasks, the first of
    which loads the configuration and judges every open ticket, then events and ticks
    are handled; `stop()` (idempotent) awaits what it started."""

    def __init__(self, tickets: TicketService, *, tick_seconds: float = 30.0) -> None:
        """`tickets` makes the escalations' changes, as any other change is made."""
        self.db = tickets.db
        self.bus = tickets.bus
        self.clock = tickets.clock
        self.tick_seconds = tick_seconds
        self.tickets = tickets
        self.state: State = "idle"
        self._tasks = TaskSupervisor("sla")
        self._lock = asyncio.Lock()
        self._started = asyncio.Event()
        self._sub: Subscription | None = None
        self._listening = False  # waiting on an empty subscription
        # Tickets with events not judged yet: the listener adds, the worker takes them all
        # at once, so a burst of events costs one transaction, not one each.
        self._dirty: set[int] = set()
        self._wake = asyncio.Event()
        self._working = False
        self._calendars: dict[str, Calendar] = {}
        self._policies: list[StoredPolicy] = []
        self._open: dict[int, _Tracked] = {}

    def _set_state(self, state: State) -> None:
        log.info("sla scheduler: %s -> %s", self.state, state)
        self.state = state

    @property
    def tracked(self) -> int:
        """Open tickets under a policy, refreshed at each tick."""
        return len(self._open)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.state != "idle":
            await self._started.wait()  # a second caller waits for the first
            return
        self._set_state("starting")
        # Subscribed before the first evaluation: an event arriving meanwhile is handled
        # after it, never lost.
        self._sub = self.bus.subscribe("ticket.", maxsize=10_000)
        self._working = True  # the first judgement of every open ticket, in `_work`
        self._tasks.spawn(self._listen(), name="sla-events")
        self._tasks.spawn(self._work(), name="sla-evaluate")
        ticking = every(self.tick_seconds, self.tick, log=log, what="sla: tick")
        self._tasks.spawn(ticking, name="sla-ticks")
        self._set_state("running")
        self._started.set()

    async def stop(self) -> None:
        if self.state in ("stopping", "stopped"):
            return
        self._set_state("stopping")
        await self._tasks.stop()
        if self._sub is not None:
            self._sub.close()
        self._set_state("stopped")
        self._started.set()

    async def settle(self) -> None:
        """Return once every event already published has been handled (tests, bench)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + _SETTLE_SECONDS
        while loop.time() < until:
            if self._idle():
                # A put wakes the listener on the next loop iteration: look twice.
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                if self._idle():
                    return
            await asyncio.sleep(0.005)
        raise TimeoutError("the SLA scheduler did not settle")

    def _idle(self) -> bool:
        return self._listening and not self._dirty and not self._working and not self._lock.locked()

    async def _listen(self) -> None:
        assert self._sub is not None
        while True:
            self._listening = True
            event = await self._sub.get()
            self._listening = False
            if event.type.startswith("ticket.sla_"):
                continue  # our own: they change no clock
            ticket_id = event.data.get("id")
            if isinstance(ticket_id, int):
                self._dirty.add(ticket_id)
                self._wake.set()

    async def _work(self) -> None:
        # In the background: with 100k open tickets this takes seconds, and the server
        # should answer meanwhile. Events that arrive are judged right after.
        try:
            await self.reload()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sla: judging the open tickets at start failed")
        finally:
            self._working = False
        while True:
            await self._wake.wait()
            # Clocks count minutes: a moment's wait gathers a burst's tickets into one
            # transaction instead of one each (at 200 requests/s, 20 instead of 200).
            await asyncio.sleep(_GATHER_SECONDS)
            self._wake.clear()
            ids, self._dirty = self._dirty, set()
            self._working = True
            try:
                await self.evaluate(ids)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sla: evaluating tickets %s failed", sorted(ids)[:20])
            finally:
                self._working = False

    # ------------------------------------------------------------------ configuration

    async def reload(self) -> None:
        """Read calendars and policies again and judge every open ticket under them
        (after an admin change; at start)."""
        async with self.db.engine.connect() as conn:
            calendars = (await conn.execute(select(CALENDARS))).mappings().all()
            policies = (await conn.execute(select(POLICIES))).mappings().all()
            groups = (await conn.execute(select(GROUPS.c.name))).scalars().all()
        built: dict[str, Calendar] = {}
        for row in calendars:
            try:
                built[row["name"]] = check_calendar(row["name"], row["definition"])
            except ConfigError as exc:  # stored before a rule changed: skip, say why
                log.error("sla: calendar %r unusable: %s", row["name"], exc)
        stored = []
        for row in policies:
            try:
                policy = check_policy(row["name"], row["definition"], calendars=built,
                                      groups=groups)  # fmt: skip
            except ConfigError as exc:
                log.error("sla: policy %r unusable: %s", row["name"], exc)
                continue
            stored.append(StoredPolicy(row["id"], row["position"], tuple(row["priorities"]),
                                       tuple(row["types"]), policy))  # fmt: skip
        async with self.db.engine.connect() as conn:
            query = select(TICKETS.c.id).where(TICKETS.c.status.not_in(DONE))
            open_ids = list((await conn.execute(query)).scalars())
        async with self._lock:
            self._calendars, self._policies = built, stored
            self._open.clear()
            # In chunks: the writer thread (calls' records too) is never held for long.
            for chunk in _chunks(sorted(open_ids)):
                await self._evaluate_chunk(chunk)

    # ------------------------------------------------------------------ evaluation

    async def evaluate(self, ticket_ids: Iterable[int]) -> None:
        """Replay these tickets' histories now (after their events)."""
        ids = sorted(set(ticket_ids))
        async with self._lock:
            for chunk in _chunks(ids):
                await self._evaluate_chunk(chunk)

    async def _evaluate_chunk(self, ids: list[int]) -> None:
        """Read, replay and store in one transaction on the writer thread: one hand-off
        for the loop (the async driver costs several per statement)."""
        now = self.clock.now()
        policies, calendars = self._policies, self._calendars

        def work(conn: Connection) -> tuple[list[_Judged], list[_Due]]:
            judged = _judge(_read(conn, TICKETS.c.id.in_(ids)), policies, calendars, now)
            # What falls due is marked sent before the marks are stored with the clocks.
            due = [
                d
                for ticket, stored, sla, marks in judged
                if stored is not None and sla is not None
                for d in _due(ticket["id"], ticket["group_id"], stored.id, sla, marks)
            ]
            _store(conn, judged, now)
            return judged, due

        judged, due = await self.db.write(work)
        for ticket, stored, sla, marks in judged:
            tid = ticket["id"]
            if stored is not None and sla is not None and ticket["status"] not in DONE:
                self._open[tid] = _Tracked(sla, calendars[stored.policy.calendar], stored.id,
                                           ticket["group_id"], ticket["priority"],
                                           marks)  # fmt: skip
            else:
                self._open.pop(tid, None)
        await self._announce(due)

    async def tick(self) -> int:
        """Judge every open ticket at the clock's now; store the clocks that changed
        status and emit what fell due. The number of tickets whose clocks changed."""
        async with self._lock:
            now = self.clock.now()
            changed: list[tuple[int, TicketSla, Sent]] = []
            due: list[_Due] = []
            for tid, tracked in self._open.items():
                old = tracked.sla
                try:
                    fresh = refresh(old, tracked.calendar, now)
                except ValueError:  # the clock went back: wait for it
                    continue
                tracked.sla = fresh
                if any(a.status != b.status for a, b in zip(old.metrics, fresh.metrics,
                                                            strict=True)):  # fmt: skip
                    found = _due(tid, tracked.group_id, tracked.policy_id, fresh, tracked.sent)
                    due += found
                    changed.append((tid, fresh, tracked.sent))
            if changed:
                await self.db.write(lambda conn: _store_ticked(conn, changed))
            await self._announce(due)
            return len(changed)

    # ------------------------------------------------------------------ events

    async def _announce(self, due: list[_Due]) -> None:
        """Publish warnings and breaches (their marks are already stored), then escalate."""
        due.sort(key=lambda d: (d.state.breached_ts if d.kind == "breach" else d.state.warning_ts)
                 or 0.0)  # fmt: skip
        for d in due:
            state = d.state
            data: dict[str, Any] = {"id": d.ticket, "group_id": d.group_id,
                                    "policy_id": d.policy_id, "metric": state.metric.value,
                                    "cycle": state.cycle}  # fmt: skip
            if d.kind == "warning":
                data["due_at"] = _iso(state.deadline_ts)
                await self.bus.publish(Event("ticket.sla_warning", data))
            else:
                policy = self._policy(d.policy_id)
                data["breached_at"] = _iso(state.breached_ts)
                data["actions"] = list(policy.policy.on_breach) if policy else []
                await self.bus.publish(Event("ticket.sla_breached", data))
                if d.running and policy is not None:
                    await self._escalate(d.ticket, policy)

    def _policy(self, policy_id: int) -> StoredPolicy | None:
        return next((p for p in self._policies if p.id == policy_id), None)

    async def _escalate(self, ticket_id: int, stored: StoredPolicy) -> None:
        """The breach's actions on the ticket, as the system: the change is an ordinary
        ticket update (history row, `ticket.updated`), so it is judged again after."""
        change: dict[str, Any] = {}
        tracked = self._open.get(ticket_id)
        priority = tracked.priority if tracked else None
        for word in stored.policy.on_breach:
            action = parse_action(word)
            if action.kind == "priority" and priority is not None:
                if (higher := raised(priority, action.value)) is not None:
                    change["priority"] = priority = higher
            elif action.kind == "group":
                async with self.db.engine.connect() as conn:
                    group = (await conn.execute(
                        select(GROUPS.c.id).where(GROUPS.c.name == action.value)
                    )).scalar()  # fmt: skip
                if group is not None and (tracked is None or tracked.group_id != group):
                    change.update(group_id=group, assignee_id=None)
        if not change:
            return
        try:
            await self.tickets.update(ticket_id, TicketChange(**change), SYSTEM, ALL_TICKETS)
        except Exception:
            log.exception("sla: escalating ticket %s (%s) failed", ticket_id, change)


def _iso(ts: float | None) -> str | None:
    at = _utc(ts)
    return at.isoformat() if at is not None else None


def _due(ticket: int, group_id: int, policy_id: int, sla: TicketSla, sent: Sent) -> list[_Due]:
    """What this judgement owes: warnings and breaches not sent yet, marked as sent
    here (the caller stores the marks before publishing). A warning for a clock that
    stopped first, or that comes with its breach at one instant, is only marked."""
    found = []
    for state in sla.metrics:
        marks = sent.setdefault((state.metric.value, state.cycle), [False, False])
        warned, breached = state.warning_ts, state.breached_ts
        if warned is not None and not marks[0]:
            marks[0] = True
            if state.running and (breached is None or warned < breached):
                found.append(_Due(ticket, group_id, policy_id, "warning", state, state.running))
        if breached is not None and not marks[1]:
            marks[1] = True
            found.append(_Due(ticket, group_id, policy_id, "breach", state, state.running))
    return found


_Judged = tuple[dict[str, Any], StoredPolicy | None, TicketSla | None, Sent]
_Read = tuple[list[dict[str, Any]], dict[int, list[Any]], dict[int, Any], dict[int, Sent]]


def _read(conn: Connection, condition: Any) -> _Read:
    """The tickets matching `condition`: their rows, history rows, comments (who wrote
    them, whether public, whether a merge's copy) and sent marks."""
    ids = select(TICKETS.c.id).where(condition)
    comment_cols = [COMMENTS.c.id, COMMENTS.c.public, COMMENTS.c.author_customer_id,
                    COMMENTS.c.copied_from_id]  # fmt: skip
    tickets = [
        dict(r)
        for r in conn.execute(
            select(TICKETS.c.id, TICKETS.c.type, TICKETS.c.priority, TICKETS.c.status,
                   TICKETS.c.group_id, TICKETS.c.created_at).where(condition)
        ).mappings()
    ]  # fmt: skip
    changes: dict[int, list[Any]] = {}
    rows = conn.execute(
        select(CHANGES.c.ticket_id, CHANGES.c.field, CHANGES.c.at, CHANGES.c.old, CHANGES.c.new)
        .where(CHANGES.c.ticket_id.in_(ids), CHANGES.c.field.in_(("status", "priority", COMMENT)))
        .order_by(CHANGES.c.id)
    )
    for row in rows.mappings():
        changes.setdefault(row["ticket_id"], []).append(row)
    found = conn.execute(select(*comment_cols).where(COMMENTS.c.ticket_id.in_(ids)))
    comments = {row["id"]: row for row in found.mappings()}
    sent: dict[int, Sent] = {}
    marks = conn.execute(
        select(METRICS.c.ticket_id, METRICS.c.metric, METRICS.c.cycle, METRICS.c.warning_sent,
               METRICS.c.breach_sent).where(METRICS.c.ticket_id.in_(ids))
    )  # fmt: skip
    for row in marks.mappings():
        sent.setdefault(row["ticket_id"], {})[(row["metric"], row["cycle"])] = [
            bool(row["warning_sent"]),
            bool(row["breach_sent"]),
        ]
    return tickets, changes, comments, sent


def _judge(
    read: _Read, policies: list[StoredPolicy], calendars: dict[str, Calendar], now: datetime
) -> list[_Judged]:
    """Each ticket under the policy it falls under now, its history replayed."""
    tickets, changes, comments, sent = read
    judged: list[_Judged] = []
    for ticket in tickets:
        tid = ticket["id"]
        stored = choose_policy(policies, ticket["priority"], ticket["type"])
        sla = None
        if stored is not None:
            events = history(ticket, changes.get(tid, ()), comments)
            sla = evaluate(events, stored.policy, calendars[stored.policy.calendar], now)
        judged.append((ticket, stored, sla, sent.get(tid, {})))
    return judged


def _row(ticket_id: int, state: MetricState, marks: list[bool]) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "metric": state.metric.value,
        "cycle": state.cycle,
        "status": state.status.value,
        "target_seconds": state.target,
        "elapsed_seconds": state.elapsed,
        "started_at": _utc(state.started_ts),
        "due_at": _utc(state.deadline_ts),
        "warning_at": _utc(state.warning_ts),
        "breached_at": _utc(state.breached_ts),
        "achieved_at": _utc(state.achieved_ts),
        "warning_sent": marks[0],
        "breach_sent": marks[1],
    }


def _store(conn: Connection, judged: list[_Judged], now: datetime) -> None:
    """Replace the judged tickets' clocks and policy."""
    ids = [ticket["id"] for ticket, *_ in judged]
    for chunk in _chunks(ids):
        conn.execute(delete(METRICS).where(METRICS.c.ticket_id.in_(chunk)))
        conn.execute(delete(STATES).where(STATES.c.ticket_id.in_(chunk)))
    if not judged:
        return
    conn.execute(insert(STATES), [
        {"ticket_id": ticket["id"], "policy_id": stored.id if stored else None,
         "evaluated_at": now}
        for ticket, stored, _, _ in judged
    ])  # fmt: skip
    rows = [
        _row(ticket["id"], state, marks.setdefault((state.metric.value, state.cycle),
                                                   [False, False]))
        for ticket, _, sla, marks in judged
        if sla is not None
        for state in sla.metrics
    ]  # fmt: skip
    if rows:
        conn.execute(insert(METRICS), rows)


def _store_ticked(conn: Connection, changed: list[tuple[int, TicketSla, Sent]]) -> None:
    ids = [tid for tid, _, _ in changed]
    for chunk in _chunks(ids):
        conn.execute(delete(METRICS).where(METRICS.c.ticket_id.in_(chunk)))
    conn.execute(insert(METRICS), [
        _row(tid, state, sent.setdefault((state.metric.value, state.cycle), [False, False]))
        for tid, sla, sent in changed
        for state in sla.metrics
    ])  # fmt: skip
