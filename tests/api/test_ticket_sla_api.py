"""Tickets' SLA on the real app with a settable clock: stored calendars and policies,
clocks across business hours, a weekend, a holiday and time zones, pending pausing the
clock, warnings and breaches emitted once, escalation, and the "% SLA met" report."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from callcenter.clock import FixedClock
from callcenter.events import Event
from tests.support.app import app_client, bearer
from tests.support.tickets import add_groups

CN = ZoneInfo("Asia/Shanghai")
FRIDAY = datetime(2026, 12, 4, 17, 30, tzinfo=CN)  # Monday 2026-12-07 is a holiday
USERS = [("boss", "admin"), ("sup", "supervisor"), ("amy", "agent")]
CALENDAR = {
    "timezone": "Asia/Shanghai",
    "hours": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-12-07"],
}
POLICY = {
    "position": 1,
    "calendar": "cn",
    "default": {"first_response": 60, "next_response": 120, "resolution": 480},
    "warn_before": {"percent": 80},
    "on_breach": ["notify:supervisor", "priority:urgent", "group:billing"],
}


def utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    """Groups support (amy) and billing; a customer; the calendar and policy above."""
    with app_client(tmp_path, USERS, FixedClock(FRIDAY.astimezone(UTC))) as c:
        boss = bearer(c, "boss")
        add_groups(c, {"support": ["amy"], "billing": []}, who="boss")
        li = c.post("/api/customers", json={"name": "Li Lei"}, headers=boss)
        c.customer = li.json()["id"]  # type: ignore[attr-defined]
        assert c.put("/api/sla/calendars/cn", json=CALENDAR, headers=boss).status_code == 200
        r = c.put("/api/sla/policies/standard", json=POLICY, headers=boss)
        assert r.status_code == 200, r.text
        yield c


def services(client: TestClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


def at(client: TestClient, when: datetime) -> None:
    services(client).clock.set(when.astimezone(UTC))


def settle(client: TestClient) -> None:
    client.portal.call(services(client).sla.settle)


def tick(client: TestClient) -> None:
    settle(client)
    client.portal.call(services(client).sla.tick)
    settle(client)


def ticket(client: TestClient, **fields: Any) -> int:
    body = {
        "subject": "Router keeps rebooting",
        "requester_id": client.customer,  # type: ignore[attr-defined]
        "group_id": client.groups["support"],
        **fields,
    }  # type: ignore[attr-defined]
    r = client.post("/api/tickets", json=body, headers=bearer(client, "sup"))
    assert r.status_code == 201, r.text
    settle(client)
    return int(r.json()["id"])


def clocks(client: TestClient, ticket_id: int, who: str = "sup") -> dict[str, Any]:
    r = client.get(f"/api/tickets/{ticket_id}/sla", headers=bearer(client, who))
    assert r.status_code == 200, r.text
    return {m["metric"]: m for m in r.json()["metrics"]}


def patch(client: TestClient, ticket_id: int, **fields: Any) -> None:
    r = client.patch(f"/api/tickets/{ticket_id}", json=fields, headers=bearer(client, "sup"))
    assert r.status_code == 200, r.text
    settle(client)


def reply(client: TestClient, ticket_id: int) -> None:
    r = client.post(
        f"/api/tickets/{ticket_id}/comments",
        json={"body": "On it", "public": True},
        headers=bearer(client, "sup"),
    )
    assert r.status_code == 201, r.text
    settle(client)


def sla_events(client: TestClient) -> Any:
    sub = client.portal.call(_subscribe, services(client).bus)

    async def drain() -> list[Event]:
        got = []
        while True:
            try:
                got.append(await asyncio.wait_for(sub.get(), 0.05))
            except TimeoutError:
                return got

    return lambda: [(e.type, e.data["id"], e.data["metric"]) for e in client.portal.call(drain)]


async def _subscribe(bus: Any) -> Any:
    return bus.subscribe("ticket.sla_")


def test_a_friday_evening_ticket_is_due_after_the_weekend_and_the_holiday(client):
    tid = ticket(client)
    got = clocks(client, tid)
    # 30 minutes on Friday (17:30-18:00), Saturday, Sunday and Monday closed: the
    # other 30 minutes on Tuesday from 09:00.
    assert got["first_response"]["status"] == "active"
    assert got["first_response"]["due_at"] == utc(datetime(2026, 12, 8, 9, 30, tzinfo=CN))
    assert got["resolution"]["due_at"] == utc(datetime(2026, 12, 8, 16, 30, tzinfo=CN))
    assert "next_response" not in got  # no cycle before an agent answered
    body = client.get(f"/api/tickets/{tid}/sla", headers=bearer(client, "amy")).json()
    assert body["policy"]["name"] == "standard"
    # In another zone the same instants: New York's Monday evening.
    ny = datetime.fromisoformat(got["first_response"]["due_at"]).astimezone(
        ZoneInfo("America/New_York")
    )
    assert (ny.day, ny.hour, ny.minute) == (7, 20, 30)


def test_pending_pauses_the_clock_and_open_resumes_it(client):
    tid = ticket(client)
    at(client, FRIDAY + timedelta(minutes=15))
    patch(client, tid, status="pending")
    at(client, datetime(2026, 12, 8, 10, 0, tzinfo=CN))  # Tuesday 10:00, way past due
    tick(client)
    paused = clocks(client, tid)["first_response"]
    assert paused["status"] == "paused" and paused["due_at"] is None
    assert paused["elapsed_minutes"] == 15
    patch(client, tid, status="open")
    resumed = clocks(client, tid)["first_response"]
    assert resumed["status"] == "active"
    assert resumed["due_at"] == utc(datetime(2026, 12, 8, 10, 45, tzinfo=CN))
    # Solving stops the clocks still running: achieved, and no longer refreshed.
    at(client, datetime(2026, 12, 8, 10, 5, tzinfo=CN))
    tracked = services(client).sla.tracked
    patch(client, tid, status="solved")
    solved = clocks(client, tid)
    assert solved["resolution"]["status"] == "achieved"
    assert solved["resolution"]["elapsed_minutes"] == 20  # 15 on Friday, 5 on Tuesday
    assert services(client).sla.tracked == tracked - 1


def test_warning_then_breach_each_once_and_the_breach_escalates(client):
    events = sla_events(client)
    tid = ticket(client)
    at(client, datetime(2026, 12, 8, 9, 17, tzinfo=CN))
    tick(client)
    assert events() == []
    at(client, datetime(2026, 12, 8, 9, 18, tzinfo=CN))  # 80 % of 60 minutes used
    tick(client)
    tick(client)
    assert events() == [("ticket.sla_warning", tid, "first_response")]
    assert clocks(client, tid)["first_response"]["status"] == "warning"
    listed = client.get("/api/sla/tickets?status=warning", headers=bearer(client, "amy")).json()
    assert [i["ticket_id"] for i in listed["items"]] == [tid]

    at(client, datetime(2026, 12, 8, 9, 30, tzinfo=CN))
    tick(client)
    tick(client)
    assert events() == [("ticket.sla_breached", tid, "first_response")]
    first = clocks(client, tid)["first_response"]
    assert first["status"] == "breached"
    assert first["breached_at"] == utc(datetime(2026, 12, 8, 9, 30, tzinfo=CN))
    # Escalated by the system: urgent, moved to billing, unassigned; the history says so.
    got = client.get(f"/api/tickets/{tid}", headers=bearer(client, "sup")).json()
    assert (got["priority"], got["group_id"], got["assignee_id"]) == (
        "urgent",
        client.groups["billing"],
        None,
    )
    history = client.get(f"/api/tickets/{tid}/history", headers=bearer(client, "sup")).json()
    assert {i["field"] for i in history["items"] if i["actor"]["name"] == "sla"} == {
        "priority",
        "group_id",
    }
    # Out of amy's groups now: not hers to see, not in her list.
    assert client.get(f"/api/tickets/{tid}/sla", headers=bearer(client, "amy")).status_code == 404
    mine = client.get("/api/sla/tickets?status=breached", headers=bearer(client, "amy")).json()
    theirs = client.get("/api/sla/tickets?status=breached", headers=bearer(client, "sup")).json()
    assert mine["items"] == [] and [i["ticket_id"] for i in theirs["items"]] == [tid]
    # Re-evaluations (the escalation's own update, a restart's reload) repeat nothing.
    client.portal.call(services(client).sla.reload)
    at(client, datetime(2026, 12, 8, 11, 0, tzinfo=CN))
    tick(client)
    assert events() == []


def test_the_report_gives_the_exact_share_met(client):
    late = ticket(client)  # breaches first response on Tuesday 09:30
    answered = ticket(client)
    at(client, datetime(2026, 12, 8, 9, 10, tzinfo=CN))
    reply(client, answered)  # 30 + 10 business minutes: met
    at(client, datetime(2026, 12, 8, 10, 0, tzinfo=CN))
    tick(client)
    quick = ticket(client, type="fault")
    at(client, datetime(2026, 12, 8, 10, 20, tzinfo=CN))
    reply(client, quick)  # 20 minutes: met
    tick(client)
    sup = bearer(client, "sup")
    r = client.get("/api/reports/sla?from=2026-12-04&to=2026-12-08&by=policy", headers=sup)
    assert r.status_code == 200, r.text
    (row,) = r.json()["rows"]
    assert row["policy"] == "standard" and row["tickets"] == 3
    assert (row["first_response_met"], row["first_response_breached"]) == (2, 1)
    assert row["first_response_percent_met"] == 66.67
    assert row["resolution_percent_met"] is None  # nothing finished, nothing late yet
    assert row["median_first_response_minutes"] == 30.0  # 40 and 20
    by_type = client.get(
        "/api/reports/sla?from=2026-12-04&to=2026-12-08&by=type", headers=sup
    ).json()["rows"]
    assert [(r["type"], r["first_response_percent_met"]) for r in by_type] == [
        ("consultation", 50.0),
        ("fault", 100.0),
    ]
    csv = client.get(
        "/api/reports/sla?from=2026-12-04&to=2026-12-08&by=type&format=csv", headers=sup
    )
    lines = csv.text.splitlines()
    assert lines[0].startswith("type,tickets,first_response_met,first_response_breached,")
    assert lines[1].startswith("consultation,2,1,1,50.0,")
    # Agents have no reports; a range the wrong way round names the field.
    agent = bearer(client, "amy")
    assert (
        client.get("/api/reports/sla?from=2026-12-04&to=2026-12-08", headers=agent).status_code
        == 403
    )
    wrong = client.get("/api/reports/sla?from=2026-12-08&to=2026-12-04", headers=sup)
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["query", "to"]
    # None of tickets outside the range.
    empty = client.get("/api/reports/sla?from=2026-12-09&to=2026-12-09", headers=sup).json()
    assert empty["rows"] == [] and late


def test_definitions_are_validated_by_the_engine_and_refused_whole(client):
    boss, amy = bearer(client, "boss"), bearer(client, "amy")
    assert client.put("/api/sla/calendars/x", json=CALENDAR, headers=amy).status_code == 403
    bad_zone = client.put(
        "/api/sla/calendars/mars", json={**CALENDAR, "timezone": "Mars/Base"}, headers=boss
    )
    assert bad_zone.status_code == 422
    assert bad_zone.json()["detail"][0]["loc"] == ["body", "timezone"]
    assert "IANA" in bad_zone.json()["detail"][0]["msg"]
    bad_hours = client.put(
        "/api/sla/calendars/cn", headers=boss, json={**CALENDAR, "hours": {"mon": ["18:00-09:00"]}}
    )
    assert bad_hours.json()["detail"][0]["loc"] == ["body", "hours"]
    unknown = client.put("/api/sla/policies/p2", json={**POLICY, "calendar": "ofice"}, headers=boss)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "calendar"]
    action = client.put(
        "/api/sla/policies/p2", json={**POLICY, "on_breach": ["group:nowhere"]}, headers=boss
    )
    assert action.json()["detail"][0]["loc"] == ["body", "on_breach"]
    wrong_priority = client.put(
        "/api/sla/policies/p2", json={**POLICY, "priorities": ["asap"]}, headers=boss
    )
    assert wrong_priority.json()["detail"][0]["loc"] == ["body", "priorities"]
    # Nothing of the refused ones was stored; the calendar in use cannot go.
    assert [c["name"] for c in client.get("/api/sla/calendars", headers=amy).json()] == ["cn"]
    assert [p["name"] for p in client.get("/api/sla/policies", headers=amy).json()] == ["standard"]
    assert client.delete("/api/sla/calendars/cn", headers=boss).status_code == 409


def test_a_priority_change_rechooses_the_policy(client):
    boss = bearer(client, "boss")
    urgent = {
        **POLICY,
        "position": 0,
        "priorities": ["urgent"],
        "on_breach": [],
        "default": {"first_response": 15},
    }
    assert client.put("/api/sla/policies/urgent", json=urgent, headers=boss).status_code == 200
    tid = ticket(client)
    assert clocks(client, tid)["first_response"]["target_minutes"] == 60
    patch(client, tid, priority="urgent")
    body = client.get(f"/api/tickets/{tid}/sla", headers=boss).json()
    assert body["policy"]["name"] == "urgent"
    assert set(clocks(client, tid)) == {"first_response"}  # resolution not tracked there
    # 15 minutes from Friday 17:30: still Friday, re-targeted from creation.
    assert clocks(client, tid)["first_response"]["due_at"] == utc(FRIDAY + timedelta(minutes=15))
