"""Links between tickets on the real app: kinds seen from each end, history on both,
the problem rules, visibility of both ends, and solving a problem's incidents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.clock import FixedClock
from tests.support.app import app_client, bearer
from tests.support.tickets import add_groups

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USERS = [("sup", "supervisor"), ("amy", "agent"), ("bob", "agent")]


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    """Groups: support (amy), billing (bob); one customer."""
    with app_client(tmp_path, USERS, FixedClock(START)) as c:
        sup = bearer(c, "sup")
        add_groups(c, {"support": ["amy"], "billing": ["bob"]})
        c.customer = c.post("/api/customers", json={"name": "Li"}, headers=sup).json()["id"]  # type: ignore[attr-defined]
        yield c


def _ticket(client: TestClient, subject: str = "No internet", group: str = "support") -> int:
    body = {"subject": subject, "requester_id": client.customer,
            "group_id": client.groups[group]}  # type: ignore[attr-defined]  # fmt: skip
    r = client.post("/api/tickets", json=body, headers=bearer(client, "sup"))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _link(client: TestClient, ticket: int, other: int, kind: str, who: str = "amy") -> Any:
    return client.post(f"/api/tickets/{ticket}/links", json={"ticket_id": other, "kind": kind},
                       headers=bearer(client, who))  # fmt: skip


def _links(client: TestClient, ticket: int, who: str = "sup") -> list[tuple[int, str]]:
    items = client.get(f"/api/tickets/{ticket}/links", headers=bearer(client, who)).json()["items"]
    return [(i["ticket_id"], i["kind"]) for i in items]


def _link_history(client: TestClient, ticket: int) -> list[tuple[Any, Any]]:
    items = client.get(f"/api/tickets/{ticket}/history", headers=bearer(client, "sup")).json()
    return [(h["old"], h["new"]) for h in items["items"] if h.get("field") == "link"]


def test_each_end_sees_what_the_other_ticket_is_to_it_and_both_histories_say_so(client):
    problem, incident, other = _ticket(client, "Outage"), _ticket(client), _ticket(client)
    r = _link(client, incident, problem, "problem")
    assert r.status_code == 201, r.text
    assert r.json() == {"ticket_id": problem, "kind": "problem", "subject": "Outage",
                        "status": "new"}  # fmt: skip
    assert _link(client, problem, other, "duplicate").status_code == 201
    assert _links(client, incident) == [(problem, "problem")]
    assert _links(client, problem) == [(incident, "incident"), (other, "duplicate")]
    assert _links(client, other) == [(problem, "original")]
    assert _link_history(client, incident) == [(None, {"ticket_id": problem, "kind": "problem"})]
    assert _link_history(client, problem)[0] == (None, {"ticket_id": incident, "kind": "incident"})
    removed = client.delete(
        f"/api/tickets/{problem}/links/{incident}", headers=bearer(client, "amy")
    )
    assert removed.status_code == 204
    assert _links(client, incident) == []
    assert _link_history(client, incident)[-1] == ({"ticket_id": problem, "kind": "problem"}, None)
    again = client.delete(f"/api/tickets/{problem}/links/{incident}", headers=bearer(client, "amy"))
    assert again.status_code == 422


def test_self_links_duplicates_and_problem_chains_are_422_and_nothing_is_stored(client):
    a, b, c, d = (_ticket(client) for _ in range(4))
    assert _link(client, a, b, "related").status_code == 201
    before = _link_history(client, a)
    cases = [
        (a, a, "related", "ticket_id", "itself"),
        (a, b, "duplicate", "ticket_id", "already linked to"),
        (b, a, "problem", "ticket_id", "already linked to"),
        (a, 999, "related", "ticket_id", "no ticket 999"),
        (a, c, "sibling", "kind", ""),
    ]
    for ticket, other, kind, field, words in cases:
        r = _link(client, ticket, other, kind)
        assert r.status_code == 422, (ticket, other, kind, r.text)
        detail = r.json()["detail"][0]
        assert detail["loc"] == ["body", field] and words in detail["msg"], detail
    assert _link_history(client, a) == before
    # Problems: one per incident, no chains.
    assert _link(client, c, d, "problem").status_code == 201  # c is an incident of d
    for ticket, other, kind, words in (
        (c, b, "problem", "already an incident of"),
        (b, c, "problem", "not a problem"),
        (d, b, "problem", "incidents of its own"),
    ):
        r = _link(client, ticket, other, kind)
        assert r.status_code == 422 and words in r.json()["detail"][0]["msg"], r.text
    assert _links(client, b) == [(a, "related")]


def test_both_ends_must_be_visible_to_the_actor(client):
    mine, theirs = _ticket(client), _ticket(client, group="billing")
    r = _link(client, mine, theirs, "related", who="amy")  # amy does not see billing's
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "ticket_id"]
    assert _link(client, theirs, mine, "related", who="amy").status_code == 404
    assert (
        client.get(f"/api/tickets/{theirs}/links", headers=bearer(client, "amy")).status_code == 404
    )
    assert _links(client, mine) == []
    # A supervisor links them; each agent sees only the link's visible end... none.
    assert _link(client, mine, theirs, "related", who="sup").status_code == 201
    assert _links(client, mine, who="amy") == []
    assert _links(client, mine, who="sup") == [(theirs, "related")]
    r = client.delete(f"/api/tickets/{mine}/links/{theirs}", headers=bearer(client, "amy"))
    assert r.status_code == 422
    assert _links(client, mine, who="sup") == [(theirs, "related")]


def test_solving_a_problem_solves_its_open_incidents_with_a_reply_on_each(client):
    sup = bearer(client, "sup")
    problem = _ticket(client, "Outage")
    fresh, pending, done = (_ticket(client) for _ in range(3))
    hidden = _ticket(client, group="billing")
    client.patch(f"/api/tickets/{pending}", json={"status": "pending"}, headers=sup)
    client.patch(f"/api/tickets/{done}", json={"status": "solved"}, headers=sup)
    for incident in (fresh, pending, done, hidden):
        assert _link(client, incident, problem, "problem", who="sup").status_code == 201
    bad = client.post(f"/api/tickets/{problem}/solve-incidents", json={"body": "Fixed"},
                      headers=bearer(client, "amy"))  # fmt: skip
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body"]
    r = client.post(f"/api/tickets/{problem}/solve-incidents",
                    json={"body": "The outage is fixed", "public": True},
                    headers=bearer(client, "amy"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["problem"]["status"] == "solved"
    assert r.json()["solved"] == [fresh, pending]  # not the solved one, not billing's

    def status(ticket: int) -> str:
        return client.get(f"/api/tickets/{ticket}", headers=sup).json()["status"]

    assert [status(t) for t in (fresh, pending, done, hidden)] == [
        "solved", "solved", "solved", "new",
    ]  # fmt: skip
    history = client.get(f"/api/tickets/{fresh}/history", headers=sup).json()["items"]
    assert [(h["kind"], h.get("body") or h.get("new")) for h in history][-3:] == [
        ("comment", "The outage is fixed"), ("change", "open"), ("change", "solved"),
    ]  # fmt: skip
    closed = client.patch(f"/api/tickets/{problem}", json={"status": "closed"}, headers=sup)
    assert closed.status_code == 200
    again = client.post(f"/api/tickets/{problem}/solve-incidents", json={}, headers=sup)
    assert again.status_code == 409
