"""SLA clocks of a ticket, computed from its history (docs/sla.md says the same in words).

Three metrics, each a clock of business time (the policy's calendar) against a target
in business minutes picked by the ticket's priority and type:

* first response: starts when the ticket is created, achieved by the first public
  agent reply;
* next response: starts at a customer reply that follows an agent's public reply
  (a new cycle each time), achieved by the next public agent reply;
* resolution: starts when the ticket is created, achieved when it is solved; a reopen
  (customer reply or status back to open) resumes it with the time already counted.

Common to all (as Zendesk does it): every clock pauses while the ticket is pending or
on hold and resumes when it is open again; solving or closing the ticket stops the
clocks still running (a solve answers the customer too); a closed ticket is final, its
later events are ignored. A customer reply to a pending or solved ticket makes it open
again. A priority change re-targets the clocks still running from that moment: their
elapsed time is kept and compared with the new target; a clock already past the new
target breaches at the change (never in the past, when the old target still held).

A clock's warning falls due when the elapsed time reaches the policy's `warn_before`
point (a share of the target, or N minutes before it), its breach when the elapsed
time reaches the target. An event at the very instant of the deadline comes first: a
reply at 10:00:00 against a 10:00:00 deadline meets it.

Pure functions of (history, policy, calendar, now): the service stores events, a
scheduler calls `evaluate` and `due_events` to emit each warning and breach once.
Times inside are epoch seconds (fast for 100k tickets); `MetricState` gives datetimes
in the calendar's zone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from callcenter.tickets.calendars import Calendar, explain, timestamp


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer: clocks pause
    ON_HOLD = "on_hold"  # waiting on a third party: clocks pause
    SOLVED = "solved"
    CLOSED = "closed"


PAUSING = frozenset({Status.PENDING, Status.ON_HOLD})
ENDING = frozenset({Status.SOLVED, Status.CLOSED})


class EventKind(StrEnum):
    CREATED = "created"  # carries status (default new), priority and type
    AGENT_REPLY = "agent_reply"  # a public reply; internal notes are not events here
    CUSTOMER_REPLY = "customer_reply"
    STATUS = "status"  # carries status
    PRIORITY = "priority"  # carries priority


class Metric(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class MetricStatus(StrEnum):
    ACTIVE = "active"  # running, warning not yet due
    WARNING = "warning"  # running, warning due, not breached
    PAUSED = "paused"
    ACHIEVED = "achieved"  # stopped within target
    BREACHED = "breached"  # went past target (running or stopped since)


@dataclass(frozen=True, slots=True)
class TicketEvent:
    at: datetime
    kind: EventKind
    status: Status | None = None
    priority: str | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Targets:
    """Business minutes per metric; None: that metric is not tracked."""

    first_response: float | None = None
    next_response: float | None = None
    resolution: float | None = None

    def __post_init__(self) -> None:
        for metric in Metric:
            minutes = self.minutes(metric)
            if minutes is not None and minutes <= 0:
                raise ValueError(f"{metric.value}: a target must be > 0 minutes")

    def minutes(self, metric: Metric) -> float | None:
        value: float | None = getattr(self, metric.value)
        return value


@dataclass(frozen=True, slots=True)
class WarnBefore:
    """When the warning falls due: `percent` of the target used (80: at 80 %), or
    `minutes` of business time before the breach. Exactly one of the two."""

    percent: float | None = None
    minutes: float | None = None

    def __post_init__(self) -> None:
        if (self.percent is None) == (self.minutes is None):
            raise ValueError("warn_before needs exactly one of percent or minutes")
        if self.percent is not None and not 0 < self.percent < 100:
            raise ValueError("warn_before percent must be between 0 and 100")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError("warn_before minutes must be > 0")

    def point(self, target: float) -> float:
        """Elapsed business seconds at which the warning falls due (0: no warning,
        when `minutes` is as long as the target itself)."""
        if self.percent is not None:
            return target * self.percent / 100
        return max(0.0, target - (self.minutes or 0.0) * 60)


Key = tuple[str | None, str | None]
Limit = tuple[float, float]  # target and warning point, business seconds (-1: no warning)


@dataclass(frozen=True)
class SlaPolicy:
    """Targets by (priority, type), None meaning any; `default` when nothing matches.

    The most specific entry wins: (priority, type), then (priority, None), then
    (None, type), then the default. `calendar` names the business-hours calendar;
    `on_warning` / `on_breach` are the escalation actions the scheduler carries out
    (e.g. "notify:team-lead", "priority:urgent"); the engine only says when.
    """

    name: str
    calendar: str
    default: Targets
    targets: Mapping[Key, Targets] = field(default_factory=dict)
    warn_before: WarnBefore = WarnBefore(percent=80)
    on_warning: tuple[str, ...] = ()
    on_breach: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_limits", {})

    def limits(self, priority: str | None, type: str | None) -> dict[Metric, Limit]:
        """(target, warning point) in business seconds for the metrics tracked, cached:
        100k tickets share a handful of (priority, type) pairs."""
        cache: dict[Key, dict[Metric, Limit]] = self._limits  # type: ignore[attr-defined]
        found = cache.get((priority, type))
        if found is None:
            targets = self.targets_for(priority, type)
            found = {}
            for metric in Metric:
                minutes = targets.minutes(metric)
                if minutes is not None:
                    target = minutes * 60
                    warn = self.warn_before.point(target)
                    found[metric] = (target, warn if 0 < warn < target else -1.0)
            cache[(priority, type)] = found
        return found

    def targets_for(self, priority: str | None, type: str | None) -> Targets:
        targets = self.targets
        for key in ((priority, type), (priority, None), (None, type)):
            found = targets.get(key)
            if found is not None:
                return found
        return self.default


class MetricState(NamedTuple):
    """One clock at evaluation time. Seconds are business seconds; `*_ts` epoch seconds.
    (A named tuple: immutable and five times cheaper to build than a frozen dataclass,
    which counts at 100k tickets.)

    `deadline` is when the clock breaches if it runs on from now (for a stopped clock:
    as it stood when it stopped while running; a breached one: its breach); None while
    paused, since it depends on when the ticket is open again.
    """

    metric: Metric
    cycle: int  # 1 for first response and resolution; 1, 2, … for next-response cycles
    status: MetricStatus
    target: float
    warn: float  # elapsed business seconds at which the warning falls due (-1: none)
    elapsed: float
    started_ts: float
    deadline_ts: float | None
    warning_ts: float | None
    breached_ts: float | None
    achieved_ts: float | None
    zone: ZoneInfo
    running: bool  # counting now (a breached clock counts on until it stops)

    @property
    def remaining(self) -> float:
        """Business seconds left; negative past the target."""
        return self.target - self.elapsed

    @property
    def met(self) -> bool | None:
        """True achieved in time, False breached, None still running within target."""
        if self.breached_ts is not None:
            return False
        return True if self.achieved_ts is not None else None

    @property
    def started_at(self) -> datetime:
        return datetime.fromtimestamp(self.started_ts, self.zone)

    @property
    def deadline(self) -> datetime | None:
        return self._dt(self.deadline_ts)

    @property
    def warning_at(self) -> datetime | None:
        return self._dt(self.warning_ts)

    @property
    def breached_at(self) -> datetime | None:
        return self._dt(self.breached_ts)

    @property
    def achieved_at(self) -> datetime | None:
        return self._dt(self.achieved_ts)

    def _dt(self, ts: float | None) -> datetime | None:
        return None if ts is None else datetime.fromtimestamp(ts, self.zone)


class TicketSla(NamedTuple):
    policy: SlaPolicy
    status: Status
    priority: str | None
    metrics: tuple[MetricState, ...]
    evaluated_ts: float  # the `now` it was evaluated at, epoch seconds

    def get(self, metric: Metric) -> MetricState | None:
        """The metric's latest clock (the current next-response cycle)."""
        for state in reversed(self.metrics):
            if state.metric == metric:
                return state
        return None


class _Clock:
    __slots__ = (
        "achieved",
        "breached",
        "cycle",
        "elapsed",
        "metric",
        "run_at",
        "run_from",
        "started",
        "stop_deadline",
        "stopped",
        "target",
        "warn",
        "warned",
    )

    def __init__(self, metric: Metric, cycle: int, started: float, target: float) -> None:
        self.metric = metric
        self.cycle = cycle
        self.started = started
        self.target = target
        self.warn = 0.0
        self.elapsed = 0.0
        self.run_from: float | None = None  # business seconds (calendar) when it last ran
        self.run_at = started  # the instant it last ran from
        self.stopped = False
        self.stop_deadline: float | None = None
        self.achieved: float | None = None
        self.warned: float | None = None
        self.breached: float | None = None


class _Run:
    """One evaluation: the ticket's state walked through its history."""

    __slots__ = (
        "agent_replied",
        "awaiting_agent",
        "calendar",
        "clocks",
        "cycles",
        "first",
        "next",
        "policy",
        "priority",
        "resolution",
        "status",
        "type",
    )

    def __init__(self, policy: SlaPolicy, calendar: Calendar) -> None:
        self.policy = policy
        self.calendar = calendar
        self.clocks: list[_Clock] = []
        self.first: _Clock | None = None
        self.next: _Clock | None = None
        self.resolution: _Clock | None = None
        self.status = Status.NEW
        self.priority: str | None = None
        self.type: str | None = None
        self.agent_replied = False
        self.awaiting_agent = True
        self.cycles = 0

    def advance(self, cum: float, ts: float, final: bool) -> None:
        """Count business time up to (cum, ts); warnings and breaches met on the way.

        Between events a threshold counts when passed (>), at `now` when reached (>=):
        an event at the threshold's instant comes before it."""
        calendar = self.calendar
        for clock in self.clocks:
            start = clock.run_from
            if start is None:
                continue
            elapsed = clock.elapsed + (cum - start)
            if clock.breached is None:
                warn = clock.warn
                if (
                    clock.warned is None
                    and clock.elapsed < warn
                    and (elapsed > warn or (final and elapsed >= warn))
                ):
                    at = calendar.instant_at(start + warn - clock.elapsed)
                    clock.warned = max(at, clock.run_at)
                target = clock.target
                if elapsed > target or (final and elapsed >= target):
                    at = calendar.instant_at(start + target - clock.elapsed)
                    clock.breached = max(at, clock.run_at)
            clock.elapsed = elapsed
            clock.run_from = cum
            clock.run_at = ts

    def start(self, metric: Metric, cycle: int, cum: float, ts: float) -> _Clock | None:
        limit = self.policy.limits(self.priority, self.type).get(metric)
        if limit is None:
            return None
        clock = _Clock(metric, cycle, ts, limit[0])
        clock.warn = limit[1]
        if self.status not in PAUSING:
            clock.run_from = cum
        self.clocks.append(clock)
        return clock

    def stop(self, clock: _Clock | None, cum: float, ts: float) -> None:
        if clock is None or clock.stopped:
            return
        if clock.run_from is not None and clock.breached is None:
            clock.stop_deadline = self.calendar.instant_at(cum + clock.target - clock.elapsed)
        clock.stopped = True
        clock.achieved = ts
        clock.run_from = None

    def set_status(self, status: Status, cum: float, ts: float) -> None:
        old = self.status
        if status == old:
            return
        self.status = status
        if status in ENDING:
            for clock in self.clocks:
                self.stop(clock, cum, ts)
            return
        if old == Status.SOLVED and self.resolution is not None:
            # Reopened: resolution goes on with the time it had (full resolution),
            # paused at once when reopened to pending or on hold.
            self.resolution.stopped = False
            self.resolution.achieved = None
            self.resolution.stop_deadline = None
        if status in PAUSING:
            for clock in self.clocks:
                clock.run_from = None
        else:
            for clock in self.clocks:
                if not clock.stopped and clock.run_from is None:
                    clock.run_from = cum
                    clock.run_at = ts

    def retarget(self, priority: str | None, ts: float) -> None:
        self.priority = priority
        limits = self.policy.limits(priority, self.type)
        kept: list[_Clock] = []
        for clock in self.clocks:
            if clock.stopped or clock.breached is not None:
                kept.append(clock)
                continue
            limit = limits.get(clock.metric)
            if limit is None:
                self._forget(clock)  # the new priority does not track this metric
                continue
            clock.target, clock.warn = limit
            if clock.elapsed >= clock.target:
                clock.breached = ts
            elif clock.warned is None and 0 <= clock.warn <= clock.elapsed:
                clock.warned = ts
            kept.append(clock)
        self.clocks = kept

    def _forget(self, clock: _Clock) -> None:
        if clock is self.first:
            self.first = None
        if clock is self.next:
            self.next = None
        if clock is self.resolution:
            self.resolution = None

    def apply(self, event: TicketEvent, cum: float, ts: float) -> None:
        kind = event.kind
        if kind == EventKind.AGENT_REPLY:
            self.stop(self.first, cum, ts)
            self.stop(self.next, cum, ts)
            self.agent_replied = True
            self.awaiting_agent = False
        elif kind == EventKind.CUSTOMER_REPLY:
            if self.status in (Status.PENDING, Status.SOLVED):
                self.set_status(Status.OPEN, cum, ts)
            if self.agent_replied and not self.awaiting_agent:
                self.cycles += 1
                self.next = self.start(Metric.NEXT_RESPONSE, self.cycles, cum, ts)
            self.awaiting_agent = True
        elif kind == EventKind.STATUS:
            if event.status is None:
                raise ValueError("a status event needs a status")
            self.set_status(event.status, cum, ts)
        elif kind == EventKind.PRIORITY:
            self.retarget(event.priority, ts)
        elif kind == EventKind.CREATED:
            raise ValueError("a ticket is created once")

    def create(self, event: TicketEvent, cum: float, ts: float) -> None:
        if event.kind != EventKind.CREATED:
            raise ValueError(f"a history starts with 'created', not {event.kind.value!r}")
        self.status = event.status or Status.NEW
        self.priority, self.type = event.priority, event.type
        self.first = self.start(Metric.FIRST_RESPONSE, 1, cum, ts)
        self.resolution = self.start(Metric.RESOLUTION, 1, cum, ts)

    def states(self, cum: float) -> tuple[MetricState, ...]:
        zone = self.calendar.zone
        states = []
        for clock in self.clocks:
            deadline: float | None
            if clock.breached is not None:
                status, deadline = MetricStatus.BREACHED, clock.breached
            elif clock.stopped:
                status, deadline = MetricStatus.ACHIEVED, clock.stop_deadline
            elif clock.run_from is None:
                status, deadline = MetricStatus.PAUSED, None
            else:
                status = MetricStatus.ACTIVE if clock.warned is None else MetricStatus.WARNING
                deadline = self.calendar.instant_at(cum + clock.target - clock.elapsed)
            states.append(
                MetricState(
                    clock.metric,
                    clock.cycle,
                    status,
                    clock.target,
                    clock.warn,
                    clock.elapsed,
                    clock.started,
                    deadline,
                    clock.warned,
                    clock.breached,
                    clock.achieved,
                    zone,
                    clock.run_from is not None,
                )
            )
        return tuple(states)


def evaluate(
    history: Sequence[TicketEvent], policy: SlaPolicy, calendar: Calendar, now: datetime
) -> TicketSla:
    """The ticket's SLA clocks at `now`, from its events (in time order; an event after
    `now` is not yet known and left out; events at one instant keep their order)."""
    if not history:
        raise ValueError("a ticket's history starts with its 'created' event")
    now_ts = timestamp(now)
    seconds_before = calendar.seconds_before
    run = _Run(policy, calendar)
    first = history[0]
    ts = timestamp(first.at)
    if ts > now_ts:
        raise ValueError("the ticket is created after `now`")
    cum = seconds_before(ts)
    run.create(first, cum, ts)
    last = ts
    for event in history[1:]:
        ts = timestamp(event.at)
        if ts < last:
            raise ValueError(f"events out of order at {event.at.isoformat()}")
        if ts > now_ts:
            break
        if run.status == Status.CLOSED:
            break  # closed is final: a customer writing again opens a follow-up ticket
        if ts != last:  # events at one instant: no time passed between them
            cum = seconds_before(ts)
            run.advance(cum, ts, final=False)
            last = ts
        run.apply(event, cum, ts)
    cum = calendar.seconds_before_now(now_ts)
    run.advance(cum, now_ts, final=True)
    return TicketSla(policy, run.status, run.priority, run.states(cum), now_ts)


def refresh(sla: TicketSla, calendar: Calendar, now: datetime) -> TicketSla:
    """`sla` judged again at a later `now`, when the ticket had no event since.

    The same result as `evaluate(history, ..., now)`, without the history: a running
    clock's deadline and warning point are fixed until the next event, so a scheduler
    re-evaluates a ticket when it changes and only refreshes the others at each tick.
    """
    now_ts = timestamp(now)
    then = sla.evaluated_ts
    if now_ts < then:
        raise ValueError("refresh goes forward: `now` is before the last evaluation")
    states = sla.metrics
    for state in states:
        if state.running:
            break
    else:
        return TicketSla(sla.policy, sla.status, sla.priority, states, now_ts)
    cum_then = calendar.seconds_before_now(then)
    gained = calendar.seconds_before_now(now_ts) - cum_then
    fresh = []
    for state in states:
        if not state.running:
            fresh.append(state)
            continue
        elapsed = state.elapsed + gained
        status, warned, breached = state.status, state.warning_ts, state.breached_ts
        if breached is None:
            if warned is None and 0 <= state.warn <= elapsed:
                warned = calendar.instant_at(cum_then + state.warn - state.elapsed)
                status = MetricStatus.WARNING
            if elapsed >= state.target:
                status, breached = MetricStatus.BREACHED, state.deadline_ts
        fresh.append(
            MetricState(
                state.metric,
                state.cycle,
                status,
                state.target,
                state.warn,
                elapsed,
                state.started_ts,
                state.deadline_ts,
                warned,
                breached,
                state.achieved_ts,
                state.zone,
                True,
            )
        )
    return TicketSla(sla.policy, sla.status, sla.priority, tuple(fresh), now_ts)


EventType = Literal["warning", "breach"]


@dataclass(frozen=True, slots=True)
class SlaEvent:
    """A warning or breach that fell due, with the policy's escalation actions."""

    ticket: str
    kind: EventType
    metric: Metric
    cycle: int
    at: datetime
    actions: tuple[str, ...]


def due_events(states: Mapping[str, TicketSla], since: datetime, now: datetime) -> list[SlaEvent]:
    """Warnings and breaches that fell due in (since, now], oldest first.

    A scheduler that evaluates every ticket at each tick and passes the previous tick as
    `since` gets each warning and each breach exactly once. A warning is not given when
    the breach comes at the same instant (a re-target past the new target).
    """
    low, high = timestamp(since), timestamp(now)
    found: list[tuple[float, int, SlaEvent]] = []
    for ticket, sla in states.items():
        policy = sla.policy
        for state in sla.metrics:
            for kind, at in _thresholds(state):
                if low < at <= high:
                    actions = policy.on_warning if kind == "warning" else policy.on_breach
                    event = SlaEvent(
                        ticket,
                        kind,
                        state.metric,
                        state.cycle,
                        datetime.fromtimestamp(at, state.zone),
                        actions,
                    )
                    found.append((at, kind == "breach", event))
    found.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in found]


def _thresholds(state: MetricState) -> Iterator[tuple[EventType, float]]:
    warned, breached = state.warning_ts, state.breached_ts
    if warned is not None and (breached is None or warned < breached):
        yield "warning", warned
    if breached is not None:
        yield "breach", breached


def percent_met(results: Iterable[TicketSla], metric: Metric | None = None) -> float | None:
    """The "% SLA met" figure: clocks achieved within target / clocks that finished or
    breached, as a percentage. Every next-response cycle counts once. A clock still
    running within its target is not counted yet (it may still go either way); one
    already breached counts as missed even while it runs. None when nothing counts.
    """
    met = counted = 0
    for sla in results:
        for state in sla.metrics:
            if metric is not None and state.metric != metric:
                continue
            outcome = state.met
            if outcome is None:
                continue
            counted += 1
            met += outcome
    return 100.0 * met / counted if counted else None


# -- the YAML / dict schema of policies ------------------------------------------------

Minutes = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetsConfig(_Strict):
    first_response: Minutes | None = None
    next_response: Minutes | None = None
    resolution: Minutes | None = None

    def targets(self) -> Targets:
        return Targets(self.first_response, self.next_response, self.resolution)


class MatchConfig(TargetsConfig):
    """`{priority: urgent, type: incident, first_response: 15, ...}`; one of the two
    keys at least, the other left out meaning any."""

    priority: str | None = None
    type: str | None = None

    @model_validator(mode="after")
    def _matches_something(self) -> MatchConfig:
        if self.priority is None and self.type is None:
            raise ValueError("needs a priority or a type to match (else it is the default)")
        return self


class WarnConfig(_Strict):
    percent: Annotated[float, Field(gt=0, lt=100)] | None = None
    minutes: Minutes | None = None

    @model_validator(mode="after")
    def _one(self) -> WarnConfig:
        if (self.percent is None) == (self.minutes is None):
            raise ValueError("give exactly one of percent or minutes")
        return self


class PolicyConfig(_Strict):
    calendar: str
    default: TargetsConfig
    targets: list[MatchConfig] = []
    warn_before: WarnConfig = WarnConfig(percent=80)
    on_warning: list[str] = []
    on_breach: list[str] = []


class PolicyError(ValueError):
    """A policy definition that cannot be used; `problems` says where and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid SLA policy:\n  " + "\n  ".join(problems))
        self.problems = problems


def policy_from_dict(data: Any, name: str, calendars: Collection[str] | None = None) -> SlaPolicy:
    """Validate one policy (the YAML's shape) and build it; `calendars`, when given,
    are the calendar names it may use.

    ```yaml
    standard:
      calendar: support-cn
      default: {first_response: 240, next_response: 480, resolution: 2400}
      targets:
        - {priority: urgent, first_response: 30, next_response: 60, resolution: 480}
        - {type: incident, first_response: 60, resolution: 960}
      warn_before: {percent: 80}
      on_breach: [notify:supervisor]
    ```
    """
    try:
        config = PolicyConfig.model_validate(data)
    except ValidationError as exc:
        raise PolicyError([f"{name}.{explain(err)}" for err in exc.errors()]) from None
    problems = []
    if calendars is not None and config.calendar not in calendars:
        known = ", ".join(sorted(calendars)) or "none"
        problems.append(f"{name}.calendar: unknown calendar {config.calendar!r} (known: {known})")
    targets: dict[Key, Targets] = {}
    for index, match in enumerate(config.targets):
        key = (match.priority, match.type)
        if key in targets:
            shown = f"priority {match.priority or 'any'}, type {match.type or 'any'}"
            problems.append(f"{name}.targets[{index}]: {shown} is listed twice")
        targets[key] = match.targets()
    if problems:
        raise PolicyError(problems)
    warn = config.warn_before
    return SlaPolicy(
        name,
        config.calendar,
        config.default.targets(),
        targets,
        WarnBefore(warn.percent, warn.minutes),
        tuple(config.on_warning),
        tuple(config.on_breach),
    )
