"""Agents API on the real app: profiles, presence, its events and its history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from callcenter.auth.permissions import Principal
from callcenter.clock import FixedClock
from tests.support.app import app_client, bearer

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USERS = [("boss", "admin"), ("sup", "supervisor"), ("amy", "agent"), ("bob", "agent")]


@pytest.fixture(scope="module")
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture(scope="module")
def client(tmp_path_factory, clock) -> Iterator[TestClient]:
    with app_client(tmp_path_factory.mktemp("agents"), USERS, clock) as c:
        yield c


def test_admin_sets_a_profile_with_skills_teams_and_capacity(client):
    amy = client.ids["amy"]
    body = {"extension": "1001", "skills": {"support": 7, "zh": 3}, "teams": ["tier1", "cn"],
            "voice_capacity": 1, "chat_capacity": 4}  # fmt: skip
    r = client.put(f"/api/agents/{amy}/profile", json=body, headers=bearer(client, "boss"))
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["skills"], got["teams"], got["chat_capacity"]) == (
        body["skills"],
        ["cn", "tier1"],
        4,
    )
    listed = client.get("/api/agents", headers=bearer(client, "sup")).json()
    assert {a["username"]: a["extension"] for a in listed}["amy"] == "1001"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"skills": {"support": 11}}, "skills"),
        ({"skills": {"Bad Skill": 1}}, "skills"),
        ({"chat_capacity": 99}, "chat_capacity"),
        ({"extension": "12a"}, "extension"),
    ],
)
def test_bad_profiles_get_a_field_level_422_and_change_nothing(client, body, field):
    amy = client.ids["amy"]
    before = client.get("/api/agents", headers=bearer(client, "sup")).json()
    r = client.put(f"/api/agents/{amy}/profile", json=body, headers=bearer(client, "boss"))
    assert r.status_code == 422
    assert field in str(r.json()["detail"][0]["loc"])
    assert client.get("/api/agents", headers=bearer(client, "sup")).json() == before


def test_only_admins_edit_profiles_and_unknown_users_are_404(client):
    bob = client.ids["bob"]
    body = {"skills": {"support": 9}}
    assert client.put(f"/api/agents/{bob}/profile", json=body,
                      headers=bearer(client, "bob")).status_code == 403  # fmt: skip
    assert client.put("/api/agents/9999/profile", json=body,
                      headers=bearer(client, "boss")).status_code == 404  # fmt: skip
    assert client.get("/api/agents", headers=bearer(client, "bob")).status_code == 403


def test_an_agent_logs_in_breaks_and_logs_out_and_the_time_is_kept(client, clock):
    bob = bearer(client, "bob")
    with client.websocket_connect(f"/ws/events?token={bob['Authorization'][7:]}") as ws:
        assert ws.receive_json()["type"] == "hello"
        r = client.put("/api/agents/me/state", json={"state": "available"}, headers=bob)
        assert r.status_code == 200 and r.json()["state"] == "available"
        event = ws.receive_json()
        assert (event["type"], event["data"]["state"]) == ("agent.state", "available")
    clock.advance(timedelta(minutes=50))
    r = client.put("/api/agents/me/state", json={"state": "break", "reason": "lunch"}, headers=bob)
    assert r.json()["reason"] == "lunch"
    clock.advance(timedelta(minutes=30))
    client.put("/api/agents/me/state", json={"state": "available"}, headers=bob)
    clock.advance(timedelta(minutes=10))
    client.put("/api/agents/me/state", json={"state": "offline"}, headers=bob)
    since = (START - timedelta(hours=1)).isoformat()
    spans = client.get(f"/api/agents/{client.ids['bob']}/states", params={"since": since},
                       headers=bob).json()  # fmt: skip
    assert [(s["state"], s["reason"], s["seconds"]) for s in spans[1:]] == [
        ("available", "", 3000), ("break", "lunch", 1800), ("available", "", 600),
    ]  # fmt: skip
    # Supervisors read anyone's history; agents only their own.
    amy = client.ids["amy"]
    params = {"since": since}
    assert client.get(f"/api/agents/{amy}/states", params=params,
                      headers=bearer(client, "sup")).status_code == 200  # fmt: skip
    assert client.get(f"/api/agents/{amy}/states", params=params,
                      headers=bob).status_code == 403  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"state": "break"}, 422),  # no reason
        ({"state": "on_call"}, 422),  # set by calls, not by hand
        ({"state": "sleeping"}, 422),
    ],
)
def test_states_an_agent_cannot_choose(client, body, code):
    r = client.put("/api/agents/me/state", json=body, headers=bearer(client, "amy"))
    assert r.status_code == code, r.text


def test_logging_out_twice_is_a_conflict(client):
    sup = bearer(client, "sup")
    assert client.put("/api/agents/me/state", json={"state": "offline"},
                      headers=sup).status_code == 409  # fmt: skip


def test_agent_state_events_reach_that_agent_and_supervisors_only():
    from callcenter.api.routes.ws import visible_to
    from callcenter.auth.permissions import ROLE_PERMISSIONS, Role
    from callcenter.events import Event

    def who(user_id: int, role: Role) -> Principal:
        return Principal(user_id, f"u{user_id}", role.value, ROLE_PERMISSIONS[role])

    event = Event("agent.state", {"agent_id": 7, "state": "break", "reason": "lunch"})
    assert visible_to(who(7, Role.AGENT), event)
    assert not visible_to(who(8, Role.AGENT), event)
    assert visible_to(who(9, Role.SUPERVISOR), event)
