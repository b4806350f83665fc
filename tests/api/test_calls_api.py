"""The calls and IVR admin APIs and the events websocket on the real app: who sees what."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from callcenter.api.app import create_app
from callcenter.calls.service import NewCall
from callcenter.config import Settings
from tests.support.app import bearer, seed_users


async def _seed(services: Any) -> dict[str, int]:
    users = [("boss", "admin"), ("sup", "supervisor"), ("agent1", "agent"), ("agent2", "agent")]
    ids = await seed_users(services, users)
    for n, channel in enumerate(["c-1", "c-2", "c-3"]):
        new = NewCall(
            channel_id=channel,
            caller_number=f"+86138000000{n}",
            caller_name="",
            dialed_number="100",
        )
        await services.calls.start(new)
    call = await services.calls.by_channel("c-2")
    await services.calls.connected(call.id, ids["agent1"], ring_seconds=2.0)
    return ids


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    settings = Settings(_env_file=None, env="test", data_dir=tmp_path_factory.mktemp("api"))  # type: ignore[call-arg]
    app = create_app(settings, with_pbx=False)
    with TestClient(app) as c:
        c.portal.call(_seed, app.state.services)
        yield c


def test_calls_need_a_token(client):
    assert client.get("/api/calls").status_code == 401
    assert client.get("/api/calls/1").status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert client.get("/api/calls", headers=bad).status_code == 401


def test_supervisor_sees_every_call_agent_only_their_own(client):
    everything = client.get("/api/calls", headers=bearer(client, "sup")).json()
    assert everything["total"] == 3
    mine = client.get("/api/calls", headers=bearer(client, "agent1")).json()
    assert [c["channel_id"] for c in mine["items"]] == ["c-2"]
    # Another agent's call is not there for them, not even as "forbidden".
    other = next(c for c in everything["items"] if c["channel_id"] == "c-1")
    assert (
        client.get(f"/api/calls/{other['id']}", headers=bearer(client, "agent1")).status_code == 404
    )
    assert client.get("/api/calls", headers=bearer(client, "agent2")).json()["total"] == 0


def test_call_detail_has_its_timeline(client):
    headers = bearer(client, "boss")
    first = client.get("/api/calls?caller_number=%2B861380000000", headers=headers).json()
    call = client.get(f"/api/calls/{first['items'][0]['id']}", headers=headers).json()
    assert call["caller_number"] == "+861380000000"
    assert [e["type"] for e in call["events"]] == ["started"]
    assert client.get("/api/calls/999999", headers=headers).status_code == 404


def test_events_websocket_refuses_strangers(client):
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws/events"):
        pass
    assert refused.value.code == 1008
    token = bearer(client, "sup")["Authorization"].removeprefix("Bearer ")
    with client.websocket_connect(f"/ws/events?token={token}") as ws:
        assert ws.receive_json()["type"] == "hello"


def test_health_reports_each_part(client):
    body = client.get("/api/health").json()
    assert body["components"]["database"] == "ok"
    assert body["components"]["event_bus"] == "ok"
    assert body["components"]["asterisk_ari"] == "disabled"


def test_ivr_flows_and_their_graph_for_admins_only(client):
    assert client.get("/api/ivr/flows").status_code == 401
    assert client.get("/api/ivr/flows", headers=bearer(client, "sup")).status_code == 403
    headers = bearer(client, "boss")
    body = client.get("/api/ivr/flows", headers=headers).json()
    main = next(f for f in body["flows"] if f["name"] == "main")
    assert main["numbers"] == ["100"] and body["problems"] == []
    svg = client.get("/api/ivr/flows/main/graph.svg", headers=headers)
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<svg" in svg.text
    assert client.get("/api/ivr/flows/nope/graph.svg", headers=headers).status_code == 404


def test_the_calls_agent_wraps_it_up_with_a_code_and_notes(client):
    codes = client.get("/api/calls/wrap-up-codes", headers=bearer(client, "agent1")).json()
    assert codes["resolved"] == {"en": "Resolved", "zh": "已解决"}
    services = client.app.state.services
    call = client.portal.call(services.calls.by_channel, "c-2")
    path, mine = f"/api/calls/{call.id}/wrap-up", bearer(client, "agent1")
    body = {"code": "resolved", "notes": "refund sent"}
    assert client.post(path, json=body, headers=mine).status_code == 409  # still talking
    client.portal.call(
        lambda: services.calls.end(call.id, cause=16, cause_text="", ended_by="caller")
    )
    unknown = client.post(path, json={"code": "nope"}, headers=mine)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"][-1] == "code"
    assert client.post(path, json=body, headers=bearer(client, "agent2")).status_code == 404
    done = client.post(path, json=body, headers=mine)
    assert done.status_code == 200, done.text
    record = done.json()
    assert record["wrap_up_code"] == "resolved" and record["notes"] == "refund sent"
    assert record["wrap_up_seconds"] >= 0


def test_an_agent_sees_where_a_caller_can_be_transferred(client):
    agent2 = bearer(client, "agent2")
    client.put("/api/agents/me/state", json={"state": "available"}, headers=agent2)
    try:
        targets = client.get("/api/calls/transfer-targets", headers=bearer(client, "agent1"))
        assert targets.status_code == 200
        body = targets.json()
        # The shipped routing.yaml's queues, and the colleague who is free now (not oneself).
        assert {"sales", "support"} <= {q["name"] for q in body["queues"]}
        (colleague,) = body["agents"]
        assert (colleague["name"], colleague["state"], colleague["free"]) == (
            "agent2", "available", True
        )  # fmt: skip
        mine = client.get("/api/calls/transfer-targets", headers=agent2).json()["agents"]
        assert mine == []  # agent1 is offline: not a target
    finally:
        client.put("/api/agents/me/state", json={"state": "offline"}, headers=agent2)
