"""Ticket events on /ws/events reach an agent for the tickets of their groups and those
assigned to them, following group changes live; supervisors get them all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.support.app import app_client, bearer

USERS = [("sup", "supervisor"), ("amy", "agent"), ("ann", "agent"), ("bob", "agent")]


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    """Groups: support (amy, ann) and billing (bob); one customer."""
    with app_client(tmp_path, USERS) as c:
        c.groups = {}  # type: ignore[attr-defined]
        for name in ("support", "billing"):
            group = c.post("/api/ticket-groups", json={"name": name}, headers=bearer(c, "sup"))
            c.groups[name] = group.json()["id"]  # type: ignore[attr-defined]
        _members(c, "support", "amy", "ann")
        _members(c, "billing", "bob")
        li = c.post("/api/customers", json={"name": "Li Lei"}, headers=bearer(c, "sup"))
        c.customer = li.json()["id"]  # type: ignore[attr-defined]
        yield c


def _ticket(client: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"subject": "Router keeps rebooting", "requester_id": client.customer,  # type: ignore[attr-defined]
            "group_id": client.groups["support"], **fields}  # type: ignore[attr-defined]  # fmt: skip
    r = client.post("/api/tickets", json=body, headers=bearer(client, "sup"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _socket(client: TestClient, who: str) -> Any:
    token = bearer(client, who)["Authorization"][7:]
    return client.websocket_connect(f"/ws/events?types=ticket.&token={token}")


def _members(client: TestClient, group: str, *names: str) -> None:
    r = client.put(
        f"/api/ticket-groups/{client.groups[group]}/members",  # type: ignore[attr-defined]
        json={"user_ids": [client.ids[n] for n in names]},  # type: ignore[attr-defined]
        headers=bearer(client, "sup"),
    )
    assert r.status_code == 200, r.text


def _next(ws: Any) -> tuple[str, int]:
    event = ws.receive_json()
    return event["type"], event["data"]["id"]


def test_an_agent_hears_of_their_groups_tickets_and_follows_membership_changes(client):
    support, billing = client.groups["support"], client.groups["billing"]
    with _socket(client, "amy") as amy, _socket(client, "sup") as sup:
        assert amy.receive_json()["type"] == "hello"
        assert sup.receive_json()["type"] == "hello"
        theirs = _ticket(client)
        assert _next(amy) == ("ticket.created", theirs["id"])
        assert _next(sup) == ("ticket.created", theirs["id"])
        other = _ticket(client, group_id=billing)
        assert _next(sup) == ("ticket.created", other["id"])
        # Amy is not in billing: the next thing she hears is her group's ticket.
        marker = _ticket(client)
        assert _next(amy) == ("ticket.created", marker["id"])

        _members(client, "billing", "bob", "amy")  # joins: from now on she hears billing
        joined = _ticket(client, group_id=billing, assignee_id=client.ids["amy"])
        assert _next(amy) == ("ticket.created", joined["id"])

        _members(client, "billing", "bob")  # leaves; the ticket assigned to her stays hers
        url = f"/api/tickets/{joined['id']}"
        r = client.patch(url, json={"priority": "high"}, headers=bearer(client, "sup"))
        assert r.status_code == 200
        assert _next(amy) == ("ticket.updated", joined["id"])
        _ticket(client, group_id=billing)  # not hers any more
        r = client.patch(url, json={"assignee_id": None}, headers=bearer(client, "sup"))
        unassigned = amy.receive_json()  # she hears it leave her
        assert (unassigned["type"], unassigned["data"]["id"]) == ("ticket.updated", joined["id"])
        assert unassigned["data"]["from_assignee_id"] == client.ids["amy"]
        client.patch(url, json={"priority": "low"}, headers=bearer(client, "sup"))  # not hers
        marker = _ticket(client, group_id=support)
        assert _next(amy) == ("ticket.created", marker["id"])


def test_an_escalation_reaches_the_group_it_left_and_comments_the_group(client):
    ticket = _ticket(client)
    url = f"/api/tickets/{ticket['id']}"
    with _socket(client, "amy") as amy, _socket(client, "bob") as bob:
        assert amy.receive_json()["type"] == "hello"
        assert bob.receive_json()["type"] == "hello"
        note = {"body": "checked the line", "public": False}
        assert client.post(f"{url}/comments", json=note, headers=bearer(client, "ann")).is_success
        event = amy.receive_json()
        assert event["type"] == "ticket.commented" and "body" not in event["data"]
        moved = client.patch(
            url, json={"group_id": client.groups["billing"]}, headers=bearer(client, "ann")
        )
        assert moved.status_code == 200
        assert _next(amy) == ("ticket.updated", ticket["id"])  # it left her group
        assert _next(bob) == ("ticket.updated", ticket["id"])  # and came to his


def test_forwarding_ticket_events_asks_the_database_nothing(client):
    """Group memberships are read once per connection, not once per event."""
    engine = client.app.state.services.db.engine.sync_engine  # type: ignore[attr-defined]
    asked: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "ticket_group_members" in statement:
            asked.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with _socket(client, "amy") as amy:
            assert amy.receive_json()["type"] == "hello"
            assert len(asked) == 1  # her groups, as the connection opened
            made = [_ticket(client, group_id=client.groups[g])["id"]
                    for g in ("support", "billing", "support", "billing", "support")]  # fmt: skip
            assert [_next(amy)[1] for _ in range(3)] == [made[0], made[2], made[4]]
            assert len(asked) == 1
    finally:
        event.remove(engine, "before_cursor_execute", count)
