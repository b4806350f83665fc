"""Merging tickets on the real app: copies carried to the target with the history of
both intact, the source closed as a duplicate, requesters, refusals storing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.clock import FixedClock
from tests.support.app import app_client, bearer
from tests.support.tickets import add_groups, ticket_events

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USERS = [("sup", "supervisor"), ("amy", "agent"), ("bob", "agent")]


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    """Groups: support (amy), billing (bob); customers Li and Han."""
    with app_client(tmp_path, USERS, FixedClock(START)) as c:
        sup = bearer(c, "sup")
        add_groups(c, {"support": ["amy"], "billing": ["bob"]})
        c.li = c.post("/api/customers", json={"name": "Li"}, headers=sup).json()["id"]  # type: ignore[attr-defined]
        c.han = c.post("/api/customers", json={"name": "Han"}, headers=sup).json()["id"]  # type: ignore[attr-defined]
        yield c


def _ticket(client: TestClient, subject: str, *, requester: int | None = None,
            group: str = "support") -> int:  # fmt: skip
    body = {"subject": subject, "requester_id": requester or client.li,
            "group_id": client.groups[group]}  # type: ignore[attr-defined]  # fmt: skip
    r = client.post("/api/tickets", json=body, headers=bearer(client, "sup"))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _merge(client: TestClient, source: int, into: Any, who: str = "amy") -> Any:
    return client.post(f"/api/tickets/{source}/merge", json={"into": into},
                       headers=bearer(client, who))  # fmt: skip


def _history(client: TestClient, ticket: int) -> list[dict[str, Any]]:
    url = f"/api/tickets/{ticket}/history"
    return client.get(url, headers=bearer(client, "sup")).json()["items"]


def test_a_merge_copies_comments_and_files_and_closes_the_source_as_a_duplicate(client):
    amy = bearer(client, "amy")
    target = _ticket(client, "No internet")
    source = _ticket(client, "Internet down again")
    client.app.state.services.clock.advance(timedelta(minutes=5))
    client.post(f"/api/tickets/{source}/comments", json={"body": "Restart it", "public": True},
                headers=amy)  # fmt: skip
    client.post(f"/api/tickets/{source}/attachments", data={"public": "false", "body": "log"},
                files={"file": ("log.txt", b"line 1\n")}, headers=amy)  # fmt: skip
    events = ticket_events(client)
    r = _merge(client, source, target)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == target and r.json()["status"] == "new"
    src = client.get(f"/api/tickets/{source}", headers=amy).json()
    assert src["status"] == "closed"
    # The target: the link, the copies (authors and times kept, visibility kept: same
    # requester), then the note.
    got = _history(client, target)[1:]
    assert [(h["kind"], h.get("body") or h.get("filename") or h.get("new")) for h in got[:5]] == [
        ("change", {"ticket_id": source, "kind": "duplicate"}),
        ("comment", "Restart it"),
        ("comment", "log"),
        ("attachment", "log.txt"),
        ("comment", got[4]["body"]),
    ]  # fmt: skip
    assert got[1]["public"] is True and got[1]["author"]["name"] == "amy"
    assert got[1]["at"] == (START + timedelta(minutes=5)).isoformat()
    assert got[3]["comment_id"] == got[2]["id"] and got[3]["public"] is False
    assert got[4]["public"] is False and f"#{source}" in got[4]["body"] and "合并" in got[4]["body"]
    assert client.get(got[3]["url"], headers=amy).content == b"line 1\n"
    # The source keeps its own history whole, then the link, the note, the close.
    tail = _history(client, source)[-3:]
    assert tail[0]["new"] == {"ticket_id": target, "kind": "original"}
    assert tail[1]["public"] is False and f"#{target}" in tail[1]["body"]
    assert (tail[2]["field"], tail[2]["new"]) == ("status", "closed")
    links = client.get(f"/api/tickets/{target}/links", headers=amy).json()["items"]
    assert [(i["ticket_id"], i["kind"]) for i in links] == [(source, "duplicate")]
    assert [(e.type, e.data) for e in events()] == [
        ("ticket.merged", {"id": source, "group_id": client.groups["support"], "into": target,
                           "into_group_id": client.groups["support"]}),
        ("ticket.updated", {"id": source, "group_id": client.groups["support"],
                            "fields": ["status"]}),
    ]  # fmt: skip


def test_refused_merges_are_404_409_or_422_on_into_and_store_nothing(client):
    sup = bearer(client, "sup")
    a, b = _ticket(client, "A"), _ticket(client, "B")
    hans = _ticket(client, "Han's", requester=client.han)
    billing = _ticket(client, "Billing's", group="billing")
    closed = _ticket(client, "Closed")
    client.patch(f"/api/tickets/{closed}", json={"status": "closed"}, headers=sup)
    before = {t: _history(client, t) for t in (a, b, hans, billing, closed)}
    for source, into, status, words in (
        (a, a, 422, "itself"),
        (a, 999, 422, "no ticket 999"),
        (a, billing, 422, f"no ticket {billing}"),  # amy does not see it
        (a, closed, 422, "is closed"),
        (a, hans, 422, "another requester"),
        (billing, a, 404, ""),
        (closed, a, 409, ""),
    ):
        r = _merge(client, source, into)
        assert r.status_code == status, (source, into, r.text)
        if status == 422:
            detail = r.json()["detail"][0]
            assert detail["loc"] == ["body", "into"] and words in detail["msg"], detail
    assert _merge(client, a, "b").status_code == 422
    assert {t: _history(client, t) for t in before} == before


def test_a_supervisor_merges_across_requesters_and_the_copies_become_internal(client):
    sup = bearer(client, "sup")
    source = _ticket(client, "Li's")
    target = _ticket(client, "Han's", requester=client.han)
    client.post(f"/api/tickets/{source}/comments", json={"body": "Li's reply", "public": True},
                headers=sup)  # fmt: skip
    assert _merge(client, source, target, who="sup").status_code == 200
    copied = [h for h in _history(client, target) if h.get("body") == "Li's reply"]
    assert len(copied) == 1 and copied[0]["public"] is False
