"""Supervisors' API on the real app (no telephony): announcements, agents' states, the
wallboard's tiles, and who may do what."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from callcenter.clock import FixedClock
from tests.support.app import app_client, bearer

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USERS = [("boss", "admin"), ("sup", "supervisor"), ("amy", "agent"), ("bob", "agent")]


@pytest.fixture(scope="module")
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture(scope="module")
def client(tmp_path_factory, clock) -> Iterator[TestClient]:
    with app_client(tmp_path_factory.mktemp("sup"), USERS, clock) as c:
        for name, teams in (("amy", ["day"]), ("bob", ["night"])):
            profile = {"teams": teams, "skills": {"support": 1}}
            c.put(f"/api/agents/{c.ids[name]}/profile", json=profile,  # type: ignore[attr-defined]
                  headers=bearer(c, "boss")).raise_for_status()  # fmt: skip
        yield c


def test_an_announcement_reaches_its_team_only_and_expires(client, clock):
    sup, amy, bob = (bearer(client, n) for n in ("sup", "amy", "bob"))
    everyone = client.post("/api/announcements", json={"text": "System maintenance at 18:00"},
                           headers=sup)  # fmt: skip
    assert everyone.status_code == 201, everyone.text
    notice = {"text": "日班：新促销话术见知识库", "team": "day", "hours": 1}
    day = client.post("/api/announcements", json=notice, headers=sup)
    assert day.json()["author"] == "sup"
    texts = lambda h: [a["text"] for a in client.get("/api/announcements", headers=h).json()]  # noqa: E731
    assert texts(amy) == ["日班：新促销话术见知识库", "System maintenance at 18:00"]
    assert texts(bob) == ["System maintenance at 18:00"]
    assert len(texts(sup)) == 2
    clock.advance(timedelta(hours=2))  # the day team's is over, the other runs 8 h
    assert texts(amy) == ["System maintenance at 18:00"]
    assert (
        client.delete(f"/api/announcements/{everyone.json()['id']}", headers=sup).status_code == 204
    )
    assert texts(amy) == []
    assert (
        client.delete(f"/api/announcements/{everyone.json()['id']}", headers=sup).status_code == 404
    )


@pytest.mark.parametrize(("body", "field"), [
    ({"text": ""}, "text"), ({"text": "x" * 1001}, "text"), ({"text": "hi", "hours": 0}, "hours"),
    ({"text": "hi", "hours": 1000}, "hours"), ({"text": "hi", "team": ""}, "team"),
])  # fmt: skip
def test_bad_announcements_get_a_field_level_422(client, body, field):
    r = client.post("/api/announcements", json=body, headers=bearer(client, "sup"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == field


def test_agents_cannot_announce_or_move_colleagues_or_read_the_wallboard(client):
    amy = bearer(client, "amy")
    assert client.post("/api/announcements", json={"text": "hi"}, headers=amy).status_code == 403
    bob = client.ids["bob"]
    r = client.put(f"/api/supervise/agents/{bob}/state", json={"state": "offline"}, headers=amy)
    assert r.status_code == 403
    assert client.get("/api/wallboard", headers=amy).status_code == 403
    r = client.post(f"/api/supervise/agents/{bob}/monitor", json={"mode": "listen"}, headers=amy)
    assert r.status_code == 403


def test_a_supervisor_moves_an_agent_and_the_wallboard_shows_it(client):
    sup = bearer(client, "sup")
    amy = client.ids["amy"]
    r = client.put(f"/api/supervise/agents/{amy}/state", json={"state": "available"}, headers=sup)
    assert r.status_code == 200 and r.json()["state"] == "available"
    r = client.put(f"/api/supervise/agents/{amy}/state", json={"state": "break"}, headers=sup)
    assert r.status_code == 422  # a break needs a reason
    r = client.put(f"/api/supervise/agents/{amy}/state",
                   json={"state": "break", "reason": "coaching"}, headers=sup)  # fmt: skip
    assert r.status_code == 200
    assert client.put("/api/supervise/agents/9999/state", json={"state": "offline"},
                      headers=sup).status_code == 404  # fmt: skip
    board = client.get("/api/wallboard", headers=sup).json()
    tile = board["agents"][str(amy)]
    assert (tile["state"], tile["reason"], tile["teams"]) == ("break", "coaching", ["day"])
    assert str(client.ids["sup"]) not in board["agents"]  # supervisors are no agents here
    assert board["queues"]["support"]["agents"]["break"] == 1
    audit = client.get("/api/audit", headers=bearer(client, "boss")).json()["items"]
    assert f"PUT /api/supervise/agents/{amy}/state" in [e["action"] for e in audit]


def test_monitoring_needs_telephony(client):
    r = client.post(f"/api/supervise/agents/{client.ids['amy']}/monitor",
                    json={"mode": "barge", "extension": "2001"},
                    headers=bearer(client, "sup"))  # fmt: skip
    assert r.status_code == 503
