"""A ticket from a call on the real app: the caller is the requester, the description
tells the call, and the ticket's readers may then hear the call's recording."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.calls.service import NewCall
from callcenter.clock import FixedClock
from tests.support.app import app_client, bearer
from tests.support.tickets import add_groups

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USERS = [("sup", "supervisor"), ("amy", "agent"), ("ann", "agent"), ("bob", "agent")]


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    """Groups: support (amy, ann) and billing (bob)."""
    with app_client(tmp_path, USERS, FixedClock(START)) as c:
        add_groups(c, {"support": ["amy", "ann"], "billing": ["bob"]})
        yield c


async def _call(services: Any, number: str, agent: int | None, recorded: bool) -> int:
    """A finished inbound call through the IVR to `agent`, recorded if asked."""
    calls = services.calls
    call = await calls.start(NewCall(f"c-{number or 'anon'}", number, "", "4008001000"))
    await calls.answered(call.id)
    for node in ("welcome", "menu", "account", "queue"):
        await calls.note(call.id, "ivr.node", {"flow": "main", "node": node, "type": "x"})
    await calls.note(call.id, "ivr.set", {"node": "account", "variables": {"account": "1234"}})
    services.clock.advance(timedelta(seconds=30))
    await calls.queue_left(call.id, queue="support", seconds=30.0, abandoned=False, position=None)
    if agent is not None:
        await calls.connected(call.id, agent, ring_seconds=2.0)
        services.clock.advance(timedelta(minutes=2))
        await calls.talk_ended(call.id, seconds=120.0, by="caller")
    if recorded:
        path = "2026/11/30/conversation.wav"
        target = services.settings.recordings_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(target), "wb") as wav:
            wav.setparams((1, 2, 8000, 0, "NONE", "not compressed"))
            wav.writeframes(b"\0\0" * 8000)
        await calls.recorded(call.id, path=path, seconds=120.0)
    await calls.end(call.id, cause=16, cause_text="Normal", ended_by="caller")
    return int(call.id)


def _made(client: TestClient, number: str, agent: str | None, recorded: bool = True) -> int:
    services = client.app.state.services  # type: ignore[attr-defined]
    user = client.ids[agent] if agent else None  # type: ignore[attr-defined]
    return int(client.portal.call(_call, services, number, user, recorded))


def test_the_agent_who_took_the_call_makes_a_ticket_that_tells_it(client):
    call_id = _made(client, "+8613800138000", "amy")
    amy = bearer(client, "amy")
    r = client.post(f"/api/calls/{call_id}/ticket", json={"priority": "high"}, headers=amy)
    assert r.status_code == 201, r.text
    ticket = r.json()
    call = client.get(f"/api/calls/{call_id}", headers=amy).json()
    assert (ticket["source"], ticket["call_id"], ticket["requester_id"]) == (
        "call", call_id, call["customer_id"],
    )  # fmt: skip
    assert (ticket["group_id"], ticket["priority"], ticket["status"]) == (
        client.groups["support"], "high", "new",
    )  # fmt: skip
    assert ticket["subject"] == "Call from +8613800138000"
    lines = ticket["description"].splitlines()
    assert lines[0] == f"Call summary (#{call_id})"
    for line in (
        "Caller: +8613800138000", "Queue: support", "Waited: 30 s", "Agent: amy",
        "Talk time: 120 s", "IVR path: welcome → menu → account → queue",
        "Collected in the IVR: account=1234",
        f"Recording: /api/calls/{call_id}/recording (120 s)",
    ):  # fmt: skip
        assert line in lines
    # Ann works the ticket (same group): she may now read the call and hear it.
    ann = bearer(client, "ann")
    assert client.get(f"/api/calls/{call_id}", headers=ann).status_code == 200
    played = client.get(f"/api/calls/{call_id}/recording", headers=ann)
    assert played.status_code == 200 and played.headers["content-type"] == "audio/wav"
    bob = bearer(client, "bob")  # billing: neither the ticket nor the call
    assert client.get(f"/api/calls/{call_id}", headers=bob).status_code == 404
    assert client.get(f"/api/calls/{call_id}/recording", headers=bob).status_code == 404


def test_who_may_make_one_and_what_is_refused(client):
    call_id = _made(client, "+8613900139000", "amy", recorded=False)
    url = f"/api/calls/{call_id}/ticket"
    before = client.get("/api/tickets", headers=bearer(client, "sup")).json()["total"]
    # Bob did not take it: for him the call does not exist.
    assert client.post(url, json={}, headers=bearer(client, "bob")).status_code == 404
    missing = client.post("/api/calls/999/ticket", json={}, headers=bearer(client, "amy"))
    assert missing.status_code == 404
    # A supervisor is in no group: they must choose one.
    sup = bearer(client, "sup")
    r = client.post(url, json={}, headers=sup)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "group_id"]
    r = client.post(url, json={"group_id": 999}, headers=sup)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "group_id"]
    # The agent may not file it in a group not theirs, nor set what comes from the call.
    amy = bearer(client, "amy")
    r = client.post(url, json={"group_id": client.groups["billing"]}, headers=amy)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "group_id"]
    assert client.post(url, json={"requester_id": 1}, headers=amy).status_code == 422
    assert client.get("/api/tickets", headers=sup).json()["total"] == before
    r = client.post(url, json={"group_id": client.groups["billing"], "subject": "Refund"},
                    headers=sup)  # fmt: skip
    assert r.status_code == 201 and r.json()["subject"] == "Refund"
    assert "Recording" not in r.json()["description"]  # not recorded: no link to nothing


def test_a_withheld_number_has_no_customer_and_makes_no_ticket(client):
    call_id = _made(client, "", "amy", recorded=False)
    r = client.post(f"/api/calls/{call_id}/ticket", json={}, headers=bearer(client, "amy"))
    assert r.status_code == 409
