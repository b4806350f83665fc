"""The pure parts of the SLA wiring: stored definitions checked by the engine, which
policy a ticket falls under, escalation words, rows to history, and the report's sums."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.tickets.calendars import Calendar
from callcenter.tickets.sla import EventKind, Metric, SlaPolicy, Status, Targets, evaluate
from callcenter.tickets.sla_config import (
    Action,
    ConfigError,
    StoredPolicy,
    check_calendar,
    check_policy,
    choose_policy,
    parse_action,
    raised,
)
from callcenter.tickets.sla_history import history
from callcenter.tickets.sla_report import columns, summarize

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEFINITION = {"calendar": "office", "default": {"first_response": 60}}


def test_a_bad_calendar_names_the_field_of_its_first_problem():
    with pytest.raises(ConfigError) as err:
        check_calendar("cn", {"timezone": "Asia/Shanghai", "hours": {"mon": ["9:00-25:00"]}})
    assert err.value.field == "hours"
    assert err.value.problems == ["cn.hours.mon[0]: 25:00 is not a time of day (00:00 to 24:00)"]
    with pytest.raises(ConfigError) as err:
        check_calendar("cn", {"hours": "24x7"})
    assert err.value.field == "timezone"
    assert check_calendar("cn", {"timezone": "UTC", "hours": "24x7"}).weekly_seconds == 7 * 86400


def test_a_policy_is_the_engines_plus_what_it_covers_and_its_actions():
    policy = check_policy(
        "std",
        {**DEFINITION, "on_breach": ["group:billing"]},
        calendars={"office"},
        groups={"billing"},
        priorities=["urgent"],
    )
    assert policy.default == Targets(first_response=60)
    cases = [
        ({**DEFINITION, "calendar": "x"}, {}, "calendar"),
        ({**DEFINITION, "default": {"first_response": 0}}, {}, "default"),
        ({**DEFINITION, "on_warning": ["shout"]}, {}, "on_warning"),
        ({**DEFINITION, "on_breach": ["group:nowhere"]}, {}, "on_breach"),
        (DEFINITION, {"types": ["question"]}, "types"),
    ]
    for definition, cover, field in cases:
        with pytest.raises(ConfigError) as err:
            check_policy("std", definition, calendars={"office"}, groups={"billing"}, **cover)
        assert err.value.field == field, definition


def test_actions_are_words_and_priority_only_goes_up():
    assert parse_action("notify:supervisor") == Action("notify", "supervisor")
    assert parse_action("priority:urgent") == Action("priority", "urgent")
    assert parse_action("group:vip", groups=None) == Action("group", "vip")
    for word in ("notify", "priority:asap", "call:boss", "group:"):
        with pytest.raises(ValueError):
            parse_action(word, groups={"vip"})
    assert raised("normal", "urgent") == "urgent"
    assert raised("urgent", "high") is None
    assert raised("high", "high") is None


def _stored(pid: int, position: int, priorities=(), types=()) -> StoredPolicy:
    return StoredPolicy(
        pid,
        position,
        tuple(priorities),
        tuple(types),
        SlaPolicy(f"p{pid}", "office", Targets(first_response=60)),
    )


def test_the_first_policy_by_position_that_covers_the_ticket_wins():
    policies = [
        _stored(1, 10),
        _stored(2, 0, priorities=["urgent"]),
        _stored(3, 5, types=["fault"]),
        _stored(4, 5, priorities=["high"], types=["fault"]),
    ]
    assert choose_policy(policies, "urgent", "fault").id == 2
    assert choose_policy(policies, "high", "fault").id == 3  # same position: lower id
    assert choose_policy(policies, "normal", "consultation").id == 1
    assert choose_policy(policies[1:2], "normal", "fault") is None


def _change(minutes: int, field: str, old, new) -> dict:
    return {
        "field": field,
        "at": (T0 + timedelta(minutes=minutes)).replace(tzinfo=None),
        "old": old,
        "new": new,
    }


def test_rows_become_the_engines_history():
    ticket = {"created_at": T0.replace(tzinfo=None), "priority": "urgent", "type": "fault"}
    changes = [
        _change(0, "status", None, "new"),
        _change(5, "comment", None, 1),  # an internal note
        _change(6, "comment", None, 4),  # a public reply copied in by a merge
        _change(10, "comment", None, 2),  # the agent's public reply
        _change(10, "status", "new", "open"),
        _change(20, "status", "open", "pending"),
        _change(30, "comment", None, 3),  # the requester writes back (mail)
        _change(40, "priority", "normal", "urgent"),
    ]
    comments = {
        1: {"public": False},
        2: {"public": True},
        3: {"public": True, "author_customer_id": 7},
        4: {"public": True, "copied_from_id": 99},
    }
    events = history(ticket, changes, comments)
    assert [(e.kind, (e.at - T0) // timedelta(minutes=1)) for e in events] == [
        (EventKind.CREATED, 0),
        (EventKind.AGENT_REPLY, 10),
        (EventKind.STATUS, 10),
        (EventKind.STATUS, 20),
        (EventKind.CUSTOMER_REPLY, 30),
        (EventKind.PRIORITY, 40),
    ]
    assert events[0].priority == "normal"  # as created, before the change
    assert events[0].status == Status.NEW and events[3].status == Status.PENDING
    # The requester's reply starts a next-response cycle (and reopens the pending ticket).
    policy = SlaPolicy("p", "24x7", Targets(60, 60, 600))
    sla = evaluate(events, policy, Calendar.always_open(), T0 + timedelta(hours=1))
    nxt = sla.get(Metric.NEXT_RESPONSE)
    assert nxt is not None and nxt.cycle == 1 and nxt.elapsed == 30 * 60
    assert sla.status == Status.OPEN


def test_a_clock_set_back_does_not_reorder_the_history():
    ticket = {"created_at": T0, "priority": "low", "type": "other"}
    events = history(ticket, [_change(-5, "status", "new", "open")], {})
    assert events[1].at == T0


def test_the_report_counts_finished_and_late_clocks_only():
    def row(key, ticket, metric, status, elapsed=0.0, achieved=None):
        return {
            "key": key,
            "ticket_id": ticket,
            "metric": metric,
            "status": status,
            "elapsed_seconds": elapsed,
            "achieved_at": achieved,
        }

    rows = [
        row("high", 1, "first_response", "achieved", 600, T0),
        row("high", 1, "resolution", "active"),
        row("high", 2, "first_response", "breached", 4000, T0),
        row("high", 2, "next_response", "achieved", 60, T0),
        row("high", 2, "next_response", "breached", 9000),
        row("high", 3, "first_response", "breached", 7200),  # still unanswered
        row("high", 3, "resolution", "paused"),
        row("low", 4, "first_response", "achieved", 120, T0),
    ]
    high, low = summarize(rows, "priority")
    assert high["priority"] == "high" and high["tickets"] == 3
    assert (high["first_response_met"], high["first_response_breached"]) == (1, 2)
    assert high["first_response_percent_met"] == 33.33
    assert high["next_response_percent_met"] == 50.0
    assert high["resolution_percent_met"] is None
    assert high["median_first_response_minutes"] == 38.33  # (10 + 66.67) / 2: answered ones
    assert low["first_response_percent_met"] == 100.0
    assert list(high) == columns("priority")
