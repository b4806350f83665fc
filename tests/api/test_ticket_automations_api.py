"""Time-based automations on the real app: the admin API, and ticks driven by a
FixedClock: "pending 48 h -> remind", "solved 7 days -> close", once per episode."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import bearer
from tests.support.tickets import changes, desk, get_ticket, new_ticket


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    # A tick a day: only the test's own tick() runs.
    with desk(tmp_path, automation_tick_seconds=3600) as c:
        yield c


def _automation(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/api/ticket-automations", json=body, headers=bearer(client, "sup"))
    assert r.status_code == 201, r.text
    return r.json()


def _tick(client: TestClient, hours: float = 0) -> int:
    client.clock.advance(timedelta(hours=hours))  # type: ignore[attr-defined]
    scheduler = client.app.state.services.ticket_automation.scheduler  # type: ignore[attr-defined]
    return int(client.portal.call(scheduler.tick))


PENDING_48H = {
    "name": "remind pending",
    "conditions": {"since": {"field": "status", "value": "pending", "hours": 48}},
    "actions": [
        {"type": "add_tags", "tags": ["reminded"]},
        {"type": "email", "to": "requester", "subject": "#{id} waits for you",
         "body": "We still need your answer on {subject}."},
    ],
}  # fmt: skip


def test_automations_are_managed_by_ticket_admins_and_checked(client):
    sup, amy = bearer(client, "sup"), bearer(client, "amy")
    assert client.post("/api/ticket-automations", json=PENDING_48H, headers=amy).status_code == 403
    bad = client.post("/api/ticket-automations", headers=sup, json={**PENDING_48H,
        "conditions": {"since": {"field": "status", "value": "pending", "hours": 0}}})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "conditions", "since", "hours"]
    bad = client.post("/api/ticket-automations", headers=sup, json={**PENDING_48H,
        "conditions": {"since": {"field": "status", "hours": 1},
                       "all": [{"field": "status", "op": "changed"}]}})  # fmt: skip
    assert bad.status_code == 422
    made = _automation(client, **PENDING_48H)
    assert client.get("/api/ticket-automations", headers=sup).json() == [made]
    assert client.delete(f"/api/ticket-automations/{made['id']}", headers=sup).status_code == 204
    assert client.get("/api/ticket-automations", headers=sup).json() == []


def test_pending_48_hours_applies_once_per_episode(client):
    sup = bearer(client, "sup")
    _automation(client, **PENDING_48H)
    waiting = new_ticket(client)
    open_one = new_ticket(client)
    client.patch(f"/api/tickets/{waiting['id']}", json={"status": "pending"}, headers=sup)
    client.patch(f"/api/tickets/{open_one['id']}", json={"status": "open"}, headers=sup)
    assert _tick(client, hours=47) == 0
    assert _tick(client, hours=1.5) == 1
    assert get_ticket(client, waiting["id"])["tags"] == ["reminded"]
    assert ("automation:remind pending", "tags", ["reminded"]) in changes(client, waiting["id"])
    assert get_ticket(client, open_one["id"])["tags"] == []
    assert _tick(client, hours=24) == 0  # the same episode: once
    # Answered, then pending again: a new episode, and after 48 h a new reminder.
    sup = bearer(client, "sup")  # the clock moved past the first token's life
    for step in ({"status": "open", "tags": []}, {"status": "pending"}):
        r = client.patch(f"/api/tickets/{waiting['id']}", json=step, headers=sup)
        assert r.status_code == 200, r.text
    assert _tick(client, hours=47.9) == 0
    assert _tick(client, hours=0.2) == 1
    assert get_ticket(client, waiting["id"])["tags"] == ["reminded"]


def test_solved_seven_days_closes_and_other_conditions_narrow_it(client):
    sup = bearer(client, "sup")
    _automation(client, name="close solved", conditions={
        "since": {"field": "status", "value": "solved", "hours": 7 * 24},
        "all": [{"field": "tags", "op": "is_not", "value": "keep-open"}]},
        actions=[{"type": "set", "field": "status", "value": "closed"}])  # fmt: skip
    done = new_ticket(client)
    kept = new_ticket(client, tags=["keep-open"])
    for t in (done, kept):
        client.patch(f"/api/tickets/{t['id']}", json={"status": "solved"}, headers=sup)
    assert _tick(client, hours=6 * 24) == 0
    assert _tick(client, hours=25) == 1
    closed = get_ticket(client, done["id"])
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert ("automation:close solved", "status", "closed") in changes(client, done["id"])
    assert get_ticket(client, kept["id"])["status"] == "solved"
    assert _tick(client, hours=24 * 30) == 0  # closed is final: never considered again
