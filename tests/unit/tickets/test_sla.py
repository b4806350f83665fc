"""SLA clocks from ticket histories, judged at times a settable clock gives, to the second."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter.clock import FixedClock
from callcenter.tickets.calendars import Calendar, NaiveDatetimeError, calendar_from_dict
from callcenter.tickets.sla import (
    EventKind,
    Metric,
    MetricStatus,
    PolicyError,
    SlaPolicy,
    Status,
    Targets,
    TicketEvent,
    WarnBefore,
    due_events,
    evaluate,
    percent_met,
    policy_from_dict,
    refresh,
)

FIRST, NEXT, RESOLUTION = Metric.FIRST_RESPONSE, Metric.NEXT_RESPONSE, Metric.RESOLUTION

# Monday to Friday 09:00-17:00 UTC: 8 business hours a day.
OFFICE = calendar_from_dict(
    {
        "timezone": "UTC",
        "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    },
    "office",
)
POLICY = SlaPolicy(
    name="standard",
    calendar="office",
    default=Targets(first_response=60, next_response=120, resolution=8 * 60),
    targets={
        ("urgent", None): Targets(first_response=15, next_response=30, resolution=120),
        ("low", None): Targets(first_response=240, resolution=5 * 8 * 60),
        (None, "incident"): Targets(first_response=30, resolution=4 * 60),
        ("urgent", "incident"): Targets(first_response=10),
    },
    warn_before=WarnBefore(percent=80),
    on_warning=("notify:team-lead",),
    on_breach=("notify:supervisor", "priority:urgent"),
)


def utc(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time in March 2026: the 9th is a Monday."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def created(at: datetime, priority: str = "normal", type: str | None = None) -> TicketEvent:
    return TicketEvent(at, EventKind.CREATED, priority=priority, type=type)


def agent(at: datetime) -> TicketEvent:
    return TicketEvent(at, EventKind.AGENT_REPLY)


def customer(at: datetime) -> TicketEvent:
    return TicketEvent(at, EventKind.CUSTOMER_REPLY)


def status(at: datetime, to: Status) -> TicketEvent:
    return TicketEvent(at, EventKind.STATUS, status=to)


def priority(at: datetime, to: str) -> TicketEvent:
    return TicketEvent(at, EventKind.PRIORITY, priority=to)


def at_(clock: FixedClock, history, calendar: Calendar = OFFICE, policy=POLICY):
    return evaluate(history, policy, calendar, clock.now())


def test_policy_picks_the_most_specific_targets():
    assert POLICY.targets_for("urgent", "incident").first_response == 10
    assert POLICY.targets_for("urgent", "question").first_response == 15
    assert POLICY.targets_for("normal", "incident").first_response == 30
    assert POLICY.targets_for("normal", "question").first_response == 60


def test_first_response_warns_and_breaches_to_the_second():
    history = [created(utc(9, 9))]
    clock = FixedClock(utc(9, 9, 30))
    first = at_(clock, history).get(FIRST)
    assert first is not None
    assert (first.status, first.elapsed, first.remaining) == (MetricStatus.ACTIVE, 1800, 1800)
    assert first.deadline == utc(9, 10)

    clock.set(utc(9, 9, 47, 59))
    assert at_(clock, history).get(FIRST).status == MetricStatus.ACTIVE
    clock.set(utc(9, 9, 48))  # 80 % of 60 minutes
    first = at_(clock, history).get(FIRST)
    assert (first.status, first.warning_at) == (MetricStatus.WARNING, utc(9, 9, 48))

    clock.set(utc(9, 9, 59, 59))
    assert at_(clock, history).get(FIRST).status == MetricStatus.WARNING
    clock.set(utc(9, 10))
    first = at_(clock, history).get(FIRST)
    assert (first.status, first.breached_at, first.met) == (
        MetricStatus.BREACHED,
        utc(9, 10),
        False,
    )


def test_a_reply_at_the_deadline_meets_it():
    history = [created(utc(9, 9)), agent(utc(9, 10))]
    first = evaluate(history, POLICY, OFFICE, utc(9, 12)).get(FIRST)
    assert first is not None
    assert (first.status, first.achieved_at, first.met) == (MetricStatus.ACHIEVED, utc(9, 10), True)
    assert first.elapsed == 3600
    assert first.breached_at is None


def test_the_clock_stops_outside_business_hours():
    # Created Friday 16:30: 30 minutes that day, the other 30 on Monday morning.
    history = [created(utc(6, 16, 30))]
    clock = FixedClock(utc(9, 9, 29, 59))
    first = at_(clock, history).get(FIRST)
    assert (first.status, first.deadline, first.elapsed) == (
        MetricStatus.WARNING,
        utc(9, 9, 30),
        3599,
    )
    assert first.warning_at == utc(9, 9, 18)
    clock.advance(timedelta(seconds=1))
    assert at_(clock, history).get(FIRST).breached_at == utc(9, 9, 30)


def test_pending_pauses_the_clock_and_the_deadline_moves_by_the_paused_time():
    opened = [created(utc(9, 9))]
    before = evaluate(opened, POLICY, OFFICE, utc(9, 9, 5)).get(RESOLUTION)
    assert before.deadline == utc(9, 17)  # 8 business hours

    history = [*opened, agent(utc(9, 9, 10)), status(utc(9, 9, 10), Status.PENDING)]
    clock = FixedClock(utc(9, 12))
    paused = at_(clock, history).get(RESOLUTION)
    assert (paused.status, paused.elapsed, paused.deadline) == (MetricStatus.PAUSED, 600, None)
    clock.set(utc(10, 8, 59))  # overnight: still paused, still 10 minutes
    assert at_(clock, history).get(RESOLUTION).elapsed == 600

    # The customer answers Tuesday 09:00: the ticket is open again, the clock resumes.
    history.append(customer(utc(10, 9)))
    clock.set(utc(10, 10))
    sla = at_(clock, history)
    resolution = sla.get(RESOLUTION)
    assert sla.status == Status.OPEN
    assert (resolution.status, resolution.elapsed) == (MetricStatus.ACTIVE, 600 + 3600)
    # Paused Monday 09:10-17:00 (7 h 50 min of business time): 17:00 + 7 h 50 = Tue 16:50.
    paused_business = OFFICE.business_seconds_between(utc(9, 9, 10), utc(10, 9))
    assert paused_business == 7 * 3600 + 50 * 60
    assert resolution.deadline == OFFICE.add_business_seconds(before.deadline, paused_business)
    assert resolution.deadline == utc(10, 16, 50)
    # The customer's reply also started the next-response clock.
    assert sla.get(NEXT).deadline == utc(10, 11)


def test_on_hold_pauses_and_open_resumes():
    history = [
        created(utc(9, 9)),
        status(utc(9, 9, 20), Status.ON_HOLD),
        status(utc(9, 14), Status.OPEN),
    ]
    first = evaluate(history, POLICY, OFFICE, utc(9, 14, 30)).get(FIRST)
    assert (first.elapsed, first.deadline) == (50 * 60, utc(9, 14, 40))
    assert first.warning_at == utc(9, 14, 28)  # 48 business minutes: 20 before, 28 after


def test_next_response_restarts_with_each_customer_reply_after_an_answer():
    history = [
        created(utc(9, 9)),
        agent(utc(9, 9, 30)),
        customer(utc(9, 10)),
        agent(utc(9, 11)),
        customer(utc(9, 13)),
        customer(utc(9, 13, 30)),  # still unanswered: the cycle keeps its start
    ]
    sla = evaluate(history, POLICY, OFFICE, utc(9, 14))
    cycles = [s for s in sla.metrics if s.metric == NEXT]
    assert [(s.cycle, s.status) for s in cycles] == [
        (1, MetricStatus.ACHIEVED),
        (2, MetricStatus.ACTIVE),
    ]
    assert cycles[0].elapsed == 3600
    assert cycles[1].started_at == utc(9, 13)
    assert cycles[1].deadline == utc(9, 15)
    assert sla.get(NEXT) is cycles[1]
    # A customer writing twice before the first answer starts no next-response clock.
    early = evaluate([created(utc(9, 9)), customer(utc(9, 9, 5))], POLICY, OFFICE, utc(9, 9, 10))
    assert early.get(NEXT) is None


def test_a_priority_change_retargets_running_clocks_from_then():
    raised = [created(utc(9, 9)), priority(utc(9, 9, 10), "urgent")]
    first = evaluate(raised, POLICY, OFFICE, utc(9, 9, 11)).get(FIRST)
    assert (first.target, first.deadline) == (15 * 60, utc(9, 9, 15))
    first = evaluate(raised, POLICY, OFFICE, utc(9, 9, 20)).get(FIRST)
    assert (first.warning_at, first.breached_at) == (utc(9, 9, 12), utc(9, 9, 15))

    # Raised when already past the new target: breached at the change, not before it.
    late = [created(utc(9, 9)), priority(utc(9, 9, 30), "urgent")]
    sla = evaluate(late, POLICY, OFFICE, utc(9, 9, 31))
    first = sla.get(FIRST)
    assert (first.status, first.breached_at, first.warning_at) == (
        MetricStatus.BREACHED,
        utc(9, 9, 30),
        None,
    )
    assert sla.get(RESOLUTION).status == MetricStatus.ACTIVE  # 120 min, 30 used

    # Lowered: more time; a metric the new priority does not track is dropped.
    answered = [created(utc(9, 9)), agent(utc(9, 9, 5)), customer(utc(9, 9, 10))]
    lowered = [*answered, priority(utc(9, 9, 20), "low")]
    sla = evaluate(lowered, POLICY, OFFICE, utc(9, 9, 30))
    assert sla.get(RESOLUTION).deadline == utc(13, 17)  # a 5-day target from Monday 09:00
    assert sla.get(NEXT) is None
    assert sla.get(FIRST).status == MetricStatus.ACHIEVED  # finished clocks keep theirs


def test_solving_stops_the_clocks_and_reopening_resumes_resolution():
    history = [
        created(utc(9, 9)),
        agent(utc(9, 9, 30)),
        status(utc(9, 10), Status.SOLVED),
    ]
    sla = evaluate(history, POLICY, OFFICE, utc(9, 12))
    resolution = sla.get(RESOLUTION)
    assert (resolution.status, resolution.elapsed, resolution.met) == (
        MetricStatus.ACHIEVED,
        3600,
        True,
    )
    assert resolution.deadline == utc(9, 17)

    history.append(customer(utc(9, 15)))  # the customer writes back: reopened
    sla = evaluate(history, POLICY, OFFICE, utc(9, 16))
    resolution = sla.get(RESOLUTION)
    assert sla.status == Status.OPEN
    assert (resolution.status, resolution.elapsed) == (MetricStatus.ACTIVE, 2 * 3600)
    assert resolution.deadline == utc(10, 14)  # 6 h left: 1 h Monday, 5 h Tuesday

    # Reopened straight to pending: resolution is running again, but paused.
    to_pending = [*history[:3], status(utc(9, 15), Status.PENDING)]
    resolution = evaluate(to_pending, POLICY, OFFICE, utc(9, 16)).get(RESOLUTION)
    assert (resolution.status, resolution.elapsed) == (MetricStatus.PAUSED, 3600)


def test_a_closed_ticket_is_final():
    history = [
        created(utc(9, 9)),
        status(utc(9, 9, 5), Status.CLOSED),
        customer(utc(9, 9, 10)),
    ]
    sla = evaluate(history, POLICY, OFFICE, utc(12, 9))
    assert sla.status == Status.CLOSED
    assert all(s.status == MetricStatus.ACHIEVED for s in sla.metrics)


def test_a_24x7_calendar_across_the_new_york_dst_change():
    new_york = ZoneInfo("America/New_York")
    always = Calendar.always_open(new_york)
    policy = SlaPolicy("24x7", "always", Targets(resolution=24 * 60))
    start = datetime(2026, 3, 7, 12, tzinfo=new_york)  # Saturday, EST
    sla = evaluate([created(start)], policy, always, start + timedelta(hours=1))
    deadline = sla.get(RESOLUTION).deadline
    # 24 real hours later: 12:00 EST is 13:00 EDT on the Sunday the clocks go forward.
    assert deadline == datetime(2026, 3, 8, 13, tzinfo=new_york)
    assert deadline.utcoffset() == timedelta(hours=-4)


def test_shanghai_business_hours_with_lunch():
    shanghai = ZoneInfo("Asia/Shanghai")
    cn = calendar_from_dict(
        {
            "timezone": "Asia/Shanghai",
            "hours": {d: ["09:00-12:00", "13:00-18:00"] for d in ("mon", "tue", "wed")},
        }
    )
    start = datetime(2026, 3, 9, 11, 30, tzinfo=shanghai)
    first = evaluate([created(start)], POLICY, cn, start).get(FIRST)
    assert first.deadline == datetime(2026, 3, 9, 13, 30, tzinfo=shanghai)


def test_due_events_fire_once_as_a_scheduler_ticks():
    histories = {
        "T-1": [created(utc(9, 9))],
        # Urgent: answered in 10 of its 15 minutes; resolution 120 minutes runs on.
        "T-2": [created(utc(9, 9), priority="urgent"), agent(utc(9, 9, 10))],
    }
    clock = FixedClock(utc(9, 9))
    fired = []
    previous = clock.now()
    while clock.now() < utc(9, 11, 30):
        clock.advance(timedelta(seconds=45))
        states = {key: at_(clock, h) for key, h in histories.items()}
        fired += due_events(states, previous, clock.now())
        previous = clock.now()
    seen = [(e.ticket, e.kind, e.metric, e.at) for e in fired]
    assert seen == [
        ("T-1", "warning", FIRST, utc(9, 9, 48)),
        ("T-1", "breach", FIRST, utc(9, 10)),
        ("T-2", "warning", RESOLUTION, utc(9, 10, 36)),  # 80 % of 120 minutes
        ("T-2", "breach", RESOLUTION, utc(9, 11)),
    ]
    assert fired[0].actions == ("notify:team-lead",)
    assert fired[-1].actions == ("notify:supervisor", "priority:urgent")


def test_percent_met_counts_finished_and_breached_clocks_only():
    now = utc(9, 16)
    on_time = evaluate([created(utc(9, 9)), agent(utc(9, 9, 30))], POLICY, OFFICE, now)
    late = evaluate([created(utc(9, 9)), agent(utc(9, 11))], POLICY, OFFICE, now)
    overdue = evaluate([created(utc(9, 9))], POLICY, OFFICE, now)  # breached, running
    fresh = evaluate([created(utc(9, 15, 30))], POLICY, OFFICE, now)  # within target
    results = [on_time, late, overdue, fresh]
    assert percent_met(results, FIRST) == pytest.approx(100 / 3)
    # Resolution: all four still running within 8 h: nothing to count yet.
    assert percent_met(results, RESOLUTION) is None
    assert percent_met(results) == pytest.approx(100 / 3)
    assert percent_met([]) is None


def test_naive_datetimes_are_refused():
    with pytest.raises(NaiveDatetimeError):
        evaluate([created(utc(9, 9))], POLICY, OFFICE, datetime(2026, 3, 9, 10))
    with pytest.raises(NaiveDatetimeError):
        evaluate([created(datetime(2026, 3, 9, 9))], POLICY, OFFICE, utc(9, 10))


def test_bad_histories_and_policies_are_refused():
    with pytest.raises(ValueError, match="starts with 'created'"):
        evaluate([agent(utc(9, 9))], POLICY, OFFICE, utc(9, 10))
    with pytest.raises(ValueError, match="out of order"):
        evaluate(
            [created(utc(9, 9)), agent(utc(9, 10)), agent(utc(9, 9, 30))],
            POLICY,
            OFFICE,
            utc(9, 11),
        )
    with pytest.raises(ValueError, match="exactly one"):
        WarnBefore(percent=80, minutes=10)
    with pytest.raises(ValueError, match="> 0 minutes"):
        Targets(first_response=0)


def test_warn_before_in_minutes():
    policy = SlaPolicy(
        "m", "office", Targets(first_response=60), warn_before=WarnBefore(minutes=10)
    )
    first = evaluate([created(utc(9, 9))], policy, OFFICE, utc(9, 9, 50)).get(FIRST)
    assert (first.status, first.warning_at) == (MetricStatus.WARNING, utc(9, 9, 50))


def random_history(rng: random.Random, end: datetime) -> list[TicketEvent]:
    at = end - timedelta(seconds=rng.randrange(60, 10 * 86400))
    events = [created(at, rng.choice(["low", "normal", "urgent"]), rng.choice([None, "incident"]))]
    for _ in range(rng.randrange(0, 7)):
        at += timedelta(seconds=rng.randrange(1, 86400))
        if at > end:
            break
        kind = rng.choice(["agent", "customer", "pending", "open", "solved", "priority"])
        if kind == "agent":
            events.append(agent(at))
        elif kind == "customer":
            events.append(customer(at))
        elif kind == "priority":
            events.append(priority(at, rng.choice(["low", "normal", "urgent"])))
        else:
            events.append(status(at, Status(kind)))
    return events


def test_refresh_gives_what_a_full_evaluation_gives():
    rng = random.Random(11)
    then = utc(16, 10, 17, 23)
    for _ in range(300):
        history = random_history(rng, then)
        sla = evaluate(history, POLICY, OFFICE, then)
        for hours in (0, 1, 7, 30, 200):
            later = then + timedelta(hours=hours, seconds=rng.randrange(3600))
            assert refresh(sla, OFFICE, later) == evaluate(history, POLICY, OFFICE, later)
    with pytest.raises(ValueError, match="forward"):
        refresh(sla, OFFICE, then - timedelta(seconds=1))


def test_a_clock_paused_at_its_target_breaches_when_it_resumes():
    history = [
        created(utc(9, 9)),
        status(utc(9, 10), Status.PENDING),  # at the deadline: the event comes first
        status(utc(9, 11), Status.OPEN),
    ]
    first = evaluate(history, POLICY, OFFICE, utc(9, 10, 30)).get(FIRST)
    assert (first.status, first.elapsed, first.breached_at) == (MetricStatus.PAUSED, 3600, None)
    first = evaluate(history, POLICY, OFFICE, utc(9, 11)).get(FIRST)
    assert (first.status, first.breached_at) == (MetricStatus.BREACHED, utc(9, 11))
    assert first.warning_at == utc(9, 9, 48)


def test_refresh_keeps_stopped_and_paused_clocks():
    history = [created(utc(9, 9)), agent(utc(9, 9, 5)), status(utc(9, 9, 5), Status.PENDING)]
    sla = evaluate(history, POLICY, OFFICE, utc(9, 10))
    later = refresh(sla, OFFICE, utc(11, 10))
    assert later.metrics == sla.metrics
    assert later.evaluated_ts == utc(11, 10).timestamp()


def test_a_policy_from_its_yaml_shape():
    policy = policy_from_dict(
        {
            "calendar": "office",
            "default": {"first_response": 60, "next_response": 120, "resolution": 480},
            "targets": [
                {"priority": "urgent", "first_response": 15, "resolution": 120},
                {"type": "incident", "first_response": 30},
            ],
            "warn_before": {"minutes": 10},
            "on_breach": ["notify:supervisor"],
        },
        "standard",
        calendars={"office"},
    )
    assert policy.targets_for("urgent", None) == Targets(first_response=15, resolution=120)
    assert policy.targets_for("normal", "incident").first_response == 30
    assert policy.warn_before == WarnBefore(minutes=10)
    assert policy.on_breach == ("notify:supervisor",)
    first = evaluate([created(utc(9, 9), "urgent")], policy, OFFICE, utc(9, 9, 5)).get(FIRST)
    assert first.warning_at == utc(9, 9, 5)  # 10 minutes before a 15-minute target


def test_policy_schema_errors_say_where():
    with pytest.raises(PolicyError) as caught:
        policy_from_dict(
            {
                "calendar": "ofice",
                "default": {"first_response": 0},
                "targets": [{"first_response": 10}, {"priority": "low", "resolutoin": 5}],
                "warn_before": {"percent": 80, "minutes": 5},
            },
            "standard",
            calendars={"office"},
        )
    assert sorted(caught.value.problems) == [
        "standard.default.first_response: Input should be greater than 0 (got 0)",
        "standard.targets[0]: needs a priority or a type to match (else it is the default)",
        "standard.targets[1].resolutoin: unknown option",
        "standard.warn_before: give exactly one of percent or minutes",
    ]
    with pytest.raises(PolicyError) as caught:
        policy_from_dict(
            {
                "calendar": "ofice",
                "default": {"resolution": 60},
                "targets": [{"priority": "low"}, {"priority": "low", "resolution": 5}],
            },
            "standard",
            calendars={"office"},
        )
    assert caught.value.problems == [
        "standard.calendar: unknown calendar 'ofice' (known: office)",
        "standard.targets[1]: priority low, type any is listed twice",
    ]
