"""Tickets' API on the real app (no telephony): groups, tickets, status transitions,
comments, history, events, and who may see which ticket and which requester."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.calls.service import NewCall
from callcenter.clock import FixedClock
from tests.support.app import app_client, bearer
from tests.support.tickets import add_groups, ticket_events

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USERS = [
    ("boss", "admin"),
    ("sup", "supervisor"),
    ("amy", "agent"),
    ("ann", "agent"),
    ("bob", "agent"),
]


async def _served(services: Any, number: str, agent: int) -> int:
    """A finished inbound call from `number` that `agent` answered."""
    call = await services.calls.start(NewCall(f"c-{number}", number, "", "4008001000"))
    await services.calls.answered(call.id)
    await services.calls.connected(call.id, agent, ring_seconds=1.0)
    services.clock.advance(timedelta(minutes=1))
    await services.calls.end(call.id, cause=16, cause_text="Normal", ended_by="caller")
    return int(call.id)


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    """Groups: support (amy, ann) and billing (bob); one customer, Li."""
    with app_client(tmp_path, USERS, FixedClock(START)) as c:
        sup = bearer(c, "sup")
        add_groups(c, {"support": ["amy", "ann"], "billing": ["bob"]})
        li = c.post(
            "/api/customers", json={"name": "Li Lei", "phones": ["+8613800138000"]}, headers=sup
        )
        c.customer = li.json()["id"]  # type: ignore[attr-defined]
        yield c


def _ticket(client: TestClient, who: str = "sup", **fields: Any) -> dict[str, Any]:
    body = {
        "subject": "Router keeps rebooting",
        "requester_id": client.customer,  # type: ignore[attr-defined]
        "group_id": client.groups["support"],
        **fields,
    }  # type: ignore[attr-defined]
    r = client.post("/api/tickets", json=body, headers=bearer(client, who))
    assert r.status_code == 201, r.text
    return r.json()


def _total(client: TestClient) -> int:
    return int(client.get("/api/tickets", headers=bearer(client, "sup")).json()["total"])


def test_groups_are_managed_by_supervisors_and_read_by_agents(client):
    sup, amy = bearer(client, "sup"), bearer(client, "amy")
    assert client.post("/api/ticket-groups", json={"name": "vip"}, headers=amy).status_code == 403
    r = client.put(
        f"/api/ticket-groups/{client.groups['billing']}/members",
        json={"user_ids": [client.ids["amy"]]},
        headers=amy,
    )
    assert r.status_code == 403
    listed = client.get("/api/ticket-groups", headers=amy).json()
    assert [(g["name"], g["members"]) for g in listed] == [
        ("billing", [client.ids["bob"]]),
        ("support", sorted([client.ids["amy"], client.ids["ann"]])),
    ]
    again = client.post("/api/ticket-groups", json={"name": "support"}, headers=sup)
    assert again.status_code == 422 and again.json()["detail"][0]["loc"] == ["body", "name"]
    r = client.put(
        f"/api/ticket-groups/{client.groups['billing']}/members",
        json={"user_ids": [client.ids["bob"], 9999]},
        headers=sup,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "user_ids"]
    assert "9999" in r.json()["detail"][0]["msg"]
    # Refused: the members stay as they were.
    billing = next(
        g for g in client.get("/api/ticket-groups", headers=sup).json() if g["name"] == "billing"
    )
    assert billing["members"] == [client.ids["bob"]]
    assert (
        client.put("/api/ticket-groups/999/members", json={"user_ids": []}, headers=sup).status_code
        == 404
    )


def test_a_ticket_is_created_read_and_changed_with_normalized_values(client):
    # Custom fields follow the type's form (test_ticket_types_api.py): give fault one.
    form = [
        {"key": "model", "label_en": "Model", "label_zh": "型号", "kind": "text"},
        {"key": "warranty", "label_en": "Warranty", "label_zh": "保修", "kind": "boolean"},
    ]
    r = client.patch("/api/ticket-types/fault", json={"form": form}, headers=bearer(client, "sup"))
    assert r.status_code == 200, r.text
    events = ticket_events(client)
    created = _ticket(
        client,
        type="fault",
        priority="high",
        tags=["Router ", "router", "光猫"],
        custom_fields={"model": "AX3000", "warranty": True},
        source="call",
    )
    assert created["status"] == "new" and created["tags"] == ["router", "光猫"]
    assert created["custom_fields"] == {"model": "AX3000", "warranty": True}
    assert created["created_at"] == START.isoformat() and created["solved_at"] is None
    amy = bearer(client, "amy")
    assert client.get(f"/api/tickets/{created['id']}", headers=amy).json() == created
    r = client.patch(
        f"/api/tickets/{created['id']}",
        json={"assignee_id": client.ids["amy"], "priority": "urgent", "status": "open"},
        headers=amy,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["assignee_id"], r.json()["priority"], r.json()["status"]) == (
        client.ids["amy"],
        "urgent",
        "open",
    )
    mine = client.get("/api/tickets", params={"assignee": "me"}, headers=amy).json()
    assert [t["id"] for t in mine["items"]] == [created["id"]]
    assert (
        client.get("/api/tickets", params={"assignee": "me"}, headers=bearer(client, "ann")).json()[
            "total"
        ]
        == 0
    )
    got = events()
    assert [(e.type, e.data) for e in got] == [
        (
            "ticket.created",
            {"id": created["id"], "group_id": client.groups["support"], "assignee_id": None},
        ),
        (
            "ticket.updated",
            {
                "id": created["id"],
                "group_id": client.groups["support"],
                "fields": ["assignee_id", "priority", "status"],
                "assignee_id": client.ids["amy"],
            },
        ),
    ]


def test_the_list_filters_and_pages_newest_first(client):
    sup = bearer(client, "sup")
    first = _ticket(client, subject="Invoice is wrong", group_id=client.groups["billing"])
    second = _ticket(client, subject="No dial tone")
    third = _ticket(client, subject="Second invoice question", group_id=client.groups["billing"])

    def ids(**params: Any) -> list[int]:
        found = client.get("/api/tickets", params=params, headers=sup).json()["items"]
        return [t["id"] for t in found]

    assert ids() == [third["id"], second["id"], first["id"]]
    assert ids(q="INVOICE") == [third["id"], first["id"]]
    assert ids(group_id=client.groups["support"]) == [second["id"]]
    assert ids(limit=1, offset=1) == [second["id"]]
    assert ids(requester_id=client.customer, status="new", limit=2) == [third["id"], second["id"]]
    bad = client.get("/api/tickets", params={"status": "done"}, headers=sup)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "status"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subject": ""}, "subject"),
        ({"subject": "x" * 201}, "subject"),
        ({"type": "praise"}, "type"),
        ({"priority": "asap"}, "priority"),
        ({"source": "fax"}, "source"),
        ({"tags": ["no!tag"]}, "tags"),
        ({"custom_fields": {"1bad": "x"}}, "custom_fields"),
        ({"requester_id": 999}, "requester_id"),
        ({"group_id": 999}, "group_id"),
        ({"call_id": 999}, "call_id"),
        ({"assignee_id": "bob"}, "assignee_id"),
        ({"status": "open"}, "status"),
    ],
)
def test_bad_tickets_get_a_field_level_422_and_nothing_is_stored(client, change, field):
    body = {
        "subject": "Hi",
        "requester_id": client.customer,
        "group_id": client.groups["support"],
        **change,
    }
    if field == "assignee_id":  # bob is a user, but not in support
        body["assignee_id"] = client.ids["bob"]
    r = client.post("/api/tickets", json=body, headers=bearer(client, "sup"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == field
    assert _total(client) == 0


def test_an_agent_creates_only_in_their_groups_and_for_customers_they_may_see(client):
    amy = bearer(client, "amy")
    body = {"subject": "Hi", "requester_id": client.customer, "group_id": client.groups["support"]}
    r = client.post("/api/tickets", json=body, headers=amy)
    # Amy never served Li and no ticket of Li's is in her groups: as if Li did not exist.
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "requester_id"]
    client.portal.call(_served, client.app.state.services, "+8613800138000", client.ids["amy"])
    r = client.post(
        "/api/tickets", json={**body, "group_id": client.groups["billing"]}, headers=amy
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "group_id"]
    assert _total(client) == 0
    assert client.post("/api/tickets", json=body, headers=amy).status_code == 201


def test_status_moves_by_the_table_and_closed_is_final(client):
    sup = bearer(client, "sup")
    ticket = _ticket(client)
    url = f"/api/tickets/{ticket['id']}"

    def patch(body: dict[str, Any]) -> Any:
        return client.patch(url, json=body, headers=sup)

    solved = patch({"status": "solved"})
    assert solved.json()["solved_at"] == START.isoformat()
    refused = patch({"status": "pending", "priority": "low"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "status"]
    assert "from solved: one of open, closed" in refused.json()["detail"][0]["msg"]
    assert client.get(url, headers=sup).json()["priority"] == "normal"  # nothing stored
    reopened = patch({"status": "open"}).json()
    assert reopened["status"] == "open" and reopened["solved_at"] is None
    assert patch({"status": "new"}).status_code == 422  # nothing goes back to new
    assert patch({"status": "bogus"}).json()["detail"][0]["loc"] == ["body", "status"]
    closed = patch({"status": "closed"}).json()
    assert closed["closed_at"] == START.isoformat()
    final = patch({"status": "open"})
    assert final.status_code == 422 and "closed is final" in final.json()["detail"][0]["msg"]
    assert patch({"subject": "Still broken"}).status_code == 409
    r = client.post(f"{url}/comments", json={"body": "hello?", "public": True}, headers=sup)
    assert r.status_code == 409
    assert patch({"status": "closed"}).status_code == 200  # no change is no change
    history = client.get(f"{url}/history", headers=sup).json()["items"]
    assert [(h["old"], h["new"]) for h in history] == [
        (None, "new"),
        ("new", "solved"),
        ("solved", "open"),
        ("open", "closed"),
    ]


def test_the_assignee_must_be_a_member_of_the_ticket_group(client):
    sup = bearer(client, "sup")
    ticket = _ticket(client, assignee_id=client.ids["amy"])
    url = f"/api/tickets/{ticket['id']}"
    r = client.patch(url, json={"assignee_id": client.ids["bob"]}, headers=sup)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "assignee_id"]
    # Moving to billing with amy still assigned is refused; with bob it is not.
    r = client.patch(url, json={"group_id": client.groups["billing"]}, headers=sup)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "assignee_id"]
    r = client.patch(
        url,
        json={"group_id": client.groups["billing"], "assignee_id": client.ids["bob"]},
        headers=sup,
    )
    assert r.status_code == 200, r.text
    assert client.patch(url, json={"assignee_id": None}, headers=sup).json()["assignee_id"] is None
    assert client.patch(url, json={"subject": None}, headers=sup).status_code == 422
    assert client.patch(url, json={"requester_id": 1}, headers=sup).status_code == 422


def test_agents_outside_the_group_get_404_for_the_ticket_and_its_requester(client):
    ticket = _ticket(client)
    url = f"/api/tickets/{ticket['id']}"
    bob, amy = bearer(client, "bob"), bearer(client, "amy")
    customer = f"/api/customers/{client.customer}"
    for method, path, body in (
        ("GET", url, None),
        ("PATCH", url, {"priority": "low"}),
        ("GET", f"{url}/history", None),
        ("POST", f"{url}/comments", {"body": "hi", "public": False}),
    ):
        r = client.request(method, path, json=body, headers=bob)
        assert r.status_code == 404, (method, path, r.text)
    assert client.get("/api/tickets", headers=bob).json() == {"total": 0, "items": []}
    assert client.get(customer, headers=bob).status_code == 404
    # Amy never served Li, but Li's ticket is in her group: she sees the profile.
    assert client.get(customer, headers=amy).status_code == 200
    assert client.get("/api/customers", headers=amy).json()["total"] == 1
    # Bob serves Li on the phone: the profile is his to see, the ticket still is not.
    client.portal.call(_served, client.app.state.services, "+8613800138000", client.ids["bob"])
    assert client.get(customer, headers=bob).status_code == 200
    assert client.get(url, headers=bob).status_code == 404


def test_an_assignee_outside_the_group_keeps_the_ticket_in_sight(client):
    sup = bearer(client, "sup")
    ticket = _ticket(client, assignee_id=client.ids["ann"])
    r = client.put(
        f"/api/ticket-groups/{client.groups['support']}/members",
        json={"user_ids": [client.ids["amy"]]},
        headers=sup,
    )
    assert r.status_code == 200
    ann = bearer(client, "ann")
    assert client.get(f"/api/tickets/{ticket['id']}", headers=ann).status_code == 200
    assert client.get(f"/api/customers/{client.customer}", headers=ann).status_code == 200


def test_notes_and_replies_are_history_and_a_reply_opens_a_new_ticket(client):
    ticket = _ticket(client)
    url = f"/api/tickets/{ticket['id']}"
    amy = bearer(client, "amy")
    events = ticket_events(client)
    note = client.post(
        f"{url}/comments", json={"body": "Customer sounds upset", "public": False}, headers=amy
    )
    assert note.status_code == 201 and note.json()["public"] is False
    assert client.get(url, headers=amy).json()["status"] == "new"  # a note is not an answer
    client.app.state.services.clock.advance(timedelta(minutes=5))
    reply = client.post(
        f"{url}/comments", json={"body": "We will call you back", "public": True}, headers=amy
    )
    assert reply.status_code == 201
    after = client.get(url, headers=amy).json()
    assert (
        after["status"] == "open"
        and after["updated_at"] == (START + timedelta(minutes=5)).isoformat()
    )
    r = client.patch(url, json={"tags": ["Callback"], "priority": "high"}, headers=amy)
    assert r.status_code == 200
    history = client.get(f"{url}/history", headers=amy).json()["items"]
    summary = [
        (h["kind"], h.get("field") or h["body"], h.get("old"), h.get("new")) for h in history
    ]
    assert summary == [
        ("change", "status", None, "new"),
        ("comment", "Customer sounds upset", None, None),
        ("comment", "We will call you back", None, None),
        ("change", "status", "new", "open"),
        ("change", "priority", "normal", "high"),
        ("change", "tags", [], ["callback"]),
    ]
    assert history[1]["author"] == {"id": client.ids["amy"], "name": "amy"}
    assert history[3]["actor"] == {"id": client.ids["amy"], "name": "amy"}
    raw = events()
    got = [(e.type, e.data) for e in raw]
    assert (
        "ticket.commented",
        {
            "id": ticket["id"],
            "group_id": client.groups["support"],
            "comment_id": note.json()["id"],
            "public": False,
            "assignee_id": None,
        },
    ) in got
    assert (
        "ticket.updated",
        {
            "id": ticket["id"],
            "group_id": client.groups["support"],
            "fields": ["status"],
            "assignee_id": None,
        },
    ) in got
    # Ids and field names only: an internal note's text reaches no listener.
    assert len(raw) == 4 and all(
        set(e.data) <= {"id", "group_id", "comment_id", "public", "fields", "assignee_id"}
        for e in raw
    )
    bad = client.post(f"{url}/comments", json={"body": "", "public": True}, headers=amy)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "body"
    bad = client.post(f"{url}/comments", json={"body": "x" * 10_001, "public": True}, headers=amy)
    assert bad.status_code == 422
    bad = client.post(f"{url}/comments", json={"body": "hi"}, headers=amy)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "public"
    assert len(client.get(f"{url}/history", headers=amy).json()["items"]) == len(history)


def test_the_customer_timeline_shows_the_tickets_the_reader_may_see(client):
    billing = _ticket(client, subject="Refund", group_id=client.groups["billing"])
    client.app.state.services.clock.advance(timedelta(minutes=1))
    support = _ticket(client, subject="No dial tone")
    timeline = f"/api/customers/{client.customer}/timeline"

    def tickets(who: str) -> list[Any]:
        items = client.get(timeline, headers=bearer(client, who)).json()["items"]
        return [i["id"] for i in items if i["kind"] == "ticket"]

    assert tickets("sup") == [support["id"], billing["id"]]
    assert tickets("amy") == [support["id"]]
    item = client.get(timeline, headers=bearer(client, "amy")).json()["items"][0]
    assert item == {
        "kind": "ticket",
        "id": support["id"],
        "at": support["created_at"],
        "subject": "No dial tone",
        "type": "consultation",
        "priority": "normal",
        "status": "new",
        "group_id": client.groups["support"],
        "assignee_id": None,
        "url": f"/api/tickets/{support['id']}",
    }


def test_a_merge_moves_the_tickets_to_the_kept_profile(client):
    sup = bearer(client, "sup")
    other = client.post("/api/customers", json={"name": "Li L."}, headers=sup).json()
    ticket = _ticket(client, requester_id=other["id"])
    r = client.post(f"/api/customers/{client.customer}/merge", json={"from": other["id"]},
                    headers=sup)  # fmt: skip
    assert r.status_code == 200, r.text
    amy = bearer(client, "amy")
    assert client.get(f"/api/tickets/{ticket['id']}", headers=amy).json()["requester_id"] == (
        client.customer
    )
    items = client.get(f"/api/customers/{client.customer}/timeline", headers=amy).json()["items"]
    assert [i["id"] for i in items if i["kind"] == "ticket"] == [ticket["id"]]


def test_an_agent_escalates_to_another_group_and_then_no_longer_sees_the_ticket(client):
    ticket = _ticket(client)
    url = f"/api/tickets/{ticket['id']}"
    amy = bearer(client, "amy")
    events = ticket_events(client)
    moved = client.patch(url, json={"group_id": client.groups["billing"]}, headers=amy)
    assert moved.status_code == 200 and moved.json()["group_id"] == client.groups["billing"]
    assert [e.data for e in events()] == [
        {"id": ticket["id"], "group_id": client.groups["billing"], "fields": ["group_id"],
         "from_group_id": client.groups["support"], "assignee_id": None}
    ]  # fmt: skip
    assert client.get(url, headers=amy).status_code == 404
    assert client.get(url, headers=bearer(client, "bob")).status_code == 200
