"""Ticket triggers on the real app: the admin API, firing after a committed change as
`trigger:<name>`, and the loop guard."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import bearer
from tests.support.tickets import changes, desk, eventually, get_ticket, new_ticket, settle


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    with desk(tmp_path) as c:
        yield c


def _trigger(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/api/ticket-triggers", json=body, headers=bearer(client, "sup"))
    assert r.status_code == 201, r.text
    return r.json()


def test_triggers_are_kept_in_order_by_ticket_admins_and_checked_on_save(client):
    sup, amy = bearer(client, "sup"), bearer(client, "amy")
    body = {"name": "urgent", "conditions": {"all": [
        {"field": "priority", "op": "is", "value": "urgent"}]},
        "actions": [{"type": "add_tags", "tags": ["Urgent"]}]}  # fmt: skip
    assert client.post("/api/ticket-triggers", json=body, headers=amy).status_code == 403
    assert client.get("/api/ticket-triggers", headers=amy).status_code == 403
    second = _trigger(client, **{**body, "position": 20})
    first = _trigger(client, **{**body, "name": "vip first", "position": 10})
    listed = client.get("/api/ticket-triggers", headers=sup).json()
    assert [t["name"] for t in listed] == ["vip first", "urgent"]
    assert listed[1]["actions"] == [{"type": "add_tags", "tags": ["urgent"]}]  # normalized

    taken = client.post("/api/ticket-triggers", json=body, headers=sup)
    assert taken.status_code == 422 and taken.json()["detail"][0]["loc"] == ["body", "name"]
    contains_status = {"field": "status", "op": "contains", "value": "open"}
    bad_op = client.post("/api/ticket-triggers", headers=sup, json={
        **body, "name": "x", "conditions": {"all": [contains_status]}})  # fmt: skip
    assert bad_op.status_code == 422
    assert bad_op.json()["detail"][0]["loc"][:4] == ["body", "conditions", "all", 0]
    no_group = client.post("/api/ticket-triggers", headers=sup, json={**body, "name": "x",
        "actions": [{"type": "set", "field": "group_id", "value": 999}]})  # fmt: skip
    assert no_group.status_code == 422 and no_group.json()["detail"][0]["loc"] == [
        "body",
        "actions",
    ]
    assert "no group 999" in no_group.json()["detail"][0]["msg"]
    no_hook = client.post("/api/ticket-triggers", headers=sup, json={**body, "name": "x",
        "actions": [{"type": "webhook", "webhook_id": 5}]})  # fmt: skip
    assert no_hook.status_code == 422 and "no webhook 5" in no_hook.json()["detail"][0]["msg"]
    assert len(client.get("/api/ticket-triggers", headers=sup).json()) == 2  # nothing stored

    r = client.put(f"/api/ticket-triggers/{first['id']}", headers=sup,
                   json={**body, "name": "vip first", "active": False})  # fmt: skip
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.delete(f"/api/ticket-triggers/{second['id']}", headers=sup).status_code == 204
    assert client.get(f"/api/ticket-triggers/{second['id']}", headers=sup).status_code == 404
    assert client.put("/api/ticket-triggers/999", json=body, headers=sup).status_code == 404


def test_a_trigger_acts_after_a_create_and_the_history_names_it(client):
    _trigger(client, name="faults to billing", conditions={"all": [
        {"field": "event", "op": "is", "value": "created"},
        {"field": "type", "op": "is", "value": "fault"},
        {"field": "subject", "op": "contains", "value": "invoice"}]},
        actions=[{"type": "set", "field": "group_id", "value": client.groups["billing"]},
                 {"type": "set", "field": "priority", "value": "high"},
                 {"type": "add_tags", "tags": ["billing-fault"]}])  # fmt: skip
    other = new_ticket(client, type="fault", subject="No dial tone")
    ticket = new_ticket(client, type="fault", subject="Wrong INVOICE amount")
    done = eventually(lambda: get_ticket(client, ticket["id"]),
                      lambda t: t["group_id"] == client.groups["billing"])  # fmt: skip
    assert (done["priority"], done["tags"]) == ("high", ["billing-fault"])
    assert ("trigger:faults to billing", "group_id", client.groups["billing"]) in changes(
        client, ticket["id"]
    )
    settle(client)
    assert get_ticket(client, other["id"])["group_id"] == client.groups["support"]


def test_changed_to_fires_on_the_update_that_made_it_so_and_comments_have_their_own_kind(client):
    _trigger(client, name="solved", conditions={"all": [
        {"field": "status", "op": "changed_to", "value": "solved"}]},
        actions=[{"type": "add_tags", "tags": ["was-solved"]},
                 {"type": "email", "to": "requester", "subject": "#{id} solved",
                  "body": "Ticket {id} ({subject}) is {status}."}])  # fmt: skip
    _trigger(client, name="replied", conditions={"all": [
        {"field": "event", "op": "is", "value": "commented"}]},
        actions=[{"type": "add_tags", "tags": ["replied"]}])  # fmt: skip
    ticket = new_ticket(client)
    sup = bearer(client, "sup")
    client.patch(f"/api/tickets/{ticket['id']}", json={"priority": "high"}, headers=sup)
    settle(client)
    assert get_ticket(client, ticket["id"])["tags"] == []
    client.patch(f"/api/tickets/{ticket['id']}", json={"status": "solved"}, headers=sup)
    eventually(lambda: get_ticket(client, ticket["id"])["tags"], lambda t: t == ["was-solved"])
    r = client.post(f"/api/tickets/{ticket['id']}/comments", json={"body": "Done", "public": False},
                    headers=sup)  # fmt: skip
    assert r.status_code == 201
    tags = eventually(lambda: get_ticket(client, ticket["id"])["tags"], lambda t: len(t) == 2)
    assert tags == ["replied", "was-solved"]


def test_triggers_that_undo_each_other_fire_once_each_and_stop(client):
    _trigger(
        client,
        name="a to b",
        conditions={"all": [{"field": "tags", "op": "contains", "value": "a"}]},
        actions=[{"type": "remove_tags", "tags": ["a"]}, {"type": "add_tags", "tags": ["b"]}],
    )
    _trigger(
        client,
        name="b to a",
        conditions={"all": [{"field": "tags", "op": "contains", "value": "b"}]},
        actions=[{"type": "remove_tags", "tags": ["b"]}, {"type": "add_tags", "tags": ["a"]}],
    )
    ticket = new_ticket(client, tags=["a"])
    eventually(lambda: changes(client, ticket["id"]), lambda c: len(c) >= 3)
    settle(client, 0.5)
    tag_changes = [(who, new) for who, field, new in changes(client, ticket["id"])
                   if field == "tags"]  # fmt: skip
    assert tag_changes == [("trigger:a to b", ["b"]), ("trigger:b to a", ["a"])]
    assert get_ticket(client, ticket["id"])["tags"] == ["a"]


def test_an_inactive_trigger_or_a_refused_change_does_nothing_harmful(client):
    _trigger(client, name="off", active=False, conditions={}, actions=[
        {"type": "add_tags", "tags": ["never"]}])  # fmt: skip
    # new -> new is no change, and solved -> pending is refused by the status table:
    # the trigger logs the refusal and the ticket stays as it was.
    _trigger(client, name="bad move", conditions={"all": [
        {"field": "status", "op": "changed_to", "value": "solved"}]},
        actions=[{"type": "set", "field": "status", "value": "pending"}])  # fmt: skip
    ticket = new_ticket(client)
    client.patch(f"/api/tickets/{ticket['id']}", json={"status": "solved"},
                 headers=bearer(client, "sup"))  # fmt: skip
    settle(client, 0.5)
    after = get_ticket(client, ticket["id"])
    assert (after["status"], after["tags"]) == ("solved", [])


def test_a_chain_of_triggers_stops_after_five_rounds(client):
    for n in range(1, 7):  # t1: s1 -> s2, t2: s2 -> s3 … t6: s6 -> s7
        _trigger(client, name=f"t{n}", conditions={"all": [
            {"field": "tags", "op": "contains", "value": f"s{n}"}]},
            actions=[{"type": "remove_tags", "tags": [f"s{n}"]},
                     {"type": "add_tags", "tags": [f"s{n + 1}"]}])  # fmt: skip
    ticket = new_ticket(client, tags=["s1"])
    eventually(lambda: get_ticket(client, ticket["id"])["tags"], lambda t: t == ["s6"])
    settle(client, 0.5)
    assert get_ticket(client, ticket["id"])["tags"] == ["s6"]  # t6 would be round 6


def test_the_runner_keeps_the_rules_and_takes_every_change_of_them(client):
    """Rules are read once, not per event; a save or a delete reaches the running
    runner before the next ticket change is judged."""
    sup = bearer(client, "sup")
    new_ticket(client)  # the runner reads (no rules) and keeps that
    rule = _trigger(client, name="tag faults", conditions={"all": [
        {"field": "type", "op": "is", "value": "fault"}]},
        actions=[{"type": "add_tags", "tags": ["hardware"]}])  # fmt: skip
    first = new_ticket(client, type="fault")
    tagged = eventually(lambda: get_ticket(client, first["id"]), lambda t: t["tags"] != [])
    assert tagged["tags"] == ["hardware"]
    assert client.delete(f"/api/ticket-triggers/{rule['id']}", headers=sup).status_code == 204
    second = new_ticket(client, type="fault")
    settle(client)
    assert get_ticket(client, second["id"])["tags"] == []
