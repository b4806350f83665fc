"""Assignment rules per group on the real app: round robin (remembered across a
restart), least loaded, skills, logged-in only, and the trigger action."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import app_client, bearer
from tests.support.tickets import changes, desk, eventually, get_ticket, new_ticket, ticket_events


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    with desk(tmp_path) as c:
        yield c


def _rule(client: TestClient, group: str = "support", **body: Any) -> dict[str, Any]:
    r = client.put(f"/api/ticket-groups/{client.groups[group]}/assignment", json=body,
                   headers=bearer(client, "sup"))  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


def test_rules_are_set_by_ticket_admins_and_checked(client):
    sup, amy = bearer(client, "sup"), bearer(client, "amy")
    url = f"/api/ticket-groups/{client.groups['support']}/assignment"
    assert client.get(url, headers=sup).json()["strategy"] == "none"
    assert client.put(url, json={"strategy": "round_robin"}, headers=amy).status_code == 403
    bad = client.put(url, json={"strategy": "random"}, headers=sup)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "strategy"]
    bad = client.put(url, json={"strategy": "least_loaded", "skills": {"by_type": {"x": "y"}}},
                     headers=sup)  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "skills", "by_type"]
    assert client.put("/api/ticket-groups/999/assignment", json={"strategy": "none"},
                      headers=sup).status_code == 404  # fmt: skip
    rule = _rule(client, strategy="least_loaded", skills={"by_tag": {"VIP": "vip_care"}})
    assert rule["skills"] == {"by_type": {}, "by_tag": {"vip": "vip_care"}}


def test_round_robin_takes_turns_and_remembers_its_place_across_a_restart(tmp_path):
    with desk(tmp_path) as client:
        amy, ann = client.ids["amy"], client.ids["ann"]
        _rule(client, strategy="round_robin")
        events = ticket_events(client)
        got = [new_ticket(client)["assignee_id"] for _ in range(3)]
        assert got == [amy, ann, amy]
        # The rule's choice is in the event, so the chosen agent's desk hears of it.
        created = [e.data["assignee_id"] for e in events() if e.type == "ticket.created"]
        assert created == got
        given = new_ticket(client, assignee_id=amy)  # an assignee given: the rule stays out
        assert given["assignee_id"] == amy
        first = new_ticket(client, group_id=client.groups["billing"])  # billing has no rule
        assert first["assignee_id"] is None
        last = got[-1]
        assert ("assignment", "assignee_id", last) in changes(client, 3)
    with app_client(tmp_path, [], client.clock) as again:  # same database, a new process
        r = again.post("/api/tickets", headers=bearer(again, "sup"), json={
            "subject": "Again", "requester_id": client.customer,
            "group_id": client.groups["support"]})  # fmt: skip
        assert r.status_code == 201 and r.json()["assignee_id"] == ann


def test_least_loaded_counts_open_tickets_and_skills_narrow_the_choice(client):
    sup = bearer(client, "sup")
    amy, ann = client.ids["amy"], client.ids["ann"]
    for _ in range(2):
        new_ticket(client, assignee_id=amy)
    solved = new_ticket(client, assignee_id=ann)
    for _ in range(3):  # solved tickets are not load
        t = new_ticket(client, assignee_id=ann)
        client.patch(f"/api/tickets/{t['id']}", json={"status": "solved"}, headers=sup)
    _rule(client, strategy="least_loaded", skills={"by_type": {"fault": "fiber"}})
    assert new_ticket(client)["assignee_id"] == ann  # amy 2 open, ann 1
    assert new_ticket(client)["assignee_id"] == amy  # 2 each: the lower id
    assert solved["assignee_id"] == ann
    # Only amy has the skill a fault needs: she gets it though she is busier.
    r = client.put(f"/api/agents/{amy}/profile", json={"skills": {"fiber": 3}},
                   headers=bearer(client, "boss"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert new_ticket(client, type="fault")["assignee_id"] == amy
    client.put(f"/api/agents/{amy}/profile", json={"skills": {}}, headers=bearer(client, "boss"))
    assert new_ticket(client, type="fault")["assignee_id"] is None  # nobody fits: unassigned


def test_only_logged_in_agents_and_the_assign_by_rule_action(client):
    sup = bearer(client, "sup")
    _rule(client, strategy="round_robin", only_logged_in=True)
    nobody = new_ticket(client)
    assert nobody["assignee_id"] is None
    r = client.put("/api/agents/me/state", json={"state": "available"},
                   headers=bearer(client, "ann"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert new_ticket(client)["assignee_id"] == client.ids["ann"]
    # The trigger action: urgent tickets nobody holds are assigned by the group's rule.
    r = client.post("/api/ticket-triggers", headers=sup, json={
        "name": "urgent gets someone", "conditions": {"all": [
            {"field": "priority", "op": "changed_to", "value": "urgent"},
            {"field": "assignee_id", "op": "is", "value": None}]},
        "actions": [{"type": "assign_by_rule"}]})  # fmt: skip
    assert r.status_code == 201, r.text
    client.patch(f"/api/tickets/{nobody['id']}", json={"priority": "urgent"}, headers=sup)
    done = eventually(lambda: get_ticket(client, nobody["id"]), lambda t: t["assignee_id"])
    assert done["assignee_id"] == client.ids["ann"]
    assert ("trigger:urgent gets someone", "assignee_id", client.ids["ann"]) in changes(
        client, nobody["id"]
    )
